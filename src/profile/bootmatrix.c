/* bootmatrix.c - boots repeated per vCPU count, their marker times and
 * merged profiles (bootmatrix.h). */
#include "bootmatrix.h"
#include "export_int.h"
#include "folded.h"
#include "profile.h"
#include "savefile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BM_MAX_MARKS 32

int bootmatrix_parse_smp(const char *s, int *n, int max)
{
	int k = 0;
	while (*s) {
		char *end;
		long v = strtol(s, &end, 10);
		if (end == s || v < 1 || v > 1024 || k == max)
			return -1;
		for (int i = 0; i < k; i++)
			if (n[i] == v)
				return -1;
		n[k++] = (int)v;
		s = end;
		if (*s == ',' && s[1])
			s++;
		else if (*s)
			return -1;
	}
	return k ? k : -1;
}

static int is_smp(const char *a)
{
	return !strcmp(a, "-smp") || !strcmp(a, "--smp");
}

int bootmatrix_smp_of(char *const *qemu)
{
	int n = 1;
	for (int i = 0; qemu[i]; i++)
		if (is_smp(qemu[i]) && qemu[i + 1]) {
			const char *v = qemu[i + 1], *c = strstr(v, "cpus=");
			if (c && (c == v || c[-1] == ','))
				v = c + 5;
			if (atoi(v) > 0)
				n = atoi(v);
		}
	return n;
}

/* "-smp" value with its count set to ncpu. */
static char *smp_value(const char *v, int ncpu)
{
	char out[512];
	size_t o = 0;
	const char *p = v;
	int done = 0;
	/* a leading count, or the cpus= key; maxcpus= raised when below */
	while (*p && o < sizeof out - 32) {
		const char *key = p;
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (!done && key == v && len && key[0] >= '0' && key[0] <= '9') {
			o += (size_t)snprintf(out + o, sizeof out - o, "%d", ncpu);
			done = 1;
		} else if (!done && !strncmp(key, "cpus=", 5)) {
			o += (size_t)snprintf(out + o, sizeof out - o, "cpus=%d", ncpu);
			done = 1;
		} else if (!strncmp(key, "maxcpus=", 8) && atoi(key + 8) < ncpu) {
			o += (size_t)snprintf(out + o, sizeof out - o, "maxcpus=%d", ncpu);
		} else {
			o += (size_t)snprintf(out + o, sizeof out - o, "%.*s", (int)len, key);
		}
		p += len;
		if (*p == ',') {
			out[o++] = ',';
			out[o] = 0;
			p++;
		}
	}
	out[o] = 0;
	if (!done) {
		char b[600];
		snprintf(b, sizeof b, "%d%s%s", ncpu, *out ? "," : "", out);
		return strdup(b);
	}
	return strdup(out);
}

char **bootmatrix_smp_argv(char *const *qemu, int ncpu)
{
	int n = 0, found = 0;
	while (qemu[n])
		n++;
	char **a = calloc((size_t)n + 3, sizeof *a);
	if (!a)
		return NULL;
	for (int i = 0; i < n; i++) {
		if (i > 0 && is_smp(qemu[i - 1])) {
			a[i] = smp_value(qemu[i], ncpu);
			found = 1;
		} else {
			a[i] = strdup(qemu[i]);
		}
		if (!a[i]) {
			bootmatrix_free_argv(a);
			return NULL;
		}
	}
	if (!found) {
		char b[16];
		snprintf(b, sizeof b, "%d", ncpu);
		a[n] = strdup("-smp");
		a[n + 1] = strdup(b);
		if (!a[n] || !a[n + 1]) {
			bootmatrix_free_argv(a);
			return NULL;
		}
	}
	return a;
}

void bootmatrix_free_argv(char **argv)
{
	if (!argv)
		return;
	for (char **p = argv; *p; p++)
		free(*p);
	free(argv);
}

/* ---- one boot: a child qtop-prof ---- */

static volatile sig_atomic_t bm_signal;
static void bm_on_signal(int sig) { bm_signal = sig; }

struct bm_run {
	int started;           /* the child was started (an interrupted matrix
				  leaves later runs unstarted) */
	int done;              /* the child ran and wrote its report */
	int status;            /* its wait status */
	long samples;
	double t[BM_MAX_MARKS];   /* per marker name, NAN: not reached */
};

