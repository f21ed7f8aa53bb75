/* chainroot.h - where a walk may end and the chain still be whole (#15).
 *
 * A walk that stops with a failed step is still complete when its
 * outermost frame is a root: a program's entry point (the function holding
 * e_entry, or _start), or a kernel entry / idle root (the test guest's
 * kmain / ap_main, Linux's start_kernel, secondary_startup_64,
 * cpu_startup_entry, ...).  fp = 0 and a return address of 0 end walks
 * cleanly already (UW_END_OK). */
#ifndef QTOP_CHAINROOT_H
#define QTOP_CHAINROOT_H

#include <stdint.h>

/* fn: the outermost frame's function name (or NULL), fn_addr its start;
 * entry_fn: start of the function holding the binary's e_entry (0 if not
 * known).  1 when it is a root. */
int chainroot_is_root(const char *fn, uint64_t fn_addr, uint64_t entry_fn,
		      int kernel);

/* e_entry of an ELF image (file bytes), 0 if not an ELF. */
uint64_t chainroot_elf_entry(const uint8_t *file, uint64_t len);

#endif
