/* ucrt.c - program entry.  The kernel enters _start with the frame pointer
 * 0 and a zero return address on the stack, so both a frame-pointer walk and
 * a CFI unwind end cleanly at _start.  Not in the shared ulib page: its call
 * to main differs between programs.  The system call stubs are in ulib.c. */
#include "user.h"

void _start(void) __attribute__((noreturn, used));
void _start(void)
{
	main();
	for (;;)
		sys_yield();
}
