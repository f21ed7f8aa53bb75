/* record.c - raw sample files (see record.h, doc/record-format.md). */
#include "record.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SAMPLE (16u << 20)   /* sanity bound for one record */

struct file_header {
	char magic[8];
	uint32_t version;
	uint32_t header_size;
	uint32_t sample_fixed_size;   /* sizeof(struct qp_sample) */
	uint32_t flags;
};

struct record_writer {
	FILE *f;
	char *path;
	uint64_t n;
};

/* Format 1: the fixed part ended before stack0_addr, and _pad stood where
 * stack0_len is now (always 0).  Its samples are read into the current
 * layout with no earlier stack copy. */
#define V1_FIXED offsetof(struct qp_sample, stack0_addr)
/* Format 2: the fixed part ended before pid (#15, --pid): its samples are
 * read with no id (pid 0, QP_SF_HAS_PID clear). */
#define V2_FIXED offsetof(struct qp_sample, pid)

struct record_reader {
	FILE *f;
	uint8_t *buf;
	size_t cap;
	uint32_t fixed;         /* fixed part size in the file */
	uint64_t n;
	char *path;
};

struct record_writer *record_create(const char *path, char *err, size_t errlen)
{
	struct file_header h = { .version = RECORD_VERSION,
		.header_size = sizeof h, .sample_fixed_size = sizeof(struct qp_sample) };
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	struct record_writer *w;

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s%s", path, strerror(errno),
			 errno == EEXIST ? " (not overwriting an existing file)" : "");
		return NULL;
	}
	w = calloc(1, sizeof *w);
	if (!w || !(w->f = fdopen(fd, "wb")) || !(w->path = strdup(path))) {
		snprintf(err, errlen, "out of memory");
		if (w && w->f)
			fclose(w->f);
		else
			close(fd);
		free(w);
		return NULL;
	}
	memcpy(h.magic, RECORD_MAGIC, 8);
	fwrite(&h, sizeof h, 1, w->f);
	return w;
}

int record_write(struct record_writer *w, const struct qp_sample *s)
{
	uint32_t len = (uint32_t)qp_sample_size(s);
	if (fwrite(&len, sizeof len, 1, w->f) != 1 || fwrite(s, len, 1, w->f) != 1)
		return -EIO;
	w->n++;
	return 0;
}

uint64_t record_written(const struct record_writer *w) { return w ? w->n : 0; }

int record_close(struct record_writer *w, char *err, size_t errlen)
{
	int rc = 0;

	if (!w)
		return 0;
	if (fflush(w->f) != 0 || fsync(fileno(w->f)) != 0 || ferror(w->f)) {
		rc = -errno;
		snprintf(err, errlen, "%s: write failed: %s", w->path, strerror(errno));
	}
	if (fclose(w->f) != 0 && rc == 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", w->path, strerror(errno));
	}
	free(w->path);
	free(w);
	return rc;
}

static int check_header(const struct file_header *h, const char *what, char *err,
			size_t errlen)
{
	if (memcmp(h->magic, RECORD_MAGIC, 8) != 0) {
		snprintf(err, errlen, "%s: not a qtop-prof record file", what);
		return -1;
	}
	int v1 = h->version == 1 && h->sample_fixed_size == V1_FIXED;
	int v2 = h->version == 2 && h->sample_fixed_size == V2_FIXED;
	int cur = h->version == RECORD_VERSION &&
		  h->sample_fixed_size == sizeof(struct qp_sample);
	if (!(v1 || v2 || cur) || h->header_size != sizeof *h) {
		snprintf(err, errlen, "%s: record format version %u is not supported (this build reads %u)",
			 what, h->version, RECORD_VERSION);
		return -1;
	}
	return 0;
}

/* Sample lengths must agree with the fixed part's own fields (fixed: its
 * size in the file). */
