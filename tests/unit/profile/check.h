/* check.h - tiny assertion helpers shared by the profile-area unit tests. */
#ifndef QTOP_TEST_CHECK_H
#define QTOP_TEST_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"

static int check_failures;

#define CHECK(c) do { if (!(c)) { check_failures++; \
	fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); } } while (0)
#define CHECK_U64(a, b) do { uint64_t a_ = (a), b_ = (b); if (a_ != b_) { \
	check_failures++; fprintf(stderr, "%s:%d: %s == %" PRIu64 ", expected %s == %" PRIu64 "\n", \
	__FILE__, __LINE__, #a, a_, #b, b_); } } while (0)
#define CHECK_STR(a, b) do { const char *a_ = (a), *b_ = (b); if (strcmp(a_, b_)) { \
	check_failures++; fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", \
	__FILE__, __LINE__, #a, a_, b_); } } while (0)

static inline int check_done(const char *name)
{
	if (check_failures)
		fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
	else
		printf("%s: ok\n", name);
	return check_failures ? 1 : 0;
}

/* Add a stack written "proc;main;f;sys_read:k;inl:i;[unknown]:m".
 * Suffix :k kernel, :i inline user, :m mark; the first frame is the process. */
static inline uint32_t add_stack(struct profile *p, const char *spec,
				 uint32_t cpu, uint64_t count)
{
	char buf[4096];
	struct prof_frame fr[256];
	size_t n = 0;
	snprintf(buf, sizeof buf, "%s", spec);
	for (char *save = NULL, *t = strtok_r(buf, ";", &save); t && n < 256;
	     t = strtok_r(NULL, ";", &save)) {
		struct prof_frame f = { .name = t, .module = "prog", .kind = PK_USER };
		size_t l = strlen(t);
		if (l > 2 && t[l - 2] == ':') {
			char c = t[l - 1];
			t[l - 2] = '\0';
			if (c == 'k') { f.kind = PK_KERNEL; f.module = "kernel"; }
			if (c == 'i') f.flags = PF_INLINE;
			if (c == 'm') { f.kind = PK_MARK; f.module = NULL; }
		}
		if (n == 0) { f.kind = PK_PROC; f.module = NULL; }
		fr[n++] = f;
	}
	return profile_add(p, fr, n, cpu, count);
}

/* Node at a ';'-separated path of names, or 0. */
static inline uint32_t node_at(const struct profile *p, const char *path)
{
	char buf[4096];
	const char *names[256];
	size_t n = 0;
	snprintf(buf, sizeof buf, "%s", path);
	for (char *save = NULL, *t = strtok_r(buf, ";", &save); t && n < 256;
	     t = strtok_r(NULL, ";", &save))
		names[n++] = t;
	return profile_lookup_path(p, names, n);
}

/* Deterministic PRNG (xorshift64*) for property tests. */
static inline uint64_t rnd_next(uint64_t *s)
{
	*s ^= *s >> 12; *s ^= *s << 25; *s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

#endif
