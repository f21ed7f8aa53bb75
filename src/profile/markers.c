/* markers.c - named instants of a run (markers.h). */
#include "markers.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void markers_init(struct markers *ms)
{
	memset(ms, 0, sizeof *ms);
	pthread_mutex_init(&ms->lock, NULL);
}

void markers_free(struct markers *ms)
{
	if (!ms)
		return;
	for (int i = 0; i < ms->n; i++)
		if (!ms->m[i].symbol)
			regfree(&ms->m[i].re);
	ms->n = 0;
	pthread_mutex_destroy(&ms->lock);
}

int markers_add(struct markers *ms, const char *spec, int until,
		char *err, size_t errlen)
{
	const char *name = "until", *what = spec;
	size_t nlen = 5;

	if (ms->n == MARKERS_MAX) {
		snprintf(err, errlen, "at most %d markers", MARKERS_MAX);
		return -1;
	}
	if (!until) {
		const char *eq = strchr(spec, '=');
		if (!eq || eq == spec || !eq[1]) {
			snprintf(err, errlen, "--mark %s: give NAME=REGEX or NAME=@SYMBOL", spec);
			return -1;
		}
		name = spec;
		nlen = (size_t)(eq - spec);
		what = eq + 1;
	}
	if (!*what) {
		snprintf(err, errlen, "--until: give REGEX or @SYMBOL");
		return -1;
	}
	struct marker *m = &ms->m[ms->n];
	memset(m, 0, sizeof *m);
	if (nlen >= sizeof m->name)
		nlen = sizeof m->name - 1;
	memcpy(m->name, name, nlen);
	m->until = until;
	if (what[0] == '@' && what[1]) {
		m->symbol = 1;
		snprintf(m->sym, sizeof m->sym, "%s", what + 1);
	} else {
		int rc = regcomp(&m->re, what, REG_EXTENDED | REG_NOSUB);
		if (rc) {
			char e[128];
			regerror(rc, &m->re, e, sizeof e);
			snprintf(err, errlen, "%s %s: %s", until ? "--until" : "--mark", spec, e);
			return -1;
		}
	}
	ms->n++;
	return 0;
}

int markers_have_serial(const struct markers *ms)
{
	for (int i = 0; i < ms->n; i++)
		if (!ms->m[i].symbol)
			return 1;
	return 0;
}

static void reach(struct markers *ms, struct marker *m, uint64_t t_ns)
{
	if (m->t_ns)
		return;
	m->t_ns = t_ns ? t_ns : 1;
	if (m->until)
		atomic_store(&ms->until_hit, 1);
}

void markers_serial_line(struct markers *ms, const char *line, uint64_t t_ns)
{
	pthread_mutex_lock(&ms->lock);
	for (int i = 0; i < ms->n; i++) {
		struct marker *m = &ms->m[i];
		if (!m->symbol && !m->t_ns && regexec(&m->re, line, 0, NULL, 0) == 0)
			reach(ms, m, t_ns);
	}
	pthread_mutex_unlock(&ms->lock);
}

/* "f_[k]"-style suffixes are not part of names in the log; compare names. */
void markers_scan_log(struct markers *ms, const struct samplelog *log)
{
	int want = 0;
	uint32_t ids[512];

	if (!log)
		return;
	if (ms->log_gen != samplelog_generation(log)) {
		ms->log_gen = samplelog_generation(log);
		ms->scanned = 0;
	}
	pthread_mutex_lock(&ms->lock);
	for (int i = 0; i < ms->n; i++)
		want |= ms->m[i].symbol && !ms->m[i].t_ns;
	pthread_mutex_unlock(&ms->lock);
	uint64_t n = samplelog_count(log);
	if (!want) {
		ms->scanned = n;
		return;
	}
	for (; ms->scanned < n; ms->scanned++) {
		const struct slog_sample *s = samplelog_sample(log, ms->scanned);
		uint32_t d = samplelog_stack_frames(log, s->stack, ids, 512);
		if (d > 512)
			d = 0;
		pthread_mutex_lock(&ms->lock);
		for (int i = 0; i < ms->n; i++) {
			struct marker *m = &ms->m[i];
			if (!m->symbol || m->t_ns)
				continue;
			for (uint32_t k = 0; k < d; k++) {
				const struct slog_frame *f = samplelog_frame(log, ids[k]);
				if (f && !strcmp(samplelog_str(log, f->name), m->sym)) {
					reach(ms, m, s->t_ns);
					break;
				}
			}
		}
		pthread_mutex_unlock(&ms->lock);
	}
}

uint64_t markers_time(struct markers *ms, int i)
{
	pthread_mutex_lock(&ms->lock);
	uint64_t t = i >= 0 && i < ms->n ? ms->m[i].t_ns : 0;
	pthread_mutex_unlock(&ms->lock);
	return t;
}

void markers_set(struct markers *ms, int i, uint64_t t_ns)
{
	pthread_mutex_lock(&ms->lock);
	if (i >= 0 && i < ms->n)
		ms->m[i].t_ns = t_ns;
	pthread_mutex_unlock(&ms->lock);
}

int markers_add_reached(struct markers *ms, const char *name, uint64_t t_ns)
{
	pthread_mutex_lock(&ms->lock);
	int rc = -1;
	if (ms->n < MARKERS_MAX) {
		struct marker *m = &ms->m[ms->n];
		memset(m, 0, sizeof *m);
		snprintf(m->name, sizeof m->name, "%s", name);
		m->symbol = 1;          /* no regex to free; sym "" is never looked for */
		m->t_ns = t_ns ? t_ns : 1;
		ms->n++;
		rc = 0;
	}
	pthread_mutex_unlock(&ms->lock);
	return rc;
}

int markers_find(const struct markers *ms, const char *name)
{
	for (int i = 0; i < ms->n; i++)
		if (!strcmp(ms->m[i].name, name))
			return i;
	return -1;
}

void markers_line(struct markers *ms, char *buf, size_t len)
{
	int order[MARKERS_MAX], k = 0;
	uint64_t t[MARKERS_MAX], t0 = atomic_load(&ms->t0_ns), prev = 0;
	size_t o = 0;

	if (!len)
		return;
	buf[0] = 0;
	for (int i = 0; i < ms->n; i++) {
		t[i] = markers_time(ms, i);
		if (!t[i])
			continue;
		int j = k++;
		while (j > 0 && t[order[j - 1]] > t[i]) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
	for (int j = 0; j < k && o < len; j++) {
		int i = order[j];
		double s = t[i] >= t0 ? (double)(t[i] - t0) / 1e9 : -(double)(t0 - t[i]) / 1e9;
		int w;
		if (j)
			w = snprintf(buf + o, len - o, " · %s %.3f s (+%.3f)", ms->m[i].name, s,
				     (double)(t[i] - prev) / 1e9);
		else
			w = snprintf(buf + o, len - o, "%s %.3f s", ms->m[i].name, s);
		if (w < 0)
			break;
		o += (size_t)w;
		prev = t[i];
	}
	if (o >= len)
		buf[len - 1] = 0;
}
