/* export.c - format choice, dispatch and saving of exports (export.h). */
#include "export.h"
#include "export_int.h"
#include "folded.h"
#include "savefile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name, *ext;
} formats[EXPORT_NFORMATS] = {
	[EXPORT_FOLDED] = { "folded", ".folded" },
	[EXPORT_PPROF] = { "pprof", ".pb.gz" },
	[EXPORT_SPEEDSCOPE] = { "speedscope", ".speedscope.json" },
	[EXPORT_PERF] = { "perf-script", ".perf-script" },
};

int export_format_parse(const char *name)
{
	if (!name)
		return EXPORT_UNKNOWN;
	for (int i = 0; i < EXPORT_NFORMATS; i++)
		if (!strcmp(name, formats[i].name))
			return i;
	if (!strcmp(name, "perf"))
		return EXPORT_PERF;
	if (!strcmp(name, "json"))
		return EXPORT_JSON;
	return EXPORT_UNKNOWN;
}

static int ends(const char *s, const char *sfx)
{
	size_t a = strlen(s), b = strlen(sfx);
	return a > b && !strcasecmp(s + a - b, sfx);
}

int export_format_from_path(const char *path)
{
	static const struct { const char *sfx; int fmt; } by_ext[] = {
		{ ".speedscope.json", EXPORT_SPEEDSCOPE },
		{ ".json", EXPORT_JSON },
		{ ".folded", EXPORT_FOLDED }, { ".txt", EXPORT_FOLDED },
		{ ".pb.gz", EXPORT_PPROF }, { ".pprof", EXPORT_PPROF },
		{ ".perf-script", EXPORT_PERF }, { ".perf", EXPORT_PERF },
		{ ".script", EXPORT_PERF },
	};
	if (!path)
		return EXPORT_UNKNOWN;
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	for (size_t i = 0; i < sizeof by_ext / sizeof by_ext[0]; i++)
		if (ends(base, by_ext[i].sfx))
			return by_ext[i].fmt;
	return EXPORT_UNKNOWN;
}

const char *export_format_name(int fmt)
{
	return fmt >= 0 && fmt < EXPORT_NFORMATS ? formats[fmt].name : "?";
}

const char *export_format_ext(int fmt)
{
	return fmt >= 0 && fmt < EXPORT_NFORMATS ? formats[fmt].ext : "";
}

double export_period_ns(const struct export_input *in,
			const struct samplelog *log)
{
	if (in->period_ns > 0)
		return in->period_ns;
	/* --hz 0 (as fast as possible): the mean spacing of each vCPU's
	 * samples */
	uint64_t n = samplelog_count(log);
	if (in->nsamples && in->nsamples < n)
		n = in->nsamples;
	uint64_t first[PROF_MAX_CPUS], last[PROF_MAX_CPUS], cnt[PROF_MAX_CPUS];
	memset(cnt, 0, sizeof cnt);
	for (uint64_t i = 0; i < n && !samplelog_aggregated(log); i++) {
		const struct slog_sample *s = samplelog_sample(log, i);
		if (s->cpu >= PROF_MAX_CPUS)
			continue;
		if (!cnt[s->cpu]++)
			first[s->cpu] = s->t_ns;
		last[s->cpu] = s->t_ns;
	}
	double span = 0, gaps = 0;
	for (int c = 0; c < PROF_MAX_CPUS; c++)
		if (cnt[c] > 1 && last[c] > first[c]) {
			span += (double)(last[c] - first[c]);
			gaps += (double)(cnt[c] - 1);
		}
	return gaps > 0 ? span / gaps : 1e7;
}

int64_t export_ns(double ns)
{
	if (!(ns > 0)) /* also NaN */
		return 0;
	if (ns >= 9.2e18)
		return INT64_MAX;
	return (int64_t)(ns + 0.5);
}

void export_json_str(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			putc_unlocked(c, f);
	}
}

