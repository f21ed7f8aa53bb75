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

/* Rows are found through their name id (a direct index, no hashing): names
 * rarely come with more than one (module, kind), so the chains are short. */
struct build {
	struct hot_row *rows;
	uint32_t *onpath;       /* per row: how many times it is on the path */
	uint32_t *next;         /* per row: next row with the same name */
	size_t n, cap;
	uint32_t *by_name;      /* name id -> first row, NO_ROW if none */
};

static int row_for(struct build *b, const struct prof_node *nd, uint32_t *row)
{
	uint32_t r = b->by_name[nd->name];
	for (; r != NO_ROW; r = b->next[r]) {
		const struct hot_row *h = &b->rows[r];
		if (h->module == nd->module && h->kind == nd->kind) {
			*row = r;
			return 0;
		}
	}
	if (b->n == b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 256;
		struct hot_row *nr = realloc(b->rows, nc * sizeof *nr);
		if (!nr)
			return -ENOMEM;
		b->rows = nr;
		uint32_t *o = realloc(b->onpath, nc * sizeof *o);
		if (!o)
			return -ENOMEM;
		b->onpath = o;
		uint32_t *nx = realloc(b->next, nc * sizeof *nx);
		if (!nx)
			return -ENOMEM;
		b->next = nx;
		b->cap = nc;
	}
	r = (uint32_t)b->n++;
	b->rows[r] = (struct hot_row){ .name = nd->name, .module = nd->module,
				       .src = nd->src, .kind = nd->kind };
	b->onpath[r] = 0;
	b->next[r] = b->by_name[nd->name];
	b->by_name[nd->name] = r;
	*row = r;
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
	struct build b = { 0 };
	uint32_t *path = NULL;   /* row per depth below `under` */
	size_t pathcap = 0;
	int rc = 0;
	size_t nstr = profile_nstrings(p);
	b.by_name = malloc((nstr ? nstr : 1) * sizeof *b.by_name);
	if (!b.by_name)
		return -ENOMEM;
	memset(b.by_name, 0xff, nstr * sizeof *b.by_name);   /* NO_ROW */

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
	free(b.by_name);
	free(b.onpath);
	free(b.next);
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

static int cmp_u32(uint32_t a, uint32_t b)
{
	return (a > b) - (a < b);
}

static int cmp_rows(const void *va, const void *vb, void *vctx)
{
	const struct sort_ctx *c = vctx;
	const struct hot_row *a = va, *b = vb;
	int r = 0;
	/* Counts sort biggest first, strings A..Z.  Ties fall through to a
	 * full order so equal rows never swap between refreshes; for the
	 * count keys that order is by string id (fixed for the session),
	 * which spares thousands of strcmps over the many equal rows. */
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
		if (!(r = cmp_str(c->p, a->name, b->name)))
			r = cmp_str(c->p, a->module, b->module);
		break;
	case HOT_SORT_MODULE:
		if (!(r = cmp_str(c->p, a->module, b->module)))
			if (!(r = cmp_u64_desc(a->self, b->self)))
				r = cmp_str(c->p, a->name, b->name);
		break;
	}
	if (!r)
		r = cmp_u32(a->name, b->name);
	if (!r)
		r = cmp_u32(a->module, b->module);
	if (!r)
		r = cmp_u32(a->kind, b->kind);
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
