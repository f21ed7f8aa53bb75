/* check.h - minimal assertions for the qmp/regs tests: report and go on, exit
 * status 1 if anything failed. */
#ifndef QTOP_TEST_CHECK_H
#define QTOP_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;

#define CHECK(c) do { if (!(c)) { check_failures++; \
	fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); } } while (0)
#define CHECK_EQ(a, b) do { unsigned long long _a = (unsigned long long)(a), _b = (unsigned long long)(b); \
	if (_a != _b) { check_failures++; fprintf(stderr, "%s:%d: %s == %s failed: 0x%llx != 0x%llx\n", \
	__FILE__, __LINE__, #a, #b, _a, _b); } } while (0)
#define CHECK_RC(a, b) do { long _a = (long)(a), _b = (long)(b); \
	if (_a != _b) { check_failures++; fprintf(stderr, "%s:%d: %s == %s failed: %ld != %ld\n", \
	__FILE__, __LINE__, #a, #b, _a, _b); } } while (0)

/* Reads a whole file (NUL-terminated); exits on failure. */
static inline char *slurp(const char *dir, const char *name, size_t *len)
{
	char path[4096];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (!f) {
		perror(path);
		exit(2);
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
		exit(2);
	buf[n] = 0;
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

static inline int check_done(const char *name)
{
	if (check_failures)
		fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
	return check_failures ? 1 : 0;
}

#endif
