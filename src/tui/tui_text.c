/* tui_text.c - writing strings in terminal columns.  Function names may
 * hold any bytes; in a non-UTF-8 locale non-ASCII bytes print as '?'. */
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "tui_view.h"

/* Length in bytes and width in columns of the character at s. */
static int char_at(const struct tui *t, const char *s, size_t left, int *cols)
{
	unsigned char c = (unsigned char)*s;
	if (c < 0x80 || !t->utf8) {
		*cols = 1;
		return 1;
	}
	mbstate_t st;
	memset(&st, 0, sizeof st);
	wchar_t wc;
	size_t n = mbrtowc(&wc, s, left, &st);
	if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
		*cols = 1;         /* invalid: shown as '?' */
		return -1;
	}
	int w = wcwidth(wc);
	*cols = w < 0 ? 1 : w;
	return (int)n;
}

int tui_fit(const struct tui *t, const char *s, int w, char *buf, size_t blen)
{
	if (w <= 0 || blen == 0) {
		if (blen)
			buf[0] = '\0';
		return 0;
	}
	const char *ell = t->utf8 ? "\xe2\x80\xa6" : "..";
	int ellw = t->utf8 ? 1 : 2;
	int total = tui_strwidth(t, s);
	int limit = total <= w ? w : w - ellw;
	size_t o = 0, i = 0, len = strlen(s);
	int cols = 0;
	if (limit < 0)
		limit = 0;
	while (i < len) {
		int cw, n = char_at(t, s + i, len - i, &cw);
		if (cols + cw > limit)
			break;
		if (n < 0 || (!t->utf8 && (unsigned char)s[i] >= 0x80) ||
		    (unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			if (o + 1 >= blen)
				break;
			buf[o++] = '?';
			i += n < 0 ? 1 : (size_t)n;
		} else {
			if (o + (size_t)n >= blen)
				break;
			memcpy(buf + o, s + i, (size_t)n);
			o += (size_t)n;
			i += (size_t)n;
		}
		cols += cw;
	}
	if (i < len && w >= ellw) {
		/* cut: add the ellipsis if it fits in the columns and bytes */
		size_t el = strlen(ell);
		if (cols + ellw <= w && o + el < blen) {
			memcpy(buf + o, ell, el);
			o += el;
			cols += ellw;
		}
	}
	buf[o] = '\0';
	return cols;
}

int tui_strwidth(const struct tui *t, const char *s)
{
	size_t len = strlen(s), i = 0;
	int cols = 0;
	while (i < len) {
		int cw, n = char_at(t, s + i, len - i, &cw);
		i += n < 0 ? 1 : (size_t)n;
		cols += cw;
	}
	return cols;
}

int tui_put(const struct tui *t, int y, int x, int w, const char *s, attr_t a)
{
	char buf[1024];
	if (w <= 0 || y < 0 || x < 0 || y >= t->rows || x >= t->cols)
		return 0;
	if (x + w > t->cols)
		w = t->cols - x;
	int cols = tui_fit(t, s, w, buf, sizeof buf);
	attrset(a);
	mvaddstr(y, x, buf);
	attrset(t->sty.st[ST_NORMAL]);
	return cols;
}

void tui_fill(int y, int x, int w, attr_t a)
{
	if (w <= 0 || y < 0 || x < 0 || y >= LINES || x >= COLS)
		return;
	if (x + w > COLS)
		w = COLS - x;
	mvhline(y, x, ' ' | a, w);
}
