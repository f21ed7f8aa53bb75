/* orc.c - Linux x86_64 ORC tables and unwinder (6.1 layout). */
#include "orc.h"
#include "elffile.h"
#include "errmsg.h"

#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct orc_table {
	uint64_t *ip;            /* absolute unslid ips, sorted */
	struct orc_entry *e;
	size_t n;
};

static uint64_t le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static int cmp_idx(const void *a, const void *b, void *arg)
{
	const uint64_t *ip = arg;
	uint64_t x = ip[*(const size_t *)a], y = ip[*(const size_t *)b];
	if (x != y)
		return x < y ? -1 : 1;
	/* keep the original order among duplicates: the kernel takes the
	 * rightmost one (a weak section terminator comes first) */
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	return i < j ? -1 : i > j;
}

struct orc_table *orc_from_bytes(const uint8_t *ip_bytes, uint64_t ip_addr,
				 const uint8_t *entry_bytes, size_t n,
				 char *err, size_t errlen)
{
	if (!n) {
		seterr(err, errlen, "orc: empty table");
		return NULL;
	}
	if (n > (1u << 26)) {
		seterr(err, errlen, "orc: %zu entries: not a kernel table", n);
		return NULL;
	}
	struct orc_table *t = calloc(1, sizeof *t);
	uint64_t *ip = malloc(n * sizeof *ip);
	struct orc_entry *e = malloc(n * sizeof *e);
	size_t *idx = malloc(n * sizeof *idx);
	if (!t || !ip || !e || !idx) {
		free(t), free(ip), free(e), free(idx);
		seterr(err, errlen, "orc: out of memory");
		return NULL;
	}
	int sorted = 1;
	for (size_t i = 0; i < n; i++) {
		int32_t rel = (int32_t)(uint32_t)le(ip_bytes + 4 * i, 4);
		ip[i] = ip_addr + 4 * i + (uint64_t)(int64_t)rel;
		if (i && ip[i] < ip[i - 1])
			sorted = 0;
		const uint8_t *p = entry_bytes + 6 * i;
		uint16_t f = (uint16_t)le(p + 4, 2);
		e[i].sp_offset = (int16_t)(uint16_t)le(p, 2);
		e[i].bp_offset = (int16_t)(uint16_t)le(p + 2, 2);
		e[i].sp_reg = f & 0xf;
		e[i].bp_reg = (f >> 4) & 0xf;
		e[i].type = (f >> 8) & 3;
		e[i].end = (f >> 10) & 1;
		idx[i] = i;
	}
	if (!sorted) {
		/* the kernel sorts at build time (sorttable); a table that
		 * is not sorted is sorted here rather than searched wrong */
		qsort_r(idx, n, sizeof *idx, cmp_idx, ip);
		uint64_t *ip2 = malloc(n * sizeof *ip2);
		struct orc_entry *e2 = malloc(n * sizeof *e2);
		if (!ip2 || !e2) {
			free(ip2), free(e2), free(t), free(ip), free(e), free(idx);
			seterr(err, errlen, "orc: out of memory");
			return NULL;
		}
		for (size_t i = 0; i < n; i++) {
			ip2[i] = ip[idx[i]];
			e2[i] = e[idx[i]];
		}
		free(ip), free(e);
		ip = ip2, e = e2;
	}
	free(idx);
	t->ip = ip;
	t->e = e;
	t->n = n;
	return t;
}

struct orc_table *orc_from_elf(const char *path, char *err, size_t errlen)
{
	int fd;
	Elf *e = elffile_open(path, &fd, err, errlen);
	if (!e)
		return NULL;
	struct orc_table *t = orc_from_elf_handle(e, path, err, errlen);
	elffile_close(e, fd);
	return t;
}

