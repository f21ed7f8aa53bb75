/* samplelog.h - an append-only log of symbolized samples, in capture order.
 *
 * The call tree (profile.h) keeps counts, not samples: it cannot say when a
 * sample was taken, on which vCPU, or at which address.  The exports need
 * that (pprof labels and addresses, speedscope's time order, one perf-script
 * event per sample), and so will a JSON report and a timeline view.  The
 * consumer appends every sample it adds to the live profile here as well.
 *
 * Storage, all interned:
 *   strings  id 0 is ""
 *   frames   {name, module, file, line, addr, kind, flags}: one per distinct
 *            combination (so per distinct pc in practice)
 *   stacks   a prefix tree without the process frame: stack id = (prefix
 *            stack id, leaf frame id), 0 the empty stack, so identical
 *            stacks share one id and a new leaf pc costs 12 bytes;
 *            samplelog_stack_frames() gives the root-first frame-id array
 *   samples  {t_ns, cpu, mode, comm (process name string id), stack, weight}
 *            24 bytes each, in chunks (no big realloc copies)
 *
 * Memory is bounded: at most max_samples samples are kept (default
 * SAMPLELOG_DEFAULT_MAX, ~24 MiB of samples plus the distinct frames and
 * stack nodes), and at most SAMPLELOG_MAX_STACKS stack nodes and as many
 * distinct frames (under 90 MiB in all even when every sample is new).  Once full, samples are counted as dropped and not kept: exports then
 * hold the first N samples, while the folded profile holds all of them.
 *
 * A log can also be built from a profile's aggregated stacks (a --load'ed
 * folded file, a frozen or zoomed TUI picture): one entry per stack with its
 * count as weight, no times, no vCPU (samplelog_aggregated() is 1).
 *
 * Owned by one thread (the consumer), like the profile.
 */
#ifndef QTOP_SAMPLELOG_H
#define QTOP_SAMPLELOG_H

#include <stddef.h>
#include <stdint.h>
#include "profile.h"

#define SAMPLELOG_DEFAULT_MAX (1u << 20)    /* 1 Mi samples */
#define SAMPLELOG_MAX_STACKS  ((1u << 21) - 1) /* stack nodes (and frames): 24 MiB + index */
#define SLOG_CPU_UNKNOWN      0xffffu

enum slog_mode { SLOG_MODE_UNKNOWN, SLOG_MODE_KERNEL, SLOG_MODE_USER,
		 SLOG_MODE_IDLE };

struct slog_frame {
	uint32_t name;     /* string ids; name is never 0 */
	uint32_t module;   /* "kernel", a program name, "?" or 0 */
	uint32_t file;     /* source file or 0 */
	uint32_t line;     /* 0 = unknown */
	uint64_t addr;     /* guest pc, 0 = unknown */
	uint8_t kind;      /* PK_USER, PK_KERNEL or PK_MARK */
	uint8_t flags;     /* PF_INLINE */
};

struct slog_stack {
	uint32_t prefix;   /* the stack without its leaf frame; 0 = empty */
	uint32_t frame;    /* leaf frame id */
	uint32_t depth;    /* frames in the stack */
};

struct slog_sample {
	uint64_t t_ns;     /* CLOCK_MONOTONIC at capture; 0 when aggregated */
	uint32_t stack;    /* samplelog_stack() id */
	uint32_t comm;     /* process name (string id) */
	uint32_t weight;   /* samples this entry stands for: 1 when sampled */
	uint16_t cpu;      /* vCPU, or SLOG_CPU_UNKNOWN */
	uint8_t mode;      /* enum slog_mode */
	uint8_t _pad;
};

struct samplelog;

/* max_samples 0: SAMPLELOG_DEFAULT_MAX.  NULL on allocation failure. */
struct samplelog *samplelog_new(uint64_t max_samples);
void samplelog_free(struct samplelog *l);          /* NULL ok */
/* Drop everything (the R key); the generation counter goes up. */
void samplelog_reset(struct samplelog *l);

/* Append one sample.  frames as given to profile_add: frames[0] is the
 * process, frames[n-1] the leaf; strings are copied.  cpu >= 0xffff is
 * stored as SLOG_CPU_UNKNOWN.  Returns 1 when kept, 0 when the log is full
 * (counted in samplelog_dropped), -EINVAL (n == 0), -ENOMEM. */
int samplelog_add(struct samplelog *l, const struct prof_frame *frames,
		  size_t n, uint64_t t_ns, uint32_t cpu, int mode,
		  uint32_t weight);

/* The mode of a sample from its leaf frame kind and name. */
int samplelog_mode_of(const struct prof_frame *leaf);

/* Add the stacks of profile p below node `under` (0: all), one entry per
 * node with self > 0 (weight = self, split when above UINT32_MAX), in the
 * tree order folded_write uses; the log becomes aggregated.
 * kernel_only / user_only as FOLDED_KERNEL_ONLY / FOLDED_USER_ONLY (flags
 * of folded.h).  Returns entries added or -ENOMEM. */
long samplelog_from_profile(struct samplelog *l, const struct profile *p,
			    uint32_t under, unsigned flags);

/* Samples kept, samples dropped because the log was full, the cap. */
uint64_t samplelog_count(const struct samplelog *l);
uint64_t samplelog_dropped(const struct samplelog *l);
uint64_t samplelog_max(const struct samplelog *l);
/* Sum of the weights of the kept samples. */
uint64_t samplelog_weight(const struct samplelog *l);
/* 1 when built by samplelog_from_profile (no times, no vCPUs). */
int samplelog_aggregated(const struct samplelog *l);
/* Bumped by every reset: a picture taken before a reset no longer matches. */
uint64_t samplelog_generation(const struct samplelog *l);

/* Sample i (< samplelog_count), in order of addition. */
const struct slog_sample *samplelog_sample(const struct samplelog *l,
					   uint64_t i);
uint32_t samplelog_nframes(const struct samplelog *l);
const struct slog_frame *samplelog_frame(const struct samplelog *l,
					 uint32_t id);
/* Every stack id is below it (id 0 is the empty stack). */
uint32_t samplelog_nstacks(const struct samplelog *l);
/* One node; an unknown id gives the empty stack {0, 0, 0}. Valid until the
 * next add. */
const struct slog_stack *samplelog_stack(const struct samplelog *l,
					 uint32_t id);
/* Frame ids of stack id root-first (the leaf last) into buf; returns the
 * depth (buf untouched when it is above max). */
uint32_t samplelog_stack_frames(const struct samplelog *l, uint32_t id,
				uint32_t *buf, uint32_t max);
uint32_t samplelog_nstrings(const struct samplelog *l);
/* "" for 0 or an unknown id; valid until the next add. */
const char *samplelog_str(const struct samplelog *l, uint32_t id);

/* Bytes allocated (for tests and the memory budget). */
size_t samplelog_bytes(const struct samplelog *l);

/* What a module name of the frames stands for on this host: the ELF file
 * it was symbolized with and its GNU build-id (hex, "" when none), for the
 * exports' mappings.  Kept across samplelog_reset.  0 or -ENOMEM. */
int samplelog_set_module(struct samplelog *l, const char *name,
			 const char *path, const char *build_id);
/* The path of module name (NULL when not known); *build_id its id ("" when
 * none). */
const char *samplelog_module(const struct samplelog *l, const char *name,
			     const char **build_id);

#endif
