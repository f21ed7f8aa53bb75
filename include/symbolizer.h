/* symbolizer.h - turn a raw sample into a named stack, root -> leaf.
 *
 * Owns everything the consumer knows about the guest's binaries: the kernel
 * ELF / symbol file, the sysroot programs, one persistent Dwfl per address
 * space for CFI unwinding, caches of symbols, file:line and inline chains per
 * pc, and the address-space -> process name map.  Single-threaded (libdw is
 * not thread-safe): only the consumer thread calls it.
 *
 * Never talks to QEMU.  What it needs from guest memory arrives inside the
 * samples (stack copies, code bytes at the user pc, --comm bytes).
 */
#ifndef QTOP_SYMBOLIZER_H
#define QTOP_SYMBOLIZER_H

#include <stddef.h>
#include <stdint.h>
#include "profile.h"
#include "sample.h"
#include "sampler.h"

struct symbolizer_config {
	const char *kernel;        /* --kernel ELF, or NULL */
	const char *symbols;       /* --symbols nm/System.map/kallsyms text, or NULL */
	int64_t kernel_offset;     /* --kernel-offset (slide), 0 default */
	const char *sysroot;       /* --sysroot DIR with the guest's program ELFs */
	const char *comm_expr;     /* --comm EXPR: "current_task->name", "*sym+off" */
	int inline_frames;         /* emit inline frames (PF_INLINE) */
	int max_depth;             /* frames cap (default 128) */
};

struct symbolizer;

struct symbolizer *symbolizer_new(const struct symbolizer_config *cfg,
				  char *err, size_t errlen);
void symbolizer_free(struct symbolizer *s);

/* What the sampler must read per address space for --comm (resolved from
 * the kernel's DWARF, or the *SYMBOL+OFFSET form).  Returns 0 and fills r,
 * 1 if no --comm was given, or -1 with a message in err. */
int symbolizer_comm_recipe(struct symbolizer *s, struct comm_recipe *r,
			   char *err, size_t errlen);

/* 1 when user-mode samples need code bytes for address-space matching
 * (a sysroot was given). */
int symbolizer_wants_code(const struct symbolizer *s);

/* Unwind and name one sample.  frames[0] is the process frame (PK_PROC,
 * name from --comm, the matched program, or "as-<cr3>"), then user frames,
 * then kernel frames; frames[*n-1] is the leaf.  Strings stay valid until the
 * next call.  A chain that could not be completed starts (below the process)
 * with a PK_MARK "[truncated]" frame.  Returns 0, or -1 if the sample is
 * unusable (no registers). */
int symbolizer_process(struct symbolizer *s, const struct qp_sample *smp,
		       struct prof_frame *frames, size_t max, size_t *n);

struct symbolizer_stats {
	uint64_t samples, frames, truncated;
	uint64_t cfi_steps, fp_steps, trap_crossings;
};
void symbolizer_get_stats(const struct symbolizer *s,
			  struct symbolizer_stats *st);

#endif
