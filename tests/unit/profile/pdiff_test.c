/* pdiff_test.c - deltas between two profiles, checked exactly on
 * hand-made folded files of known difference (tests/data/diff/README.md):
 * normalized and not, appearing and vanishing functions, identical inputs,
 * scopes, node matching by path (kinds included), the two-column folded. */
#include "check.h"
#include "flame.h"
#include "folded.h"
#include "pdiff.h"

#include <errno.h>
#include <math.h>

static char dir[4096];

#define CHECK_PP(a, b) do { double a_ = (a), b_ = (b); if (fabs(a_ - b_) > 1e-9) { \
	check_failures++; fprintf(stderr, "%s:%d: %s == %.12g, expected %.12g\n", \
	__FILE__, __LINE__, #a, a_, b_); } } while (0)

static struct profile *load(const char *name)
{
	char path[4200], err[256];
	struct folded_diag d;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	struct profile *p = profile_new();
	if (!p || folded_load_path(p, path, &d, err, sizeof err) != 0) {
		fprintf(stderr, "cannot load %s: %s\n", path, err);
		exit(1);
	}
	return p;
}

static const struct pdiff_row *row(const struct profile *b,
				   const struct profile *a,
				   const struct pdiff_row *rows, long n,
				   const char *name)
{
	for (long i = 0; i < n; i++)
		if (!strcmp(profile_str_get(pdiff_row_profile(b, a, &rows[i]),
					    rows[i].name), name))
			return &rows[i];
	fprintf(stderr, "no row %s\n", name);
	check_failures++;
	static const struct pdiff_row none;
	return &none;
}

static void test_table_normalized(void)
{
	struct profile *b = load("before.folded"), *a = load("after.folded");
	struct pdiff_row *rows = NULL;
	long n = pdiff_table(b, 0, a, 0, 1, &rows);
	/* matmul sys_write parse old_fn new_fn query main compute io write */
	CHECK(n == 10);
	const struct pdiff_row *r = row(b, a, rows, n, "matmul");
	CHECK(r->state == PD_BOTH);
	CHECK_U64(r->self_b, 50);
	CHECK_U64(r->self_a, 60);
	CHECK_PP(r->self_pb, 50);
	CHECK_PP(r->self_pa, 30);
	CHECK_PP(r->dself, -20);
	CHECK_PP(r->dtotal, -20);
	r = row(b, a, rows, n, "sys_write");
	CHECK(r->kind == PK_KERNEL);
	CHECK_PP(r->dself, 20);
	CHECK_PP(r->self_pa, 40);
	r = row(b, a, rows, n, "parse");
	CHECK(r->dself == 0.0 && r->dtotal == 0.0);
	r = row(b, a, rows, n, "new_fn");
	CHECK(r->state == PD_NEW);
	CHECK_U64(r->self_b, 0);
	CHECK_PP(r->self_pb, 0);
	CHECK_PP(r->dself, 10);
	CHECK_STR(pdiff_state_mark(r->state), "+new");
	r = row(b, a, rows, n, "old_fn");
	CHECK(r->state == PD_GONE);
	CHECK_U64(r->self_a, 0);
	CHECK_PP(r->dself, -10);
	CHECK_PP(r->dtotal, -10);
	CHECK_STR(pdiff_state_mark(r->state), "-gone");
	r = row(b, a, rows, n, "main");    /* app's and db's: every stack */
	CHECK_PP(r->total_pb, 100);
	CHECK_PP(r->total_pa, 100);
	CHECK(r->dtotal == 0.0);
	r = row(b, a, rows, n, "io");
	CHECK_PP(r->dtotal, 20);
	CHECK_PP(r->dself, 0);
	/* shares of each side add up to 100 % */
	double sb = 0, sa = 0, sd = 0;
	for (long i = 0; i < n; i++)
		sb += rows[i].self_pb, sa += rows[i].self_pa, sd += rows[i].dself;
	CHECK_PP(sb, 100);
	CHECK_PP(sa, 100);
	CHECK_PP(sd, 0);

	/* sorted by |delta self|: matmul and sys_write (20), then new_fn
	 * and old_fn (10) by name, then the zeros */
	pdiff_sort_rows(b, a, rows, (size_t)n, PD_SORT_DSELF, 0);
	const char *want[] = { "matmul", "sys_write", "new_fn", "old_fn" };
	/* matmul and sys_write tie on |self| and |total| (20): by name */
	for (int i = 0; i < 4; i++)
		CHECK_STR(profile_str_get(pdiff_row_profile(b, a, &rows[i]),
					  rows[i].name), want[i]);
	pdiff_sort_rows(b, a, rows, (size_t)n, PD_SORT_DSELF, 1);
	CHECK(rows[0].dself == 0.0);
	pdiff_sort_rows(b, a, rows, (size_t)n, PD_SORT_NAME, 0);
	CHECK_STR(profile_str_get(a, rows[0].name), "compute");
	free(rows);
	profile_free(a);
	profile_free(b);
}

static void test_table_not_normalized(void)
{
	struct profile *b = load("before.folded"), *a = load("after.folded");
	struct pdiff_row *rows = NULL;
	long n = pdiff_table(b, 0, a, 0, 0, &rows);
	CHECK(n == 10);
	/* both sides over BEFORE's 100 samples */
	const struct pdiff_row *r = row(b, a, rows, n, "matmul");
	CHECK_PP(r->self_pa, 60);
	CHECK_PP(r->dself, 10);
	CHECK_PP(row(b, a, rows, n, "sys_write")->dself, 60);
	CHECK_PP(row(b, a, rows, n, "parse")->dself, 10);
	CHECK_PP(row(b, a, rows, n, "new_fn")->dself, 20);
	CHECK_PP(row(b, a, rows, n, "old_fn")->dself, -10);
	CHECK_PP(row(b, a, rows, n, "query")->dself, 10);
	CHECK_PP(row(b, a, rows, n, "main")->dtotal, 100);
	free(rows);
	profile_free(a);
	profile_free(b);
}

static void test_identical(void)
{
	struct profile *b = load("after.folded"), *a = load("after.folded");
	struct pdiff_row *rows = NULL;
	for (int norm = 0; norm < 2; norm++) {
		long n = pdiff_table(b, 0, a, 0, norm, &rows);
		CHECK(n == 9);
		for (long i = 0; i < n; i++) {
			CHECK(rows[i].state == PD_BOTH);
			CHECK(rows[i].dself == 0.0 && rows[i].dtotal == 0.0);
		}
		free(rows);
	}
	profile_free(a);
	profile_free(b);
}

static void test_scope(void)
{
	struct profile *b = load("before.folded"), *a = load("after.folded");
	struct pdiff_row *rows = NULL;
	uint32_t db_a = node_at(a, "db"), db_b = node_at(b, "db");
	CHECK(db_a && db_b);
	long n = pdiff_table(b, db_b, a, db_a, 1, &rows);
	CHECK(n == 2);     /* main, query */
	const struct pdiff_row *r = row(b, a, rows, n, "query");
	CHECK_PP(r->self_pb, 100);
	CHECK_PP(r->self_pa, 100);
	CHECK(r->dself == 0.0);
	free(rows);
	/* a scope BEFORE does not have: everything is new */
	n = pdiff_table(b, PDIFF_NONE, a, db_a, 1, &rows);
	CHECK(n == 2);
	for (long i = 0; i < n; i++)
		CHECK(rows[i].state == PD_NEW && rows[i].self_pb == 0.0);
	free(rows);
	CHECK(pdiff_table(b, 0, a, a->nnodes, 1, &rows) == -EINVAL);
	profile_free(a);
	profile_free(b);
}

static void test_nodes(void)
{
	struct profile *b = load("before.folded"), *a = load("after.folded");
	uint32_t m = node_at(a, "app;main;compute;matmul");
	CHECK(pdiff_counterpart(a, m, b) == node_at(b, "app;main;compute;matmul"));
	CHECK(pdiff_counterpart(a, node_at(a, "app;main;new_fn"), b) == PDIFF_NONE);
	CHECK(pdiff_counterpart(b, node_at(b, "app;main;old_fn"), a) == PDIFF_NONE);
	CHECK(pdiff_counterpart(a, 0, b) == 0);
	/* node deltas: share of the whole profile */
	struct pdiff_scale sc;
	pdiff_scale_init(&sc, b->samples, a->samples, 1);
	uint32_t cb = node_at(b, "app;main;io"), ca = node_at(a, "app;main;io");
	CHECK_PP(pdiff_delta(&sc, b->nodes[cb].total, a->nodes[ca].total), 20);
	pdiff_scale_init(&sc, b->samples, a->samples, 0);
	CHECK_PP(pdiff_delta(&sc, b->nodes[cb].total, a->nodes[ca].total), 60);

	/* kinds are part of the path: a kernel "read" is not a user "read" */
	struct profile *u = profile_new(), *k = profile_new();
	add_stack(u, "sh;main;read", 0, 5);
	add_stack(k, "sh;main;read:k", 0, 5);
	uint32_t ur = profile_lookup_path_kinds(u, (const char *[]){ "sh", "main", "read" },
						(const uint8_t[]){ PK_PROC, PK_USER, PK_USER }, 3);
	CHECK(ur != 0);
	CHECK(pdiff_counterpart(u, ur, k) == PDIFF_NONE);
	CHECK(pdiff_counterpart(u, node_at(u, "sh;main"), k) == node_at(k, "sh;main"));
	profile_free(u);
	profile_free(k);

	/* boxes of a layout map like whole-path lookups */
	struct flame_layout l = { 0 };
	CHECK(flame_layout(a, 0, 100, 0, &l) == 0);
	uint32_t *map = malloc(l.n * sizeof *map);
	CHECK(pdiff_map_boxes(a, &l, b, map) == 0);
	int news = 0;
	for (size_t i = 0; i < l.n; i++) {
		CHECK(map[i] == pdiff_counterpart(a, l.boxes[i].node, b));
		news += map[i] == PDIFF_NONE;
	}
	CHECK(news == 1);       /* new_fn */
	/* zoomed, and with a box dropped from the middle */
	CHECK(flame_layout(a, node_at(a, "app;main"), 50, 0, &l) == 0);
	for (size_t i = 1; i + 1 < l.n; i++)
		if (l.boxes[i].depth == 1) {
			memmove(&l.boxes[i], &l.boxes[i + 1], (l.n - i - 1) * sizeof l.boxes[0]);
			l.n--;
			break;
		}
	CHECK(pdiff_map_boxes(a, &l, b, map) == 0);
	for (size_t i = 0; i < l.n; i++)
		CHECK(map[i] == pdiff_counterpart(a, l.boxes[i].node, b));
	free(map);
	flame_layout_free(&l);
	profile_free(a);
	profile_free(b);
}

static char *write_diff(const struct profile *b, uint32_t ub,
			const struct profile *a, uint32_t ua, int norm, long *lines)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	*lines = pdiff_write_folded(b, ub, a, ua, norm, f);
	fclose(f);
	return buf;
}

