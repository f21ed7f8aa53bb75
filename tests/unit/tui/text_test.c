/* text_test.c - fitting names into columns: labels are truncated with "…"
 * in UTF-8 locales and ".." otherwise, never wider than the box. */
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "tui_view.h"

static int failures;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: CHECK(%s) failed\n", \
	__FILE__, __LINE__, #c); failures++; } } while (0)

int main(void)
{
	static struct tui t;    /* large: not on the stack */
	char b[256];

	t.utf8 = 0;
	CHECK(tui_fit(&t, "memcpy", 10, b, sizeof b) == 6 && !strcmp(b, "memcpy"));
	CHECK(tui_fit(&t, "memcpy", 6, b, sizeof b) == 6 && !strcmp(b, "memcpy"));
	CHECK(tui_fit(&t, "memcpy", 5, b, sizeof b) == 5 && !strcmp(b, "mem.."));
	CHECK(tui_fit(&t, "memcpy", 2, b, sizeof b) == 2 && !strcmp(b, ".."));
	CHECK(tui_fit(&t, "memcpy", 0, b, sizeof b) == 0 && !strcmp(b, ""));
	/* non-ASCII bytes in a non-UTF-8 locale print as '?' */
	CHECK(tui_fit(&t, "f\xc3\xa9", 10, b, sizeof b) == 3 && !strcmp(b, "f??"));
	/* control characters never reach the terminal */
	CHECK(tui_fit(&t, "a\tb\x1b", 10, b, sizeof b) == 4 && !strcmp(b, "a?b?"));

	if (!setlocale(LC_CTYPE, "C.UTF-8")) {
		fprintf(stderr, "no C.UTF-8 locale: UTF-8 part skipped\n");
		return failures ? 1 : 0;
	}
	t.utf8 = 1;
	CHECK(tui_fit(&t, "memcpy", 5, b, sizeof b) == 5 && !strcmp(b, "memc\xe2\x80\xa6"));
	CHECK(tui_fit(&t, "f\xc3\xa9", 2, b, sizeof b) == 2 && !strcmp(b, "f\xc3\xa9"));
	CHECK(tui_strwidth(&t, "f\xc3\xa9") == 2);
	/* a double-width character is never cut in half */
	CHECK(tui_fit(&t, "\xe6\xbc\xa2\xe5\xad\x97x", 4, b, sizeof b) == 3);
	/* invalid UTF-8 shows as '?' */
	CHECK(tui_fit(&t, "a\xff" "b", 5, b, sizeof b) == 3 && !strcmp(b, "a?b"));
	/* tiny buffers are never overrun */
	CHECK(tui_fit(&t, "abcdefgh", 8, b, 4) <= 3 && strlen(b) <= 3);
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
