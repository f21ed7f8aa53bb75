/* theme.c - btop-format theme parsing, search and colour reduction.
 * No curses here, so the parser is unit-tested and fuzzed on its own. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "theme.h"

/* Set by meson; defaults keep the fuzz build (plain clang) compiling. */
#ifndef QTOP_THEMES_DATADIR
#define QTOP_THEMES_DATADIR "/usr/local/share/qtop-prof/themes"
#endif
#ifndef QTOP_BUILD_ROOT
#define QTOP_BUILD_ROOT ""
#endif
#ifndef QTOP_SOURCE_THEMES
#define QTOP_SOURCE_THEMES ""
#endif

static const char *const el_names[THEME_N] = {
#define NAME_(k, d) #k,
	THEME_ELEMENTS(NAME_)
#undef NAME_
};

static const char *const el_defaults[THEME_N] = {
#define DEF_(k, d) d,
	THEME_ELEMENTS(DEF_)
#undef DEF_
};

const char *theme_element_name(int el)
{
	return el >= 0 && el < THEME_N ? el_names[el] : NULL;
}

int theme_element_lookup(const char *name, size_t len)
{
	for (int i = 0; i < THEME_N; i++)
		if (strlen(el_names[i]) == len && !memcmp(el_names[i], name, len))
			return i;
	return -1;
}

void theme_default(struct theme *t)
{
	memset(t, 0, sizeof *t);
	snprintf(t->name, sizeof t->name, "default");
	for (int i = 0; i < THEME_N; i++)
		theme_parse_color(el_defaults[i], strlen(el_defaults[i]), &t->c[i]);
}

int theme_is_mono(const struct theme *t)
{
	for (int i = 0; i < THEME_diff_same; i++)
		if (t->c[i].set)
			return 0;
	return 1;
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9') return ch - '0';
	if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
	return -1;
}

static int hexbyte(const char *s)
{
	int h = hexval((unsigned char)s[0]), l = hexval((unsigned char)s[1]);
	return h < 0 || l < 0 ? -1 : h * 16 + l;
}

int theme_parse_color(const char *s, size_t len, struct theme_color *out)
{
	struct theme_color c = {0};

	while (len && isspace((unsigned char)*s)) s++, len--;
	while (len && isspace((unsigned char)s[len - 1])) len--;
	if (len == 0) {
		*out = c;
		return 0;
	}
	if (s[0] == '#') {
		if (len == 3) {
			int v = hexbyte(s + 1);
			if (v < 0) return -1;
			c.r = c.g = c.b = (uint8_t)v;
		} else if (len == 7) {
			int r = hexbyte(s + 1), g = hexbyte(s + 3), b = hexbyte(s + 5);
			if (r < 0 || g < 0 || b < 0) return -1;
			c.r = (uint8_t)r, c.g = (uint8_t)g, c.b = (uint8_t)b;
		} else {
			return -1;
		}
		c.set = 1;
		*out = c;
		return 0;
	}
	/* "R G B", decimal 0..255 separated by blanks */
	int v[3], k = 0;
	size_t i = 0;
	while (k < 3) {
		while (i < len && (s[i] == ' ' || s[i] == '\t')) i++;
		if (i >= len || !isdigit((unsigned char)s[i])) return -1;
		int n = 0, digits = 0;
		while (i < len && isdigit((unsigned char)s[i])) {
			n = n * 10 + (s[i++] - '0');
			if (++digits > 3) return -1;
		}
		if (n > 255) return -1;
		v[k++] = n;
	}
	if (i != len) return -1;
	c.set = 1, c.r = (uint8_t)v[0], c.g = (uint8_t)v[1], c.b = (uint8_t)v[2];
	*out = c;
	return 0;
}

static int line_error(char *err, size_t errlen, const char *fname, long line,
		      const char *msg)
{
	if (err && errlen)
		snprintf(err, errlen, "%s:%ld: %s", fname ? fname : "<theme>",
			 line, msg);
	return -EINVAL;
}

/* One non-comment line: theme[key]="value" (quotes optional, blanks around
 * '=' allowed, a trailing '#' comment allowed after a quoted value). */
