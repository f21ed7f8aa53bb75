/* view_hot.c - the top-style hotspot table: one row per function. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui_view.h"

static const char *const sort_names[] = { "self", "total", "function", "module" };
static const char *const dsort_names[PD_SORT_N] = {
	"|delta self|", "|delta total|", "self after", "total after", "function" };

/* Row i of the table in either mode: its profile and strings. */
struct rowref {
	const struct profile *p;
	uint32_t name, module, src;
	int kind;
};

static struct rowref row_at(const struct tui *t, long i)
{
	const struct hot_state *h = &t->hot;
	if (h->drows) {
		const struct pdiff_row *r = &h->drows[i];
		return (struct rowref){ pdiff_row_profile(t->before, tui_shown(t), r),
					r->name, r->module, r->src, r->kind };
	}
	const struct hot_row *r = &h->rows[i];
	return (struct rowref){ tui_shown(t), r->name, r->module, r->src, r->kind };
}

static int row_visible(const struct tui *t, long i)
{
	struct rowref r = row_at(t, i);
	if (t->hide_kernel && r.kind == PK_KERNEL)
		return 0;
	if (!t->filter[0])
		return 1;
	return tui_match(profile_str_get(r.p, r.name), t->filter) ||
	       tui_match(profile_str_get(r.p, r.module), t->filter);
}

static void remember_sel(struct tui *t)
{
	struct hot_state *h = &t->hot;
	if (h->sel < 0 || h->sel >= h->nvis)
		return;
	struct rowref r = row_at(t, h->vis[h->sel]);
	snprintf(h->sel_name, sizeof h->sel_name, "%s", profile_str_get(r.p, r.name));
	snprintf(h->sel_module, sizeof h->sel_module, "%s", profile_str_get(r.p, r.module));
	h->sel_kind = r.kind;
}

static void hot_update(struct tui *t)
{
	struct hot_state *h = &t->hot;
	const struct profile *p = tui_shown(t);
	uint32_t under = tui_scope(t);

	free(h->rows);
	free(h->drows);
	free(h->vis);
	h->rows = NULL, h->drows = NULL, h->vis = NULL, h->nrows = h->nvis = 0;
	h->scope_total = 0;
	if (tui_scope_missing(t))
		return;
	long n;
	if (tui_diff(t)) {
		/* the same process in BEFORE, or none there: all new */
		uint32_t ub = under ? tui_path_in(&t->proc, t->before) : 0;
		struct pdiff_row *dr = NULL;
		n = pdiff_table(t->before, ub, p, under, tui_diff_normalize(t), &dr);
		if (n >= 0) {
			pdiff_sort_rows(t->before, p, dr, (size_t)n,
					(enum pdiff_sort)h->dsort, h->dreverse);
			h->drows = dr;
		}
	} else {
		struct hot_row *rows = NULL;
		n = hotspot_build(p, under, &rows);
		if (n >= 0) {
			hotspot_sort(p, rows, (size_t)n, (enum hot_sort)h->sort,
				     h->reverse);
			h->rows = rows;
		}
	}
	if (n < 0) {
		tui_msg(t, 1, "hotspots: out of memory");
		return;
	}
	h->nrows = n;
	h->scope_total = under ? p->nodes[under].total : p->samples;
	h->vis = malloc(sizeof *h->vis * (size_t)(n ? n : 1));
	if (!h->vis) {
		h->nrows = 0;
		return;
	}
	long want = -1;
	for (long i = 0; i < n; i++) {
		if (!row_visible(t, i))
			continue;
		struct rowref r = row_at(t, i);
		if (want < 0 && r.kind == h->sel_kind &&
		    !strcmp(profile_str_get(r.p, r.name), h->sel_name) &&
		    !strcmp(profile_str_get(r.p, r.module), h->sel_module))
			want = h->nvis;
		h->vis[h->nvis++] = i;
	}
	/* Keep the same function selected when it is still there. */
	if (want >= 0)
		h->sel = want;
	if (h->sel >= h->nvis)
		h->sel = h->nvis - 1;
	if (h->sel < 0)
		h->sel = 0;
	remember_sel(t);
}

static const char *mode_mark(int kind)
{
	return kind == PK_KERNEL ? "[k]" : kind == PK_USER ? "[u]" : "[-]";
}

static double pct(uint64_t v, uint64_t total)
{
	return total ? 100.0 * (double)v / (double)total : 0.0;
}

/* Diff mode: self and total share before, after and the delta (pp),
 * deltas in the growth / shrinkage colours, "+new" / "-gone" marked. */
