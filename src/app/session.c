/* session.c - the pipeline set-up the run modes share (symbolizer,
 * profile, sample log), and --replay FILE. */
#include "app_int.h"
#include "elffile.h"
#include "guest.h"
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


/* The exports' mappings name the host's ELF files and their build-ids
 * (the kernel's and the programs' from the guest's images, read already).
 * ctx: the session. */
static void log_module(void *ctx, const char *name, const char *path)
{
	struct session *s = ctx;
	const char *kp = s->guest ? guest_kernel_path(s->guest) : NULL;
	const struct elffile *f = s->guest ? guest_file(s->guest, path) : NULL;
	char bid[128] = "";
	if (kp && !strcmp(kp, path))
		guest_build_id(s->guest, bid, sizeof bid);
	else if (f)             /* a sysroot program, mapped by the guest */
		elffile_build_id(f->elf, bid, sizeof bid);
	else
		report_build_id(path, bid, sizeof bid);
	samplelog_set_module(s->log, name, path, bid);
}

/* The symbolizer of o->sym over the guest's files, its warnings printed
 * (NULL after a message). */
static struct symbolizer *open_symbolizer(const struct options *o,
					  struct guest *g)
{
	char err[512];
	struct symbolizer_config cfg = o->sym;
	cfg.guest = g;
	struct symbolizer *s = symbolizer_new(&cfg, err, sizeof err);
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

int session_open_guest(struct session *s, const struct options *o)
{
	char err[512];
	struct guest_config gc = { .kernel = o->sym.kernel,
				   .symbols = o->sym.symbols,
				   .sysroot = o->sym.sysroot };

	if (s->guest)
		return 0;
	s->guest = guest_open(&gc, err, sizeof err);
	if (!s->guest) {
		fprintf(stderr, "qtop-prof: %s\n", err);
		return -1;
	}
	return 0;
}

int session_open(struct session *s, const struct options *o)
{
	if (session_open_guest(s, o) < 0)
		return -1;
	s->sym = open_symbolizer(o, s->guest);
	if (!s->sym) {
		session_close(s);
		return -1;
	}
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
	symbolizer_each_module(s->sym, log_module, s);
	return 0;
}

void session_close(struct session *s)
{
	profile_free(s->p);
	samplelog_free(s->log);
	symbolizer_free(s->sym);
	guest_close(s->guest);   /* after the symbolizer, which borrows it */
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
	memset(&ses, 0, sizeof ses);
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
		if (guest_build_id(ses.guest, bid, sizeof bid) == 0)
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
