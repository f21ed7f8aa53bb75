/* baseline_sampler - the prior QMP profiling technique, for comparison.
 *
 * Per round: "stop"; for each vCPU: HMP "info registers" (cpu-index), then
 * a frame-pointer walk from rbp/ebp where every stack word costs one HMP
 * "x/1gx ADDR" (x/1wx on 32-bit) round trip: return address at fp+word,
 * next fp at fp, until fp 0, a zero return address, a frame pointer that
 * does not grow, or 64 frames; then "cont".  It uses qtop-prof's own QMP
 * client (src/qmp.c) so the difference measured is the technique, not the
 * client.
 *
 *   baseline_sampler --qmp SOCK [--samples N] [--duration S] [--hz N]
 *                    [--kernel ELF] [--prog NAME=ELF]... [--comm-sym SYM]
 *                    [--raw] [-o OUT.folded] [--lat FILE]
 *
 * --comm-sym SYM: a kernel pointer to a struct whose first bytes are the
 * running task's name (the test guest's current_task); read once per new
 * address space (CR3) seen in user mode, to pick the --prog whose symbols
 * name user frames.  Symbols come from `nm` (as the old scripts did).
 *
 * Prints a human summary on stderr and one line "RESULT {json}" on stdout.
 */
#include "qmp.h"
#include "regs.h"
#include "sample.h"
#include "symtab.h"

#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_DEPTH 64
#define MAX_CPUS 64
#define MAX_PROGS 16
#define MAX_AS 64

struct bsample {
	uint64_t cr3;
	uint8_t cpu, kernel_mode, nframes, ws;
	uint64_t pc[MAX_DEPTH + 1];   /* leaf first; [0] is the pc */
};

struct asname {
	uint64_t cr3;
	char name[17];
};

static volatile sig_atomic_t got_signal;
static void on_signal(int sig) { (void)sig; got_signal = 1; }

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void die(const char *what, const char *msg)
{
	fprintf(stderr, "baseline_sampler: %s: %s\n", what, msg);
	exit(1);
}

static uint64_t n_x;   /* x commands sent */

/* One guest word at addr via HMP x; 0 on success. */
static int read_word(struct qmp *q, int cpu, int ws, uint64_t addr,
		     uint64_t *val, int *fatal)
{
	char cmd[64], err[256], *text = NULL;
	uint8_t buf[8] = { 0 };
	uint64_t a0 = 0;
	long got;
	int rc;

	snprintf(cmd, sizeof cmd, ws == 8 ? "x/1gx 0x%" PRIx64 : "x/1wx 0x%" PRIx64, addr);
	n_x++;
	rc = qmp_hmp(q, cmd, cpu, &text, err, sizeof err);
	if (rc < 0) {
		if (rc != QMP_E_ERROR)
			*fatal = rc;
		free(text);
		return -1;
	}
	got = hmpx_parse(text, strlen(text), &a0, buf, sizeof buf);
	free(text);
	if (got < ws || a0 != addr)
		return -1;
	*val = 0;
	memcpy(val, buf, (size_t)ws);
	return 0;
}

/* Frame-pointer walk of one stopped vCPU. */
static int walk(struct qmp *q, int cpu, struct bsample *s, int *fatal)
{
	char err[256], *text = NULL;
	struct qp_regs r;
	int rc = qmp_hmp(q, "info registers", cpu, &text, err, sizeof err);

	if (rc < 0) {
		if (rc != QMP_E_ERROR)
			*fatal = rc;
		free(text);
		return -1;
	}
	rc = regs_parse(text, strlen(text), &r);
	free(text);
	if (rc < 0)
		return -1;
	s->cpu = (uint8_t)cpu;
	s->cr3 = r.cr3;
	s->kernel_mode = r.cpl == 0;
	s->ws = (uint8_t)qp_regs_wordsize(&r);
	s->pc[0] = r.ip;
	s->nframes = 1;
	uint64_t fp = r.gpr[QP_RBP];
	uint64_t mask = s->ws == 8 ? ~0ull : 0xffffffffull;
	while (fp && s->nframes <= MAX_DEPTH - 1 && !*fatal) {
		uint64_t ret, next;
		if (read_word(q, cpu, s->ws, (fp + s->ws) & mask, &ret, fatal) || !ret)
			break;
		s->pc[s->nframes++] = ret;
		if (read_word(q, cpu, s->ws, fp, &next, fatal))
			break;
		if (next <= fp)
			break;          /* chain end or garbage: stacks grow up here */
		fp = next;
	}
	return 0;
}

/* Name of the task running in this address space (once per CR3). */
static const char *as_name(struct asname *tab, int *nas, uint64_t cr3)
{
	for (int i = 0; i < *nas; i++)
		if (tab[i].cr3 == cr3)
			return tab[i].name;
	return NULL;
}

