/* tui_color.c - theme colours to curses pairs and attributes.
 *
 * Terminals with 256 colours get the nearest xterm-256 index, 16/8-colour
 * terminals the nearest ANSI colour.  NO_COLOR, a theme without colours or a
 * terminal without colours get attributes only (bold/reverse/underline). */
#include <stdlib.h>

#include "tui_view.h"

static int have_default_colours;

/* Palette index for a theme colour, -1 = terminal default (white on black
 * where the terminal has no default colours). */
static int colour_index(struct theme_color c, int is_bg)
{
	if (!c.set)
		return have_default_colours ? -1 : is_bg ? COLOR_BLACK : COLOR_WHITE;
	if (COLORS >= 0x1000000)       /* direct colour terminfo */
		return (c.r << 16) | (c.g << 8) | c.b;
	if (COLORS >= 256)
		return theme_nearest_256(c);
	if (COLORS >= 16)
		return theme_nearest_16(c);
	return theme_nearest_8(c);
}

static int next_pair = 1;

static attr_t pair_of(struct theme_color fg, struct theme_color bg)
{
	int p = next_pair;
	/* attr_t holds pair numbers up to 255; we need far fewer */
	if (p >= COLOR_PAIRS || p > 255)
		return A_NORMAL;
	if (init_extended_pair(p, colour_index(fg, 0), colour_index(bg, 1)) == ERR)
		return A_NORMAL;
	next_pair++;
	return COLOR_PAIR(p);
}

static struct theme_color text_on(struct theme_color bg)
{
	struct theme_color black = {1, 0, 0, 0}, white = {1, 255, 255, 255};
	return bg.set && theme_luma(bg) > 140 ? black : white;
}

static void mono_styles(struct tui_styles *s)
{
	s->mono = 1;
	for (int i = 0; i < ST_N; i++)
		s->st[i] = A_NORMAL;
	s->st[ST_TITLE] = A_BOLD;
	s->st[ST_HI] = A_BOLD;
	s->st[ST_DIM] = A_DIM;
	s->st[ST_HEADER] = A_BOLD | A_UNDERLINE;
	s->st[ST_SELECTED] = A_REVERSE;
	s->st[ST_STATUS] = A_REVERSE;
	s->st[ST_FROZEN] = A_BOLD;
	s->st[ST_ERROR] = A_BOLD;
	s->st[ST_MATCH] = A_BOLD | A_UNDERLINE;
	s->st[ST_KERNEL] = A_BOLD;
	s->st[ST_TL_KERNEL] = A_REVERSE | A_BOLD;
	s->st[ST_TL_USER] = A_REVERSE;
	s->st[ST_TL_IDLE] = A_DIM;
	s->tl_letters = 1;
	/* no hue: growth bold, shrinkage dim (labels also get + / -) */
	for (int c = 0; c < 2; c++) {
		for (int i = 0; i < FLAME_SHADES; i++) {
			s->diff[c][DIFF_GROW][i] = A_REVERSE | (i ? A_BOLD : 0);
			s->diff[c][DIFF_SHRINK][i] = A_REVERSE | (i ? A_DIM : 0);
		}
		s->diff_text[c][DIFF_GROW] = A_BOLD;
		s->diff_text[c][DIFF_SHRINK] = A_DIM;
	}
	for (int k = 0; k < FL_NKINDS; k++)
		for (int i = 0; i < FLAME_SHADES; i++)
			s->flame[k][i] = k == FL_KERNEL ? A_REVERSE | A_BOLD
				       : k == FL_MARK ? A_REVERSE | A_DIM
				       : A_REVERSE;
}

