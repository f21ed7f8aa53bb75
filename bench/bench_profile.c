/* bench_profile.c - profile_add throughput, memory after 1M samples over
 * ~100k nodes, and the cost of the views (flame layout, hotspot table) that
 * the TUI recomputes on every redraw.  Prints numbers; asserts nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flame.h"
#include "folded.h"
#include "hotspot.h"
#include "profile.h"

#define DEPTH 15
#define NSTACKS 9000
#define NSAMPLES 1000000
#define NNAMES 30000

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);   /* CPU time: other jobs on the machine add no noise */
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

static long status_kb(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, key, strlen(key)))
			kb = strtol(line + strlen(key) + 1, NULL, 10);
	if (f)
		fclose(f);
	return kb;
}

int main(void)
{
	static char names[NNAMES][32];
	static struct prof_frame stacks[NSTACKS][DEPTH];
	static const char *procs[8] = { "init", "sh", "make", "cc1", "as", "ld",
					"kworker", "idle" };
	for (int i = 0; i < NNAMES; i++)
		snprintf(names[i], sizeof names[i], "function_%05d", i);

	/* Stacks share their first levels (a tree with a wide top) and then
	 * diverge, so ~11 new nodes per stack: ~100k nodes. */
	for (int s = 0; s < NSTACKS; s++) {
		struct prof_frame *f = stacks[s];
		f[0] = (struct prof_frame){ .name = procs[s % 8], .kind = PK_PROC };
		for (int d = 1; d < DEPTH; d++) {
			uint64_t key = d < 4 ? (uint64_t)(s % (8 << (2 * d)))
					     : (uint64_t)s * 131 + (uint64_t)d;
			int kernel = d >= DEPTH - 3 && s % 3 == 0;
			f[d] = (struct prof_frame){
				.name = names[mix(key * 31 + (uint64_t)d) % NNAMES],
				.module = kernel ? "kernel" : "prog",
				.src = NULL,
				.kind = kernel ? PK_KERNEL : PK_USER };
		}
	}
	long rss0 = status_kb("VmRSS:");

	/* best of 3 fresh runs: the machine may be busy with other jobs */
	struct profile *p = NULL;
	double t_add = 1e9;
	long rss1 = 0, hwm = 0;
	for (int run = 0; run < 3; run++) {
		profile_free(p);
		p = profile_new();
		uint64_t r = 1;
		double t0 = now_s();
		for (int i = 0; i < NSAMPLES; i++) {
			r = mix(r + (uint64_t)i);
			/* skewed: a few hot stacks, a long tail */
			uint64_t k = r % 4 ? (r >> 8) % 200 : (r >> 8) % NSTACKS;
			profile_add(p, stacks[k], DEPTH, (uint32_t)(r >> 40) % 4, 1);
		}
		double t = now_s() - t0;
		if (t < t_add)
			t_add = t;
		if (run == 0) {   /* later runs reuse freed heap: measure once */
			rss1 = status_kb("VmRSS:");
			hwm = status_kb("VmHWM:");
		}
	}
	double t0;
	size_t node_bytes = (size_t)p->capnodes * sizeof *p->nodes;

	printf("profile_add (best of 3): %d stacks of depth %d in %.3f s = %.2f M stacks/s (%.0f ns/stack)\n",
	       NSAMPLES, DEPTH, t_add, NSAMPLES / t_add / 1e6, t_add / NSAMPLES * 1e9);
	printf("tree: %u nodes, %u processes, %llu samples\n", p->nnodes,
	       p->nprocs, (unsigned long long)p->samples);
	printf("memory: RSS %.1f MiB after (%.1f MiB before the profile, peak %.1f MiB); node array %.1f MiB\n",
	       rss1 / 1024.0, rss0 / 1024.0, hwm / 1024.0, node_bytes / 1048576.0);

	/* the views, as the TUI calls them on each redraw */
	struct flame_layout l = { 0 };
	for (int w = 200; w <= 400; w += 200) {
		double best = 1e9;
		for (int i = 0; i < 200; i++) {
			t0 = now_s();
			flame_layout(p, 0, w, 0, &l);
			double t = now_s() - t0;
			if (t < best)
				best = t;
		}
		printf("flame_layout: width %d, %zu boxes, %d levels: %.3f ms (best of 200)\n",
		       w, l.n, l.max_depth + 1, best * 1e3);
	}
	flame_layout_free(&l);

	struct hot_row *rows = NULL, *copy = NULL;
	long n = 0;
	double t_hot = 1e9, t_sort = 1e9;
	for (int i = 0; i < 50; i++) {
		free(rows);
		t0 = now_s();
		n = hotspot_build(p, 0, &rows);
		double t = now_s() - t0;
		if (t < t_hot)
			t_hot = t;
	}
	copy = malloc((size_t)n * sizeof *copy);
	for (int i = 0; i < 20; i++) {
		memcpy(copy, rows, (size_t)n * sizeof *copy);
		t0 = now_s();
		hotspot_sort(p, copy, (size_t)n, HOT_SORT_SELF, 0);
		double t = now_s() - t0;
		if (t < t_sort)
			t_sort = t;
	}
	free(copy);
	printf("hotspot_build: %ld rows from %u nodes: %.3f ms; hotspot_sort (self): %.3f ms (best of 50/20)\n",
	       n, p->nnodes, t_hot * 1e3, t_sort * 1e3);
	free(rows);

	t0 = now_s();
	struct profile *c = profile_clone(p);
	printf("profile_clone (freeze): %.3f ms\n", (now_s() - t0) * 1e3);
	FILE *devnull = fopen("/dev/null", "w");
	t0 = now_s();
	long lines = folded_write(c, 0, 0, devnull);
	printf("folded_write: %ld lines: %.1f ms\n", lines, (now_s() - t0) * 1e3);
	fclose(devnull);
	t0 = now_s();
	profile_decay(c, 0.5);
	printf("profile_decay(0.5): %.3f ms, %u nodes left\n", (now_s() - t0) * 1e3,
	       c->nnodes);
	profile_free(c);
	profile_free(p);
	return 0;
}
