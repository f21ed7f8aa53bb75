/* kernel.c - the guest kernel's arch-neutral part: boot sequence, the
 * scheduler round, the kernel workload and the system calls.
 *
 * Every workload function is noinline and ends in a leaf that spins in
 * QG_SPIN, so the call chains in truth.json are exactly what runs.  The
 * kernel is compiled with -fno-optimize-sibling-calls so no call becomes a
 * jump and every frame stays on the stack.
 */
#include "qg.h"

/* ids as truth.json "pid" gives them (--pid, #15) */
struct qg_task kernel_task = { .name = "kernel", .pid = 1 };
struct qg_task ap_task = { .name = "ap", .pid = 2 };
static struct qg_task alpha_task = { .pid = 100 }, beta_task = { .pid = 101 };

struct qg_task *volatile current_task = &kernel_task;
struct qg_task *volatile current_task_ap = &ap_task;
struct qg_cpu cpus[2] = { { 0, 0, &kernel_task }, { 1, 0, &ap_task } };

static volatile unsigned long ticks, rounds, ap_rounds;
static volatile int progress_on;
static int deep_mode;   /* command line "deep": see QG_DEEP_PAD */

/* The guest's own view of its split (TSC per phase), printed on the progress
 * line: a cross-check that needs no sampler.  Under TCG the TSC follows the
 * host clock, so time the vCPU thread spends descheduled counts too. */
enum { PH_A, PH_B, PH_REC, PH_ALPHA, PH_BETA, PH_KSPIN, PH_N };
static uint64_t phase_tsc[PH_N];

static inline __attribute__((always_inline)) uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

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
	uint64_t t = rdtsc();

	k_spin_inner(n > 0 ? (unsigned long)n : 1);
	phase_tsc[PH_KSPIN] += rdtsc() - t;
	return 0;
}

void ap_work(void);

/* Deep-stacks mode only: n nested frame-pointer frames, then the workload
 * call `what` -- the same chain as without it, 20 frames deeper.  Each frame
 * holds a few locals (96 bytes on x86_64, like a typical kernel frame) so
 * the stack's size in bytes grows as a real one would. */
enum { DEEP_SCHED_ROUND, DEEP_KSYS_SPIN, DEEP_AP_WORK };
QG_NOINLINE long deep_pad(int n, int what, long arg)
{
	volatile unsigned long locals[8];
	long r = 0;

	locals[0] = (unsigned long)n;
	locals[7] = (unsigned long)arg;
	if (n > 1) {
		r = deep_pad(n - 1, what, arg);
	} else {
		switch (what) {
		case DEEP_SCHED_ROUND: sched_round(); break;
		case DEEP_KSYS_SPIN: r = ksys_spin(arg); break;
		case DEEP_AP_WORK: ap_work(); break;
		}
	}
	if (locals[0] != (unsigned long)n || locals[7] != (unsigned long)arg)
		qg_panic("deep_pad: stack", locals[0], (uintptr_t)n);
	__asm__ volatile("" ::: "memory"); /* keep the call a call */
	return r;
}

long syscall_dispatch(long nr, long arg)
{
	switch (nr) {
	case QG_SYS_SPIN:
		if (deep_mode)
			return deep_pad(QG_DEEP_PAD, DEEP_KSYS_SPIN, arg);
		return ksys_spin(arg);
	case QG_SYS_YIELD:
		arch_yield(current_task);
		return 0;
	}
	return -1;
}

QG_NOINLINE void sched_round(void)
{
	uint64_t t0, t1, t2, t3, t4, t5;

	t0 = rdtsc();
	work_a();
	t1 = rdtsc();
	work_b();
	t2 = rdtsc();
	recurse(QG_REC_DEPTH);
	t3 = rdtsc();
	arch_run_task(&alpha_task);
	t4 = rdtsc();
	arch_run_task(&beta_task);
	t5 = rdtsc();
	phase_tsc[PH_A] += t1 - t0;
	phase_tsc[PH_B] += t2 - t1;
	phase_tsc[PH_REC] += t3 - t2;
	phase_tsc[PH_ALPHA] += t4 - t3;
	phase_tsc[PH_BETA] += t5 - t4;
	rounds++;
}