void tui_colors_init(struct tui *t)
{
	struct tui_styles *s = &t->sty;
	const struct theme_color *c = t->theme.c;
	const char *nc = getenv("NO_COLOR");

	next_pair = 1;
	if ((nc && *nc) || !has_colors() || theme_is_mono(&t->theme) ||
	    start_color() == ERR) {
		mono_styles(s);
		return;
	}
	have_default_colours = use_default_colors() == OK;
	s->mono = 0;
	struct theme_color bg = c[THEME_main_bg];
	s->st[ST_NORMAL] = pair_of(c[THEME_main_fg], bg);
	s->st[ST_TITLE] = pair_of(c[THEME_title], bg) | A_BOLD;
	s->st[ST_HI] = pair_of(c[THEME_hi_fg], bg) | A_BOLD;
	s->st[ST_DIM] = pair_of(c[THEME_inactive_fg], bg);
	s->st[ST_HEADER] = pair_of(c[THEME_header_fg], c[THEME_header_bg]) | A_BOLD;
	s->st[ST_SELECTED] = pair_of(c[THEME_selected_fg], c[THEME_selected_bg]);
	s->st[ST_STATUS] = pair_of(c[THEME_status_fg], c[THEME_status_bg]);
	s->st[ST_FROZEN] = pair_of(c[THEME_frozen], c[THEME_status_bg]) | A_BOLD | A_REVERSE;
	s->st[ST_ERROR] = pair_of(c[THEME_error_fg], bg) | A_BOLD;
	s->st[ST_MATCH] = pair_of(c[THEME_match_fg], c[THEME_match_bg]);
	s->st[ST_KERNEL] = pair_of(c[THEME_kernel_fg], bg);
	s->st[ST_USER] = pair_of(c[THEME_user_fg], bg);
	/* timeline cells: the colour is the cell; unset ones get letters */
	const int tl[3][2] = { { ST_TL_KERNEL, THEME_timeline_kernel },
			       { ST_TL_USER, THEME_timeline_user },
			       { ST_TL_IDLE, THEME_timeline_idle } };
	s->tl_letters = 0;
	for (int i = 0; i < 3; i++) {
		struct theme_color x = c[tl[i][1]];
		s->st[tl[i][0]] = x.set ? pair_of(text_on(x), x)
				: i == 2 ? A_DIM : A_REVERSE | (i == 0 ? A_BOLD : 0);
		s->tl_letters |= !x.set;
	}
	/* Unset gradient colours would make boxes invisible: keep reverse. */
	for (int i = 0; i < FLAME_SHADES; i++) {
		double f = (double)i / (FLAME_SHADES - 1);
		struct theme_color u = theme_mix(c[THEME_user_start], c[THEME_user_end], f);
		struct theme_color k = theme_mix(c[THEME_kernel_start], c[THEME_kernel_end], f);
		s->flame[FL_USER][i] = u.set ? pair_of(text_on(u), u) : A_REVERSE;
		s->flame[FL_KERNEL][i] = k.set ? pair_of(text_on(k), k) : A_REVERSE | A_BOLD;
	}
	struct theme_color m = c[THEME_mark_bg];
	attr_t ma = m.set ? pair_of(text_on(m), m) : A_REVERSE | A_DIM;
	for (int i = 0; i < FLAME_SHADES; i++)
		s->flame[FL_MARK][i] = ma;
	/* diff: from "no change" to the full hue by intensity */
	struct theme_color same = c[THEME_diff_same];
	const int hue[2][2] = { { THEME_diff_grow, THEME_diff_shrink },
				{ THEME_diff_grow_cb, THEME_diff_shrink_cb } };
	for (int p = 0; p < 2; p++)
		for (int d = 0; d < 2; d++) {
			struct theme_color h = c[hue[p][d]];
			for (int i = 0; i < FLAME_SHADES; i++) {
				double f = (double)i / (FLAME_SHADES - 1);
				struct theme_color x = theme_mix(same, h, f);
				s->diff[p][d][i] = x.set ? pair_of(text_on(x), x)
					: A_REVERSE | (d == DIFF_GROW ? A_BOLD : A_DIM);
			}
			s->diff_text[p][d] = h.set ? pair_of(h, bg) | A_BOLD
				: d == DIFF_GROW ? A_BOLD : A_DIM;
		}
	if (COLORS < 16) {
		/* 8 colours: the gradient collapses, so set kernel frames
		 * apart by weight as well. */
		for (int i = 0; i < FLAME_SHADES; i++)
			s->flame[FL_KERNEL][i] |= A_BOLD;
	}
}

attr_t tui_flame_attr(const struct tui *t, int kind, uint32_t hash)
{
	int k = kind == PK_KERNEL ? FL_KERNEL
	      : kind == PK_MARK ? FL_MARK : FL_USER;
	return t->sty.flame[k][hash % FLAME_SHADES];
}

attr_t tui_diff_attr(const struct tui *t, double delta, double dmax)
{
	double m = delta < 0 ? -delta : delta;
	int dir = delta < 0 ? DIFF_SHRINK : DIFF_GROW;
	int shade = 0;
	/* below 1e-9 pp: rounding, not a change */
	if (m > 1e-9 && dmax > 0) {
		shade = (int)(m / dmax * (FLAME_SHADES - 1) + 0.5);
		if (shade < 1)
			shade = 1;      /* a change never looks like none */
		if (shade > FLAME_SHADES - 1)
			shade = FLAME_SHADES - 1;
	}
	return t->sty.diff[t->diff_cb ? 1 : 0][dir][shade];
}
