/* cpustate.c - vCPU registers from QEMU's CPUX86State (see cpustate.h). */
#include "cpustate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#define MAX_CPUS SAMPLER_MAX_CPUS
#define IMAGE_MAX 1024u          /* bytes of CPUX86State read (efer lies within) */
#define BIG_MAPPING (512ull << 20)
#define MAX_HITS 4

/* The head of CPUX86State (target/i386/cpu.h), the same from QEMU 7.2 to
 * 10.x: regs[CPU_NB_REGS], eip, eflags, cc_dst, cc_src, cc_src2, cc_op,
 * df, hflags, hflags2, segs[6], ldt, tr, gdt, idt, cr[5].  target_ulong is
 * 8 bytes in qemu-system-x86_64, 4 in qemu-system-i386; SegmentCache is
 * { uint32 selector; target_ulong base; uint32 limit, flags; }. */
struct layout {
	int ws;
	unsigned eip, eflags, hflags, segs, seg_size, seg_base, tr, cr, end;
};

static const struct layout LAYOUT64 = {
	.ws = 8, .eip = 128, .eflags = 136, .hflags = 176, .segs = 184,
	.seg_size = 24, .seg_base = 8, .tr = 184 + 7 * 24, .cr = 424, .end = 464,
};
static const struct layout LAYOUT32 = {
	.ws = 4, .eip = 32, .eflags = 36, .hflags = 60, .segs = 68,
	.seg_size = 16, .seg_base = 4, .tr = 68 + 7 * 16, .cr = 228, .end = 248,
};

enum { R_ES, R_CS, R_SS, R_DS, R_FS, R_GS };
#define HF_CPL_MASK 3u
#define HF_LMA_MASK (1u << 14)
#define HF_CS64_MASK (1u << 15)
#define EFER_LME 0x100u
#define EFER_LMA 0x400u

/* QEMU's register order (R_EAX, R_ECX, R_EDX, R_EBX, R_ESP, R_EBP, R_ESI,
 * R_EDI, R_R8...) into ours. */
static const int qemu_gpr[16] = {
	QP_RAX, QP_RCX, QP_RDX, QP_RBX, QP_RSP, QP_RBP, QP_RSI, QP_RDI,
	QP_R8, QP_R9, QP_R10, QP_R11, QP_R12, QP_R13, QP_R14, QP_R15,
};

struct cpustate {
	int pid;
	const struct layout *lay;
	uint64_t env[MAX_CPUS];      /* QEMU address of each vCPU's CPUX86State, 0 = none */
	int efer_off;                /* -1: not found (derived from hflags) */
	unsigned read_len;
	uint64_t scanned;
};

