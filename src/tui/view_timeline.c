/* view_timeline.c - one row per vCPU over time, a cell per time slice
 * coloured by what ran there (kernel / user / idle, or by process with 'p'),
 * the markers as labelled ticks, and a time window chosen with keys or a
 * mouse drag.  Enter applies the window: the hotspot table and the flame
 * graph then show the profile of its samples (report_profile_from_log, the
 * --from/--to path), until Esc.
 *
 * The samples come from the source's sample log (live, --replay, --load of
 * a JSON report); frozen, only those logged before the freeze are drawn.
 * The selection is kept in nanoseconds, so it stays put while a live
 * timeline grows and its cells get wider. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "markers.h"
#include "report.h"
#include "tui_view.h"

#define KEY_ESC 27
enum { LABEL_W = 6, MIN_W = 10, HEAD_ROWS = 3, FOOT_ROWS = 2 };

static const struct samplelog *tl_log(const struct tui *t)
{
	return t->src ? t->src->log : NULL;
}

/* The samples the picture holds: those before a freeze, else all. */
static uint64_t tl_limit(const struct tui *t)
{
	const struct samplelog *l = tl_log(t);
	if (t->frozen && l && t->frozen_loggen == samplelog_generation(l))
		return t->frozen_nlog ? t->frozen_nlog : 1;
	return 0;
}

/* t = 0 of the labels: the markers' t0 (the reset, the start), else the
 * first sample. */
static uint64_t tl_t0(const struct tui *t)
{
	uint64_t t0 = t->opt->markers ? atomic_load(&t->opt->markers->t0_ns) : 0;
	return t0 ? t0 : t->tl.g.lo;
}

static double secs(const struct tui *t, uint64_t ns)
{
	uint64_t t0 = tl_t0(t);
	return ns >= t0 ? (double)(ns - t0) / 1e9 : -(double)(t0 - ns) / 1e9;
}

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static attr_t proc_attr(const struct tui *t, const char *comm)
{
	uint32_t h = hash_str(comm);
	return tui_flame_attr(t, h & 1 ? PK_KERNEL : PK_USER, h >> 1);
}

static int grid_width(const struct tui *t)
{
	return t->cols - LABEL_W - 1;
}

static int tl_build(struct tui *t)
{
	struct tl_state *v = &t->tl;
	int w = grid_width(t);
	v->ok = w >= MIN_W && tl_grid_build(&v->g, tl_log(t), tl_limit(t), w) == 0;
	return v->ok;
}

static void tl_update(struct tui *t)
{
	tl_build(t);
}

static void put_cell(const struct tui *t, int y, int x, const struct tl_cell *c)
{
	const struct samplelog *l = tl_log(t);
	int m = tl_cell_mode(c);
	chtype ch = ' ';
	attr_t a = t->sty.st[ST_NORMAL];

	if (m < 0) {
		mvaddch(y, x, ' ' | a);
		return;
	}
	if (t->tl.by_proc) {
		const char *comm = samplelog_str(l, c->comm);
		a = proc_attr(t, *comm ? comm : "?");
		ch = (chtype)(unsigned char)(*comm ? *comm : '?');
	} else {
		switch (m) {
		case SLOG_MODE_KERNEL: a = t->sty.st[ST_TL_KERNEL]; ch = 'k'; break;
		case SLOG_MODE_USER: a = t->sty.st[ST_TL_USER]; ch = 'u'; break;
		case SLOG_MODE_IDLE: a = t->sty.st[ST_TL_IDLE]; ch = '.'; break;
		default: a = t->sty.st[ST_DIM]; ch = '?'; break;
		}
		if (!t->sty.tl_letters && m != SLOG_MODE_UNKNOWN)
			ch = ' ';
	}
	mvaddch(y, x, ch | a);
}

/* Columns [*c0, *c1) of the span [from, to) on the grid; 0 when empty. */
static int span_cols(const struct tl_grid *g, uint64_t from, uint64_t to,
		     int *c0, int *c1)
{
	if (!to || to <= g->lo || from > g->hi)
		return 0;
	*c0 = tl_col_of(g, from);
	*c1 = to > g->hi ? g->w : tl_col_of(g, to - 1) + 1;
	return *c1 > *c0;
}

static void draw_axis(struct tui *t, int y, int x0)
{
	const struct tl_grid *g = &t->tl.g;
	int step = 12, last_end = 0;
	for (int c = 0; c < g->w; c += step) {
		char b[32];
		snprintf(b, sizeof b, "|%.*fs", g->hi - g->lo > 20000000000ull ? 0 : 2,
			 secs(t, tl_col_start(g, c)));
		if (c < last_end)
			continue;
		int n = tui_put(t, y, x0 + c, g->w - c, b, t->sty.st[ST_DIM]);
		last_end = c + n + 1;
	}
}

