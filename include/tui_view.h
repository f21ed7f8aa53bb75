/* tui_view.h - internals of the TUI shared by its files, the bench and tests.
 *
 * One struct tui holds the whole UI state.  Views are const ops tables
 * (update / draw / keys / mouse); keys are tables of actions that return
 * reaction flags instead of drawing.  Selection and zoom are kept as PATHS of
 * names (struct tpath) and looked up again after every data change, because
 * node indices move on decay, reset and freeze/unfreeze.
 */
#ifndef QTOP_TUI_VIEW_H
#define QTOP_TUI_VIEW_H

#include <curses.h>
#include <stdint.h>

#include "flame.h"
#include "frontend.h"
#include "hotspot.h"
#include "pdiff.h"
#include "profile.h"
#include "theme.h"
#include "timeline.h"

#define TPATH_MAX 512

/* A node named by the names on its path from the root's child (owned copies:
 * the profile the names came from may be freed, e.g. a frozen clone). */
struct tpath {
	size_t n;
	char *names[TPATH_MAX];
};

void tpath_clear(struct tpath *tp);
void tpath_set(struct tpath *tp, const struct profile *p, uint32_t node);
void tpath_copy(struct tpath *dst, const struct tpath *src);
/* The node of the longest prefix of tp that exists in p (0 = root);
 * *exact = 1 when the whole path exists. */
uint32_t tpath_resolve(const struct tpath *tp, const struct profile *p,
		       int *exact);

/* Reaction flags returned by actions. */
enum {
	TR_NONE = 0,
	TR_REDRAW = 1 << 0,     /* draw again */
	TR_REBUILD = 1 << 1,    /* data/scope changed: views recompute */
	TR_UNHANDLED = 1 << 2,  /* not for me: try the next table */
};

struct tui;
typedef int (*tui_action)(struct tui *t, int key);

struct tui_key {
	int keys[6];            /* 0-terminated */
	tui_action fn;
	const char *label;      /* as shown in help ("q F10") */
	const char *help;
};

struct tui_view_ops {
	const char *name;
	void (*update)(struct tui *t);                 /* data changed */
	void (*draw)(struct tui *t, int y0, int h);
	const struct tui_key *keys;
	/* Click at screen (y, x); dbl = double click.  Returns TR_*. */
	int (*mouse)(struct tui *t, int y, int x, int dbl);
	/* n / N: dir +1 / -1; 0 = the current item if it matches, else next */
	void (*jump)(struct tui *t, int dir);
	void (*free)(struct tui *t);
	/* Every mouse event (press, release, motion) instead of `mouse`,
	 * when set (the timeline's drag).  Returns TR_*. */
	int (*mouse_ev)(struct tui *t, const MEVENT *ev);
};

/* The mouse events asked for: clicks and the wheel; the timeline view
 * adds press, release and motion (drag) while it is shown. */
#define TUI_MOUSE_DEFAULT (BUTTON1_CLICKED | BUTTON1_DOUBLE_CLICKED | \
			   BUTTON4_PRESSED | BUTTON5_PRESSED)
#define TUI_MOUSE_DRAG (BUTTON1_PRESSED | BUTTON1_RELEASED | BUTTON1_CLICKED | \
			REPORT_MOUSE_POSITION | BUTTON4_PRESSED | BUTTON5_PRESSED)

enum { VIEW_HOT, VIEW_PROC, VIEW_FLAME, VIEW_TIMELINE, TUI_NVIEWS };
extern const struct tui_view_ops *const tui_views[TUI_NVIEWS];
extern const struct tui_view_ops tui_view_hot, tui_view_proc, tui_view_flame,
	tui_view_timeline;

enum tui_style {
	ST_NORMAL, ST_TITLE, ST_HI, ST_DIM, ST_HEADER, ST_SELECTED, ST_STATUS,
	ST_FROZEN, ST_ERROR, ST_MATCH, ST_KERNEL, ST_USER,
	ST_TL_KERNEL, ST_TL_USER, ST_TL_IDLE,   /* timeline cells */
	ST_N
};
#define FLAME_SHADES 12
enum { FL_USER, FL_KERNEL, FL_MARK, FL_NKINDS };

