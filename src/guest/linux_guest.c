/* linux_guest.c - one Linux kernel build: ORC, BTF layout, symbols; the
 * slide from IDT bytes and the per-vCPU comm recipe (the live reads that
 * feed them are src/acquire/linux_live.c). */
#include "linux_guest.h"
#include "errmsg.h"
#include "sample.h"
#include "symtab.h"
#include "elffile.h"

#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BANNER_BYTES 64

struct linux_kernel {
	struct orc_table *orc;
	struct btf *btf;
	struct linux_task_layout layout;
	struct symtab *syms;            /* unslid, SYMTAB_ALL */
	uint64_t banner_addr;
	uint8_t banner[BANNER_BYTES];
	size_t banner_len;              /* BANNER_BYTES, or the "Linux version " prefix */
	int have_banner;
	int have_layout;
	int ws;                         /* 8, or 4 for an i386 kernel */
	uint64_t active_mm_off, pgd_off;   /* i386, from init_task / init_mm; 0: unknown */
	char layout_err[160];
	uint64_t thunk_lo, thunk_hi;    /* unslid __x86_indirect_thunk_* array */
};

#define THUNK_SIZE 32                   /* one retpoline thunk per register */
#define THUNK_CALL_LEN 5                /* the retpoline's "call .Ldo_rop" */

/* An i386 kernel has no BTF (Debian's 686 builds): the task_struct layout
 * from init_task's bytes in the vmlinux, which the image holds initialized:
 * comm is "swapper" (INIT_TASK_COMM), stack is &init_stack; current_task
 * is a per-CPU symbol whose absolute address __per_cpu_offset[cpu] moves
 * (on i386 the per-CPU section is not zero-based). */
static int layout_from_init_task(struct linux_kernel *k, Elf *e,
				 const char *vmlinux)
{
	const struct sym *it = symtab_find(k->syms, "init_task");
	const struct sym *ct = symtab_find(k->syms, "current_task");
	const struct sym *is = symtab_find(k->syms, "init_stack");
	uint8_t b[8192];
	size_t n = sizeof b;
	if (!it || !ct) {
		seterr(k->layout_err, sizeof k->layout_err, "no BTF, and no "
		       "init_task / current_task in the symbols");
		return -1;
	}
	while (n >= 1024 && kaslr_elf_read_handle(e, vmlinux, it->addr, b, n, NULL, 0))
		n /= 2;
	if (n < 1024) {
		seterr(k->layout_err, sizeof k->layout_err, "no BTF, and "
		       "init_task not in the vmlinux");
		return -1;
	}
	struct linux_task_layout l = { .comm_off = (uint64_t)-1, .comm_size = 16,
				       .pid_off = (uint64_t)-1, .mm_off = (uint64_t)-1,
				       .current_task_off = ct->addr,
				       .stack_off = (uint64_t)-1 };
	for (size_t i = 0; i + 8 <= n; i += 4)
		if (!memcmp(b + i, "swapper\0", 8)) {
			l.comm_off = i;
			break;
		}
	for (size_t i = 0; is && i + 4 <= n && i < l.comm_off; i += 4) {
		uint32_t w = (uint32_t)b[i] | (uint32_t)b[i + 1] << 8 |
			     (uint32_t)b[i + 2] << 16 | (uint32_t)b[i + 3] << 24;
		if (w == (uint32_t)is->addr) {
			l.stack_off = i;
			break;
		}
	}
	/* init_task.active_mm = &init_mm, init_mm.pgd = swapper_pg_dir */
	const struct sym *im = symtab_find(k->syms, "init_mm");
	const struct sym *sp = symtab_find(k->syms, "swapper_pg_dir");
	uint8_t mb[2048];
	for (size_t i = 0; im && sp && i + 4 <= n && i < l.comm_off; i += 4) {
		uint32_t w = (uint32_t)b[i] | (uint32_t)b[i + 1] << 8 |
			     (uint32_t)b[i + 2] << 16 | (uint32_t)b[i + 3] << 24;
		if (w != (uint32_t)im->addr)
			continue;
		if (kaslr_elf_read_handle(e, vmlinux, im->addr, mb, sizeof mb, NULL, 0) == 0)
			for (size_t j = 0; j + 4 <= sizeof mb; j += 4) {
				uint32_t v = (uint32_t)mb[j] | (uint32_t)mb[j + 1] << 8 |
					     (uint32_t)mb[j + 2] << 16 |
					     (uint32_t)mb[j + 3] << 24;
				if (v == (uint32_t)sp->addr) {
					k->active_mm_off = i;
					k->pgd_off = j;
					break;
				}
			}
		break;
	}
	if (l.comm_off == (uint64_t)-1) {
		seterr(k->layout_err, sizeof k->layout_err, "no BTF, and no "
		       "\"swapper\" comm in init_task");
		return -1;
	}
	k->layout = l;
	k->have_layout = 1;
	return 0;
}