static int parse_line(struct theme *t, const char *s, size_t len,
		      const char *fname, long lineno, char *err, size_t errlen)
{
	size_t i = 0;
	if (len < 6 || memcmp(s, "theme[", 6))
		return line_error(err, errlen, fname, lineno,
				  "expected theme[key]=\"value\"");
	i = 6;
	size_t k0 = i;
	while (i < len && s[i] != ']') i++;
	if (i >= len || i == k0)
		return line_error(err, errlen, fname, lineno,
				  "missing key or ']' in theme[key]");
	size_t k1 = i++;
	while (i < len && isspace((unsigned char)s[i])) i++;
	if (i >= len || s[i] != '=')
		return line_error(err, errlen, fname, lineno,
				  "expected '=' after theme[key]");
	i++;
	while (i < len && isspace((unsigned char)s[i])) i++;
	const char *v;
	size_t vlen;
	if (i < len && s[i] == '"') {
		size_t v0 = ++i;
		while (i < len && s[i] != '"') i++;
		if (i >= len)
			return line_error(err, errlen, fname, lineno,
					  "unterminated \"value\"");
		v = s + v0, vlen = i - v0;
		i++;
		while (i < len && isspace((unsigned char)s[i])) i++;
		if (i < len && s[i] != '#')
			return line_error(err, errlen, fname, lineno,
					  "unexpected text after \"value\"");
	} else {
		v = s + i, vlen = len - i;
	}
	int el = theme_element_lookup(s + k0, k1 - k0);
	if (el < 0)
		return 0;      /* unknown keys are other apps' (btop) business */
	struct theme_color c;
	if (theme_parse_color(v, vlen, &c) < 0) {
		char msg[128];
		snprintf(msg, sizeof msg,
			 "bad colour \"%.*s\" for %s (want #RRGGBB, #GG, \"R G B\" or \"\")",
			 (int)(vlen > 40 ? 40 : vlen), v, el_names[el]);
		return line_error(err, errlen, fname, lineno, msg);
	}
	t->c[el] = c;
	return 0;
}

int theme_parse(struct theme *t, const char *text, size_t len,
		const char *fname, char *err, size_t errlen)
{
	long lineno = 0;
	size_t pos = 0;
	while (pos < len) {
		size_t e = pos;
		while (e < len && text[e] != '\n') e++;
		lineno++;
		const char *s = text + pos;
		size_t n = e - pos;
		pos = e + 1;
		while (n && isspace((unsigned char)*s)) s++, n--;
		while (n && isspace((unsigned char)s[n - 1])) n--;
		if (n == 0 || s[0] == '#')
			continue;
		if (memchr(s, '\0', n))
			return line_error(err, errlen, fname, lineno,
					  "NUL byte in theme file");
		int rc = parse_line(t, s, n, fname, lineno, err, errlen);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void base_name(char *dst, size_t dlen, const char *path)
{
	const char *b = strrchr(path, '/');
	b = b ? b + 1 : path;
	size_t n = strlen(b);
	if (n > 6 && !strcmp(b + n - 6, ".theme"))
		n -= 6;
	if (n >= dlen)
		n = dlen - 1;
	memcpy(dst, b, n);
	dst[n] = '\0';
}

int theme_load_path(struct theme *t, const char *path, char *err,
		    size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		int e = errno;
		snprintf(err, errlen, "theme %s: %s", path, strerror(e));
		return -e;
	}
	/* Themes are small; cap to refuse /dev/zero and the like. */
	enum { MAXTHEME = 1 << 20 };
	char *buf = malloc(MAXTHEME);
	if (!buf) {
		fclose(f);
		snprintf(err, errlen, "theme %s: out of memory", path);
		return -ENOMEM;
	}
	size_t n = fread(buf, 1, MAXTHEME, f);
	int rerr = ferror(f);
	fclose(f);
	if (rerr || n == MAXTHEME) {
		free(buf);
		snprintf(err, errlen, "theme %s: %s", path,
			 rerr ? "read error" : "file too large");
		return rerr ? -EIO : -EFBIG;
	}
	struct theme tmp;
	theme_default(&tmp);
	base_name(tmp.name, sizeof tmp.name, path);
	int rc = theme_parse(&tmp, buf, n, path, err, errlen);
	free(buf);
	if (rc == 0)
		*t = tmp;
	return rc;
}

static int is_file(const char *p)
{
	return access(p, R_OK) == 0;
}

/* 1 when this process runs from the meson build tree (use the source tree's
 * themes/ there, so an uninstalled build finds its themes). */
static int in_build_tree(void)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	size_t bl = strlen(QTOP_BUILD_ROOT);
	if (n <= 0 || bl == 0)
		return 0;
	exe[n] = '\0';
	return !strncmp(exe, QTOP_BUILD_ROOT, bl) &&
	       (exe[bl] == '/' || exe[bl] == '\0');
}

