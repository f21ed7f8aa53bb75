/* flame.c - flamegraph layout by cumulative rounding, level by level.
 *
 * Every box is given its sample interval [a, a + total) inside the zoom
 * node's [0, R); its columns are round(W*a/R) .. round(W*(a+total)/R).
 * Children start at the parent's a, so they tile it exactly (apart from the
 * parent's own self samples at the right end), and rounding errors never
 * accumulate down the levels.  Only children of visible boxes are looked at,
 * so the cost follows the picture, not the tree size.
 */
#include "flame.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* round(w * a / r) without overflow: a <= r, both up to 2^64. */
static uint16_t col(uint64_t w, uint64_t a, uint64_t r)
{
#ifdef __SIZEOF_INT128__
	unsigned __int128 num = (unsigned __int128)w * a * 2 + r;
	return (uint16_t)(num / ((unsigned __int128)r * 2));
#else
	return (uint16_t)((long double)w * a / r + 0.5L);
#endif
}

struct lay {
	struct flame_box *boxes;
	uint64_t *off;          /* per box: samples before it (its a) */
	size_t n, cap;
};

static int push(struct lay *l, uint32_t node, uint16_t depth, uint16_t x0,
		uint16_t x1, uint64_t a)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 256;
		struct flame_box *b = realloc(l->boxes, nc * sizeof *b);
		if (!b)
			return -ENOMEM;
		l->boxes = b;
		uint64_t *o = realloc(l->off, nc * sizeof *o);
		if (!o)
			return -ENOMEM;
		l->off = o;
		l->cap = nc;
	}
	l->boxes[l->n] = (struct flame_box){ .node = node, .depth = depth,
					     .x0 = x0, .x1 = x1 };
	l->off[l->n++] = a;
	return 0;
}

int flame_layout(const struct profile *p, uint32_t zoom, int width,
		 int max_depth, struct flame_layout *out)
{
	if (!p || !out)
		return -EINVAL;
	/* Reuse the previous buffer: the TUI lays out on every redraw. */
	struct lay l = { .boxes = out->boxes, .cap = out->cap };
	out->n = 0;
	out->max_depth = 0;
	if (zoom >= p->nnodes || width <= 0 || p->nodes[zoom].total == 0)
		return 0;
	l.off = malloc((l.cap ? l.cap : 1) * sizeof *l.off);
	if (!l.off)
		return -ENOMEM;

	uint64_t w = width > UINT16_MAX ? UINT16_MAX : (uint64_t)width;
	uint64_t r = p->nodes[zoom].total;
	int maxd = max_depth <= 0 || max_depth > UINT16_MAX ? UINT16_MAX
							    : max_depth;
	uint32_t *kids = NULL;
	size_t kcap = 0;
	int rc = push(&l, zoom, 0, 0, (uint16_t)w, 0);
	size_t lvl = 0, end = l.n;
	uint16_t d = 0;
	while (rc == 0 && lvl < end && d + 1 < maxd) {
		d++;
		for (size_t b = lvl; b < end && rc == 0; b++) {
			uint32_t node = l.boxes[b].node;
			if (!p->nodes[node].first_child)
				continue;
			long nk = profile_children_sorted(p, node, &kids, &kcap);
			if (nk < 0) {
				rc = (int)nk;
				break;
			}
			uint64_t a = l.off[b];
			for (long k = 0; k < nk; k++) {
				uint64_t a1 = a + p->nodes[kids[k]].total;
				uint16_t x0 = col(w, a, r), x1 = col(w, a1, r);
				if (x1 > x0 && (rc = push(&l, kids[k], d, x0, x1, a)))
					break;
				a = a1;
			}
		}
		lvl = end;
		end = l.n;
	}
	free(kids);
	free(l.off);
	out->boxes = l.boxes;
	out->cap = l.cap;
	if (rc) {
		out->n = 0;
		return rc;
	}
	out->n = l.n;
	out->max_depth = l.boxes[l.n - 1].depth;
	return 0;
}

void flame_layout_free(struct flame_layout *l)
{
	if (!l)
		return;
	free(l->boxes);
	l->boxes = NULL;
	l->n = l->cap = 0;
	l->max_depth = 0;
}

long flame_box_at(const struct flame_layout *l, int depth, int x)
{
	if (!l || depth < 0 || x < 0)
		return -1;
	/* Last box at or before (depth, x) in (depth, x0) order. */
	size_t lo = 0, hi = l->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct flame_box *b = &l->boxes[mid];
		if (b->depth < depth || (b->depth == depth && b->x0 <= x))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return -1;
	const struct flame_box *b = &l->boxes[lo - 1];
	if (b->depth == depth && x >= b->x0 && x < b->x1)
		return (long)(lo - 1);
	return -1;
}

uint32_t flame_name_hash(const char *name)
{
	uint32_t h = 2166136261u;
	if (!name)
		return h;
	for (const unsigned char *c = (const unsigned char *)name; *c; c++)
		h = (h ^ *c) * 16777619u;
	return h;
}
