/* chainroot.c - roots a chain may end at (see chainroot.h). */
#include "chainroot.h"

#include <string.h>

static const char *const user_roots[] = { "_start", "__start", "_start_c",
	"__libc_start_main", NULL };
static const char *const kernel_roots[] = {
	"kmain", "ap_main",                              /* the test guest */
	"start_kernel", "x86_64_start_kernel", "x86_64_start_reservations",
	"secondary_startup_64", "start_secondary", "cpu_startup_entry",
	"startup_64", "startup_32", "ret_from_fork", "ret_from_fork_asm",
	"kthread", "rest_init", "main", "mpmain", "mpenter", NULL };

int chainroot_is_root(const char *fn, uint64_t fn_addr, uint64_t entry_fn,
		      int kernel)
{
	if (entry_fn && fn_addr == entry_fn)
		return 1;
	if (!fn)
		return 0;
	for (const char *const *r = kernel ? kernel_roots : user_roots; *r; r++)
		if (!strcmp(fn, *r))
			return 1;
	return 0;
}

uint64_t chainroot_elf_entry(const uint8_t *f, uint64_t len)
{
	if (!f || len < 52 || f[0] != 0x7f || f[1] != 'E' || f[2] != 'L' ||
	    f[3] != 'F' || f[5] != 1)
		return 0;
	uint64_t v = 0;
	if (f[4] == 2) {
		if (len < 64)
			return 0;
		for (int i = 7; i >= 0; i--)
			v = v << 8 | f[24 + i];
	} else {
		for (int i = 3; i >= 0; i--)
			v = v << 8 | f[24 + i];
	}
	return v;
}
