/* text_test.c - fitting names into columns: labels are truncated with "…"
 * in UTF-8 locales and ".." otherwise, never wider than the box; the status
 * line drops parts, least useful first, instead of overflowing. */
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "tui_view.h"

static int failures;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: CHECK(%s) failed\n", \
	__FILE__, __LINE__, #c); failures++; } } while (0)

/* The status line: one unit for the rate (asked vs per vCPU), parts
 * dropped on narrow terminals, never wider than asked (down to the two
 * parts that always stay). */
static void status_line(struct tui *t)
{
	static const struct tui_options opt = { .decay_halflife_s = 5 };
	char b[512];
	int w;

	t->opt = &opt;
	memset(&t->status, 0, sizeof t->status);
	t->status.guest_state = "running";
	t->status.samples = 1234;
	t->status.target_hz = 100;
	t->status.vcpu_hz = 73.2;
	t->status.ncpus = 2;
	t->status.paused_pct = 0.4;
	t->status.elapsed_s = 65;
	w = tui_status_text(t, 300, b, sizeof b);
	CHECK(!strcmp(b, " running | 1234 samples | 100 Hz asked - 73/s per vCPU"
		      " - 2 vCPUs - 0.4 % paused | dropped 0 | err 0 | 00:01:05"
		      " | cumulative | ? help"));
	CHECK(w == (int)strlen(b));
	/* narrower: help, a zero count, paused, vCPUs, ... go first; the
	 * rate per vCPU goes last, and keeps a " | " before it */
	w = tui_status_text(t, 80, b, sizeof b);
	CHECK(w <= 80 && strstr(b, "100 Hz asked - 73/s per vCPU |") &&
	      strstr(b, "cumulative") && !strstr(b, "help") &&
	      !strstr(b, "paused") && !strstr(b, "dropped"));
	w = tui_status_text(t, 40, b, sizeof b);
	CHECK(!strcmp(b, " running | 1234 samples | 73/s per vCPU"));
	for (int width = 300; width >= 0; width--) {
		w = tui_status_text(t, width, b, sizeof b);
		CHECK(w <= width || !strcmp(b, " running | 1234 samples"));
		CHECK(!strncmp(b, " running | 1234 samples", 23));
		if (width >= 39)
			CHECK(strstr(b, "73/s per vCPU") != NULL);
	}
	/* 0 = as fast as possible; 1 vCPU; a small rate keeps a decimal */
	t->status.target_hz = 0;
	t->status.vcpu_hz = 7.46;
	t->status.ncpus = 1;
	t->status.paused_pct = 100;
	tui_status_text(t, 300, b, sizeof b);
	CHECK(strstr(b, "max Hz asked - 7.5/s per vCPU - 1 vCPU - 100 % paused |"));
	/* errors that happened outlive a zero "dropped" and the elapsed time */
	t->status.errors = 3;
	tui_status_text(t, 70, b, sizeof b);
	CHECK(strstr(b, "err 3") && !strstr(b, "dropped") && !strstr(b, "00:"));
	/* not sampling (a file): no rate at all */
	memset(&t->status, 0, sizeof t->status);
	t->status.guest_state = "file";
	t->status.samples = 1000;
	tui_status_text(t, 300, b, sizeof b);
	CHECK(!strncmp(b, " file | 1000 samples | dropped 0", 32) && !strstr(b, "Hz"));
}

int main(void)
{
	static struct tui t;    /* large: not on the stack */
	char b[256];

	status_line(&t);

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
	/* the status line's dots are U+00B7 in UTF-8 */
	t.status.target_hz = 100;
	t.status.vcpu_hz = 50;
	t.status.ncpus = 2;
	t.status.guest_state = "running";
	t.status.samples = 5;
	tui_status_text(&t, 300, b, sizeof b);
	CHECK(strstr(b, "100 Hz asked \xc2\xb7 50/s per vCPU \xc2\xb7 2 vCPUs") != NULL);
	/* tiny buffers are never overrun */
	CHECK(tui_fit(&t, "abcdefgh", 8, b, 4) <= 3 && strlen(b) <= 3);
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
