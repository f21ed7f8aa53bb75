/* unwind.h - internal stack walkers used by the symbolizer (not a public
 * module API): the own frame-pointer walker (x86_64 and i386), the libdwfl
 * CFI walker (one persistent Dwfl per binary, attach state) that falls back
 * to the frame-pointer step per frame, and --comm recipe resolution.
 *
 * Promises:
 * - Memory is read only from the given stack copies, bounds-checked; a read
 *   outside them fails the step, it never touches anything else.
 * - Every delivered frame passed validation: pc inside known text (the
 *   is_text callback), sp never decreasing, a frame-pointer step only from
 *   an aligned fp at or above sp (so fps grow strictly), depth capped.  A
 *   walk that could not finish says so in uw_result.end; frames delivered
 *   before the failure are valid.
 * - Not thread-safe (libdw): one thread owns a uw_dwfl.
 */
#ifndef QTOP_UNWIND_H
#define QTOP_UNWIND_H

#include <stddef.h>
#include <stdint.h>
#include "capture.h"

/* A copy of guest memory. */
struct uw_mem {
	uint64_t addr;
	const uint8_t *buf;
	size_t len;
};

/* Read one little-endian word of wordsize (4 or 8) at addr from any of the
 * copies (nmem of them).  Returns 0 or -1 if not fully inside one copy. */
int uw_read_word(const struct uw_mem *mem, int nmem, int wordsize,
		 uint64_t addr, uint64_t *out);

/* Returns 1 when pc lies in executable code of the unwound binary. */
typedef int (*uw_text_fn)(void *ctx, uint64_t pc);
/* Returns 1 when pc is the first instruction of a function (frame 0 then
 * has its return address at [sp]). May be NULL. */
typedef int (*uw_entry_fn)(void *ctx, uint64_t pc);

struct uw_state {           /* registers known at one frame */
	uint64_t pc, sp, fp;
};

enum uw_end {
	UW_END_OK,          /* chain ended cleanly (fp 0, or outermost CFI frame) */
	UW_END_DEPTH,       /* depth cap reached */
	UW_END_FAIL,        /* a step failed validation or read outside the copy */
};

struct uw_frame {
	uint64_t pc;        /* return address (or the sample pc for frame 0) */
	uint64_t sp, fp;    /* registers at this frame */
	uint8_t isact;      /* 1: pc is exact (frame 0), 0: return address */
};

struct uw_result {
	int n;              /* frames delivered, leaf first */
	enum uw_end end;
	uint64_t cfi_steps, fp_steps;
	/* Set when a step produced a pc outside known text (e.g. an entry stub's
	 * CFI stepping into user mode): the state of that frame, not
	 * delivered. */
	int beyond_valid;
	struct uw_state beyond;
	/* Set by the caller, not the walkers: the leaf is only the innermost
	 * function the stack proves active; where below it the vCPU was is
	 * not known (a running read whose rip is stale). */
	int leaf_below;
};

struct uw_walk {
	int wordsize;               /* 4 or 8 */
	const struct uw_mem *mem;
	int nmem;
	uw_text_fn is_text;
	uw_entry_fn is_entry;
	void *ctx;
	/* Stop (cleanly) when a frame's sp reaches this address: the kernel
	 * trap frame.  0 = none. */
	uint64_t stop_sp;
};

/* One frame-pointer step from st (frame index idx; frame 0 may be at a
 * function entry).  Returns 1 with *next set, 0 when the chain ends cleanly
 * (next fp or return address 0), -1 on a validation failure, -2 when the
 * words it needs are outside the copies. */
int uw_fp_step(const struct uw_walk *w, int idx, const struct uw_state *st,
	       struct uw_state *next);

/* Record the frame a successful uw_fp_step produced (counted in
 * res->fp_steps): 1 to go on, 0 when the walk ends here (past stop_sp:
 * res->beyond; depth cap), with res->end set. */
int uw_fp_accept(const struct uw_walk *w, const struct uw_state *nx,
		 struct uw_frame *out, int max, struct uw_result *res);

/* Frame-pointer walk from st, up to max frames into out (leaf first). */
void uw_fp_walk(const struct uw_walk *w, const struct uw_state *st,
		struct uw_frame *out, int max, struct uw_result *res);

/* CFI walker over one binary.  path: ELF file, reported at bias (load
 * slide; a slid ET_EXEC is reported as a module range).  The Dwfl stays
 * alive for lines and inline scopes (uw_dwfl_handle). */
struct uw_dwfl;
struct uw_dwfl *uw_dwfl_new(const char *path, const char *modname,
			    int64_t bias, char *err, size_t errlen);
/* The same over a file already open (the guest's kernel image): libdwfl
 * gets dups of f->fd, so the path is not opened again; f may be closed
 * after this returns. */
struct elffile;
struct uw_dwfl *uw_dwfl_new_file(const struct elffile *f, const char *modname,
				 int64_t bias, char *err, size_t errlen);
void uw_dwfl_free(struct uw_dwfl *d);
/* libdwfl handle and the module, for getsrc/addrdie (opaque here). */
void *uw_dwfl_handle(struct uw_dwfl *d);
void *uw_dwfl_module(struct uw_dwfl *d);

/* Walk with CFI where present and frame pointers where not, per frame:
 * a frame whose CFI row is the frame-pointer rule (CFA = fp + 2 words, ra
 * and fp saved below it), or that has no CFI, takes one uw_fp_step;
 * any other frame is stepped by libdwfl (attach state, memory from the
 * copies only) until it reaches such a frame again.  regs: full register
 * set for frame 0 in the sample's HMP order (enum qp_gpr), or NULL when
 * only st is known (after a trap crossing). */
void uw_dwfl_walk(struct uw_dwfl *d, const struct uw_walk *w,
		  const struct uw_state *st, const uint64_t *regs,
		  struct uw_frame *out, int max, struct uw_result *res);

/* --comm EXPR -> recipe.  kernel: ELF with DWARF (may be NULL), symbols:
 * nm text (may be NULL); bias = kernel slide; wordsize from the kernel.
 * Returns 0 or -1 with a message in err. */
int comm_resolve(const char *expr, const char *kernel, const char *symbols,
		 int64_t bias, int wordsize, struct comm_recipe *r,
		 char *err, size_t errlen);
/* The same over files already open: the kernel's Elf (symbols, DWARF) and
 * the --symbols text; a NULL handle beside a path: that path is opened. */
struct Elf;
struct comm_files {
	const char *kernel;          /* path (messages), or NULL: none */
	struct Elf *kernel_elf;      /* its ELF, or NULL */
	const char *symbols;         /* path (messages), or NULL: none */
	const char *symbols_text;    /* its text, or NULL */
	size_t symbols_len;
};
int comm_resolve_files(const char *expr, const struct comm_files *f,
		       int64_t bias, int wordsize, struct comm_recipe *r,
		       char *err, size_t errlen);
/* --pid EXPR (#15): the same language, an integer result (comm_recipe's
 * value/sext/len say how the sampler gets it); a pointer is refused. */
int pid_resolve_files(const char *expr, const struct comm_files *f,
		      int64_t bias, int wordsize, struct comm_recipe *r,
		      char *err, size_t errlen);
/* The compiler alone, over an open Dwarf * (or NULL) and symbols (or NULL):
 * for the fuzzer. 0 or -1 with "column N: ..." in err. */
struct symtab;
int comm_compile(const char *expr, void *dwarf, struct symtab *syms,
		 int wordsize, struct comm_recipe *r, char *err, size_t errlen);

#endif
