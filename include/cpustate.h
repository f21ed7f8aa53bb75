/* cpustate.h - each vCPU's registers read straight from QEMU's memory.
 *
 * Why: under TCG, "info registers -a" reads QEMU's CPUX86State of each vCPU
 * while the vCPU thread runs (it does not stop or kick it; ../shared/QMP.md)
 * and costs the monitor ~1 ms a round.  The same bytes can be read with one
 * process_vm_readv per vCPU in microseconds, so a round needs no monitor
 * command at all, and the stack is copied microseconds after the registers
 * instead of a millisecond.
 *
 * How: each vCPU's CPUX86State is found once, with the guest paused (its
 * fields are then exact), by looking up the monitor's general registers
 * and instruction pointer in QEMU's writable private memory (the heap
 * first; guest RAM skipped).  A match is kept only when the segment
 * registers, control registers and privilege level at their offsets agree
 * with the monitor too (the layout QEMU 7.2 to 10.x share, for 64-bit and
 * 32-bit target builds), and every vCPU has exactly one.  Then a read is
 * one process_vm_readv of QEMU's memory (never a write).
 *
 * What a read gives: what "info registers" would print at that instant:
 * rip is the start of the block being executed, the general registers may
 * be a little ahead of it, fields are not read atomically.  halted is not
 * in CPUX86State; the caller decides it from the code bytes (hlt before
 * rip).  eflags lacks the arithmetic flags (QEMU keeps them lazily).
 *
 * Only under TCG: with KVM the registers live in the kernel and the
 * structure is stale.  Needs ptrace-read rights on QEMU (as direct guest
 * memory does).  Not thread-safe: one owner, the sampler thread.
 */
#ifndef QTOP_CPUSTATE_H
#define QTOP_CPUSTATE_H

#include <stddef.h>
#include <stdint.h>
#include "sample.h"
#include "capture.h"

struct cpustate;

/* Finding them takes two steps, so that the guest is paused only for a
 * copy: cpustate_snapshot() copies QEMU's anonymous writable memory (the
 * heap first, guest RAM ranges skip[] left out, up to budget bytes) while
 * the guest is paused and the monitor's registers are exact; the guest
 * can run again before cpustate_find() looks for the registers regs[k]
 * (cpu index ids[k]) in that copy.  Both return NULL with a one-line
 * reason (no permission; no match, an ambiguous match, a layout that is
 * not the known one). */
struct cpustate_snap;
struct cpustate_snap *cpustate_snapshot(int pid, const uint64_t (*skip)[2], int n_skip,
					uint64_t budget, char *err, size_t errlen);
uint64_t cpustate_snap_bytes(const struct cpustate_snap *sn);
void cpustate_snap_free(struct cpustate_snap *sn);   /* NULL ok */
struct cpustate *cpustate_find(const struct cpustate_snap *sn, const struct qp_regs *regs,
			       const int *ids, int n, char *err, size_t errlen);
/* A shorter pause: cpustate_candidates() looks, with the guest running,
 * for the places whose CR0 and CR4 are those of regs[0..n) (read running:
 * an OS sets them once) in QEMU's memory (the heap, then more up to budget
 * bytes), up to max into out (returns how many, -1 with a
 * reason when there are more or no permission); then cpustate_snapshot_at()
 * copies those n places in one process_vm_readv while the guest is paused,
 * for cpustate_find(). */
int cpustate_candidates(int pid, const uint64_t (*skip)[2], int n_skip, uint64_t budget,
			const struct qp_regs *regs, int n, uint64_t *out, int max,
			char *err, size_t errlen);
struct cpustate_snap *cpustate_snapshot_at(int pid, const uint64_t *addr, int n,
					   char *err, size_t errlen);
void cpustate_free(struct cpustate *c);   /* NULL ok */

/* Read vCPU cpu's registers now.  0, or -1 (QEMU gone, the memory no
 * longer there, or a read that makes no sense: out->valid = 0). */
int cpustate_read(struct cpustate *c, int cpu, struct qp_regs *out);

/* The same, and in the same process_vm_readv the n (<= CPUSTATE_MAX_IOV)
 * remote ranges of QEMU's memory into local (e.g. the stack the vCPU was
 * on last time: copied within a microsecond of the registers, where a
 * second read would come several later, and a TCG vCPU runs thousands of
 * instructions in that).  Returns the bytes of the ranges read (a prefix),
 * or -1 as cpustate_read. */
#define CPUSTATE_MAX_IOV 16
struct iovec;
long cpustate_read_with(struct cpustate *c, int cpu, struct qp_regs *out,
			const struct iovec *remote, const struct iovec *local, int n);

/* For messages: bytes scanned and the word size of QEMU's target
 * (8: qemu-system-x86_64, 4: qemu-system-i386). */
uint64_t cpustate_scanned(const struct cpustate *c);
int cpustate_word_size(const struct cpustate *c);

/* Pure, for tests: does the CPUX86State image env (len bytes, target word
 * size ws) hold the registers r?  Checks the general registers, rip,
 * CS/SS selectors, FS/GS bases, CR0/CR3/CR4 and the privilege level. */
int cpustate_image_matches(const uint8_t *env, size_t len, int ws,
			   const struct qp_regs *r);
/* Pure, for tests: decode a CPUX86State image into out (halted 0). */
int cpustate_image_decode(const uint8_t *env, size_t len, int ws,
			  int efer_off, struct qp_regs *out);

#endif
