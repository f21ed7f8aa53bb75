/* symbolizer.h - turn a raw sample into a named stack, root -> leaf.
 *
 * Owns everything the consumer knows about the guest's binaries: the kernel
 * ELF / symbol file, the sysroot programs (their files opened and mapped
 * once by the guest model, guest.h), one persistent Dwfl per binary
 * (the kernel once; a program on its first match, shared by every address
 * space running it) for CFI unwinding, caches of symbols, file:line and
 * inline chains per pc, and the address-space -> process name map.
 * Single-threaded (libdw is not thread-safe): only the consumer thread
 * calls it.
 *
 * Address spaces are keyed by CR3 (low 12 bits ignored).  A CR3 is matched
 * to a sysroot program (static ET_EXEC) by the code bytes at the user pc;
 * the match is cached and re-checked when new code bytes disagree; bytes
 * that several programs share do not decide.  The kernel part of a sample
 * that entered from ring 3 (QP_SF_HAS_TRAP) continues in user mode from the
 * trap frame's ip/sp with the frame pointer the kernel walk recovered.
 *
 * Never talks to QEMU.  What it needs from guest memory arrives inside the
 * samples (stack copies, code bytes at the user pc, --comm bytes).
 */
#ifndef QTOP_SYMBOLIZER_H
#define QTOP_SYMBOLIZER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "profile.h"
#include "capture.h"
#include "sample.h"

struct linux_kernel;

struct symbolizer_config {
	const char *kernel;        /* --kernel ELF, or NULL */
	const char *symbols;       /* --symbols nm/System.map/kallsyms text, or NULL */
	int64_t kernel_offset;     /* --kernel-offset (slide), 0 default */
	const char *sysroot;       /* --sysroot DIR with the guest's program ELFs */
	const char *comm_expr;     /* --comm EXPR: "current_task->name", "*sym+off" */
	int inline_frames;         /* emit inline frames (PF_INLINE) */
	int max_depth;             /* frames cap (default 128) */
	/* The Linux vmlinux already opened by the front end (KASLR, --comm
	 * linux), or NULL: symbolizer_new takes it over (frees it, also on
	 * failure) instead of loading the same ORC tables a second time. */
	struct linux_kernel *linux_kernel;
	/* The guest whose --kernel and --symbols files are read and whose
	 * --sysroot is scanned already (guest.h), or NULL: then the paths
	 * above are opened here (the sysroot through a guest of our own,
	 * guest_open_sysroot).  Borrowed: it outlives the symbolizer; its
	 * Linux kernel, if set up, is used. */
	struct guest *guest;
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

/* The same for an explicit expression (per-vCPU --comm). 0 or -1. */
int symbolizer_resolve_comm(struct symbolizer *s, const char *expr,
			    struct comm_recipe *r, char *err, size_t errlen);
/* --pid EXPR (#15): the same language, an integer result (a pointer is
 * refused, naming its type).  0 or -1. */
int symbolizer_resolve_pid(struct symbolizer *s, const char *expr,
			   struct comm_recipe *r, char *err, size_t errlen);

/* Newline-separated problems that did not stop loading (e.g. unreadable
 * sysroot files), "" if none. */
const char *symbolizer_warnings(const struct symbolizer *s);

/* 1 when user-mode samples need code bytes for address-space matching
 * (a sysroot was given). */
int symbolizer_wants_code(const struct symbolizer *s);

/* 1 when kernel symbols were loaded (--kernel with symbols, --symbols). */
int symbolizer_has_kernel_symbols(const struct symbolizer *s);

/* Unwind and name one sample.  frames[0] is the process frame (PK_PROC,
 * name from --comm, the matched program, or "as-<cr3>"), then user frames,
 * then kernel frames; frames[*n-1] is the leaf.  Strings stay valid until the
 * next call.  A chain that could not be completed starts (below the process)
 * with a PK_MARK "[truncated]" frame (also when it is deeper than max or
 * max_depth: the leaf end is kept).  A sample of a halted vCPU
 * (QP_SF_IDLE) ends with a PK_MARK "[idle]" leaf.  Frames of unmatched
 * programs are named by address ("0x401234", module "?").  Returns 0, or -1
 * if the sample is unusable (no registers). */
int symbolizer_process(struct symbolizer *s, const struct qp_sample *smp,
		       struct prof_frame *frames, size_t max, size_t *n);

struct symbolizer_stats {
	uint64_t samples, frames, truncated;  /* frames: emitted, without the process */
	uint64_t cfi_steps;       /* steps made by libdwfl (CFI, or its x86_64 FP fallback) */
	uint64_t fp_steps;        /* steps made by our own frame-pointer walker */
	uint64_t trap_crossings;  /* kernel samples continued into user mode */
	uint64_t vouched;         /* return addresses checked (QP_SF_RUNNING) */
	uint64_t vouch_cuts;      /* chains cut at one that failed the check */
	uint64_t vouch_rescued;   /* ... whole (or longer) in the copy made before */
	uint64_t sp_adjusted;     /* Linux walks whole only with rsp a few words off */
	uint64_t leaf_from_stack; /* ... with rip older than the stack: the leaf is
				   * the innermost function the stack proves */
	uint64_t kernel_samples;  /* kernel-mode samples (with an upper-half
				   * kernel: those in that half) */
	uint64_t kernel_unnamed;  /* ... whose pc is in no kernel symbol */
	uint64_t frameless_leaves; /* #15: user chains continued from the return
				      address at sp of a frameless leaf */
};
/* Each module frames can name ("kernel", each program of the sysroot) with
 * the host ELF file it is symbolized from (not the stripped-symbol-file
 * case: path NULL is skipped). */
void symbolizer_each_module(const struct symbolizer *s,
			    void (*fn)(void *ctx, const char *name, const char *path),
			    void *ctx);
void symbolizer_get_stats(const struct symbolizer *s,
			  struct symbolizer_stats *st);

/* #15: program matching by whole pages (progmatch.h), owned by s, or NULL
 * without a sysroot: hand it to the sampler (sampler_config.progmatch),
 * which probes new address spaces with it. */
struct progmatch;
struct progmatch *symbolizer_progmatch(struct symbolizer *s);
/* One stderr-style line per address space probed: which program matched
 * and how sure, or that none did.  Returns the lines written. */
int symbolizer_match_report(struct symbolizer *s, FILE *f);

#endif