struct bm_conf {
	int ncpu;
	struct bm_run *runs;
	struct profile *merged;
	char folded[4096];     /* where the merged profile went, "" none */
};

struct bm {
	const struct bootmatrix_opts *o;
	int nconf, repeat;
	struct bm_conf conf[BOOTMATRIX_MAX_CONFS];
	char names[BM_MAX_MARKS][64];
	int nnames;
	char dir[512];         /* the private run directory */
	json_object *meta;     /* the first report's meta */
	int qemu_at;           /* argv index of the QEMU command */
	int interrupted;       /* SIGINT/SIGTERM: the boots done so far */
};

/* Options of the matrix itself, not passed to a boot: name, and whether it
 * takes a value. */
static int drop_opt(const char *a, int *skip)
{
	/* --record / --serial-log: one file, never overwritten, cannot take
	 * every boot */
	static const char *const with[] = { "--repeat", "--smp-list", "--json", "--output",
					    "-o", "--record", "--serial-log" };
	static const char *const alone[] = { "--batch", "--folded" };
	*skip = 0;
	for (size_t i = 0; i < sizeof with / sizeof with[0]; i++) {
		size_t l = strlen(with[i]);
		if (!strcmp(a, with[i])) {
			*skip = 1;
			return 1;
		}
		if (!strncmp(a, with[i], l) && (a[l] == '=' || (l == 2 && a[l])))
			return 1;    /* --json=F, -oF */
	}
	for (size_t i = 0; i < sizeof alone / sizeof alone[0]; i++)
		if (!strcmp(a, alone[i]))
			return 1;
	return 0;
}

static char **child_argv(struct bm *m, char *const *qemu, const char *json,
			 const char *folded)
{
	int n = m->o->argc + 16, k = 0;
	while (qemu[k])
		k++;
	char **a = calloc((size_t)(n + k), sizeof *a);
	int j = 0;
	if (!a)
		return NULL;
	a[j++] = m->o->argv[0];
	for (int i = 1; i < m->qemu_at - 1; i++) {
		int skip;
		if (drop_opt(m->o->argv[i], &skip)) {
			i += skip;
			continue;
		}
		a[j++] = m->o->argv[i];
	}
	a[j++] = "--batch";
	a[j++] = "--top";
	a[j++] = "1";
	a[j++] = "--json";
	a[j++] = (char *)json;
	a[j++] = "-o";
	a[j++] = (char *)folded;
	a[j++] = "--";
	for (int i = 0; qemu[i]; i++)
		a[j++] = qemu[i];
	a[j] = NULL;
	return a;
}

static int run_child(char **argv, const char *logpath, int *status)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		int nul = open("/dev/null", O_RDWR);
		int lg = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (nul >= 0) {
			dup2(nul, STDIN_FILENO);
			dup2(nul, STDOUT_FILENO);
		}
		if (lg >= 0)
			dup2(lg, STDERR_FILENO);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	int passed = 0;
	for (;;) {
		pid_t r = waitpid(pid, status, 0);
		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
		if (bm_signal && !passed) {
			/* the child ends its QEMU and cleans up on SIGINT */
			kill(pid, SIGINT);
			passed = 1;
		}
	}
}

static int mark_index(struct bm *m, const char *name)
{
	for (int i = 0; i < m->nnames; i++)
		if (!strcmp(m->names[i], name))
			return i;
	if (m->nnames == BM_MAX_MARKS)
		return -1;
	snprintf(m->names[m->nnames], sizeof m->names[0], "%s", name);
	return m->nnames++;
}

static int read_report(struct bm *m, struct bm_run *r, const char *path)
{
	json_object *root = json_object_from_file(path), *v;
	if (!root)
		return -1;
	if (json_object_object_get_ex(root, "markers", &v) &&
	    json_object_is_type(v, json_type_array))
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			json_object *mk = json_object_array_get_idx(v, i), *n, *t;
			if (json_object_object_get_ex(mk, "name", &n) &&
			    json_object_object_get_ex(mk, "t", &t)) {
				int k = mark_index(m, json_object_get_string(n));
				if (k >= 0)
					r->t[k] = json_object_get_double(t);
			}
		}
	if (json_object_object_get_ex(root, "samples", &v))
		r->samples = (long)json_object_array_length(v);
	if (!m->meta && json_object_object_get_ex(root, "meta", &v))
		m->meta = json_object_get(v);
	json_object_put(root);
	return 0;
}

