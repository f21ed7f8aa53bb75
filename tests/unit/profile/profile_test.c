/* profile_test.c - call tree shape, counts, per-process/per-cpu stats,
 * clone, decay, reset and path lookup. */
#include "check.h"

/* total == self + children's totals everywhere, links agree with parents. */
static void check_consistent(const struct profile *p)
{
	uint64_t procs = 0;
	for (uint32_t i = 0; i < p->nnodes; i++) {
		const struct prof_node *n = &p->nodes[i];
		uint64_t sum = n->self;
		for (uint32_t c = n->first_child; c; c = p->nodes[c].next_sibling) {
			CHECK(p->nodes[c].parent == i);
			CHECK(p->nodes[c].depth == n->depth + 1);
			sum += p->nodes[c].total;
		}
		CHECK_U64(n->total, sum);
		if (i)
			CHECK(n->parent < i);
	}
	for (uint32_t i = 0; i < p->nprocs; i++)
		procs += p->procs[i].samples;
	CHECK_U64(procs, p->samples);
	CHECK_U64(p->nodes[0].total, p->samples);
}

static struct profile *sample_tree(void)
{
	struct profile *p = profile_new();
	add_stack(p, "sh;main;foo;bar", 0, 3);
	add_stack(p, "sh;main;foo", 1, 2);
	add_stack(p, "sh;main;baz;sys_read:k", 1, 5);
	add_stack(p, "make;main", 2, 1);
	add_stack(p, "sh;main;foo;bar", 3, 1);
	return p;
}

static void test_shape(void)
{
	struct profile *p = sample_tree();
	CHECK_U64(p->samples, 12);
	CHECK_U64(p->nnodes, 9);
	CHECK_STR(profile_node_name(p, 0), "all");
	uint32_t sh = node_at(p, "sh"), foo = node_at(p, "sh;main;foo");
	uint32_t bar = node_at(p, "sh;main;foo;bar");
	uint32_t rd = node_at(p, "sh;main;baz;sys_read");
	uint32_t mk = node_at(p, "make;main");
	CHECK(sh && foo && bar && rd && mk);
	CHECK(mk != node_at(p, "sh;main"));
	CHECK_U64(p->nodes[sh].total, 11);
	CHECK(p->nodes[sh].kind == PK_PROC && p->nodes[sh].depth == 1);
	CHECK_U64(p->nodes[foo].total, 6);
	CHECK_U64(p->nodes[foo].self, 2);
	CHECK_U64(p->nodes[bar].self, 4);
	CHECK(p->nodes[rd].kind == PK_KERNEL && p->nodes[rd].depth == 4);
	CHECK_STR(profile_str_get(p, p->nodes[rd].module), "kernel");
	CHECK_STR(profile_str_get(p, p->nodes[bar].module), "prog");
	/* the same stack lands on the same leaf */
	CHECK(add_stack(p, "sh;main;foo;bar", 0, 1) == bar);
	/* same name, other kind: a different node */
	uint32_t ur = add_stack(p, "sh;main;baz;sys_read", 0, 1);
	CHECK(ur && ur != rd && p->nodes[ur].kind == PK_USER);
	uint32_t baz = node_at(p, "sh;main;baz");
	CHECK(profile_child(p, baz, "sys_read", PK_KERNEL) == rd);
	CHECK(profile_child(p, baz, "sys_read", PK_USER) == ur);
	CHECK(profile_child(p, baz, "nope", PK_USER) == 0);
	/* nothing happens for count 0 or no frames */
	uint32_t before = p->nnodes;
	CHECK(add_stack(p, "sh;brand;new", 0, 0) == 0);
	CHECK(p->nnodes == before);
	CHECK(profile_add(p, NULL, 0, 0, 1) == 0);
	/* frames[0] is the process whatever kind it claims */
	struct prof_frame f[2] = { { .name = "zsh", .kind = PK_USER },
				   { .name = "x", .kind = PK_USER } };
	CHECK(profile_add(p, f, 2, 0, 1));
	CHECK(p->nodes[node_at(p, "zsh")].kind == PK_PROC);
	CHECK(profile_proc(p, node_at(p, "zsh")) != NULL);
	check_consistent(p);
	profile_free(p);
}

