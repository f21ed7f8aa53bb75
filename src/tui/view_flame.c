/* view_flame.c - the flamegraph (icicle by default): boxes from flame_layout,
 * coloured by a hash of the name, zoom with a history stack, search counts.
 * Zoom and selection are paths, resolved again after every data change. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui_view.h"

/* The profile laid out: AFTER (what is shown), or BEFORE when a diff
 * takes its widths from it ('w'). */
static const struct profile *lay_prof(const struct tui *t)
{
	return t->before && t->diff_width_before ? t->before : tui_shown(t);
}

/* The process filter in the laid-out profile (tui_scope is AFTER's). */
static uint32_t fscope(const struct tui *t)
{
	uint32_t n = t->proc.n ? tui_path_in(&t->proc, lay_prof(t)) : 0;
	return n == PDIFF_NONE ? 0 : n;
}

static int fscope_missing(const struct tui *t)
{
	return t->proc.n && tui_path_in(&t->proc, lay_prof(t)) == PDIFF_NONE;
}

/* Diff: per box the delta of its total share, AFTER - BEFORE, as parts
 * of the whole profiles; boxes without a counterpart count 0 there. */
static void diff_boxes(struct tui *t, const struct profile *p)
{
	struct flame_state *f = &t->fl;
	const struct profile *other = p == t->before ? tui_shown(t) : t->before;
	f->dmax = 0;
	if (f->lay.n > f->dcap) {
		double *d = realloc(f->delta, f->lay.n * sizeof *d);
		if (!d) {
			tui_msg(t, 1, "diff: out of memory");
			f->lay_ok = 0;
			return;
		}
		f->delta = d;
		f->dcap = f->lay.n;
	}
	uint32_t *map = malloc((f->lay.n ? f->lay.n : 1) * sizeof *map);
	if (!map || pdiff_map_boxes(p, &f->lay, other, map) < 0) {
		free(map);
		tui_msg(t, 1, "diff: out of memory");
		f->lay_ok = 0;
		return;
	}
	struct pdiff_scale sc;
	pdiff_scale_init(&sc, t->before->samples, tui_shown(t)->samples,
			 tui_diff_normalize(t));
	for (size_t i = 0; i < f->lay.n; i++) {
		uint64_t mine = p->nodes[f->lay.boxes[i].node].total;
		uint64_t theirs = map[i] == PDIFF_NONE ? 0 : other->nodes[map[i]].total;
		double d = p == t->before ? pdiff_delta(&sc, mine, theirs)
					  : pdiff_delta(&sc, theirs, mine);
		f->delta[i] = d;
		if (f->lay.boxes[i].depth > 0 && (d < 0 ? -d : d) > f->dmax)
			f->dmax = d < 0 ? -d : d;
	}
	free(map);
}

/* Rows of the view: breadcrumb on top, info line at the bottom. */
static int box_rows(int hgt) { return hgt - 2; }

static int is_under(const struct profile *p, uint32_t n, uint32_t anc)
{
	if (anc == 0)
		return 1;
	while (n && n != anc)
		n = p->nodes[n].parent;
	return n == anc;
}

/* Does the name of node n match the search?  Cached per string id: a
 * search visits every node, and names repeat a lot. */
static int node_matches(struct tui *t, const struct profile *p, uint32_t n)
{
	struct flame_state *f = &t->fl;
	uint32_t id = p->nodes[n].name;
	if (n == 0)
		return 0;
	if (id >= f->mcap)
		return tui_match(profile_str_get(p, id), t->search);
	if (!f->mcache[id])
		f->mcache[id] = tui_match(profile_str_get(p, id), t->search) ? 2 : 1;
	return f->mcache[id] == 2;
}

static void reset_match_cache(struct tui *t, const struct profile *p)
{
	struct flame_state *f = &t->fl;
	size_t need = profile_nstrings(p);
	if (need > f->mcap) {
		uint8_t *c = realloc(f->mcache, need);
		if (c)
			f->mcache = c, f->mcap = need;
	}
	if (f->mcache)
		memset(f->mcache, 0, f->mcap);
}

/* Samples in the subtree of r under matching frames, nested matches once. */
static uint64_t match_samples(struct tui *t, const struct profile *p,
			      uint32_t r)
{
	uint64_t sum = 0;
	uint32_t n = r;
	for (;;) {
		int hit = node_matches(t, p, n);
		if (hit)
			sum += p->nodes[n].total;
		if (!hit && p->nodes[n].first_child) {
			n = p->nodes[n].first_child;
			continue;
		}
		while (n != r && !p->nodes[n].next_sibling)
			n = p->nodes[n].parent;
		if (n == r)
			break;
		n = p->nodes[n].next_sibling;
	}
	return sum;
}

