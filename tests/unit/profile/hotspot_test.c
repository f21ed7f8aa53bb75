/* hotspot_test.c - function table: self/total with recursion counted once
 * per stack, subtree restriction, sorting; checked against brute force. */
#include "check.h"
#include "hotspot.h"

static const struct hot_row *find_row(const struct profile *p,
				      const struct hot_row *r, long n,
				      const char *name, int kind)
{
	for (long i = 0; i < n; i++)
		if (r[i].kind == kind && !strcmp(profile_str_get(p, r[i].name), name))
			return &r[i];
	return NULL;
}

static void test_recursion(void)
{
	struct profile *p = profile_new();
	add_stack(p, "sh;main;recurse;recurse;recurse", 0, 3);
	add_stack(p, "sh;main;recurse;leaf", 0, 2);
	add_stack(p, "sh;main;leaf", 0, 1);
	add_stack(p, "sh;main;recurse;recurse;sys_read:k", 0, 4);
	add_stack(p, "cc;main;recurse", 0, 5);
	add_stack(p, "cc;a;b;a;b;a", 0, 7);
	struct hot_row *r = NULL;
	long n = hotspot_build(p, 0, &r);
	CHECK(n == 6);
	const struct hot_row *rec = find_row(p, r, n, "recurse", PK_USER);
	CHECK(rec && rec->self == 8 && rec->total == 14);
	const struct hot_row *m = find_row(p, r, n, "main", PK_USER);
	CHECK(m && m->self == 0 && m->total == 15);
	const struct hot_row *lf = find_row(p, r, n, "leaf", PK_USER);
	CHECK(lf && lf->self == 3 && lf->total == 3);
	const struct hot_row *rd = find_row(p, r, n, "sys_read", PK_KERNEL);
	CHECK(rd && rd->self == 4 && rd->total == 4);
	CHECK_STR(profile_str_get(p, rd->module), "kernel");
	const struct hot_row *a = find_row(p, r, n, "a", PK_USER);
	const struct hot_row *b = find_row(p, r, n, "b", PK_USER);
	CHECK(a && a->total == 7 && a->self == 7);
	CHECK(b && b->total == 7 && b->self == 0);
	CHECK(find_row(p, r, n, "sh", PK_PROC) == NULL);
	uint64_t self = 0;
	for (long i = 0; i < n; i++) {
		self += r[i].self;
		CHECK(r[i].total <= p->samples && r[i].self <= r[i].total);
	}
	CHECK_U64(self, p->samples);

	/* sorting */
	hotspot_sort(p, r, (size_t)n, HOT_SORT_SELF, 0);
	CHECK_STR(profile_str_get(p, r[0].name), "recurse");
	CHECK_STR(profile_str_get(p, r[1].name), "a");
	CHECK(r[n - 1].self == 0);
	hotspot_sort(p, r, (size_t)n, HOT_SORT_TOTAL, 0);
	CHECK_STR(profile_str_get(p, r[0].name), "main");
	CHECK_STR(profile_str_get(p, r[1].name), "recurse");
	hotspot_sort(p, r, (size_t)n, HOT_SORT_NAME, 0);
	CHECK_STR(profile_str_get(p, r[0].name), "a");
	CHECK_STR(profile_str_get(p, r[n - 1].name), "sys_read");
	hotspot_sort(p, r, (size_t)n, HOT_SORT_NAME, 1);
	CHECK_STR(profile_str_get(p, r[0].name), "sys_read");
	hotspot_sort(p, r, (size_t)n, HOT_SORT_MODULE, 0);
	CHECK_STR(profile_str_get(p, r[0].module), "kernel");
	hotspot_sort(p, r, (size_t)n, HOT_SORT_SELF, 1);
	CHECK(r[0].self == 0 && r[n - 1].self == 8);
	free(r);

	/* restricted to a subtree, the subtree root included */
	uint32_t sub = node_at(p, "sh;main;recurse");
	n = hotspot_build(p, sub, &r);
	CHECK(n == 3);
	rec = find_row(p, r, n, "recurse", PK_USER);
	CHECK(rec && rec->self == 3 && rec->total == 9);
	lf = find_row(p, r, n, "leaf", PK_USER);
	CHECK(lf && lf->self == 2 && lf->total == 2);
	CHECK(find_row(p, r, n, "main", PK_USER) == NULL);
	free(r);
	n = hotspot_build(p, node_at(p, "cc"), &r);
	m = find_row(p, r, n, "main", PK_USER);
	CHECK(m && m->total == 5);
	CHECK(find_row(p, r, n, "a", PK_USER) && find_row(p, r, n, "a", PK_USER)->total == 7);
	CHECK(find_row(p, r, n, "leaf", PK_USER) == NULL);
	free(r);

	r = (struct hot_row *)&n;   /* untouched on failure */
	CHECK(hotspot_build(p, p->nnodes, &r) < 0 && r == (struct hot_row *)&n);
	profile_free(p);

	p = profile_new();
	r = NULL;
	CHECK(hotspot_build(p, 0, &r) == 0);
	free(r);
	profile_free(p);
}

/* Random stacks over a tiny alphabet (lots of recursion), compared with
 * counting the stacks one by one. */
#define NF 6
static void test_brute_force(void)
{
	static const char *const names[NF] = { "f", "g", "h", "i", "j", "k" };
	uint64_t seed = 12345;
	for (int iter = 0; iter < 50; iter++) {
		struct profile *p = profile_new();
		uint64_t self[NF][2] = { { 0 } }, total[NF][2] = { { 0 } };
		int nst = 1 + (int)(rnd_next(&seed) % 300);
		for (int s = 0; s < nst; s++) {
			struct prof_frame fr[12];
			int depth = 2 + (int)(rnd_next(&seed) % 10);
			int seen[NF][2] = { { 0 } }, fi = 0, ki = 0;
			fr[0] = (struct prof_frame){ .name = s % 3 ? "a" : "b", .kind = PK_PROC };
			for (int d = 1; d < depth; d++) {
				fi = (int)(rnd_next(&seed) % NF);
				ki = (int)(rnd_next(&seed) % 4 == 0);
				fr[d] = (struct prof_frame){ .name = names[fi],
					.module = ki ? "kernel" : "prog",
					.kind = ki ? PK_KERNEL : PK_USER };
				seen[fi][ki] = 1;
			}
			uint64_t c = 1 + rnd_next(&seed) % 9;
			profile_add(p, fr, (size_t)depth, 0, c);
			self[fi][ki] += c;
			for (int f = 0; f < NF; f++)
				for (int k = 0; k < 2; k++)
					total[f][k] += seen[f][k] ? c : 0;
		}
		struct hot_row *r = NULL;
		long n = hotspot_build(p, 0, &r);
		CHECK(n > 0);
		for (int f = 0; f < NF; f++)
			for (int k = 0; k < 2; k++) {
				const struct hot_row *h = find_row(p, r, n, names[f],
								   k ? PK_KERNEL : PK_USER);
				CHECK_U64(h ? h->self : 0, self[f][k]);
				CHECK_U64(h ? h->total : 0, total[f][k]);
			}
		free(r);
		profile_free(p);
	}
}

int main(void)
{
	test_recursion();
	test_brute_force();
	return check_done("hotspot_test");
}
