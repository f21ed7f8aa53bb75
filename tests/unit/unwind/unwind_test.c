/* unwind_test.c - unwind fixture captures with the symbolizer and check the
 * exact chains a user would see in the profile. */
#include "fxload.h"
#include "symbolizer.h"
#include "symtab.h"
#include "unwind.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
#define CHECK(c, ...) do { if (!(c)) { failures++; \
	fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #c); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

static const char *base(const char *p)
{
	const char *b = strrchr(p, '/');
	return b ? b + 1 : p;
}

static struct symbolizer *mk(const char *kernel, const char *sysroot)
{
	struct symbolizer_config cfg = { .kernel = kernel, .sysroot = sysroot,
					 .inline_frames = 1, .max_depth = 128 };
	char err[256] = "";
	struct symbolizer *s = symbolizer_new(&cfg, err, sizeof err);
	if (!s) {
		fprintf(stderr, "FAIL: symbolizer_new: %s\n", err);
		exit(1);
	}
	return s;
}

static int run(struct symbolizer *s, const struct qp_sample *smp,
	       struct prof_frame *f, size_t *n, char *joined, size_t jl)
{
	int rc = symbolizer_process(s, smp, f, 256, n);
	if (rc == 0)
		fx_join(f, *n, joined, jl);
	else
		joined[0] = 0;
	return rc;
}

static int test_chain(const char *elf, const char *chain)
{
	struct fx_capture c;
	fx_run(elf, &c);
	char dir[256];
	fx_sysroot(dir, sizeof dir, &elf, 1);
	struct symbolizer *s = mk(NULL, dir);
	struct qp_sample *smp = fx_sample(&c, 0x1000);
	struct prof_frame f[256];
	size_t n = 0;
	char got[4096], want[4096];
	snprintf(want, sizeof want, "%s;%s", base(elf), chain);
	CHECK(run(s, smp, f, &n, got, sizeof got) == 0, "process failed");
	CHECK(!strcmp(got, want), "\n got  %s\n want %s", got, want);
	CHECK(f[0].kind == PK_PROC, "process frame kind %d", f[0].kind);
	/* the captured pc is in fx_capture, inlined into fx_leaf */
	CHECK(n > 2 && !strcmp(f[n - 1].name, "fx_capture") &&
	      f[n - 1].flags == PF_INLINE && f[n - 2].flags == 0,
	      "inline frame flags");
	CHECK(n > 2 && f[n - 2].src && !strncmp(f[n - 2].src, "fx_main.c:", 10),
	      "call site of the inline frame: %s",
	      n > 2 && f[n - 2].src ? f[n - 2].src : "(null)");
	for (size_t i = 1; i < n; i++) {
		CHECK(f[i].kind == PK_USER, "frame %zu kind %d", i, f[i].kind);
		CHECK(f[i].module && !strcmp(f[i].module, base(elf)),
		      "frame %zu module %s", i, f[i].module ? f[i].module : "(null)");
	}
	/* file:line of the leaf comes from the fixture's DWARF */
	CHECK(n > 1 && f[n - 1].src && !strncmp(f[n - 1].src, "fx_main.c:", 10),
	      "leaf src %s", n > 1 && f[n - 1].src ? f[n - 1].src : "(null)");
	/* again, through the caches: same answer */
	char again[4096];
	CHECK(run(s, smp, f, &n, again, sizeof again) == 0, "second process");
	CHECK(!strcmp(again, want), "cached: %s", again);
	/* a halted vCPU: idle time is its own leaf below where it halted */
	smp->flags |= QP_SF_IDLE;
	char idle[4200];
	snprintf(idle, sizeof idle, "%s;[idle]", want);
	CHECK(run(s, smp, f, &n, again, sizeof again) == 0, "idle process");
	CHECK(!strcmp(again, idle) && f[n - 1].kind == PK_MARK, "idle: %s", again);
	smp->flags &= ~(uint32_t)QP_SF_IDLE;
	struct symbolizer_stats st;
	symbolizer_get_stats(s, &st);
	CHECK(st.samples == 3 && st.truncated == 0, "stats %llu %llu",
	      (unsigned long long)st.samples, (unsigned long long)st.truncated);
	symbolizer_free(s);

	/* without inline frames the leaf is the real function */
	struct symbolizer_config cfg = { .sysroot = dir };
	char err[256];
	s = symbolizer_new(&cfg, err, sizeof err);
	size_t wl = strlen(want) - strlen(";fx_capture");
	want[wl] = 0;
	CHECK(run(s, smp, f, &n, got, sizeof got) == 0, "process");
	CHECK(!strcmp(got, want), "no inline:\n got  %s\n want %s", got, want);
	free(smp);
	symbolizer_free(s);
	fx_rmtree(dir);
	free(c.stack);
	return 0;
}