static uint64_t word(const uint8_t *p, int ws)
{
	if (ws == 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		return v;
	}
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static uint32_t u32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static const struct layout *layout_of(int ws)
{
	return ws == 8 ? &LAYOUT64 : ws == 4 ? &LAYOUT32 : NULL;
}

int cpustate_image_decode(const uint8_t *env, size_t len, int ws, int efer_off,
			  struct qp_regs *out)
{
	const struct layout *L = layout_of(ws);

	memset(out, 0, sizeof *out);
	if (!L || len < L->end)
		return -1;
	uint32_t hf = u32(env + L->hflags);
	int lm = ws == 8 && (hf & HF_CS64_MASK);
	uint64_t mask = lm ? ~0ull : 0xffffffffull;
	int nregs = lm ? 16 : 8;

	for (int i = 0; i < nregs; i++)
		out->gpr[qemu_gpr[i]] = word(env + (size_t)i * ws, ws) & mask;
	out->ip = word(env + L->eip, ws) & mask;
	out->flags = word(env + L->eflags, ws);
	out->cs = (uint16_t)u32(env + L->segs + R_CS * L->seg_size);
	out->ss = (uint16_t)u32(env + L->segs + R_SS * L->seg_size);
	out->fs_base = word(env + L->segs + R_FS * L->seg_size + L->seg_base, ws);
	out->gs_base = word(env + L->segs + R_GS * L->seg_size + L->seg_base, ws);
	out->tr_base = word(env + L->tr + L->seg_base, ws);
	out->cr0 = word(env + L->cr, ws);
	out->cr2 = word(env + L->cr + 2 * ws, ws);
	out->cr3 = word(env + L->cr + 3 * ws, ws);
	out->cr4 = word(env + L->cr + 4 * ws, ws);
	if (efer_off >= 0 && (size_t)efer_off + 8 <= len)
		memcpy(&out->efer, env + efer_off, 8);
	else
		out->efer = (hf & HF_LMA_MASK) ? EFER_LME | EFER_LMA : 0;
	out->cpl = (uint8_t)(hf & HF_CPL_MASK);
	out->long_mode = (uint8_t)lm;
	out->valid = 1;
	return 0;
}

int cpustate_image_matches(const uint8_t *env, size_t len, int ws,
			   const struct qp_regs *r)
{
	struct qp_regs d;

	if (!r->valid || cpustate_image_decode(env, len, ws, -1, &d) < 0)
		return 0;
	/* a 32-bit guest in a 64-bit build: the monitor printed 32 bits */
	if (d.long_mode != r->long_mode)
		return 0;
	if (memcmp(d.gpr, r->gpr, sizeof d.gpr) || d.ip != r->ip)
		return 0;
	return d.cs == r->cs && d.ss == r->ss && d.fs_base == r->fs_base &&
	       d.gs_base == r->gs_base && d.cr0 == r->cr0 && d.cr3 == r->cr3 &&
	       d.cr4 == r->cr4 && d.cpl == r->cpl;
}

struct mapping { uint64_t lo, hi; int heap; };

static int skipped(uint64_t lo, uint64_t hi, const uint64_t (*skip)[2], int n)
{
	for (int i = 0; i < n; i++)
		if (lo < skip[i][1] && skip[i][0] < hi)
			return 1;
	return 0;
}

/* QEMU's anonymous private writable mappings, the heap first. */
static int list_mappings(int pid, const uint64_t (*skip)[2], int n_skip,
			 struct mapping **out, char *err, size_t errlen)
{
	char path[64], line[512];
	FILE *f;
	int n = 0, cap = 0;
	struct mapping *v = NULL;

	snprintf(path, sizeof path, "/proc/%d/maps", pid);
	f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, f)) {
		unsigned long long lo, hi, off, inode;
		char perms[8], dev[16], name[256] = "";
		if (sscanf(line, "%llx-%llx %7s %llx %15s %llu %255s", &lo, &hi, perms,
			   &off, dev, &inode, name) < 6)
			continue;
		if (strcmp(perms, "rw-p") || inode != 0 || hi <= lo)
			continue;
		if (name[0] == '[' && strcmp(name, "[heap]"))
			continue;   /* [stack], [vvar] ... */
		if (hi - lo > BIG_MAPPING || skipped(lo, hi, skip, n_skip))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			struct mapping *nv = realloc(v, (size_t)cap * sizeof *v);
			if (!nv) {
				free(v);
				fclose(f);
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			v = nv;
		}
		v[n++] = (struct mapping){ lo, hi, !strcmp(name, "[heap]") };
	}
	fclose(f);
	/* heap first: where QEMU allocated its CPU objects so far */
	for (int i = 0; i < n; i++)
		if (v[i].heap && i) {
			struct mapping t = v[0];
			v[0] = v[i];
			v[i] = t;
			break;
		}
	*out = v;
	return n;
}

static long remote_read(int pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec l = { buf, len }, r = { (void *)(uintptr_t)addr, len };
	ssize_t got = process_vm_readv(pid, &l, 1, &r, 1, 0);
	return got < 0 ? -errno : (long)got;
}

/* A copy of QEMU's candidate memory, taken while the guest is paused. */
struct cpustate_snap {
	int pid;
	int n;
	uint64_t *addr;              /* where each piece was in QEMU */
	size_t *len;
	uint8_t **bytes;
	uint64_t total;
};

void cpustate_snap_free(struct cpustate_snap *sn)
{
	if (!sn)
		return;
	for (int i = 0; i < sn->n; i++)
		free(sn->bytes[i]);
	free(sn->addr);
	free(sn->len);
	free(sn->bytes);
	free(sn);
}

