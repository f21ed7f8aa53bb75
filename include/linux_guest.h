/* linux_guest.h - what qtop-prof knows about one Linux x86_64 kernel build:
 * KASLR slide detection from IDT bytes and the per-vCPU --comm recipe of the
 * current task (the QMP reads that feed them: linux_live.h).
 *
 * Inputs: the vmlinux ELF (the one inside /boot/vmlinuz is enough: it keeps
 * .orc_unwind*, .BTF and .rodata; tests/linux/fetch_kernel.py extracts it)
 * and the kernel's System.map (Debian: the -dbg package) or a
 * /proc/kallsyms copy taken with nokaslr.  Addresses in them are unslid.
 * No printing; errors are negative codes plus a message.
 */
#ifndef QTOP_LINUX_GUEST_H
#define QTOP_LINUX_GUEST_H

#include <stddef.h>
#include <stdint.h>
#include "btf.h"
#include "kaslr.h"
#include "orc.h"
#include "capture.h"
#include "sample.h"
#include "unwind.h"

struct symtab;

struct linux_kernel;

/* vmlinux: ELF with ORC (required for x86_64; an i386 one has none, and
 * no BTF: its task layout then comes from init_task's bytes) and BTF (needed only for the comm
 * recipe); sysmap: System.map/kallsyms text
 * (may be NULL: then the vmlinux's own .symtab when it has one, else only
 * the ORC walk and the BTF layout work; slide detection and the comm recipe
 * need the IDT handlers and __per_cpu_offset, which are not in BTF). */
struct linux_kernel *linux_kernel_open(const char *vmlinux, const char *sysmap,
				       char *err, size_t errlen);
/* The same over a vmlinux already open (e; vmlinux names it in messages)
 * and the System.map text already read (sysmap names it; NULL: none). */
struct Elf;
struct linux_kernel *linux_kernel_open_elf(struct Elf *e, const char *vmlinux,
					   const char *sysmap,
					   const char *sysmap_text,
					   size_t sysmap_len, char *err,
					   size_t errlen);
void linux_kernel_free(struct linux_kernel *k);

/* 1 when t holds a Linux kernel's symbols (linux_banner or start_kernel). */
int linux_symtab_is_linux(const struct symtab *t);

/* Only the symbols of a Linux kernel, from an ELF's .symtab or a
 * System.map/kallsyms text: enough for slide detection, confirmed then by
 * the "Linux version " at linux_banner (no vmlinux bytes to compare).  No
 * ORC, no BTF: not for the symbolizer or the comm recipe.  NULL with a
 * message when path names no Linux kernel. */
struct linux_kernel *linux_kernel_open_syms(const char *path, char *err,
					    size_t errlen);

/* The same over a file already read: its bytes (text, len) and, when they
 * are an ELF, its Elf (e; else NULL).  path names it in messages. */
struct linux_kernel *linux_kernel_open_syms_src(const char *path,
						struct Elf *e,
						const char *text, size_t len,
						char *err, size_t errlen);

/* NULL for an i386 kernel (no ORC: frame pointers, walked by the
 * symbolizer's CFI / frame-pointer walk). */
const struct orc_table *linux_kernel_orc(const struct linux_kernel *k);
/* 8, or 4 for a 32-bit (i386) vmlinux: word size of __per_cpu_offset,
 * pointers and stacks; its kernel stacks are 8 KiB (THREAD_SIZE). */
int linux_kernel_wordsize(const struct linux_kernel *k);
/* NULL when the vmlinux has no usable BTF. */
const struct linux_task_layout *linux_kernel_layout(const struct linux_kernel *k);
/* Unslid symbols (text and data: SYMTAB_ALL). */
const struct symtab *linux_kernel_syms(const struct linux_kernel *k);

/* The slide from the IDT bytes of one vCPU (read at its IDT= base), then
 * confirmed with linux_banner through read (kernel memory of the running
 * guest; NULL: not confirmed).  0 with *res, or negative (see
 * kaslr_detect; -1 also without the kernel's symbols).  The live reads are
 * linux_live.h's. */
