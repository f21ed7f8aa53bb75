/* export_unit_test - format choice by name, and pprof / speedscope round
 * trips of stacks with inline, kernel and mark frames (aggregated export). */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "export.h"
#include "folded.h"

static char *text_of(const struct profile *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	folded_write(p, 0, 0, f);
	fclose(f);
	return buf;
}

static void roundtrip(int fmt)
{
	struct profile *p = profile_new(), *q = profile_new();
	add_stack(p, "sh;main;inl:i;f;sys_read:k;kinl:k", 0, 3);
	add_stack(p, "sh;main;spin", 1, 5);
	add_stack(p, "idle;[idle]:m", 0, 2);
	add_stack(p, "odd name;a b;c\"q\\", 0, 1);
	/* a kernel inline frame: kind kernel + PF_INLINE */
	struct prof_frame kf[] = { { .name = "sh", .kind = PK_PROC },
		{ .name = "entry", .module = "kernel", .kind = PK_KERNEL },
		{ .name = "helper", .module = "kernel", .kind = PK_KERNEL, .flags = PF_INLINE } };
	profile_add(p, kf, 3, 0, 4);
	char *buf = NULL, err[256];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct export_input in = { .p = p, .period_ns = 1e6 };
	CHECK(export_write(fmt, &in, f, err, sizeof err) >= 0);
	fclose(f);
	long n = fmt == EXPORT_PPROF ? import_pprof(q, buf, len, err, sizeof err)
				     : import_speedscope(q, buf, len, err, sizeof err);
	CHECK_U64((uint64_t)n, p->samples);
	char *a = text_of(p), *b = text_of(q);
	CHECK_STR(b, a);
	free(a);
	free(b);
	free(buf);
	profile_free(p);
	profile_free(q);
}

/* A pprof without a count value (as Go's CPU profiles without samples/count):
 * cpu/nanoseconds per sample, period 10 ms in the same unit.  30 ms on one
 * stack is 3 samples, not 30,000,000; and one entry of more than 2^32
 * samples is refused with a reason (a sample log entry's weight). */
static const unsigned char pprof_ns[] = {
	0x0a, 0x04, 0x08, 0x01, 0x10, 0x02,             /* sample_type cpu/ns */
	0x12, 0x09, 0x0a, 0x01, 0x01,                   /* sample: location 1 */
	0x12, 0x04, 0x80, 0x87, 0xa7, 0x0e,             /*   value 30000000 */
	0x22, 0x06, 0x08, 0x01, 0x22, 0x02, 0x08, 0x01, /* location 1: fn 1 */
	0x2a, 0x04, 0x08, 0x01, 0x10, 0x03,             /* function 1: "f" */
	0x32, 0x00, 0x32, 0x03, 'c', 'p', 'u',          /* string table */
	0x32, 0x0b, 'n', 'a', 'n', 'o', 's', 'e', 'c', 'o', 'n', 'd', 's',
	0x32, 0x01, 'f',
	0x5a, 0x04, 0x08, 0x01, 0x10, 0x02,             /* period_type cpu/ns */
	0x60, 0x80, 0xad, 0xe2, 0x04,                   /* period 10000000 */
};

static void pprof_time_values(void)
{
	char err[128];
	struct profile *p = profile_new();
	CHECK(import_pprof(p, pprof_ns, sizeof pprof_ns, err, sizeof err) == 3);
	CHECK_U64(p->samples, 3);
	profile_free(p);
	/* a value of 2^56 ns (varint 80 x8, 01) is 7.2e9 periods: refused */
	unsigned char big[sizeof pprof_ns + 5];
	memcpy(big, pprof_ns, 11);
	const unsigned char v[] = { 0x12, 0x09, 0x80, 0x80, 0x80, 0x80, 0x80,
				    0x80, 0x80, 0x80, 0x01 };
	big[7] = 0x0e;  /* the sample is five bytes longer */
	memcpy(big + 11, v, sizeof v);
	memcpy(big + 22, pprof_ns + 17, sizeof pprof_ns - 17);
	p = profile_new();
	err[0] = '\0';
	CHECK(import_pprof(p, big, sizeof big, err, sizeof err) == -EINVAL);
	CHECK(strstr(err, "2^32") != NULL);
	profile_free(p);
}

int main(void)
{
	CHECK(export_format_from_path("x.folded") == EXPORT_FOLDED);
	CHECK(export_format_from_path("x.txt") == EXPORT_FOLDED);
	CHECK(export_format_from_path("dir.pprof/x.pb.gz") == EXPORT_PPROF);
	CHECK(export_format_from_path("x.PPROF") == EXPORT_PPROF);
	CHECK(export_format_from_path("x.speedscope.json") == EXPORT_SPEEDSCOPE);
	CHECK(export_format_from_path("x.json") == EXPORT_JSON);
	CHECK(export_format_from_path("x.perf") == EXPORT_PERF);
	CHECK(export_format_from_path("x.script") == EXPORT_PERF);
	CHECK(export_format_from_path("x.perf-script") == EXPORT_PERF);
	CHECK(export_format_from_path("x.svg") == EXPORT_UNKNOWN);
	CHECK(export_format_from_path(".folded") == EXPORT_UNKNOWN);
	CHECK(export_format_parse("perf-script") == EXPORT_PERF);
	CHECK(export_format_parse("json") == EXPORT_JSON);
	CHECK(export_format_parse("svg") == EXPORT_UNKNOWN);
	CHECK(export_detect("\x1f\x8b", 2) == EXPORT_PPROF);
	CHECK(export_detect("  {\"a\":1}", 9) == EXPORT_SPEEDSCOPE);
	CHECK(export_detect("a;b 1\n", 6) == EXPORT_FOLDED);
	roundtrip(EXPORT_PPROF);
	roundtrip(EXPORT_SPEEDSCOPE);
	char err[128];
	struct profile *p = profile_new();
	CHECK(import_pprof(p, "\x1f\x8bxx", 4, err, sizeof err) < 0 && err[0]);
	CHECK(import_speedscope(p, "{}", 2, err, sizeof err) == -EINVAL && err[0]);
	CHECK(import_speedscope(p, "[1,", 3, err, sizeof err) == -EINVAL && err[0]);
	profile_free(p);
	pprof_time_values();
	return check_done("export_unit_test");
}
