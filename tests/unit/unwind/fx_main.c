/* fx_main.c - fixture chain with frame pointers; see fx.h. */
#include "fx.h"

uintptr_t fx_stack_top;
volatile int fx_sink;
static uintptr_t fx_regs[17];
static struct {
	struct fx_dump d;
	uint8_t stack[65536];
} fx_out;

void *memcpy(void *d, const void *s, __SIZE_TYPE__ n)
{
	uint8_t *dd = d;
	const uint8_t *ss = s;
	while (n--)
		*dd++ = *ss++;
	return d;
}

void *memset(void *d, int c, __SIZE_TYPE__ n)
{
	uint8_t *dd = d;
	while (n--)
		*dd++ = (uint8_t)c;
	return d;
}

static long fx_write(const void *buf, unsigned long len)
{
	long r;
#ifdef __x86_64__
	__asm__ volatile("syscall" : "=a"(r)
			 : "0"(1L), "D"(1L), "S"(buf), "d"(len)
			 : "rcx", "r11", "memory");
#else
	__asm__ volatile("int $0x80" : "=a"(r)
			 : "0"(4L), "b"(1L), "c"(buf), "d"(len) : "memory");
#endif
	return r;
}

/* Inlined into fx_leaf: the captured pc sits in an inline frame. */
static inline __attribute__((always_inline)) void fx_capture(void)
{
	/* all GPRs at one pc, then that pc */
#ifdef __x86_64__
	__asm__ volatile(
		"mov %%rax, 0(%0)\n\tmov %%rbx, 8(%0)\n\tmov %%rcx, 16(%0)\n\t"
		"mov %%rdx, 24(%0)\n\tmov %%rsi, 32(%0)\n\tmov %%rdi, 40(%0)\n\t"
		"mov %%rbp, 48(%0)\n\tmov %%rsp, 56(%0)\n\tmov %%r8, 64(%0)\n\t"
		"mov %%r9, 72(%0)\n\tmov %%r10, 80(%0)\n\tmov %%r11, 88(%0)\n\t"
		"mov %%r12, 96(%0)\n\tmov %%r13, 104(%0)\n\tmov %%r14, 112(%0)\n\t"
		"mov %%r15, 120(%0)\n\t"
		"lea 0(%%rip), %%rax\n\tmov %%rax, 128(%0)\n\t"
		: : "r"(fx_regs) : "rax", "memory");
#else
	__asm__ volatile(
		"mov %%eax, 0(%0)\n\tmov %%ebx, 4(%0)\n\tmov %%ecx, 8(%0)\n\t"
		"mov %%edx, 12(%0)\n\tmov %%esi, 16(%0)\n\tmov %%edi, 20(%0)\n\t"
		"mov %%ebp, 24(%0)\n\tmov %%esp, 28(%0)\n\t"
		"call 1f\n1:\tpop %%eax\n\tmov %%eax, 64(%0)\n\t"
		: : "r"(fx_regs) : "eax", "memory");
#endif
}

void fx_leaf(void)
{
	fx_capture();
#ifdef __x86_64__
	const int nregs = 16;
#else
	const int nregs = 8;
#endif
	struct fx_dump *d = &fx_out.d;
	d->magic = FX_MAGIC;
	d->wordsize = sizeof(uintptr_t);
	d->ip = fx_regs[16];
	for (int i = 0; i < 16; i++)
		d->gpr[i] = i < nregs ? fx_regs[i] : 0;
	uintptr_t sp = fx_regs[7];
	d->stack_addr = sp;
	d->stack_len = fx_stack_top - sp;
	if (d->stack_len > sizeof fx_out.stack)
		d->stack_len = sizeof fx_out.stack;
	memcpy(d->code, (const void *)fx_regs[16], FX_CODE);
	memcpy(fx_out.stack, (const void *)sp, d->stack_len);
	fx_write(&fx_out, sizeof fx_out.d + d->stack_len);
}

int fx_rec(int n)
{
	int r;
	if (n > 1)
		r = fx_rec(n - 1) + 1;
	else {
		fx_leaf();
		r = 1;
	}
	fx_sink += r;
	return r;
}

int fx_top(void)
{
	int r = fx_mid(3);
	fx_sink += r;
	return r;
}

int fx_main(void)
{
	int r = fx_top();
	fx_sink += r;
	return 0;
}

/* Entry with the frame pointer 0, like a kernel starting a task. */
#ifdef __x86_64__
__asm__(".globl _start\n_start:\n\txor %ebp, %ebp\n\t"
	"mov %rsp, fx_stack_top(%rip)\n\tand $-16, %rsp\n\t"
	"call fx_main\n\tmov %eax, %edi\n\tmov $60, %eax\n\tsyscall\n\thlt\n");
#else
__asm__(".globl _start\n_start:\n\txor %ebp, %ebp\n\t"
	"mov %esp, fx_stack_top\n\tand $-16, %esp\n\t"
	"call fx_main\n\tmov %eax, %ebx\n\tmov $1, %eax\n\tint $0x80\n\thlt\n");
#endif
