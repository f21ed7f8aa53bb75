/* tui_state.c - the UI state and the screen frame around the views: tab bar,
 * message line, status line. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tui_view.h"

const struct tui_view_ops *const tui_views[TUI_NVIEWS] = {
	&tui_view_hot, &tui_view_proc, &tui_view_flame, &tui_view_timeline,
};

/* Below this the frame cannot hold a view: one "too small" line instead. */
enum { MIN_COLS = 20, MIN_ROWS = 5 };

double tui_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void tui_state_init(struct tui *t, const struct tui_options *opt,
		    struct profile *live, const struct app_source *src)
{
	memset(t, 0, sizeof *t);
	t->opt = opt;
	t->live = live;
	t->src = src;
	t->view = opt->start_view >= 0 && opt->start_view < TUI_NVIEWS
		? opt->start_view : 0;
	t->gen = 1;
	t->save_format = opt->save_format;
	t->last_decay = tui_now();
	t->before = opt->diff_before;
	theme_default(&t->theme);
}

void tui_state_free(struct tui *t)
{
	for (int i = 0; i < TUI_NVIEWS; i++)
		if (tui_views[i]->free)
			tui_views[i]->free(t);
	tpath_clear(&t->proc);
	profile_free(t->frozen);
	t->frozen = NULL;
	profile_free(t->baseline);
	t->baseline = NULL;
	profile_free(t->window);
	t->window = NULL;
	t->before = NULL;
}

uint32_t tui_scope(const struct tui *t)
{
	if (!t->proc.n)
		return 0;
	int exact;
	uint32_t n = tpath_resolve(&t->proc, tui_shown(t), &exact);
	return exact ? n : 0;
}

int tui_scope_missing(const struct tui *t)
{
	return t->proc.n && tui_scope(t) == 0;
}

int tui_match(const char *hay, const char *needle)
{
	return needle && *needle && hay && strcasestr(hay, needle) != NULL;
}

void tui_msg(struct tui *t, int is_err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->msg, sizeof t->msg, fmt, ap);
	va_end(ap);
	t->msg_err = is_err;
}

void tui_ensure_updated(struct tui *t)
{
	if (t->view_gen[t->view] != t->gen) {
		tui_views[t->view]->update(t);
		t->view_gen[t->view] = t->gen;
	}
}

static void draw_tabs(struct tui *t)
{
	int x = 0;
	tui_fill(0, 0, t->cols, t->sty.st[ST_NORMAL]);
	if (t->cols >= 50)      /* narrow: the tabs matter more than the name */
		x += tui_put(t, 0, x, t->cols - x, "qtop-prof ", t->sty.st[ST_TITLE]);
	for (int i = 0; i < TUI_NVIEWS && x < t->cols; i++) {
		char b[64];
		snprintf(b, sizeof b, " %d %s ", i + 1, tui_views[i]->name);
		x += tui_put(t, 0, x, t->cols - x, b,
			     i == t->view ? t->sty.st[ST_SELECTED]
					  : t->sty.st[ST_DIM]);
	}
	char info[512] = "";
	size_t l = 0;
	if (t->proc.n)
		l += snprintf(info + l, sizeof info - l, "  proc:%s", t->proc.names[0]);
	if (t->search[0] && l < sizeof info)
		l += snprintf(info + l, sizeof info - l, "  /%s", t->search);
	if (t->filter[0] && l < sizeof info)
		l += snprintf(info + l, sizeof info - l, "  \\%s", t->filter);
	if (t->hide_kernel && l < sizeof info)
		snprintf(info + l, sizeof info - l, "  no-kernel");
	if (info[0])
		tui_put(t, 0, x, t->cols - x, info, t->sty.st[ST_HI]);
}

/* A number of "per second" or percent, short: 0.4, 7.5, 73, 1200. */
static void fmt_num(char *b, size_t n, double v)
{
	if (v > 0 && v < 9.95)
		snprintf(b, n, "%.1f", v);
	else
		snprintf(b, n, "%.0f", v);
}

struct status_part {
	char text[64];
	const char *sep;     /* before it */
	int drop;            /* dropped first when the line is too wide: highest */
};

