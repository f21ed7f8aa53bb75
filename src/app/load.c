/* load.c - the run modes over finished profiles: --load FILE and
 * --diff BEFORE AFTER. */
#include "app_int.h"
#include "timeline.h"
#include "export.h"
#include "folded.h"
#include "pdiff.h"
#include "profile.h"
#include "profload.h"
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


/* --load of a pprof or speedscope file or a JSON report: read whole
 * (bounded), import. */
static int load_other(const struct options *o, struct profile *p, const char *path,
		      int fmt)
{
	char err[512];
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	if (!f) {
		fprintf(stderr, "qtop-prof: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (n < cap)
			break;
		if (cap > EXPORT_MAX_INPUT) {
			fprintf(stderr, "qtop-prof: %s: larger than %u MiB\n", path,
				EXPORT_MAX_INPUT >> 20);
			free(buf);
			buf = NULL;
			n = 0;
			break;
		}
		char *nb = realloc(buf, cap * 2);
		if (!nb) {
			free(buf);
			buf = NULL;
		}
		buf = nb;
		cap *= 2;
	}
	int ioerr = ferror(f);
	if (f != stdin)
		fclose(f);
	if (!buf || ioerr) {
		if (ioerr)
			fprintf(stderr, "qtop-prof: reading %s failed\n", path);
		free(buf);
		return -1;
	}
	if (fmt == EXPORT_UNKNOWN)
		fmt = report_detect(buf, n) ? EXPORT_JSON : export_detect(buf, n);
	long r = fmt == EXPORT_PPROF ? import_pprof(p, buf, n, err, sizeof err)
	       : fmt == EXPORT_JSON ? import_report(p, buf, n, o->from, o->to, err, sizeof err)
				    : import_speedscope(p, buf, n, err, sizeof err);
	free(buf);
	if (r < 0) {
		fprintf(stderr, "qtop-prof: %s: %s file: %s\n", path,
			fmt == EXPORT_JSON ? "JSON report" : export_format_name(fmt), err);
		return -1;
	}
	if (r == 0) {
		fprintf(stderr, "qtop-prof: %s: no samples in this file\n", path);
		return -1;
	}
	return 0;
}

/* What a file to --load holds, from its first bytes. */
static int sniff(const char *path)
{
	char head[4096];
	if (!strcmp(path, "-"))
		return EXPORT_FOLDED;   /* stdin cannot be looked at twice */
	FILE *f = fopen(path, "rb");
	if (!f)
		return EXPORT_FOLDED;   /* folded_load_path says why */
	size_t n = fread(head, 1, sizeof head, f);
	fclose(f);
	return report_detect(head, n) ? EXPORT_JSON : export_detect(head, n);
}

int app_run_load(const struct options *o)
{
	char err[512];
	struct folded_diag d;
	struct profile *p = profile_new();
	int rc, fmt;

	if (!p) {
		fputs("qtop-prof: out of memory\n", stderr);
		return 1;
	}
	fmt = sniff(o->load);
	if ((o->from || o->to) && fmt != EXPORT_JSON) {
		fprintf(stderr, "qtop-prof: --from/--to: %s has no sample times (only a JSON "
			"report, a live run or a replay has)\n", o->load);
		profile_free(p);
		return 1;
	}
	if (fmt != EXPORT_FOLDED) {
		if (load_other(o, p, o->load, fmt) < 0) {
			profile_free(p);
			return 1;
		}
		/* a JSON report's samples keep their times for the TUI's timeline */
		struct samplelog *tl = fmt == EXPORT_JSON && !o->batch ? timeline_load_report(o->load,
			o->from, o->to, &((struct options *)o)->ms, NULL, err, sizeof err) : NULL;
		rc = run_static(o, p, tl, o->load, NULL);
		samplelog_free(tl);
		profile_free(p);
		return rc;
	}
	memset(&d, 0, sizeof d);
	if (folded_load_path(p, o->load, &d, err, sizeof err) < 0) {
		fprintf(stderr, "qtop-prof: %s\n", err);
		profile_free(p);
		return 1;
	}
	if (d.lines_bad) {
		fprintf(stderr, "qtop-prof: %s: %ld bad line(s) skipped, first at line %ld: %s\n",
			o->load, d.lines_bad, d.first_bad_line, d.first_bad_msg);
		fprintf(stderr, "qtop-prof: %s: bad lines:", o->load);
		for (int i = 0; i < d.nbad_lines; i++)
			fprintf(stderr, " %ld", d.bad_lines[i]);
		fprintf(stderr, "%s\n", d.lines_bad > d.nbad_lines ? " ..." : "");
	}
	if (d.lines_ok == 0) {
		fprintf(stderr, "qtop-prof: %s: no stacks in this file\n", o->load);
		profile_free(p);
		return 1;
	}
	rc = run_static(o, p, NULL, o->load, NULL);
	profile_free(p);
	return rc;
}

/* ---- --diff BEFORE AFTER ---- */

static void print_diff_table(const struct options *o, const struct profile *b,
			     const struct profile *a)
{
	struct pdiff_row *rows = NULL;
	long n = pdiff_table(b, 0, a, 0, !o->no_normalize, &rows);

	if (n < 0) {
		fputs("qtop-prof: out of memory\n", stderr);
		return;
	}
	pdiff_sort_rows(b, a, rows, (size_t)n, PD_SORT_DSELF, 0);
	printf("# before: %s (%" PRIu64 " samples)  after: %s (%" PRIu64 " samples)\n",
	       o->diff_before, b->samples, o->diff_after, a->samples);
	printf("# %s; DELTA = after - before in percentage points, sorted by |self delta|\n",
	       o->no_normalize ? "not normalized: both as % of before's samples"
			       : "normalized: each as % of its own samples");
	printf("%7s %7s %7s  %7s %7s %7s  %-5s  %-40s %s\n", "SELF_B%", "SELF_A%",
	       "DELTA", "TOTAL_B%", "TOTAL_A%", "DELTA", "STATE", "FUNCTION", "MODULE");
	for (long i = 0; i < n && i < o->top; i++) {
		const struct pdiff_row *r = &rows[i];
		const struct profile *p = pdiff_row_profile(b, a, r);
		printf("%7.2f %7.2f %+7.2f  %7.2f %7.2f %+7.2f  %-5s  %-40s %s%s\n",
		       r->self_pb, r->self_pa, r->dself, r->total_pb, r->total_pa,
		       r->dtotal, r->state == PD_BOTH ? "=" : pdiff_state_mark(r->state),
		       profile_str_get(p, r->name), profile_str_get(p, r->module),
		       r->kind == PK_KERNEL ? " [k]" : "");
	}
	free(rows);
}

/* Things worth knowing before reading the deltas. */
static void diff_notes(const struct options *o, const struct profile *b,
		       const struct profile *a)
{
	struct pdiff_row *rows = NULL;
	long n = pdiff_table(b, 0, a, 0, 1, &rows), common = 0;
	for (long i = 0; i < n; i++)
		common += rows[i].state == PD_BOTH;
	free(rows);
	if (n > 0 && common == 0)
		fprintf(stderr, "qtop-prof: warning: %s and %s have no function in "
			"common: are they profiles of the same program?\n",
			o->diff_before, o->diff_after);
	if (o->no_normalize && a->samples != b->samples)
		fprintf(stderr, "qtop-prof: --no-normalize: %" PRIu64 " samples before, %"
			PRIu64 " after (%+.1f %%): the difference in length shows as %s\n",
			b->samples, a->samples,
			100.0 * ((double)a->samples - (double)b->samples) / (double)b->samples,
			a->samples > b->samples ? "growth" : "shrinkage");
}

static struct profile *diff_load(const struct options *o, const char *path,
				 const char *which)
{
	char err[768];
	struct profload_info info;
	struct profload_opts lo = { .sym = &o->sym, .filter = o->filter,
				    .max_samples = o->samples };
	struct profile *p = profile_new();

	if (!p) {
		fputs("qtop-prof: out of memory\n", stderr);
		return NULL;
	}
	if (profload_path(p, path, &lo, &info, err, sizeof err) < 0) {
		fprintf(stderr, "qtop-prof: --diff %s: %s\n", which, err);
		profile_free(p);
		return NULL;
	}
	if (info.warning[0])
		fprintf(stderr, "qtop-prof: warning: %s: %s\n", path, info.warning);
	return p;
}

int app_run_diff(struct options *o)
{
	char err[1024], pa[4096], pd[4096];
	struct profile *b = diff_load(o, o->diff_before, "BEFORE");
	struct profile *a = b ? diff_load(o, o->diff_after, "AFTER") : NULL;
	int rc = 0;

	if (!a) {
		profile_free(b);
		return 1;
	}
	diff_notes(o, b, a);
	if (o->batch) {
		if (o->folded_stdout) {
			if (pdiff_write_folded(b, 0, a, 0, !o->no_normalize, stdout) < 0)
				rc = 1;
		} else {
			print_diff_table(o, b, a);
		}
		if (o->nout) {
			if (pdiff_save(b, 0, a, 0, !o->no_normalize, o->out[0].path, pa, pd,
				       sizeof pa, err, sizeof err) < 0) {
				fprintf(stderr, "qtop-prof: %s\n", err);
				rc = 1;
			} else {
				fprintf(stderr, "qtop-prof: after saved to %s, both columns to %s\n",
					pa, pd);
			}
		}
		fflush(stdout);
	} else {
		struct static_src ss = { o->diff_after, NULL, a->samples, app_mono_s() };
		struct app_source src = { .ctx = &ss, .status = static_status };
		o->tui.diff_before = b;
		o->tui.diff_before_name = o->diff_before;
		o->tui.diff_after_name = o->diff_after;
		if (tui_run(&o->tui, a, &src, err, sizeof err) < 0) {
			fprintf(stderr, "qtop-prof: %s\n", err);
			rc = 1;
		}
	}
	profile_free(a);
	profile_free(b);
	return rc;
}