static void push_hist(struct flame_state *f)
{
	if (f->nhist == FLAME_HIST) {
		/* full: forget the oldest level */
		tpath_clear(&f->hist[0]);
		memmove(&f->hist[0], &f->hist[1], sizeof f->hist[0] * (FLAME_HIST - 1));
		memset(&f->hist[FLAME_HIST - 1], 0, sizeof f->hist[0]);
		f->nhist--;
	}
	tpath_copy(&f->hist[f->nhist++], &f->zoom);
}

static void clear_hist(struct flame_state *f)
{
	while (f->nhist > 0)
		tpath_clear(&f->hist[--f->nhist]);
}

/* 'K': remove kernel boxes (all below user frames, so their space simply
 * stays empty under the user frame); the zoom root always stays.  Order
 * (depth, x0) is kept, which flame_box_at relies on. */
static void drop_kernel_boxes(const struct profile *p, struct flame_layout *l)
{
	size_t o = 0;
	for (size_t i = 0; i < l->n; i++)
		if (l->boxes[i].depth == 0 ||
		    p->nodes[l->boxes[i].node].kind != PK_KERNEL)
			l->boxes[o++] = l->boxes[i];
	l->n = o;
}

static void flame_update(struct tui *t)
{
	struct flame_state *f = &t->fl;
	const struct profile *p = lay_prof(t);
	uint32_t scope = fscope(t);
	int exact;

	/* a new (or cleared) process filter starts from its root */
	const char *sn = t->proc.n ? t->proc.names[0] : "";
	if (strcmp(sn, f->scope_name)) {
		snprintf(f->scope_name, sizeof f->scope_name, "%s", sn);
		tpath_copy(&f->zoom, &t->proc);
		clear_hist(f);
	}
	uint32_t z = tpath_resolve(&f->zoom, p, &exact);
	if (!is_under(p, z, scope))
		z = scope;
	f->zoom_node = z;

	int nrows = box_rows(t->rows - 3);
	f->lay.n = 0;     /* flame_layout reuses the buffer */
	f->lay_ok = nrows > 0 && t->cols > 0 && !fscope_missing(t) &&
		    flame_layout(p, z, t->cols, nrows, &f->lay) == 0;
	if (!f->lay_ok && nrows > 0 && t->cols > 0 && !fscope_missing(t))
		tui_msg(t, 1, "flamegraph: out of memory");
	if (f->lay_ok && t->hide_kernel)
		drop_kernel_boxes(p, &f->lay);
	if (f->lay_ok && tui_diff(t))
		diff_boxes(t, p);

	/* selection: the same path, else its deepest visible ancestor */
	uint32_t s = tpath_resolve(&f->sel, p, &exact);
	if (!is_under(p, s, z))
		s = z;
	f->sel_box = -1;
	while (f->lay_ok) {
		for (size_t i = 0; i < f->lay.n; i++)
			if (f->lay.boxes[i].node == s) {
				f->sel_box = (long)i;
				break;
			}
		if (f->sel_box >= 0 || s == z || s == 0)
			break;
		s = p->nodes[s].parent;
	}
	f->sel_node = s;

	f->match_all = f->match_zoom = 0;
	if (t->search[0]) {
		reset_match_cache(t, p);
		f->match_all = match_samples(t, p, 0);
		/* a matching zoom frame or ancestor covers the whole zoom */
		uint32_t a = z;
		while (a && !node_matches(t, p, a))
			a = p->nodes[a].parent;
		f->match_zoom = a ? p->nodes[z].total
			      : z ? match_samples(t, p, z) : f->match_all;
	}
}

static const char *frame_label(const struct profile *p, uint32_t n)
{
	return n == 0 ? "all" : profile_node_name(p, n);
}

static double pct(uint64_t v, uint64_t total)
{
	return total ? 100.0 * (double)v / (double)total : 0.0;
}