static void learn_name(struct qmp *q, int cpu, int ws, uint64_t sym,
		       struct asname *tab, int *nas, uint64_t cr3, int *fatal)
{
	uint64_t p, w[2] = { 0, 0 };

	if (*nas >= MAX_AS || as_name(tab, nas, cr3))
		return;
	if (read_word(q, cpu, ws, sym, &p, fatal) || !p)
		return;
	for (int i = 0; i < 16 / ws; i++)
		if (read_word(q, cpu, ws, p + (uint64_t)i * ws, &w[0], fatal))
			return;
		else
			memcpy(tab[*nas].name + i * ws, &w[0], (size_t)ws);
	tab[*nas].name[16] = 0;
	for (char *c = tab[*nas].name; *c; c++)
		if (*c == ';' || *c == ' ' || (unsigned char)*c < 32)
			*c = '_';
	if (tab[*nas].name[0]) {
		tab[*nas].cr3 = cr3;
		(*nas)++;
	}
}

static struct symtab *load_nm(const char *elf)
{
	char cmd[1200], err[256];
	FILE *f;
	char *text = NULL;
	size_t len = 0, cap = 0, n;
	struct symtab *t;

	snprintf(cmd, sizeof cmd, "nm '%s' 2>/dev/null", elf);
	f = popen(cmd, "r");
	if (!f)
		die("nm", elf);
	for (;;) {
		if (cap - len < 65536) {
			cap = cap ? cap * 2 : 1 << 20;
			text = realloc(text, cap);
			if (!text)
				die("nm", "out of memory");
		}
		n = fread(text + len, 1, cap - len, f);
		if (!n)
			break;
		len += n;
	}
	pclose(f);
	t = symtab_from_nm_text(text, len, 0, SYMTAB_ALL, err, sizeof err);
	free(text);
	if (!t)
		die(elf, err);
	return t;
}

struct prog { char name[32]; struct symtab *t; };

/* Folded-stack aggregation: a simple open hash of lines. */
struct line { char *s; uint64_t n; };
static struct line *lines;
static size_t nlines, caplines;

static void add_line(const char *s)
{
	for (size_t i = 0; i < nlines; i++)
		if (!strcmp(lines[i].s, s)) {
			lines[i].n++;
			return;
		}
	if (nlines == caplines) {
		caplines = caplines ? caplines * 2 : 256;
		lines = realloc(lines, caplines * sizeof *lines);
		if (!lines)
			die("folded", "out of memory");
	}
	lines[nlines].s = strdup(s);
	lines[nlines++].n = 1;
}

