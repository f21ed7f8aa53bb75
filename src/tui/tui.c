/* tui.c - tui_run: terminal setup and teardown, and the main loop.
 *
 * One thread (the caller's).  The loop polls stdin with a timeout, pumps the
 * source with a small time budget, applies the decaying window, redraws at
 * the refresh rate and on input.  Signals only set a flag; the loop leaves
 * and the terminal is restored on every path. */
#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tui.h"
#include "tui_view.h"

static volatile sig_atomic_t quit_signal;

static void on_signal(int sig)
{
	quit_signal = sig;
}

static const int caught[] = { SIGINT, SIGTERM, SIGHUP };
#define NCAUGHT (int)(sizeof caught / sizeof caught[0])

static void catch_signals(struct sigaction *old)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;   /* no SA_RESTART: poll() must return EINTR */
	for (int i = 0; i < NCAUGHT; i++)
		sigaction(caught[i], &sa, &old[i]);
}

static void restore_signals(const struct sigaction *old)
{
	for (int i = 0; i < NCAUGHT; i++)
		sigaction(caught[i], &old[i], NULL);
}

static void fetch_status(struct tui *t, double start)
{
	memset(&t->status, 0, sizeof t->status);
	if (t->src && t->src->status)
		t->src->status(t->src->ctx, &t->status);
	else
		t->status.elapsed_s = tui_now() - start;
	if (!t->status.guest_state)
		t->status.guest_state = t->src && t->src->pump ? "running" : "file";
}

/* Decaying window: scale counts by 0.5^(dt / half-life), in steps of a
 * quarter half-life.  Counts are integers rounded down: scaling by ~0.97 at
 * every refresh would take 1 off every small count 4 times a second and
 * erase the tail of the profile whatever the half-life. */
static void apply_decay(struct tui *t, double now)
{
	double dt = now - t->last_decay;
	double hl = t->opt->decay_halflife_s;
	if (!t->decay || hl <= 0) {
		t->last_decay = now;
		return;
	}
	if (dt < hl / 4)
		return;
	t->last_decay = now;
	profile_decay(t->live, pow(0.5, dt / hl));
	if (!t->frozen)
		t->gen++;
}

static void screen_setup(void)
{
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(25);   /* Esc is a key here, not only a prefix */
	curs_set(0);
	tui_mouse_mode(0);
}

static void main_loop(struct tui *t)
{
	const struct app_source *src = t->src;
	double start = tui_now();
	double period = 1.0 / t->opt->refresh_hz;
	double next = 0;
	int dirty = 1;

	while (!t->quit && !quit_signal) {
		double now = tui_now();
		if (src && src->pump) {
			long added = src->pump(src->ctx, t->live, 20);
			if (added > 0 && !t->frozen)
				t->gen++;
		}
		if (now >= next) {
			apply_decay(t, now);
			dirty = 1;
			next = now + period;
		}
		if (dirty) {
			fetch_status(t, start);
			tui_draw(t);
			refresh();
			dirty = 0;
		}
		/* live: wake often to drain the ring; file: only to redraw */
		int timeout = (int)((next - tui_now()) * 1000) + 1;
		if (src && src->pump && timeout > 10)
			timeout = 10;
		if (timeout < 0)
			timeout = 0;
		struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
		int rc = poll(&pfd, 1, timeout);
		if (rc < 0 && errno != EINTR)
			break;
		if (rc > 0 && (pfd.revents & (POLLHUP | POLLERR | POLLNVAL)) &&
		    !(pfd.revents & POLLIN))
			break;     /* the terminal went away */
		/* drain the keys even after EINTR: SIGWINCH gives KEY_RESIZE */
		int ch;
		while (!t->quit && (ch = getch()) != ERR) {
			int r = tui_dispatch_key(t, ch);
			if (r & TR_REBUILD)
				t->gen++;
			dirty = 1;
		}
	}
}

int tui_run(const struct tui_options *opt, struct profile *live,
	    const struct app_source *src, char *err, size_t errlen)
{
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		snprintf(err, errlen, "not a terminal: use --batch");
		return -1;
	}
	struct tui_options o = *opt;
	if (o.refresh_hz <= 0)
		o.refresh_hz = 4;
	if (o.refresh_hz > 100)
		o.refresh_hz = 100;
	if (o.decay_halflife_s <= 0)
		o.decay_halflife_s = 5;

	struct tui *t = malloc(sizeof *t);
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	tui_state_init(t, &o, live, src);
	/* Theme errors are reported before the screen is taken over. */
	if (theme_load(&t->theme, o.theme, o.themes_dir, err, errlen) < 0) {
		tui_state_free(t);
		free(t);
		return -1;
	}

	char *old_locale = strdup(setlocale(LC_ALL, NULL));
	setlocale(LC_ALL, "");
	t->utf8 = !strcmp(nl_langinfo(CODESET), "UTF-8");

	struct sigaction old[NCAUGHT];
	quit_signal = 0;
	catch_signals(old);

	int ret = 0;
	SCREEN *scr = newterm(NULL, stdout, stdin);
	if (!scr) {
		const char *term = getenv("TERM");
		snprintf(err, errlen, "cannot use the terminal (TERM=%s)",
			 term ? term : "unset");
		ret = -1;
	} else {
		screen_setup();
		tui_colors_init(t);
		main_loop(t);
		endwin();
		delscreen(scr);
		if (quit_signal)
			ret = quit_signal;   /* the caller saves the profile */
	}
	restore_signals(old);
	if (old_locale) {
		setlocale(LC_ALL, old_locale);
		free(old_locale);
	}
	tui_state_free(t);
	free(t);
	return ret;
}
