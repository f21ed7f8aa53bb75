/* flame.h - flamegraph layout in a character grid.  Pure function of
 * (profile, zoom node, width): testable without curses.
 *
 * Edges placed by cumulative rounding: x0 = round(W*before/total),
 * x1 = round(W*after/total), so siblings tile their parent exactly; boxes
 * with x1 == x0 are skipped.  Depth 0 is the zoom node (or the root). */
#ifndef QTOP_FLAME_H
#define QTOP_FLAME_H

#include "profile.h"

struct flame_box {
	uint32_t node;
	uint16_t depth;     /* 0 = zoom root */
	uint16_t x0, x1;    /* columns [x0, x1) */
};

struct flame_layout {
	struct flame_box *boxes;  /* sorted by depth, then x0 */
	size_t n, cap;
	uint16_t max_depth;       /* deepest depth laid out */
};

/* Lay out the subtree of `zoom` (0 = root) into width columns, at most
 * max_depth levels (<= 0: no limit).  Children are ordered by name
 * (profile_children_sorted), a parent's self samples are the gap at its
 * right end.  `out` must be zeroed before the first call; later calls reuse
 * its buffer (free it once with flame_layout_free).  Returns 0 or -ENOMEM
 * (out->n is 0 then). */
int flame_layout(const struct profile *p, uint32_t zoom, int width,
		 int max_depth, struct flame_layout *out);
void flame_layout_free(struct flame_layout *l);
/* Box index at (depth, x), or -1. */
long flame_box_at(const struct flame_layout *l, int depth, int x);

/* FNV-1a of the name, stable across runs: colour index source. */
uint32_t flame_name_hash(const char *name);

#endif
