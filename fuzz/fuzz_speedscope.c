/* fuzz_speedscope.c - libFuzzer target for import_speedscope (--load of a speedscope file).
 *
 * Besides "no crash, no leak, no UB": what loads is a consistent tree
 * (total == self + children), and exporting it as speedscope and loading that again
 * gives the same number of samples. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"
#include "profile.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char err[256];
	if (size > (1u << 22))
		return 0;
	struct profile *p = profile_new();
	if (!p)
		abort();
	long n = import_speedscope(p, data, size, err, sizeof err);
	if (n < 0 && !err[0] && n != -ENOMEM)
		abort();                /* every refusal says why */
	for (uint32_t i = 0; i < p->nnodes; i++) {
		uint64_t sum = p->nodes[i].self;
		for (uint32_t c = p->nodes[i].first_child; c; c = p->nodes[c].next_sibling)
			sum += p->nodes[c].total;
		if (sum != p->nodes[i].total)
			abort();
	}
	if (n > 0 && p->samples) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		struct export_input in = { .p = p, .period_ns = 1e7 };
		if (!f || export_write(EXPORT_SPEEDSCOPE, &in, f, err, sizeof err) < 0)
			abort();
		fclose(f);
		struct profile *q = profile_new();
		if (import_speedscope(q, buf, len, err, sizeof err) < 0 || q->samples != p->samples)
			abort();
		profile_free(q);
		free(buf);
	}
	profile_free(p);
	return 0;
}
