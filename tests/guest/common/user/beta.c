/* beta.c - user task "beta": _start > main > beta_loop > beta_mid >
 * beta_hot, then kernel time through the sys_spin system call. */
#include "user.h"

QG_NOINLINE void beta_hot(void) { QG_SPIN(QG_W_BETA_HOT * QG_UNIT); }
QG_NOINLINE void beta_mid(void) { beta_hot(); }

QG_NOINLINE void beta_loop(void)
{
	for (;;) {
		beta_mid();
		sys_spin((long)(QG_W_K_SPIN * QG_UNIT));
		sys_yield();
	}
}

int main(void)
{
	beta_loop();
	return 0;
}
