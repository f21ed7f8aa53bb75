/* regs.c - parse HMP "info registers" and "x/..." text.
 *
 * Token based on purpose: QEMU moves fields between lines across versions,
 * so we look for KEY=VALUE tokens (KEY may be padded: "R8 =...", "FS =...")
 * wherever they are, never at fixed columns. */
#include "regs.h"

#include <string.h>

/* Strict hex: 1..16 digits, nothing else. Returns 0 on success. */
static int parse_hex(const char *s, size_t n, uint64_t *v)
{
	uint64_t x = 0;

	if (n == 0 || n > 16)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		x = x << 4 | (uint64_t)d;
	}
	*v = x;
	return 0;
}

static int is_sp(char c) { return c == ' ' || c == '\t'; }
static int is_eol(char c) { return c == '\n' || c == '\r'; }

/* Next whitespace-delimited word in [*p, end) on the current line. */
static size_t next_word(const char **p, const char *end)
{
	const char *s = *p;

	while (s < end && is_sp(*s))
		s++;
	*p = s;
	while (s < end && !is_sp(*s) && !is_eol(*s))
		s++;
	return (size_t)(s - *p);
}

enum { K_NONE, K_GPR, K_IP, K_FL, K_CR0, K_CR2, K_CR3, K_CR4, K_EFER,
       K_CPL, K_HLT, K_SEG };

struct key {
	const char *name;
	int kind;
	int arg;        /* gpr index; segment id */
	int wide;       /* 1: the 64-bit layout's name */
};

enum { SEG_CS, SEG_SS, SEG_FS, SEG_GS, SEG_TR };

static const struct key keys[] = {
	{ "RAX", K_GPR, QP_RAX, 1 }, { "RBX", K_GPR, QP_RBX, 1 },
	{ "RCX", K_GPR, QP_RCX, 1 }, { "RDX", K_GPR, QP_RDX, 1 },
	{ "RSI", K_GPR, QP_RSI, 1 }, { "RDI", K_GPR, QP_RDI, 1 },
	{ "RBP", K_GPR, QP_RBP, 1 }, { "RSP", K_GPR, QP_RSP, 1 },
	{ "R8", K_GPR, QP_R8, 1 }, { "R9", K_GPR, QP_R9, 1 },
	{ "R10", K_GPR, QP_R10, 1 }, { "R11", K_GPR, QP_R11, 1 },
	{ "R12", K_GPR, QP_R12, 1 }, { "R13", K_GPR, QP_R13, 1 },
	{ "R14", K_GPR, QP_R14, 1 }, { "R15", K_GPR, QP_R15, 1 },
	{ "RIP", K_IP, 0, 1 }, { "RFL", K_FL, 0, 1 },
	{ "EAX", K_GPR, QP_RAX, 0 }, { "EBX", K_GPR, QP_RBX, 0 },
	{ "ECX", K_GPR, QP_RCX, 0 }, { "EDX", K_GPR, QP_RDX, 0 },
	{ "ESI", K_GPR, QP_RSI, 0 }, { "EDI", K_GPR, QP_RDI, 0 },
	{ "EBP", K_GPR, QP_RBP, 0 }, { "ESP", K_GPR, QP_RSP, 0 },
	{ "EIP", K_IP, 0, 0 }, { "EFL", K_FL, 0, 0 },
	{ "CR0", K_CR0, 0, 0 }, { "CR2", K_CR2, 0, 0 },
	{ "CR3", K_CR3, 0, 0 }, { "CR4", K_CR4, 0, 0 },
	{ "EFER", K_EFER, 0, 0 }, { "CPL", K_CPL, 0, 0 },
	{ "HLT", K_HLT, 0, 0 },
	{ "CS", K_SEG, SEG_CS, 0 }, { "SS", K_SEG, SEG_SS, 0 },
	{ "FS", K_SEG, SEG_FS, 0 }, { "GS", K_SEG, SEG_GS, 0 },
	{ "TR", K_SEG, SEG_TR, 0 },
};

static const struct key *lookup(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (strlen(keys[i].name) == n && !memcmp(keys[i].name, s, n))
			return &keys[i];
	return NULL;
}