struct cpustate_snap *cpustate_snapshot(int pid, const uint64_t (*skip)[2], int n_skip,
					uint64_t budget, char *err, size_t errlen)
{
	struct mapping *maps = NULL;
	struct cpustate_snap *sn = calloc(1, sizeof *sn);
	int nmaps;

	if (!sn) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	sn->pid = pid;
	nmaps = list_mappings(pid, skip, n_skip, &maps, err, errlen);
	if (nmaps < 0)
		goto fail;
	sn->addr = calloc((size_t)nmaps + 1, sizeof *sn->addr);
	sn->len = calloc((size_t)nmaps + 1, sizeof *sn->len);
	sn->bytes = calloc((size_t)nmaps + 1, sizeof *sn->bytes);
	if (!sn->addr || !sn->len || !sn->bytes) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (int i = 0; i < nmaps && sn->total < budget; i++) {
		size_t len = (size_t)(maps[i].hi - maps[i].lo);
		uint8_t *b = malloc(len);
		long got;

		if (!b) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		got = remote_read(pid, maps[i].lo, b, len);
		if (got == -EPERM || got == -ESRCH) {
			free(b);
			snprintf(err, errlen, got == -EPERM ?
				 "not allowed to read QEMU's memory (pid %d)" :
				 "QEMU (pid %d) is gone", pid);
			goto fail;
		}
		if (got <= 0) {
			free(b);
			continue;
		}
		sn->addr[sn->n] = maps[i].lo;
		sn->len[sn->n] = (size_t)got;
		sn->bytes[sn->n++] = b;
		sn->total += (uint64_t)got;
	}
	free(maps);
	return sn;
fail:
	free(maps);
	cpustate_snap_free(sn);
	return NULL;
}

/* Where a vCPU's state may be, found with the guest running: CR0 and CR4
 * at their offsets (an OS sets them once; the general registers move). */
int cpustate_candidates(int pid, const uint64_t (*skip)[2], int n_skip, uint64_t budget,
			const struct qp_regs *regs, int n, uint64_t *out, int max,
			char *err, size_t errlen)
{
	uint64_t scanned = 0;
	struct mapping *maps = NULL;
	int nmaps, found = 0;
	size_t cap = 1u << 20;
	uint8_t *buf = malloc(cap);

	if (!buf) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	nmaps = list_mappings(pid, skip, n_skip, &maps, err, errlen);
	for (int i = 0; i < nmaps && found <= max && scanned < budget; i++) {
		scanned += maps[i].hi - maps[i].lo;
		for (uint64_t at = maps[i].lo; at < maps[i].hi && found <= max; at += cap - IMAGE_MAX) {
			size_t want = maps[i].hi - at < cap ? (size_t)(maps[i].hi - at) : cap;
			long got = remote_read(pid, at, buf, want);
			if (got == -EPERM || got == -ESRCH) {
				snprintf(err, errlen, got == -EPERM ?
					 "not allowed to read QEMU's memory (pid %d)" :
					 "QEMU (pid %d) is gone", pid);
				found = -1;
				goto out;
			}
			for (int w = 0; w < 2 && got > 0; w++) {
				const struct layout *L = w ? &LAYOUT32 : &LAYOUT64;
				for (size_t p = 0; p + L->end <= (size_t)got; p += (size_t)L->ws) {
					uint64_t cr0 = word(buf + p + L->cr, L->ws);
					uint64_t cr4 = word(buf + p + L->cr + 4 * L->ws, L->ws);
					int k;
					for (k = 0; k < n; k++)
						if (cr0 == regs[k].cr0 && cr4 == regs[k].cr4)
							break;
					if (k == n || (at + p) % 8)
						continue;
					/* a chunk's tail is seen again in the next */
					int dup = 0;
					for (int j = 0; j < found && !dup; j++)
						dup = out[j] == at + p;
					if (dup)
						continue;
					if (found < max)
						out[found] = at + p;
					found++;
				}
				if (found > max)
					break;
			}
			if (got < (long)want)
				break;
		}
	}
	if (found > max) {
		snprintf(err, errlen, "too many places look like a vCPU's state");
		found = -1;
	}
out:
	free(maps);
	free(buf);
	return found;
}

