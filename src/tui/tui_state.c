/* tui_state.c - the UI state and the screen frame around the views: tab bar,
 * message line, status line. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tui_view.h"

const struct tui_view_ops *const tui_views[TUI_NVIEWS] = {
	&tui_view_hot, &tui_view_proc, &tui_view_flame,
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

static void fmt_elapsed(double s, char *b, size_t n)
{
	long v = s > 0 ? (long)s : 0;
	snprintf(b, n, "%02ld:%02ld:%02ld", v / 3600, v / 60 % 60, v % 60);
}

static void draw_status(struct tui *t, int y)
{
	const struct app_status *st = &t->status;
	attr_t a = t->sty.st[ST_STATUS];
	int x = 0;
	tui_fill(y, 0, t->cols, a);
	if (t->frozen)
		x += tui_put(t, y, x, t->cols - x, " FROZEN ", t->sty.st[ST_FROZEN]);
	x += tui_diff_badge(t, y, x);
	char b[512], rate[64] = "", el[32];
	uint64_t samples = st->samples ? st->samples : t->live->samples;
	if (st->target_hz > 0 || st->achieved_hz > 0)
		snprintf(rate, sizeof rate, " | %.0f/%.0f Hz", st->achieved_hz,
			 st->target_hz);
	fmt_elapsed(st->elapsed_s, el, sizeof el);
	char decay[32];
	if (t->decay)
		snprintf(decay, sizeof decay, "decay %gs", t->opt->decay_halflife_s);
	else
		snprintf(decay, sizeof decay, "cumulative");
	snprintf(b, sizeof b,
		 " %s | %llu samples%s | dropped %llu | err %llu | %s | %s | ? help",
		 st->guest_state ? st->guest_state : "-",
		 (unsigned long long)samples, rate,
		 (unsigned long long)st->dropped,
		 (unsigned long long)st->errors, el, decay);
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