/* ---- statistics ---- */

struct bm_stat {
	int n;
	double mean, median, stdev, min, max;
};

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void stat_of(const struct bm_conf *c, int repeat, int k, struct bm_stat *s)
{
	double v[BOOTMATRIX_MAX_REPEAT];
	memset(s, 0, sizeof *s);
	for (int i = 0; i < repeat; i++)
		if (c->runs[i].done && !isnan(c->runs[i].t[k]))
			v[s->n++] = c->runs[i].t[k];
	if (!s->n)
		return;
	qsort(v, (size_t)s->n, sizeof v[0], cmp_d);
	double sum = 0, sq = 0;
	for (int i = 0; i < s->n; i++)
		sum += v[i];
	s->mean = sum / s->n;
	for (int i = 0; i < s->n; i++)
		sq += (v[i] - s->mean) * (v[i] - s->mean);
	s->stdev = s->n > 1 ? sqrt(sq / (s->n - 1)) : 0;
	s->median = s->n % 2 ? v[s->n / 2] : (v[s->n / 2 - 1] + v[s->n / 2]) / 2;
	s->min = v[0];
	s->max = v[s->n - 1];
}

/* The configuration with the fewest vCPUs: T(1) when 1 is in the list. */
static int base_conf(const struct bm *m)
{
	int b = 0;
	for (int i = 1; i < m->nconf; i++)
		if (m->conf[i].ncpu < m->conf[b].ncpu)
			b = i;
	return b;
}

static void speedup(const struct bm *m, int ci, int k, double *sp, double *eff)
{
	struct bm_stat sb, sn;
	int b = base_conf(m);
	stat_of(&m->conf[b], m->repeat, k, &sb);
	stat_of(&m->conf[ci], m->repeat, k, &sn);
	*sp = *eff = NAN;
	if (sb.n && sn.n && sn.mean > 0) {
		*sp = sb.mean / sn.mean;
		*eff = *sp * m->conf[b].ncpu / m->conf[ci].ncpu;
	}
}

static void print_table(const struct bm *m)
{
	printf("# boot matrix: %d run%s per configuration; marker times in seconds since the "
	       "reset; speedup and efficiency against %d vCPU%s\n", m->repeat,
	       m->repeat == 1 ? "" : "s", m->conf[base_conf(m)].ncpu,
	       m->conf[base_conf(m)].ncpu == 1 ? "" : "s");
	printf("%-16s %5s %7s %9s %9s %9s %9s %9s %8s %8s\n", "MARKER", "VCPUS", "RUNS", "MEAN",
	       "MEDIAN", "STDEV", "MIN", "MAX", "SPEEDUP", "EFFIC");
	for (int k = 0; k < m->nnames; k++)
		for (int c = 0; c < m->nconf; c++) {
			struct bm_stat s;
			double sp, ef;
			char runs[32];
			stat_of(&m->conf[c], m->repeat, k, &s);
			speedup(m, c, k, &sp, &ef);
			snprintf(runs, sizeof runs, "%d/%d", s.n, m->repeat);
			if (!s.n) {
				printf("%-16s %5d %7s %9s\n", m->names[k], m->conf[c].ncpu, runs,
				       "not reached");
				continue;
			}
			printf("%-16s %5d %7s %9.4f %9.4f %9.4f %9.4f %9.4f %8.3f %8.3f\n",
			       m->names[k], m->conf[c].ncpu, runs, s.mean, s.median, s.stdev,
			       s.min, s.max, sp, ef);
		}
	if (!m->nnames)
		printf("(no markers reached: give --mark NAME=REGEX or --until)\n");
	fflush(stdout);
}

/* ---- the matrix report ---- */

static void jnum(FILE *f, double v)
{
	if (isnan(v) || isinf(v))
		fputs("null", f);
	else
		fprintf(f, "%.9g", v);
}

static void jstr(FILE *f, const char *s)
{
	fputc('"', f);
	export_json_str(f, s);
	fputc('"', f);
}

struct bm_write { struct bm *m; char *const *qemu; };