static void draw_breadcrumb(struct tui *t, int y)
{
	struct flame_state *f = &t->fl;
	const struct profile *p = lay_prof(t);
	const struct tui_styles *s = &t->sty;
	const char *sep = t->utf8 ? " \xe2\x80\xba " : " > ";
	tui_fill(y, 0, t->cols, s->st[ST_NORMAL]);
	int x = 0;
	if (tui_diff(t))
		x += tui_put(t, y, x, t->cols, t->diff_width_before
			     ? "diff, width before: " : "diff, width after: ",
			     s->st[ST_DIM]);
	x += tui_put(t, y, x, t->cols - x, f->flame_up ? "flame: " : "icicle: ",
		     s->st[ST_DIM]);
	/* ancestors dimmed, the zoom frame highlighted; long chains keep the
	 * end (the frames nearest the zoom matter most) */
	uint32_t chain[TPATH_MAX];
	int n = 0;
	for (uint32_t a = f->zoom_node; n < TPATH_MAX; a = p->nodes[a].parent) {
		chain[n++] = a;
		if (a == 0)
			break;
	}
	int first = n - 1, width = 0;
	for (int i = n - 1; i >= 0; i--)
		width += tui_strwidth(t, frame_label(p, chain[i])) + 3;
	while (first > 0 && width > t->cols - x - 4) {
		width -= tui_strwidth(t, frame_label(p, chain[first])) + 3;
		first--;
	}
	if (first < n - 1)
		x += tui_put(t, y, x, t->cols - x, t->utf8 ? "\xe2\x80\xa6" : "..",
			     s->st[ST_DIM]);
	for (int i = first; i >= 0 && x < t->cols; i--) {
		if (i != first || first < n - 1)
			x += tui_put(t, y, x, t->cols - x, sep, s->st[ST_DIM]);
		x += tui_put(t, y, x, t->cols - x, frame_label(p, chain[i]),
			     i == 0 ? s->st[ST_TITLE] : s->st[ST_DIM]);
	}
}

static void draw_info(struct tui *t, int y)
{
	struct flame_state *f = &t->fl;
	const struct profile *p = lay_prof(t);
	char b[1024];
	uint64_t zt = p->nodes[f->zoom_node].total;
	int l = 0;
	tui_fill(y, 0, t->cols, t->sty.st[ST_HEADER]);
	if (t->search[0])
		l = snprintf(b, sizeof b, "\"%s\": %llu samples, %.1f%% of all, %.1f%% of zoom  |  ",
			     t->search, (unsigned long long)f->match_all,
			     pct(f->match_all, p->samples), pct(f->match_zoom, zt));
	if (l >= 0 && (size_t)l < sizeof b && tui_diff(t) && f->sel_box >= 0 &&
	    (size_t)f->sel_box < f->lay.n) {
		/* the same frame on both sides, as parts of the whole */
		const struct profile *a = tui_shown(t), *bp = t->before;
		uint32_t na = p == a ? f->sel_node : pdiff_counterpart(p, f->sel_node, a);
		uint32_t nb = p == bp ? f->sel_node : pdiff_counterpart(p, f->sel_node, bp);
		uint64_t ta = na == PDIFF_NONE ? 0 : a->nodes[na].total;
		uint64_t tb = nb == PDIFF_NONE ? 0 : bp->nodes[nb].total;
		struct pdiff_scale sc;
		pdiff_scale_init(&sc, bp->samples, a->samples, tui_diff_normalize(t));
		const struct prof_node *nd = &p->nodes[f->sel_node];
		snprintf(b + l, sizeof b - (size_t)l,
			 "%s%s  before %.1f%% (%llu)  after %.1f%% (%llu)  delta %+.2f pp%s",
			 frame_label(p, f->sel_node), nd->kind == PK_KERNEL ? " [k]" : "",
			 pdiff_pct_b(&sc, tb), (unsigned long long)tb,
			 pdiff_pct_a(&sc, ta), (unsigned long long)ta,
			 pdiff_delta(&sc, tb, ta),
			 nb == PDIFF_NONE ? "  +new" : na == PDIFF_NONE ? "  -gone" : "");
	} else if (l >= 0 && (size_t)l < sizeof b) {
		const struct prof_node *nd = &p->nodes[f->sel_node];
		const char *src = profile_str_get(p, nd->src);
		const char *mod = profile_str_get(p, nd->module);
		snprintf(b + l, sizeof b - (size_t)l,
			 "%s%s  %llu samples, %.1f%% of all, %.1f%% of zoom, self %llu%s%s%s%s",
			 frame_label(p, f->sel_node),
			 nd->kind == PK_KERNEL ? " [k]" : "",
			 (unsigned long long)nd->total, pct(nd->total, p->samples),
			 pct(nd->total, zt), (unsigned long long)nd->self,
			 mod && *mod ? "  " : "", mod ? mod : "",
			 src && *src ? "  " : "", src ? src : "");
	}
	tui_put(t, y, 0, t->cols, b, t->sty.st[ST_HEADER]);
}