static void test_proc_cpu(void)
{
	struct profile *p = sample_tree();
	const struct prof_proc *sh = profile_proc(p, node_at(p, "sh"));
	const struct prof_proc *mk = profile_proc(p, node_at(p, "make"));
	CHECK(sh && mk);
	CHECK(profile_proc(p, node_at(p, "sh;main")) == NULL);
	CHECK_U64(sh->samples, 11);
	CHECK_U64(sh->kernel, 5);
	CHECK_U64(sh->user, 6);
	CHECK_U64(sh->cpu[0], 3);
	CHECK_U64(sh->cpu[1], 7);
	CHECK_U64(sh->cpu[3], 1);
	CHECK_U64(mk->samples, 1);
	CHECK_U64(mk->cpu[2], 1);
	CHECK_U64(p->ncpus, 4);
	uint64_t sum = 0;
	for (int c = 0; c < PROF_MAX_CPUS; c++)
		sum += p->cpu_samples[c];
	CHECK_U64(sum, p->samples);
	/* a sample in the process frame itself is neither kernel nor user;
	 * an unknown cpu counts in totals only */
	add_stack(p, "sh", PROF_CPU_UNKNOWN, 2);
	sh = profile_proc(p, node_at(p, "sh"));
	CHECK_U64(sh->samples, 13);
	CHECK_U64(sh->kernel + sh->user, 11);
	CHECK_U64(p->ncpus, 4);
	CHECK_U64(p->samples, 14);
	/* many processes: the lookup still finds each one */
	char name[32];
	for (int i = 0; i < 500; i++) {
		snprintf(name, sizeof name, "p%d;f", i);
		add_stack(p, name, (uint32_t)i % 8, (uint64_t)i + 1);
	}
	for (int i = 0; i < 500; i += 37) {
		snprintf(name, sizeof name, "p%d", i);
		const struct prof_proc *pp = profile_proc(p, node_at(p, name));
		CHECK(pp && pp->samples == (uint64_t)i + 1 && pp->user == (uint64_t)i + 1);
	}
	check_consistent(p);
	profile_free(p);
}

static void test_clone(void)
{
	struct profile *p = sample_tree();
	struct profile *c = profile_clone(p);
	CHECK(c != NULL);
	uint32_t nn = p->nnodes;
	/* mutate the live tree in every way: existing path, new nodes that
	 * force reallocs, new process, new strings, decay, reset */
	add_stack(p, "sh;main;foo;bar", 0, 100);
	char name[64];
	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof name, "new%d;fn%d;g", i % 7, i);
		add_stack(p, name, 5, 1);
	}
	profile_decay(p, 0.5);
	CHECK_U64(c->samples, 12);
	CHECK_U64(c->nnodes, nn);
	CHECK_U64(c->nprocs, 2);
	uint32_t bar = node_at(c, "sh;main;foo;bar");
	CHECK(bar && c->nodes[bar].self == 4);
	CHECK_U64(profile_proc(c, node_at(c, "sh"))->samples, 11);
	CHECK(node_at(c, "new0") == 0);
	profile_reset(p);
	profile_free(p);
	/* the clone owns everything it points to */
	CHECK_STR(profile_node_name(c, bar), "bar");
	CHECK(add_stack(c, "sh;main;foo;bar", 0, 1) == bar);
	CHECK_U64(c->nodes[bar].self, 5);
	check_consistent(c);
	profile_free(c);
}

static void test_decay(void)
{
	struct profile *p = sample_tree();
	profile_decay(p, 0.5);
	/* self halves (rounded down), totals follow, zeros vanish */
	CHECK_U64(p->nodes[node_at(p, "sh;main;foo;bar")].self, 2);
	CHECK_U64(p->nodes[node_at(p, "sh;main;foo")].self, 1);
	CHECK_U64(p->nodes[node_at(p, "sh;main;foo")].total, 3);
	CHECK_U64(p->nodes[node_at(p, "sh;main;baz;sys_read")].self, 2);
	CHECK_U64(p->samples, 5);
	CHECK(node_at(p, "make") == 0);
	CHECK_U64(p->nprocs, 1);
	CHECK_U64(p->nnodes, 7);
	const struct prof_proc *sh = profile_proc(p, node_at(p, "sh"));
	CHECK(sh && sh->samples == 5 && sh->kernel == 2 && sh->user == 3);
	check_consistent(p);
	/* the index still works: an old stack finds its node, no duplicate */
	uint32_t bar = node_at(p, "sh;main;foo;bar");
	CHECK(add_stack(p, "sh;main;foo;bar", 0, 1) == bar);
	CHECK_U64(p->nnodes, 7);
	add_stack(p, "make;main", 0, 1);
	CHECK(profile_proc(p, node_at(p, "make")) != NULL);
	check_consistent(p);
	/* decaying to nothing leaves an empty but usable profile */
	profile_decay(p, 0.0);
	CHECK_U64(p->samples, 0);
	CHECK_U64(p->nnodes, 1);
	CHECK_U64(p->nprocs, 0);
	CHECK(add_stack(p, "sh;main", 0, 1) != 0);
	check_consistent(p);
	profile_free(p);
}

