/* export_perf.c - `perf script` text (export.h): what stackcollapse-perf.pl,
 * inferno and the Firefox Profiler import. */
#include "export.h"
#include "export_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* comm as perf prints it: no line breaks */
static void put_comm(FILE *f, const char *s)
{
	if (!*s)
		s = "[unknown]";
	for (; *s; s++)
		putc_unlocked(*s == '\n' || *s == '\t' ? ' ' : *s, f);
}

static const char *perf_module(const struct samplelog *l,
			       const struct slog_frame *fr)
{
	const char *m = samplelog_str(l, fr->module);
	if (fr->kind == PK_KERNEL)
		return "[kernel.kallsyms]";
	if (!*m || !strcmp(m, "?"))
		return "[unknown]";
	return m;
}

long export_perf_write(const struct export_job *j, FILE *f)
{
	const struct samplelog *l = j->log;
	uint64_t total = 0;
	for (uint64_t i = 0; i < j->n; i++)
		total += samplelog_sample(l, i)->weight;
	if (total > EXPORT_PERF_MAX_EVENTS) {
		snprintf(j->err, j->errlen, "%" PRIu64 " samples are too many for "
			 "perf script (at most %u events): use pprof or speedscope",
			 total, EXPORT_PERF_MAX_EVENTS);
		return -EFBIG;
	}
	/* pid/tid: the process's index, by first appearance (0 is the idle
	 * task in perf, so start at 1) */
	uint32_t *pid = calloc(samplelog_nstrings(l), sizeof *pid);
	uint32_t *ids = NULL, cap = 0, npid = 0;
	if (!pid)
		return -ENOMEM;
	long events = 0;
	uint64_t t_agg = 0, period = j->period_ns > 1 ? (uint64_t)j->period_ns : 1;
	flockfile(f);
	for (uint64_t i = 0; i < j->n; i++) {
		const struct slog_sample *s = samplelog_sample(l, i);
		uint32_t d = samplelog_stack(l, s->stack)->depth;
		if (d > cap) {
			uint32_t *nv = realloc(ids, (size_t)d * sizeof *nv);
			if (!nv) {
				events = -ENOMEM;
				break;
			}
			ids = nv;
			cap = d;
		}
		samplelog_stack_frames(l, s->stack, ids, cap);
		if (!pid[s->comm])
			pid[s->comm] = ++npid;
		for (uint32_t w = 0; w < s->weight; w++) {
			uint64_t t = s->t_ns;
			if (!t) {           /* aggregated: one period apart */
				t_agg += period;
				t = t_agg;
			}
			put_comm(f, samplelog_str(l, s->comm));
			fprintf(f, " %u/%u [%03u] %" PRIu64 ".%06" PRIu64 ": %" PRIu64 " cpu-clock:\n",
				pid[s->comm], pid[s->comm],
				s->cpu == SLOG_CPU_UNKNOWN ? 0u : s->cpu,
				t / 1000000000u, (t / 1000u) % 1000000u, period);
			for (uint32_t k = d; k > 0; k--) {
				const struct slog_frame *fr = samplelog_frame(l, ids[k - 1]);
				fprintf(f, "\t%16" PRIx64 " %s%s+0x0 (%s)\n", fr->addr,
					samplelog_str(l, fr->name),
					fr->flags & PF_INLINE ? "_[i]" : "",
					perf_module(l, fr));
			}
			if (!d)
				fputs("\t               0 [unknown] ([unknown])\n", f);
			putc_unlocked('\n', f);
			events++;
		}
	}
	funlockfile(f);
	free(pid);
	free(ids);
	if (events >= 0 && ferror(f))
		return -EIO;
	return events;
}
