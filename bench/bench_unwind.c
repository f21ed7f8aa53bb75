/* bench_unwind.c - frames/s through unwind + symbolize for a repeated
 * sample (target >= 1,000,000 frames/s on one core), per fixture given on
 * the command line, plus symbol lookup cost.
 *   bench_unwind [--guest DIR]... FIXTURE...
 * --guest DIR: the recorded real-guest samples of tests/data/unwind/guest-*
 * (kernel, alpha, beta, samples.qrec), replayed in a loop. */
#include "../tests/unit/unwind/fxload.h"
#include "record.h"
#include "symbolizer.h"
#include "symtab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char *base(const char *p)
{
	const char *b = strrchr(p, '/');
	return b ? b + 1 : p;
}

static void bench_fixture(const char *elf, int inl)
{
	struct fx_capture c;
	fx_run(elf, &c);
	char dir[256];
	fx_sysroot(dir, sizeof dir, &elf, 1);
	struct symbolizer_config cfg = { .sysroot = dir, .inline_frames = inl };
	char err[256];
	struct symbolizer *s = symbolizer_new(&cfg, err, sizeof err);
	if (!s) {
		fprintf(stderr, "symbolizer_new: %s\n", err);
		exit(1);
	}
	struct qp_sample *smp = fx_sample(&c, 0x1000);
	struct prof_frame f[256];
	size_t n = 0;
	symbolizer_process(s, smp, f, 256, &n);   /* warm the caches */
	long iters = 0;
	uint64_t frames = 0;
	double t0 = now(), t;
	do {
		for (int i = 0; i < 1000; i++) {
			symbolizer_process(s, smp, f, 256, &n);
			frames += n - 1;
		}
		iters += 1000;
		t = now() - t0;
	} while (t < 1.0);
	struct symbolizer_stats st;
	symbolizer_get_stats(s, &st);
	printf("%-8s inline=%d: %zu frames/stack, %.2f us/stack, %.0f frames/s "
	       "(cfi steps %llu, fp steps %llu)\n", base(elf), inl, n - 1,
	       t / (double)iters * 1e6, (double)frames / t,
	       (unsigned long long)st.cfi_steps, (unsigned long long)st.fp_steps);
	free(smp);
	symbolizer_free(s);
	fx_rmtree(dir);
	free(c.stack);
}

static void bench_guest(const char *dir)
{
	char kpath[1024], path[1024], err[256];
	snprintf(kpath, sizeof kpath, "%s/kernel", dir);
	snprintf(path, sizeof path, "%s/samples.qrec", dir);
	struct symbolizer_config cfg = { .kernel = kpath, .sysroot = dir };
	struct symbolizer *s = symbolizer_new(&cfg, err, sizeof err);
	struct record_reader *rr = s ? record_open(path, err, sizeof err) : NULL;
	if (!rr) {
		fprintf(stderr, "%s: %s\n", dir, err);
		symbolizer_free(s);
		return;
	}
	/* copy the samples: the reader's pointers are only valid until next */
	struct qp_sample **v = NULL;
	size_t nv = 0;
	const struct qp_sample *smp;
	while (record_next(rr, &smp, err, sizeof err) == 1) {
		v = realloc(v, (nv + 1) * sizeof *v);
		v[nv] = malloc(qp_sample_size(smp));
		memcpy(v[nv], smp, qp_sample_size(smp));
		nv++;
	}
	record_reader_close(rr);
	struct prof_frame f[256];
	size_t n;
	for (size_t i = 0; i < nv; i++)
		symbolizer_process(s, v[i], f, 256, &n);
	uint64_t frames = 0, stacks = 0;
	double t0 = now(), t;
	do {
		for (size_t i = 0; i < nv; i++) {
			symbolizer_process(s, v[i], f, 256, &n);
			frames += n - 1;
		}
		stacks += nv;
		t = now() - t0;
	} while (t < 1.0);
	printf("guest %-12s %zu real samples: %.2f us/stack, %.1f frames/stack, "
	       "%.0f frames/s\n", base(dir), nv, t / (double)stacks * 1e6,
	       (double)frames / (double)stacks, (double)frames / t);
	for (size_t i = 0; i < nv; i++)
		free(v[i]);
	free(v);
	symbolizer_free(s);
}

static void bench_lookup(const char *elf)
{
	char err[256];
	struct symtab *t = symtab_from_elf(elf, 0, err, sizeof err);
	if (!t)
		return;
	uint64_t lo, hi;
	symtab_range(t, &lo, &hi);
	volatile const struct sym *sink;
	long n = 0;
	double t0 = now(), el;
	uint64_t a = lo;
	do {
		for (int i = 0; i < 100000; i++) {
			sink = symtab_lookup(t, a);
			a = a + 37 < hi ? a + 37 : lo;
		}
		n += 100000;
		el = now() - t0;
	} while (el < 0.5);
	(void)sink;
	printf("symtab_lookup (%zu symbols): %.1f ns\n", symtab_count(t),
	       el / (double)n * 1e9);
	symtab_free(t);
}

int main(int argc, char **argv)
{
	unsetenv("DEBUGINFOD_URLS");
	const char *first = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--guest") && i + 1 < argc) {
			bench_guest(argv[++i]);
			continue;
		}
		if (!first)
			first = argv[i];
		bench_fixture(argv[i], 0);
		bench_fixture(argv[i], 1);
	}
	if (first)
		bench_lookup(first);
	return 0;
}
