/* alpha.c - user task "alpha": _start > main > alpha_loop > alpha_hot. */
#include "user.h"

QG_NOINLINE void alpha_hot(void) { QG_SPIN(QG_W_ALPHA_HOT * QG_UNIT); }

QG_NOINLINE void alpha_loop(void)
{
	for (;;) {
		alpha_hot();
		sys_yield();
	}
}

int main(void)
{
	alpha_loop();
	return 0;
}
