/* qmp_latency - latency of the QMP commands the sampler uses, serial vs
 * pipelined (k commands sent before the first reply is read).
 *
 * Usage: qmp_latency [-n N] [-k K] [--socket PATH | QEMU [--kernel BZIMAGE]]
 *   QEMU: a qemu-system-x86_64 to start paused (-S) under TCG, or running
 *   BZIMAGE (no initrd; it runs in long mode until it panics).
 *   --socket: an already running QEMU's QMP socket (nobody else connected).
 * memsave files are written under $TMPDIR (default /tmp).
 * Prints median and p99 in microseconds per command. */
#include "qmp.h"
#include "regs.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[256];
static char sock[300];
static pid_t qemu = -1;
static int N = 500, K = 4;
static uint64_t mem_addr;

static void cleanup(void)
{
	char f[300];

	if (qemu > 0) {
		kill(qemu, SIGKILL);
		waitpid(qemu, NULL, 0);
	}
	for (int i = 0; i < 16; i++) {
		snprintf(f, sizeof f, "%s/m%d", dir, i);
		unlink(f);
	}
	snprintf(f, sizeof f, "%s/qmp", dir);
	unlink(f);
	rmdir(dir);
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *name, double *v, int n, int per)
{
	qsort(v, (size_t)n, sizeof *v, cmpd);
	printf("%-36s %8.0f %8.0f   (n=%d%s)\n", name, v[n / 2] / per,
	       v[(int)(n * 0.99)] / per, n, per > 1 ? ", per round" : "");
}

static void die(const char *what, const char *err)
{
	fprintf(stderr, "qmp_latency: %s: %s\n", what, err);
	exit(1);
}

/* One operation: send (op 0: query-status, 1: info registers, 2: memsave
 * 4 KiB + read of the file) with slot s; waits separately. */
static void op_send(struct qmp *q, int op, int s, uint64_t *id)
{
	char err[256], f[300];
	json_object *a;

	if (op == 0) {
		if (qmp_send(q, "query-status", NULL, id, err, sizeof err))
			die("query-status", err);
	} else if (op == 1) {
		if (qmp_hmp_send(q, "info registers", 0, id, err, sizeof err))
			die("info registers", err);
	} else {
		snprintf(f, sizeof f, "%s/m%d", dir, s);
		a = json_object_new_object();
		json_object_object_add(a, "val", json_object_new_int64((int64_t)mem_addr));
		json_object_object_add(a, "size", json_object_new_int(4096));
		json_object_object_add(a, "filename", json_object_new_string(f));
		json_object_object_add(a, "cpu-index", json_object_new_int(0));
		if (qmp_send(q, "memsave", a, id, err, sizeof err))
			die("memsave", err);
		json_object_put(a);
	}
}

static void op_wait(struct qmp *q, int op, int s, uint64_t id)
{
	char err[256], f[300], *text = NULL;
	static char page[4096];

	if (op == 1) {
		struct qp_regs r;
		if (qmp_hmp_wait(q, id, &text, err, sizeof err))
			die("info registers", err);
		if (regs_parse(text, strlen(text), &r))
			die("info registers", "unparsable");
		free(text);
		return;
	}
	if (qmp_wait(q, id, NULL, err, sizeof err))
		die(op ? "memsave" : "query-status", err);
	if (op == 2) {
		FILE *fp;
		snprintf(f, sizeof f, "%s/m%d", dir, s);
		fp = fopen(f, "rb");
		if (!fp || fread(page, 1, sizeof page, fp) != sizeof page)
			die("memsave", "short file");
		fclose(fp);
	}
}