/* The frames below "[truncated]" must be the leaf end of the full chain:
 * a cut, never garbage. */
static void check_cut(const char *got, const char *proc, const char *full)
{
	char head[256];
	snprintf(head, sizeof head, "%s;[truncated];", proc);
	CHECK(!strncmp(got, head, strlen(head)), "no truncation mark: %s", got);
	const char *rest = got + strlen(head);
	size_t lr = strlen(rest), lf = strlen(full);
	CHECK(lr > 0 && lr <= lf && !strcmp(full + lf - lr, rest) &&
	      (lr == lf || full[lf - lr - 1] == ';'),
	      "frames are not a leaf-side cut of the chain: %s", rest);
}

static int test_truncated(const char *elf)
{
	const char *full = "_start;fx_main;fx_top;fx_mid;fx_rec;fx_rec;fx_rec;fx_leaf;fx_capture";
	struct fx_capture c;
	fx_run(elf, &c);
	char dir[256];
	fx_sysroot(dir, sizeof dir, &elf, 1);
	struct symbolizer *s = mk(NULL, dir);
	struct prof_frame f[256];
	size_t n;
	char got[4096];

	/* garbage over the upper half of the stack copy */
	struct qp_sample *smp = fx_sample(&c, 0x2000);
	uint8_t *st = qp_sample_stack(smp);
	for (uint32_t i = smp->stack_len / 2; i < smp->stack_len; i++)
		st[i] = 0x41;
	CHECK(run(s, smp, f, &n, got, sizeof got) == 0, "process");
	check_cut(got, base(elf), full);
	CHECK(f[1].kind == PK_MARK, "mark kind %d", f[1].kind);
	CHECK(strstr(got, "fx_rec;fx_leaf;fx_capture") != NULL,
	      "lost the leaf frames: %s", got);
	free(smp);

	/* a stack copy clipped by an unmapped page */
	struct fx_sample_opts o = {
		.cr3 = 0x2000, .cpl = 3, .stack = c.stack,
		.stack_addr = c.d.stack_addr, .stack_len = 40,
		.code = c.d.code, .code_addr = c.d.ip, .code_len = FX_CODE,
		.flags = QP_SF_STACK_CLIPPED,
	};
	smp = fx_sample_ex(&c, &o);
	CHECK(run(s, smp, f, &n, got, sizeof got) == 0, "process clipped");
	check_cut(got, base(elf), full);
	free(smp);

	/* a depth cap cuts too */
	struct symbolizer_config cfg = { .sysroot = dir, .max_depth = 3,
					 .inline_frames = 1 };
	char err[256];
	struct symbolizer *s3 = symbolizer_new(&cfg, err, sizeof err);
	smp = fx_sample(&c, 0x2000);
	CHECK(run(s3, smp, f, &n, got, sizeof got) == 0, "process capped");
	check_cut(got, base(elf), full);
	symbolizer_free(s3);

	/* no registers: unusable */
	smp->regs.valid = 0;
	CHECK(symbolizer_process(s, smp, f, 256, &n) == -1, "invalid regs accepted");
	free(smp);
	symbolizer_free(s);
	fx_rmtree(dir);
	free(c.stack);
	return 0;
}

/* Kernel-mode sample entered from user mode: kernel = fixture K (as the
 * --kernel ELF), user program = fixture U (sysroot).  K's stack gets a
 * hardware trap frame on top pointing at U's pc/sp, and the frame pointer K
 * started with (the one its entry "stub" _start left alone) is U's. */
