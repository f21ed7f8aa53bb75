/* session.c - the pipeline set-up the run modes share (symbolizer,
 * profile, sample log), and --replay FILE. */
#include "app_int.h"
#include "pipeline.h"
#include "profile.h"
#include "record.h"
#include "report.h"
#include "samplelog.h"
#include "symbolizer.h"

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


/* The exports' mappings name the host's ELF files and their build-ids. */
void log_module(void *ctx, const char *name, const char *path)
{
	char bid[128] = "";
	report_build_id(path, bid, sizeof bid);
	samplelog_set_module(ctx, name, path, bid);
}

struct symbolizer *open_symbolizer(const struct options *o)
{
	char err[512];
	struct symbolizer *s = symbolizer_new(&o->sym, err, sizeof err);
	if (!s) {
		fprintf(stderr, "qtop-prof: %s\n", err);
		return NULL;
	}
	for (const char *w = symbolizer_warnings(s), *nl; *w; w = nl + 1) {
		nl = strchr(w, '\n');
		if (!nl)
			break;
		fprintf(stderr, "qtop-prof: warning: %.*s\n", (int)(nl - w), w);
	}
	return s;
}

int session_open(struct session *s, const struct options *o)
{
	memset(s, 0, sizeof *s);
	s->sym = open_symbolizer(o);
	if (!s->sym)
		return -1;
	s->p = profile_new();
	s->log = samplelog_new(0);
	if (!s->p || !s->log) {
		fputs("qtop-prof: out of memory\n", stderr);
		session_close(s);
		return -1;
	}
	s->pl.sym = s->sym;
	s->pl.filter = o->filter;
	s->pl.log = s->log;
	symbolizer_each_module(s->sym, log_module, s->log);
	return 0;
}

void session_close(struct session *s)
{
	profile_free(s->p);
	samplelog_free(s->log);
	symbolizer_free(s->sym);
	memset(s, 0, sizeof *s);
}

int app_run_replay(struct options *o)
{
	char err[512], symwarn[512] = "";
	struct record_reader *r = record_open(o->replay, err, sizeof err);
	struct session ses;
	const struct qp_sample *s;
	int rc;

	if (!r) {
		fprintf(stderr, "qtop-prof: %s\n", err);
		return 1;
	}
	if (session_open(&ses, o) < 0) {
		record_reader_close(r);
		return 1;
	}
	struct pipeline *pl = &ses.pl;
	struct profile *p = ses.p;
	struct samplelog *log = ses.log;
	while ((rc = record_next(r, &s, err, sizeof err)) == 1) {
		pipeline_feed(pl, p, s);
		pipeline_symcheck(pl, 200, symwarn, sizeof symwarn);
		if (o->samples && pl->consumed >= o->samples)
			break;
	}
	if (rc < 0)   /* keep what was read: a truncated file still gives a profile */
		fprintf(stderr, "qtop-prof: %s (using the %" PRIu64 " samples before it)\n",
			err, pl->consumed);
	pipeline_symcheck(pl, 1, symwarn, sizeof symwarn);   /* a short file */
	record_reader_close(r);
	/* t0: the first sample (a recording does not know the reset) */
	uint64_t t0 = samplelog_count(log) ? samplelog_sample(log, 0)->t_ns : 0;
	atomic_store(&o->ms.t0_ns, t0);
	markers_scan_log(&o->ms, log);
	if (o->batch && (o->from || o->to || o->json || o->ms.n)) {
		struct report_meta meta = { .hz_asked = o->samp.hz, .t0_ns = t0,
			.source = o->replay };
		char bid[128] = "";
		if (o->sym.kernel && report_build_id(o->sym.kernel, bid, sizeof bid) == 0)
			meta.build_id = bid;
		rc = batch_finish(o, p, log, &o->ms, &meta);
		if (symwarn[0])
			fprintf(stderr, "qtop-prof: warning: %s\n", symwarn);
	} else {
		rc = run_static(o, p, log, o->replay, symwarn[0] ? symwarn : NULL);
	}
	session_close(&ses);
	return rc;
}