static long write_matrix(FILE *f, void *ctx)
{
	struct bm_write *w = ctx;
	struct bm *m = w->m;
	fputs("{\"schema\":\"qtop-prof-report\",\"version\":1,\"meta\":", f);
	if (m->meta) {
		/* the first boot's meta, its vCPU count left out (per configuration) */
		json_object *c = NULL;
		if (json_object_deep_copy(m->meta, &c, NULL) == 0 && c) {
			json_object_object_add(c, "vcpus", NULL);
			fputs(json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN), f);
			json_object_put(c);
		} else {
			fputs("{}", f);
		}
	} else {
		fputs("{\"qemu_version\":null,\"accelerator\":null,\"vcpus\":null,\"hz_asked\":0,"
		      "\"hz_achieved\":0,\"mode\":null,\"engine\":null,\"kernel_build_id\":null,"
		      "\"start_unix\":0,\"t0_monotonic_ns\":0,\"boot\":true}", f);
	}
	fprintf(f, ",\"matrix\":{\"version\":1,\"repeat\":%d,\"interrupted\":%s,"
		"\"baseline_vcpus\":%d,\"vcpus\":[",
		m->repeat, m->interrupted ? "true" : "false", m->conf[base_conf(m)].ncpu);
	for (int c = 0; c < m->nconf; c++)
		fprintf(f, "%s%d", c ? "," : "", m->conf[c].ncpu);
	fputs("],\"markers\":[", f);
	for (int k = 0; k < m->nnames; k++) {
		fputs(k ? "," : "", f);
		jstr(f, m->names[k]);
	}
	fputs("],\"command\":[", f);
	for (int i = 0; w->qemu[i]; i++) {
		fputs(i ? "," : "", f);
		jstr(f, w->qemu[i]);
	}
	fputs("],\"configurations\":[", f);
	for (int c = 0; c < m->nconf; c++) {
		const struct bm_conf *cf = &m->conf[c];
		fprintf(f, "%s{\"vcpus\":%d,\"folded\":", c ? "," : "", cf->ncpu);
		if (cf->folded[0])
			jstr(f, cf->folded);
		else
			fputs("null", f);
		fputs(",\"runs\":[", f);
		for (int r = 0, nr = 0; r < m->repeat; r++) {
			const struct bm_run *rn = &cf->runs[r];
			if (!rn->started)
				continue;
			fprintf(f, "%s{\"run\":%d,\"exit_status\":%d,\"samples\":%ld,\"markers\":{",
				nr++ ? "," : "", r + 1,
				WIFEXITED(rn->status) ? WEXITSTATUS(rn->status) : -1, rn->samples);
			int first = 1;
			for (int k = 0; k < m->nnames; k++)
				if (rn->done && !isnan(rn->t[k])) {
					fputs(first ? "" : ",", f);
					jstr(f, m->names[k]);
					fputc(':', f);
					jnum(f, rn->t[k]);
					first = 0;
				}
			fputs("}}", f);
		}
		fputs("],\"stats\":{", f);
		for (int k = 0; k < m->nnames; k++) {
			struct bm_stat s;
			double sp, ef;
			stat_of(cf, m->repeat, k, &s);
			speedup(m, c, k, &sp, &ef);
			fputs(k ? "," : "", f);
			jstr(f, m->names[k]);
			fprintf(f, ":{\"n\":%d,\"mean\":", s.n);
			jnum(f, s.n ? s.mean : NAN);
			fputs(",\"median\":", f);
			jnum(f, s.n ? s.median : NAN);
			fputs(",\"stdev\":", f);
			jnum(f, s.n ? s.stdev : NAN);
			fputs(",\"min\":", f);
			jnum(f, s.n ? s.min : NAN);
			fputs(",\"max\":", f);
			jnum(f, s.n ? s.max : NAN);
			fputs(",\"speedup\":", f);
			jnum(f, sp);
			fputs(",\"efficiency\":", f);
			jnum(f, ef);
			fputc('}', f);
		}
		fputs("}}", f);
	}
	fputs("]}}\n", f);
	return 0;
}