/* Diff colours: [palette: 0 red/blue, 1 colour-blind safe][0 grow, 1
 * shrink][intensity]; shade 0 is "no change". */
enum { DIFF_GROW, DIFF_SHRINK };
struct tui_styles {
	attr_t st[ST_N];
	attr_t flame[FL_NKINDS][FLAME_SHADES];
	attr_t diff[2][2][FLAME_SHADES];
	attr_t diff_text[2][2];   /* delta numbers in the table */
	int mono;               /* attributes only (NO_COLOR, mono theme, no colours) */
	int tl_letters;         /* timeline cells as k/u/. (no cell colours) */
};

struct hot_state {
	struct hot_row *rows;
	long nrows;
	long *vis;              /* rows shown (after the \ filter) */
	long nvis;
	long sel, top;
	int sort, reverse;
	uint64_t scope_total;
	char sel_name[256], sel_module[128];
	int sel_kind;
	int page;               /* rows visible at last draw */
	/* diff mode: the delta table (rows replace `rows`) */
	struct pdiff_row *drows;
	int dsort, dreverse;    /* enum pdiff_sort */
};

struct proc_state {
	uint32_t *order;        /* indices into p->procs, by samples */
	long n, sel, top;
	char sel_name[256];
	int page;
};

#define FLAME_HIST 64
struct flame_state {
	struct flame_layout lay;
	int lay_ok;
	uint32_t zoom_node, sel_node;
	long sel_box;
	struct tpath zoom, sel;
	struct tpath hist[FLAME_HIST];  /* zoom history (Esc pops) */
	int nhist;
	int flame_up;           /* 0 icicle (root on top), 1 flame (root below) */
	char scope_name[256];   /* process filter at the last update */
	uint64_t match_all, match_zoom;
	uint8_t *mcache;        /* per string id: 0 unknown, 1 no, 2 matches */
	size_t mcap;
	int y0, h;              /* area of the last draw, for the mouse */
	/* diff mode: per box the delta of its total share (pp) */
	double *delta;
	size_t dcap;
	double dmax;            /* largest |delta| below the zoom root */
};

/* The timeline view: the grid of the last draw, the selection (ns, half
 * open; from == to == 0: none), colouring, and a drag in progress. */
struct tl_state {
	struct tl_grid g;
	int ok;                 /* g holds samples */
	int by_proc;            /* 'p': cells coloured by process */
	uint64_t sel_from, sel_to;
	int y0, rows_y, rows_n, bar_y, x0;   /* last draw, for the mouse */
	int drag, drag_col;
};

struct tui {
	const struct tui_options *opt;
	struct profile *live;
	struct profile *frozen;          /* clone while frozen, else NULL */
	uint64_t frozen_nlog;            /* samples in the log when frozen */
	uint64_t frozen_loggen;          /* and its generation (R resets it) */
	int save_format;                 /* 's' without -o: enum export_format */
	const struct app_source *src;
	struct app_status status;
	struct theme theme;
	struct tui_styles sty;
	int utf8;
	int rows, cols;
	int view;
	unsigned long gen;               /* bumped when the shown data changes */
	unsigned long view_gen[TUI_NVIEWS];
	struct tpath proc;               /* process filter, n == 0: none */
	char search[128];                /* '/' highlight */
	char filter[128];                /* '\' hide non-matching */
	int prompt;                      /* 0, '/' or '\\' while typing */
	char prompt_buf[128];
	int jump_pending;                /* select the first match at next draw */
	int help, help_top;
	int decay;
	int hide_kernel;                 /* 'K': kernel frames not shown */
	double last_decay;
	char msg[512];
	int msg_err;
	int quit;
	/* diff mode: BEFORE (the --diff file or the 'b' baseline), NULL:
	 * off.  `live`/`frozen` are AFTER (now). */
	const struct profile *before;
	struct profile *baseline;        /* owned 'b' snapshot, or NULL */
	int diff_width_before;           /* 'w': flame widths from BEFORE */
	int diff_cb;                     /* 'c': colour-blind-safe colours */
	struct hot_state hot;
	struct proc_state procv;
	struct flame_state fl;
	struct tl_state tl;
	/* An applied time window (the timeline's Enter): the profile of the
	 * samples in [win_from, win_to), shown instead of live/frozen; NULL:
	 * none. */
	struct profile *window;
	uint64_t win_from, win_to;
};

