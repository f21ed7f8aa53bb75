/* timeline.c - the per-vCPU grid of samples over time, and a JSON report's
 * samples with their times (timeline.h). */
#include "timeline.h"
#include "export.h"
#include "report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int row_of(struct tl_grid *g, uint32_t cpu)
{
	for (int i = 0; i < g->ncpu; i++)
		if (g->cpu[i] == cpu)
			return i;
	return -1;
}

int tl_grid_build(struct tl_grid *g, const struct samplelog *log,
		  uint64_t nsamples, int w)
{
	uint64_t n = log ? samplelog_count(log) : 0;

	if (w < 1)
		return -EINVAL;
	if (nsamples && nsamples < n)
		n = nsamples;
	g->w = w;
	g->ncpu = 0;
	g->nsamples = n;
	g->lo = g->hi = 0;
	if (!n || samplelog_aggregated(log))
		return -ENODATA;
	/* the rows (vCPUs seen, sorted) and the time span */
	uint64_t lo = UINT64_MAX, hi = 0;
	for (uint64_t i = 0; i < n; i++) {
		const struct slog_sample *s = samplelog_sample(log, i);
		if (s->t_ns < lo) lo = s->t_ns;
		if (s->t_ns > hi) hi = s->t_ns;
		uint32_t c = s->cpu;
		if (row_of(g, c) >= 0)
			continue;
		if (g->ncpu == TL_MAX_CPUS)
			continue;       /* tl: folded into the last row below */
		int k = g->ncpu++;
		while (k > 0 && g->cpu[k - 1] > c) {
			g->cpu[k] = g->cpu[k - 1];
			k--;
		}
		g->cpu[k] = c;
	}
	g->lo = lo;
	g->hi = hi;
	size_t need = (size_t)g->ncpu * (size_t)w;
	if (need > g->cap) {
		struct tl_cell *nc = realloc(g->cells, need * sizeof *nc);
		if (!nc)
			return -ENOMEM;
		g->cells = nc;
		g->cap = need;
	}
	memset(g->cells, 0, need * sizeof *g->cells);
	for (uint64_t i = 0; i < n; i++) {
		const struct slog_sample *s = samplelog_sample(log, i);
		int r = row_of(g, s->cpu);
		if (r < 0)
			r = g->ncpu - 1;
		struct tl_cell *c = &g->cells[(size_t)r * (size_t)w + (size_t)tl_col_of(g, s->t_ns)];
		c->n[s->mode < 4 ? s->mode : SLOG_MODE_UNKNOWN] += s->weight;
		/* Boyer-Moore majority vote over the processes */
		if (!c->vote || c->comm == s->comm) {
			c->comm = s->comm;
			c->vote += s->weight;
		} else if (c->vote > s->weight) {
			c->vote -= s->weight;
		} else {
			c->vote = s->weight - c->vote;
			c->comm = c->vote ? s->comm : c->comm;
		}
	}
	return 0;
}

void tl_grid_free(struct tl_grid *g)
{
	if (!g)
		return;
	free(g->cells);
	g->cells = NULL;
	g->cap = 0;
}

int tl_cell_mode(const struct tl_cell *c)
{
	int best = -1;
	uint32_t bn = 0;
	/* kernel, user, idle first; unknown only when it is all there is */
	static const int order[] = { SLOG_MODE_KERNEL, SLOG_MODE_USER, SLOG_MODE_IDLE,
				     SLOG_MODE_UNKNOWN };
	for (int i = 0; i < 4; i++)
		if (c->n[order[i]] > bn) {
			bn = c->n[order[i]];
			best = order[i];
		}
	return best;
}

int tl_col_of(const struct tl_grid *g, uint64_t t)
{
	if (t <= g->lo)
		return 0;
	if (t >= g->hi)
		return g->w - 1;
	unsigned __int128 x = (unsigned __int128)(t - g->lo) * (unsigned)g->w;
	uint64_t c = (uint64_t)(x / (g->hi - g->lo + 1));
	return c >= (uint64_t)g->w ? g->w - 1 : (int)c;
}

uint64_t tl_col_start(const struct tl_grid *g, int c)
{
	if (c <= 0)
		return g->lo;
	if (c >= g->w)
		return g->hi + 1;
	/* the smallest t with tl_col_of(t) >= c: ceil(c * span / w) */
	unsigned __int128 span = (unsigned __int128)(g->hi - g->lo + 1);
	unsigned __int128 x = span * (unsigned)c + (unsigned)g->w - 1;
	return g->lo + (uint64_t)(x / (unsigned)g->w);
}

struct samplelog *timeline_load_report(const char *path, const char *from,
				       const char *to, struct markers *ms,
				       uint64_t *t0_ns, char *err,
				       size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		n += fread(buf + n, 1, cap - n, f);
		if (n < cap)
			break;
		char *nb = cap > EXPORT_MAX_INPUT ? NULL : realloc(buf, cap * 2);
		if (!nb) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = nb;
		cap *= 2;
	}
	int ioerr = ferror(f);
	fclose(f);
	struct samplelog *log = buf && !ioerr ? samplelog_new(0) : NULL;
	if (!log) {
		snprintf(err, errlen, "%s: %s", path, ioerr ? "read error" : "too large or out of memory");
		free(buf);
		return NULL;
	}
	long r = import_report_log(NULL, log, ms, t0_ns, buf, n, from, to, err, errlen);
	free(buf);
	if (r < 0) {
		samplelog_free(log);
		return NULL;
	}
	return log;
}