static int test_trap(const char *kelf, const char *uelf)
{
	struct fx_capture k, u;
	fx_run(kelf, &k);
	fx_run(uelf, &u);
	char dir[256];
	fx_sysroot(dir, sizeof dir, &uelf, 1);
	struct symbolizer *s = mk(kelf, dir);

	uint32_t klen = (uint32_t)k.d.stack_len;
	uint8_t *kst = calloc(1, klen + 5 * 8);
	memcpy(kst, k.stack, klen);
	uint64_t trap = k.d.stack_addr + klen;
	uint64_t tf[5] = { u.d.ip, 0x33, 0x202, u.d.gpr[QP_RSP], 0x2b };
	memcpy(kst + klen, tf, sizeof tf);
	/* follow K's frame pointers to the slot holding _start's rbp (0) */
	uint64_t fp = k.d.gpr[QP_RBP], v = 1;
	int patched = 0;
	for (int i = 0; i < 64 && fp >= k.d.stack_addr && fp + 8 <= trap; i++) {
		memcpy(&v, kst + (fp - k.d.stack_addr), 8);
		if (v == 0) {
			memcpy(kst + (fp - k.d.stack_addr), &u.d.gpr[QP_RBP], 8);
			patched = 1;
			break;
		}
		fp = v;
	}
	CHECK(patched, "could not find the outermost saved frame pointer");
	struct fx_sample_opts o = {
		.cr3 = 0x7000, .cpl = 0,
		.stack = kst, .stack_addr = k.d.stack_addr, .stack_len = klen + 40,
		.ustack = u.stack, .ustack_addr = u.d.stack_addr,
		.ustack_len = (uint32_t)u.d.stack_len,
		.code = u.d.code, .code_addr = u.d.ip, .code_len = FX_CODE,
		.comm = "tasky", .trap_addr = trap, .flags = QP_SF_HAS_TRAP,
	};
	struct qp_sample *smp = fx_sample_ex(&k, &o);
	struct prof_frame f[256];
	size_t n;
	char got[4096];
	const char *want = "tasky;"
		"_start;fx_main;fx_top;fx_mid;fx_rec;fx_rec;fx_rec;fx_leaf;fx_capture;"
		"_start;fx_main;fx_top;fx_mid;fx_rec;fx_rec;fx_rec;fx_leaf;fx_capture";
	CHECK(run(s, smp, f, &n, got, sizeof got) == 0, "process");
	CHECK(!strcmp(got, want), "\n got  %s\n want %s", got, want);
	for (size_t i = 1; i < n; i++) {
		int user = i <= 9;
		CHECK(f[i].kind == (user ? PK_USER : PK_KERNEL), "frame %zu kind %d",
		      i, f[i].kind);
		CHECK(f[i].module && !strcmp(f[i].module, user ? base(uelf) : "kernel"),
		      "frame %zu module %s", i, f[i].module ? f[i].module : "(null)");
	}
	struct symbolizer_stats st;
	symbolizer_get_stats(s, &st);
	CHECK(st.trap_crossings == 1, "trap crossings %llu",
	      (unsigned long long)st.trap_crossings);

	/* the user stack could not be read: user pc only, marked cut */
	smp->flags |= QP_SF_USTACK_FAILED;
	CHECK(run(s, smp, f, &n, got, sizeof got) == 0, "process no ustack");
	CHECK(!strcmp(got, "tasky;[truncated];fx_leaf;fx_capture;"
		      "_start;fx_main;fx_top;fx_mid;fx_rec;fx_rec;fx_rec;fx_leaf;fx_capture"),
	      "no ustack: %s", got);
	free(smp);
	free(kst);
	symbolizer_free(s);
	fx_rmtree(dir);
	free(k.stack);
	free(u.stack);
	return 0;
}

/* Address spaces are told apart by code bytes, names come from --comm
 * bytes (remembered per CR3), else the program, else "as-<cr3>". */