/* The profile on screen: an applied time window, the frozen clone or the
 * live one. */
static inline struct profile *tui_shown(const struct tui *t)
{
	return t->window ? t->window : t->frozen ? t->frozen : t->live;
}

/* tui_state.c */
void tui_state_init(struct tui *t, const struct tui_options *opt,
		    struct profile *live, const struct app_source *src);
void tui_state_free(struct tui *t);
uint32_t tui_scope(const struct tui *t);      /* process filter node or 0 */
/* 1 when a process filter is set but that process has no samples (yet):
 * views then show nothing rather than everything. */
int tui_scope_missing(const struct tui *t);
int tui_match(const char *hay, const char *needle);  /* case-insensitive */
void tui_msg(struct tui *t, int is_err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void tui_ensure_updated(struct tui *t);       /* run update of the view */
void tui_draw(struct tui *t);                 /* whole screen, no refresh */
double tui_now(void);                         /* monotonic seconds */

/* tui_color.c: curses colour pairs from the theme (after start_color). */
void tui_colors_init(struct tui *t);
attr_t tui_flame_attr(const struct tui *t, int kind, uint32_t hash);

/* tui_text.c: column-aware output.  Writes at most w columns of s at (y, x),
 * truncated with "…" (UTF-8) or ".." (otherwise); returns columns used. */
int tui_put(const struct tui *t, int y, int x, int w, const char *s,
	    attr_t a);
void tui_fill(int y, int x, int w, attr_t a);
int tui_strwidth(const struct tui *t, const char *s);
/* Fit s into w columns (ellipsis when cut) into buf; returns columns. */
int tui_fit(const struct tui *t, const char *s, int w, char *buf,
	    size_t blen);

/* tui_state.c: The status line's text for width columns (t->status, freeze/decay
 * state): parts that do not fit are dropped, least useful first, down to
 * the guest state and the sample count.  Returns its width in columns. */
int tui_status_text(const struct tui *t, int width, char *buf, size_t len);

/* tui_keys.c: global keys and the help overlay. */
extern const struct tui_key tui_global_keys[];
int tui_dispatch_key(struct tui *t, int key);
void tui_draw_help(struct tui *t);

/* tui_actions.c */
int tui_act_freeze(struct tui *t, int key);
int tui_act_save(struct tui *t, int key);
int tui_act_save_format(struct tui *t, int key);
int tui_act_reset(struct tui *t, int key);
int tui_act_decay(struct tui *t, int key);

/* tui_diff.c: diff mode (--diff, 'b' baseline) */
static inline int tui_diff(const struct tui *t) { return t->before != NULL; }
int tui_diff_normalize(const struct tui *t);
int tui_act_baseline(struct tui *t, int key);
int tui_act_diff_colors(struct tui *t, int key);
int tui_diff_save(struct tui *t);
/* The DIFF badge of the status line at (y, x): returns columns used. */
int tui_diff_badge(struct tui *t, int y, int x);
/* Box colour for a delta (pp) given the largest |delta| shown. */
attr_t tui_diff_attr(const struct tui *t, double delta, double dmax);
/* A path (process filter, zoom) resolved exactly in any profile: the
 * node, or PDIFF_NONE when p lacks it. */
uint32_t tui_path_in(const struct tpath *tp, const struct profile *p);

/* view_timeline.c: drop the applied window and the selection (Esc);
 * returns TR_REBUILD when there was one, else TR_NONE. */
int tui_window_clear(struct tui *t);
/* The WINDOW badge of the status line at (y, x): returns columns used. */
int tui_window_badge(struct tui *t, int y, int x);
/* Ask for drag events (1, the timeline) or clicks only (0). */
void tui_mouse_mode(int drag);

/* Shared list movement for table views: returns TR_* for a movement key. */
int tui_list_move(long *sel, long n, int page, int key);

#endif
