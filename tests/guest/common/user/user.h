/* user.h - the user programs' tiny runtime (arch-neutral int $0x80). */
#ifndef QG_USER_H
#define QG_USER_H

#include "../workload.h"

#define QG_NOINLINE __attribute__((noinline))

static inline __attribute__((always_inline)) long qg_syscall(long nr, long arg)
{
	long ret;

	/* Same convention on both arches: nr in eax/rax, arg in ebx/rbx. */
	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(arg) : "memory");
	return ret;
}

/* ulib.c: frameless asm stubs (no frame pointer, no CFI) */
long sys_spin(long n);
void sys_yield(void);
int main(void);

#endif