static int test_asmatch(const char *a64, const char *twin64, const char *b32)
{
	struct fx_capture ca, cb;
	fx_run(a64, &ca);
	fx_run(b32, &cb);
	const char *progs[] = { a64, b32 };
	char dir[256];
	fx_sysroot(dir, sizeof dir, progs, 2);
	struct symbolizer *s = mk(NULL, dir);
	CHECK(symbolizer_wants_code(s) == 1, "wants code");
	struct prof_frame f[256];
	size_t n;
	char got[4096], want[4096];
	const char *chain = "_start;fx_main;fx_top;fx_mid;fx_rec;fx_rec;fx_rec;fx_leaf;fx_capture";

	struct qp_sample *sa = fx_sample(&ca, 0xa000), *sb = fx_sample(&cb, 0xb000);
	run(s, sa, f, &n, got, sizeof got);
	snprintf(want, sizeof want, "%s;%s", base(a64), chain);
	CHECK(!strcmp(got, want), "A: %s", got);
	run(s, sb, f, &n, got, sizeof got);
	snprintf(want, sizeof want, "%s;%s", base(b32), chain);
	CHECK(!strcmp(got, want), "B: %s", got);
	/* CR3 0xa000 now runs the i386 program: code bytes disagree, rematch */
	struct qp_sample *sb_on_a = fx_sample(&cb, 0xa000);
	run(s, sb_on_a, f, &n, got, sizeof got);
	CHECK(!strcmp(got, want), "A changed hands: %s", got);
	/* code bytes where no program has any (Linux i386: the vDSO's
	 * landing pad after sysenter) say nothing: A stays the i386 one's */
	struct qp_sample *sv = fx_sample(&cb, 0xa000);
	sv->code_addr = 0xb7f00559;
	run(s, sv, f, &n, got, sizeof got);
	CHECK(!strcmp(got, want), "A probed in the vDSO: %s", got);
	free(sv);
	/* PCID bits in CR3 do not make a new address space */
	sb_on_a->regs.cr3 = 0xa005;
	sb_on_a->flags &= ~(uint32_t)QP_SF_HAS_CODE;
	run(s, sb_on_a, f, &n, got, sizeof got);
	CHECK(!strcmp(got, want), "A with PCID: %s", got);
	free(sb_on_a);

	/* --comm bytes win and are remembered for samples without them */
	struct fx_sample_opts o = {
		.cr3 = 0xb000, .cpl = 3, .stack = cb.stack,
		.stack_addr = cb.d.stack_addr, .stack_len = (uint32_t)cb.d.stack_len,
		.comm = "beta",
	};
	struct qp_sample *sc = fx_sample_ex(&cb, &o);
	run(s, sc, f, &n, got, sizeof got);
	CHECK(!strncmp(got, "beta;_start;", 12), "comm: %s", got);
	run(s, sb, f, &n, got, sizeof got);
	CHECK(!strncmp(got, "beta;_start;", 12), "comm remembered: %s", got);
	/* another vCPU in the same address space names its own task; each
	 * vCPU keeps the last name seen on it */
	o.comm = "gamma";
	struct qp_sample *sg = fx_sample_ex(&cb, &o);
	sg->cpu = 1;
	run(s, sg, f, &n, got, sizeof got);
	CHECK(!strncmp(got, "gamma;_start;", 13), "comm on cpu 1: %s", got);
	run(s, sb, f, &n, got, sizeof got);
	CHECK(!strncmp(got, "beta;_start;", 12), "cpu 0 keeps its name: %s", got);
	sb->cpu = 2;
	run(s, sb, f, &n, got, sizeof got);
	CHECK(!strncmp(got, "gamma;_start;", 13), "cpu 2 takes the latest: %s", got);
	sb->cpu = 0;
	free(sg);
	free(sc);

	/* unknown code: named by address space, frames by address */
	struct qp_sample *su = fx_sample(&ca, 0xc000);
	memset((uint8_t *)qp_sample_code(su), 0xcc, su->code_len);
	run(s, su, f, &n, got, sizeof got);
	char leaf[32];
	snprintf(leaf, sizeof leaf, "0x%llx", (unsigned long long)ca.d.ip);
	CHECK(!strncmp(got, "as-c000;", 8), "unmatched proc: %s", got);
	CHECK(n >= 2 && !strcmp(f[n - 1].name, leaf) && f[n - 1].module &&
	      !strcmp(f[n - 1].module, "?"), "unmatched leaf: %s", got);
	free(su);
	free(sa);
	free(sb);
	symbolizer_free(s);
	fx_rmtree(dir);

	/* identical code in two programs (a64 and its twin) does not decide */
	const char *twins[] = { a64, twin64 };
	fx_sysroot(dir, sizeof dir, twins, 2);
	s = mk(NULL, dir);
	sa = fx_sample(&ca, 0xd000);
	run(s, sa, f, &n, got, sizeof got);
	CHECK(!strncmp(got, "as-d000;", 8), "ambiguous match named: %s", got);
	free(sa);
	symbolizer_free(s);
	fx_rmtree(dir);
	free(ca.stack);
	free(cb.stack);
	return 0;
}