struct orc_table *orc_from_elf_handle(Elf *e, const char *path, char *err,
				      size_t errlen)
{
	struct orc_table *t = NULL;
	GElf_Ehdr eh;
	if (gelf_getclass(e) != ELFCLASS64 || !gelf_getehdr(e, &eh) ||
	    eh.e_machine != EM_X86_64) {
		seterr(err, errlen, "%s: not an x86_64 ELF", path);
		goto out;
	}
	GElf_Shdr hip, horc, hh;
	Elf_Scn *sip = elffile_section(e, ".orc_unwind_ip", &hip);
	Elf_Scn *sorc = elffile_section(e, ".orc_unwind", &horc);
	int header = elffile_section(e, ".orc_header", &hh) != NULL;
	if (header) {
		seterr(err, errlen, "%s: has .orc_header: Linux 6.4+ ORC layout, "
		       "only the 6.1 layout is supported", path);
		goto out;
	}
	if (!sip || !sorc) {
		seterr(err, errlen, "%s: no .orc_unwind_ip/.orc_unwind sections "
		       "(kernel built without CONFIG_UNWINDER_ORC?)", path);
		goto out;
	}
	if (hip.sh_size % 4 || horc.sh_size % 6 ||
	    hip.sh_size / 4 != horc.sh_size / 6) {
		seterr(err, errlen, "%s: ORC sections of %llu and %llu bytes do "
		       "not match the 6.1 layout (4-byte ips, 6-byte entries)",
		       path, (unsigned long long)hip.sh_size,
		       (unsigned long long)horc.sh_size);
		goto out;
	}
	Elf_Data *dip = elf_rawdata(sip, NULL), *dorc = elf_rawdata(sorc, NULL);
	if (!dip || !dorc || dip->d_size < hip.sh_size ||
	    dorc->d_size < horc.sh_size) {
		seterr(err, errlen, "%s: cannot read ORC sections: %s", path,
		       elf_errmsg(-1));
		goto out;
	}
	t = orc_from_bytes(dip->d_buf, hip.sh_addr, dorc->d_buf,
			   hip.sh_size / 4, err, errlen);
out:
	return t;
}

void orc_free(struct orc_table *t)
{
	if (!t)
		return;
	free(t->ip);
	free(t->e);
	free(t);
}

size_t orc_count(const struct orc_table *t)
{
	return t ? t->n : 0;
}

void orc_range(const struct orc_table *t, uint64_t *lo, uint64_t *hi)
{
	*lo = t && t->n ? t->ip[0] : 0;
	*hi = t && t->n ? t->ip[t->n - 1] : 0;
}

int orc_lookup(const struct orc_table *t, uint64_t ip, struct orc_entry *e)
{
	if (!t || !t->n || ip < t->ip[0])
		return -1;
	size_t lo = 0, hi = t->n;          /* rightmost ip[i] <= ip */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->ip[mid] <= ip)
			lo = mid;
		else
			hi = mid;
	}
	*e = t->e[lo];
	return 0;
}

int orc_sp_deltas(const struct orc_table *t, uint64_t ip, uint64_t window,
		  int64_t *out, int max)
{
	struct orc_entry e0;
	if (orc_lookup(t, ip, &e0) < 0 || e0.sp_reg != ORC_REG_SP || max <= 0)
		return 0;
	size_t lo = 0, hi = t->n;          /* first ip[i] > ip */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->ip[mid] <= ip)
			lo = mid + 1;
		else
			hi = mid;
	}
	int n = 0;
	for (size_t i = lo; i < t->n && t->ip[i] < ip + window && n < max; i++) {
		const struct orc_entry *e = &t->e[i];
		if (e->sp_reg != ORC_REG_SP || e->type != ORC_TYPE_CALL)
			break;          /* past a stack switch or an entry stub */
		int64_t d = (int64_t)e->sp_offset - e0.sp_offset;
		int seen = d == 0;
		for (int j = 0; j < n && !seen; j++)
			seen = out[j] == d;
		if (!seen)
			out[n++] = d;
	}
	return n;
}

int orc_mem_read(void *ctx, uint64_t addr, uint64_t *val)
{
	const struct orc_mem *m = ctx;
	if (addr < m->addr || addr - m->addr > m->len ||
	    m->len - (addr - m->addr) < 8)
		return -1;
	*val = le(m->buf + (addr - m->addr), 8);
	return 0;
}

