/* work_b.c - built WITHOUT frame pointers (-fomit-frame-pointer) but with
 * -fasynchronous-unwind-tables: only a CFI unwinder can step through this
 * frame to sched_round.  The stack adjustment below makes sure the frame is
 * not trivial (a frame-pointer walk from b_inner skips work_b entirely).
 */
#include "qg.h"

QG_NOINLINE void work_b(void)
{
	volatile char pad[24];

	pad[0] = 1;
	b_inner();
	pad[1] = pad[0];
}