/* Kernel-mode samples (no trap frame): the fixture as the kernel, either
 * slid by --kernel-offset (a relocated ET_EXEC: every text address in the
 * registers and on the stack moves) or named from nm text only (frame
 * pointers alone, no DWARF). */
static int test_kernel(const char *elf, const char *nmfile, int64_t slide)
{
	struct fx_capture c;
	fx_run(elf, &c);
	char err[256];
	struct symtab *t = symtab_from_elf(elf, 0, err, sizeof err);
	uint64_t lo, hi;
	symtab_range(t, &lo, &hi);
	symtab_free(t);
	struct fx_sample_opts o = {
		.cr3 = 0x3000, .cpl = 0, .stack = c.stack,
		.stack_addr = c.d.stack_addr, .stack_len = (uint32_t)c.d.stack_len,
	};
	struct qp_sample *smp = fx_sample_ex(&c, &o);
	int ws = (int)c.d.wordsize;
	if (slide) {
		smp->regs.ip += (uint64_t)slide;
		uint8_t *st = qp_sample_stack(smp);
		for (uint32_t i = 0; i + (uint32_t)ws <= smp->stack_len; i += (uint32_t)ws) {
			uint64_t v = 0;
			memcpy(&v, st + i, (size_t)ws);
			if (v >= lo && v < hi) {
				v += (uint64_t)slide;
				memcpy(st + i, &v, (size_t)ws);
			}
		}
	}
	struct symbolizer_config cfg = { .kernel = nmfile ? NULL : elf,
					 .symbols = nmfile, .kernel_offset = slide,
					 .inline_frames = 1 };
	struct symbolizer *s = symbolizer_new(&cfg, err, sizeof err);
	CHECK(s != NULL, "symbolizer_new: %s", err);
	if (!s)
		return 1;
	struct prof_frame f[256];
	size_t n;
	char got[4096];
	/* nm text has no DWARF: no inline frame, no lines */
	const char *want = nmfile ?
		"as-3000;_start;fx_main;fx_top;fx_mid;fx_rec;fx_rec;fx_rec;fx_leaf" :
		"as-3000;_start;fx_main;fx_top;fx_mid;fx_rec;fx_rec;fx_rec;fx_leaf;fx_capture";
	CHECK(run(s, smp, f, &n, got, sizeof got) == 0, "process");
	CHECK(!strcmp(got, want), "\n got  %s\n want %s", got, want);
	for (size_t i = 1; i < n; i++)
		CHECK(f[i].kind == PK_KERNEL && f[i].module &&
		      !strcmp(f[i].module, "kernel"), "frame %zu kind %d", i, f[i].kind);
	if (!nmfile)
		CHECK(n > 1 && f[n - 1].src && !strncmp(f[n - 1].src, "fx_main.c:", 10),
		      "line info at the slid address: %s",
		      n > 1 && f[n - 1].src ? f[n - 1].src : "(null)");
	/* the same sample without the slide option names nothing right */
	if (slide) {
		struct symbolizer_config c0 = cfg;
		c0.kernel_offset = 0;
		struct symbolizer *s0 = symbolizer_new(&c0, err, sizeof err);
		CHECK(run(s0, smp, f, &n, got, sizeof got) == 0, "process");
		CHECK(strstr(got, "fx_rec") == NULL, "unslid symbols matched: %s", got);
		symbolizer_free(s0);
	}
	free(smp);
	symbolizer_free(s);
	free(c.stack);
	return 0;
}