static void hot_draw_diff(struct tui *t, int y0, int hgt)
{
	struct hot_state *h = &t->hot;
	const struct tui_styles *s = &t->sty;
	int show_module = t->cols >= 110;
	int modw = show_module ? 16 : 0;
	int fixed = 6 * 8 + 1 + 4 + 6;     /* numbers, M, state */
	int fnw = t->cols - fixed - (modw ? modw + 1 : 0);
	if (fnw < 4)
		fnw = 4;
	int body = hgt - 2;
	h->page = body;
	static const char *const cols[6] = { "SELF_B", "SELF_A", "dSELF",
					     "TOT_B", "TOT_A", "dTOT" };
	static const int col_sort[6] = { -1, PD_SORT_SELF, PD_SORT_DSELF,
					 -1, PD_SORT_TOTAL, PD_SORT_DTOTAL };
	const char *mark = h->dreverse ? "^" : "v";
	char hd[256];
	int l = 0;
	for (int c = 0; c < 6; c++)
		l += snprintf(hd + l, sizeof hd - (size_t)l, "%7s%s%s", cols[c],
			      col_sort[c] == h->dsort ? mark : " ", c == 2 ? " " : "");
	snprintf(hd + l, sizeof hd - (size_t)l, "%-3s %-5s %s", "M", "",
		 h->dsort == PD_SORT_NAME ? "FUNCTION v" : "FUNCTION");
	tui_fill(y0, 0, t->cols, s->st[ST_HEADER]);
	tui_put(t, y0, 0, t->cols, hd, s->st[ST_HEADER]);
	if (modw)
		tui_put(t, y0, t->cols - modw, modw, "MODULE", s->st[ST_HEADER]);
	if (body < 1)
		return;
	if (h->sel < h->top)
		h->top = h->sel;
	if (h->sel >= h->top + body)
		h->top = h->sel - body + 1;
	if (h->top > h->nvis - body)
		h->top = h->nvis - body;
	if (h->top < 0)
		h->top = 0;
	if (h->nvis == 0)
		tui_put(t, y0 + 1, 1, t->cols - 1,
			tui_scope_missing(t) ? "no samples of this process (yet)" :
			t->filter[0] ? "no function matches the filter" :
			"no samples yet", s->st[ST_DIM]);
	int pal = t->diff_cb ? 1 : 0;
	for (int i = 0; i < body && h->top + i < h->nvis; i++) {
		long ri = h->top + i;
		const struct pdiff_row *r = &h->drows[h->vis[ri]];
		const struct profile *p = pdiff_row_profile(t->before, tui_shown(t), r);
		int y = y0 + 1 + i, sel = ri == h->sel;
		const char *name = profile_str_get(p, r->name);
		attr_t base = sel ? s->st[ST_SELECTED] : s->st[ST_NORMAL];
		char b[64];
		tui_fill(y, 0, t->cols, base);
		int x = 0;
		double v[2][3] = { { r->self_pb, r->self_pa, r->dself },
				   { r->total_pb, r->total_pa, r->dtotal } };
		for (int g = 0; g < 2; g++) {
			snprintf(b, sizeof b, "%7.1f %7.1f ", v[g][0], v[g][1]);
			x += tui_put(t, y, x, t->cols - x, b, base);
			/* -0.0 from rounding would read as a change */
			double d = v[g][2] > -0.05 && v[g][2] < 0.05 ? 0.0 : v[g][2];
			snprintf(b, sizeof b, d ? "%+7.1f" : "%7.1f", d);
			attr_t da = sel || !d ? base
				  : s->diff_text[pal][d > 0 ? DIFF_GROW : DIFF_SHRINK];
			x += tui_put(t, y, x, t->cols - x, b, da);
			x += tui_put(t, y, x, t->cols - x, g ? " " : "  ", base);
			/* (8 columns per number, one more between the groups) */
		}
		attr_t ma = sel ? base : s->st[r->kind == PK_KERNEL ? ST_KERNEL : ST_USER];
		x += tui_put(t, y, x, 3, mode_mark(r->kind), ma);
		x += 1;
		attr_t sa = sel || r->state == PD_BOTH ? base
			  : s->diff_text[pal][r->state == PD_NEW ? DIFF_GROW : DIFF_SHRINK];
		snprintf(b, sizeof b, "%-5s", pdiff_state_mark(r->state));
		x += tui_put(t, y, x, 5, b, sa);
		x += 1;
		attr_t na = !sel && tui_match(name, t->search) ? s->st[ST_MATCH] : base;
		tui_put(t, y, x, fnw, name, na);
		if (modw)
			tui_put(t, y, t->cols - modw, modw, profile_str_get(p, r->module),
				sel ? base : s->st[ST_DIM]);
	}
	int yd = y0 + hgt - 1;
	tui_fill(yd, 0, t->cols, s->st[ST_HEADER]);
	if (h->sel >= 0 && h->sel < h->nvis) {
		const struct pdiff_row *r = &h->drows[h->vis[h->sel]];
		const struct profile *p = pdiff_row_profile(t->before, tui_shown(t), r);
		char d[1024];
		snprintf(d, sizeof d, "%s  self %llu -> %llu  total %llu -> %llu  (%s)  sort:%s",
			 profile_str_get(p, r->name),
			 (unsigned long long)r->self_b, (unsigned long long)r->self_a,
			 (unsigned long long)r->total_b, (unsigned long long)r->total_a,
			 tui_diff_normalize(t) ? "shares of each" : "% of before",
			 dsort_names[h->dsort]);
		tui_put(t, yd, 0, t->cols, d, s->st[ST_HEADER]);
	}
}

