/* view_hot.c - the top-style hotspot table: one row per function. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui_view.h"

static const char *const sort_names[] = { "self", "total", "function", "module" };

static int row_visible(const struct tui *t, const struct profile *p,
		       const struct hot_row *r)
{
	if (t->hide_kernel && r->kind == PK_KERNEL)
		return 0;
	if (!t->filter[0])
		return 1;
	return tui_match(profile_str_get(p, r->name), t->filter) ||
	       tui_match(profile_str_get(p, r->module), t->filter);
}

static void remember_sel(struct tui *t)
{
	struct hot_state *h = &t->hot;
	const struct profile *p = tui_shown(t);
	if (h->sel < 0 || h->sel >= h->nvis)
		return;
	const struct hot_row *r = &h->rows[h->vis[h->sel]];
	snprintf(h->sel_name, sizeof h->sel_name, "%s", profile_str_get(p, r->name));
	snprintf(h->sel_module, sizeof h->sel_module, "%s", profile_str_get(p, r->module));
	h->sel_kind = r->kind;
}

static void hot_update(struct tui *t)
{
	struct hot_state *h = &t->hot;
	const struct profile *p = tui_shown(t);
	uint32_t under = tui_scope(t);

	free(h->rows);
	free(h->vis);
	h->rows = NULL, h->vis = NULL, h->nrows = h->nvis = 0;
	h->scope_total = 0;
	if (tui_scope_missing(t))
		return;
	struct hot_row *rows = NULL;
	long n = hotspot_build(p, under, &rows);
	if (n < 0) {
		tui_msg(t, 1, "hotspots: out of memory");
		return;
	}
	hotspot_sort(p, rows, (size_t)n, (enum hot_sort)h->sort, h->reverse);
	h->rows = rows;
	h->nrows = n;
	h->scope_total = under ? p->nodes[under].total : p->samples;
	h->vis = malloc(sizeof *h->vis * (size_t)(n ? n : 1));
	if (!h->vis) {
		h->nrows = 0;
		return;
	}
	long want = -1;
	for (long i = 0; i < n; i++) {
		if (!row_visible(t, p, &rows[i]))
			continue;
		if (want < 0 && rows[i].kind == h->sel_kind &&
		    !strcmp(profile_str_get(p, rows[i].name), h->sel_name) &&
		    !strcmp(profile_str_get(p, rows[i].module), h->sel_module))
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

static void hot_draw(struct tui *t, int y0, int hgt)
{
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
	snprintf(t->search, sizeof t->search, "%s",
		 profile_str_get(tui_shown(t), h->rows[h->vis[h->sel]].name));
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
	const struct profile *p = tui_shown(t);
	/* dir 0: the current row if it matches, else the next one */
	for (long k = dir ? 1 : 0; h->nvis > 0 && k <= h->nvis; k++) {
		long i = ((h->sel + (dir ? dir : 1) * k) % h->nvis + h->nvis) % h->nvis;
		if (tui_match(profile_str_get(p, h->rows[h->vis[i]].name), t->search)) {
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
	free(t->hot.vis);
	t->hot.rows = NULL, t->hot.vis = NULL;
	t->hot.nrows = t->hot.nvis = 0;
}

static const struct tui_key hot_keys[] = {
	{ {KEY_UP, KEY_DOWN, 'k', 'j'}, hot_move, "Up Down j k", "move" },
	{ {KEY_PPAGE, KEY_NPAGE, ' '}, hot_move, "PgUp PgDn", "page" },
	{ {KEY_HOME, KEY_END, 'g', 'G'}, hot_move, "g G Home End", "first / last row" },
	{ {'<', '>', KEY_F(6), 'I'}, hot_sort, "< > F6 I", "sort column left / right, I inverts" },
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