/* STEM-smpN.folded: STEM is path without a .folded/.json/.txt ending. */
static void folded_name(const char *base, int ncpu, char *out, size_t len)
{
	char stem[4000];
	snprintf(stem, sizeof stem, "%s", base);
	static const char *const ext[] = { ".folded", ".json", ".txt" };
	for (size_t i = 0; i < 3; i++) {
		size_t l = strlen(stem), e = strlen(ext[i]);
		if (l > e && !strcmp(stem + l - e, ext[i])) {
			stem[l - e] = 0;
			break;
		}
	}
	snprintf(out, len, "%s-smp%d.folded", stem, ncpu);
}

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[1024];
	if (!d)
		return;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
			unlink(p);
		}
	closedir(d);
	rmdir(dir);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int bootmatrix_run(const struct bootmatrix_opts *o)
{
	static struct bm m;     /* large: the runs' marker times */
	int ncpu[BOOTMATRIX_MAX_CONFS], rc = 0;
	char err[512];

	memset(&m, 0, sizeof m);
	m.o = o;
	m.repeat = o->repeat > 0 ? o->repeat : 1;
	if (!o->launch) {
		fputs("qtop-prof: --repeat and --smp-list rerun a --launch boot: give --launch "
		      "[options] -- QEMU-COMMAND\n", stderr);
		return 2;
	}
	if (m.repeat > BOOTMATRIX_MAX_REPEAT) {
		fprintf(stderr, "qtop-prof: --repeat: at most %d\n", BOOTMATRIX_MAX_REPEAT);
		return 2;
	}
	for (int i = 1; i < o->argc; i++)
		if (!strcmp(o->argv[i], "--")) {
			m.qemu_at = i + 1;
			break;
		}
	if (!m.qemu_at || m.qemu_at >= o->argc) {
		fputs("qtop-prof: --launch needs the QEMU command after --\n", stderr);
		return 2;
	}
	char *const *qemu = o->argv + m.qemu_at;
	if (o->smp_list) {
		m.nconf = bootmatrix_parse_smp(o->smp_list, ncpu, BOOTMATRIX_MAX_CONFS);
		if (m.nconf < 0) {
			fprintf(stderr, "qtop-prof: --smp-list %s: give distinct vCPU counts "
				"1-1024, e.g. 1,2,4,8 (at most %d)\n", o->smp_list,
				BOOTMATRIX_MAX_CONFS);
			return 2;
		}
	} else {
		m.nconf = 1;
		ncpu[0] = bootmatrix_smp_of(qemu);
	}
	const char *tmp = getenv("TMPDIR");
	snprintf(m.dir, sizeof m.dir, "%s/qtop-matrix-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(m.dir)) {
		fprintf(stderr, "qtop-prof: mkdtemp %s: %s\n", m.dir, strerror(errno));
		return 1;
	}
	struct sigaction sa, old_int, old_term;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = bm_on_signal;   /* no SA_RESTART: waitpid returns EINTR */
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	bm_signal = 0;

	for (int c = 0; c < m.nconf; c++) {
		m.conf[c].ncpu = ncpu[c];
		m.conf[c].runs = calloc((size_t)m.repeat, sizeof *m.conf[c].runs);
		m.conf[c].merged = profile_new();
		if (!m.conf[c].runs || !m.conf[c].merged) {
			fputs("qtop-prof: out of memory\n", stderr);
			rc = 1;
			goto out;
		}
		for (int r = 0; r < m.repeat; r++)
			for (int k = 0; k < BM_MAX_MARKS; k++)
				m.conf[c].runs[r].t[k] = NAN;
	}
	int total = m.nconf * m.repeat, done = 0;
	double t_start = now_s();
	for (int r = 0; r < m.repeat && !bm_signal; r++) {
		/* repeats outermost: a drift of the host over time spreads over
		 * every configuration alike */
		for (int c = 0; c < m.nconf && !bm_signal; c++) {
			struct bm_conf *cf = &m.conf[c];
			struct bm_run *rn = &cf->runs[r];
			char js[700], fo[700], lg[700];
			snprintf(js, sizeof js, "%s/run-%d-%d.json", m.dir, cf->ncpu, r + 1);
			snprintf(fo, sizeof fo, "%s/run-%d-%d.folded", m.dir, cf->ncpu, r + 1);
			snprintf(lg, sizeof lg, "%s/run-%d-%d.log", m.dir, cf->ncpu, r + 1);
			char **q = o->smp_list ? bootmatrix_smp_argv(qemu, cf->ncpu) : NULL;
			char **a = (q || !o->smp_list) ? child_argv(&m, q ? q : qemu, js, fo) : NULL;
			if (!a) {
				bootmatrix_free_argv(q);
				fputs("qtop-prof: out of memory\n", stderr);
				rc = 1;
				goto out;
			}
			fprintf(stderr, "qtop-prof: matrix: boot %d/%d: %d vCPU%s, run %d/%d "
				"(%.0f s so far)\n", done + 1, total, cf->ncpu,
				cf->ncpu == 1 ? "" : "s", r + 1, m.repeat, now_s() - t_start);
			int st = 0;
			rn->started = 1;
			int e = run_child(a, lg, &st);
			free(a);
			bootmatrix_free_argv(q);
			rn->status = st;
			done++;
			if (e < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0 ||
			    read_report(&m, rn, js) < 0) {
				fprintf(stderr, "qtop-prof: matrix: boot %d (%d vCPUs, run %d) failed "
					"(%s %d); its output:\n", done, cf->ncpu, r + 1,
					WIFEXITED(st) ? "status" : "signal",
					WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
				/* its last lines (qtop-prof's and QEMU's messages) */
				FILE *lf = fopen(lg, "r");
				char lines[12][256];
				int nl = 0;
				while (lf && fgets(lines[nl % 12], sizeof lines[0], lf))
					nl++;
				for (int i = nl > 12 ? nl - 12 : 0; i < nl; i++)
					fprintf(stderr, "  %s", lines[i % 12]);
				if (lf)
					fclose(lf);
				rc = 1;
				continue;
			}
			rn->done = 1;
			struct folded_diag d;
			memset(&d, 0, sizeof d);
			if (folded_load_path(cf->merged, fo, &d, err, sizeof err) < 0)
				fprintf(stderr, "qtop-prof: matrix: %s\n", err);
			char ml[512] = "";
			size_t l = 0;
			for (int k = 0; k < m.nnames && l < sizeof ml; k++)
				if (!isnan(rn->t[k]))
					l += (size_t)snprintf(ml + l, sizeof ml - l, " %s %.3f s",
							      m.names[k], rn->t[k]);
			fprintf(stderr, "qtop-prof: matrix: boot %d/%d done: %ld samples;%s\n",
				done, total, rn->samples, *ml ? ml : " no marker reached");
		}
	}
	if (bm_signal) {
		/* what was measured is kept: the boots that finished make the
		 * table, the merged profiles and the report (marked) */
		int ok = 0;
		for (int c = 0; c < m.nconf; c++)
			for (int r = 0; r < m.repeat; r++)
				ok += m.conf[c].runs[r].done;
		fprintf(stderr, "qtop-prof: matrix: %s after %d of %d boots%s\n",
			strsignal(bm_signal), done, total,
			ok ? ": the report holds the boots that finished" : ": no boot finished, no report");
		m.interrupted = 1;
		if (!ok) {
			rc = 130;
			goto out;
		}
	}
	print_table(&m);
	const char *stem = o->out ? o->out : o->json ? o->json : "qtop-matrix";
	for (int c = 0; c < m.nconf; c++) {
		struct bm_conf *cf = &m.conf[c];
		char want[4096];
		if (!cf->merged->samples)
			continue;
		folded_name(stem, cf->ncpu, want, sizeof want);
		if (folded_save(cf->merged, 0, 0, want, cf->folded, sizeof cf->folded,
				err, sizeof err) < 0) {
			fprintf(stderr, "qtop-prof: matrix: %s\n", err);
			cf->folded[0] = 0;
			rc = 1;
		} else {
			int nd = 0;
			for (int r = 0; r < m.repeat; r++)
				nd += cf->runs[r].done;
			fprintf(stderr, "qtop-prof: matrix: %d vCPU%s: %llu samples of %d boot%s "
				"merged in %s\n", cf->ncpu, cf->ncpu == 1 ? "" : "s",
				(unsigned long long)cf->merged->samples, nd,
				nd == 1 ? "" : "s", cf->folded);
		}
	}
	if (o->json) {
		char path[4096];
		struct bm_write w = { &m, qemu };
		if (savefile_save(o->json, ".json", write_matrix, &w, path,
				  sizeof path, err, sizeof err) < 0) {
			fprintf(stderr, "qtop-prof: --json: %s\n", err);
			rc = 1;
		} else {
			fprintf(stderr, "qtop-prof: matrix report written to %s\n", path);
		}
	}
	if (m.interrupted)
		rc = 130;
out:
	remove_dir(m.dir);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	for (int c = 0; c < m.nconf; c++) {
		free(m.conf[c].runs);
		profile_free(m.conf[c].merged);
	}
	json_object_put(m.meta);
	return rc;
}
