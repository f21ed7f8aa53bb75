/* frontend.h - what a front end is given: the source of new samples (an
 * app_source, which drains the ring through the symbolizer into the live
 * profile), its status line facts, and the options of the run.  Plain
 * types, shared by tui.h (the ncursesw front end) and tui_view.h (its
 * views), so neither has to include the other's header.
 */
#ifndef QTOP_FRONTEND_H
#define QTOP_FRONTEND_H

#include <stdint.h>
#include "profile.h"
#include "samplelog.h"

struct markers;

#define TUI_MAX_OUTPUTS 8

struct tui_output {
	const char *path;          /* -o FILE */
	int format;                /* enum export_format */
};

struct app_status {
	const char *guest_state;   /* "running", "paused", "disconnected", "file" */
	/* Sampling facts, shown when ncpus > 0 (a live source):
	 * rounds per second asked (0 = as fast as possible), samples per
	 * second each sampled vCPU got (last ~5 s), vCPUs sampled, and the
	 * share of rounds taken with the guest paused (%). */
	double target_hz;
	double vcpu_hz;
	double paused_pct;
	uint64_t samples;          /* received so far (keeps counting while frozen) */
	uint64_t dropped;
	uint64_t errors;
	double elapsed_s;
	int ncpus;                 /* vCPUs sampled; 0: not sampling (a file) */
	const char *message;       /* last error / notice, or NULL */
	const char *warning;       /* a standing problem (e.g. kernel symbols
				    * that do not fit the guest), or NULL */
};

struct app_source {
	void *ctx;
	/* Move newly captured samples into p, spending at most budget_ms.
	 * Returns samples added (>= 0). NULL for a static profile (--load). */
	long (*pump)(void *ctx, struct profile *p, int budget_ms);
	void (*status)(void *ctx, struct app_status *st);
	/* Called on 'R' (reset counts) so the source can reset its own stats. NULL ok. */
	void (*reset)(void *ctx);
	/* The samples behind the live profile (exports), or NULL. */
	const struct samplelog *log;
};

struct tui_options {
	double refresh_hz;         /* redraws per second (default 4) */
	const char *theme;         /* name or path; NULL = default */
	const char *themes_dir;    /* --themes-dir, or NULL */
	const struct tui_output *outputs; /* -o files 's' writes, each in its format */
	int noutputs;              /* 0: 's' writes a timestamped file in cwd */
	int save_format;           /* its format (--format; 'e' cycles it) */
	double period_ns;          /* time per sample per vCPU (1e9 / --hz), 0: unknown */
	int start_view;            /* 0 hotspots, 1 processes, 2 flame, 3 timeline */
	double decay_halflife_s;   /* for the decaying-window toggle (default 5) */
	/* --diff: the BEFORE profile (the caller owns it; `live` is AFTER)
	 * and the names shown for both; NULL: no diff until 'b' takes a
	 * baseline. */
	const struct profile *diff_before;
	const char *diff_before_name, *diff_after_name;
	int no_normalize;          /* --no-normalize: compare counts, not shares */
	/* --mark/--until and t0 (markers.h), for the timeline; NULL: none */
	struct markers *markers;
};

#endif
