/* pdiff.h - the difference between two profiles, BEFORE and AFTER: per
 * function (the delta table) and per call-tree node (the differential
 * flamegraph), and the two-column folded file difffolded.pl writes.
 *
 * Pure (no curses).  Nodes of the two trees are matched by their path from
 * the root -- process, then (name, kind) of every frame root -> leaf -- never
 * by index: the two trees were built apart.  Functions are matched by
 * (name, module, kind), like the rows of hotspot_build.
 *
 * Counts are compared as shares, in percent:
 *   normalized (runs of different lengths): each side over its own total;
 *   not normalized (equal-length runs): both sides over BEFORE's total, so
 *   a longer AFTER shows as growth.
 * Deltas are AFTER - BEFORE in percentage points (pp).
 */
#ifndef QTOP_PDIFF_H
#define QTOP_PDIFF_H

#include <stdint.h>
#include <stdio.h>

#include "flame.h"
#include "profile.h"

/* "No counterpart in the other profile" (0 is the root, which always has
 * one). */
#define PDIFF_NONE UINT32_MAX

struct pdiff_scale {
	double den_b, den_a;     /* share denominators; 0: shares are 0 */
};

/* total_b / total_a: samples of the compared scopes (whole profiles, or a
 * process / zoom subtree of each). */
void pdiff_scale_init(struct pdiff_scale *s, uint64_t total_b,
		      uint64_t total_a, int normalize);
static inline double pdiff_pct_b(const struct pdiff_scale *s, uint64_t v)
{
	return s->den_b > 0 ? 100.0 * (double)v / s->den_b : 0.0;
}
static inline double pdiff_pct_a(const struct pdiff_scale *s, uint64_t v)
{
	return s->den_a > 0 ? 100.0 * (double)v / s->den_a : 0.0;
}
/* AFTER - BEFORE in pp.  Equal counts over equal totals give exactly 0. */
static inline double pdiff_delta(const struct pdiff_scale *s, uint64_t b,
				 uint64_t a)
{
	return pdiff_pct_a(s, a) - pdiff_pct_b(s, b);
}

/* ---- nodes ---- */

/* The node of `to` with the same path as `node` of `from` (kinds
 * included: a user "read" is not a kernel "read"), 0 for the root, or
 * PDIFF_NONE. */
uint32_t pdiff_counterpart(const struct profile *from, uint32_t node,
			   const struct profile *to);
/* The same for every box of l (a layout of `from`): out[i] for
 * l->boxes[i].  Each box costs one child lookup below its parent box's
 * counterpart, so the cost follows the picture, not the trees.  Returns 0
 * or -ENOMEM. */
int pdiff_map_boxes(const struct profile *from, const struct flame_layout *l,
		    const struct profile *to, uint32_t *out);

/* ---- functions: the delta table ---- */

enum pdiff_state {
	PD_BOTH,        /* in both profiles */
	PD_NEW,         /* only in AFTER ("+new") */
	PD_GONE,        /* only in BEFORE ("-gone") */
};

struct pdiff_row {
	/* String ids of AFTER, or of BEFORE for PD_GONE rows
	 * (pdiff_row_profile says which). */
	uint32_t name, module, src;
	uint8_t kind;            /* PK_USER / PK_KERNEL / PK_MARK */
	uint8_t state;           /* enum pdiff_state */
	uint64_t self_b, total_b, self_a, total_a;     /* samples */
	double self_pb, self_pa, total_pb, total_pa;   /* shares, % */
	double dself, dtotal;                          /* AFTER - BEFORE, pp */
};

enum pdiff_sort {
	PD_SORT_DSELF,   /* |delta self|, biggest first */
	PD_SORT_DTOTAL,  /* |delta total| */
	PD_SORT_SELF,    /* self share AFTER */
	PD_SORT_TOTAL,   /* total share AFTER */
	PD_SORT_NAME,    /* function A..Z */
	PD_SORT_N
};

/* One row per function of either profile, for the samples below under_b
 * of BEFORE and under_a of AFTER (0: all; under_b PDIFF_NONE: the scope is
 * not in BEFORE, every row is new).  Shares are of the scopes' totals.
 * *rows is malloc'd; returns the row count, -EINVAL or -ENOMEM.  Rows are
 * in no order (pdiff_sort_rows). */
long pdiff_table(const struct profile *before, uint32_t under_b,
		 const struct profile *after, uint32_t under_a, int normalize,
		 struct pdiff_row **rows);
/* Biggest first (names A..Z); reverse flips.  Ties fall through to a full
 * order (string ids of the same profile, else name, module, kind): rows
 * never swap between refreshes. */
void pdiff_sort_rows(const struct profile *before, const struct profile *after,
		     struct pdiff_row *rows, size_t n, enum pdiff_sort key,
		     int reverse);
static inline const struct profile *
pdiff_row_profile(const struct profile *before, const struct profile *after,
		  const struct pdiff_row *r)
{
	return r->state == PD_GONE ? before : after;
}
/* "+new", "-gone" or "". */
const char *pdiff_state_mark(int state);

/* ---- two-column folded ---- */

/* "stack before after" lines (difffolded.pl; flamegraph.pl draws them as a
 * differential flamegraph) for every stack with self samples in either
 * scope; stacks are written whole from the process frame.  normalize:
 * BEFORE's counts are scaled to AFTER's scope total (difffolded.pl -n),
 * rounded; a line whose two counts are then 0 is left out.  AFTER's stacks
 * come first in tree order, then those only in BEFORE.  Returns lines
 * written or -errno. */
long pdiff_write_folded(const struct profile *before, uint32_t under_b,
			const struct profile *after, uint32_t under_a,
			int normalize, FILE *f);

/* Save AFTER's stacks below under_a as folded to path (NULL: timestamped
 * in the current directory) and the two-column file next to it
 * ("X.folded" -> "X.diff.folded"); both atomic, neither ever overwrites.
 * Final paths in out_after / out_diff (outlen each).  Returns 0, or -errno
 * with a message (which says whether the first file was written). */
int pdiff_save(const struct profile *before, uint32_t under_b,
	       const struct profile *after, uint32_t under_a, int normalize,
	       const char *path, char *out_after, char *out_diff,
	       size_t outlen, char *err, size_t errlen);

#endif
