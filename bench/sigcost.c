/* sigcost.c - what one timer signal costs the thread it interrupts.
 *
 *   sigcost [HZ [ROUNDS]]      (defaults 10000 and 6)
 *
 * qtop-plugin.so arms each vCPU with a periodic POSIX timer whose signal
 * goes to that vCPU thread (SIGEV_THREAD_ID).  Its handler's own time is
 * counted inside the plugin; the kernel's part (timer interrupt, signal
 * frame, FPU state, sigreturn) is not visible from there.  This measures
 * it the way the guest would lose it: a thread spins, in alternating
 * windows with and without a timer at HZ whose handler does nothing, and
 * the loss of spin iterations per CPU-second of that thread, divided by
 * the signals it took, is the cost per signal.  Windows alternate (ABAB)
 * so host drift falls on both sides alike.  Prints one line per window
 * pair and the median.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t ticks;

static void on_tick(int sig)
{
	(void)sig;
	ticks++;
}

static double now_s(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Spin for secs of wall time: iterations per second of this thread's CPU
 * (*per_cpu) and of wall time (returned). */
static double spin(double secs, double *per_cpu)
{
	double w0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_THREAD_CPUTIME_ID), w1;
	uint64_t n = 0;
	volatile uint64_t x = 1;
	while ((w1 = now_s(CLOCK_MONOTONIC)) - w0 < secs)
		for (int i = 0; i < 10000; i++, n++)
			x = x * 6364136223846793005ull + 1442695040888963407ull;
	*per_cpu = n / (now_s(CLOCK_THREAD_CPUTIME_ID) - c0);
	return n / (w1 - w0);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	long hz = argc > 1 ? atol(argv[1]) : 10000;
	int rounds = argc > 2 ? atoi(argv[2]) : 6;
	if (hz <= 0 || hz > 100000 || rounds <= 0 || rounds > 100) {
		fprintf(stderr, "usage: sigcost [HZ (1..100000) [ROUNDS (1..100)]]\n");
		return 2;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_tick;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGRTMIN + 4, &sa, NULL);
	struct sigevent sev;
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGRTMIN + 4;
	sev._sigev_un._tid = gettid();
	timer_t t;
	if (timer_create(CLOCK_MONOTONIC, &sev, &t) < 0) {
		fprintf(stderr, "sigcost: timer_create: %s\n", strerror(errno));
		return 1;
	}
	long ns = 1000000000L / hz;
	struct itimerspec on = { { ns / 1000000000L, ns % 1000000000L },
				 { ns / 1000000000L, ns % 1000000000L } }, off;
	memset(&off, 0, sizeof off);
	double *us = calloc((size_t)rounds, sizeof *us), *usw = calloc((size_t)rounds, sizeof *usw);
	const double W = 1.0;
	double c, b1, b2, with_c, base_c;
	spin(0.3, &c);      /* warm up */
	for (int r = 0; r < rounds; r++) {
		b1 = spin(W, &base_c);
		ticks = 0;
		timer_settime(t, 0, &on, NULL);
		double w0 = now_s(CLOCK_MONOTONIC);
		double with = spin(W, &with_c);
		double wall = now_s(CLOCK_MONOTONIC) - w0;
		timer_settime(t, 0, &off, NULL);
		b2 = spin(W, &c);
		base_c = (base_c + c) / 2;
		double base = (b1 + b2) / 2, got = ticks / wall;
		/* lost share of the thread's CPU (of the wall) / signals per s */
		us[r] = (1 - with_c / base_c) / got * 1e6;
		usw[r] = (1 - with / base) / got * 1e6;
		printf("round %d: %.0f signals/s (%.1f %% of %ld): %.2f us per signal "
		       "per CPU-second, %.2f per wall second\n", r, got, 100 * got / hz, hz,
		       us[r], usw[r]);
	}
	qsort(us, (size_t)rounds, sizeof *us, cmp);
	qsort(usw, (size_t)rounds, sizeof *usw, cmp);
	printf("sigcost: %.2f us per signal per CPU-second, %.2f us per wall second "
	       "(medians of %d; %ld Hz periodic timer, SIGEV_THREAD_ID, empty handler): "
	       "%.1f %% / %.1f %% of a thread at %ld Hz\n", us[rounds / 2], usw[rounds / 2],
	       rounds, hz, us[rounds / 2] * hz / 1e4, usw[rounds / 2] * hz / 1e4, hz);
	free(usw);
	free(us);
	timer_delete(t);
	return 0;
}