/* vCPU 1 */
QG_NOINLINE void ap_x(void) { QG_SPIN(QG_W_AP_X * QG_UNIT); }
QG_NOINLINE void ap_y(void) { QG_SPIN(QG_W_AP_Y * QG_UNIT); }
/* vCPU 1's phases in kilo-cycles of its TSC: one aligned word each (vCPU
 * 0's timer tick prints them; no torn reads on i386). */
static volatile unsigned long ap_kc[2];

QG_NOINLINE void ap_work(void)
{
	uint64_t t0 = rdtsc();
	ap_x();
	uint64_t t1 = rdtsc();
	ap_y();
	uint64_t t2 = rdtsc();
	ap_kc[0] += (unsigned long)((t1 - t0) >> 10);
	ap_kc[1] += (unsigned long)((t2 - t1) >> 10);
}

void ap_main(void)
{
	current_task_ap = &ap_task;
	cpus[1].proc = &ap_task;
	for (;;) {
		if (deep_mode)
			deep_pad(QG_DEEP_PAD, DEEP_AP_WORK, 0);
		else
			ap_work();
		ap_rounds++;
	}
}

unsigned long qg_ticks(void)
{
	return ticks;
}

/* " split=a_inner:200,..." in permille of the BSP rounds' TSC so far */
static void print_split(void)
{
	static const char *const names[PH_N] = {
		"a_inner", "b_inner", "rec_leaf", "alpha_hot", "beta_hot",
		"k_spin_inner" };
	uint64_t v[PH_N], total = 0;
	int i;

	for (i = 0; i < PH_N; i++)
		v[i] = phase_tsc[i];
	v[PH_BETA] -= v[PH_KSPIN] < v[PH_BETA] ? v[PH_KSPIN] : v[PH_BETA];
	for (i = 0; i < PH_N; i++)
		total += v[i];
	if (!total)
		return;
	serial_puts(" permille");
	for (i = 0; i < PH_N; i++) {
		serial_puts(i ? "," : "=");
		serial_puts(names[i]);
		serial_puts(":");
		serial_putdec((unsigned long)(v[i] * 1000 / total));
	}
	/* The same in kilo-cycles since boot: two lines give the split of
	 * any window (a profiler's run), in the guest's own time. */
	serial_puts(" kcycles");
	for (i = 0; i < PH_N; i++) {
		serial_puts(i ? "," : "=");
		serial_puts(names[i]);
		serial_puts(":");
		serial_putdec((unsigned long)(v[i] >> 10));
	}
	/* and vCPU 1's, on their own: its split is judged on its own */
	serial_puts(" apkcycles=ap_x:");
	serial_putdec(ap_kc[0]);
	serial_puts(",ap_y:");
	serial_putdec(ap_kc[1]);
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
		print_split();
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

/* Is word a blank-separated word of the command line s? */
static int cmdline_has(const char *s, const char *word)
{
	size_t i;

	while (s && *s) {
		while (*s == ' ')
			s++;
		for (i = 0; word[i] && s[i] == word[i]; i++)
			;
		if (!word[i] && (s[i] == ' ' || !s[i]))
			return 1;
		while (*s && *s != ' ')
			s++;
	}
	return 0;
}

void kmain(void)
{
	int cpus;

	serial_init();
	serial_puts("qtop-guest: boot\n");
	deep_mode = cmdline_has(arch_cmdline(), "deep");
	if (deep_mode)
		serial_puts("qtop-guest: deep stacks on\n");
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
	for (;;) {
		if (deep_mode)
			deep_pad(QG_DEEP_PAD, DEEP_SCHED_ROUND, 0);
		else
			sched_round();
	}
}