struct linux_kernel *linux_kernel_open(const char *vmlinux, const char *sysmap,
				       char *err, size_t errlen)
{
	int fd;
	Elf *e = elffile_open(vmlinux, &fd, err, errlen);
	if (!e)
		return NULL;
	char *text = NULL, e2[512] = "";
	size_t len = 0;
	if (sysmap)
		text = symtab_read_text(sysmap, &len, e2, sizeof e2);
	struct linux_kernel *k = linux_kernel_open_elf(e, vmlinux,
		text ? sysmap : NULL, text, len, err, errlen);
	if (k && sysmap && !text) {
		/* the vmlinux is fine, the System.map is not */
		linux_kernel_free(k);
		k = NULL;
		seterr(err, errlen, "%s", e2);
	}
	free(text);
	elffile_close(e, fd);
	return k;
}

struct linux_kernel *linux_kernel_open_elf(Elf *e, const char *vmlinux,
					   const char *sysmap,
					   const char *sysmap_text,
					   size_t sysmap_len, char *err,
					   size_t errlen)
{
	struct linux_kernel *k = calloc(1, sizeof *k);
	if (!k) {
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	k->ws = gelf_getclass(e) == ELFCLASS32 ? 4 : 8;
	/* a 32-bit kernel has no ORC (frame pointers): walked by the
	 * symbolizer's own CFI / frame-pointer walk */
	if (!(k->orc = orc_from_elf_handle(e, vmlinux, err, errlen)) && k->ws == 8)
		goto fail;
	/* BTF only matters for the comm recipe: without it the ORC walk and
	 * the slide detection still work */
	k->btf = btf_from_elf_handle(e, vmlinux, k->layout_err,
				     sizeof k->layout_err);
	if (k->btf && btf_linux_task_layout(k->btf, &k->layout, k->layout_err,
					    sizeof k->layout_err) == 0)
		k->have_layout = 1;
	if (!sysmap) {
		/* an unstripped vmlinux names its own symbols */
		k->syms = symtab_from_elf_handle(e, vmlinux, 0, SYMTAB_ALL,
						 NULL, 0);
		if (k->syms && !linux_symtab_is_linux(k->syms)) {
			symtab_free(k->syms);
			k->syms = NULL;
		}
		if (!k->syms) {
			if (k->orc)
				return k;
			seterr(err, errlen, "%s: no ORC tables (a 32-bit "
			       "kernel needs --symbols System.map)", vmlinux);
			goto fail;
		}
	} else if (!(k->syms = symtab_from_nm_buf(sysmap, sysmap_text,
						  sysmap_len, 0, SYMTAB_ALL,
						  err, errlen))) {
		goto fail;
	}
	if (!k->orc) {
		/* a 32-bit ELF without ORC is taken only when its symbols
		 * are a Linux kernel's (not any other i386 kernel) */
		if (!linux_symtab_is_linux(k->syms)) {
			seterr(err, errlen, "%s: no ORC tables, and not the "
			       "symbols of a Linux kernel", vmlinux);
			goto fail;
		}
		if (!k->have_layout)
			layout_from_init_task(k, e, vmlinux);
	}
	const struct sym *ta = symtab_find(k->syms, "__x86_indirect_thunk_array");
	const struct sym *te = symtab_find(k->syms, "__x86_indirect_thunk_r15");
	if (ta && te && te->addr > ta->addr) {
		k->thunk_lo = ta->addr;
		k->thunk_hi = te->addr + THUNK_SIZE;
	}
	const struct sym *b = symtab_find(k->syms, "linux_banner");
	if (b && kaslr_elf_read_handle(e, vmlinux, b->addr, k->banner,
				       BANNER_BYTES, NULL, 0) == 0) {
		k->banner_addr = b->addr;
		k->banner_len = BANNER_BYTES;
		k->have_banner = 1;
	}
	return k;
fail:
	linux_kernel_free(k);
	return NULL;
}

int linux_symtab_is_linux(const struct symtab *t)
{
	return symtab_find(t, "linux_banner") || symtab_find(t, "start_kernel");
}

struct linux_kernel *linux_kernel_open_syms(const char *path, char *err,
					    size_t errlen)
{
	size_t len = 0;
	char *text = symtab_read_text(path, &len, err, errlen);
	if (!text)
		return NULL;
	Elf *e = NULL;
	if (len >= SELFMAG && !memcmp(text, ELFMAG, SELFMAG)) {
		elf_version(EV_CURRENT);
		e = elf_memory(text, len);
	}
	struct linux_kernel *k = linux_kernel_open_syms_src(path, e, text, len,
							   err, errlen);
	if (e)
		elf_end(e);
	free(text);
	return k;
}

struct linux_kernel *linux_kernel_open_syms_src(const char *path, Elf *e,
						const char *text, size_t len,
						char *err, size_t errlen)
{
	struct linux_kernel *k = calloc(1, sizeof *k);
	if (!k) {
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	k->syms = e ? symtab_from_elf_handle(e, path, 0, SYMTAB_ALL, NULL, 0)
		    : NULL;
	if (!k->syms || !symtab_count(k->syms)) {
		symtab_free(k->syms);
		k->syms = symtab_from_nm_buf(path, text, len, 0, SYMTAB_ALL,
					     err, errlen);
		if (!k->syms)
			goto fail;
	}
	if (!linux_symtab_is_linux(k->syms)) {
		seterr(err, errlen, "%s: not the symbols of a Linux kernel "
		       "(no linux_banner, no start_kernel)", path);
		goto fail;
	}
	/* no vmlinux bytes to compare: the banner's fixed start is enough
	 * to tell a right slide from a wrong one */
	const struct sym *b = symtab_find(k->syms, "linux_banner");
	if (b) {
		static const char head[] = "Linux version ";
		memcpy(k->banner, head, sizeof head - 1);
		k->banner_len = sizeof head - 1;
		k->banner_addr = b->addr;
		k->have_banner = 1;
	}
	return k;
fail:
	linux_kernel_free(k);
	return NULL;
}

void linux_kernel_free(struct linux_kernel *k)
{
	if (!k)
		return;
	orc_free(k->orc);
	btf_free(k->btf);
	symtab_free(k->syms);
	free(k);
}

const struct orc_table *linux_kernel_orc(const struct linux_kernel *k)
{
	return k->orc;
}

int linux_kernel_wordsize(const struct linux_kernel *k)
{
	return k->ws ? k->ws : 8;
}

const struct linux_task_layout *linux_kernel_layout(const struct linux_kernel *k)
{
	return k->have_layout ? &k->layout : NULL;
}

const struct symtab *linux_kernel_syms(const struct linux_kernel *k)
{
	return k->syms;
}

int linux_kernel_slide_from_idt(const struct linux_kernel *k,
				const uint8_t *idt, size_t idt_len,
				kaslr_read_fn read, void *ctx,
				struct kaslr_result *res, char *err,
				size_t errlen)
{
	if (!k->syms) {
		seterr(err, errlen, "kaslr: needs the kernel's System.map");
		return -1;
	}
	struct kaslr_vec vecs[32];
	int nv = kaslr_linux_vectors(k->syms, vecs, 32);
	struct kaslr_input in = {
		.idt = idt, .idt_len = idt_len, .vecs = vecs, .nvecs = nv,
		.confirm_addr = k->banner_addr,
		.confirm_bytes = k->have_banner ? k->banner : NULL,
		.confirm_len = k->have_banner ? k->banner_len : 0,
		.read = read, .ctx = ctx,
		.gate_size = linux_kernel_wordsize(k) == 4 ? 8 : 16,
	};
	return kaslr_detect(&in, res, err, errlen);
}

int linux_kernel_stack_recipe(const struct linux_kernel *k, int64_t slide,
			      int cpu, struct comm_recipe *r, char *err,
			      size_t errlen)
{
	struct comm_recipe c;
	if (linux_kernel_comm_recipe(k, slide, cpu, &c, err, errlen) < 0)
		return -1;
	if (k->layout.stack_off == (uint64_t)-1) {
		seterr(err, errlen, "btf: task_struct has no stack member");
		return -1;
	}
	c.off[1] = (int64_t)k->layout.stack_off;
	c.off[2] = 0;
	c.nderef = 3;
	c.len = 0;
	*r = c;
	return 0;
}

int linux_kernel_comm_recipe(const struct linux_kernel *k, int64_t slide,
			     int cpu, struct comm_recipe *r, char *err,
			     size_t errlen)
{
	const struct sym *pco = k->syms ? symtab_find(k->syms,
						      "__per_cpu_offset") : NULL;
	if (!pco) {
		seterr(err, errlen, "no __per_cpu_offset in the symbol file");
		return -1;
	}
	if (!k->have_layout) {
		seterr(err, errlen, "%s", k->layout_err);
		return -1;
	}
	if (cpu < 0 || cpu >= 8192) {
		seterr(err, errlen, "cpu %d out of range", cpu);
		return -1;
	}
	struct comm_recipe c = { 0 };
	int ws = linux_kernel_wordsize(k);
	c.addr = pco->addr + (uint64_t)slide + (uint64_t)ws * (uint64_t)cpu;
	/* i386: current_task is an absolute (slid) address */
	c.off[0] = (int64_t)k->layout.current_task_off +
		   (ws == 4 ? slide : 0);
	c.off[1] = (int64_t)k->layout.comm_off;
	c.nderef = 2;
	c.wordsize = (uint8_t)ws;
	c.len = k->layout.comm_size && k->layout.comm_size <= QP_COMM_BYTES
		? (uint8_t)k->layout.comm_size : 16;
	c.valid = 1;
	*r = c;
	return 0;
}

int linux_kernel_pid_recipe(const struct linux_kernel *k, int64_t slide,
			    int cpu, struct comm_recipe *r, char *err,
			    size_t errlen)
{
	struct comm_recipe c;
	if (linux_kernel_comm_recipe(k, slide, cpu, &c, err, errlen) < 0)
		return -1;
	if (k->layout.pid_off == (uint64_t)-1) {
		seterr(err, errlen, "task_struct.pid not known (it comes from "
		       "BTF; this kernel has none)");
		return -1;
	}
	c.off[1] = (int64_t)k->layout.pid_off;
	c.len = 4;              /* pid_t */
	c.sext = 1;
	*r = c;
	return 0;
}

int linux_kernel_mm_recipe(const struct linux_kernel *k, int64_t slide,
			   int cpu, struct comm_recipe *r, uint64_t *page_offset)
{
	struct comm_recipe c;
	if (!k->active_mm_off || linux_kernel_comm_recipe(k, slide, cpu, &c,
							  NULL, 0) < 0)
		return -1;
	c.off[1] = (int64_t)k->active_mm_off;
	c.off[2] = (int64_t)k->pgd_off;
	c.off[3] = 0;
	c.nderef = 4;
	c.len = 0;
	*r = c;
	*page_offset = 0xc0000000ull;   /* CONFIG_PAGE_OFFSET, 3G/1G split */
	return 0;
}

struct multi {
	const struct orc_mem *mem;
	int n;
};

static int multi_read(void *ctx, uint64_t addr, uint64_t *val)
{
	const struct multi *mm = ctx;
	for (int i = 0; i < mm->n; i++)
		if (orc_mem_read((void *)&mm->mem[i], addr, val) == 0)
			return 0;
	return -1;
}

void linux_kernel_unwind(const struct linux_kernel *k, int64_t slide,
			 uint64_t ip, uint64_t sp, const uint64_t *gpr,
			 const struct orc_mem *mem, int nmem,
			 struct orc_frame *out, int max,
			 struct orc_result *res)
{
	struct orc_state st = { .ip = ip, .sp = sp };
	if (gpr) {
		memcpy(st.gpr, gpr, sizeof st.gpr);
		st.gpr_valid = 1;
		st.bp = gpr[6];   /* QP_RBP */
	}
	struct multi mm = { mem, nmem };
	if (!k->orc) {
		memset(res, 0, sizeof *res);
		res->end = ORC_END_BAD;
		return;
	}
	orc_unwind(k->orc, slide, &st, multi_read, &mm, out, max, res);
}

/* A return address out of a thunk: kernel text the ORC table covers. */
static int thunk_caller_ok(const struct linux_kernel *k, uint64_t ura)
{
	uint64_t lo, hi;
	orc_range(k->orc, &lo, &hi);
	return ura > lo && ura <= hi;
}

static int walk_copy(const struct linux_kernel *k, int64_t slide,
		     const struct qp_sample *smp, struct orc_mem mem, int64_t sp_adj,
		     struct uw_frame *out, int max, struct uw_result *res,
		     struct uw_state *user)
{
	memset(res, 0, sizeof *res);
	if (max <= 0 || max > 1024) {
		res->end = UW_END_DEPTH;
		return 0;
	}
	struct orc_frame fr[1024];
	struct orc_result r;
	/* and the task stack behind an IRQ stack (stack2) */
	struct orc_mem mems[2] = { mem, { smp->stack2_addr, qp_sample_stack2(smp),
					  smp->stack2_len } };
	uint64_t gpr[QP_NGPR];
	memcpy(gpr, smp->regs.gpr, sizeof gpr);
	gpr[QP_RSP] += (uint64_t)sp_adj;
	linux_kernel_unwind(k, slide, smp->regs.ip, gpr[QP_RSP], gpr, mems,
			    smp->stack2_len ? 2 : 1, fr, max, &r);
	/* Inside a retpoline thunk objtool gives "empty" entries, which read
	 * as the end of a kernel thread's stack, and a "func" one at the
	 * final ret, which takes the target the ret jumps to for a return
	 * address.  The caller's return address is at sp before the thunk's
	 * own call (offset 0, and the lfence variant's "jmp *reg" at 3);
	 * after it (the retpoline's "mov reg,(sp)" at 0xc and "ret" at 0x10)
	 * sp holds the thunk's own return address or the target, and the
	 * caller's is at sp + 8. */
	uint64_t uip = smp->regs.ip - (uint64_t)slide;
	struct multi mm = { mems, smp->stack2_len ? 2 : 1 };
	uint64_t ra;
	int past_call = (uip - k->thunk_lo) % THUNK_SIZE >= THUNK_CALL_LEN;
	uint64_t ra_at = gpr[QP_RSP] + (past_call ? 8 : 0);
	if ((r.n == 1 || past_call) && r.n >= 1 && r.end != ORC_END_USER &&
	    uip >= k->thunk_lo && uip < k->thunk_hi && max > 1 &&
	    multi_read(&mm, ra_at, &ra) == 0 && thunk_caller_ok(k, ra - (uint64_t)slide)) {
		gpr[QP_RSP] = ra_at + 8;
		linux_kernel_unwind(k, slide, ra, gpr[QP_RSP], gpr, mems,
				    smp->stack2_len ? 2 : 1, fr + 1, max - 1, &r);
		fr[1].signal = 0;       /* a return address */
		r.n++;
	}
	for (int i = 0; i < r.n; i++)
		out[i] = (struct uw_frame){ .pc = fr[i].ip, .sp = fr[i].sp,
					    .fp = 0, .isact = fr[i].signal };
	res->n = r.n;
	res->end = r.end == ORC_END_USER || r.end == ORC_END_KTHREAD
		   ? UW_END_OK : r.end == ORC_END_DEPTH ? UW_END_DEPTH
		   : UW_END_FAIL;
	if (r.end != ORC_END_USER)
		return 0;
	*user = (struct uw_state){ r.user_ip, r.user_sp, r.user_bp };
	return 1;
}

int linux_kernel_walk_sample_from(const struct linux_kernel *k, int64_t slide,
				  const struct qp_sample *smp, uint64_t ip, uint64_t sp,
				  struct uw_frame *out, int max, struct uw_result *res,
				  struct uw_state *user)
{
	struct orc_mem mems[2] = {
		{ smp->stack_addr, qp_sample_stack_c(smp),
		  smp->flags & QP_SF_STACK_FAILED ? 0 : smp->stack_len },
		{ smp->stack2_addr, qp_sample_stack2(smp), smp->stack2_len } };
	struct orc_frame fr[256];
	struct orc_result r;
	uint64_t gpr[QP_NGPR];

	memset(res, 0, sizeof *res);
	if (max <= 0) {
		res->end = UW_END_DEPTH;
		return 0;
	}
	if (max > 256)
		max = 256;
	memcpy(gpr, smp->regs.gpr, sizeof gpr);
	gpr[QP_RSP] = sp;
	linux_kernel_unwind(k, slide, ip, sp, gpr, mems, smp->stack2_len ? 2 : 1, fr, max, &r);
	fr[0].signal = 0;      /* ip is a return address */
	for (int i = 0; i < r.n; i++)
		out[i] = (struct uw_frame){ .pc = fr[i].ip, .sp = fr[i].sp,
					    .fp = 0, .isact = fr[i].signal };
	res->n = r.n;
	res->end = r.end == ORC_END_USER || r.end == ORC_END_KTHREAD
		   ? UW_END_OK : r.end == ORC_END_DEPTH ? UW_END_DEPTH
		   : UW_END_FAIL;
	if (r.end != ORC_END_USER)
		return 0;
	*user = (struct uw_state){ r.user_ip, r.user_sp, r.user_bp };
	return 1;
}

int linux_kernel_walk_sample(const struct linux_kernel *k, int64_t slide,
			     const struct qp_sample *smp, struct uw_frame *out,
			     int max, struct uw_result *res,
			     struct uw_state *user)
{
	struct orc_mem mem = { smp->stack_addr, qp_sample_stack_c(smp),
			       smp->flags & QP_SF_STACK_FAILED ? 0
							       : smp->stack_len };
	return walk_copy(k, slide, smp, mem, 0, out, max, res, user);
}

int linux_kernel_walk_sample0(const struct linux_kernel *k, int64_t slide,
			      const struct qp_sample *smp, struct uw_frame *out,
			      int max, struct uw_result *res,
			      struct uw_state *user)
{
	struct orc_mem mem = { smp->stack0_addr, qp_sample_stack0(smp),
			       smp->stack0_len };
	return walk_copy(k, slide, smp, mem, 0, out, max, res, user);
}

int linux_kernel_walk_sample_adj(const struct linux_kernel *k, int64_t slide,
				 const struct qp_sample *smp, int copy0,
				 int64_t sp_adj, struct uw_frame *out, int max,
				 struct uw_result *res, struct uw_state *user)
{
	struct orc_mem mem = copy0
		? (struct orc_mem){ smp->stack0_addr, qp_sample_stack0(smp), smp->stack0_len }
		: (struct orc_mem){ smp->stack_addr, qp_sample_stack_c(smp),
				    smp->flags & QP_SF_STACK_FAILED ? 0 : smp->stack_len };
	return walk_copy(k, slide, smp, mem, sp_adj, out, max, res, user);
}
