/* fuzz_orc.c - libFuzzer target for the ORC tables and unwinder (orc.c).
 *
 * Input: byte 0 = n entries (1..64); then n*4 ip bytes, n*6 entry bytes;
 * then 3 words (ip offset, sp, bp) and the rest is the stack copy at sp.
 * The stack is guest memory, so anything goes: the walk must stay inside
 * the accessor, stop within max frames, and deliver only frames inside the
 * table's range (after frame 0). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "orc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t n = (data[0] & 63) + 1;
	if (size < 1 + n * 10 + 24)
		return 0;
	const uint64_t K = 0xffffffff81000000ull, IPA = K + 0x1000000;
	char err[128];
	struct orc_table *t = orc_from_bytes(data + 1, IPA, data + 1 + 4 * n, n,
					     err, sizeof err);
	if (!t)
		return 0;
	const uint8_t *p = data + 1 + n * 10;
	uint64_t lo, hi;
	orc_range(t, &lo, &hi);
	struct orc_state st = { .ip = lo + (rd64(p) & 0xffff),
				.sp = rd64(p + 8), .bp = rd64(p + 16) };
	size_t slen = size - (size_t)(p + 24 - data);
	/* an exact-size copy so ASan sees any read past the end */
	uint8_t *stack = malloc(slen ? slen : 1);
	if (!stack) {
		orc_free(t);
		return 0;
	}
	memcpy(stack, p + 24, slen);
	struct orc_mem mem = { st.sp, stack, slen };
	struct orc_frame fr[32];
	struct orc_result r;
	int64_t slide = (int64_t)(data[0] >> 6) << 21;
	st.ip += (uint64_t)slide;
	orc_unwind(t, slide, &st, orc_mem_read, &mem, fr, 32, &r);
	if (r.n < 1 || r.n > 32)
		abort();
	for (int i = 1; i < r.n; i++) {
		uint64_t k = (fr[i].signal ? fr[i].ip : fr[i].ip - 1) -
			     (uint64_t)slide;
		int module = fr[i].ip >= 0xffffffffc0000000ull &&
			     fr[i].ip < 0xffffffffff000000ull;
		if (!module && (k < lo || k > hi))
			abort();
	}
	free(stack);
	orc_free(t);
	return 0;
}
