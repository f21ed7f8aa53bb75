/* pipeline.c - raw samples -> symbolizer -> profile (see pipeline.h). */
#include "pipeline.h"

#include <stdio.h>
#include <time.h>

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int pipeline_feed(struct pipeline *pl, struct profile *p, const struct qp_sample *s)
{
	size_t n = 0;

	pl->consumed++;
	if (pl->rec && record_write(pl->rec, s) < 0)
		pl->record_errors++;
	if (pl->filter == PIPE_KERNEL_ONLY && s->regs.cpl != 0)
		return 0;
	if (pl->filter == PIPE_USER_ONLY && s->regs.cpl == 0)
		return 0;
	if (symbolizer_process(pl->sym, s, pl->frames,
			       sizeof pl->frames / sizeof pl->frames[0], &n) < 0 || n == 0) {
		pl->unusable++;
		return 0;
	}
	if (!profile_add(p, pl->frames, n, s->cpu, 1))
		return 0;
	if (pl->log) {
		int mode = (s->flags & QP_SF_IDLE) ? SLOG_MODE_IDLE :
			   s->regs.cpl == 0 ? SLOG_MODE_KERNEL : SLOG_MODE_USER;
		samplelog_add(pl->log, pl->frames, n, s->t_ns, s->cpu, mode, 1);
	}
	pl->added++;
	return 1;
}

long pipeline_pump(struct pipeline *pl, struct profile *p, int budget_ms)
{
	uint64_t deadline = mono_ns() + (uint64_t)budget_ms * 1000000ull;
	long n = 0;
	const void *slot;

	while ((slot = ring_peek(pl->ring)) != NULL) {
		pipeline_feed(pl, p, slot);
		ring_release(pl->ring);
		n++;
		/* Check the clock every 64 samples: cheap, and bounds the UI's
		 * latency even with a full ring. */
		if ((n & 63) == 0 && mono_ns() > deadline)
			break;
	}
	return n;
}

int pipeline_symcheck(struct pipeline *pl, uint64_t min_kernel, char *msg,
		      size_t msglen)
{
	struct symbolizer_stats st;

	if (pl->symcheck_done)
		return 0;
	symbolizer_get_stats(pl->sym, &st);
	if (!st.kernel_samples || st.kernel_samples < min_kernel)
		return 0;
	pl->symcheck_done = 1;
	if (2 * st.kernel_unnamed <= st.kernel_samples)
		return 0;
	unsigned long long un = st.kernel_unnamed, all = st.kernel_samples;
	if (!symbolizer_has_kernel_symbols(pl->sym))
		snprintf(msg, msglen, "%llu of %llu kernel-mode samples have no "
			 "symbol: no kernel symbols were given (--kernel "
			 "VMLINUX and/or --symbols System.map)", un, all);
	else
		snprintf(msg, msglen, "%llu of %llu kernel-mode samples resolve "
			 "to no kernel symbol: wrong or missing kernel slide "
			 "(--kernel-offset), a --kernel/--symbols that is not the "
			 "running kernel, or missing --kernel/--symbols", un, all);
	return 1;
}
