/* record.h - raw sample files (--record / --replay).  Format in
 * doc/record-format.md: a versioned header, then length-prefixed samples
 * exactly as the sampler produced them, so a replay re-runs the same
 * unwinding and symbolization offline, with the same or other ELF files. */
#ifndef QTOP_RECORD_H
#define QTOP_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include "sample.h"

#define RECORD_MAGIC "QTOPREC"   /* + NUL: 8 bytes */
#define RECORD_VERSION 3u

struct record_writer;
struct record_reader;

/* Creates path exclusively (an existing file is an error, never
 * overwritten).  Returns NULL with a message. */
struct record_writer *record_create(const char *path, char *err, size_t errlen);
int record_write(struct record_writer *w, const struct qp_sample *s);
/* Flushes and closes; returns 0 or -errno with a message.  NULL ok. */
int record_close(struct record_writer *w, char *err, size_t errlen);
uint64_t record_written(const struct record_writer *w);

struct record_reader *record_open(const char *path, char *err, size_t errlen);
/* 1: *s points at the next sample (valid until the next call); 0: end of
 * file; -1: corrupt or truncated, message in err. */
int record_next(struct record_reader *r, const struct qp_sample **s,
		char *err, size_t errlen);
void record_reader_close(struct record_reader *r);

/* Parse a whole record image from memory (fuzzing, tests): returns the
 * number of samples, or -1 with a message. */
long record_parse_buffer(const uint8_t *data, size_t len, char *err, size_t errlen);

#endif