static void hot_draw(struct tui *t, int y0, int hgt)
{
	if (t->hot.drows || (tui_diff(t) && !t->hot.rows)) {
		hot_draw_diff(t, y0, hgt);
		return;
	}
	struct hot_state *h = &t->hot;
	const struct profile *p = tui_shown(t);
	const struct tui_styles *s = &t->sty;
	int show_samples = t->cols >= 60, show_module = t->cols >= 50;
	int modw = show_module ? (t->cols >= 100 ? 24 : 16) : 0;
	int fixed = 7 + 7 + (show_samples ? 10 : 0) + 4;
	int fnw = t->cols - fixed - (modw ? modw + 1 : 0);
	if (fnw < 4)
		fnw = 4;
	int body = hgt - 2;        /* header and detail lines */
	h->page = body;

	/* header: the sort column is marked */
	char hd[256];
	const char *mark = h->reverse ? "^" : "v";
	snprintf(hd, sizeof hd, "%6s%s %6s%s %s%-3s %s", "SELF%",
		 h->sort == HOT_SORT_SELF ? mark : " ", "TOTAL%",
		 h->sort == HOT_SORT_TOTAL ? mark : " ",
		 show_samples ? "  SAMPLES " : "", "M",
		 h->sort == HOT_SORT_NAME ? "FUNCTION v" : "FUNCTION");
	tui_fill(y0, 0, t->cols, s->st[ST_HEADER]);
	tui_put(t, y0, 0, t->cols, hd, s->st[ST_HEADER]);
	if (modw)
		tui_put(t, y0, t->cols - modw, modw,
			h->sort == HOT_SORT_MODULE ? "MODULE v" : "MODULE",
			s->st[ST_HEADER]);

	if (body < 1)
		return;
	if (h->sel < h->top)
		h->top = h->sel;
	if (h->sel >= h->top + body)
		h->top = h->sel - body + 1;
	/* never leave rows hidden above when there is room (after a resize) */
	if (h->top > h->nvis - body)
		h->top = h->nvis - body;
	if (h->top < 0)
		h->top = 0;
	if (h->nvis == 0)
		tui_put(t, y0 + 1, 1, t->cols - 1,
			tui_scope_missing(t) ? "no samples of this process (yet)" :
			t->filter[0] ? "no function matches the filter" :
			"no samples yet", s->st[ST_DIM]);
	for (int i = 0; i < body && h->top + i < h->nvis; i++) {
		long ri = h->top + i;
		const struct hot_row *r = &h->rows[h->vis[ri]];
		int y = y0 + 1 + i, sel = ri == h->sel;
		const char *name = profile_str_get(p, r->name);
		attr_t base = sel ? s->st[ST_SELECTED] : s->st[ST_NORMAL];
		char b[64];
		tui_fill(y, 0, t->cols, base);
		int x = 0;
		snprintf(b, sizeof b, "%6.1f  %6.1f  ", pct(r->self, h->scope_total),
			 pct(r->total, h->scope_total));
		x += tui_put(t, y, x, t->cols - x, b, base);
		if (show_samples) {
			snprintf(b, sizeof b, "%9llu ", (unsigned long long)r->self);
			x += tui_put(t, y, x, t->cols - x, b, base);
		}
		attr_t ma = sel ? base : s->st[r->kind == PK_KERNEL ? ST_KERNEL :
						ST_USER];
		x += tui_put(t, y, x, 3, mode_mark(r->kind), ma);
		x += 1;
		attr_t na = !sel && tui_match(name, t->search) ? s->st[ST_MATCH] : base;
		tui_put(t, y, x, fnw, name, na);
		if (modw)
			tui_put(t, y, t->cols - modw, modw,
				profile_str_get(p, r->module),
				sel ? base : s->st[ST_DIM]);
	}

	/* detail line for the selected row */
	int yd = y0 + hgt - 1;
	tui_fill(yd, 0, t->cols, s->st[ST_HEADER]);
	if (h->sel >= 0 && h->sel < h->nvis) {
		const struct hot_row *r = &h->rows[h->vis[h->sel]];
		const char *src = profile_str_get(p, r->src);
		const char *mod = profile_str_get(p, r->module);
		char d[1024];
		snprintf(d, sizeof d, "%s  %s%s%s  self %llu  total %llu of %llu  sort:%s",
			 profile_str_get(p, r->name), src && *src ? src : "(no source)",
			 mod && *mod ? "  in " : "", mod ? mod : "",
			 (unsigned long long)r->self, (unsigned long long)r->total,
			 (unsigned long long)h->scope_total, sort_names[h->sort]);
		tui_put(t, yd, 0, t->cols, d, s->st[ST_HEADER]);
	}
}

