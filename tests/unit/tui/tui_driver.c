/* tui_driver.c - runs tui_run on a folded file, optionally with a fake live
 * source that keeps adding samples (to test freeze, decay, reset without a
 * guest; --fake-log: its samples also go to a sample log with their
 * times, for the timeline).  Used by the tmux integration tests.
 *
 *   tui_driver [--fake-live [--fake-log]] [--theme T] [--themes-dir D] [-o PATH]
 *              [--view N] [--refresh HZ] FILE.folded
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "export.h"
#include "folded.h"
#include "tui.h"

struct fake {
	uint64_t samples, calls;
	double t0;
	struct samplelog *log;   /* --fake-log, or NULL */
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Adds 3 samples per call to "livejob": the frozen picture must not grow. */
static long fake_pump(void *ctx, struct profile *p, int budget_ms)
{
	struct fake *f = ctx;
	struct prof_frame fr[4] = {
		{ "livejob", NULL, NULL, PK_PROC, 0, 0 },
		{ "main", "livejob", "live.c:10", PK_USER, 0, 0 },
		{ "spin", "livejob", "live.c:20", PK_USER, 0, 0 },
		{ "do_tick", "kernel", NULL, PK_KERNEL, 0, 0 },
	};
	f->calls++;
	profile_add(p, fr, 3 + (f->calls % 2), (uint32_t)(f->calls % 2), 3);
	if (f->log)
		samplelog_add(f->log, fr, 3 + (f->calls % 2), (uint64_t)(now_s() * 1e9),
			      (uint32_t)(f->calls % 2), f->calls % 2 ? SLOG_MODE_KERNEL
								: SLOG_MODE_USER, 3);
	f->samples += 3;
	return 3;
}

static void fake_status(void *ctx, struct app_status *st)
{
	struct fake *f = ctx;
	memset(st, 0, sizeof *st);
	st->guest_state = "running";
	st->target_hz = 100;
	st->elapsed_s = now_s() - f->t0;
	st->vcpu_hz = 73;
	st->paused_pct = 0.4;
	st->samples = f->samples;
	st->ncpus = 2;
}

static void fake_reset(void *ctx)
{
	struct fake *f = ctx;
	f->samples = 0;
}

struct stat_ctx { uint64_t n; };

static void file_status(void *ctx, struct app_status *st)
{
	memset(st, 0, sizeof *st);
	st->guest_state = "file";
	st->samples = ((struct stat_ctx *)ctx)->n;
}

int main(int argc, char **argv)
{
	struct tui_options o = { .refresh_hz = 4, .decay_halflife_s = 5 };
	const char *file = NULL;
	struct tui_output out;
	int live = 0, fake_log = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--fake-live"))
			live = 1;
		else if (!strcmp(argv[i], "--fake-log"))
			fake_log = 1;
		else if (!strcmp(argv[i], "--theme") && i + 1 < argc)
			o.theme = argv[++i];
		else if (!strcmp(argv[i], "--themes-dir") && i + 1 < argc)
			o.themes_dir = argv[++i];
		else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
			out.path = argv[++i];
			out.format = export_format_from_path(out.path);
			if (out.format < 0)
				out.format = EXPORT_FOLDED;
			o.outputs = &out;
			o.noutputs = 1;
		}
		else if (!strcmp(argv[i], "--view") && i + 1 < argc)
			o.start_view = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--refresh") && i + 1 < argc)
			o.refresh_hz = atof(argv[++i]);
		else
			file = argv[i];
	}
	struct profile *p = profile_new();
	char err[512];
	if (!p)
		return 1;
	if (file) {
		struct folded_diag d;
		memset(&d, 0, sizeof d);
		if (folded_load_path(p, file, &d, err, sizeof err) < 0) {
			fprintf(stderr, "tui_driver: %s\n", err);
			return 1;
		}
	}
	struct fake fk = { .t0 = now_s(), .log = fake_log ? samplelog_new(0) : NULL };
	struct stat_ctx sc = { p->samples };
	struct app_source src_live = { &fk, fake_pump, fake_status, fake_reset, fk.log };
	struct app_source src_file = { &sc, NULL, file_status, NULL, NULL };
	int rc = tui_run(&o, p, live ? &src_live : &src_file, err, sizeof err);
	if (rc < 0)
		fprintf(stderr, "tui_driver: %s\n", err);
	profile_free(p);
	samplelog_free(fk.log);
	return rc < 0 ? 1 : 0;
}