int tui_status_text(const struct tui *t, int width, char *buf, size_t len)
{
	const struct app_status *st = &t->status;
	const char *dot = t->utf8 ? " \xc2\xb7 " : " - ";
	struct status_part p[12];
	int np = 0;
	char num[32];
	uint64_t samples = st->samples ? st->samples : t->live->samples;

#define PART(sep_, drop_, ...) do { \
	snprintf(p[np].text, sizeof p[np].text, __VA_ARGS__); \
	p[np].sep = np ? (sep_) : " "; p[np].drop = (drop_); np++; } while (0)
	PART(" | ", 0, "%s", st->guest_state ? st->guest_state : "-");
	PART(" | ", 0, "%llu samples", (unsigned long long)samples);
	if (st->ncpus > 0) {
		/* what was asked and what each vCPU got, in one unit */
		if (st->target_hz > 0) {
			fmt_num(num, sizeof num, st->target_hz);
			PART(" | ", 3, "%s Hz asked", num);
		} else {
			PART(" | ", 3, "max Hz asked");
		}
		fmt_num(num, sizeof num, st->vcpu_hz);
		PART(dot, 2, "%s/s per vCPU", num);
		PART(dot, 7, "%d vCPU%s", st->ncpus, st->ncpus == 1 ? "" : "s");
		fmt_num(num, sizeof num, st->paused_pct);
		PART(dot, 8, "%s %% paused", num);
	}
	PART(" | ", st->dropped ? 4 : 9, "dropped %llu", (unsigned long long)st->dropped);
	PART(" | ", st->errors ? 4 : 9, "err %llu", (unsigned long long)st->errors);
	char el[32];
	long v = st->elapsed_s > 0 ? (long)st->elapsed_s : 0;
	snprintf(el, sizeof el, "%02ld:%02ld:%02ld", v / 3600, v / 60 % 60, v % 60);
	PART(" | ", 6, "%s", el);
	if (t->decay)
		PART(" | ", 5, "decay %gs", t->opt->decay_halflife_s);
	else
		PART(" | ", 5, "cumulative");
	PART(" | ", 10, "? help");
#undef PART
	/* too wide: drop the least useful parts first (the state and the
	 * sample count stay; tui_put cuts what still does not fit) */
	for (;;) {
		size_t o = 0;
		buf[0] = 0;
		for (int i = 0; i < np && o < len; i++)
			if (p[i].drop >= 0)
				o += (size_t)snprintf(buf + o, len - o, "%s%s",
						      p[i].sep, p[i].text);
		int w = tui_strwidth(t, buf);
		int worst = -1;
		for (int i = 0; i < np; i++)
			if (p[i].drop > 0 && (worst < 0 || p[i].drop >= p[worst].drop))
				worst = i;
		if (w <= width || worst < 0)
			return w;
		/* a rate part that follows a dropped " | " part keeps the bar */
		if (worst + 1 < np && !strcmp(p[worst].sep, " | ") &&
		    p[worst + 1].drop >= 0 && strcmp(p[worst + 1].sep, " | "))
			p[worst + 1].sep = " | ";
		p[worst].drop = -1;
	}
}

static void draw_status(struct tui *t, int y)
{
	attr_t a = t->sty.st[ST_STATUS];
	int x = 0;
	char b[512];
	tui_fill(y, 0, t->cols, a);
	if (t->frozen)
		x += tui_put(t, y, x, t->cols - x, " FROZEN ", t->sty.st[ST_FROZEN]);
	x += tui_diff_badge(t, y, x);
	x += tui_window_badge(t, y, x);
	tui_status_text(t, t->cols - x, b, sizeof b);
	tui_put(t, y, x, t->cols - x, b, a);
}

static void draw_message(struct tui *t, int y)
{
	tui_fill(y, 0, t->cols, t->sty.st[ST_NORMAL]);
	if (t->prompt) {
		char b[200];
		snprintf(b, sizeof b, "%s%s", t->prompt == '/' ? "search: " :
			 "filter: ", t->prompt_buf);
		int w = tui_put(t, y, 0, t->cols - 1, b, t->sty.st[ST_HI]);
		move(y, w);
		return;
	}
	if (t->msg[0])
		tui_put(t, y, 0, t->cols, t->msg,
			t->sty.st[t->msg_err ? ST_ERROR : ST_HI]);
	else if (t->status.warning && t->status.warning[0])
		tui_put(t, y, 0, t->cols, t->status.warning, t->sty.st[ST_ERROR]);
	else if (t->status.message && t->status.message[0])
		tui_put(t, y, 0, t->cols, t->status.message, t->sty.st[ST_DIM]);
}

void tui_draw(struct tui *t)
{
	t->rows = LINES;
	t->cols = COLS;
	bkgdset(' ' | t->sty.st[ST_NORMAL]);
	erase();
	if (t->rows < MIN_ROWS || t->cols < MIN_COLS) {
		char b[64];
		snprintf(b, sizeof b, "terminal too small (%dx%d)", t->cols, t->rows);
		tui_put(t, 0, 0, t->cols, b, t->sty.st[ST_ERROR]);
		return;
	}
	tui_mouse_mode(t->view == VIEW_TIMELINE);
	tui_ensure_updated(t);
	if (t->jump_pending) {
		t->jump_pending = 0;
		if (tui_views[t->view]->jump)
			tui_views[t->view]->jump(t, 0);
	}
	draw_tabs(t);
	tui_views[t->view]->draw(t, 1, t->rows - 3);
	draw_status(t, t->rows - 1);
	draw_message(t, t->rows - 2);
	if (t->help)
		tui_draw_help(t);
	curs_set(t->prompt ? 1 : 0);
}
