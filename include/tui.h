/* tui.h - the ncursesw front end.  Never talks to QEMU: it pulls new samples
 * through an app_source (which drains the ring through the symbolizer into
 * the live profile) and renders views of the profile. */
#ifndef QTOP_TUI_H
#define QTOP_TUI_H

#include <stddef.h>
#include "frontend.h"
#include "profile.h"

/* Run until the user quits or a signal arrives.  Restores the terminal on
 * every path.  Returns 0 when the user quit, the signal number (> 0) when
 * SIGINT/SIGTERM/SIGHUP ended it (the caller then keeps the profile), or -1
 * with a message in err (e.g. not a tty). */
int tui_run(const struct tui_options *opt, struct profile *live,
	    const struct app_source *src, char *err, size_t errlen);

#endif