static int hot_move(struct tui *t, int key)
{
	struct hot_state *h = &t->hot;
	int r = tui_list_move(&h->sel, h->nvis, h->page, key);
	remember_sel(t);
	return r;
}

static int hot_sort(struct tui *t, int key)
{
	struct hot_state *h = &t->hot;
	if (tui_diff(t)) {
		if (key == '<')
			h->dsort = (h->dsort + PD_SORT_N - 1) % PD_SORT_N;
		else if (key == '>' || key == KEY_F(6))
			h->dsort = (h->dsort + 1) % PD_SORT_N;
		else
			h->dreverse = !h->dreverse;
		tui_msg(t, 0, "sort by %s%s", dsort_names[h->dsort],
			h->dreverse ? " (inverted)" : "");
		return TR_REBUILD;
	}
	if (key == '<')
		h->sort = (h->sort + 3) % 4;
	else if (key == '>' || key == KEY_F(6))
		h->sort = (h->sort + 1) % 4;
	else
		h->reverse = !h->reverse;
	tui_msg(t, 0, "sort by %s%s", sort_names[h->sort], h->reverse ? " (inverted)" : "");
	return TR_REBUILD;
}

/* Enter: show this function in the flame view, highlighted. */
static int hot_enter(struct tui *t, int key)
{
	struct hot_state *h = &t->hot;
	if (h->sel < 0 || h->sel >= h->nvis)
		return TR_NONE;
	struct rowref r = row_at(t, h->vis[h->sel]);
	snprintf(t->search, sizeof t->search, "%s", profile_str_get(r.p, r.name));
	t->view = VIEW_FLAME;
	t->jump_pending = 1;
	return TR_REBUILD;
}

static int hot_mouse(struct tui *t, int y, int x, int dbl)
{
	struct hot_state *h = &t->hot;
	long i = h->top + (y - 2);     /* tab bar, header */
	if (y < 2 || y >= 2 + h->page || i >= h->nvis)
		return TR_NONE;
	h->sel = i;
	remember_sel(t);
	return dbl ? hot_enter(t, '\n') : TR_REDRAW;
}

static void hot_jump(struct tui *t, int dir)
{
	struct hot_state *h = &t->hot;
	/* dir 0: the current row if it matches, else the next one */
	for (long k = dir ? 1 : 0; h->nvis > 0 && k <= h->nvis; k++) {
		long i = ((h->sel + (dir ? dir : 1) * k) % h->nvis + h->nvis) % h->nvis;
		struct rowref r = row_at(t, h->vis[i]);
		if (tui_match(profile_str_get(r.p, r.name), t->search)) {
			h->sel = i;
			remember_sel(t);
			return;
		}
	}
	tui_msg(t, 0, "no match for \"%s\"", t->search);
}

static void hot_free(struct tui *t)
{
	free(t->hot.rows);
	free(t->hot.drows);
	free(t->hot.vis);
	t->hot.rows = NULL, t->hot.drows = NULL, t->hot.vis = NULL;
	t->hot.nrows = t->hot.nvis = 0;
}

static const struct tui_key hot_keys[] = {
	{ {KEY_UP, KEY_DOWN, 'k', 'j'}, hot_move, "Up Down j k", "move" },
	{ {KEY_PPAGE, KEY_NPAGE, ' '}, hot_move, "PgUp PgDn", "page" },
	{ {KEY_HOME, KEY_END, 'g', 'G'}, hot_move, "g G Home End", "first / last row" },
	{ {'<', '>', KEY_F(6), 'I'}, hot_sort, "< > F6 I", "sort column left / right, I inverts (diff: |delta| first)" },
	{ {'\n', '\r', KEY_ENTER}, hot_enter, "Enter", "show the function in the flamegraph" },
	{ {0}, NULL, NULL, NULL },
};

const struct tui_view_ops tui_view_hot = {
	.name = "Hotspots",
	.update = hot_update,
	.draw = hot_draw,
	.keys = hot_keys,
	.mouse = hot_mouse,
	.jump = hot_jump,
	.free = hot_free,
};
