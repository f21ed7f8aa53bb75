/* output.c - what a run ends with: the --batch table and -o files, the
 * window and markers, the JSON report, the TUI over a finished profile. */
#include "app_int.h"
#include "export.h"
#include "folded.h"
#include "hotspot.h"
#include "markers.h"
#include "profile.h"
#include "report.h"
#include "samplelog.h"
#include "tui.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t got_signal;
static void on_signal(int sig) { got_signal = sig; }

double app_mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- output of batch mode ---- */

static void print_table(const struct profile *p, int top)
{
	struct hot_row *rows = NULL;
	long n = hotspot_build(p, 0, &rows);

	if (n < 0) {
		fputs("qtop-prof: out of memory\n", stderr);
		return;
	}
	hotspot_sort(p, rows, (size_t)n, HOT_SORT_SELF, 0);
	printf("%7s %7s %9s  %-40s %s\n", "SELF%", "TOTAL%", "SAMPLES", "FUNCTION", "MODULE");
	for (long i = 0; i < n && i < top; i++) {
		double tot = p->samples ? (double)p->samples : 1;
		printf("%6.2f%% %6.2f%% %9" PRIu64 "  %-40s %s%s\n",
		       100.0 * (double)rows[i].self / tot, 100.0 * (double)rows[i].total / tot,
		       rows[i].self, profile_str_get(p, rows[i].name),
		       profile_str_get(p, rows[i].module),
		       rows[i].kind == PK_KERNEL ? " [k]" : "");
	}
	free(rows);
}

/* The log holds the first samplelog_max() samples; past that, say so. */
void note_log_full(const struct samplelog *log)
{
	if (samplelog_dropped(log))
		fprintf(stderr, "qtop-prof: sample log full: exports hold the first %" PRIu64
			" samples; the folded profile holds all\n", samplelog_count(log));
}

int write_outputs(const struct options *o, const struct profile *p,
			 const struct samplelog *log)
{
	char path[4096], err[512];
	int rc = 0;

	if (o->folded_stdout) {
		if (folded_write(p, 0, 0, stdout) < 0)
			rc = 1;
	} else {
		print_table(p, o->top);
	}
	for (int i = 0; i < o->nout; i++) {
		struct export_input in = { .p = p, .log = log,
			.period_ns = o->samp.hz > 0 ? 1e9 / o->samp.hz : 0,
			.name = o->replay ? o->replay : o->load ? o->load : o->samp.qmp_spec };
		int f = o->out[i].format;
		if (f != EXPORT_FOLDED && log && !samplelog_aggregated(log))
			note_log_full(log);
		if (export_save(f, &in, o->out[i].path, path, sizeof path, err, sizeof err) < 0) {
			fprintf(stderr, "qtop-prof: %s\n", err);
			rc = 1;
		} else {
			fprintf(stderr, "qtop-prof: %" PRIu64 " samples written to %s (%s)\n",
				p->samples, path, export_format_name(f));
		}
	}
	fflush(stdout);
	return rc;
}


/* A signal ended the TUI: the profile collected so far is not lost. */
int save_on_signal(const struct profile *p, int sig)
{
	char path[4096], err[512];

	if (!p->samples)
		return 0;
	if (folded_save(p, 0, 0, NULL, path, sizeof path, err, sizeof err) < 0) {
		fprintf(stderr, "qtop-prof: %s: could not save the profile: %s\n",
			strsignal(sig), err);
		return 1;
	}
	fprintf(stderr, "qtop-prof: %s: %" PRIu64 " samples saved to %s\n",
		strsignal(sig), p->samples, path);
	return 0;
}

void static_status(void *ctx, struct app_status *st)
{
	struct static_src *s = ctx;
	memset(st, 0, sizeof *st);
	st->guest_state = "file";
	st->samples = s->n;
	st->elapsed_s = app_mono_s() - s->t0;
	st->message = s->what;
	st->warning = s->warning;
}

void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* warning: printed on stderr (after the TUI, which shows it too), or NULL */
int run_static(const struct options *o, struct profile *p,
		      struct samplelog *log, const char *what, const char *warning)
{
	char err[512];
	struct static_src ss = { what, warning, p->samples, app_mono_s() };
	struct app_source src = { .ctx = &ss, .status = static_status, .log = log };
	int rc = 0;

