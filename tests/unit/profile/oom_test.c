/* oom_test.c - allocation failures: profile_add leaves the profile exactly
 * as it was (a half-added stack would corrupt counts for good), and every
 * view fails cleanly with -ENOMEM and no leak.  Linked with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc to fail the Nth call. */
#include "check.h"
#include "flame.h"
#include "folded.h"
#include "hotspot.h"

#include <errno.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

static long fail_in = -1;   /* fail the allocation after this many; -1 never */

static int should_fail(void)
{
	if (fail_in < 0)
		return 0;
	return fail_in-- == 0;
}

void *__wrap_malloc(size_t n) { return should_fail() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t m) { return should_fail() ? NULL : __real_calloc(n, m); }
void *__wrap_realloc(void *p, size_t n) { return should_fail() ? NULL : __real_realloc(p, n); }

static int same(const struct profile *a, uint32_t na, const struct profile *b, uint32_t nb)
{
	const struct prof_node *x = &a->nodes[na], *y = &b->nodes[nb];
	if (x->self != y->self || x->total != y->total || x->kind != y->kind)
		return 0;
	for (uint32_t c = x->first_child; c; c = a->nodes[c].next_sibling) {
		uint32_t d = profile_child(b, nb, profile_node_name(a, c), a->nodes[c].kind);
		if (!d || !same(a, c, b, d))
			return 0;
	}
	return 1;
}

static int equal(const struct profile *a, const struct profile *b)
{
	return a->nnodes == b->nnodes && a->nprocs == b->nprocs &&
	       a->samples == b->samples && same(a, 0, b, 0) && same(b, 0, a, 0);
}

int main(void)
{
	/* fill the first allocation block nearly full so the next stack
	 * must grow nodes, index, strings and processes at once */
	struct profile *base = profile_new();
	char name[128];
	for (int i = 0; base->nnodes < 1015; i++) {
		snprintf(name, sizeof name, "p%d;fn%d;g%d", i % 15, i, i);
		add_stack(base, name, 0, 1);
	}
	char big[4096] = "newproc";
	for (int i = 0; i < 60; i++) {
		snprintf(name, sizeof name, ";a_long_new_function_name_%d", i);
		strcat(big, name);
	}

	int failures_seen = 0;
	for (long k = 0;; k++) {
		struct profile *p = profile_clone(base);
		fail_in = k;
		uint32_t leaf = add_stack(p, big, 3, 7);
		fail_in = -1;
		if (leaf) {
			CHECK(p->nnodes == base->nnodes + 61);
			CHECK(p->nodes[leaf].self == 7 && p->samples == base->samples + 7);
			profile_free(p);
			break;
		}
		failures_seen++;
		CHECK(equal(p, base));
		/* and it is still usable */
		CHECK(add_stack(p, big, 3, 7) != 0);
		profile_free(p);
		if (k > 1000)
			break;
	}
	CHECK(failures_seen >= 3);   /* nodes, index, strings, procs */

	/* clone, views and load fail cleanly (ASan checks for leaks) */
	for (long k = 0; k < 8; k++) {
		fail_in = k;
		struct profile *c = profile_clone(base);
		fail_in = -1;
		profile_free(c);
	}
	for (long k = 0; k < 4; k++) {
		struct flame_layout l = { 0 };
		fail_in = k;
		int rc = flame_layout(base, 0, 200, 0, &l);
		fail_in = -1;
		CHECK(rc == 0 || (rc == -ENOMEM && l.n == 0));
		flame_layout_free(&l);

		struct hot_row *rows = (struct hot_row *)&k;
		fail_in = k;
		long n = hotspot_build(base, 0, &rows);
		fail_in = -1;
		if (n == -ENOMEM)
			CHECK(rows == (struct hot_row *)&k);
		else
			free(rows);

		struct profile *q = profile_new();
		const char *text = "a;b;c 1\nd;e 2\n";
		FILE *f = fmemopen((void *)text, strlen(text), "r");
		fail_in = k;
		int lr = folded_load(q, f, NULL);
		fail_in = -1;
		CHECK(lr == 0 || lr == -ENOMEM);
		fclose(f);
		profile_free(q);
	}
	profile_free(base);
	return check_done("oom_test");
}
