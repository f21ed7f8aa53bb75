/* ulib.c - the user library every program links, first in .text and on
 * its own page(s) (see user.ld): like xv6's ulib + usys, its bytes are the
 * same in every program at the same addresses, so the first text page of
 * alpha and beta is byte-identical and only their own code tells them
 * apart.
 *
 * The system-call stubs are hand-written, as real OSes' are (usys.S): no
 * frame pointer is pushed and no CFI describes them, so while the kernel
 * runs a system call the only link to the program's caller is the return
 * address at the user stack pointer.  Number in eax/rax, argument in
 * ebx/rbx (callee-saved: kept in a register the kernel preserves). */
#include "user.h"

#define QG_STR_(x) #x
#define QG_STR(x) QG_STR_(x)

#if defined(__x86_64__)
#define QG_STUB(name, nr, loadarg)                                      \
	"	.globl " #name "\n"                                     \
	"	.type " #name ", @function\n"                           \
	"	.p2align 4\n"                                           \
	#name ":\n"                                                     \
	"	movq %rbx, %r11\n"                                      \
	"	" loadarg "\n"                                          \
	"	movl $" QG_STR(nr) ", %eax\n"                           \
	"	int $0x80\n"                                            \
	"	movq %r11, %rbx\n"                                      \
	"	ret\n"                                                  \
	"	.size " #name ", . - " #name "\n"
#define QG_ARG1 "movq %rdi, %rbx"
#define QG_ARG0 "xorl %ebx, %ebx"
#else
#define QG_STUB(name, nr, loadarg)                                      \
	"	.globl " #name "\n"                                     \
	"	.type " #name ", @function\n"                           \
	"	.p2align 4\n"                                           \
	#name ":\n"                                                     \
	"	movl %ebx, %edx\n"                                      \
	"	" loadarg "\n"                                          \
	"	movl $" QG_STR(nr) ", %eax\n"                           \
	"	int $0x80\n"                                            \
	"	movl %edx, %ebx\n"                                      \
	"	ret\n"                                                  \
	"	.size " #name ", . - " #name "\n"
#define QG_ARG1 "movl 4(%esp), %ebx"
#define QG_ARG0 "xorl %ebx, %ebx"
#endif

__asm__("	.pushsection .text.ulib, \"ax\", @progbits\n"
	QG_STUB(sys_spin, 2, QG_ARG1)
	QG_STUB(sys_yield, 1, QG_ARG0)
	"	.popsection\n");

_Static_assert(QG_SYS_SPIN == 2 && QG_SYS_YIELD == 1,
	       "ulib.c's stubs hard-code the system call numbers");

/* A few ordinary library functions (frame pointers, CFI), unused by the
 * workload: they make the shared part look like a real libc's. */
#define ULIB __attribute__((noinline, used, section(".text.ulib")))

ULIB void *ulib_memset(void *d, int c, unsigned long n)
{
	volatile unsigned char *p = d;

	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

ULIB void *ulib_memcpy(void *d, const void *s, unsigned long n)
{
	volatile unsigned char *p = d;
	const unsigned char *q = s;

	while (n--)
		*p++ = *q++;
	return d;
}

ULIB unsigned long ulib_strlen(const char *s)
{
	unsigned long n = 0;

	while (s[n])
		n++;
	return n;
}

ULIB int ulib_strcmp(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return (unsigned char)*a - (unsigned char)*b;
}

ULIB char *ulib_utoa(unsigned long v, char *buf, unsigned base)
{
	char tmp[24];
	int n = 0;

	do {
		unsigned d = (unsigned)(v % base);   /* no table: no .rodata */

		tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v && n < 23);
	for (int i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = 0;
	return buf;
}