static void bench(struct qmp *q, const char *name, const int *ops, int nops)
{
	double *v = malloc(sizeof *v * (size_t)N);
	uint64_t id[64];
	char label[64];
	int k = K * nops > 64 ? 64 / nops : K;

	/* serial: one command in flight */
	for (int i = 0; i < N + 20; i++) {
		double t0 = now_us();
		for (int j = 0; j < nops; j++) {
			op_send(q, ops[j], j, &id[0]);
			op_wait(q, ops[j], j, id[0]);
		}
		if (i >= 20) /* warm-up */
			v[i - 20] = now_us() - t0;
	}
	snprintf(label, sizeof label, "%s serial", name);
	report(label, v, N, 1);
	/* pipelined: k rounds sent, then all replies read */
	for (int i = 0; i < N / k + 5; i++) {
		double t0 = now_us();
		for (int r = 0; r < k; r++)
			for (int j = 0; j < nops; j++)
				op_send(q, ops[j], r * nops + j, &id[r * nops + j]);
		for (int r = 0; r < k; r++)
			for (int j = 0; j < nops; j++)
				op_wait(q, ops[j], r * nops + j, id[r * nops + j]);
		if (i >= 5)
			v[i - 5] = now_us() - t0;
	}
	snprintf(label, sizeof label, "%s pipelined k=%d", name, k);
	report(label, v, N / k, k);
	free(v);
}

int main(int argc, char **argv)
{
	const char *qemu_bin = NULL, *kernel = NULL, *spec = NULL;
	char err[256], arg[400], *text = NULL;
	struct qmp *q;
	struct qp_regs r;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc)
			N = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-k") && i + 1 < argc)
			K = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--socket") && i + 1 < argc)
			spec = argv[++i];
		else if (!strcmp(argv[i], "--kernel") && i + 1 < argc)
			kernel = argv[++i];
		else
			qemu_bin = argv[i];
	}
	if (N < 10 || K < 1 || K > 16 || (!spec && !qemu_bin)) {
		fprintf(stderr, "usage: %s [-n N] [-k K] [--socket PATH | QEMU [--kernel BZIMAGE]]\n", argv[0]);
		return 2;
	}
	/* memsave files go here: $TMPDIR (try /dev/shm) or /tmp */
	snprintf(dir, sizeof dir, "%s/qmpbench.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		return 2;
	atexit(cleanup);
	if (!spec) {
		snprintf(sock, sizeof sock, "%s/qmp", dir);
		snprintf(arg, sizeof arg, "unix:%s,server=on,wait=off", sock);
		qemu = fork();
		if (qemu == 0) {
			if (kernel)
				execlp(qemu_bin, qemu_bin, "-accel", "tcg", "-display", "none",
				       "-nodefaults", "-m", "256", "-qmp", arg, "-kernel", kernel,
				       "-append", "console=ttyS0 nokaslr panic=0", (char *)NULL);
			else
				execlp(qemu_bin, qemu_bin, "-accel", "tcg", "-S", "-display", "none",
				       "-nodefaults", "-m", "64", "-qmp", arg, (char *)NULL);
			_exit(127);
		}
		spec = sock;
		for (int i = 0; access(sock, F_OK); i++) {
			struct timespec ts = { 0, 10000000 };
			if (i == 1000)
				die("QEMU", "did not start");
			nanosleep(&ts, NULL);
		}
		if (kernel)
			sleep(5); /* into the kernel proper */
	}
	q = qmp_connect(spec, 3000, &rc, err, sizeof err);
	if (!q)
		die("connect", err);
	/* a page memsave can always read: the code page at RIP (0 at reset) */
	if (qmp_hmp(q, "info registers", 0, &text, err, sizeof err) || regs_parse(text, strlen(text), &r))
		die("info registers", err);
	free(text);
	mem_addr = r.long_mode ? r.ip & ~4095ull : 0;
	printf("QEMU %d, %s, %d samples, memsave files in %s; microseconds:\n",
	       qmp_qemu_version(q), kernel ? "64-bit guest running" :
	       qemu > 0 ? "paused at reset (-S)" : spec, N, dir);
	printf("%-36s %8s %8s\n", "operation", "median", "p99");
	{
		static const int qs[] = { 0 }, ir[] = { 1 }, ms[] = { 2 }, both[] = { 1, 2 };
		bench(q, "query-status", qs, 1);
		bench(q, "HMP info registers", ir, 1);
		bench(q, "memsave 4 KiB + read", ms, 1);
		bench(q, "info registers + memsave 4 KiB", both, 2);
	}
	qmp_close(q);
	return 0;
}
