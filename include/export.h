/* export.h - profiles for other tools, and reading theirs back.
 *
 * Formats written:
 *   folded       "proc;f;g_[k] N" (folded.h) from the call tree: every sample
 *   pprof        profile.proto, gzip'd: values [samples/count,
 *                cpu/nanoseconds], one location per frame pc (inlined frames
 *                as extra lines of their caller's location), one mapping per
 *                module ("kernel", each program), labels vcpu, process, mode
 *   speedscope   its JSON file format: one sampled profile for all vCPUs
 *                (first) and one per vCPU, in capture order with weights in
 *                nanoseconds, so the time-order view works
 *   perf-script  `perf script` text: one event per sample (comm, pid/tid =
 *                process index, cpu, time, period, "cpu-clock:"), then the
 *                stack leaf first "\t<addr> <sym>+0x0 (<module>)", blank line
 *                after each event; kernel module "[kernel.kallsyms]"
 * Sample-level formats read a samplelog; without one (a --load'ed file, a
 * zoomed TUI picture) they export the aggregated stacks of the profile:
 * one entry per stack weighted by its count, no times and no vCPUs.
 *
 * Names in speedscope frames follow the folded conventions ("f_[k]" kernel,
 * "f_[i]" inlined), so a speedscope of our file and of our folded file look
 * the same; the process is the root frame.
 */
#ifndef QTOP_EXPORT_H
#define QTOP_EXPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "profile.h"
#include "samplelog.h"

enum export_format { EXPORT_FOLDED, EXPORT_PPROF, EXPORT_SPEEDSCOPE,
		     EXPORT_PERF, EXPORT_NFORMATS };
#define EXPORT_UNKNOWN (-1)
#define EXPORT_JSON    (-2)      /* ".json": the JSON report, not written yet */

/* "folded", "pprof", "speedscope", "perf-script" (also "perf"): the format,
 * EXPORT_JSON for "json", or EXPORT_UNKNOWN. */
int export_format_parse(const char *name);
/* By the file name's ending: .folded .txt, .pb.gz .pprof, .speedscope.json,
 * .perf .perf-script .script; EXPORT_JSON for another .json; else
 * EXPORT_UNKNOWN. */
int export_format_from_path(const char *path);
const char *export_format_name(int fmt);   /* "folded", ... */
const char *export_format_ext(int fmt);    /* ".folded", ".pb.gz", ... */

/* perf script events written at most (aggregated stacks repeat their
 * event once per sample). */
#define EXPORT_PERF_MAX_EVENTS 10000000u

struct export_input {
	const struct profile *p;     /* the call tree (folded; aggregated) */
	uint32_t under;              /* subtree to export (0: all) */
	unsigned flags;              /* FOLDED_* filters */
	const struct samplelog *log; /* samples, or NULL: aggregated from p */
	uint64_t nsamples;           /* use the first N of the log (0: all) */
	double period_ns;            /* time per sample per vCPU; 0: estimated
				        from the log's times, else 10 ms */
	const char *name;            /* title (speedscope), or NULL */
};

/* Write fmt to f.  Returns >= 0 or -errno with a message in err. */
long export_write(int fmt, const struct export_input *in, FILE *f,
		  char *err, size_t errlen);
/* Atomic save (savefile.h) of export_write.  path NULL: a timestamped name
 * with the format's extension.  Returns 0 or -errno with a message. */
int export_save(int fmt, const struct export_input *in, const char *path,
		char *out_path, size_t out_len, char *err, size_t errlen);

/* The period used for in (the estimate when in->period_ns is 0). */
double export_period_ns(const struct export_input *in,
			const struct samplelog *log);

/* ---- reading: pprof and speedscope files into a profile ---- */

/* Largest file accepted by the readers (memory stays bounded). */
#define EXPORT_MAX_INPUT (256u << 20)

/* What a buffer holds by its first bytes: EXPORT_PPROF (gzip magic; a raw
 * protobuf is not guessed), EXPORT_SPEEDSCOPE (a JSON object), else
 * EXPORT_FOLDED. */
int export_detect(const void *buf, size_t len);

/* Add a pprof profile (gzip'd or plain protobuf) to p: the sample type with
 * unit "count" (else the default, else the last) gives the counts; label
 * "process" the process frame ("[unknown]" without), "vcpu" the cpu;
 * mappings "kernel", "[kernel.kallsyms]" or "vmlinux" make kernel frames.
 * Returns samples added (>= 0) or -errno with a message in err. */
long import_pprof(struct profile *p, const void *buf, size_t len,
		  char *err, size_t errlen);
/* Add a speedscope JSON file to p: its per-vCPU profiles ("vCPU N") when
 * it is ours, else every sampled profile; the first frame of a stack is
 * the process.  Counts are weights over the period (ours) or over the
 * smallest weight.  Returns samples added or -errno with a message. */
long import_speedscope(struct profile *p, const void *buf, size_t len,
		       char *err, size_t errlen);

#endif
