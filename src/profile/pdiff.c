/* pdiff.c - deltas between two profiles (see pdiff.h).
 *
 * Functions: hotspot_build on each side, then AFTER's rows are found again
 * for BEFORE's by their strings through a small hash table (the string ids
 * of two profiles mean nothing to each other).  Nodes: a node's counterpart
 * is its parent's counterpart's child of the same (name, kind), so walks go
 * top-down and cost one lookup per node visited.
 */
#include "pdiff.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "folded.h"
#include "hotspot.h"

void pdiff_scale_init(struct pdiff_scale *s, uint64_t total_b,
		      uint64_t total_a, int normalize)
{
	s->den_b = (double)total_b;
	s->den_a = normalize || total_b == 0 ? (double)total_a : (double)total_b;
}

const char *pdiff_state_mark(int state)
{
	return state == PD_NEW ? "+new" : state == PD_GONE ? "-gone" : "";
}

/* ---- nodes -------------------------------------------------------------- */

uint32_t pdiff_counterpart(const struct profile *from, uint32_t node,
			   const struct profile *to)
{
	if (!from || !to || node >= from->nnodes)
		return PDIFF_NONE;
	if (node == 0)
		return 0;
	size_t n = from->nodes[node].depth;
	const char **names = malloc(n * sizeof *names);
	uint8_t *kinds = malloc(n);
	uint32_t r = PDIFF_NONE;
	if (names && kinds &&
	    profile_path_kinds(from, node, names, kinds, n) == n) {
		uint32_t c = profile_lookup_path_kinds(to, names, kinds, n);
		if (c)
			r = c;
	}
	free(names);
	free(kinds);
	return r;
}

/* The child of `to`'s node tp matching from's node fn, or PDIFF_NONE. */
static uint32_t child_of(const struct profile *from, uint32_t fn,
			 const struct profile *to, uint32_t tp)
{
	if (tp == PDIFF_NONE)
		return PDIFF_NONE;
	const struct prof_node *nd = &from->nodes[fn];
	uint32_t c = profile_child(to, tp, profile_str_get(from, nd->name),
				   nd->kind);
	return c ? c : PDIFF_NONE;
}

int pdiff_map_boxes(const struct profile *from, const struct flame_layout *l,
		    const struct profile *to, uint32_t *out)
{
	if (!from || !l || !to || (l->n && !out))
		return -EINVAL;
	for (size_t i = 0; i < l->n; i++) {
		const struct flame_box *b = &l->boxes[i];
		uint32_t node = b->node;
		long pb = b->depth ? flame_box_at(l, b->depth - 1, b->x0) : -1;
		/* boxes are in (depth, x0) order and a child lies inside its
		 * parent, so pb < i is already mapped; a box whose parent box
		 * was dropped ('K') is looked up by its whole path */
		if (pb >= 0 && (size_t)pb < i &&
		    l->boxes[pb].node == from->nodes[node].parent)
			out[i] = child_of(from, node, to, out[pb]);
		else
			out[i] = pdiff_counterpart(from, node, to);
	}
	return 0;
}

/* ---- functions ---------------------------------------------------------- */

static uint32_t hash_s(const char *s, uint32_t h)
{
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		h = (h ^ *c) * 16777619u;
	return h;
}

static uint32_t row_hash(const struct profile *p, const struct hot_row *r)
{
	uint32_t h = hash_s(profile_str_get(p, r->name), 2166136261u);
	h = hash_s(profile_str_get(p, r->module), h ^ 0x9e3779b9u);
	return (h ^ r->kind) * 16777619u;
}

static int same_row(const struct profile *p, const struct hot_row *a,
		    const struct profile *q, const struct hot_row *b)
{
	return a->kind == b->kind &&
	       !strcmp(profile_str_get(p, a->name), profile_str_get(q, b->name)) &&
	       !strcmp(profile_str_get(p, a->module), profile_str_get(q, b->module));
}