static int check_sample(const struct qp_sample *s, uint32_t len, uint32_t fixed)
{
	uint64_t want = (uint64_t)fixed + s->stack_len + s->ustack_len +
			s->code_len + s->comm_len + s->stack0_len + s->stack2_len;
	return want == len && s->code_len <= QP_CODE_BYTES && s->comm_len <= QP_COMM_BYTES &&
	       (fixed >= V2_FIXED || (s->stack0_len == 0 && s->stack2_len == 0)) &&
	       (fixed == sizeof *s || !(s->flags & QP_SF_HAS_PID));
}

struct record_reader *record_open(const char *path, char *err, size_t errlen)
{
	struct record_reader *r = calloc(1, sizeof *r);
	struct file_header h;

	if (!r) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->f = fopen(path, "rb");
	if (!r->f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(r);
		return NULL;
	}
	r->path = strdup(path);
	if (fread(&h, sizeof h, 1, r->f) != 1) {
		snprintf(err, errlen, "%s: not a qtop-prof record file (too short)", path);
		record_reader_close(r);
		return NULL;
	}
	if (check_header(&h, path, err, errlen) < 0) {
		record_reader_close(r);
		return NULL;
	}
	r->fixed = h.sample_fixed_size;
	return r;
}

int record_next(struct record_reader *r, const struct qp_sample **s, char *err,
		size_t errlen)
{
	uint32_t len;
	size_t got = fread(&len, 1, sizeof len, r->f);

	if (got == 0 && feof(r->f))
		return 0;
	if (got != sizeof len || len < r->fixed || len > MAX_SAMPLE) {
		snprintf(err, errlen, "%s: truncated or corrupt after %llu samples",
			 r->path, (unsigned long long)r->n);
		return -1;
	}
	/* room for the current fixed part in front of the variable part */
	size_t grow = sizeof(struct qp_sample) - r->fixed;
	if (len + grow > r->cap) {
		uint8_t *nb = realloc(r->buf, len + grow);
		if (!nb) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		r->buf = nb;
		r->cap = len + grow;
	}
	memset(r->buf, 0, sizeof(struct qp_sample));
	if (fread(r->buf, 1, r->fixed, r->f) != r->fixed ||
	    fread(r->buf + sizeof(struct qp_sample), 1, len - r->fixed, r->f) !=
		    len - r->fixed ||
	    !check_sample((const struct qp_sample *)r->buf, len, r->fixed)) {
		snprintf(err, errlen, "%s: truncated or corrupt after %llu samples",
			 r->path, (unsigned long long)r->n);
		return -1;
	}
	r->n++;
	*s = (const struct qp_sample *)r->buf;
	return 1;
}

void record_reader_close(struct record_reader *r)
{
	if (!r)
		return;
	if (r->f)
		fclose(r->f);
	free(r->buf);
	free(r->path);
	free(r);
}

long record_parse_buffer(const uint8_t *data, size_t len, char *err, size_t errlen)
{
	struct file_header h;
	size_t off = sizeof h;
	long n = 0;

	if (len < sizeof h) {
		snprintf(err, errlen, "not a qtop-prof record file (too short)");
		return -1;
	}
	memcpy(&h, data, sizeof h);
	if (check_header(&h, "buffer", err, errlen) < 0)
		return -1;
	while (off < len) {
		uint32_t l;
		struct qp_sample s;
		if (len - off < sizeof l) {
			snprintf(err, errlen, "truncated");
			return -1;
		}
		memcpy(&l, data + off, sizeof l);
		off += sizeof l;
		if (l < h.sample_fixed_size || l > len - off) {
			snprintf(err, errlen, "truncated or corrupt after %ld samples", n);
			return -1;
		}
		memset(&s, 0, sizeof s);
		memcpy(&s, data + off, h.sample_fixed_size);
		if (!check_sample(&s, l, h.sample_fixed_size)) {
			snprintf(err, errlen, "corrupt sample %ld", n);
			return -1;
		}
		off += l;
		n++;
	}
	return n;
}
