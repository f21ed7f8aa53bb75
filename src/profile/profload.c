/* profload.c - saved profiles of any known format (see profload.h). */
#include "profload.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "errmsg.h"
#include "folded.h"
#include "record.h"

/* ---- folded stacks (ours, perf + stackcollapse, inferno) ---- */

static int folded_probe(const unsigned char *head, size_t n)
{
	return 1;      /* text: the fallback */
}

static int folded_reader(struct profile *p, const char *path,
			 const struct profload_opts *o,
			 struct profload_info *info, char *err, size_t errlen)
{
	struct folded_diag d;
	int rc = folded_load_path(p, path, &d, err, errlen);
	if (rc < 0)
		return rc;
	if (d.lines_bad && !o->lenient) {
		/* a diff of a partly read file would show made-up deltas */
		seterr(err, errlen, "%s: %s (%ld bad line%s)", path,
		       d.first_bad_msg, d.lines_bad, d.lines_bad > 1 ? "s" : "");
		return -EINVAL;
	}
	if (d.lines_bad) {
		info->skipped = d.lines_bad;
		snprintf(info->warning, sizeof info->warning,
			 "%ld bad line(s) skipped, first: %s", d.lines_bad,
			 d.first_bad_msg);
	}
	return 0;
}

static const struct profload_reader folded_fmt = {
	"folded", folded_probe, folded_reader,
};

/* ---- raw sample recordings (--record), replayed ---- */

static int qrec_probe(const unsigned char *head, size_t n)
{
	return n >= 8 && !memcmp(head, RECORD_MAGIC, 8);
}

static int qrec_reader(struct profile *p, const char *path,
		       const struct profload_opts *o,
		       struct profload_info *info, char *err, size_t errlen)
{
	static const struct symbolizer_config none;
	struct record_reader *r = record_open(path, err, errlen);
	if (!r)
		return -EINVAL;
	struct symbolizer *sym = symbolizer_new(o->sym ? o->sym : &none, err,
						errlen);
	if (!sym) {
		record_reader_close(r);
		return -EINVAL;
	}
	const char *w = symbolizer_warnings(sym);
	if (w && *w)
		snprintf(info->warning, sizeof info->warning, "%.*s",
			 (int)strcspn(w, "\n"), w);
	struct pipeline pl;
	memset(&pl, 0, sizeof pl);
	pl.sym = sym;
	pl.filter = o->filter;
	const struct qp_sample *s;
	char rerr[256];
	int rc;
	while ((rc = record_next(r, &s, rerr, sizeof rerr)) == 1) {
		pipeline_feed(&pl, p, s);
		if (o->max_samples && pl.consumed >= o->max_samples)
			break;
	}
	record_reader_close(r);
	symbolizer_free(sym);
	if (rc < 0) {
		/* a truncated recording: as --replay, keep what came before,
		 * unless that is nothing */
		if (!p->samples) {
			seterr(err, errlen, "%s", rerr);
			return -EINVAL;
		}
		snprintf(info->warning, sizeof info->warning,
			 "%s (using the %llu samples before it)", rerr,
			 (unsigned long long)pl.consumed);
	}
	return 0;
}

static const struct profload_reader qrec_fmt = {
	"qrec", qrec_probe, qrec_reader,
};

/* One line per format; folded text last (it takes anything). */
const struct profload_reader *const profload_readers[] = {
	&qrec_fmt,
	&folded_fmt,
	NULL,
};

int profload_path(struct profile *p, const char *path,
		  const struct profload_opts *o, struct profload_info *info,
		  char *err, size_t errlen)
{
	static const struct profload_opts defaults;
	struct profload_info dummy;
	if (!info)
		info = &dummy;
	memset(info, 0, sizeof *info);
	if (!o)
		o = &defaults;
	if (!p || !path) {
		seterr(err, errlen, "load: bad arguments");
		return -EINVAL;
	}
	unsigned char head[64];
	size_t n = 0;
	if (strcmp(path, "-")) {
		FILE *f = fopen(path, "rb");
		if (!f) {
			int e = errno;
			seterr(err, errlen, "cannot open %s: %s", path, strerror(e));
			return -e;
		}
		n = fread(head, 1, sizeof head, f);
		fclose(f);
	}
	const struct profload_reader *rd = NULL;
	for (int i = 0; profload_readers[i] && !rd; i++)
		if (profload_readers[i]->probe(head, n))
			rd = profload_readers[i];
	if (!rd) {
		seterr(err, errlen, "%s: unknown profile format", path);
		return -EINVAL;
	}
	info->format = rd->name;
	int rc = rd->load(p, path, o, info, err, errlen);
	if (rc < 0)
		return rc;
	if (!p->samples) {
		seterr(err, errlen, "%s: no samples in this %s file", path, rd->name);
		return -ENODATA;
	}
	return 0;
}