static void test_paths(void)
{
	struct profile *p = sample_tree();
	uint32_t bar = node_at(p, "sh;main;foo;bar");
	const char *names[8];
	size_t n = profile_path(p, bar, names, 8);
	CHECK(n == 4);
	char saved[4][16];
	for (size_t i = 0; i < n; i++)
		snprintf(saved[i], sizeof saved[i], "%s", names[i]);
	CHECK_STR(saved[0], "sh");
	CHECK_STR(saved[3], "bar");
	/* live updates append nodes and realloc: the path still leads there */
	char name[64];
	for (int i = 0; i < 20000; i++) {
		snprintf(name, sizeof name, "sh;main;f%d;g%d", i % 1000, i);
		add_stack(p, name, 0, 1);
	}
	add_stack(p, "sh;main;foo;bar", 0, 6);
	const char *again[4] = { saved[0], saved[1], saved[2], saved[3] };
	uint32_t b2 = profile_lookup_path(p, again, 4);
	CHECK(b2 != 0);
	CHECK_U64(p->nodes[b2].self, 10);
	CHECK_STR(profile_node_name(p, b2), "bar");
	/* kinds are ignored on the way down */
	CHECK(node_at(p, "sh;main;baz;sys_read") != 0);
	CHECK(node_at(p, "sh;main;nothing") == 0);
	CHECK(node_at(p, "sh;main;foo;bar;deeper") == 0);
	/* with kinds, a kernel frame is told from a user one of that name */
	uint32_t kr = node_at(p, "sh;main;baz;sys_read");
	uint32_t ur = add_stack(p, "sh;main;baz;sys_read", 0, 1);
	const char *kn[8];
	uint8_t kk[8];
	CHECK(profile_path_kinds(p, kr, kn, kk, 8) == 4 && kk[3] == PK_KERNEL && kk[0] == PK_PROC);
	CHECK(profile_lookup_path_kinds(p, kn, kk, 4) == kr);
	CHECK(profile_path_kinds(p, ur, kn, kk, 8) == 4 && kk[3] == PK_USER);
	CHECK(profile_lookup_path_kinds(p, kn, kk, 4) == ur);
	kk[2] = PK_KERNEL;   /* baz is a user frame */
	CHECK(profile_lookup_path_kinds(p, kn, kk, 4) == 0);
	/* too small a buffer gives the ancestor's path */
	CHECK(profile_path(p, bar, names, 2) == 2);
	CHECK(profile_lookup_path(p, names, 2) == node_at(p, "sh;main"));
	CHECK(profile_path(p, 0, names, 8) == 0);
	/* many siblings under one parent all resolve to themselves */
	for (int i = 0; i < 20000; i += 997) {
		snprintf(name, sizeof name, "sh;main;f%d;g%d", i % 1000, i);
		uint32_t x = node_at(p, name);
		CHECK(x && p->nodes[x].self == 1);
	}
	check_consistent(p);
	profile_free(p);
}

static void test_reset_and_order(void)
{
	struct profile *p = sample_tree();
	uint32_t *kids = NULL;
	size_t cap = 0;
	add_stack(p, "sh;main;alpha", 0, 1);
	add_stack(p, "sh;main;zeta", 0, 1);
	long n = profile_children_sorted(p, node_at(p, "sh;main"), &kids, &cap);
	CHECK(n == 4);
	const char *want[] = { "alpha", "baz", "foo", "zeta" };
	for (long i = 0; i < n && i < 4; i++)
		CHECK_STR(profile_node_name(p, kids[i]), want[i]);
	free(kids);

	profile_reset(p);
	CHECK_U64(p->samples, 0);
	CHECK_U64(p->nnodes, 1);
	CHECK_U64(p->nprocs, 0);
	CHECK_U64(p->ncpus, 0);
	CHECK_STR(profile_node_name(p, 0), "all");
	CHECK(node_at(p, "sh") == 0);
	CHECK(add_stack(p, "sh;main;foo", 1, 2) != 0);
	CHECK_U64(p->samples, 2);
	check_consistent(p);
	profile_free(p);
	profile_free(NULL);
}

int main(void)
{
	test_shape();
	test_proc_cpu();
	test_clone();
	test_decay();
	test_paths();
	test_reset_and_order();
	return check_done("profile_test");
}
