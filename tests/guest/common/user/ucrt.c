/* ucrt.c - program entry and system call stubs.  The kernel enters _start
 * with the frame pointer 0 and a zero return address on the stack, so both a
 * frame-pointer walk and a CFI unwind end cleanly at _start. */
#include "user.h"

QG_NOINLINE long sys_spin(long n) { return qg_syscall(QG_SYS_SPIN, n); }
QG_NOINLINE void sys_yield(void) { qg_syscall(QG_SYS_YIELD, 0); }

void _start(void) __attribute__((noreturn, used));
void _start(void)
{
	main();
	for (;;)
		sys_yield();
}