int linux_kernel_slide_from_idt(const struct linux_kernel *k,
				const uint8_t *idt, size_t idt_len,
				kaslr_read_fn read, void *ctx,
				struct kaslr_result *res, char *err,
				size_t errlen);

/* Per-vCPU --comm recipe, valid in user and kernel mode alike:
 * __per_cpu_offset[cpu] -> per-CPU base; + current_task -> task;
 * + comm -> 16 bytes.  0 or -1. */
/* Where vCPU cpu's current task's kernel stack starts (its THREAD_SIZE
 * region): per-CPU current_task, then task_struct.stack (BTF).  Lets the
 * sampler copy that stack before it reads the registers. */
int linux_kernel_stack_recipe(const struct linux_kernel *k, int64_t slide,
			      int cpu, struct comm_recipe *r, char *err,
			      size_t errlen);
int linux_kernel_comm_recipe(const struct linux_kernel *k, int64_t slide,
			     int cpu, struct comm_recipe *r, char *err,
			     size_t errlen);
/* --pid linux (#15): the same task's task_struct.pid (a 4-byte pid_t,
 * from BTF).  0 or -1. */
int linux_kernel_pid_recipe(const struct linux_kernel *k, int64_t slide,
			    int cpu, struct comm_recipe *r, char *err,
			    size_t errlen);
/* i386: vCPU cpu's current task's active_mm->pgd (offsets from init_task
 * and init_mm's bytes), and the kernel's PAGE_OFFSET (*page_offset;
 * lowmem: physical = virtual - PAGE_OFFSET).  -1 when not known (x86_64). */
int linux_kernel_mm_recipe(const struct linux_kernel *k, int64_t slide,
			   int cpu, struct comm_recipe *r, uint64_t *page_offset);

/* ORC walk of one kernel-mode register set over stack copies (mem, nmem).
 * gpr in enum qp_gpr order (may be NULL). */
void linux_kernel_unwind(const struct linux_kernel *k, int64_t slide,
			 uint64_t ip, uint64_t sp, const uint64_t *gpr,
			 const struct orc_mem *mem, int nmem,
			 struct orc_frame *out, int max,
			 struct orc_result *res);

/* The kernel part of a kernel-mode sample (its one stack copy), in the
 * symbolizer's walk() terms: frames into out (pc, sp; isact = exact pc),
 * res->end UW_END_OK when the walk reached a pt_regs from user mode or the
 * top of a kernel thread, UW_END_DEPTH / UW_END_FAIL otherwise.  Returns 1
 * with *user = the user ip/sp/bp saved in that pt_regs (continue the user
 * walk from there), else 0. */
int linux_kernel_walk_sample(const struct linux_kernel *k, int64_t slide,
			     const struct qp_sample *smp, struct uw_frame *out,
			     int max, struct uw_result *res,
			     struct uw_state *user);
/* The same over the earlier copy (copy0, QP_SF_RUNNING: stack0) or the
 * main one, with the stack pointer taken sp_adj bytes off: a running TCG
 * vCPU's registers are read mid-block, with rsp up to a few pushes or pops
 * past the block-start rip. */
int linux_kernel_walk_sample_adj(const struct linux_kernel *k, int64_t slide,
				 const struct qp_sample *smp, int copy0,
				 int64_t sp_adj, struct uw_frame *out, int max,
				 struct uw_result *res, struct uw_state *user);
/* The same from the caller frame whose return address ip sits just below
 * sp (the slot at sp - 8): ip, not the sample's rip, is the first frame. */
int linux_kernel_walk_sample_from(const struct linux_kernel *k, int64_t slide,
				  const struct qp_sample *smp, uint64_t ip, uint64_t sp,
				  struct uw_frame *out, int max, struct uw_result *res,
				  struct uw_state *user);
/* The same over the sample's earlier copy (stack0, QP_SF_RUNNING). */
int linux_kernel_walk_sample0(const struct linux_kernel *k, int64_t slide,
			      const struct qp_sample *smp, struct uw_frame *out,
			      int max, struct uw_result *res,
			      struct uw_state *user);

#endif