static void test_two_column(void)
{
	struct profile *b = load("before.folded"), *a = load("after.folded");
	long lines;
	char *s = write_diff(b, 0, a, 0, 0, &lines);
	CHECK(lines == 6);
	CHECK_STR(s, "app;main;compute;matmul 50 60\n"
		     "app;main;io;write;sys_write_[k] 20 80\n"
		     "app;main;new_fn 0 20\n"
		     "app;main;parse 10 20\n"
		     "db;main;query 10 20\n"
		     "app;main;old_fn 10 0\n");
	free(s);
	/* normalized: BEFORE scaled to AFTER's 200 samples */
	s = write_diff(b, 0, a, 0, 1, &lines);
	CHECK(lines == 6);
	CHECK_STR(s, "app;main;compute;matmul 100 60\n"
		     "app;main;io;write;sys_write_[k] 40 80\n"
		     "app;main;new_fn 0 20\n"
		     "app;main;parse 20 20\n"
		     "db;main;query 20 20\n"
		     "app;main;old_fn 20 0\n");
	free(s);
	/* a scope: db only */
	s = write_diff(b, node_at(b, "db"), a, node_at(a, "db"), 0, &lines);
	CHECK_STR(s, "db;main;query 10 20\n");
	free(s);
	s = write_diff(b, PDIFF_NONE, a, node_at(a, "db"), 0, &lines);
	CHECK_STR(s, "db;main;query 0 20\n");
	free(s);
	/* what flamegraph.pl reads back: each column sums to its total */
	struct profile *c = load("after.folded");
	s = write_diff(c, 0, a, 0, 1, &lines);
	uint64_t cb = 0, ca = 0;
	char *save = NULL;
	for (char *l = strtok_r(s, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *sp2 = strrchr(l, ' ');
		*sp2 = '\0';
		char *sp1 = strrchr(l, ' ');
		uint64_t x = strtoull(sp1 + 1, NULL, 10), y = strtoull(sp2 + 1, NULL, 10);
		CHECK_U64(x, y);    /* identical: equal columns */
		cb += x, ca += y;
	}
	CHECK_U64(cb, 200);
	CHECK_U64(ca, 200);
	free(s);
	profile_free(c);
	profile_free(a);
	profile_free(b);
}

int main(int argc, char **argv)
{
	snprintf(dir, sizeof dir, "%s", argc > 1 ? argv[1] : "tests/data/diff");
	test_table_normalized();
	test_table_not_normalized();
	test_identical();
	test_scope();
	test_nodes();
	test_two_column();
	return check_done("pdiff_test");
}