/* pt_regs (arch/x86/include/asm/ptrace.h), in words */
enum {
	PT_R15, PT_R14, PT_R13, PT_R12, PT_BP, PT_BX, PT_R11, PT_R10, PT_R9,
	PT_R8, PT_AX, PT_CX, PT_DX, PT_SI, PT_DI, PT_ORIG_AX, PT_IP, PT_CS,
	PT_FLAGS, PT_SP, PT_SS,
};
/* enum qp_gpr order: rax rbx rcx rdx rsi rdi rbp rsp r8..r15 */
static const int gpr_to_pt[ORC_NGPR] = {
	PT_AX, PT_BX, PT_CX, PT_DX, PT_SI, PT_DI, PT_BP, PT_SP,
	PT_R8, PT_R9, PT_R10, PT_R11, PT_R12, PT_R13, PT_R14, PT_R15,
};

enum regs_kind { RK_NONE, RK_GPR, RK_FULL, RK_PARTIAL };

struct walk {
	orc_read_fn read;
	void *ctx;
	enum regs_kind rk;
	const uint64_t *gpr;
	uint64_t regs;           /* pt_regs address (RK_FULL/RK_PARTIAL) */
};

/* A register of the frame's register set: the sample's (frame 0) or the
 * last pt_regs.  Returns 0 or -1 (unknown). */
/* read through the accessor, remembering a refused address */
static int rd(const struct walk *w, struct orc_result *res, uint64_t addr,
	      uint64_t *val)
{
	if (w->read(w->ctx, addr, val) == 0)
		return 0;
	res->fail_addr = addr;
	return -1;
}

static int get_reg(const struct walk *w, int pt, uint64_t *val)
{
	switch (w->rk) {
	case RK_GPR:
		for (int i = 0; i < ORC_NGPR; i++)
			if (gpr_to_pt[i] == pt) {
				*val = w->gpr[i];
				return 0;
			}
		return -1;
	case RK_FULL:
		return w->read(w->ctx, w->regs + 8u * pt, val);
	case RK_PARTIAL:
		if (pt < PT_IP)
			return -1;
		return w->read(w->ctx, w->regs + 8u * pt, val);
	default:
		return -1;
	}
}

