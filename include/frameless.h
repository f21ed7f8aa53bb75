/* frameless.h - the first user frame of a chain that crossed a trap from a
 * leaf with no frame (#15).
 *
 * Real OSes' system-call stubs (xv6's usys.S, a libc's syscall()) load the
 * number, trap (int $0x80 / syscall / sysenter) and return: no frame
 * pointer is pushed and no CFI describes them.  While the kernel runs the
 * call, the program's caller is only in the return address at the user sp;
 * a frame-pointer step (or libdwfl's fallback) from the stub reads the
 * caller's frame instead and loses the caller.  When the interrupted user
 * pc is such a leaf, the walk takes the return address at sp and goes on
 * from there by CFI or frame pointers.
 */
#ifndef QTOP_FRAMELESS_H
#define QTOP_FRAMELESS_H

#include <stddef.h>
#include <stdint.h>
#include "unwind.h"

/* Is the instruction right before pc a trap into the kernel (int $0x80,
 * syscall, sysenter)?  before: the nbefore code bytes that end at pc. */
int frameless_after_trap(const uint8_t *before, size_t nbefore);

/* Does CFI (.eh_frame or .debug_frame of the libdwfl module, a
 * Dwfl_Module *) describe pc?  0 without a module. */
int frameless_cfi_covers(void *dwfl_module, uint64_t pc);

/* Is the leaf at pc frameless: no CFI for it, its function (starting at
 * fn_addr, first byte fn_first; fn_addr 0: unknown) does not begin with
 * push of the frame pointer, and pc is at its entry or right after a trap
 * instruction (nothing pushed: the return address is at sp)? */
int frameless_leaf(uint64_t pc, uint64_t fn_addr, int fn_first,
		   const uint8_t *before, size_t nbefore, int cfi_covers);

/* The caller of a frameless leaf: the return address at st->sp, sp one
 * word up, fp unchanged.  1 with *caller, 0 when the return address is 0
 * (an entry point: clean end), -1 when it is not code (w->is_text) or
 * outside the copies. */
int frameless_step(const struct uw_walk *w, const struct uw_state *st,
		   struct uw_state *caller);

#endif
