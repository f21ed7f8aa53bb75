/* report.h - the JSON report (--json FILE; doc/report.md, schema in
 * doc/report.schema.json) and reading it back (--load FILE.json).
 *
 *   meta      schema version, QEMU version, accelerator, vCPUs, asked and
 *             achieved rate, mode and engine, kernel build-id, start time
 *   markers   [{name, t}]: seconds since t0 (the reset with --launch/--boot)
 *   boot      --launch/--boot: {reset_to: {marker: seconds}}
 *   frames    [{name, module, file, line, kind}]
 *   samples   [{t, cpu, mode, comm, stack: [frame index, root first]}]
 *   hotspots  [{name, module, self, total}] of the samples written
 *
 * Samples come from the samplelog, in a window [from, to) of monotonic ns
 * (0: open).  Library code: no printing; errors in err.
 */
#ifndef QTOP_REPORT_H
#define QTOP_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "markers.h"
#include "profile.h"
#include "samplelog.h"

#define REPORT_SCHEMA_VERSION 1

struct report_meta {
	const char *qemu_version;   /* query-version, or NULL */
	const char *accel;          /* "tcg", "kvm", or NULL */
	int vcpus;                  /* 0: unknown */
	double hz_asked, hz_achieved;   /* rounds/s asked; samples/s per vCPU */
	const char *mode;           /* "auto-stop", "stop", "no-stop", or NULL */
	const char *engine;         /* "qmp", "plugin", or NULL */
	const char *build_id;       /* kernel GNU build-id (hex), or NULL */
	double start_unix;          /* wall clock at t0, 0: unknown */
	uint64_t t0_ns;             /* CLOCK_MONOTONIC of t = 0 */
	int boot;                   /* 1: t0 is the reset (--launch / --boot) */
	const char *source;         /* QMP socket, file, ... */
};

struct report_input {
	const struct report_meta *meta;
	struct markers *ms;               /* NULL ok */
	const struct samplelog *log;
	uint64_t from_ns, to_ns;          /* window (monotonic), 0: open */
};

/* Build p (empty) from the log's samples in [from_ns, to_ns) (0: open);
 * an aggregated log is taken whole.  Returns samples added or -ENOMEM. */
long report_profile_from_log(struct profile *p, const struct samplelog *log,
			     uint64_t from_ns, uint64_t to_ns);

long report_write(const struct report_input *in, FILE *f, char *err, size_t errlen);
/* Atomic, never-overwriting save (savefile.h). */
int report_save(const struct report_input *in, const char *path,
		char *out_path, size_t out_len, char *err, size_t errlen);

/* 1 when the buffer looks like our report ("qtop-prof-report"). */
int report_detect(const void *buf, size_t len);

/* A --from/--to spec: seconds ("1.5", "0") or a marker name among names
 * (times in seconds, NAN when not reached).  0 with *out, -1 with a
 * message. */
int report_time_spec(const char *spec, const char *const *names,
		     const double *times, int n, double *out, char *err, size_t errlen);

/* Add a report's samples with from <= t < to (seconds; from/to specs as
 * above, NULL: open) to p.  Returns samples added or -errno with a
 * message. */
long import_report(struct profile *p, const void *buf, size_t len,
		   const char *from, const char *to, char *err, size_t errlen);

/* import_report, and (each may be NULL) also: the samples with a time
 * into log (t = *t0_ns + seconds; *t0_ns is meta.t0_monotonic_ns, or 1e12
 * when absent, so that times stay positive), the reached markers into ms
 * (markers_add_reached).  p may be NULL too. */
long import_report_log(struct profile *p, struct samplelog *log,
		       struct markers *ms, uint64_t *t0_ns, const void *buf,
		       size_t len, const char *from, const char *to,
		       char *err, size_t errlen);

/* The GNU build-id of an ELF file as hex.  0, or -1 (none, unreadable). */
int report_build_id(const char *path, char *hex, size_t len);

#endif
