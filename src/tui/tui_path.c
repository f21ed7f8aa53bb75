/* tui_path.c - selection and zoom as name paths, so they survive decay,
 * reset and freeze/unfreeze (which all move node indices). */
#include <stdlib.h>
#include <string.h>

#include "tui_view.h"

void tpath_clear(struct tpath *tp)
{
	for (size_t i = 0; i < tp->n; i++)
		free(tp->names[i]);
	tp->n = 0;
}

void tpath_set(struct tpath *tp, const struct profile *p, uint32_t node)
{
	const char *names[TPATH_MAX];
	size_t n = node ? profile_path(p, node, names, TPATH_MAX) : 0;
	tpath_clear(tp);
	for (size_t i = 0; i < n; i++) {
		tp->names[i] = strdup(names[i] ? names[i] : "");
		if (!tp->names[i])
			break;     /* out of memory: keep the prefix we have */
		tp->n = i + 1;
	}
}

void tpath_copy(struct tpath *dst, const struct tpath *src)
{
	if (dst == src)
		return;
	tpath_clear(dst);
	for (size_t i = 0; i < src->n; i++) {
		dst->names[i] = strdup(src->names[i]);
		if (!dst->names[i])
			break;
		dst->n = i + 1;
	}
}

uint32_t tpath_resolve(const struct tpath *tp, const struct profile *p,
		       int *exact)
{
	const char *const *names = (const char *const *)tp->names;
	uint32_t node = tp->n ? profile_lookup_path(p, names, tp->n) : 0;
	if (node || tp->n == 0) {
		if (exact)
			*exact = 1;
		return node;
	}
	if (exact)
		*exact = 0;
	/* Prefixes that exist are monotone in length: binary search the
	 * longest one (lo always exists, hi never does). */
	size_t lo = 0, hi = tp->n;
	uint32_t best = 0;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		uint32_t m = profile_lookup_path(p, names, mid);
		if (m)
			lo = mid, best = m;
		else
			hi = mid;
	}
	return best;
}
