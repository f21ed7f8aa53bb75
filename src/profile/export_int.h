/* export_int.h - what the format writers of export.c share (private). */
#ifndef QTOP_EXPORT_INT_H
#define QTOP_EXPORT_INT_H

#include <stdio.h>
#include "samplelog.h"

struct export_job {
	const struct samplelog *log;
	uint64_t n;            /* samples of the log to write */
	double period_ns;      /* per sample */
	const char *name;      /* title */
	char *err;
	size_t errlen;
};

long export_pprof_write(const struct export_job *j, FILE *f);
long export_speedscope_write(const struct export_job *j, FILE *f);
long export_perf_write(const struct export_job *j, FILE *f);

/* uint64 key -> dense index (0, 1, 2, ... in order of first get). */
struct fmap {
	uint64_t *key;
	uint32_t *val;
	uint32_t cap, n;
};
/* *val = the key's index; *isnew when it was just added. 0 or -ENOMEM.
 * Free key and val when done. */
int fmap_get(struct fmap *m, uint64_t key, uint32_t *val, int *isnew);

/* ns as an int64, saturated: weights and periods come from files and
 * flags, and a product past 2^63 must not be undefined behaviour. */
int64_t export_ns(double ns);

/* JSON string body (no quotes) of s. */
void export_json_str(FILE *f, const char *s);

#endif