static void draw_markers(struct tui *t, int y, int x0, int rows_y, int nrows)
{
	struct markers *ms = t->opt->markers;
	const struct tl_grid *g = &t->tl.g;
	if (!ms)
		return;
	for (int i = 0; i < ms->n; i++) {
		uint64_t tm = markers_time(ms, i);
		if (!tm || tm < g->lo || tm > g->hi + (g->hi - g->lo) / (uint64_t)g->w)
			continue;
		int c = tl_col_of(g, tm);
		char b[80];
		snprintf(b, sizeof b, "|%s", ms->m[i].name);
		tui_put(t, y, x0 + c, g->w - c, b, t->sty.st[ST_HI]);
		/* the tick through the rows keeps the cell's colour */
		for (int r = 0; r < nrows; r++) {
			chtype old = mvinch(rows_y + r, x0 + c);
			mvaddch(rows_y + r, x0 + c, '|' | (old & (A_ATTRIBUTES | A_COLOR)));
		}
	}
}

static void draw_legend(struct tui *t, int y)
{
	struct tl_state *v = &t->tl;
	char b[256];
	int x = 0;
	tui_fill(y, 0, t->cols, t->sty.st[ST_NORMAL]);
	if (!v->by_proc) {
		static const struct { int st; const char *name, *glyph; } k[] = {
			{ ST_TL_KERNEL, "kernel", "k" }, { ST_TL_USER, "user", "u" },
			{ ST_TL_IDLE, "idle", "." } };
		for (int i = 0; i < 3 && x < t->cols; i++) {
			x += tui_put(t, y, x, t->cols - x, t->sty.tl_letters ? k[i].glyph : " ",
				     t->sty.st[k[i].st]);
			x += tui_put(t, y, x, t->cols - x, k[i].name, t->sty.st[ST_NORMAL]);
			x += tui_put(t, y, x, t->cols - x, "  ", t->sty.st[ST_NORMAL]);
		}
	} else {
		x += tui_put(t, y, x, t->cols - x, "by process (first letter)  ",
			     t->sty.st[ST_NORMAL]);
	}
	if (v->sel_to)
		snprintf(b, sizeof b, "selected %.3f-%.3f s: Enter applies, Esc clears",
			 secs(t, v->sel_from), secs(t, v->sel_to));
	else if (t->window)
		snprintf(b, sizeof b, "window %.3f-%.3f s applied: Esc clears",
			 secs(t, t->win_from), secs(t, t->win_to));
	else
		snprintf(b, sizeof b, "[ ] { } ( ) select a window, p: colour by %s",
			 v->by_proc ? "mode" : "process");
	if (x < t->cols)
		tui_put(t, y, x, t->cols - x, b, t->sty.st[v->sel_to ? ST_HI : ST_DIM]);
}

