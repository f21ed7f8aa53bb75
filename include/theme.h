/* theme.h - colour themes in btop's format, independent of curses.
 *
 * A theme file has lines  theme[key]="value"  where value is "#RRGGBB",
 * "#GG" (grey), "R G B" (decimal) or "" (terminal default); '#' starts a
 * comment line.  Unknown keys are ignored (btop themes carry many); keys a
 * file does not set keep the compiled-in default.  A malformed line is an
 * error "file:line: message".
 */
#ifndef QTOP_THEME_H
#define QTOP_THEME_H

#include <stddef.h>
#include <stdint.h>

/* One list -> the enum, the key names and the default theme, so they cannot
 * drift apart.  X(key, default value) */
#define THEME_ELEMENTS(X)                 \
	X(main_bg,       "")              \
	X(main_fg,       "")              \
	X(title,         "#ffaf5f")       \
	X(hi_fg,         "#ffd75f")       \
	X(inactive_fg,   "#707070")       \
	X(header_bg,     "#303030")       \
	X(header_fg,     "#e4e4e4")       \
	X(selected_bg,   "#005f87")       \
	X(selected_fg,   "#ffffff")       \
	X(status_bg,     "#262626")       \
	X(status_fg,     "#bcbcbc")       \
	X(frozen,        "#ff5f5f")       \
	X(error_fg,      "#ff5f5f")       \
	X(match_bg,      "#d7af00")       \
	X(match_fg,      "#000000")       \
	X(kernel_fg,     "#ff875f")       \
	X(user_fg,       "#87d787")       \
	X(kernel_start,  "#af3a03")       \
	X(kernel_end,    "#e8a33d")       \
	X(user_start,    "#2e7d32")       \
	X(user_end,      "#9ccc65")       \
	X(mark_bg,       "#6c6c6c")       \
	/* differential flamegraph and delta table: no change, growth,   \
	 * shrinkage; _cb: the colour-blind-safe pair ('c') */            \
	X(diff_same,     "#d0d0d0")       \
	X(diff_grow,     "#e02020")       \
	X(diff_shrink,   "#2060e0")       \
	X(diff_grow_cb,  "#e69f00")       \
	X(diff_shrink_cb, "#0072b2")     \
	/* timeline cells: what a vCPU ran */                            \
	X(timeline_kernel, "#d75f00")     \
	X(timeline_user,   "#5faf5f")     \
	X(timeline_idle,   "#444444")

enum theme_el {
#define THEME_ENUM_(k, d) THEME_##k,
	THEME_ELEMENTS(THEME_ENUM_)
#undef THEME_ENUM_
	THEME_N
};

struct theme_color {
	uint8_t set;           /* 0: terminal default */
	uint8_t r, g, b;
};

struct theme {
	char name[64];
	struct theme_color c[THEME_N];
};

/* Name of an element ("main_bg"), or NULL when out of range. */
const char *theme_element_name(int el);
/* Element for a key name, or -1. */
int theme_element_lookup(const char *name, size_t len);

/* The compiled-in default theme. */
void theme_default(struct theme *t);
/* 1 when no element before the diff_* ones has a colour (e.g. mono.theme,
 * also one written before the diff keys existed): draw with attributes. */
int theme_is_mono(const struct theme *t);

/* Parse one value ("#RRGGBB", "#GG", "R G B", "").  Returns 0 or -1. */
int theme_parse_color(const char *s, size_t len, struct theme_color *out);

/* Apply the lines of text on top of t.  fname labels errors.  Returns 0, or
 * -EINVAL with "fname:line: message" in err (t is then partly updated). */
int theme_parse(struct theme *t, const char *text, size_t len,
		const char *fname, char *err, size_t errlen);
/* theme_default + theme_parse of a file.  Returns 0 or -errno. */
int theme_load_path(struct theme *t, const char *path, char *err,
		    size_t errlen);

/* Find NAME (or a path: contains '/' or ends in ".theme") in: themes_dir,
 * $XDG_CONFIG_HOME/qtop-prof/themes (or ~/.config/...), the installed data
 * dir, and the source tree's themes/ when running from the build tree.
 * Writes the file path to out.  Returns 0 or -ENOENT with the places tried. */
int theme_find(const char *name, const char *themes_dir, char *out,
	       size_t outlen, char *err, size_t errlen);
/* theme_find + theme_load_path; name NULL (or "default" when no file of
 * that name is found) = the compiled-in default. */
int theme_load(struct theme *t, const char *name, const char *themes_dir,
	       char *err, size_t errlen);

/* Nearest palette index for a colour: xterm 256 (cube + grey ramp), or the
 * 16 / 8 ANSI colours. */
int theme_nearest_256(struct theme_color c);
int theme_nearest_16(struct theme_color c);
int theme_nearest_8(struct theme_color c);
/* Linear mix a + (b - a) * f, f in [0, 1]; unset ends give unset. */
struct theme_color theme_mix(struct theme_color a, struct theme_color b,
			     double f);
/* Perceived brightness 0..255 (to pick dark or light text). */
int theme_luma(struct theme_color c);

#endif