struct acc {
	struct qp_regs r;
	/* what was seen, per layout: the wide and narrow names never mix */
	uint32_t gpr_seen[2];
	int ip_seen[2], sp_seen[2], fl_seen[2];
	uint64_t gpr[2][QP_NGPR], ip[2], fl[2];
	int cpl_seen, cs_seen;
};

/* Parses one line's tokens into a. */
static void parse_line(const char *p, const char *end, struct acc *a)
{
	while (p < end) {
		const char *w, *v;
		size_t wn, vn;
		const struct key *k;
		uint64_t x;

		wn = next_word(&p, end);
		if (!wn)
			break;
		w = p;
		/* KEY=VALUE in one word, or "KEY =VALUE" (padded name) */
		v = memchr(w, '=', wn);
		if (v) {
			size_t kn = (size_t)(v - w);

			p = v + 1;
			wn = kn;
		} else {
			const char *q = w + wn;

			while (q < end && is_sp(*q))
				q++;
			if (q >= end || *q != '=') {
				p = w + wn;
				continue; /* a bare word: flags, "[--S-A-C]", "CS64" */
			}
			p = q + 1;
		}
		vn = next_word(&p, end);
		v = p;
		p += vn;
		k = lookup(w, wn);
		if (!k || parse_hex(v, vn, &x))
			continue;
		switch (k->kind) {
		case K_GPR:
			a->gpr[k->wide][k->arg] = x;
			a->gpr_seen[k->wide] |= 1u << k->arg;
			if (k->arg == QP_RSP)
				a->sp_seen[k->wide] = 1;
			break;
		case K_IP: a->ip[k->wide] = x; a->ip_seen[k->wide] = 1; break;
		case K_FL: a->fl[k->wide] = x; a->fl_seen[k->wide] = 1; break;
		case K_CR0: a->r.cr0 = x; break;
		case K_CR2: a->r.cr2 = x; break;
		case K_CR3: a->r.cr3 = x; break;
		case K_CR4: a->r.cr4 = x; break;
		case K_EFER: a->r.efer = x; break;
		case K_CPL: a->r.cpl = (uint8_t)(x & 3); a->cpl_seen = 1; break;
		case K_HLT: a->r.halted = x != 0; break;
		case K_SEG: {
			/* "NAME =sel base limit flags": the base is the 2nd field */
			uint64_t base = 0;
			size_t bn = next_word(&p, end);
			int have_base = bn && !parse_hex(p, bn, &base);

			p += bn;
			switch (k->arg) {
			case SEG_CS: a->r.cs = (uint16_t)x; a->cs_seen = 1; break;
			case SEG_SS: a->r.ss = (uint16_t)x; break;
			case SEG_FS: if (have_base) a->r.fs_base = base; break;
			case SEG_GS: if (have_base) a->r.gs_base = base; break;
			case SEG_TR: if (have_base) a->r.tr_base = base; break;
			}
			break;
		}
		}
	}
}

/* Parses [text, end) as one CPU's registers. */
static int parse_block(const char *text, const char *end, struct qp_regs *out)
{
	struct acc a;
	const char *p = text;
	int w;

	memset(&a, 0, sizeof a);
	while (p < end) {
		const char *eol = p;

		while (eol < end && !is_eol(*eol))
			eol++;
		parse_line(p, eol, &a);
		p = eol < end ? eol + 1 : end;
	}
	/* the 64-bit layout when QEMU printed RIP; else the 32-bit one */
	w = a.ip_seen[1] ? 1 : 0;
	if (!a.ip_seen[w] || !a.sp_seen[w]) {
		memset(out, 0, sizeof *out);
		return -1;
	}
	memcpy(a.r.gpr, a.gpr[w], sizeof a.r.gpr);
	a.r.ip = a.ip[w];
	a.r.flags = a.fl[w];
	a.r.long_mode = (uint8_t)w;
	if (!a.cpl_seen)
		a.r.cpl = a.cs_seen ? (uint8_t)(a.r.cs & 3) : 0;
	a.r.valid = 1;
	*out = a.r;
	return 0;
}

/* A "CPU#N" header at p (line start)?  Sets *id. */
static int cpu_header(const char *p, const char *end, int *id)
{
	int n = 0, digits = 0;

	while (p < end && is_sp(*p))
		p++;
	if (end - p < 5 || memcmp(p, "CPU#", 4))
		return 0;
	for (p += 4; p < end && *p >= '0' && *p <= '9' && digits < 6; p++, digits++)
		n = n * 10 + (*p - '0');
	if (!digits)
		return 0;
	*id = n;
	return 1;
}

