/* export_unit_test - format choice by name, and pprof / speedscope round
 * trips of stacks with inline, kernel and mark frames (aggregated export). */
#include <errno.h>

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
	return check_done("export_unit_test");
}