static void flame_draw(struct tui *t, int y0, int hgt)
{
	struct flame_state *f = &t->fl;
	const struct profile *p = lay_prof(t);
	const struct tui_styles *s = &t->sty;
	int nrows = box_rows(hgt);
	f->y0 = y0, f->h = hgt;
	draw_breadcrumb(t, y0);
	if (nrows < 1)
		return;
	draw_info(t, y0 + hgt - 1);
	if (fscope_missing(t))
		tui_put(t, y0 + 1, 1, t->cols - 1, "no samples of this process (yet)",
			s->st[ST_DIM]);
	if (!f->lay_ok)
		return;
	if (p->nodes[f->zoom_node].total == 0)
		tui_put(t, y0 + 1, 1, t->cols - 1, "no samples yet", s->st[ST_DIM]);
	for (size_t i = 0; i < f->lay.n; i++) {
		const struct flame_box *bx = &f->lay.boxes[i];
		if (bx->depth >= nrows)
			break;            /* sorted by depth */
		int y = f->flame_up ? y0 + hgt - 2 - bx->depth : y0 + 1 + bx->depth;
		int w = bx->x1 - bx->x0;
		const struct prof_node *nd = &p->nodes[bx->node];
		const char *name = frame_label(p, bx->node);
		attr_t a = tui_diff(t) ? tui_diff_attr(t, f->delta[i], f->dmax)
			 : tui_flame_attr(t, nd->kind, flame_name_hash(name));
		/* mono has no hue: the sign goes in front of the label */
		char signed_name[300];
		if (tui_diff(t) && s->mono && f->delta[i] != 0) {
			snprintf(signed_name, sizeof signed_name, "%c%s",
				 f->delta[i] > 0 ? '+' : '-', name);
			name = signed_name;
		}
		/* mono: boxes are reversed, so the selection is the one box
		 * that is not, and matches are underlined */
		if ((long)i == f->sel_box)
			a = s->mono ? A_BOLD : s->st[ST_SELECTED] | A_BOLD;
		else if (t->search[0] && node_matches(t, p, bx->node))
			a = s->mono ? A_REVERSE | A_UNDERLINE | A_BOLD
				    : s->st[ST_MATCH] | A_BOLD;
		tui_fill(y, bx->x0, w, a);
		/* mono: reverse blocks would merge, so mark each box's start */
		int lx = bx->x0, lw = w;
		if (s->mono && w >= 2) {
			tui_put(t, y, bx->x0, 1, "|", a);
			lx++, lw--;
		}
		/* the last column stays unlabelled so neighbours' labels
		 * never run together */
		if (w >= 3)
			tui_put(t, y, lx, lw - 1, name, a);
	}
}

static int select_node(struct tui *t, long box)
{
	struct flame_state *f = &t->fl;
	if (box < 0 || (size_t)box >= f->lay.n)
		return TR_NONE;
	f->sel_box = box;
	f->sel_node = f->lay.boxes[box].node;
	tpath_set(&f->sel, lay_prof(t), f->sel_node);
	return TR_REDRAW;
}

/* The widest child box of box b, or -1. */
static long child_box(const struct flame_layout *l, long b)
{
	const struct flame_box *p = &l->boxes[b];
	long best = -1;
	for (size_t i = (size_t)b + 1; i < l->n; i++) {
		const struct flame_box *c = &l->boxes[i];
		if (c->depth > p->depth + 1)
			break;
		if (c->depth == p->depth + 1 && c->x0 >= p->x0 && c->x1 <= p->x1 &&
		    (best < 0 || c->x1 - c->x0 > l->boxes[best].x1 - l->boxes[best].x0))
			best = (long)i;
	}
	return best;
}

static long parent_box(const struct tui *t, long b)
{
	const struct flame_state *f = &t->fl;
	const struct flame_box *bx = &f->lay.boxes[b];
	if (bx->depth == 0)
		return -1;
	uint32_t par = lay_prof(t)->nodes[bx->node].parent;
	for (long i = b - 1; i >= 0; i--)
		if (f->lay.boxes[i].node == par)
			return i;
	return -1;
}

static int flame_move(struct tui *t, int key)
{
	struct flame_state *f = &t->fl;
	if (!f->lay_ok || f->sel_box < 0)
		return TR_NONE;
	long b = f->sel_box;
	int up = key == KEY_UP || key == 'k', down = key == KEY_DOWN || key == 'j';
	if (f->flame_up && (up || down))
		up = !up, down = !down;   /* up is towards the leaves in a flame */
	if (up)
		return select_node(t, parent_box(t, b));
	if (down)
		return select_node(t, child_box(&f->lay, b));
	long n = key == KEY_LEFT || key == 'h' ? b - 1 : b + 1;
	if (n >= 0 && (size_t)n < f->lay.n &&
	    f->lay.boxes[n].depth == f->lay.boxes[b].depth)
		return select_node(t, n);
	return TR_NONE;
}