/* Frame 0 at a function's first instruction (nothing pushed yet): the
 * return address is at [sp], with or without CFI for that function.  The
 * state is rebuilt from the capture: at fx_leaf's entry sp = its rbp + one
 * word and rbp = the caller's saved one.  The fixture serves as the kernel
 * (kernel-mode sample), so no address-space matching is involved. */
static int test_entry(const char *elf)
{
	struct fx_capture c;
	fx_run(elf, &c);
	char err[256];
	struct symtab *t = symtab_from_elf(elf, 0, err, sizeof err);
	const struct sym *leaf = t ? symtab_find(t, "fx_leaf") : NULL;
	CHECK(leaf != NULL, "fx_leaf");
	if (!leaf)
		return 1;
	uint64_t ws = c.d.wordsize, fp = c.d.gpr[QP_RBP], caller_fp = 0;
	memcpy(&caller_fp, c.stack + (fp - c.d.stack_addr), ws);
	uint64_t sp = fp + ws;
	struct fx_sample_opts o = {
		.cr3 = 0x4000, .cpl = 0, .stack = c.stack + (sp - c.d.stack_addr),
		.stack_addr = sp,
		.stack_len = (uint32_t)(c.d.stack_len - (sp - c.d.stack_addr)),
	};
	struct qp_sample *smp = fx_sample_ex(&c, &o);
	smp->regs.ip = leaf->addr;
	smp->regs.gpr[QP_RSP] = sp;
	smp->regs.gpr[QP_RBP] = caller_fp;
	struct symbolizer_config cfg = { .kernel = elf };
	struct symbolizer *s = symbolizer_new(&cfg, err, sizeof err);
	CHECK(s != NULL, "%s", err);
	if (!s)
		return 1;
	struct prof_frame f[256];
	size_t n;
	char got[4096];
	CHECK(run(s, smp, f, &n, got, sizeof got) == 0, "process");
	CHECK(!strcmp(got, "as-4000;_start;fx_main;fx_top;fx_mid;fx_rec;fx_rec;fx_rec;fx_leaf"),
	      "entry: %s", got);
	symbolizer_free(s);
	free(smp);
	symtab_free(t);
	free(c.stack);
	return 0;
}

struct fpctx { struct symtab *t; };
static int fp_text(void *ctx, uint64_t pc)
{
	struct fpctx *c = ctx;
	return symtab_lookup(c->t, pc) != NULL;
}
static int fp_entry(void *ctx, uint64_t pc)
{
	struct fpctx *c = ctx;
	const struct sym *s = symtab_lookup(c->t, pc);
	return s && s->addr == pc;
}

/* The own frame-pointer walker alone, on an i386 build with frame pointers
 * everywhere and no CFI at all. */
