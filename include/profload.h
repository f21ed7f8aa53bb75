/* profload.h - open a saved profile whatever its format: a table of
 * readers, each a probe (does this file look like mine?) and a load.  A new
 * format (pprof, speedscope, ...) is one more line in the table in
 * profload.c.  Used by --diff, which reads two profiles. */
#ifndef QTOP_PROFLOAD_H
#define QTOP_PROFLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "pipeline.h"
#include "profile.h"
#include "symbolizer.h"

struct profload_opts {
	const struct symbolizer_config *sym;  /* .qrec: ELF files to replay with */
	enum pipeline_filter filter;          /* .qrec: --kernel-only / --user-only */
	uint64_t max_samples;                 /* .qrec: stop after N (0: all) */
	int lenient;                          /* bad folded lines: skip (warn) instead of fail */
};

struct profload_info {
	const char *format;       /* the reader's name */
	long skipped;             /* bad lines skipped (lenient) */
	char warning[512];        /* one line, or "" */
};

struct profload_reader {
	const char *name;
	/* 1 when the file (its first n bytes in head) is of this format */
	int (*probe)(const unsigned char *head, size_t n);
	/* Load into the empty profile p.  0, or -errno with a message. */
	int (*load)(struct profile *p, const char *path,
		    const struct profload_opts *o, struct profload_info *info,
		    char *err, size_t errlen);
};

/* The readers, NULL-terminated, in probe order (the last one, folded text,
 * takes anything). */
extern const struct profload_reader *const profload_readers[];

/* Load path into the empty profile p with the first reader whose probe
 * takes it.  A profile with no samples is an error.  Returns 0 or -errno
 * with "path: message" in err; info may be NULL. */
int profload_path(struct profile *p, const char *path,
		  const struct profload_opts *o, struct profload_info *info,
		  char *err, size_t errlen);

#endif