int fmap_get(struct fmap *m, uint64_t key, uint32_t *val, int *isnew)
{
	if ((m->n + 1) * 2 > m->cap) {
		uint32_t nc = m->cap ? m->cap * 2 : 1024;
		uint64_t *nk = calloc(nc, sizeof *nk);
		uint32_t *nv = calloc(nc, sizeof *nv);
		if (!nk || !nv) {
			free(nk);
			free(nv);
			return -ENOMEM;
		}
		for (uint32_t i = 0; i < m->cap; i++) {
			if (!m->key[i])
				continue;
			uint32_t j = (uint32_t)(m->key[i] * 0x9e3779b97f4a7c15ull >> 20) & (nc - 1);
			while (nk[j])
				j = (j + 1) & (nc - 1);
			nk[j] = m->key[i];
			nv[j] = m->val[i];
		}
		free(m->key);
		free(m->val);
		m->key = nk;
		m->val = nv;
		m->cap = nc;
	}
	key++;                          /* 0 marks an empty slot */
	uint32_t j = (uint32_t)(key * 0x9e3779b97f4a7c15ull >> 20) & (m->cap - 1);
	for (; m->key[j]; j = (j + 1) & (m->cap - 1))
		if (m->key[j] == key) {
			*val = m->val[j];
			*isnew = 0;
			return 0;
		}
	m->key[j] = key;
	m->val[j] = *val = m->n++;
	*isnew = 1;
	return 0;
}

long export_write(int fmt, const struct export_input *in, FILE *f,
		  char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (fmt == EXPORT_JSON) {
		snprintf(err, errlen, "the JSON report is not implemented yet "
			 "(use .speedscope.json for speedscope)");
		return -ENOTSUP;
	}
	if (fmt < 0 || fmt >= EXPORT_NFORMATS || !in || !in->p) {
		snprintf(err, errlen, "export: bad arguments");
		return -EINVAL;
	}
	if (fmt == EXPORT_FOLDED) {
		long w = folded_write(in->p, in->under, in->flags, f);
		if (w < 0)
			snprintf(err, errlen, "%s", strerror((int)-w));
		return w;
	}
	struct samplelog *own = NULL;
	const struct samplelog *log = in->log;
	if (!log) {
		own = samplelog_new(UINT64_MAX);
		long r = own ? samplelog_from_profile(own, in->p, in->under, in->flags)
			     : -ENOMEM;
		if (r < 0) {
			samplelog_free(own);
			snprintf(err, errlen, "%s", strerror((int)-r));
			return r;
		}
		log = own;
	}
	struct export_job j = { log, samplelog_count(log), export_period_ns(in, log),
				in->name ? in->name : "qtop-prof", err, errlen };
	if (in->nsamples && in->nsamples < j.n)
		j.n = in->nsamples;
	long rc;
	switch (fmt) {
	case EXPORT_PPROF: rc = export_pprof_write(&j, f); break;
	case EXPORT_SPEEDSCOPE: rc = export_speedscope_write(&j, f); break;
	default: rc = export_perf_write(&j, f); break;
	}
	if (rc < 0 && err && !err[0])
		snprintf(err, errlen, "%s", strerror((int)-rc));
	samplelog_free(own);
	return rc;
}

struct save_ctx {
	int fmt;
	const struct export_input *in;
	char msg[256];
};

static long save_cb(FILE *f, void *ctx)
{
	struct save_ctx *c = ctx;
	return export_write(c->fmt, c->in, f, c->msg, sizeof c->msg);
}

int export_save(int fmt, const struct export_input *in, const char *path,
		char *out_path, size_t out_len, char *err, size_t errlen)
{
	if (fmt == EXPORT_JSON || fmt < 0 || fmt >= EXPORT_NFORMATS) {
		char m[256];
		long r = export_write(fmt, in, NULL, m, sizeof m);
		snprintf(err, errlen, "save%s%s: %s", path ? " " : "",
			 path ? path : "", m);
		return (int)r;
	}
	struct save_ctx c = { fmt, in, "" };
	int rc = savefile_save(path, export_format_ext(fmt), save_cb, &c,
			       out_path, out_len, err, errlen);
	if (rc < 0 && c.msg[0] && err && errlen && rc != -ENOSPC && rc != -EFBIG &&
	    rc != -EIO)
		snprintf(err, errlen, "save %s: %s", path ? path : "", c.msg);
	return rc;
}

int export_detect(const void *buf, size_t len)
{
	const unsigned char *b = buf;
	if (len >= 2 && b[0] == 0x1f && b[1] == 0x8b)
		return EXPORT_PPROF;
	size_t i = 0;
	while (i < len && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n'))
		i++;
	if (i < len && b[i] == '{')    /* no folded line starts a JSON object */
		return EXPORT_SPEEDSCOPE;
	return EXPORT_FOLDED;
}
