/* fuzz_regs.c - libFuzzer target for regs_parse, regs_parse_all, hmpx_parse.
 *
 * Besides "no crash, no UB" it checks the promises callers rely on: a valid
 * result has ip/sp, cpl is 0..3, regs_parse agrees with the first block of
 * regs_parse_all, hmpx_parse never writes past cap and returns whole units. */
#include <stdlib.h>
#include <string.h>

#include "regs.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	/* an exact-size copy so ASan sees any read past the end */
	char *t = malloc(size ? size : 1);
	struct qp_regs one, all[8];
	int ids[8], n, rc;
	uint8_t buf[4096 + 16];
	uint64_t addr = 0;
	long got;
	size_t cap;

	if (!t)
		return 0;
	memcpy(t, data, size);

	rc = regs_parse(t, size, &one);
	if (rc == 0 && (!one.valid || one.cpl > 3))
		abort();
	if (rc != 0 && one.valid)
		abort();
	n = regs_parse_all(t, size, all, ids, 8);
	if (n < 0 || n > 8)
		abort();
	if ((n > 0) != (rc == 0))
		abort();
	if (n > 0 && (all[0].ip != one.ip || all[0].gpr[QP_RSP] != one.gpr[QP_RSP]))
		abort();
	for (int i = 0; i < n; i++)
		if (!all[i].valid)
			abort();

	cap = size ? data[0] % 80 : 0; /* small caps too */
	memset(buf, 0xa5, sizeof buf);
	got = hmpx_parse(t, size, &addr, buf, cap);
	if (got != -1 && (got <= 0 || (size_t)got > cap))
		abort();
	for (size_t i = cap; i < sizeof buf; i++)
		if (buf[i] != 0xa5)
			abort();
	got = hmpx_parse(t, size, &addr, buf, 4096);
	if (got != -1 && (got <= 0 || got > 4096))
		abort();
	free(t);
	return 0;
}
