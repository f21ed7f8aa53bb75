/* pipeline.h - the consumer: raw samples (from the ring or a record file)
 * -> symbolizer -> profile.  Runs on the thread that owns the profile. */
#ifndef QTOP_PIPELINE_H
#define QTOP_PIPELINE_H

#include <stdint.h>
#include "profile.h"
#include "record.h"
#include "samplelog.h"
#include "ring.h"
#include "sample.h"
#include "symbolizer.h"

enum pipeline_filter { PIPE_ALL, PIPE_KERNEL_ONLY, PIPE_USER_ONLY };

struct pipeline {
	struct ring *ring;               /* NULL when replaying */
	struct symbolizer *sym;
	struct record_writer *rec;       /* --record, or NULL */
	struct samplelog *log;           /* every added sample, for exports; NULL ok */
	enum pipeline_filter filter;
	uint64_t consumed;               /* samples taken from the source */
	uint64_t added;                  /* samples added to the profile */
	uint64_t unusable;               /* samples the symbolizer rejected */
	uint64_t record_errors;
	int symcheck_done;               /* pipeline_symcheck decided */
	struct prof_frame frames[512];
};

/* Feed one sample into p (records it first when recording; logs it in
 * pl->log after adding it to p).
 * Returns 1 if added, 0 if filtered or unusable. */
int pipeline_feed(struct pipeline *pl, struct profile *p, const struct qp_sample *s);

/* Drain the ring into p for at most budget_ms; returns samples consumed. */
long pipeline_pump(struct pipeline *pl, struct profile *p, int budget_ms);

/* Kernel symbols that do not fit the guest (wrong or missing slide, a
 * vmlinux that is not the running kernel, no kernel symbols at all) show as
 * kernel-mode samples whose pc is in no symbol.  Decides once, as soon as
 * at least min_kernel kernel-mode samples were symbolized (the caller picks
 * it: ~200, fewer after the first second, 1 at the end): returns 1 with a
 * one-line message (no "qtop-prof: " prefix) when more than half of them
 * resolved to no symbol, else 0 (also when already decided, or too few yet). */
int pipeline_symcheck(struct pipeline *pl, uint64_t min_kernel, char *msg,
		      size_t msglen);

#endif