static int flame_zoom_in(struct tui *t, int key)
{
	struct flame_state *f = &t->fl;
	if (f->sel_node == f->zoom_node)
		return TR_NONE;
	push_hist(f);
	tpath_set(&f->zoom, lay_prof(t), f->sel_node);
	return TR_REBUILD;
}

static int flame_zoom_out(struct tui *t, int key)
{
	struct flame_state *f = &t->fl;
	const struct profile *p = lay_prof(t);
	if (f->nhist > 0) {
		tpath_copy(&f->zoom, &f->hist[f->nhist - 1]);
		tpath_clear(&f->hist[--f->nhist]);
	} else if (f->zoom_node != fscope(t)) {
		tpath_set(&f->zoom, p, p->nodes[f->zoom_node].parent);
	} else {
		return key == 27 ? TR_UNHANDLED : TR_NONE;
	}
	return TR_REBUILD;
}

static int flame_reset(struct tui *t, int key)
{
	struct flame_state *f = &t->fl;
	clear_hist(f);
	tpath_set(&f->zoom, lay_prof(t), fscope(t));
	return TR_REBUILD;
}

static int flame_width_side(struct tui *t, int key)
{
	if (!tui_diff(t)) {
		tui_msg(t, 0, "not comparing: b takes a baseline");
		return TR_REDRAW;
	}
	t->diff_width_before = !t->diff_width_before;
	tui_msg(t, 0, "widths from %s (zoom and selection kept where the frame exists)",
		t->diff_width_before ? "before" : "after");
	return TR_REBUILD;
}

static int flame_orient(struct tui *t, int key)
{
	t->fl.flame_up = !t->fl.flame_up;
	return TR_REDRAW;
}

static int flame_mouse(struct tui *t, int y, int x, int dbl)
{
	struct flame_state *f = &t->fl;
	int nrows = box_rows(f->h);
	int d = f->flame_up ? f->y0 + f->h - 2 - y : y - f->y0 - 1;
	if (!f->lay_ok || d < 0 || d >= nrows)
		return TR_NONE;
	long b = flame_box_at(&f->lay, d, x);
	if (b < 0)
		return TR_NONE;
	select_node(t, b);
	return dbl ? flame_zoom_in(t, '\n') : TR_REDRAW;
}

static void flame_jump(struct tui *t, int dir)
{
	struct flame_state *f = &t->fl;
	const struct profile *p = lay_prof(t);
	long n = (long)f->lay.n, cur = f->sel_box < 0 ? 0 : f->sel_box;
	for (long k = dir ? 1 : 0; n > 0 && k <= n; k++) {
		long i = ((cur + (dir ? dir : 1) * k) % n + n) % n;
		if (tui_match(frame_label(p, f->lay.boxes[i].node), t->search)) {
			select_node(t, i);
			return;
		}
	}
	tui_msg(t, 0, "no visible frame matches \"%s\"", t->search);
}

static void flame_free(struct tui *t)
{
	struct flame_state *f = &t->fl;
	flame_layout_free(&f->lay);
	memset(&f->lay, 0, sizeof f->lay);
	f->lay_ok = 0;
	tpath_clear(&f->zoom);
	tpath_clear(&f->sel);
	clear_hist(f);
	free(f->mcache);
	f->mcache = NULL;
	f->mcap = 0;
	free(f->delta);
	f->delta = NULL;
	f->dcap = 0;
}

static const struct tui_key flame_keys[] = {
	{ {KEY_UP, 'k', KEY_DOWN, 'j'}, flame_move, "Up Down k j", "parent / widest child" },
	{ {KEY_LEFT, 'h', KEY_RIGHT, 'l'}, flame_move, "Left Right h l", "previous / next frame" },
	{ {'\n', '\r', KEY_ENTER}, flame_zoom_in, "Enter", "zoom into the selected frame" },
	{ {27, KEY_BACKSPACE, 127, 8}, flame_zoom_out, "Esc Backspace", "zoom out one level" },
	{ {'0', 'r'}, flame_reset, "0 r", "reset zoom" },
	{ {'f'}, flame_orient, "f", "flame (root below) / icicle (root on top)" },
	{ {'w'}, flame_width_side, "w", "diff: widths from after / before" },
	{ {0}, NULL, NULL, NULL },
};

const struct tui_view_ops tui_view_flame = {
	.name = "Flame",
	.update = flame_update,
	.draw = flame_draw,
	.keys = flame_keys,
	.mouse = flame_mouse,
	.jump = flame_jump,
	.free = flame_free,
};