/* Iterates blocks: calls fn for each region between CPU#N headers (the text
 * before the first header is a block with id -1). */
typedef int (*block_fn)(const char *b, const char *e, int id, void *ctx);

static void for_blocks(const char *text, size_t len, block_fn fn, void *ctx)
{
	const char *end = text + len, *p = text, *start = text;
	int id = -1, nid;

	while (p < end) {
		const char *eol = p;

		while (eol < end && *eol != '\n')
			eol++;
		if (cpu_header(p, eol, &nid)) {
			if (fn(start, p, id, ctx))
				return;
			id = nid;
			start = eol < end ? eol + 1 : end;
		}
		p = eol < end ? eol + 1 : end;
	}
	fn(start, end, id, ctx);
}

struct one_ctx { struct qp_regs *out; int ok; };

static int one_fn(const char *b, const char *e, int id, void *ctx)
{
	struct one_ctx *c = ctx;
	struct qp_regs r;

	(void)id;
	if (parse_block(b, e, &r) == 0) {
		*c->out = r;
		c->ok = 1;
		return 1; /* the first CPU only */
	}
	return 0;
}

int regs_parse(const char *text, size_t len, struct qp_regs *out)
{
	struct one_ctx c = { out, 0 };

	if (!text || !out)
		return -1;
	for_blocks(text, len, one_fn, &c);
	if (!c.ok) {
		memset(out, 0, sizeof *out);
		return -1;
	}
	return 0;
}

struct all_ctx { struct qp_regs *out; int *ids; int max, n; };

static int all_fn(const char *b, const char *e, int id, void *ctx)
{
	struct all_ctx *c = ctx;

	if (c->n >= c->max)
		return 1;
	if (parse_block(b, e, &c->out[c->n]) == 0) {
		if (c->ids)
			c->ids[c->n] = id >= 0 ? id : c->n; /* no header: position */
		c->n++;
	}
	return c->n >= c->max;
}

int regs_parse_all(const char *text, size_t len, struct qp_regs *out,
		   int *cpu_ids, int max)
{
	struct all_ctx c = { out, cpu_ids, max, 0 };

	if (!text || !out || max <= 0)
		return 0;
	for_blocks(text, len, all_fn, &c);
	return c.n;
}

/* ---- x/... ---- */

long hmpx_parse(const char *text, size_t len, uint64_t *addr, uint8_t *buf,
		size_t cap)
{
	const char *p = text, *end = text + (text ? len : 0);
	uint64_t first = 0, next = 0;
	size_t got = 0, unit = 0;
	int started = 0;

	while (p < end) {
		const char *eol = p, *q, *colon;
		uint64_t a;

		while (eol < end && !is_eol(*eol))
			eol++;
		q = p;
		p = eol < end ? eol + 1 : end;
		while (q < eol && is_sp(*q))
			q++;
		if (q == eol)
			continue;
		colon = memchr(q, ':', (size_t)(eol - q));
		if (!colon || parse_hex(q, (size_t)(colon - q), &a))
			break; /* not x output (or an error line): stop */
		if (!started) {
			first = next = a;
			started = 1;
		} else if (a != next) {
			break; /* not contiguous: keep what is certain */
		}
		q = colon + 1;
		for (;;) {
			size_t n = next_word(&q, eol), digits;
			uint64_t v;

			if (!n)
				break;
			if (n < 3 || q[0] != '0' || (q[1] != 'x' && q[1] != 'X'))
				goto done; /* "Cannot access memory", or not /x */
			digits = n - 2;
			/* QEMU zero-pads /x to the unit: 2, 4, 8 or 16 digits */
			if (digits != 2 && digits != 4 && digits != 8 && digits != 16)
				goto done;
			if (!unit)
				unit = digits / 2;
			if (digits / 2 != unit || parse_hex(q + 2, digits, &v))
				goto done;
			if (got + unit > cap)
				goto done;
			for (size_t i = 0; i < unit; i++)
				buf[got + i] = (uint8_t)(v >> (8 * i));
			got += unit;
			next += unit;
			q += n;
		}
	}
done:
	if (!got)
		return -1;
	if (addr)
		*addr = first;
	return (long)got;
}
