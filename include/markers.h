/* markers.h - named instants of a run: the first serial line matching a
 * regex (--mark NAME=REGEX) or the first sample whose chain holds a symbol
 * (--mark NAME=@SYMBOL); --until is one more marker that ends the run.
 *
 * Times are CLOCK_MONOTONIC ns (as samples' t_ns); t0 (the reset: the
 * "cont" of --launch/--boot, else the start) makes them seconds.  Serial
 * lines arrive on the serial thread, samples on the consumer: a mutex
 * guards the times.
 */
#ifndef QTOP_MARKERS_H
#define QTOP_MARKERS_H

#include <pthread.h>
#include <regex.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "samplelog.h"

#define MARKERS_MAX 32

struct marker {
	char name[64];
	int symbol;            /* 1: @SYMBOL (sym), 0: serial regex (re) */
	regex_t re;
	char sym[128];
	int until;             /* --until: reaching it ends the run */
	uint64_t t_ns;         /* when reached, 0 = not yet */
};

struct markers {
	struct marker m[MARKERS_MAX];
	int n;
	pthread_mutex_t lock;
	_Atomic int until_hit;   /* an --until marker was reached */
	_Atomic uint64_t t0_ns;  /* the reset / start */
	uint64_t scanned;        /* samplelog samples already looked at */
	uint64_t log_gen;
};

void markers_init(struct markers *ms);
void markers_free(struct markers *ms);   /* regexes */
/* --mark NAME=REGEX | NAME=@SYMBOL, or (until) --until REGEX | @SYMBOL
 * (named "until").  0, or -1 with a message. */
int markers_add(struct markers *ms, const char *spec, int until,
		char *err, size_t errlen);
int markers_have_serial(const struct markers *ms);
/* A complete serial line (no newline) seen at t_ns. */
void markers_serial_line(struct markers *ms, const char *line, uint64_t t_ns);
/* Look at the samples logged since the last call for @SYMBOL markers. */
void markers_scan_log(struct markers *ms, const struct samplelog *log);
/* A copy of marker i's time (0 = not reached). */
uint64_t markers_time(struct markers *ms, int i);
/* Stamp marker by hand (e.g. from a loaded report). */
void markers_set(struct markers *ms, int i, uint64_t t_ns);
/* A marker reached at t_ns, known only by its name (from a loaded
 * report: no regex, no symbol to look for).  0, or -1 when full. */
int markers_add_reached(struct markers *ms, const char *name, uint64_t t_ns);
/* The marker named name, or -1. */
int markers_find(const struct markers *ms, const char *name);
/* "boot 0.412 s · running 1.203 s (+0.791)": the reached ones in time order,
 * seconds since t0 and since the previous one. */
void markers_line(struct markers *ms, char *buf, size_t len);

#endif
