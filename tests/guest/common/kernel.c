/* kernel.c - the guest kernel's arch-neutral part: boot sequence, the
 * scheduler round, the kernel workload and the system calls.
 *
 * Every workload function is noinline and ends in a leaf that spins in
 * QG_SPIN, so the call chains in truth.json are exactly what runs.  The
 * kernel is compiled with -fno-optimize-sibling-calls so no call becomes a
 * jump and every frame stays on the stack.
 */
#include "qg.h"

struct qg_task kernel_task = { .name = "kernel" };
struct qg_task ap_task = { .name = "ap" };
static struct qg_task alpha_task, beta_task;

struct qg_task *volatile current_task = &kernel_task;
struct qg_task *volatile current_task_ap = &ap_task;

static volatile unsigned long ticks, rounds, ap_rounds;
static volatile int progress_on;

QG_NOINLINE void a_inner(void) { QG_SPIN(QG_W_A_INNER * QG_UNIT); }
QG_NOINLINE void work_a(void) { a_inner(); }

/* work_b itself lives in work_b.c (no frame pointer, CFI only). */
QG_NOINLINE void b_inner(void) { QG_SPIN(QG_W_B_INNER * QG_UNIT); }

QG_NOINLINE void rec_leaf(void) { QG_SPIN(QG_W_REC_LEAF * QG_UNIT); }
QG_NOINLINE void recurse(int n)
{
	if (n > 1)
		recurse(n - 1);
	else
		rec_leaf();
	__asm__ volatile("" ::: "memory"); /* keep the call a call */
}

QG_NOINLINE void k_spin_inner(unsigned long n) { QG_SPIN(n); }
QG_NOINLINE long ksys_spin(long n)
{
	k_spin_inner(n > 0 ? (unsigned long)n : 1);
	return 0;
}

long syscall_dispatch(long nr, long arg)
{
	switch (nr) {
	case QG_SYS_SPIN:
		return ksys_spin(arg);
	case QG_SYS_YIELD:
		arch_yield(current_task);
		return 0;
	}
	return -1;
}

QG_NOINLINE void sched_round(void)
{
	work_a();
	work_b();
	recurse(QG_REC_DEPTH);
	arch_run_task(&alpha_task);
	arch_run_task(&beta_task);
	rounds++;
}

/* vCPU 1 */
QG_NOINLINE void ap_x(void) { QG_SPIN(QG_W_AP_X * QG_UNIT); }
QG_NOINLINE void ap_y(void) { QG_SPIN(QG_W_AP_Y * QG_UNIT); }
QG_NOINLINE void ap_work(void) { ap_x(); ap_y(); }

void ap_main(void)
{
	current_task_ap = &ap_task;
	for (;;) {
		ap_work();
		ap_rounds++;
	}
}

void qg_timer_tick(void)
{
	ticks++;
	if (progress_on && ticks % 100 == 0) {
		serial_puts("qtop-guest: t=");
		serial_putdec(ticks / 100);
		serial_puts("s rounds=");
		serial_putdec(rounds);
		serial_puts(" ap_rounds=");
		serial_putdec(ap_rounds);
		serial_puts("\n");
	}
}

void qg_panic(const char *what, uintptr_t a, uintptr_t b)
{
	serial_puts("qtop-guest: PANIC ");
	serial_puts(what);
	serial_puts(" ");
	serial_puthex(a);
	serial_puts(" ");
	serial_puthex(b);
	serial_puts("\n");
	arch_halt();
}

void kmain(void)
{
	int cpus;

	serial_init();
	serial_puts("qtop-guest: boot\n");
	arch_init();
	arch_task_create(&alpha_task, "alpha", qg_alpha_elf,
			 (size_t)(qg_alpha_elf_end - qg_alpha_elf), 0);
	arch_task_create(&beta_task, "beta", qg_beta_elf,
			 (size_t)(qg_beta_elf_end - qg_beta_elf), 1);
	arch_irq_enable();
	cpus = arch_start_aps();
	serial_puts("qtop-guest: workload running cpus=");
	serial_putdec((unsigned long)cpus);
	serial_puts("\n");
	progress_on = 1;
	for (;;)
		sched_round();
}