static void fill_shares(struct pdiff_row *r, const struct pdiff_scale *sc)
{
	r->self_pb = pdiff_pct_b(sc, r->self_b);
	r->total_pb = pdiff_pct_b(sc, r->total_b);
	r->self_pa = pdiff_pct_a(sc, r->self_a);
	r->total_pa = pdiff_pct_a(sc, r->total_a);
	r->dself = pdiff_delta(sc, r->self_b, r->self_a);
	r->dtotal = pdiff_delta(sc, r->total_b, r->total_a);
}

long pdiff_table(const struct profile *before, uint32_t under_b,
		 const struct profile *after, uint32_t under_a, int normalize,
		 struct pdiff_row **rows)
{
	if (!before || !after || !rows || under_a >= after->nnodes ||
	    (under_b != PDIFF_NONE && under_b >= before->nnodes))
		return -EINVAL;
	struct hot_row *hb = NULL, *ha = NULL;
	long nb = 0, na = hotspot_build(after, under_a, &ha);
	if (na < 0)
		return na;
	if (under_b != PDIFF_NONE && (nb = hotspot_build(before, under_b, &hb)) < 0) {
		free(ha);
		return nb;
	}
	uint64_t tb = under_b == PDIFF_NONE ? 0
		    : under_b ? before->nodes[under_b].total : before->samples;
	uint64_t ta = under_a ? after->nodes[under_a].total : after->samples;
	struct pdiff_scale sc;
	pdiff_scale_init(&sc, tb, ta, normalize);

	/* open addressing over AFTER's rows, load <= 1/2; slot = row + 1 */
	size_t ns = 16;
	while (ns < 2 * (size_t)na)
		ns *= 2;
	uint32_t *slot = calloc(ns, sizeof *slot);
	uint8_t *used = calloc((size_t)na + 1, 1);
	struct pdiff_row *out = malloc(((size_t)na + (size_t)nb + 1) * sizeof *out);
	long n = 0;
	if (!slot || !used || !out) {
		n = -ENOMEM;
		goto done;
	}
	for (long i = 0; i < na; i++) {
		size_t k = row_hash(after, &ha[i]) & (ns - 1);
		while (slot[k])
			k = (k + 1) & (ns - 1);
		slot[k] = (uint32_t)i + 1;
	}
	for (long i = 0; i < nb; i++) {
		long m = -1;
		for (size_t k = row_hash(before, &hb[i]) & (ns - 1); slot[k];
		     k = (k + 1) & (ns - 1))
			if (same_row(before, &hb[i], after, &ha[slot[k] - 1])) {
				m = slot[k] - 1;
				break;
			}
		struct pdiff_row *r = &out[n++];
		memset(r, 0, sizeof *r);
		r->self_b = hb[i].self;
		r->total_b = hb[i].total;
		r->kind = hb[i].kind;
		if (m >= 0) {
			used[m] = 1;
			r->name = ha[m].name, r->module = ha[m].module;
			r->src = ha[m].src;
			r->self_a = ha[m].self, r->total_a = ha[m].total;
			r->state = PD_BOTH;
		} else {
			r->name = hb[i].name, r->module = hb[i].module;
			r->src = hb[i].src;
			r->state = PD_GONE;
		}
		fill_shares(r, &sc);
	}
	for (long i = 0; i < na; i++) {
		if (used[i])
			continue;
		struct pdiff_row *r = &out[n++];
		memset(r, 0, sizeof *r);
		r->name = ha[i].name, r->module = ha[i].module, r->src = ha[i].src;
		r->kind = ha[i].kind;
		r->self_a = ha[i].self, r->total_a = ha[i].total;
		r->state = PD_NEW;
		fill_shares(r, &sc);
	}
done:
	free(slot);
	free(used);
	free(ha);
	free(hb);
	if (n < 0) {
		free(out);
		return n;
	}
	*rows = out;
	return n;
}

struct sort_ctx {
	const struct profile *b, *a;
	enum pdiff_sort key;
	int reverse;
};

static double absd(double v) { return v < 0 ? -v : v; }

static int cmp_desc(double x, double y) { return x > y ? -1 : x < y; }