static void tl_draw(struct tui *t, int y0, int h)
{
	struct tl_state *v = &t->tl;
	const struct samplelog *l = tl_log(t);
	int x0 = LABEL_W;
	char b[256];

	v->rows_n = 0;
	if (h < HEAD_ROWS + FOOT_ROWS + 1 || grid_width(t) < MIN_W) {
		snprintf(b, sizeof b, "timeline: too small (%dx%d needed)",
			 LABEL_W + MIN_W + 1, HEAD_ROWS + FOOT_ROWS + 4);
		tui_put(t, y0, 0, t->cols, b, t->sty.st[ST_ERROR]);
		return;
	}
	if (!tl_build(t)) {
		const char *why = !l ? "no sample times: the timeline needs a live run, "
				       "--replay, or --load of a JSON report"
			: samplelog_aggregated(l) ? "no sample times in this profile"
			: "no samples yet";
		tui_put(t, y0, 0, t->cols, why, t->sty.st[ST_DIM]);
		return;
	}
	const struct tl_grid *g = &v->g;
	double cell_ms = (double)(g->hi - g->lo + 1) / g->w / 1e6;
	int nrows = h - HEAD_ROWS - FOOT_ROWS;
	int shown = g->ncpu < nrows ? g->ncpu : nrows;
	char more[32] = "";
	if (shown < g->ncpu)
		snprintf(more, sizeof more, " (%d not shown)", g->ncpu - shown);
	snprintf(b, sizeof b, "%.3f-%.3f s  %d vCPU%s%s  cell %.3g ms  %" PRIu64 " samples%s",
		 secs(t, g->lo), secs(t, g->hi), g->ncpu, g->ncpu == 1 ? "" : "s", more,
		 cell_ms, g->nsamples, t->frozen ? "  (frozen)" : "");
	tui_put(t, y0, 0, t->cols, b, t->sty.st[ST_TITLE]);
	draw_axis(t, y0 + 2, x0);
	int rows_y = y0 + HEAD_ROWS;
	for (int r = 0; r < shown; r++) {
		int y = rows_y + r;
		if (g->cpu[r] == SLOG_CPU_UNKNOWN)
			snprintf(b, sizeof b, "cpu?");
		else
			snprintf(b, sizeof b, "cpu%u", g->cpu[r]);
		tui_put(t, y, 0, LABEL_W, b, t->sty.st[ST_HEADER]);
		for (int c = 0; c < g->w; c++)
			put_cell(t, y, x0 + c, tl_cell_at(g, r, c));
	}
	draw_markers(t, y0 + 1, x0, rows_y, shown);
	/* the selection ('=') and the applied window ('-') */
	int bar_y = rows_y + shown;
	int c0, c1;
	tui_put(t, bar_y, 0, LABEL_W - 1, "win", t->sty.st[ST_DIM]);
	if (t->window && span_cols(g, t->win_from, t->win_to, &c0, &c1))
		for (int c = c0; c < c1; c++)
			mvaddch(bar_y, x0 + c, '-' | t->sty.st[ST_HI]);
	if (v->sel_to && span_cols(g, v->sel_from, v->sel_to, &c0, &c1))
		for (int c = c0; c < c1; c++)
			mvaddch(bar_y, x0 + c, '=' | t->sty.st[ST_SELECTED]);
	draw_legend(t, bar_y + 1);
	v->y0 = y0;
	v->rows_y = rows_y;
	v->rows_n = shown;
	v->bar_y = bar_y;
	v->x0 = x0;
}

/* ---- the selection ---- */

/* The selection as columns [*c0, *c1) of the current grid (it may have been
 * made on a narrower one: a live timeline grows). */
static void sel_cols(const struct tl_state *v, int *c0, int *c1)
{
	const struct tl_grid *g = &v->g;
	*c0 = tl_col_of(g, v->sel_from);
	*c1 = v->sel_to > g->hi ? g->w : tl_col_of(g, v->sel_to - 1) + 1;
	if (*c1 <= *c0)
		*c1 = *c0 + 1;
}

static int tl_key(struct tui *t, int key)
{
	struct tl_state *v = &t->tl;
	if (!v->ok && !tl_build(t)) {
		tui_msg(t, 1, "no timeline: no samples with times");
		return TR_REDRAW;
	}
	const struct tl_grid *g = &v->g;
	int w = g->w, c0, c1;
	if (!v->sel_to) {
		/* a first selection: an eighth of the run at its start (or end) */
		int len = w / 8 > 1 ? w / 8 : 1;
		c0 = key == KEY_END || key == 'G' ? w - len : 0;
		c1 = c0 + len;
	} else {
		sel_cols(v, &c0, &c1);
		int len = c1 - c0;
		switch (key) {
		case '[': case KEY_LEFT: case 'h':      /* move earlier */
			if (c0 > 0)
				c0--, c1--;
			break;
		case ']': case KEY_RIGHT: case 'l':     /* move later */
			if (c1 < w)
				c0++, c1++;
			break;
		case '{':                               /* shrink: end earlier */
			if (len > 1)
				c1--;
			break;
		case '}':                               /* grow: end later */
			if (c1 < w)
				c1++;
			break;
		case '(':                               /* start earlier */
			if (c0 > 0)
				c0--;
			break;
		case ')':                               /* start later */
			if (len > 1)
				c0++;
			break;
		case KEY_HOME: case 'g':
			c0 = 0, c1 = len;
			break;
		case KEY_END: case 'G':
			c0 = w - len, c1 = w;
			break;
		}
	}
	v->sel_from = tl_col_start(g, c0);
	v->sel_to = tl_col_start(g, c1);
	return TR_REDRAW;
}

static int apply_window(struct tui *t, uint64_t from, uint64_t to)
{
	const struct samplelog *l = tl_log(t);
	struct profile *p = profile_new();
	long n = p ? report_profile_from_log(p, l, from, to) : -1;
	if (n < 0) {
		profile_free(p);
		tui_msg(t, 1, "window: out of memory");
		return TR_REDRAW;
	}
	profile_free(t->window);
	t->window = p;
	t->win_from = from;
	t->win_to = to;
	t->tl.sel_from = t->tl.sel_to = 0;
	tui_msg(t, 0, "window %.3f-%.3f s: %ld samples; hotspots and flame show only "
		"these (Esc clears)", secs(t, from), secs(t, to), n);
	return TR_REBUILD;
}