static int cmpline(const void *a, const void *b)
{
	const struct line *x = a, *y = b;
	return x->n < y->n ? 1 : x->n > y->n ? -1 : strcmp(x->s, y->s);
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *out = NULL, *kernel = NULL, *comm_sym = NULL, *latf = NULL;
	struct prog progs[MAX_PROGS];
	int nprogs = 0, raw = 0, code = 0;
	uint64_t max_samples = 0;
	double duration = 0, hz = 0;
	char err[256];
	static const struct option lo[] = {
		{ "qmp", required_argument, 0, 'q' },
		{ "samples", required_argument, 0, 'n' },
		{ "duration", required_argument, 0, 'd' },
		{ "hz", required_argument, 0, 'z' },
		{ "kernel", required_argument, 0, 'k' },
		{ "prog", required_argument, 0, 'p' },
		{ "comm-sym", required_argument, 0, 'c' },
		{ "raw", no_argument, 0, 'r' },
		{ "output", required_argument, 0, 'o' },
		{ "lat", required_argument, 0, 'l' },
		{ 0, 0, 0, 0 }
	};
	int o;

	while ((o = getopt_long(argc, argv, "o:", lo, NULL)) != -1) {
		switch (o) {
		case 'q': sock = optarg; break;
		case 'n': max_samples = strtoull(optarg, NULL, 10); break;
		case 'd': duration = strtod(optarg, NULL); break;
		case 'z': hz = strtod(optarg, NULL); break;
		case 'k': kernel = optarg; break;
		case 'c': comm_sym = optarg; break;
		case 'r': raw = 1; break;
		case 'o': out = optarg; break;
		case 'l': latf = optarg; break;
		case 'p': {
			const char *eq = strchr(optarg, '=');
			if (!eq || nprogs == MAX_PROGS || eq - optarg >= 32)
				die("--prog", "expected NAME=ELF");
			snprintf(progs[nprogs].name, sizeof progs[nprogs].name, "%.*s",
				 (int)(eq - optarg), optarg);
			progs[nprogs++].t = load_nm(eq + 1);
			break;
		}
		default:
			fprintf(stderr, "usage: baseline_sampler --qmp SOCK [--samples N] [--duration S] [--hz N]\n"
				"         [--kernel ELF] [--prog NAME=ELF]... [--comm-sym SYM] [--raw] [-o OUT] [--lat FILE]\n");
			return 2;
		}
	}
	if (!sock || (!max_samples && duration <= 0))
		die("usage", "--qmp SOCK and --samples N or --duration S are required");

	struct symtab *ksym = kernel ? load_nm(kernel) : NULL;
	uint64_t klo = 0, khi = 0, comm_addr = 0;
	if (ksym) {
		symtab_range(ksym, &klo, &khi);
		if (comm_sym) {
			const struct sym *cs = symtab_find(ksym, comm_sym);
			if (!cs)
				die("--comm-sym", "symbol not in the kernel");
			comm_addr = cs->addr;
		}
	}

	struct qmp *q = qmp_connect(sock, 3000, &code, err, sizeof err);
	if (!q)
		die(sock, err);
	json_object *ret = NULL, *v;
	if (qmp_execute(q, "query-status", NULL, &ret, err, sizeof err) < 0)
		die("query-status", err);
	int running = ret && json_object_object_get_ex(ret, "running", &v) &&
		      json_object_get_boolean(v);
	json_object_put(ret);
	if (!running)
		die("guest", "not running (paused by someone else): not sampling");
	ret = NULL;
	if (qmp_execute(q, "query-cpus-fast", NULL, &ret, err, sizeof err) < 0)
		die("query-cpus-fast", err);
	int ncpus = ret && json_object_is_type(ret, json_type_array) ?
		    (int)json_object_array_length(ret) : 1;
	json_object_put(ret);
	if (ncpus < 1)
		ncpus = 1;
	if (ncpus > MAX_CPUS)
		ncpus = MAX_CPUS;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);

	size_t cap = 4096, ns = 0, nr = 0, caplat = 4096;
	struct bsample *smp = malloc(cap * sizeof *smp);
	double *lat = malloc(caplat * sizeof *lat);
	double *slat = malloc(cap * sizeof *slat);   /* per sample: registers + walk */
	struct asname names[MAX_AS];
	int nas = 0, fatal = 0, oom = 0;
	uint64_t failed = 0, depth_sum = 0;
	double t0 = now_s(), t_end = duration > 0 ? t0 + duration : 0, next = t0;
	double period = hz > 0 ? 1.0 / hz : 0;

	memset(names, 0, sizeof names);
	if (!smp || !lat || !slat)
		die("memory", "out of memory");
	while (!got_signal && !fatal && !oom) {
		double r0 = now_s();
		if (t_end && r0 >= t_end)
			break;
		if (max_samples && ns >= max_samples)
			break;
		if (qmp_execute(q, "stop", NULL, NULL, err, sizeof err) < 0)
			die("stop", err);
		/* QEMU sends STOP before the reply.  No STOP: someone else had
		 * paused the guest; it stays paused, we leave without cont. */
		{
			struct qmp_event ev;
			int stopped = 0;
			qmp_poll(q, 0, err, sizeof err);
			while (qmp_next_event(q, &ev) == 1)
				stopped |= ev.kind == QMP_EV_STOP;
			if (!stopped) {
				fprintf(stderr, "baseline_sampler: the guest was paused by someone else: stopping, guest left paused\n");
				break;
			}
		}
		for (int cpu = 0; cpu < ncpus && !fatal; cpu++) {
			if (ns == cap) {
				/* Out of memory inside the stop window: end after
				 * this round's cont, never leave the guest paused. */
				struct bsample *n1 = realloc(smp, 2 * cap * sizeof *smp);
				if (n1)
					smp = n1;
				double *n2 = n1 ? realloc(slat, 2 * cap * sizeof *slat) : NULL;
				if (n2)
					slat = n2;
				if (!n1 || !n2) {
					oom = 1;
					break;
				}
				cap *= 2;
			}
			struct bsample *s = &smp[ns];
			double w0 = now_s();
			memset(s, 0, sizeof *s);
			if (walk(q, cpu, s, &fatal) < 0) {
				failed++;
				continue;
			}
			slat[ns] = (now_s() - w0) * 1e6;
			if (comm_addr && !s->kernel_mode)
				learn_name(q, cpu, s->ws, comm_addr, names, &nas, s->cr3, &fatal);
			depth_sum += s->nframes;
			ns++;
		}
		/* Resume even after a failure: never leave the guest paused. */
		if (qmp_execute(q, "cont", NULL, NULL, err, sizeof err) < 0)
			die("cont", err);
		if (nr == caplat) {
			double *n3 = realloc(lat, 2 * caplat * sizeof *lat);
			if (!n3)
				break;      /* guest already resumed: keep what we have */
			lat = n3;
			caplat *= 2;
		}
		lat[nr++] = (now_s() - r0) * 1e6;
		qmp_poll(q, 0, err, sizeof err);   /* drop STOP/RESUME events */
		{
			struct qmp_event ev;
			while (qmp_next_event(q, &ev) == 1)
				;
		}
		if (period > 0) {
			next += period;
			double now = now_s();
			if (next < now)
				next = now;
			else {
				double left = next - now;
				struct timespec ts = { (time_t)left, (long)((left - (time_t)left) * 1e9) };
				nanosleep(&ts, NULL);
			}
		}
	}
	double wall = now_s() - t0;
	if (oom)
		fprintf(stderr, "baseline_sampler: out of memory after %zu samples; stopping there\n", ns);
	if (fatal)
		fprintf(stderr, "baseline_sampler: connection lost: %s\n", qmp_strerror(fatal));
	qmp_close(q);

	if (latf) {
		FILE *f = fopen(latf, "w");
		if (f) {
			for (size_t i = 0; i < nr; i++)
				fprintf(f, "%.1f\n", lat[i]);
			fclose(f);
		}
	}
	qsort(lat, nr, sizeof *lat, cmpd);
	double med = nr ? lat[nr / 2] : 0, p99 = nr ? lat[(size_t)((double)nr * 0.99)] : 0;
	qsort(slat, ns, sizeof *slat, cmpd);
	double smed = ns ? slat[ns / 2] : 0, sp99 = ns ? slat[(size_t)((double)ns * 0.99)] : 0;

	/* Fold: root first, like qtop-prof's files. */
	char *buf = malloc(64 * 1024);
	for (size_t i = 0; i < ns && buf; i++) {
		const struct bsample *s = &smp[i];
		const char *as = as_name(names, &nas, s->cr3);
		struct symtab *ut = NULL;
		size_t len;

		if (as)
			for (int p = 0; p < nprogs; p++)
				if (!strcmp(progs[p].name, as))
					ut = progs[p].t;
		if (as)
			len = (size_t)snprintf(buf, 256, "%s", as);
		else
			len = (size_t)snprintf(buf, 256, "as-%" PRIx64, s->cr3);
		for (int k = s->nframes - 1; k >= 0; k--) {
			uint64_t a = s->pc[k], look = k ? a - 1 : a;
			const struct sym *sy = NULL;
			int kern = ksym && look >= klo && look < khi;
			if (!raw)
				sy = kern ? symtab_lookup(ksym, look) : ut ? symtab_lookup(ut, look) : NULL;
			if (sy)
				len += (size_t)snprintf(buf + len, 300, ";%s%s", sy->name, kern ? "_[k]" : "");
			else
				len += (size_t)snprintf(buf + len, 300, ";0x%" PRIx64, a);
		}
		add_line(buf);
	}
	free(buf);
	qsort(lines, nlines, sizeof *lines, cmpline);
	if (out) {
		FILE *f = fopen(out, "w");
		if (!f)
			die(out, "cannot create");
		for (size_t i = 0; i < nlines; i++)
			fprintf(f, "%s %" PRIu64 "\n", lines[i].s, lines[i].n);
		fclose(f);
	}
	fprintf(stderr, "baseline: %zu samples (%d vCPU) in %.2f s = %.1f samples/s; round (stop..cont) latency median %.0f us p99 %.0f us;"
		" per sample (registers + walk) median %.0f us p99 %.0f us;"
		" %.1f frames and %.1f x round trips per sample; %" PRIu64 " failed\n",
		ns, ncpus, wall, (double)ns / wall, med, p99, smed, sp99,
		ns ? (double)depth_sum / (double)ns : 0, ns ? (double)n_x / (double)ns : 0, failed);
	printf("RESULT {\"samples\": %zu, \"rounds\": %zu, \"ncpus\": %d, \"wall_s\": %.3f, \"samples_per_s\": %.2f,"
	       " \"round_us_median\": %.1f, \"round_us_p99\": %.1f, \"sample_us_median\": %.1f,"
	       " \"sample_us_p99\": %.1f, \"frames_per_sample\": %.2f,"
	       " \"x_per_sample\": %.2f, \"failed\": %" PRIu64 "}\n",
	       ns, nr, ncpus, wall, (double)ns / wall, med, p99, smed, sp99,
	       ns ? (double)depth_sum / (double)ns : 0, ns ? (double)n_x / (double)ns : 0, failed);
	free(smp);
	free(lat);
	free(slat);
	symtab_free(ksym);
	for (int p = 0; p < nprogs; p++)
		symtab_free(progs[p].t);
	for (size_t i = 0; i < nlines; i++)
		free(lines[i].s);
	free(lines);
	return fatal ? 1 : 0;
}
