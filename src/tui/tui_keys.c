/* tui_keys.c - key dispatch: prompt, help overlay, the view's table, then
 * the global table.  The help overlay is generated from the same tables, so
 * it lists every key that works. */
#include <string.h>

#include "tui_view.h"

#define KEY_ESC 27
#define CTRL(c) ((c) & 0x1f)

static int act_quit(struct tui *t, int key)
{
	t->quit = 1;
	return TR_NONE;
}

static int act_help(struct tui *t, int key)
{
	t->help = !t->help;
	t->help_top = 0;
	return TR_REDRAW;
}

static int act_view(struct tui *t, int key)
{
	if (key == '\t')
		t->view = (t->view + 1) % TUI_NVIEWS;
	else if (key == KEY_BTAB)
		t->view = (t->view + TUI_NVIEWS - 1) % TUI_NVIEWS;
	else
		t->view = key - '1';
	return TR_REDRAW;
}

static int act_prompt(struct tui *t, int key)
{
	t->prompt = key;
	snprintf(t->prompt_buf, sizeof t->prompt_buf, "%s",
		 key == '/' ? t->search : t->filter);
	return TR_REDRAW;
}

static int act_jump(struct tui *t, int key)
{
	if (!t->search[0]) {
		tui_msg(t, 0, "no search: press / first");
		return TR_REDRAW;
	}
	if (tui_views[t->view]->jump)
		tui_views[t->view]->jump(t, key == 'n' ? 1 : -1);
	return TR_REDRAW;
}

static int act_clear(struct tui *t, int key)
{
	/* Esc peels one layer: search, then filter, then process filter */
	if (t->search[0])
		t->search[0] = '\0';
	else if (t->filter[0])
		t->filter[0] = '\0';
	else if (t->proc.n) {
		tpath_clear(&t->proc);
		tui_msg(t, 0, "process filter cleared");
	} else if (t->window) {
		tui_window_clear(t);
		tui_msg(t, 0, "time window cleared: all samples");
	} else
		return TR_NONE;
	return TR_REBUILD;
}

static int act_hide_kernel(struct tui *t, int key)
{
	t->hide_kernel = !t->hide_kernel;
	tui_msg(t, 0, t->hide_kernel ? "kernel frames hidden (their samples stay in the counts)"
				     : "kernel frames shown");
	return TR_REBUILD;
}

static int act_redraw(struct tui *t, int key)
{
	clearok(curscr, TRUE);
	return TR_REDRAW;
}

const struct tui_key tui_global_keys[] = {
	{ {'q', KEY_F(10)}, act_quit, "q F10", "quit" },
	{ {'?', KEY_F(1)}, act_help, "? F1", "this help" },
	{ {'\t', KEY_BTAB, '1', '2', '3', '4'}, act_view, "Tab S-Tab 1-4",
	  "next / previous view, or view N" },
	{ {'z'}, tui_act_freeze, "z", "freeze the display (sampling goes on); again: live" },
	{ {'s'}, tui_act_save, "s", "save what is shown (-o files, or a new file; never overwrites)" },
	{ {'e'}, tui_act_save_format, "e", "next save format: folded, pprof, speedscope, perf-script" },
	{ {'R'}, tui_act_reset, "R", "reset all counts" },
	{ {'d'}, tui_act_decay, "d", "toggle decaying window / cumulative" },
	{ {'K'}, act_hide_kernel, "K", "hide / show kernel frames" },
	{ {'b'}, tui_act_baseline, "b", "diff: baseline now (compare with it); again: off" },
	{ {'c'}, tui_act_diff_colors, "c", "diff: colour-blind-safe colours (orange/blue)" },
	{ {'/'}, act_prompt, "/", "search: highlight matches" },
	{ {'\\'}, act_prompt, "\\", "filter: hide rows that don't match" },
	{ {'n', 'N'}, act_jump, "n N", "next / previous match" },
	{ {KEY_ESC}, act_clear, "Esc", "clear search, filter, process filter, time window" },
	{ {CTRL('l')}, act_redraw, "^L", "redraw the screen" },
	{ {0}, NULL, NULL, NULL },
};

static int table_dispatch(struct tui *t, const struct tui_key *tab, int key)
{
	for (const struct tui_key *k = tab; k && k->fn; k++)
		for (int i = 0; i < 6 && k->keys[i]; i++)
			if (k->keys[i] == key)
				return k->fn(t, key);
	return TR_UNHANDLED;
}

static int prompt_key(struct tui *t, int key)
{
	size_t n = strlen(t->prompt_buf);
	char *target = t->prompt == '/' ? t->search : t->filter;
	if (key == '\n' || key == '\r' || key == KEY_ENTER) {
		/* a confirmed search goes to its first hit */
		t->jump_pending = t->prompt == '/' && t->search[0];
		t->prompt = 0;
		return TR_REBUILD;
	}
	if (key == KEY_ESC) {
		t->prompt = 0;
		target[0] = '\0';
		return TR_REBUILD;
	}
	if (key == KEY_BACKSPACE || key == 127 || key == 8) {
		if (n)
			t->prompt_buf[n - 1] = '\0';
	} else if (key == CTRL('u')) {
		t->prompt_buf[0] = '\0';
	} else if (key >= 0x20 && key < 0x100 && key != 0x7f) {
		if (n + 1 < sizeof t->prompt_buf) {
			t->prompt_buf[n] = (char)key;
			t->prompt_buf[n + 1] = '\0';
		}
	} else {
		return TR_NONE;
	}
	/* incremental: results follow the typing */
	snprintf(target, sizeof t->search, "%s", t->prompt_buf);
	return TR_REBUILD;
}