void orc_unwind(const struct orc_table *t, int64_t slide,
		const struct orc_state *st, orc_read_fn read, void *ctx,
		struct orc_frame *out, int max, struct orc_result *res)
{
	memset(res, 0, sizeof *res);
	struct walk w = { .read = read, .ctx = ctx,
			  .rk = st->gpr_valid ? RK_GPR : RK_NONE,
			  .gpr = st->gpr };
	uint64_t ip = st->ip, sp = st->sp, bp = st->bp;
	int signal = 1;
	uint64_t lo, hi;
	orc_range(t, &lo, &hi);
	if (max <= 0) {
		res->end = ORC_END_DEPTH;
		return;
	}
	out[0] = (struct orc_frame){ .ip = ip, .sp = sp, .signal = 1 };
	res->n = 1;
	for (;;) {
		if (res->n >= max) {
			res->end = ORC_END_DEPTH;
			return;
		}
		/* the end check for user tasks: the last pt_regs came from
		 * ring 3 (CS RPL 3) */
		if (w.rk == RK_FULL || w.rk == RK_PARTIAL) {
			uint64_t cs;
			if (get_reg(&w, PT_CS, &cs) == 0 && (cs & 3) == 3) {
				res->end = ORC_END_USER;
				res->user_ip = ip;
				res->user_sp = sp;
				res->user_bp = bp;
				if (get_reg(&w, PT_BP, &res->user_bp) < 0)
					res->user_bp = bp;
				res->regs_addr = w.regs;
				return;
			}
		}
		uint64_t uip = (signal ? ip : ip - 1) - (uint64_t)slide;
		struct orc_entry o;
		if (uip < lo || uip > hi || orc_lookup(t, uip, &o) < 0) {
			/* not the vmlinux's code (a module, BPF): its ORC
			 * table is not ours to read; the kernel's own guess
			 * (a frame pointer) is wrong for code built without
			 * one, so stop here */
			res->end = ORC_END_NOTABLE;
			return;
		}
		if (o.sp_reg == ORC_REG_UNDEFINED) {
			res->end = o.end ? ORC_END_KTHREAD : ORC_END_BAD;
			return;
		}
		uint64_t nsp, v;
		int indirect = 0;
		switch (o.sp_reg) {
		case ORC_REG_SP: nsp = sp + (int64_t)o.sp_offset; break;
		case ORC_REG_BP: nsp = bp + (int64_t)o.sp_offset; break;
		case ORC_REG_SP_INDIRECT: nsp = sp; indirect = 1; break;
		case ORC_REG_BP_INDIRECT:
			nsp = bp + (int64_t)o.sp_offset; indirect = 1; break;
		case ORC_REG_R10: case ORC_REG_R13: case ORC_REG_DI:
		case ORC_REG_DX: {
			int pt = o.sp_reg == ORC_REG_R10 ? PT_R10 :
				 o.sp_reg == ORC_REG_R13 ? PT_R13 :
				 o.sp_reg == ORC_REG_DI ? PT_DI : PT_DX;
			if (get_reg(&w, pt, &nsp) < 0) {
				res->end = ORC_END_BAD;
				return;
			}
			break;
		}
		default:
			res->end = ORC_END_BAD;
			return;
		}
		if (indirect) {
			if (rd(&w, res, nsp, &v) < 0) {
				res->end = ORC_END_READ;
				return;
			}
			nsp = v;
			if (o.sp_reg == ORC_REG_SP_INDIRECT)
				nsp += (int64_t)o.sp_offset;
		}
		uint64_t nip, nbp = bp;
		uint64_t prev_sp = sp;
		switch (o.type) {
		case ORC_TYPE_CALL:
			if (rd(&w, res, nsp - 8, &nip) < 0) {
				res->end = ORC_END_READ;
				return;
			}
			w.rk = RK_NONE;
			signal = 0;
			sp = nsp;
			break;
		case ORC_TYPE_REGS:
			if (rd(&w, res, nsp + 8 * PT_IP, &nip) < 0 ||
			    rd(&w, res, nsp + 8 * PT_SP, &v) < 0) {
				res->end = ORC_END_READ;
				return;
			}
			w.rk = RK_FULL;
			w.regs = nsp;
			signal = 1;
			sp = v;
			break;
		case ORC_TYPE_REGS_PARTIAL:
			/* sp points at the iret frame: pt_regs.ip */
			if (rd(&w, res, nsp, &nip) < 0 ||
			    rd(&w, res, nsp + 8 * (PT_SP - PT_IP), &v) < 0) {
				res->end = ORC_END_READ;
				return;
			}
			w.rk = RK_PARTIAL;
			w.regs = nsp - 8 * PT_IP;
			signal = 1;
			sp = v;
			break;
		default:
			res->end = ORC_END_BAD;
			return;
		}
		switch (o.bp_reg) {
		case ORC_REG_UNDEFINED:
			if (w.rk == RK_FULL && get_reg(&w, PT_BP, &v) == 0)
				nbp = v;
			break;
		case ORC_REG_PREV_SP:
			if (rd(&w, res, nsp + (int64_t)o.bp_offset, &nbp) < 0) {
				res->end = ORC_END_READ;
				return;
			}
			break;
		case ORC_REG_BP:
			if (rd(&w, res, bp + (int64_t)o.bp_offset, &nbp) < 0) {
				res->end = ORC_END_READ;
				return;
			}
			break;
		default:
			res->end = ORC_END_BAD;
			return;
		}
		bp = nbp;
		ip = nip;
		/* against loops on bad data: a plain call step must move up
		 * the same stack; stack switches come through indirect sp or
		 * pt_regs */
		if (o.type == ORC_TYPE_CALL && !indirect && sp <= prev_sp) {
			res->end = ORC_END_BAD;
			return;
		}
		if (w.rk == RK_FULL || w.rk == RK_PARTIAL) {
			uint64_t cs;
			if (get_reg(&w, PT_CS, &cs) == 0 && (cs & 3) == 3)
				continue;   /* reported at the top */
		}
		/* deliver only kernel text of this vmlinux, or a module
		 * address (named by whoever knows the modules; the walk stops
		 * there at the next step) */
		uint64_t kip = (signal ? ip : ip - 1) - (uint64_t)slide;
		if (!(kip >= lo && kip <= hi) &&
		    !(ip >= 0xffffffffc0000000ull && ip < 0xffffffffff000000ull)) {
			res->end = ORC_END_BAD;
			return;
		}
		out[res->n++] = (struct orc_frame){ .ip = ip, .sp = sp,
						    .signal = (uint8_t)signal };
	}
}