struct cpustate_snap *cpustate_snapshot_at(int pid, const uint64_t *addr, int n,
					   char *err, size_t errlen)
{
	struct cpustate_snap *sn = calloc(1, sizeof *sn);
	struct iovec l[64], r[64];

	if (!sn || n > 64 || !(sn->addr = calloc((size_t)n + 1, sizeof *sn->addr)) ||
	    !(sn->len = calloc((size_t)n + 1, sizeof *sn->len)) ||
	    !(sn->bytes = calloc((size_t)n + 1, sizeof *sn->bytes))) {
		snprintf(err, errlen, n > 64 ? "too many candidates" : "out of memory");
		cpustate_snap_free(sn);
		return NULL;
	}
	sn->pid = pid;
	for (int i = 0; i < n; i++) {
		if (!(sn->bytes[i] = malloc(IMAGE_MAX))) {
			sn->n = i;
			cpustate_snap_free(sn);
			snprintf(err, errlen, "out of memory");
			return NULL;
		}
		l[i] = (struct iovec){ sn->bytes[i], IMAGE_MAX };
		r[i] = (struct iovec){ (void *)(uintptr_t)addr[i], IMAGE_MAX };
		sn->addr[i] = addr[i];
		sn->len[i] = IMAGE_MAX;
	}
	sn->n = n;
	/* one system call: every candidate as of the same instant */
	ssize_t got = n ? process_vm_readv(pid, l, (unsigned long)n, r, (unsigned long)n, 0) : 0;
	if (got != (ssize_t)n * IMAGE_MAX) {
		snprintf(err, errlen, "reading the candidates failed");
		cpustate_snap_free(sn);
		return NULL;
	}
	sn->total = (uint64_t)got;
	return sn;
}

uint64_t cpustate_snap_bytes(const struct cpustate_snap *sn) { return sn ? sn->total : 0; }

/* Look for every vCPU's registers in one piece, at word size L->ws. */
static void scan_piece(const uint8_t *b, size_t len, uint64_t base, const struct layout *L,
		       const struct qp_regs *regs, int n, uint64_t hits[][MAX_HITS],
		       int hit_ws[][MAX_HITS], int *nhits)
{
	if (len < L->end)
		return;
	for (size_t p = 0; p + L->end <= len; p += (size_t)L->ws) {
		uint64_t ip = word(b + p + L->eip, L->ws);
		for (int k = 0; k < n; k++) {
			if (ip != regs[k].ip ||
			    !cpustate_image_matches(b + p, len - p, L->ws, &regs[k]))
				continue;
			if (nhits[k] < MAX_HITS) {
				hits[k][nhits[k]] = base + p;
				hit_ws[k][nhits[k]] = L->ws;
			}
			nhits[k]++;
		}
	}
}

/* EFER: a uint64 after cr[], found by the value the monitor printed. */
static int find_efer(const uint8_t *img, size_t len, const struct layout *L, uint64_t efer)
{
	if (efer == 0)
		return -1;
	for (size_t off = (L->end + 7) & ~(size_t)7; off + 8 <= len && off < IMAGE_MAX; off += 8) {
		uint64_t v;
		memcpy(&v, img + off, 8);
		if (v == efer)
			return (int)off;
	}
	return -1;
}