static int test_fponly(const char *elf)
{
	struct fx_capture c;
	fx_run(elf, &c);
	char err[256];
	struct fpctx ctx = { symtab_from_elf(elf, 0, err, sizeof err) };
	CHECK(ctx.t != NULL, "symtab: %s", err);
	if (!ctx.t)
		return 1;
	int ws = (int)c.d.wordsize;
	struct uw_mem m = { .addr = c.d.stack_addr, .buf = c.stack, .len = c.d.stack_len };
	struct uw_walk w = { ws, &m, 1, fp_text, fp_entry, &ctx, 0 };
	struct uw_state st = { c.d.ip, c.d.gpr[QP_RSP], c.d.gpr[QP_RBP] };
	struct uw_frame fr[64];
	struct uw_result res;
	uw_fp_walk(&w, &st, fr, 64, &res);
	char got[1024] = "";
	size_t k = 0;
	for (int i = res.n - 1; i >= 0; i--) {
		const struct sym *sy = symtab_lookup(ctx.t, fr[i].isact ? fr[i].pc
							 : fr[i].pc - 1);
		k += (size_t)snprintf(got + k, sizeof got - k, "%s%s",
				      i == res.n - 1 ? "" : ";", sy ? sy->name : "?");
	}
	CHECK(res.end == UW_END_OK, "end %d", res.end);
	CHECK(!strcmp(got, "_start;fx_main;fx_top;fx_mid;fx_rec;fx_rec;fx_rec;fx_leaf"),
	      "fp walk: %s", got);
	for (int i = 1; i < res.n; i++)
		CHECK(fr[i].sp > fr[i - 1].sp, "sp not growing at %d", i);

	/* frame 0 at a function's first instruction: return address at [sp] */
	const struct sym *mid = symtab_find(ctx.t, "fx_mid");
	const struct sym *top = symtab_find(ctx.t, "fx_top");
	uint64_t slot[2] = { top->addr + 5, 0 };
	uint8_t buf[16];
	for (int i = 0; i < 2; i++) {
		if (ws == 8)
			memcpy(buf + 8 * i, &slot[i], 8);
		else {
			uint32_t v = (uint32_t)slot[i];
			memcpy(buf + 4 * i, &v, 4);
		}
	}
	struct uw_mem m2 = { .addr = 0x10000, .buf = buf, .len = sizeof buf };
	struct uw_walk w2 = { ws, &m2, 1, fp_text, fp_entry, &ctx, 0 };
	struct uw_state e0 = { mid->addr, 0x10000, 0 }, nx;
	CHECK(uw_fp_step(&w2, 0, &e0, &nx) == 1 && nx.pc == top->addr + 5 &&
	      nx.sp == 0x10000 + (uint64_t)ws, "entry step");
	/* a return address outside text, or a shrinking fp, is refused */
	struct uw_state bad = { top->addr, 0x10000, 0x10000 };
	uint64_t junk[2] = { 0x8000, 0x12345 };
	struct uw_mem m3 = { .addr = 0x10000, .buf = (uint8_t *)junk, .len = sizeof junk };
	struct uw_walk w3 = { 8, &m3, 1, fp_text, NULL, &ctx, 0 };
	CHECK(uw_fp_step(&w3, 1, &bad, &nx) == -1, "junk accepted");
	/* an fp below sp (a caller fp that did not grow) ends the walk */
	struct uw_state below = { top->addr + 5, 0x10008, 0x10000 };
	CHECK(uw_fp_step(&w3, 1, &below, &nx) == -1, "fp below sp accepted");
	/* words outside the copy: a distinct failure */
	struct uw_state outside = { top->addr + 5, 0x10000, 0x20000 };
	CHECK(uw_fp_step(&w3, 1, &outside, &nx) == -2, "read outside the copy");
	symtab_free(ctx.t);
	free(c.stack);
	return 0;
}

int main(int argc, char **argv)
{
	unsetenv("DEBUGINFOD_URLS");
	if (argc >= 4 && !strcmp(argv[1], "chain"))
		test_chain(argv[2], argv[3]);
	else if (argc >= 3 && !strcmp(argv[1], "truncated"))
		test_truncated(argv[2]);
	else if (argc >= 4 && !strcmp(argv[1], "trap"))
		test_trap(argv[2], argv[3]);
	else if (argc >= 5 && !strcmp(argv[1], "asmatch"))
		test_asmatch(argv[2], argv[3], argv[4]);
	else if (argc >= 3 && !strcmp(argv[1], "entry"))
		test_entry(argv[2]);
	else if (argc >= 3 && !strcmp(argv[1], "slide"))
		test_kernel(argv[2], NULL, 0x3400000);
	else if (argc >= 4 && !strcmp(argv[1], "nmkernel"))
		test_kernel(argv[2], argv[3], 0);
	else if (argc >= 3 && !strcmp(argv[1], "fponly"))
		test_fponly(argv[2]);
	else {
		fprintf(stderr, "usage: unwind_test chain|truncated|trap|asmatch|fponly ...\n");
		return 2;
	}
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
