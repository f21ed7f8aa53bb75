/* fuzz_pdiff.c - libFuzzer target for --diff's input path: two folded
 * texts (the input split at its first NUL byte, or at its middle) loaded
 * and compared.
 *
 * Checks what the delta table and the two-column file promise: every
 * function of either side is one row, in the right state; shares of each
 * side add up; a profile compared with itself has only zero deltas; the
 * two-column file (not normalized) adds up to each side's samples; node
 * counterparts found box by box equal the whole-path lookups. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flame.h"
#include "folded.h"
#include "pdiff.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static struct profile *load_buf(const void *data, size_t size)
{
	struct profile *p = profile_new();
	if (!p)
		abort();
	if (size) {
		FILE *f = fmemopen((void *)data, size, "r");
		if (!f || folded_load(p, f, NULL) != 0)
			abort();
		fclose(f);
	}
	return p;
}

static double leaf_share(const struct profile *p)
{
	uint64_t procs = 0;
	for (uint32_t c = p->nodes[0].first_child; c; c = p->nodes[c].next_sibling)
		procs += p->nodes[c].self;
	return p->samples ? 100.0 * (double)(p->samples - procs) / (double)p->samples : 0;
}

static void check_table(const struct profile *b, const struct profile *a,
			int norm)
{
	struct pdiff_row *rows = NULL;
	long n = pdiff_table(b, 0, a, 0, norm, &rows);
	if (n < 0)
		abort();
	double sb = 0, sa = 0;
	for (long i = 0; i < n; i++) {
		const struct pdiff_row *r = &rows[i];
		if ((r->state == PD_NEW) != (r->total_b == 0) ||
		    (r->state == PD_GONE) != (r->total_a == 0) ||
		    r->self_b > r->total_b || r->self_a > r->total_a)
			abort();
		sb += r->self_pb, sa += r->self_pa;
	}
	/* samples whose leaf is a process frame have no row */
	double wb = leaf_share(b), wa = leaf_share(a);
	if (b->samples && (sb < wb - 1e-3 || sb > wb + 1e-3))
		abort();
	if (norm && a->samples && (sa < wa - 1e-3 || sa > wa + 1e-3))
		abort();
	pdiff_sort_rows(b, a, rows, (size_t)n, PD_SORT_DSELF, 0);
	for (long i = 1; i < n; i++) {
		double x = rows[i - 1].dself, y = rows[i].dself;
		if ((x < 0 ? -x : x) < (y < 0 ? -y : y))
			abort();
	}
	free(rows);
}

static void check_self(const struct profile *p)
{
	struct pdiff_row *rows = NULL;
	long n = pdiff_table(p, 0, p, 0, 1, &rows);
	if (n < 0)
		abort();
	for (long i = 0; i < n; i++)
		if (rows[i].state != PD_BOTH || rows[i].dself != 0.0 ||
		    rows[i].dtotal != 0.0)
			abort();
	free(rows);
}

static void check_columns(const struct profile *b, const struct profile *a)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f || pdiff_write_folded(b, 0, a, 0, 0, f) < 0)
		abort();
	fclose(f);
	uint64_t cb = 0, ca = 0;
	char *save = NULL;
	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *s2 = strrchr(l, ' ');
		if (!s2)
			abort();
		*s2 = '\0';
		char *s1 = strrchr(l, ' ');
		if (!s1)
			abort();
		cb += strtoull(s1 + 1, NULL, 10);
		ca += strtoull(s2 + 1, NULL, 10);
	}
	if (cb != b->samples || ca != a->samples)
		abort();
	free(buf);
}

static void check_boxes(const struct profile *a, const struct profile *b)
{
	struct flame_layout l = { 0 };
	if (flame_layout(a, 0, 97, 0, &l) != 0)
		abort();
	uint32_t *map = malloc((l.n ? l.n : 1) * sizeof *map);
	if (!map || pdiff_map_boxes(a, &l, b, map) != 0)
		abort();
	for (size_t i = 0; i < l.n; i++)
		if (map[i] != pdiff_counterpart(a, l.boxes[i].node, b))
			abort();
	free(map);
	flame_layout_free(&l);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	if (size > (1u << 20))
		return 0;
	const unsigned char *nul = memchr(data, '\0', size);
	size_t cut = nul ? (size_t)(nul - data) : size / 2;
	struct profile *b = load_buf(data, cut);
	size_t rest = nul ? cut + 1 : cut;
	struct profile *a = load_buf(data + rest, size - rest);

	check_table(b, a, 1);
	check_table(b, a, 0);
	check_self(a);
	check_columns(b, a);
	check_boxes(a, b);
	check_boxes(b, a);
	profile_free(a);
	profile_free(b);
	return 0;
}
