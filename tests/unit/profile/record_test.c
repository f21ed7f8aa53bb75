/* Record files: round trip, refusal to overwrite, and clear errors for
 * foreign, truncated and corrupt files (a replay keeps what came before). */
#include "record.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); exit(1); } } while (0)

static uint8_t buf[sizeof(struct qp_sample) + 4096];

static struct qp_sample *make(uint64_t seq, uint32_t stack_len)
{
	struct qp_sample *s = (struct qp_sample *)buf;
	memset(buf, 0, sizeof buf);
	s->seq = seq;
	s->cpu = (uint32_t)(seq % 2);
	s->regs.ip = 0xffffffff80001000ull + seq;
	s->regs.gpr[QP_RSP] = 0xffffffff80100000ull;
	s->stack_addr = s->regs.gpr[QP_RSP];
	s->stack_len = stack_len;
	for (uint32_t i = 0; i < stack_len; i++)
		qp_sample_stack(s)[i] = (uint8_t)(i + seq);
	return s;
}

int main(void)
{
	char dir[] = "/tmp/qtop-rec-XXXXXX", path[256], err[256];
	CHECK(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/a.qrec", dir);

	struct record_writer *w = record_create(path, err, sizeof err);
	CHECK(w);
	for (int i = 0; i < 10; i++)
		CHECK(record_write(w, make((uint64_t)i, 64u * (uint32_t)i)) == 0);
	CHECK(record_written(w) == 10);
	CHECK(record_close(w, err, sizeof err) == 0);

	/* Never overwrites. */
	CHECK(record_create(path, err, sizeof err) == NULL);
	CHECK(strstr(err, "not overwriting"));

	/* Round trip: same samples, same bytes. */
	struct record_reader *r = record_open(path, err, sizeof err);
	const struct qp_sample *s;
	int n = 0;
	CHECK(r);
	while (record_next(r, &s, err, sizeof err) == 1) {
		CHECK(s->seq == (uint64_t)n && s->stack_len == 64u * (uint32_t)n);
		CHECK(s->regs.ip == 0xffffffff80001000ull + (uint64_t)n);
		if (s->stack_len)
			CHECK(qp_sample_stack_c(s)[s->stack_len - 1] == (uint8_t)(s->stack_len - 1 + (uint32_t)n));
		n++;
	}
	CHECK(n == 10);
	record_reader_close(r);

	/* Truncated: the samples before the cut are still readable, then a
	 * clear error. */
	FILE *f = fopen(path, "rb");
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fclose(f);
	CHECK(truncate(path, size - 10) == 0);
	r = record_open(path, err, sizeof err);
	CHECK(r);
	n = 0;
	int rc;
	while ((rc = record_next(r, &s, err, sizeof err)) == 1)
		n++;
	CHECK(rc == -1 && n == 9 && strstr(err, "truncated"));
	record_reader_close(r);

	/* Foreign file and another version. */
	snprintf(path, sizeof path, "%s/b.qrec", dir);
	f = fopen(path, "wb");
	fputs("this is not a record file at all, just text\n", f);
	fclose(f);
	CHECK(record_open(path, err, sizeof err) == NULL && strstr(err, "not a qtop-prof record"));
	f = fopen(path, "wb");
	uint32_t hdr[6] = { 0, 0, 4, 24, (uint32_t)sizeof(struct qp_sample), 0 };
	memcpy(hdr, "QTOPREC", 8);
	fwrite(hdr, sizeof hdr, 1, f);
	fclose(f);
	CHECK(record_open(path, err, sizeof err) == NULL && strstr(err, "version 4"));

	/* Format 1 (no stack0 fields) still reads: its samples come out in
	 * the current layout with no earlier copy. */
	{
		uint32_t v1fixed = (uint32_t)offsetof(struct qp_sample, stack0_addr);
		uint8_t fixed[sizeof(struct qp_sample)] = { 0 };
		struct qp_sample *q = (struct qp_sample *)fixed;
		uint8_t stk[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
		q->seq = 7;
		q->stack_len = sizeof stk;
		uint32_t len = v1fixed + (uint32_t)sizeof stk;
		f = fopen(path, "wb");
		uint32_t h1[6] = { 0, 0, 1, 24, v1fixed, 0 };
		memcpy(h1, "QTOPREC", 8);
		fwrite(h1, sizeof h1, 1, f);
		fwrite(&len, 4, 1, f);
		fwrite(fixed, v1fixed, 1, f);
		fwrite(stk, sizeof stk, 1, f);
		fclose(f);
		r = record_open(path, err, sizeof err);
		CHECK(r != NULL);
		CHECK(record_next(r, &s, err, sizeof err) == 1 && s->seq == 7 &&
		      s->stack_len == 16 && s->stack0_len == 0 &&
		      qp_sample_size(s) == sizeof(struct qp_sample) + 16 &&
		      qp_sample_stack_c(s)[15] == 16);
		CHECK(record_next(r, &s, err, sizeof err) == 0);
		record_reader_close(r);
	}
	/* Format 2 (no pid, #15) still reads: no id, an earlier copy kept. */
	{
		uint32_t v2fixed = (uint32_t)offsetof(struct qp_sample, pid);
		uint8_t fixed[sizeof(struct qp_sample)] = { 0 };
		struct qp_sample *q = (struct qp_sample *)fixed;
		uint8_t stk[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
		q->seq = 9;
		q->flags = QP_SF_HAS_COMM;
		q->stack0_len = sizeof stk;
		uint32_t len = v2fixed + (uint32_t)sizeof stk;
		f = fopen(path, "wb");
		uint32_t h2[6] = { 0, 0, 2, 24, v2fixed, 0 };
		memcpy(h2, "QTOPREC", 8);
		fwrite(h2, sizeof h2, 1, f);
		fwrite(&len, 4, 1, f);
		fwrite(fixed, v2fixed, 1, f);
		fwrite(stk, sizeof stk, 1, f);
		fclose(f);
		r = record_open(path, err, sizeof err);
		CHECK(r != NULL);
		CHECK(record_next(r, &s, err, sizeof err) == 1 && s->seq == 9 &&
		      s->stack0_len == 8 && s->pid == 0 &&
		      !(s->flags & QP_SF_HAS_PID) && qp_sample_stack0(s)[7] == 8);
		CHECK(record_next(r, &s, err, sizeof err) == 0);
		record_reader_close(r);
	}
	CHECK(record_parse_buffer((const uint8_t *)"QTOP", 4, err, sizeof err) == -1);

	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
	puts("record: ok");
	return 0;
}