static int tl_enter(struct tui *t, int key)
{
	struct tl_state *v = &t->tl;
	if (!v->sel_to) {
		tui_msg(t, 0, "no window selected: [ ] { } ( ) or a mouse drag");
		return TR_REDRAW;
	}
	return apply_window(t, v->sel_from, v->sel_to);
}

int tui_window_clear(struct tui *t)
{
	int had = t->window || t->tl.sel_to;
	profile_free(t->window);
	t->window = NULL;
	t->win_from = t->win_to = 0;
	t->tl.sel_from = t->tl.sel_to = 0;
	return had ? TR_REBUILD : TR_NONE;
}

static int tl_esc(struct tui *t, int key)
{
	if (tui_window_clear(t) == TR_NONE)
		return TR_UNHANDLED;   /* the global Esc: search, filter, ... */
	tui_msg(t, 0, "time window cleared: all samples");
	return TR_REBUILD;
}

static int tl_proc(struct tui *t, int key)
{
	t->tl.by_proc = !t->tl.by_proc;
	tui_msg(t, 0, "timeline coloured by %s", t->tl.by_proc ? "process" : "kernel / user / idle");
	return TR_REDRAW;
}

int tui_window_badge(struct tui *t, int y, int x)
{
	char b[80];
	if (!t->window)
		return 0;
	snprintf(b, sizeof b, " WINDOW %.2f-%.2f s ", secs(t, t->win_from), secs(t, t->win_to));
	return tui_put(t, y, x, t->cols - x, b, t->sty.st[ST_FROZEN]);
}

/* ---- the mouse: a drag over the rows or the window bar selects ---- */

static int tl_mouse_ev(struct tui *t, const MEVENT *ev)
{
	struct tl_state *v = &t->tl;
	if (!v->ok || !v->rows_n)
		return TR_NONE;
	int in = ev->y >= v->rows_y && ev->y <= v->bar_y && ev->x >= v->x0;
	int col = ev->x - v->x0;
	if (col >= v->g.w)
		col = v->g.w - 1;
	if (col < 0)
		col = 0;
	if ((ev->bstate & BUTTON1_PRESSED) && in) {
		v->drag = 1;
		v->drag_col = col;
	} else if (!v->drag && !((ev->bstate & BUTTON1_CLICKED) && in)) {
		return TR_NONE;
	}
	int a = v->drag ? v->drag_col : col, b = col;
	if (a > b) {
		int x = a;
		a = b;
		b = x;
	}
	v->sel_from = tl_col_start(&v->g, a);
	v->sel_to = tl_col_start(&v->g, b + 1);
	if (ev->bstate & BUTTON1_RELEASED) {
		v->drag = 0;
		if (b > a)    /* a drag applies; a click only selects */
			return apply_window(t, v->sel_from, v->sel_to);
	}
	return TR_REDRAW;
}

void tui_mouse_mode(int drag)
{
	static int cur = -1;
	if (cur == drag)
		return;
	cur = drag;
	mousemask(drag ? TUI_MOUSE_DRAG : TUI_MOUSE_DEFAULT, NULL);
	mouseinterval(drag ? 0 : 200);   /* press and release, not clicks */
}

static void tl_free(struct tui *t)
{
	tl_grid_free(&t->tl.g);
}

static const struct tui_key tl_keys[] = {
	{ {'[', ']', KEY_LEFT, KEY_RIGHT, 'h', 'l'}, tl_key, "[ ] Left Right",
	  "select a window / move it a cell earlier / later" },
	{ {'{', '}'}, tl_key, "{ }", "shrink / grow the window by a cell (its end)" },
	{ {'(', ')'}, tl_key, "( )", "move the window's start a cell earlier / later" },
	{ {KEY_HOME, KEY_END, 'g', 'G'}, tl_key, "Home End g G", "window to the start / end" },
	{ {'\n', '\r', KEY_ENTER}, tl_enter, "Enter",
	  "apply: hotspots and flame show only the window's samples" },
	{ {KEY_ESC}, tl_esc, "Esc", "clear the selection and the applied window" },
	{ {'p'}, tl_proc, "p", "colour cells by process / by kernel, user, idle" },
	{ {0}, NULL, NULL, NULL },
};

const struct tui_view_ops tui_view_timeline = {
	.name = "Timeline",
	.update = tl_update,
	.draw = tl_draw,
	.keys = tl_keys,
	.mouse_ev = tl_mouse_ev,
	.free = tl_free,
};
