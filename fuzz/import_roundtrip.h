/* import_roundtrip.h - the shared body of the profile-reader fuzz targets
 * (fuzz_pprof, fuzz_speedscope).
 *
 * Besides "no crash, no leak, no UB": every refusal says why, what loads is
 * a consistent tree (total == self + children), and exporting it in the same
 * format and loading that again gives the same number of samples. */
#ifndef QTOP_FUZZ_IMPORT_ROUNDTRIP_H
#define QTOP_FUZZ_IMPORT_ROUNDTRIP_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"
#include "profile.h"

typedef long (*import_fn)(struct profile *p, const void *data, size_t len,
			  char *err, size_t errlen);

static int import_roundtrip(const unsigned char *data, size_t size,
			    import_fn import, int format)
{
	char err[256];
	if (size > (1u << 22))
		return 0;
	struct profile *p = profile_new();
	if (!p)
		abort();
	long n = import(p, data, size, err, sizeof err);
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
		if (!f || export_write(format, &in, f, err, sizeof err) < 0)
			abort();
		fclose(f);
		struct profile *q = profile_new();
		if (import(q, buf, len, err, sizeof err) < 0 || q->samples != p->samples)
			abort();
		profile_free(q);
		free(buf);
	}
	profile_free(p);
	return 0;
}

#endif