static int cmp_str(const struct sort_ctx *c, const struct pdiff_row *x,
		   uint32_t ix, const struct pdiff_row *y, uint32_t iy)
{
	return strcmp(profile_str_get(pdiff_row_profile(c->b, c->a, x), ix),
		      profile_str_get(pdiff_row_profile(c->b, c->a, y), iy));
}

static int cmp_rows(const void *va, const void *vb, void *vctx)
{
	const struct sort_ctx *c = vctx;
	const struct pdiff_row *x = va, *y = vb;
	int r = 0;
	switch (c->key) {
	case PD_SORT_DSELF:
		if (!(r = cmp_desc(absd(x->dself), absd(y->dself))))
			r = cmp_desc(absd(x->dtotal), absd(y->dtotal));
		break;
	case PD_SORT_DTOTAL:
		if (!(r = cmp_desc(absd(x->dtotal), absd(y->dtotal))))
			r = cmp_desc(absd(x->dself), absd(y->dself));
		break;
	case PD_SORT_SELF:
		if (!(r = cmp_desc(x->self_pa, y->self_pa)))
			r = cmp_desc(x->total_pa, y->total_pa);
		break;
	case PD_SORT_TOTAL:
		if (!(r = cmp_desc(x->total_pa, y->total_pa)))
			r = cmp_desc(x->self_pa, y->self_pa);
		break;
	default:
		break;
	}
	/* Ties of the count keys: rows of the same profile by string id
	 * (fixed for the session; spares the strcmps over the many equal
	 * rows), as hotspot_sort does. */
	if (!r && c->key != PD_SORT_NAME &&
	    (x->state == PD_GONE) == (y->state == PD_GONE)) {
		if (!(r = (x->name > y->name) - (x->name < y->name)))
			r = (x->module > y->module) - (x->module < y->module);
	}
	if (!r)
		r = cmp_str(c, x, x->name, y, y->name);
	if (!r)
		r = cmp_str(c, x, x->module, y, y->module);
	if (!r)
		r = (x->kind > y->kind) - (x->kind < y->kind);
	return c->reverse ? -r : r;
}

void pdiff_sort_rows(const struct profile *before, const struct profile *after,
		     struct pdiff_row *rows, size_t n, enum pdiff_sort key,
		     int reverse)
{
	if (!before || !after || !rows || n < 2)
		return;
	struct sort_ctx c = { before, after, key, reverse };
	qsort_r(rows, n, sizeof *rows, cmp_rows, &c);
}

/* ---- two-column folded -------------------------------------------------- */

struct walk {
	uint32_t *todo;          /* pairs: node, counterpart */
	size_t n, cap;
	uint32_t *kids;
	size_t kcap;
};

static int walk_push(struct walk *w, uint32_t node, uint32_t other)
{
	if (w->n + 2 > w->cap) {
		size_t nc = w->cap ? w->cap * 2 : 256;
		uint32_t *t = realloc(w->todo, nc * sizeof *t);
		if (!t)
			return -ENOMEM;
		w->todo = t;
		w->cap = nc;
	}
	w->todo[w->n++] = node;
	w->todo[w->n++] = other;
	return 0;
}

/* Scale BEFORE's count to AFTER's total, rounded (difffolded.pl -n). */
static uint64_t scaled(uint64_t v, uint64_t tb, uint64_t ta)
{
	if (!tb)
		return 0;
#ifdef __SIZEOF_INT128__
	return (uint64_t)(((unsigned __int128)v * ta * 2 + tb) /
			  ((unsigned __int128)tb * 2));
#else
	return (uint64_t)((long double)v * ta / tb + 0.5L);
#endif
}

/* Depth-first over `p` below root (children by name), following the
 * counterparts in q.  first: p is AFTER, write every stack with samples on
 * either side; else p is BEFORE, write only stacks AFTER lacks. */
