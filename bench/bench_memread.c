/* bench_memread - what one guest-memory read costs through each transport:
 * direct (guestmem + page walk), memsave and HMP x, at 4 KiB and 16 KiB
 * from a vCPU's stack pointer, guest paused (by us, only if it was
 * running) so that every path reads the same bytes.  Prints one line per
 * transport and size: median and mean µs per read, MB/s.  One run.
 *
 * usage: bench_memread QMP_SOCKET [REPS] */
#include "memread.h"
#include "qmp.h"
#include "regs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const char *const names[] = { "direct", "memsave", "hmp-x" };
	static const enum sampler_mem modes[] = { SAMPLER_MEM_DIRECT,
		SAMPLER_MEM_MEMSAVE, SAMPLER_MEM_HMPX };
	static const uint32_t sizes[] = { 4096, 16384 };
	static uint8_t buf[16384];
	int reps = argc > 2 ? atoi(argv[2]) : 200, code = 0, we_stopped = 0;
	char err[512], *text = NULL;
	struct qp_regs r;
	json_object *st = NULL, *v;
	struct qmp *q;
	double *t;

	if (argc < 2 || reps <= 0) {
		fprintf(stderr, "usage: bench_memread QMP_SOCKET [REPS]\n");
		return 2;
	}
	t = calloc((size_t)reps, sizeof *t);
	q = qmp_connect(argv[1], 5000, &code, err, sizeof err);
	if (!q || !t) {
		fprintf(stderr, "bench_memread: %s\n", err);
		return 1;
	}
	if (qmp_execute(q, "query-status", NULL, &st, err, sizeof err) == 0 &&
	    json_object_object_get_ex(st, "running", &v) && json_object_get_boolean(v) &&
	    qmp_execute(q, "stop", NULL, NULL, err, sizeof err) == 0)
		we_stopped = 1;
	json_object_put(st);
	if (qmp_hmp(q, "info registers", 0, &text, err, sizeof err) < 0 ||
	    regs_parse(text, strlen(text), &r) < 0) {
		fprintf(stderr, "bench_memread: no registers\n");
		return 1;
	}
	free(text);
	printf("QEMU %d, vCPU 0 sp 0x%llx, %d reads each\n", qmp_qemu_version(q),
	       (unsigned long long)r.gpr[QP_RSP], reps);
	printf("%-8s %6s %10s %10s %10s\n", "path", "bytes", "median us", "mean us", "MB/s");
	for (int i = 0; i < 3; i++) {
		struct memread *m = memread_new(q, modes[i], err, sizeof err);
		if (!m || memread_mode(m) != modes[i]) {
			printf("%-8s unavailable: %s\n", names[i], m ? memread_note(m) : err);
			memread_free(m);
			continue;
		}
		memread_set_cpu_state(m, 0, &r);
		for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
			/* page-aligned: the stack page at sp and the ones above */
			uint64_t a = (r.gpr[QP_RSP] & ~4095ull) - sizes[s] + 4096;
			double sum = 0;
			long got = 0;
			for (int k = 0; k < reps; k++) {
				double t0 = now_us();
				got = memread_virt(m, 0, a, buf, sizes[s], err, sizeof err);
				t[k] = now_us() - t0;
				sum += t[k];
			}
			qsort(t, (size_t)reps, sizeof *t, cmp_d);
			printf("%-8s %6u %10.1f %10.1f %10.1f%s\n", names[i], sizes[s],
			       t[reps / 2], sum / reps, sizes[s] / (sum / reps),
			       got == (long)sizes[s] ? "" : "  (short read!)");
		}
		memread_free(m);
	}
	if (we_stopped)
		qmp_execute(q, "cont", NULL, NULL, err, sizeof err);
	qmp_close(q);
	free(t);
	return 0;
}
