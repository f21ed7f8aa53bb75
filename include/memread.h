/* memread.h - read guest virtual memory for the sampler.
 *
 * Three transports: `memsave` into a private 0700 directory (mkdtemp) that
 * memread creates and removes (needs QEMU on this host), HMP `x/Ngx` text
 * (works over TCP to a remote QEMU), and direct: QEMU's RAM read without the
 * monitor (guestmem.h) through a page walk here (pagewalk.h) with the CR3,
 * CR0, CR4 and EFER the caller last gave for that vCPU
 * (memread_set_cpu_state).  A direct read of a vCPU whose state was never
 * given goes through the monitor (memsave or HMP x).  Reads are clipped at
 * the first unmapped page.  Several monitor reads can be in flight at once
 * (pipelined).
 */
#ifndef QTOP_MEMREAD_H
#define QTOP_MEMREAD_H

#include <stddef.h>
#include <stdint.h>
#include "qmp.h"
#include "capture.h"
#include "sample.h"

struct memread;

/* mode AUTO picks direct when QEMU is the local peer of a unix socket and
 * a probe read works, else memsave for a local unix socket (after checking
 * that a test read really lands in our directory), else HMP x. */
struct memread *memread_new(struct qmp *q, enum sampler_mem mode,
			    char *err, size_t errlen);
/* The same; with mode DIRECT and file, QEMU's shared RAM file is read
 * instead of its process.  An explicit DIRECT that cannot work fails (NULL,
 * message naming the fixes); AUTO falls back and says why in the note. */
struct memread *memread_new_ex(struct qmp *q, enum sampler_mem mode,
			       const char *file, char *err, size_t errlen);
/* Which transport, and why (one line). */
const char *memread_note(const struct memread *m);
/* Direct: the control registers of vCPU cpu that translate its addresses
 * from now on (the sampler reads them each round).  Also forgets cached
 * translations: the guest may have changed its page tables since.  A no-op
 * in the other modes. */
void memread_set_cpu_state(struct memread *m, int cpu, const struct qp_regs *r);
/* Direct: the guest's RAM layout may have changed (RESET event). */
void memread_layout_changed(struct memread *m);
/* Removes the private directory and any file in it. NULL ok. */
void memread_free(struct memread *m);
enum sampler_mem memread_mode(const struct memread *m);
/* Direct from QEMU's process: its pid (else 0), and where its guest RAM
 * lies in it (host-virtual [start, end) ranges, up to max; cpustate.h
 * skips them when it looks for the vCPUs' state). */
int memread_qemu_pid(const struct memread *m);
int memread_ram_ranges(const struct memread *m, uint64_t (*out)[2], int max);
/* Direct from QEMU's process: where the guest-virtual range [addr, +len)
 * of vCPU cpu (translated with the state last given) lies in QEMU, as up to
 * max remote iovecs covering a prefix of it (0: none, e.g. not direct).
 * For a read that goes with the vCPU's registers in one process_vm_readv
 * (cpustate_read_with). */
struct iovec;
int memread_host_iov(struct memread *m, int cpu, uint64_t addr, uint32_t len,
		     struct iovec *remote, int max);
const char *memread_dir(const struct memread *m);   /* NULL unless memsave is used */

struct memread_req {
	int cpu;            /* whose MMU translates addr */
	uint64_t addr;
	uint32_t len;       /* bytes wanted */
	uint8_t *buf;       /* where they go */
	long got;           /* out: bytes read (prefix, clipped at the first
			       unmapped page), or a negative qmp_err */
};

/* Perform n reads, pipelined.  Returns 0, or a negative qmp_err for a
 * connection-level failure (closed, timeout); per-read failures only show
 * in req[i].got. */
int memread_batch(struct memread *m, struct memread_req *req, size_t n,
		  char *err, size_t errlen);

/* Reads that failed for another reason than unmapped memory since the last
 * call (QMP error replies), with the last message.  Unmapped pages only
 * clip a read; these are errors the user should see. */
int memread_take_errors(struct memread *m, char *msg, size_t msglen);

/* A read at the vCPU's own stack pointer: HMP "x" of len bytes (rounded up
 * to 16) from sp & ~15, with sp taken by QEMU as it runs the command.  So it
 * can be pipelined right behind "info registers" (and "stop") without a
 * round trip to learn sp first.  Always HMP text, in both transports. */
int memread_send_at_sp(struct memread *m, int cpu, uint32_t len, uint64_t *id,
		       char *err, size_t errlen);
/* Its reply: bytes read into buf (<= cap) starting at *addr (the rounded
 * stack pointer QEMU used), clipped at the first unmapped 16-byte line;
 * QMP_E_ERROR if nothing was read; another negative qmp_err if the
 * connection failed. */
long memread_wait_at_sp(struct memread *m, uint64_t id, uint64_t *addr,
			uint8_t *buf, uint32_t cap, char *err, size_t errlen);

/* One read; returns bytes read or a negative qmp_err. */
long memread_virt(struct memread *m, int cpu, uint64_t addr, void *buf,
		  uint32_t len, char *err, size_t errlen);

#endif