int theme_find(const char *name, const char *themes_dir, char *out,
	       size_t outlen, char *err, size_t errlen)
{
	size_t nl = strlen(name);
	if (strchr(name, '/') || (nl > 6 && !strcmp(name + nl - 6, ".theme"))) {
		if (is_file(name)) {
			snprintf(out, outlen, "%s", name);
			return 0;
		}
		snprintf(err, errlen, "theme %s: %s", name, strerror(ENOENT));
		return -ENOENT;
	}
	char dirs[4][4096];
	int nd = 0;
	if (themes_dir)
		snprintf(dirs[nd++], sizeof dirs[0], "%s", themes_dir);
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	if (xdg && *xdg)
		snprintf(dirs[nd++], sizeof dirs[0], "%s/qtop-prof/themes", xdg);
	else if (home && *home)
		snprintf(dirs[nd++], sizeof dirs[0],
			 "%s/.config/qtop-prof/themes", home);
	snprintf(dirs[nd++], sizeof dirs[0], "%s", QTOP_THEMES_DATADIR);
	if (QTOP_SOURCE_THEMES[0] && in_build_tree())
		snprintf(dirs[nd++], sizeof dirs[0], "%s", QTOP_SOURCE_THEMES);

	char tried[1024] = "";
	for (int i = 0; i < nd; i++) {
		char p[4200];
		int pl = snprintf(p, sizeof p, "%s/%s.theme", dirs[i], name);
		if (pl > 0 && (size_t)pl < sizeof p && is_file(p)) {
			snprintf(out, outlen, "%s", p);
			return 0;
		}
		size_t tl = strlen(tried);
		if (snprintf(tried + tl, sizeof tried - tl, "%s%s",
			     i ? ", " : "", dirs[i]) < 0)
			break;
	}
	snprintf(err, errlen, "theme \"%s\" not found in %s", name, tried);
	return -ENOENT;
}

int theme_load(struct theme *t, const char *name, const char *themes_dir,
	       char *err, size_t errlen)
{
	if (!name || !*name) {
		theme_default(t);
		return 0;
	}
	char path[4200];
	int rc = theme_find(name, themes_dir, path, sizeof path, err, errlen);
	if (rc == -ENOENT && !strcmp(name, "default")) {
		theme_default(t);     /* always there, installed or not */
		return 0;
	}
	if (rc < 0)
		return rc;
	return theme_load_path(t, path, err, errlen);
}

static long dist2(int r1, int g1, int b1, int r2, int g2, int b2)
{
	long dr = r1 - r2, dg = g1 - g2, db = b1 - b2;
	/* weighted: the eye is most sensitive to green, least to blue */
	return 3 * dr * dr + 4 * dg * dg + 2 * db * db;
}

static const uint8_t ansi16[16][3] = {
	{0, 0, 0}, {205, 0, 0}, {0, 205, 0}, {205, 205, 0},
	{0, 0, 238}, {205, 0, 205}, {0, 205, 205}, {229, 229, 229},
	{127, 127, 127}, {255, 0, 0}, {0, 255, 0}, {255, 255, 0},
	{92, 92, 255}, {255, 0, 255}, {0, 255, 255}, {255, 255, 255},
};

static int nearest_ansi(struct theme_color c, int n)
{
	int best = 0;
	long bd = -1;
	for (int i = 0; i < n; i++) {
		long d = dist2(c.r, c.g, c.b, ansi16[i][0], ansi16[i][1],
			       ansi16[i][2]);
		if (bd < 0 || d < bd)
			bd = d, best = i;
	}
	return best;
}

int theme_nearest_16(struct theme_color c) { return nearest_ansi(c, 16); }
int theme_nearest_8(struct theme_color c) { return nearest_ansi(c, 8); }

static const int cube[6] = {0, 95, 135, 175, 215, 255};

static int cube_idx(int v)
{
	int best = 0;
	for (int i = 1; i < 6; i++)
		if (abs(cube[i] - v) < abs(cube[best] - v))
			best = i;
	return best;
}

int theme_nearest_256(struct theme_color c)
{
	int ri = cube_idx(c.r), gi = cube_idx(c.g), bi = cube_idx(c.b);
	long dc = dist2(c.r, c.g, c.b, cube[ri], cube[gi], cube[bi]);
	/* grey ramp 232..255 = 8 + 10 * i */
	int avg = (c.r + c.g + c.b) / 3;
	int gi2 = (avg - 8 + 5) / 10;
	if (gi2 < 0) gi2 = 0;
	if (gi2 > 23) gi2 = 23;
	int gv = 8 + 10 * gi2;
	long dg = dist2(c.r, c.g, c.b, gv, gv, gv);
	return dg < dc ? 232 + gi2 : 16 + 36 * ri + 6 * gi + bi;
}

struct theme_color theme_mix(struct theme_color a, struct theme_color b,
			     double f)
{
	if (!a.set || !b.set)
		return a.set ? a : b;
	if (f < 0) f = 0;
	if (f > 1) f = 1;
	struct theme_color c = { .set = 1 };
	c.r = (uint8_t)(a.r + (b.r - a.r) * f + 0.5);
	c.g = (uint8_t)(a.g + (b.g - a.g) * f + 0.5);
	c.b = (uint8_t)(a.b + (b.b - a.b) * f + 0.5);
	return c;
}

int theme_luma(struct theme_color c)
{
	return (299 * c.r + 587 * c.g + 114 * c.b) / 1000;
}
