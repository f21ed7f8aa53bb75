/* sampler.h - the background sampling thread: QMP -> raw samples -> ring.
 *
 * Cheap raw capture only: registers (HMP "info registers"), a copy of the
 * stack from sp up, the user stack behind a kernel trap frame, code bytes at
 * the user pc for address-space matching, and the --comm bytes.  No
 * unwinding, no symbols, no curses.
 *
 * Guest safety: in --stop mode the sampler sends "stop" only when the guest
 * is running and "cont" only for a stop it sent itself; a guest paused by
 * anyone else is sampled as is (or not at all) and stays paused.
 */
#ifndef QTOP_SAMPLER_H
#define QTOP_SAMPLER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "capture.h"
#include "ring.h"

/* When the guest is paused for a round (stop ... cont):
 * NEVER   it runs under the reads; a vCPU that moved meanwhile (stack or
 *         frame pointer, CR3, mode) keeps only its leaf (QP_SF_UNSTABLE);
 * ALWAYS  every round (exact chains, a pause per round);
 * AUTO    a round is read with the guest running; when a vCPU moved, read
 *         again running, and if it moved again, taken paused: exact chains,
 *         pauses only for those rounds. */
enum sampler_stop { SAMPLER_STOP_NEVER, SAMPLER_STOP_ALWAYS, SAMPLER_STOP_AUTO };

struct sampler_config {
	const char *qmp_spec;     /* socket path or tcp:HOST:PORT */
	double hz;                /* target sampling rounds per second (all vCPUs each round) */
	uint64_t cpu_mask;        /* bit per vCPU; 0 = all */
	uint32_t stack_bytes;     /* stack copy from sp (default 8192) */
	uint32_t ustack_bytes;    /* user stack copy behind a trap frame (default 4096) */
	enum sampler_mem mem;     /* memsave (local) or HMP x (works over TCP) */
	enum sampler_regs regs;   /* registers from QEMU's memory or the monitor */
	const char *mem_file;     /* DIRECT from QEMU's shared RAM file (--mem file:PATH) */
	int stop;                 /* enum sampler_stop */
	int want_code;            /* capture code bytes at user pcs */
	/* Program matching by whole pages (progmatch.h), or NULL: a new
	 * address space seen at a user pc is probed from the sampler thread
	 * (direct memory reads, or a stopped guest) */
	struct progmatch *progmatch;
	/* Linux x86_64 guest: kernel stacks are this size and aligned to it
	 * (THREAD_SIZE, 16384); the user trap frame is the last 5 words of
	 * the task stack (TSS.sp0 points at the entry trampoline there, so
	 * it is not read).  0 = other kernels: TSS.sp0 as before. */
	uint32_t linux_kstack;
	/* Linux i386 (4; 0 = 8): 8 KiB stacks, 32-bit words, the kernel
	 * above 0xc0000000 (3G/1G split), the iret frame 8 bytes below the
	 * stack top (TOP_OF_KERNEL_STACK_PADDING), user CS 0x73 / SS 0x7b */
	uint8_t linux_ws;
	struct comm_recipe comm[SAMPLER_MAX_CPUS];   /* --comm, per vCPU */
	/* --pid, per vCPU (#15): read right after a successful comm read (the
	 * same registers); when it fails the comm is dropped too, so a name
	 * never travels without its id */
	struct comm_recipe pid[SAMPLER_MAX_CPUS];
	/* Linux: where each vCPU's current kernel stack starts (the recipe's
	 * derefs give the address; len unused): copied before the registers
	 * in the vouched mode */
	struct comm_recipe kstack[SAMPLER_MAX_CPUS];
	/* Linux i386: the current task's active_mm->pgd (a kernel virtual
	 * address, linux_page_offset above its physical one): a task name
	 * read in kernel mode names CR3's address space only when they agree
	 * (not valid: not checked) */
	struct comm_recipe kmm[SAMPLER_MAX_CPUS];
	uint64_t linux_page_offset;
	uint64_t max_samples;     /* stop after this many (0 = no limit) */
	int timeout_ms;           /* per QMP wait */
	/* --launch / --boot: the guest was started with -S and the user asked
	 * us to run it: one round is read while it is still paused (the reset
	 * vector), then the sampler sends "cont" itself.  The only "cont" for
	 * a pause that is not the sampler's own. */
	int boot;
};

enum sampler_state_kind {
	SAMPLER_STARTING, SAMPLER_RUNNING, SAMPLER_PAUSED /* by someone else */,
	SAMPLER_DISCONNECTED, SAMPLER_DONE
};

/* Shared counters, written by the sampler thread, read by anyone. */
struct sampler_stats {
	_Atomic uint64_t samples;     /* pushed into the ring */
	_Atomic uint64_t rounds;
	_Atomic uint64_t errors;      /* failed captures (counted, sample dropped) */
	_Atomic uint64_t stack_fail;
	_Atomic uint64_t unstable;    /* --no-stop: registers moved during the reads */
	_Atomic uint64_t ustack_stale;/* user stack read late: the task had left the
					 kernel since (chain cut at the trap) */
	_Atomic uint64_t run_retries; /* auto: rounds read again running (a vCPU moved) */
	_Atomic uint64_t stop_rounds; /* auto: ... and then taken paused (moved again) */
	_Atomic uint64_t busy_ns;     /* time spent capturing */
	_Atomic int state;            /* enum sampler_state_kind */
	_Atomic int ncpus;
	_Atomic uint64_t cont_ns;     /* boot: CLOCK_MONOTONIC when "cont" was sent */
};

struct sampler;

/* Connect (synchronously, so connection errors are reported before any UI
 * starts), then start the thread.  Returns NULL with a one-line message. */
struct sampler *sampler_start(const struct sampler_config *cfg,
			      struct ring *ring, char *err, size_t errlen);
/* Ask the thread to stop, join it, clean up (resumes the guest only if the
 * sampler itself paused it; removes the memsave directory). */
void sampler_stop(struct sampler *s);
/* Ask the thread to stop and wait for it, keeping stats and the last error
 * readable (sampler_stop then frees). */
void sampler_join(struct sampler *s);
struct sampler_stats *sampler_stats(struct sampler *s);
/* Last error message of the thread (e.g. "QEMU closed the connection"). */
const char *sampler_last_error(struct sampler *s);
void sampler_set_hz(struct sampler *s, double hz);
/* How guest memory and registers are read, and why that way (one line
 * each, for stderr). */
const char *sampler_mem_note(struct sampler *s);
/* Ring slot size needed for cfg's stack sizes. */
size_t sampler_slot_size(const struct sampler_config *cfg);

#endif
