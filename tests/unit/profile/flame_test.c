/* flame_test.c - flamegraph layout: exact tiling (property test over random
 * trees), stable order, zoom, depth limit, hit testing, colour hash. */
#include "check.h"
#include "flame.h"

#include <math.h>

static const char *const fnames[] = { "main", "run", "parse", "eval", "read",
	"write", "alloc", "free", "hash", "sort", "memcpy", "sys_read" };

static struct profile *random_profile(uint64_t *seed, int nstacks)
{
	struct profile *p = profile_new();
	struct prof_frame fr[16];
	for (int s = 0; s < nstacks; s++) {
		int depth = 1 + (int)(rnd_next(seed) % 14);
		fr[0] = (struct prof_frame){ .name = (rnd_next(seed) & 1) ? "sh" : "cc",
					     .kind = PK_PROC };
		for (int d = 1; d < depth; d++) {
			fr[d] = (struct prof_frame){
				.name = fnames[rnd_next(seed) % 12],
				.kind = (rnd_next(seed) % 5) ? PK_USER : PK_KERNEL };
		}
		/* mix tiny and huge counts: rounding and overflow both matter */
		uint64_t count = rnd_next(seed) % 4 ? 1 + rnd_next(seed) % 50
						    : rnd_next(seed) % 1000000000000ULL + 1;
		profile_add(p, fr, (size_t)depth, 0, count);
	}
	return p;
}

/* Check one layout against the tree it came from. */
static void check_layout(const struct profile *p, uint32_t zoom, int w,
			 int maxd, const struct flame_layout *l)
{
	uint64_t r = p->nodes[zoom].total;
	CHECK(l->n >= 1);
	if (l->n < 1)
		return;
	CHECK(l->boxes[0].node == zoom && l->boxes[0].depth == 0);
	CHECK(l->boxes[0].x0 == 0 && l->boxes[0].x1 == w);
	for (size_t i = 1; i < l->n; i++) {
		const struct flame_box *b = &l->boxes[i], *a = &l->boxes[i - 1];
		CHECK(b->x1 > b->x0);
		CHECK(b->depth > 0 && (maxd <= 0 || b->depth < maxd));
		/* sorted by depth then x0, no overlap within a row */
		CHECK(a->depth < b->depth || (a->depth == b->depth && a->x1 <= b->x0));
		/* width follows the samples to within rounding */
		double ideal = (double)w * (double)p->nodes[b->node].total / (double)r;
		CHECK(fabs((double)(b->x1 - b->x0) - ideal) < 1.0 + 1e-9);
	}
	/* children tile the parent: contiguous from its x0, inside it, and
	 * up to its x1 when it has no self samples */
	for (size_t i = 0; i < l->n; i++) {
		const struct flame_box *pb = &l->boxes[i];
		int x = pb->x0, nkids = 0;
		for (size_t j = 0; j < l->n; j++) {
			const struct flame_box *c = &l->boxes[j];
			if (c->depth != pb->depth + 1 || p->nodes[c->node].parent != pb->node)
				continue;
			CHECK(c->x0 == x);
			x = c->x1;
			nkids++;
		}
		CHECK(x <= pb->x1);
		int deeper = maxd <= 0 || pb->depth + 1 < maxd;
		if (deeper && p->nodes[pb->node].self == 0 && p->nodes[pb->node].first_child)
			CHECK(x == pb->x1);
		(void)nkids;
	}
	/* every node worth a column is there, and only once */
	for (uint32_t n = 1; n < p->nnodes; n++) {
		uint32_t a = n;
		int d = 0;
		while (a != zoom && a != 0) {
			a = p->nodes[a].parent;
			d++;
		}
		if (a != zoom || (maxd > 0 && d >= maxd))
			continue;
		int found = 0;
		for (size_t j = 0; j < l->n; j++)
			found += l->boxes[j].node == n;
		CHECK(found <= 1);
		if ((double)w * (double)p->nodes[n].total / (double)r >= 1.0)
			CHECK(found == 1);
	}
	/* hit testing agrees with the boxes */
	for (size_t i = 0; i < l->n; i++) {
		const struct flame_box *b = &l->boxes[i];
		CHECK(flame_box_at(l, b->depth, b->x0) == (long)i);
		CHECK(flame_box_at(l, b->depth, b->x1 - 1) == (long)i);
	}
	CHECK(flame_box_at(l, 0, w) == -1);
	CHECK(flame_box_at(l, l->max_depth + 1, 0) == -1);
	CHECK(flame_box_at(l, -1, 0) == -1);
}

