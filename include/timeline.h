/* timeline.h - the samples over time, per vCPU: the grid the TUI's timeline
 * view draws (pure: no curses, testable alone), and the samples of a JSON
 * report with their times (--load FILE.json keeps them for the timeline).
 *
 * The grid spans [lo, hi] of the samples' CLOCK_MONOTONIC times in w equal
 * cells; each (vCPU, cell) holds the weight per mode (kernel / user / idle
 * / unknown) and the process seen most there (a majority vote: exact when
 * one process has more than half, else one of the frequent ones).
 */
#ifndef QTOP_TIMELINE_H
#define QTOP_TIMELINE_H

#include <stddef.h>
#include <stdint.h>
#include "markers.h"
#include "samplelog.h"

#define TL_MAX_CPUS 64     /* rows; samples of other vCPUs go to the last */

struct tl_cell {
	uint32_t n[4];         /* weight per enum slog_mode */
	uint32_t comm;         /* majority process (samplelog string id) */
	uint32_t vote;
};

struct tl_grid {
	int w;                 /* cells per row */
	int ncpu;              /* rows */
	uint32_t cpu[TL_MAX_CPUS];   /* vCPU of each row, ascending
				      * (SLOG_CPU_UNKNOWN last) */
	uint64_t lo, hi;       /* first and last sample time (ns) */
	uint64_t nsamples;     /* samples looked at */
	struct tl_cell *cells; /* ncpu * w, row-major */
	size_t cap;
};

/* Build the grid of the first nsamples samples of log (0: all) over w
 * cells.  Returns 0, -ENODATA (no samples, or an aggregated log without
 * times), -EINVAL (w < 1) or -ENOMEM.  g is reused between calls. */
int tl_grid_build(struct tl_grid *g, const struct samplelog *log,
		  uint64_t nsamples, int w);
void tl_grid_free(struct tl_grid *g);
/* The cell of (row, col). */
static inline const struct tl_cell *tl_cell_at(const struct tl_grid *g,
					       int row, int col)
{
	return &g->cells[(size_t)row * (size_t)g->w + (size_t)col];
}
/* The mode with the most weight in c (enum slog_mode), or -1 when empty. */
int tl_cell_mode(const struct tl_cell *c);
/* Column of time t (clamped to [0, w-1]); start time of column c (c == w:
 * one past the end, hi + 1). */
int tl_col_of(const struct tl_grid *g, uint64_t t);
uint64_t tl_col_start(const struct tl_grid *g, int c);

/* The samples of a JSON report (--load FILE.json) with their times, for the
 * timeline: t becomes meta.t0_monotonic_ns + t (or 1e12 + t when absent),
 * *t0_ns that base; from/to as import_report's (NULL: open).  The report's
 * markers are added to ms (NULL: not).  Returns the log, or NULL with a
 * message. */
struct samplelog *timeline_load_report(const char *path, const char *from,
				       const char *to, struct markers *ms,
				       uint64_t *t0_ns, char *err,
				       size_t errlen);

#endif