static long walk_write(const struct profile *p, uint32_t root, uint32_t qroot,
		       const struct profile *q, int first, uint64_t tb,
		       uint64_t ta, int normalize, FILE *f)
{
	struct walk w = { 0 };
	long lines = 0, rc = 0;
	if (walk_push(&w, root, qroot) < 0)
		return -ENOMEM;
	while (w.n) {
		uint32_t other = w.todo[--w.n], x = w.todo[--w.n];
		const struct prof_node *nd = &p->nodes[x];
		uint64_t mine = nd->self;
		uint64_t theirs = other != PDIFF_NONE ? q->nodes[other].self : 0;
		uint64_t cb = first ? theirs : mine, ca = first ? mine : theirs;
		int want = x && (first ? (mine || theirs) : (mine && other == PDIFF_NONE));
		if (want && normalize)
			cb = scaled(cb, tb, ta);
		if (want && (cb || ca)) {
			if ((rc = folded_write_stack(p, x, 0, f)) < 0)
				break;
			fprintf(f, " %llu %llu\n", (unsigned long long)cb,
				(unsigned long long)ca);
			lines++;
		}
		long nk = profile_children_sorted(p, x, &w.kids, &w.kcap);
		if (nk < 0) {
			rc = nk;
			break;
		}
		for (long k = nk; k > 0; k--) {
			uint32_t c = w.kids[k - 1];
			uint32_t oc = child_of(p, c, q, other);
			/* x == 0 with the root's counterpart 0 is fine: child_of
			 * looks below the other root */
			if ((rc = walk_push(&w, c, oc)) < 0)
				break;
		}
		if (rc)
			break;
	}
	free(w.todo);
	free(w.kids);
	if (rc)
		return rc;
	return ferror(f) ? -EIO : lines;
}

long pdiff_write_folded(const struct profile *before, uint32_t under_b,
			const struct profile *after, uint32_t under_a,
			int normalize, FILE *f)
{
	if (!before || !after || !f || under_a >= after->nnodes ||
	    (under_b != PDIFF_NONE && under_b >= before->nnodes))
		return -EINVAL;
	uint64_t tb = under_b == PDIFF_NONE ? 0
		    : under_b ? before->nodes[under_b].total : before->samples;
	uint64_t ta = under_a ? after->nodes[under_a].total : after->samples;
	long a = walk_write(after, under_a, under_b, before, 1, tb, ta,
			    normalize, f);
	if (a < 0 || under_b == PDIFF_NONE)
		return a;
	long b = walk_write(before, under_b, under_a, after, 0, tb, ta,
			    normalize, f);
	return b < 0 ? b : a + b;
}

struct save_diff {
	const struct profile *b, *a;
	uint32_t ub, ua;
	int normalize;
};

static long write_diff(void *ctx, FILE *f)
{
	const struct save_diff *d = ctx;
	return pdiff_write_folded(d->b, d->ub, d->a, d->ua, d->normalize, f);
}

int pdiff_save(const struct profile *before, uint32_t under_b,
	       const struct profile *after, uint32_t under_a, int normalize,
	       const char *path, char *out_after, char *out_diff,
	       size_t outlen, char *err, size_t errlen)
{
	if (!before || !after || !out_after || !out_diff || outlen < 2)
		return -EINVAL;
	int rc = folded_save(after, under_a, 0, path, out_after, outlen, err,
			     errlen);
	if (rc < 0)
		return rc;
	size_t l = strlen(out_after);
	if (l > 7 && !strcmp(out_after + l - 7, ".folded"))
		l -= 7;
	char dpath[4200];
	if (snprintf(dpath, sizeof dpath, "%.*s.diff.folded", (int)l,
		     out_after) >= (int)sizeof dpath)
		return -ENAMETOOLONG;
	struct save_diff d = { before, after, under_b, under_a, normalize };
	char e2[512];
	rc = folded_save_with(write_diff, &d, dpath, NULL, out_diff, outlen,
			      e2, sizeof e2);
	if (rc < 0 && err && errlen)
		snprintf(err, errlen, "AFTER saved to %s, but the two-column "
			 "file not: %s", out_after, e2);
	return rc;
}