static void test_property(void)
{
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	struct flame_layout l = { 0 };
	for (int iter = 0; iter < 300; iter++) {
		struct profile *p = random_profile(&seed, 1 + (int)(rnd_next(&seed) % 200));
		int w = 1 + (int)(rnd_next(&seed) % 300);
		int maxd = (int)(rnd_next(&seed) % 4) == 0 ? 1 + (int)(rnd_next(&seed) % 6) : 0;
		uint32_t zoom = iter % 3 ? 0 : (uint32_t)(rnd_next(&seed) % p->nnodes);
		CHECK(flame_layout(p, zoom, w, maxd, &l) == 0);
		check_layout(p, zoom, w, maxd, &l);
		profile_free(p);
	}
	flame_layout_free(&l);
	flame_layout_free(&l);
	flame_layout_free(NULL);
}

static void test_order_zoom_depth(void)
{
	struct profile *p = profile_new();
	add_stack(p, "sh;main;zeta", 0, 10);
	add_stack(p, "sh;main;alpha", 0, 10);
	add_stack(p, "sh;main;mid;deep;deeper", 0, 20);
	struct flame_layout l = { 0 };
	CHECK(flame_layout(p, 0, 80, 0, &l) == 0);
	/* depth 3 (below main): alpha, mid, zeta left to right by name */
	long a = flame_box_at(&l, 3, 0);
	CHECK(a >= 0 && l.boxes[a].x0 == 0 && l.boxes[a].x1 == 20);
	CHECK_STR(profile_node_name(p, l.boxes[a].node), "alpha");
	long m = flame_box_at(&l, 3, 20), z = flame_box_at(&l, 3, 79);
	CHECK(m >= 0 && l.boxes[m].x1 == 60);
	CHECK_STR(profile_node_name(p, l.boxes[m].node), "mid");
	CHECK_STR(profile_node_name(p, l.boxes[z].node), "zeta");
	CHECK(l.max_depth == 5);
	/* the picture does not jump when a later sibling grows */
	add_stack(p, "sh;main;zeta", 0, 1000);
	CHECK(flame_layout(p, 0, 80, 0, &l) == 0);
	CHECK_STR(profile_node_name(p, l.boxes[flame_box_at(&l, 3, 0)].node), "alpha");
	/* zoom: the zoom node spans the width at depth 0 */
	uint32_t mid = node_at(p, "sh;main;mid");
	CHECK(flame_layout(p, mid, 40, 0, &l) == 0);
	CHECK(l.n == 3 && l.boxes[0].node == mid && l.boxes[0].x1 == 40);
	CHECK(l.boxes[2].depth == 2 && l.boxes[2].x1 == 40);
	/* depth limit */
	CHECK(flame_layout(p, 0, 80, 2, &l) == 0);
	CHECK(l.max_depth == 1);
	for (size_t i = 0; i < l.n; i++)
		CHECK(l.boxes[i].depth < 2);
	/* a parent's own samples leave a gap at its right end */
	add_stack(p, "cc;main", 0, 500);
	add_stack(p, "cc;main;f", 0, 500);
	uint32_t cc = node_at(p, "cc;main");
	CHECK(flame_layout(p, cc, 10, 0, &l) == 0);
	CHECK(l.n == 2 && l.boxes[1].x0 == 0 && l.boxes[1].x1 == 5);
	/* frames too thin for a column are skipped, not drawn 0 wide */
	add_stack(p, "cc;main;thin", 0, 1);
	CHECK(flame_layout(p, 0, 10, 0, &l) == 0);
	for (size_t i = 0; i < l.n; i++)
		CHECK(strcmp(profile_node_name(p, l.boxes[i].node), "thin") != 0);
	/* empty profile, no width: nothing to draw */
	struct profile *e = profile_new();
	CHECK(flame_layout(e, 0, 80, 0, &l) == 0 && l.n == 0);
	CHECK(flame_layout(p, 0, 0, 0, &l) == 0 && l.n == 0);
	CHECK(flame_box_at(&l, 0, 0) == -1);
	profile_free(e);
	flame_layout_free(&l);
	profile_free(p);
}

static void test_hash(void)
{
	/* FNV-1a 32-bit reference values: colours must not change between
	 * runs or builds */
	CHECK(flame_name_hash("") == 0x811c9dc5u);
	CHECK(flame_name_hash("a") == 0xe40c292cu);
	CHECK(flame_name_hash("foobar") == 0xbf9cf968u);
	CHECK(flame_name_hash("main") != flame_name_hash("mainx"));
}

int main(void)
{
	test_property();
	test_order_zoom_depth();
	test_hash();
	return check_done("flame_test");
}
