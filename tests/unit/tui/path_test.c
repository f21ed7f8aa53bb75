/* path_test.c - zoom and selection are kept as name paths: after the node
 * indices move (decay, freeze clone, reset) the same frame is found again,
 * and a frame that is gone falls back to its deepest surviving ancestor. */
#include <stdio.h>
#include <string.h>

#include "tui_view.h"

static int failures;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: CHECK(%s) failed\n", \
	__FILE__, __LINE__, #c); failures++; } } while (0)

static uint32_t add(struct profile *p, const char *a, const char *b,
		    const char *c, uint64_t n)
{
	struct prof_frame f[3] = {
		{ a, NULL, NULL, PK_PROC, 0, 0 },
		{ b, "prog", NULL, PK_USER, 0, 0 },
		{ c, "prog", NULL, PK_USER, 0, 0 },
	};
	return profile_add(p, f, 3, 0, n);
}

int main(void)
{
	struct profile *p = profile_new();
	CHECK(p != NULL);
	if (!p)
		return 1;
	add(p, "app", "main", "rare", 1);
	uint32_t hot = add(p, "app", "main", "hot", 100);
	add(p, "db", "main", "query", 50);

	struct tpath tp = {0}, copy = {0};
	int exact = 0;
	tpath_set(&tp, p, hot);
	CHECK(tp.n == 3 && !strcmp(tp.names[0], "app") && !strcmp(tp.names[2], "hot"));
	CHECK(tpath_resolve(&tp, p, &exact) == hot && exact);

	/* a clone (freeze) has the same paths */
	struct profile *c = profile_clone(p);
	CHECK(c && !strcmp(profile_node_name(c, tpath_resolve(&tp, c, &exact)), "hot") && exact);

	/* decay drops "rare" and moves indices: "hot" is found by name */
	struct tpath rare = {0};
	tpath_set(&rare, p, profile_lookup_path(p, (const char *[]){"app", "main", "rare"}, 3));
	profile_decay(p, 0.5);
	uint32_t h2 = tpath_resolve(&tp, p, &exact);
	CHECK(exact && !strcmp(profile_node_name(p, h2), "hot") && p->nodes[h2].total == 50);
	uint32_t r2 = tpath_resolve(&rare, p, &exact);
	CHECK(!exact && !strcmp(profile_node_name(p, r2), "main"));

	/* the empty path is the root; copies are independent */
	struct tpath none = {0};
	CHECK(tpath_resolve(&none, p, &exact) == 0 && exact);
	tpath_copy(&copy, &tp);
	tpath_clear(&tp);
	CHECK(copy.n == 3 && !strcmp(copy.names[2], "hot") && tp.n == 0);

	/* after a reset nothing of the path is left: the root */
	profile_reset(p);
	CHECK(tpath_resolve(&copy, p, &exact) == 0 && !exact);

	tpath_clear(&copy);
	tpath_clear(&rare);
	profile_free(c);
	profile_free(p);
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
