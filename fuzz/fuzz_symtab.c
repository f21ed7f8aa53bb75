/* fuzz_symtab.c - libFuzzer target for the nm/System.map/kallsyms text
 * parser and the ELF symbol loader.  First byte: 0-127 text, else ELF (the
 * rest is written to a memfd and loaded by path, as --kernel would). */
#include "symtab.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static void probe(const struct symtab *t)
{
	uint64_t lo, hi;
	symtab_range(t, &lo, &hi);
	size_t n = symtab_count(t);
	/* lookups across and around the range must stay in bounds */
	for (int i = 0; i <= 16; i++) {
		uint64_t a = lo + (hi - lo) / 16 * (uint64_t)i;
		const struct sym *s = symtab_lookup(t, a);
		if (s && (s->addr > a || !s->name))
			abort();
		if (s && !symtab_find(t, s->name))
			abort();
	}
	symtab_lookup(t, 0);
	symtab_lookup(t, UINT64_MAX);
	symtab_lookup(t, lo - 1);
	(void)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char err[256];
	struct symtab *t;
	if (data[0] < 128) {
		t = symtab_from_nm_text((const char *)data + 1, size - 1, 0,
					data[0] & 1 ? SYMTAB_ALL : 0, err,
					sizeof err);
	} else {
		int fd = memfd_create("fuzz-elf", MFD_CLOEXEC);
		if (fd < 0)
			return 0;
		if (write(fd, data + 1, size - 1) != (ssize_t)(size - 1)) {
			close(fd);
			return 0;
		}
		char path[64];
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		t = symtab_from_elf_flags(path, 0x1000, data[0] & 1 ? SYMTAB_ALL : 0,
					  err, sizeof err);
		close(fd);
	}
	if (t)
		probe(t);
	symtab_free(t);
	return 0;
}
