/* hotspot.c - per-function rows from one walk over a subtree.
 *
 * total counts a function once per stack: a node adds its total only when
 * no ancestor on the current path has the same row (recursion would
 * otherwise count the same samples at every level).  The walk follows the
 * parent/child/sibling links, so it needs no recursion and no node stack.
 */
#include "hotspot.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NO_ROW UINT32_MAX

struct build {
	struct hot_row *rows;
	uint32_t *onpath;       /* per row: how many times it is on the path */
	size_t n, cap;
	uint32_t *slots;        /* row index + 1, 0 = empty */
	size_t mask;
};

static uint32_t key_hash(uint32_t name, uint32_t module, uint32_t kind)
{
	uint64_t k = ((uint64_t)name << 32 | module) * 0x9e3779b97f4a7c15ULL;
	k ^= (k >> 29) ^ ((uint64_t)kind * 0xbf58476d1ce4e5b9ULL);
	k *= 0x94d049bb133111ebULL;
	return (uint32_t)(k >> 32);
}

static int grow_slots(struct build *b)
{
	size_t ns = (b->mask + 1) * 2;
	uint32_t *sl = calloc(ns, sizeof *sl);
	if (!sl)
		return -ENOMEM;
	for (size_t r = 0; r < b->n; r++) {
		const struct hot_row *h = &b->rows[r];
		size_t i = key_hash(h->name, h->module, h->kind) & (ns - 1);
		while (sl[i])
			i = (i + 1) & (ns - 1);
		sl[i] = (uint32_t)r + 1;
	}
	free(b->slots);
	b->slots = sl;
	b->mask = ns - 1;
	return 0;
}

static int row_for(struct build *b, const struct prof_node *nd, uint32_t *row)
{
	size_t i = key_hash(nd->name, nd->module, nd->kind) & b->mask;
	for (;; i = (i + 1) & b->mask) {
		uint32_t s = b->slots[i];
		if (!s)
			break;
		const struct hot_row *h = &b->rows[s - 1];
		if (h->name == nd->name && h->module == nd->module &&
		    h->kind == nd->kind) {
			*row = s - 1;
			return 0;
		}
	}
	if (b->n == b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 256;
		struct hot_row *r = realloc(b->rows, nc * sizeof *r);
		if (!r)
			return -ENOMEM;
		b->rows = r;
		uint32_t *o = realloc(b->onpath, nc * sizeof *o);
		if (!o)
			return -ENOMEM;
		b->onpath = o;
		b->cap = nc;
	}
	*row = (uint32_t)b->n;
	b->rows[b->n] = (struct hot_row){ .name = nd->name, .module = nd->module,
					  .src = nd->src, .kind = nd->kind };
	b->onpath[b->n] = 0;
	b->slots[i] = (uint32_t)++b->n;
	if (b->n * 2 > b->mask + 1)
		return grow_slots(b);
	return 0;
}

/* Row of a node, or NO_ROW for the root and process frames. */
static int enter(struct build *b, const struct prof_node *nd, uint32_t *row)
{
	*row = NO_ROW;
	if (nd->kind == PK_ROOT || nd->kind == PK_PROC)
		return 0;
	int rc = row_for(b, nd, row);
	if (rc)
		return rc;
	struct hot_row *h = &b->rows[*row];
	h->self += nd->self;
	if (b->onpath[*row]++ == 0)
		h->total += nd->total;
	return 0;
}

long hotspot_build(const struct profile *p, uint32_t under,
		   struct hot_row **rows)
{
	if (!p || !rows || under >= p->nnodes)
		return -EINVAL;
	struct build b = { .mask = 1023 };
	uint32_t *path = NULL;   /* row per depth below `under` */
	size_t pathcap = 0;
	int rc = 0;
	b.slots = calloc(b.mask + 1, sizeof *b.slots);
	if (!b.slots)
		return -ENOMEM;

	const struct prof_node *nd = p->nodes;
	uint16_t base = nd[under].depth;
	uint32_t x = under;
	for (;;) {
		size_t lv = nd[x].depth - base;
		if (lv >= pathcap) {
			size_t nc = pathcap ? pathcap * 2 : 64;
			uint32_t *np = realloc(path, nc * sizeof *np);
			if (!np) {
				rc = -ENOMEM;
				break;
			}
			path = np;
			pathcap = nc;
		}
		if ((rc = enter(&b, &nd[x], &path[lv])))
			break;
		if (nd[x].first_child) {
			x = nd[x].first_child;
			continue;
		}
		/* leave x and every ancestor whose children are all done */
		for (;;) {
			uint32_t r = path[nd[x].depth - base];
			if (r != NO_ROW)
				b.onpath[r]--;
			if (x == under || nd[x].next_sibling)
				break;
			x = nd[x].parent;
		}
		if (x == under)
			break;
		x = nd[x].next_sibling;
	}
	free(path);
	free(b.slots);
	free(b.onpath);
	if (rc) {
		free(b.rows);
		return rc;
	}
	*rows = b.rows;
	return (long)b.n;
}

struct sort_ctx {
	const struct profile *p;
	enum hot_sort key;
	int reverse;
};

static int cmp_u64_desc(uint64_t a, uint64_t b)
{
	return a > b ? -1 : a < b;
}

static int cmp_str(const struct profile *p, uint32_t a, uint32_t b)
{
	return a == b ? 0 : strcmp(profile_str_get(p, a), profile_str_get(p, b));
}

static int cmp_rows(const void *va, const void *vb, void *vctx)
{
	const struct sort_ctx *c = vctx;
	const struct hot_row *a = va, *b = vb;
	int r = 0;
	/* counts sort biggest first, strings A..Z; ties fall through to a
	 * full order so equal rows never swap between refreshes */
	switch (c->key) {
	case HOT_SORT_SELF:
		if (!(r = cmp_u64_desc(a->self, b->self)))
			r = cmp_u64_desc(a->total, b->total);
		break;
	case HOT_SORT_TOTAL:
		if (!(r = cmp_u64_desc(a->total, b->total)))
			r = cmp_u64_desc(a->self, b->self);
		break;
	case HOT_SORT_NAME:
		r = cmp_str(c->p, a->name, b->name);
		break;
	case HOT_SORT_MODULE:
		if (!(r = cmp_str(c->p, a->module, b->module)))
			r = cmp_u64_desc(a->self, b->self);
		break;
	}
	if (!r)
		r = cmp_str(c->p, a->name, b->name);
	if (!r)
		r = cmp_str(c->p, a->module, b->module);
	if (!r)
		r = (a->kind > b->kind) - (a->kind < b->kind);
	return c->reverse ? -r : r;
}

void hotspot_sort(const struct profile *p, struct hot_row *rows, size_t n,
		  enum hot_sort key, int reverse)
{
	if (!p || !rows || n < 2)
		return;
	struct sort_ctx c = { p, key, reverse };
	qsort_r(rows, n, sizeof *rows, cmp_rows, &c);
}