	if (o->batch) {
		rc = write_outputs(o, p, log);
		if (o->json) {
			/* a loaded profile: its stacks, aggregated (no times) */
			struct samplelog *agg = log ? NULL : samplelog_new(0);
			char path[4096];
			struct report_meta meta = { .source = what };
			struct report_input in = { .meta = &meta, .ms = &((struct options *)o)->ms,
						   .log = log ? log : agg };
			if (!in.log || (agg && samplelog_from_profile(agg, p, 0, 0) < 0)) {
				fputs("qtop-prof: out of memory\n", stderr);
				rc = 1;
			} else if (report_save(&in, o->json, path, sizeof path, err, sizeof err) < 0) {
				fprintf(stderr, "qtop-prof: --json: %s\n", err);
				rc = 1;
			} else {
				fprintf(stderr, "qtop-prof: JSON report written to %s\n", path);
			}
			samplelog_free(agg);
		}
	} else if (tui_run(&o->tui, p, &src, err, sizeof err) < 0) {
		fprintf(stderr, "qtop-prof: %s\n", err);
		return 1;
	}
	if (warning)
		fprintf(stderr, "qtop-prof: warning: %s\n", warning);
	return rc;
}


/* --from/--to as monotonic ns with t0 = 0 s (0: open).  -1 with a message. */
static int resolve_window(const struct options *o, struct markers *ms, uint64_t t0,
			  uint64_t *from, uint64_t *to)
{
	const char *names[MARKERS_MAX];
	double times[MARKERS_MAX], v;
	char err[256];
	const char *spec[2] = { o->from, o->to };
	uint64_t *out[2] = { from, to };

	*from = *to = 0;
	for (int i = 0; i < ms->n; i++) {
		uint64_t t = markers_time(ms, i);
		names[i] = ms->m[i].name;
		times[i] = t ? ((double)t - (double)t0) / 1e9 : NAN;
	}
	for (int k = 0; k < 2; k++) {
		if (!spec[k])
			continue;
		if (report_time_spec(spec[k], names, times, ms->n, &v, err, sizeof err) < 0) {
			fprintf(stderr, "qtop-prof: --%s %s\n", k ? "to" : "from", err);
			return -1;
		}
		double ns = (double)t0 + v * 1e9;
		*out[k] = ns < 1 ? 1 : (uint64_t)ns;
	}
	return 0;
}

/* The markers reached, for --batch: seconds since t0 and since the
 * previous one. */
static void print_markers(struct markers *ms, int boot)
{
	char line[1024];

	if (!ms->n)
		return;
	markers_line(ms, line, sizeof line);
	fprintf(stderr, "qtop-prof: markers (seconds since the %s): %s\n",
		boot ? "reset" : "start", *line ? line : "none reached");
	for (int i = 0; i < ms->n; i++)
		if (!markers_time(ms, i))
			fprintf(stderr, "qtop-prof: marker %s: not reached\n", ms->m[i].name);
}

/* The end of a batch run (live or replay): the window, the markers, the
 * table and -o files, and the JSON report. */
int batch_finish(const struct options *o, struct profile *p,
			struct samplelog *log, struct markers *ms,
			const struct report_meta *meta)
{
	uint64_t from, to;
	struct profile *fp = p;
	const struct samplelog *flog = log;
	int rc;

	if (resolve_window(o, ms, meta->t0_ns, &from, &to) < 0)
		return 1;
	print_markers(ms, meta->boot);
	if (from || to) {
		fp = profile_new();
		long n = fp ? report_profile_from_log(fp, log, from, to) : -ENOMEM;
		if (n < 0) {
			fputs("qtop-prof: out of memory\n", stderr);
			profile_free(fp);
			return 1;
		}
		fprintf(stderr, "qtop-prof: --from/--to: %ld of %" PRIu64 " samples in the window\n",
			n, p->samples);
		flog = NULL;   /* exports: the window's aggregated stacks */
		note_log_full(log);
	}
	rc = write_outputs(o, fp, flog);
	if (fp != p)
		profile_free(fp);
	if (o->json) {
		char path[4096], err[512];
		struct report_input in = { .meta = meta, .ms = ms, .log = log,
					   .from_ns = from, .to_ns = to };
		if (report_save(&in, o->json, path, sizeof path, err, sizeof err) < 0) {
			fprintf(stderr, "qtop-prof: --json: %s\n", err);
			rc = 1;
		} else {
			fprintf(stderr, "qtop-prof: JSON report written to %s\n", path);
		}
	}
	return rc;
}