int tui_dispatch_key(struct tui *t, int key)
{
	if (key == KEY_RESIZE)    /* layouts depend on the width */
		return TR_REBUILD;
	if (t->prompt)
		return prompt_key(t, key);
	if (t->help) {
		if (key == KEY_DOWN || key == 'j')
			t->help_top++;
		else if (key == KEY_UP || key == 'k')
			t->help_top = t->help_top > 0 ? t->help_top - 1 : 0;
		else if (key == 'q')
			t->quit = 1;
		else
			t->help = 0;
		return TR_REDRAW;
	}
	if (key == KEY_MOUSE) {
		MEVENT ev;
		if (getmouse(&ev) != OK)
			return TR_NONE;
		if (tui_views[t->view]->mouse_ev)
			return tui_views[t->view]->mouse_ev(t, &ev);
		if (!tui_views[t->view]->mouse)
			return TR_NONE;
		if (ev.bstate & BUTTON4_PRESSED)
			return table_dispatch(t, tui_views[t->view]->keys, KEY_UP);
		if (ev.bstate & BUTTON5_PRESSED)
			return table_dispatch(t, tui_views[t->view]->keys, KEY_DOWN);
		int dbl = (ev.bstate & BUTTON1_DOUBLE_CLICKED) != 0;
		if (dbl || (ev.bstate & (BUTTON1_CLICKED | BUTTON1_PRESSED)))
			return tui_views[t->view]->mouse(t, ev.y, ev.x, dbl);
		return TR_NONE;
	}
	t->msg[0] = '\0';     /* a message lasts until the next key */
	int r = table_dispatch(t, tui_views[t->view]->keys, key);
	if (!(r & TR_UNHANDLED))
		return r;
	r = table_dispatch(t, tui_global_keys, key);
	return r & TR_UNHANDLED ? TR_NONE : r;
}

/* Help lines: a heading per table, then "  label  help". */
static int help_line(struct tui *t, int idx, char *b, size_t n, int *heading)
{
	const struct tui_key *tabs[1 + TUI_NVIEWS];
	const char *names[1 + TUI_NVIEWS];
	tabs[0] = tui_global_keys, names[0] = "Everywhere";
	for (int i = 0; i < TUI_NVIEWS; i++)
		tabs[i + 1] = tui_views[i]->keys, names[i + 1] = tui_views[i]->name;
	int line = 0;
	for (int i = 0; i < 1 + TUI_NVIEWS; i++) {
		if (line++ == idx) {
			snprintf(b, n, "%s", names[i]);
			*heading = 1;
			return 1;
		}
		for (const struct tui_key *k = tabs[i]; k && k->fn; k++)
			if (line++ == idx) {
				snprintf(b, n, "  %-14s %s", k->label, k->help);
				*heading = 0;
				return 1;
			}
	}
	return 0;
}

void tui_draw_help(struct tui *t)
{
	int total = 0;
	char b[256];
	int head;
	while (help_line(t, total, b, sizeof b, &head))
		total++;
	/* as tall as the list, at most the screen minus the status line */
	int w = t->cols - 4 < 76 ? t->cols - 4 : 76;
	int h = t->rows - 2 < total + 2 ? t->rows - 2 : total + 2;
	int x0 = (t->cols - w) / 2, y0 = 1;
	if (w < 10 || h < 3)
		return;
	int body = h - 2;
	if (t->help_top > total - body)
		t->help_top = total - body > 0 ? total - body : 0;
	attr_t a = t->sty.st[ST_NORMAL];
	for (int y = 0; y < h; y++)
		tui_fill(y0 + y, x0, w, a);
	attrset(t->sty.st[ST_HEADER]);
	mvhline(y0, x0, ' ' | t->sty.st[ST_HEADER], w);
	tui_put(t, y0, x0 + 1, w - 2, "Help: keys (any key closes, j/k scroll)",
		t->sty.st[ST_HEADER]);
	for (int i = 0; i < body; i++) {
		if (!help_line(t, t->help_top + i, b, sizeof b, &head))
			break;
		tui_put(t, y0 + 1 + i, x0 + 1, w - 2, b,
			head ? t->sty.st[ST_TITLE] : a);
	}
	tui_fill(y0 + h - 1, x0, w, t->sty.st[ST_DIM]);
	tui_put(t, y0 + h - 1, x0 + 1, w - 2,
		"mouse: click selects, double-click zooms; timeline: drag selects a window",
		t->sty.st[ST_DIM]);
}