struct cpustate *cpustate_find(const struct cpustate_snap *sn, const struct qp_regs *regs,
			       const int *ids, int n, char *err, size_t errlen)
{
	struct cpustate *c;
	uint64_t hits[MAX_CPUS][MAX_HITS];
	int hit_ws[MAX_CPUS][MAX_HITS], nhits[MAX_CPUS] = { 0 };
	int any_long = 0, k;

	if (n <= 0 || n > MAX_CPUS) {
		snprintf(err, errlen, "no vCPU registers to look for");
		return NULL;
	}
	for (k = 0; k < n; k++) {
		if (!regs[k].valid || ids[k] < 0 || ids[k] >= MAX_CPUS) {
			snprintf(err, errlen, "the monitor's registers of a vCPU are incomplete");
			return NULL;
		}
		any_long |= regs[k].long_mode;
	}
	for (int i = 0; i < sn->n; i++) {
		scan_piece(sn->bytes[i], sn->len[i], sn->addr[i], &LAYOUT64, regs, n,
			   hits, hit_ws, nhits);
		/* qemu-system-i386 has no long mode */
		if (!any_long)
			scan_piece(sn->bytes[i], sn->len[i], sn->addr[i], &LAYOUT32, regs, n,
				   hits, hit_ws, nhits);
	}
	for (k = 0; k < n; k++) {
		if (nhits[k] == 0) {
			snprintf(err, errlen, "vCPU %d's registers are not in QEMU's memory "
				 "(%llu MiB looked at): not TCG, or a CPU state layout this "
				 "QEMU does not share with 7.2-10.x", ids[k],
				 (unsigned long long)(sn->total >> 20));
			return NULL;
		}
		if (nhits[k] > 1) {
			snprintf(err, errlen, "vCPU %d's registers match %d places in QEMU's "
				 "memory (vCPUs with equal registers, e.g. at reset)",
				 ids[k], nhits[k]);
			return NULL;
		}
		for (int j = 0; j < k; j++)
			if (hits[j][0] == hits[k][0] || hit_ws[j][0] != hit_ws[k][0]) {
				snprintf(err, errlen, "vCPUs %d and %d match the same state",
					 ids[j], ids[k]);
				return NULL;
			}
	}
	c = calloc(1, sizeof *c);
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->pid = sn->pid;
	c->lay = layout_of(hit_ws[0][0]);
	c->scanned = sn->total;
	c->efer_off = -1;
	for (k = 0; k < n; k++) {
		c->env[ids[k]] = hits[k][0];
		/* the efer offset, from the snapshot's copy of this structure */
		for (int i = 0; i < sn->n && regs[k].efer && c->efer_off < 0; i++)
			if (hits[k][0] >= sn->addr[i] && hits[k][0] < sn->addr[i] + sn->len[i]) {
				size_t off = (size_t)(hits[k][0] - sn->addr[i]);
				c->efer_off = find_efer(sn->bytes[i] + off, sn->len[i] - off,
							c->lay, regs[k].efer);
			}
	}
	c->read_len = c->efer_off >= 0 ? (unsigned)c->efer_off + 8 : c->lay->end;
	if (c->read_len < c->lay->end)
		c->read_len = c->lay->end;
	return c;
}

long cpustate_read_with(struct cpustate *c, int cpu, struct qp_regs *out,
			const struct iovec *remote, const struct iovec *local, int n)
{
	uint8_t img[IMAGE_MAX];
	struct iovec l[CPUSTATE_MAX_IOV + 1], r[CPUSTATE_MAX_IOV + 1];
	ssize_t got;
	size_t want = 0;

	out->valid = 0;
	if (!c || cpu < 0 || cpu >= MAX_CPUS || !c->env[cpu] || n < 0 || n > CPUSTATE_MAX_IOV)
		return -1;
	l[0] = (struct iovec){ img, c->read_len };
	r[0] = (struct iovec){ (void *)(uintptr_t)c->env[cpu], c->read_len };
	for (int i = 0; i < n; i++) {
		l[i + 1] = local[i];
		r[i + 1] = remote[i];
		want += remote[i].iov_len;
	}
	got = process_vm_readv(c->pid, l, (unsigned long)n + 1, r, (unsigned long)n + 1, 0);
	if (got < (ssize_t)c->read_len)
		return -1;
	if (cpustate_image_decode(img, c->read_len, c->lay->ws, c->efer_off, out) < 0)
		return -1;
	got -= (ssize_t)c->read_len;
	return got > (ssize_t)want ? (long)want : (long)got;
}

int cpustate_read(struct cpustate *c, int cpu, struct qp_regs *out)
{
	uint8_t img[IMAGE_MAX];

	out->valid = 0;
	if (!c || cpu < 0 || cpu >= MAX_CPUS || !c->env[cpu])
		return -1;
	if (remote_read(c->pid, c->env[cpu], img, c->read_len) != (long)c->read_len)
		return -1;
	return cpustate_image_decode(img, c->read_len, c->lay->ws, c->efer_off, out);
}

uint64_t cpustate_scanned(const struct cpustate *c) { return c ? c->scanned : 0; }
int cpustate_word_size(const struct cpustate *c) { return c ? c->lay->ws : 0; }

void cpustate_free(struct cpustate *c)
{
	free(c);
}
