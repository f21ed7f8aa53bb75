/* guestmem.h - read guest-physical memory directly, without the monitor,
 * from a QEMU on this host.
 *
 * Two sources:
 * - the QEMU process: its pid from the QMP unix socket (SO_PEERCRED), its
 *   RAM layout resolved once through HMP (read-only commands: "info mtree
 *   -f" gives the flat view's RAM/ROM ranges with their guest-physical
 *   addresses, "gpa2hva" where each lies in QEMU's address space), then
 *   every read is one process_vm_readv of QEMU's memory (never a write).
 *   Needs ptrace-read permission on QEMU: same user and Yama ptrace_scope 0,
 *   or QEMU a child of ours, or CAP_SYS_PTRACE.
 * - a shared RAM file (QEMU started with -object memory-backend-file,id=m,
 *   size=...,share=on,mem-path=FILE -machine memory-backend=m), mapped
 *   read-only; the guest-physical ranges of that backend come from "info
 *   mtree -f" (its regions and their offsets in it).
 *
 * Reads are clipped at the first byte outside RAM (a gap or MMIO): no
 * device is ever touched.  The layout can change (reset, memory hotplug):
 * guestmem_layout_changed() (on a RESET event) makes the next read resolve
 * it again, and so does a read that lands outside every range (at most once
 * a second: a page table may point at MMIO legitimately).
 *
 * Not thread-safe: one owner (the sampler thread), which also owns q.
 */
#ifndef QTOP_GUESTMEM_H
#define QTOP_GUESTMEM_H

#include <stddef.h>
#include <stdint.h>
#include "qmp.h"

enum guestmem_err {
	GUESTMEM_E_PERM = -1,    /* not allowed to read QEMU's memory (EPERM) */
	GUESTMEM_E_GONE = -2,    /* QEMU exited, or its memory is no longer there */
	GUESTMEM_E_QMP = -3,     /* resolving the layout failed */
};

/* One guest-physical RAM range as "info mtree -f" prints it. */
struct guestmem_region {
	uint64_t gpa, size;
	uint64_t where;          /* QEMU virtual address, or offset in the RAM file */
	uint64_t mr_off;         /* offset in its memory region ("@..." in mtree) */
	char mr[48];             /* memory region name ("pc.ram", the backend id) */
	int rom;                 /* "rom": RAM-backed, read-only to the guest */
};

/* Parse "info mtree -f": the regions of type ram or rom of the flat view of
 * the "memory" address space, in address order.  Returns how many (<= max)
 * or -1 if no such flat view is in the text.  Pure. */
int guestmem_parse_mtree(const char *text, struct guestmem_region *out, int max);
/* Parse a "gpa2hva" reply ("Host virtual address for 0x... (name) is
 * 0x..."): 0 and *hva, or -1 (not RAM, nothing mapped, other text). Pure. */
int guestmem_parse_gpa2hva(const char *text, uint64_t *hva);

struct guestmem;

/* file == NULL: read QEMU's process (the peer of q's unix socket); else map
 * FILE, QEMU's shared RAM backend.  Resolves the layout and checks one
 * read against the monitor's (xp), so a wrong pid or file is refused.
 * NULL with a one-line message; for a permission failure the message names
 * the fixes and *perm is set (perm may be NULL). */
struct guestmem *guestmem_open(struct qmp *q, const char *file, int *perm,
			       char *err, size_t errlen);
void guestmem_free(struct guestmem *g);   /* NULL ok */

/* Read len bytes at guest-physical gpa: the bytes read, a prefix clipped at
 * the first byte that is not RAM (0 if gpa is not), or a negative
 * guestmem_err. */
long guestmem_read(struct guestmem *g, uint64_t gpa, void *buf, uint32_t len);

/* QEMU's process: where guest-physical gpa lies in QEMU's address space
 * (*hva) and how many of len bytes follow it in the same RAM range; -1
 * when gpa is not RAM, the layout is being resolved again, or the source
 * is a RAM file.  For reads that go with others in one process_vm_readv. */
long guestmem_hva(struct guestmem *g, uint64_t gpa, uint32_t len, uint64_t *hva);

/* The layout may have changed (RESET event): resolve it before the next read. */
void guestmem_layout_changed(struct guestmem *g);

/* For messages and tests. */
int guestmem_pid(const struct guestmem *g);            /* 0 for a file */
int guestmem_nregions(const struct guestmem *g);
const struct guestmem_region *guestmem_region(const struct guestmem *g, int i);
unsigned guestmem_resolves(const struct guestmem *g);  /* layouts resolved so far */

#endif
