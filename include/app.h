/* app.h - qtop-prof's run modes (src/app): each takes the parsed options,
 * prints its own messages and returns the process exit code. */
#ifndef QTOP_APP_H
#define QTOP_APP_H

struct options;

/* live: a guest over QMP or the plugin (--launch, --boot too) */
int app_run_live(struct options *o);
/* --replay FILE: a recording through the same pipeline */
int app_run_replay(struct options *o);
/* --load FILE: a finished profile (folded, pprof, speedscope, JSON) */
int app_run_load(const struct options *o);
/* --diff BEFORE AFTER */
int app_run_diff(struct options *o);

#endif
