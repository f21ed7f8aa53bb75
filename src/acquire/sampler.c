/* sampler.c - the sampling thread (see sampler.h).
 *
 * One round = one burst of commands in flight at once: [stop] + "info
 * registers -a" + an HMP x at each selected vCPU's own stack pointer (so no
 * round trip to learn sp first) + [in a running round, "info registers -a"
 * again, to see which vCPUs moved under the reads]; then what the burst did
 * not cover (the rest of a deep stack, TSS.sp0, the user stack behind a
 * trap frame, code bytes, --comm), then [cont]; one sample per vCPU into
 * the ring.  The kernel stack copy is clipped at TSS.sp0 (cached per vCPU
 * and CR3) so it ends exactly at the hardware trap frame of a task that
 * entered from ring 3.  --auto-stop takes a round again paused when a vCPU
 * moved in its running attempt.
 *
 * Why bursts and short requests: QEMU's monitor reads a request one byte per
 * system call, so a command costs ~2-4 us per request byte (bench/qmp_bytes.py);
 * how long the guest is paused, or can move under a running read, is the
 * time QEMU takes to read the commands in between. */
#include "sampler.h"
#include "commprog.h"
#include "cpustate.h"
#include "memread.h"
#include "progmatch.h"
#include "qmp.h"
#include "regs.h"
#include "sample.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <locale.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/uio.h>

#define MAX_CPUS SAMPLER_MAX_CPUS
#define CR3_SLOTS 256            /* per-address-space probe bookkeeping */
#define CODE_PROBE_NS 1000000000ull
#define CODE_RETRY_NS 50000000ull
#define CODE_FAST_PROBES 8
#define COMM_PROBE_NS 500000000ull
#define SP0_RECHECK_NS 100000000ull
#define AUTO_GIVE_UP 0.6          /* auto: share of running reads that moved ... */
#define AUTO_PROBE 8              /* ... above which 1 round in 8 tries running */
#define SPEC_SLACK 256           /* bytes asked beyond the last stack depth */
#define SPEC_FIRST 512           /* first ask per vCPU */
#define TRAP_RECHECK 256         /* a Linux task stack's top (pt_regs) read
					    again after the user stack */
#define USTACK_RECHECK 64        /* user stack bytes read again to vouch for it */
#define UHINT_SLOTS 256          /* tasks whose user sp at entry is kept */
#define USPEC_BELOW 256          /* user stack read with the registers: from
					    this far below last round's user sp */
#define SPEC_PAD 64              /* sp&~15 below sp, rounding up to 16 */
/* The upper (kernel) half of a 64-bit address space, 4- or 5-level paging
 * alike (LA57 kernels live from 0xff00000000000000). */
#define KERNEL_HALF 0x8000000000000000ull
#define KERNEL_HALF32 0x80000000ull   /* i386: the kernel is at 0xc0000000 */
#define KSTACK_BELOW 256         /* vouch mode, Linux: bytes kept below a
				    kernel sp (the leaf's frame may be there) */
/* Registers from QEMU's memory: how much of its memory is copied, paused,
 * to find the vCPUs' state in (the heap first, where QEMU 7.2-10.0 keep it) */
#define SNAP_BUDGET (512ull << 20)
#define PRE_BELOW 512            /* vouch mode: the earlier copy starts this far
				    below the previous round's sp */

struct as_entry {                /* per CR3 */
	uint64_t cr3;
	uint64_t code_ns;            /* last code-bytes probe */
	unsigned code_probes;        /* probes made so far */
	uint64_t comm_ns[MAX_CPUS];  /* last --comm read per vCPU: a kernel
					address space is shared by the tasks
					of all vCPUs */
	uint8_t comm_last[MAX_CPUS][QP_COMM_BYTES];  /* what that read gave */
	uint8_t comm_last_len[MAX_CPUS];
	uint8_t comm_agreed[MAX_CPUS];  /* the last two reads gave the same
					   name: read again only every
					   COMM_PROBE_NS (till then every
					   round: a read inside a task switch
					   of a kernel that sets its task word
					   before CR3 names the next task) */
	uint64_t ustack_top;         /* first unreadable byte seen above a user stack */
	uint64_t sp0[MAX_CPUS];      /* TSS.sp0 last read on each vCPU with this
					CR3 live: tasks keep their kernel stack,
					so it rarely needs reading again */
	uint64_t sp0_ns[MAX_CPUS];   /* when it was read */
};

struct sampler {
	struct sampler_config cfg;
	struct ring *ring;
	struct qmp *q;
	struct memread *mr;
	pthread_t thr;
	int started;
	_Atomic int stop_req;
	_Atomic uint64_t period_ns;
	struct sampler_stats st;
	pthread_mutex_t err_lock;
	char last_err[256];

	int ncpus;                   /* vCPUs QEMU has */
	int guest_running;           /* from query-status and events */
	int expect_stop, expect_resume;
	uint64_t seq;
	uint64_t rng;                /* xorshift state for pacing jitter */

	struct qp_regs regs[MAX_CPUS];
	struct qp_regs regs2[MAX_CPUS];  /* --no-stop: the second read */
	int cpu_ids2[MAX_CPUS];
	int cpu_ids[MAX_CPUS];
	uint64_t prev_cr3[MAX_CPUS];  /* CR3 of each vCPU's previous sample */
	int cont_pending;            /* a cont was sent, its reply not read */
	uint64_t cont_id;
	struct as_entry as[CR3_SLOTS];
	uint8_t *buf[MAX_CPUS];      /* per-vCPU sample being built */
	uint8_t *spec[MAX_CPUS];     /* the burst's read at sp (stack_bytes + SPEC_PAD) */
	/* vouch mode: the stack copied just before the registers, around the
	 * previous round's sp (QP_SF_RUNNING samples carry it as stack0) */
	uint8_t *pre[MAX_CPUS];      /* stack_bytes + PRE_BELOW */
	uint64_t pre_addr[MAX_CPUS], pre_cr3[MAX_CPUS], pre_sp[MAX_CPUS];
	long pre_got[MAX_CPUS];
	int pre_kernel[MAX_CPUS];    /* the pre-read is a kernel stack (any CR3) */
	/* vouch mode, Linux: the current task's kernel stack copied the moment
	 * the register reply starts to arrive (closest to the register read) */
	uint8_t *early[MAX_CPUS];    /* stack_bytes + PRE_BELOW */
	uint64_t early_addr[MAX_CPUS];
	long early_got[MAX_CPUS];
	uint64_t early_cr3[MAX_CPUS];  /* the address space it was read in */
	int early_kernel[MAX_CPUS];    /* a kernel stack: valid in any */
	/* Linux: the task stack behind an IRQ stack (becomes stack2) */
	uint8_t *stk2[MAX_CPUS];     /* linux_kstack bytes */
	uint64_t stk2_addr[MAX_CPUS];
	uint32_t stk2_len[MAX_CPUS];
	uint32_t spec_len[MAX_CPUS]; /* bytes the burst asks at sp */
	double moved_avg;            /* auto: recent share of running reads that moved */
	unsigned auto_skip;
	/* The attempt whose reads a round keeps (the last one taken): when it
	 * started, and whether the guest was paused for it.  Pacing counts
	 * the guest's progress from there (see sampler_loop). */
	uint64_t attempt_ns;
	int attempt_paused;
	size_t buf_size;
	/* Registers straight from QEMU's memory (cpustate.h), or NULL: the
	 * monitor's "info registers -a".  Looked for again later (a pause
	 * each) when the first try found equal registers, e.g. at reset. */
	struct cpustate *cs;
	/* Linux, registers from QEMU's memory: the kernel stack each vCPU was
	 * on last round, copied in the same process_vm_readv as its
	 * registers (cpustate_read_with) */
	uint64_t last_ksp[MAX_CPUS];
	uint8_t *kbuf[MAX_CPUS];     /* linux_kstack bytes */
	/* ... and the user stack behind that kernel stack's trap frame, at
	 * the user sp it had last round (a task in a system call loop enters
	 * at the same depth): in the same read, so the user part of a chain
	 * comes from the same moment as its kernel part.  Read later, the
	 * task may have gone back to user mode and entered another system
	 * call: its user stack then shows that call's callers.  Kept per
	 * kernel stack (i.e. per task), for the tasks a vCPU switches among. */
	struct { uint64_t klo, usp, cr3; } uhint[UHINT_SLOTS];
	uint64_t mr_cr3[MAX_CPUS];   /* CR3 of memread's state for each vCPU */
	/* --comm on Linux, registers from QEMU's memory: the guest word
	 * whose value names the running task (the recipe's last load: the
	 * per-CPU current_task), learned from the recipe's reads, and its
	 * value read with the registers */
	uint64_t cur_slot[MAX_CPUS];
	uint8_t cur_t0[MAX_CPUS][8];
	uint8_t cur_t0_ok[MAX_CPUS];
	uint8_t *ubuf[MAX_CPUS];     /* ustack_bytes + USPEC_BELOW */
	uint8_t tbuf[MAX_CPUS][TRAP_RECHECK];  /* the stack's top, read after it */
	uint64_t tbuf_addr[MAX_CPUS];
	uint64_t ubuf_addr[MAX_CPUS], ubuf_cr3[MAX_CPUS];
	long ubuf_got[MAX_CPUS];
	uint32_t ubuf_ask[MAX_CPUS];
	int cs_retries;
	uint64_t cs_retry_ns;
	char regs_note[320];
	char note[1024];
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t xorshift64(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void set_error(struct sampler *s, const char *msg)
{
	pthread_mutex_lock(&s->err_lock);
	snprintf(s->last_err, sizeof s->last_err, "%s", msg);
	pthread_mutex_unlock(&s->err_lock);
}

static struct as_entry *as_get(struct sampler *s, uint64_t cr3)
{
	uint64_t h = (cr3 >> 12) * 0x9e3779b97f4a7c15ull;
	unsigned i = (unsigned)(h >> 56) % CR3_SLOTS;

	for (unsigned k = 0; k < CR3_SLOTS; k++, i = (i + 1) % CR3_SLOTS) {
		if (s->as[i].cr3 == cr3)
			return &s->as[i];
		if (s->as[i].cr3 == 0) {
			s->as[i].cr3 = cr3;
			return &s->as[i];
		}
	}
	/* Table full (thousands of processes): recycle a slot. */
	i = (unsigned)(h >> 56) % CR3_SLOTS;
	memset(&s->as[i], 0, sizeof s->as[i]);
	s->as[i].cr3 = cr3;
	return &s->as[i];
}

/* Drain queued events; returns the number of STOP events seen that we did
 * not expect, updates guest_running. */
static void handle_events(struct sampler *s)
{
	struct qmp_event ev;

	while (qmp_next_event(s->q, &ev) == 1) {
		switch (ev.kind) {
		case QMP_EV_STOP:
			if (s->expect_stop > 0)
				s->expect_stop--;
			s->guest_running = 0;
			break;
		case QMP_EV_RESUME:
			if (s->expect_resume > 0)
				s->expect_resume--;
			s->guest_running = 1;
			break;
		case QMP_EV_SHUTDOWN:
			s->guest_running = 0;
			break;
		case QMP_EV_RESET:
			/* direct reads: RAM may be laid out anew */
			memread_layout_changed(s->mr);
			break;
		default:
			break;
		}
	}
}

static int query_running(struct sampler *s, char *err, size_t errlen)
{
	json_object *ret = NULL, *v;
	int rc = qmp_execute(s->q, "query-status", NULL, &ret, err, errlen);

	if (rc < 0)
		return rc;
	s->guest_running = ret && json_object_object_get_ex(ret, "running", &v) &&
			   json_object_get_boolean(v);
	json_object_put(ret);
	return 0;
}

static int query_cpus(struct sampler *s, char *err, size_t errlen)
{
	json_object *ret = NULL;
	int rc = qmp_execute(s->q, "query-cpus-fast", NULL, &ret, err, errlen);

	if (rc < 0)
		return rc;
	s->ncpus = 0;
	if (ret && json_object_is_type(ret, json_type_array))
		s->ncpus = (int)json_object_array_length(ret);
	json_object_put(ret);
	if (s->ncpus <= 0)
		s->ncpus = 1;
	if (s->ncpus > MAX_CPUS)
		s->ncpus = MAX_CPUS;
	return 0;
}

static int cpu_selected(const struct sampler *s, int cpu)
{
	return s->cfg.cpu_mask == 0 || (cpu < 64 && (s->cfg.cpu_mask >> cpu) & 1);
}

/* ---- #15 program matching by pages (progmatch.c): the reads ---- */
struct pm_rd { struct sampler *s; int cpu; };

static long pm_read(void *ctx, uint64_t addr, void *buf, uint32_t len)
{
	struct pm_rd *r = ctx;
	char err[256];
	long got = memread_virt(r->s->mr, r->cpu, addr, buf, len, err, sizeof err);
	return got < 0 ? -1 : got;
}

/* A new address space at a user pc: read the pages that tell programs
 * apart, when the reads are sure to be of this address space (direct reads
 * translate with the sampled CR3; or the guest is stopped). */
static void pm_hook(struct sampler *s, int cpu, struct qp_sample *smp,
		    uint64_t user_ip, uint64_t user_sp, uint64_t now)
{
	if (!s->cfg.progmatch || (smp->flags & QP_SF_UNSTABLE))
		return;
	uint64_t as = qp_regs_as(&smp->regs);
	if ((memread_mode(s->mr) == SAMPLER_MEM_DIRECT ||
	     (smp->flags & QP_SF_STOPPED)) &&
	    progmatch_wants(s->cfg.progmatch, as, now)) {
		struct pm_rd rd = { s, cpu };
		uint32_t ra;
		/* Linux i386: a trap frame's user pc in no program is mostly
		 * the vDSO's landing pad after sysenter; __kernel_vsyscall's
		 * caller's return address is at sp + 12 (the frame the
		 * symbolizer's vdso_landing walks).  Probed from there too, a
		 * syscall-bound process is not left undecided, its chains cut
		 * at the vDSO, until a sample lands in its own code. */
		if (!progmatch_probe(s->cfg.progmatch, as, user_ip, now, pm_read, &rd) &&
		    user_sp && s->cfg.linux_ws == 4 &&
		    pm_read(&rd, user_sp + 12, &ra, 4) == 4)
			progmatch_probe(s->cfg.progmatch, as, ra, now, pm_read, &rd);
	}
	/* the decision so far goes with the sample (a PIE's load bias the
	 * symbolizer asks the matcher for: it is not in the sample) */
	int idx;
	int64_t bias;
	if (progmatch_lookup_index(s->cfg.progmatch, as, &idx, &bias) == 1)
		smp->prog = (uint32_t)idx + 1;
}

static uint64_t load_word(const uint8_t *p, int ws)
{
	uint64_t v = 0;
	memcpy(&v, p, (size_t)ws);   /* little-endian host and guest */
	return v;
}

/* Linux: the kernel word size (4 on i386) and where kernel addresses start */
static int lk_ws(const struct sampler *s)
{
	return s->cfg.linux_ws == 4 ? 4 : 8;
}

static uint64_t lk_half(const struct sampler *s)
{
	return s->cfg.linux_ws == 4 ? KERNEL_HALF32 : KERNEL_HALF;
}

/* Collect the reply to a cont sent without waiting; a cont that failed is
 * sent again (the guest must not stay paused by us). */
static int finish_cont(struct sampler *s, char *err, size_t errlen)
{
	int rc;

	if (!s->cont_pending)
		return 0;
	s->cont_pending = 0;
	rc = qmp_wait(s->q, s->cont_id, NULL, err, errlen);
	if (rc == QMP_E_ERROR || rc == QMP_E_TIMEOUT) {
		atomic_fetch_add(&s->st.errors, 1);
		set_error(s, err);
		rc = qmp_execute(s->q, "cont", NULL, NULL, err, errlen);
	}
	if (rc == 0) {
		qmp_poll(s->q, 0, err, errlen);
		handle_events(s);
	}
	return rc;
}

/* Wait for the replies of a burst we no longer want (someone else paused
 * the guest), so the next round starts on a clean connection. */
static int drain(struct sampler *s, const uint64_t *ids, int n, char *err,
		 size_t errlen)
{
	for (int i = 0; i < n; i++) {
		char *text = NULL;
		int rc = qmp_hmp_wait(s->q, ids[i], &text, err, errlen);
		free(text);
		if (rc < 0 && rc != QMP_E_ERROR && rc != QMP_E_TIMEOUT)
			return rc;
	}
	return 0;
}

/* Reads after the burst.  A running round checks the registers once more
 * after any of them (see the end of capture_round). */
/* --comm programs read guest memory through this: a connection failure
 * ends the round (fatal), an unmapped address only fails the read. */
struct comm_rd {
	struct sampler *s;
	int cpu;
	long fatal;
	int use_t0;          /* serve the running-task word from cur_t0 */
	int t0_used;
	uint64_t last_addr;  /* the last word loaded: the running-task word */
	char err[256];
};

static long comm_read(void *ctx, uint64_t addr, void *buf, uint32_t len)
{
	struct comm_rd *rd = ctx;
	struct sampler *s = rd->s;
	if (rd->fatal < 0)
		return -1;
	rd->last_addr = addr;
	if (rd->use_t0 && addr == s->cur_slot[rd->cpu] && len <= 8) {
		memcpy(buf, s->cur_t0[rd->cpu], len);
		rd->t0_used = 1;
		return len;
	}
	long got = memread_virt(rd->s->mr, rd->cpu, addr, buf, len, rd->err,
				sizeof rd->err);
	if (got < 0 && got != QMP_E_ERROR)
		rd->fatal = got;
	return got;
}

static int followup_reads(struct sampler *s, struct memread_req *req, size_t n,
			  int *followups, char *err, size_t errlen)
{
	*followups = 1;
	return memread_batch(s->mr, req, n, err, errlen);
}

/* The local side of remote[from, to): consecutive bytes from at.  Returns
 * the byte after the last. */
static uint8_t *iov_local(const struct iovec *remote, struct iovec *local, int from,
			  int to, uint8_t *at)
{
	for (int v = from; v < to; v++) {
		local[v] = (struct iovec){ at, remote[v].iov_len };
		at += remote[v].iov_len;
	}
	return at;
}

/* uhint[] slot of a task, by its kernel stack (Linux only: linux_kstack > 0) */
static unsigned uhint_slot(const struct sampler *s, uint64_t klo)
{
	return (unsigned)(((klo / s->cfg.linux_kstack) * 0x9e3779b97f4a7c15ull) >> 56) %
	       UHINT_SLOTS;
}

/* The sample's copy of its trap frame (with Linux's pt_regs below it):
 * [*lo, *hi) and its bytes, or NULL. */
static const uint8_t *trap_frame_copy(const struct sampler *s, int cpu,
				      const struct qp_sample *smp, uint64_t *lo_out,
				      uint64_t *hi_out)
{
	int ws = qp_regs_wordsize(&smp->regs);
	/* the saved registers below the hardware frame: pt_regs */
	uint64_t below = !s->cfg.linux_kstack ? 0 : ws == 8 ? 16 * 8 : 12 * 4;
	uint64_t tf = smp->trap_addr, lo = tf - below, hi = tf + 5u * (uint64_t)ws;
	const uint8_t *was;

	if (smp->trap_addr >= smp->stack_addr &&
	    hi <= smp->stack_addr + smp->stack_len) {
		if (lo < smp->stack_addr)
			lo = smp->stack_addr;
		was = qp_sample_stack_c(smp) + (lo - smp->stack_addr);
	} else if (s->stk2_len[cpu] && tf >= s->stk2_addr[cpu] &&
		   hi <= s->stk2_addr[cpu] + s->stk2_len[cpu]) {
		if (lo < s->stk2_addr[cpu])
			lo = s->stk2_addr[cpu];
		was = s->stk2[cpu] + (lo - s->stk2_addr[cpu]);
	} else {
		return NULL;
	}
	*lo_out = lo;
	*hi_out = hi;
	return was;
}

/* The trap frame in [addr, +len) (read after the user stack) is the
 * sample's copy of it. */
static int trap_frame_same(const struct sampler *s, int cpu, const struct qp_sample *smp,
			   const uint8_t *buf, uint64_t addr, uint32_t len)
{
	uint64_t lo, hi;
	const uint8_t *was = trap_frame_copy(s, cpu, smp, &lo, &hi);

	return was && lo >= addr && hi <= addr + len &&
	       memcmp(was, buf + (lo - addr), (size_t)(hi - lo)) == 0;
}

/* A running vCPU's user stack read after its registers and kernel stack:
 * still the one its trap frame was entered from?  The task may have gone
 * back to user mode since and entered another system call at the same
 * depth, and its user stack would then show that call's callers under this
 * kernel part, a wrong chain that walks whole.  Going back and entering
 * again rewrite the trap frame (Linux: ax, orig_ax, the arguments in
 * pt_regs), so it is read again and must be the same bytes; with the
 * registers from QEMU's memory (fast), read in the same call, the vCPU
 * must not be in this address space's user mode.  A whole round back to
 * the same call with the same arguments leaves the trap frame as it was
 * (the sampler thread can be preempted for milliseconds between two
 * reads on a busy host): the top of the user stack is read again too, and
 * must be what the copy holds, i.e. that call's callers. */
static int trap_frame_unchanged(struct sampler *s, int cpu, const struct qp_sample *smp,
				int fast)
{
	uint64_t lo, hi;
	const uint8_t *was = trap_frame_copy(s, cpu, smp, &lo, &hi);
	uint8_t now[32 * 8], unow[USTACK_RECHECK];
	uint32_t ulen = smp->ustack_len < USTACK_RECHECK ? smp->ustack_len : USTACK_RECHECK;
	long got, ugot;

	if (!was)
		return 0;
	if (fast) {
		struct iovec rio[CPUSTATE_MAX_IOV], lio[CPUSTATE_MAX_IOV];
		struct qp_regs r2;
		int n = memread_host_iov(s->mr, cpu, lo, (uint32_t)(hi - lo), rio,
					 CPUSTATE_MAX_IOV);
		int nk = n;
		n += memread_host_iov(s->mr, cpu, smp->ustack_addr, ulen, rio + n,
				      CPUSTATE_MAX_IOV - n);
		iov_local(rio, lio, 0, nk, now);
		iov_local(rio, lio, nk, n, unow);
		got = cpustate_read_with(s->cs, cpu, &r2, rio, lio, n);
		if (got >= 0 && r2.cpl == 3 && r2.cr3 == smp->regs.cr3)
			return 0;
		ugot = got - (long)(hi - lo);
		if (got > (long)(hi - lo))
			got = (long)(hi - lo);
	} else {
		char err[128];
		got = memread_virt(s->mr, cpu, lo, now, (uint32_t)(hi - lo), err, sizeof err);
		ugot = memread_virt(s->mr, cpu, smp->ustack_addr, unow, ulen, err, sizeof err);
	}
	return got == (long)(hi - lo) && memcmp(was, now, (size_t)(hi - lo)) == 0 &&
	       ugot == (long)ulen && memcmp(qp_sample_ustack(smp), unow, ulen) == 0;
}

/* Did the vCPU move between the first register read (a) and b?  Then the
 * copied stack may belong to another call chain than a's registers. */
static int regs_moved(const struct qp_regs *a, const struct qp_regs *b)
{
	return !b || !b->valid || a->gpr[QP_RSP] != b->gpr[QP_RSP] ||
	       a->gpr[QP_RBP] != b->gpr[QP_RBP] || a->cr3 != b->cr3 ||
	       a->cpl != b->cpl || a->cs != b->cs;
}

static const struct qp_regs *regs_of(const struct qp_regs *regs, const int *ids,
				     int n, int cpu)
{
	for (int k = 0; k < n; k++)
		if (ids[k] == cpu)
			return &regs[k];
	return NULL;
}

/* Vouch mode: copy each vCPU's stack around its previous stack pointer,
 * just before the register read (the command is sent right after).  Where
 * the vCPU is still on that stack, this copy shows it as it was before the
 * registers were taken; the one after may show it moved on. */
/* Linux: copy the top of vCPU cpu's current task's kernel stack (found
 * through the kstack recipe) into buf.  1 when read. */
static int read_task_stack(struct sampler *s, int cpu, uint8_t *buf,
			   uint64_t *addr, long *got)
{
	const struct comm_recipe *kr = &s->cfg.kstack[cpu];
	uint64_t ks = s->cfg.linux_kstack, len = s->cfg.stack_bytes + PRE_BELOW;
	uint64_t a = kr->addr;
	char err[64];
	int ok = kr->valid && ks;

	int ws = lk_ws(s);
	for (int d = 0; d < kr->nderef && ok; d++) {
		uint8_t w[8] = { 0 };
		ok = memread_virt(s->mr, cpu, a, w, (uint32_t)ws, err, sizeof err) == ws;
		a = load_word(w, ws) + (uint64_t)kr->off[d];
		if (ws == 4)
			a &= 0xffffffffull;
	}
	if (!ok || a < lk_half(s) || (a & (ks - 1)))
		return 0;
	if (len > ks)
		len = ks;
	*addr = a + ks - len;
	*got = memread_virt(s->mr, cpu, *addr, buf, (uint32_t)len, err, sizeof err);
	return *got > 0;
}

/* The stack around vCPU cpu's previous stack pointer into buf: Linux,
 * last seen in the kernel, its current task's stack wherever the previous
 * sample was (the task may have changed since; *kernel = 1: valid in any
 * address space); else from a little below the previous sp. */
static void read_near_prev_sp(struct sampler *s, int cpu, uint8_t *buf,
			      uint64_t *addr, long *got, int *kernel)
{
	char err[64];
	uint64_t psp = s->pre_sp[cpu];

	*got = 0;
	*kernel = 0;
	if (!psp)
		return;
	if (psp >= lk_half(s) && read_task_stack(s, cpu, buf, addr, got)) {
		*kernel = 1;
		return;
	}
	uint64_t lo = (psp & ~(uint64_t)15) - PRE_BELOW;
	uint64_t len = s->cfg.stack_bytes + PRE_BELOW;
	if (s->cfg.linux_kstack && psp >= lk_half(s)) {
		uint64_t top = (psp | (s->cfg.linux_kstack - 1u)) + 1;
		if (top - lo < len)
			len = top - lo;
	}
	*addr = lo;
	*got = memread_virt(s->mr, cpu, lo, buf, (uint32_t)len, err, sizeof err);
}

/* Vouch mode: the register reply is arriving, so QEMU has just read the
 * registers: copy each vCPU's stack now, before the reply is even parsed
 * (the stack pointer is not known yet: where the previous one was, or on
 * Linux the current task's kernel stack).  Where it covers the new stack
 * pointer, this copy is used: it is the closest to the register read. */
static void early_read(struct sampler *s)
{
	for (int cpu = 0; cpu < s->ncpus; cpu++) {
		s->early_got[cpu] = 0;
		/* memread still translates with the previous round's CR3 */
		s->early_cr3[cpu] = s->pre_cr3[cpu];
		if (cpu_selected(s, cpu))
			read_near_prev_sp(s, cpu, s->early[cpu], &s->early_addr[cpu],
					  &s->early_got[cpu], &s->early_kernel[cpu]);
	}
}

static void pre_read(struct sampler *s)
{
	for (int cpu = 0; cpu < s->ncpus; cpu++) {
		s->pre_got[cpu] = 0;
		if (cpu_selected(s, cpu))
			read_near_prev_sp(s, cpu, s->pre[cpu], &s->pre_addr[cpu],
					  &s->pre_got[cpu], &s->pre_kernel[cpu]);
	}
}

/* ---- registers straight from QEMU's memory (cpustate.h) ---- */

/* halted is CPUState's, not in CPUX86State: a TCG vCPU that ran hlt stops
 * with rip just past it (helper_hlt), and one woken leaves at once for its
 * interrupt handler; an application processor waiting for its startup IPI
 * rests at the reset vector. */
static int looks_halted(struct sampler *s, int cpu, const struct qp_regs *r)
{
	uint8_t b = 0;
	char err[128];
	uint64_t at;

	if (r->cpl != 0 || r->ip == 0)
		return 0;
	if (!(r->cr0 & 1)) {
		if (cpu > 0 && r->cs == 0xf000 && r->ip == 0xfff0)
			return 1;
		at = ((uint64_t)r->cs << 4) + r->ip - 1;
	} else {
		at = r->ip - 1;
	}
	return memread_virt(s->mr, cpu, at, &b, 1, err, sizeof err) == 1 && b == 0xf4;
}

/* Every vCPU's registers again (--no-stop: did they move under the
 * reads?).  Returns how many, or -1 when a read failed. */
static int read_regs_direct(struct sampler *s, struct qp_regs *out, int *ids)
{
	int n = 0;

	for (int cpu = 0; cpu < s->ncpus; cpu++) {
		if (cpustate_read(s->cs, cpu, &out[n]) < 0)
			return -1;
		ids[n++] = cpu;
	}
	return n;
}

static void compose_note(struct sampler *s)
{
	snprintf(s->note, sizeof s->note, "%s\n%s", memread_note(s->mr), s->regs_note);
}

/* A direct register read failed (QEMU gone, or its CPU object freed): back
 * to the monitor, which also tells a closed connection apart. */
static int regs_direct_lost(struct sampler *s, char *err, size_t errlen)
{
	cpustate_free(s->cs);
	s->cs = NULL;
	snprintf(s->regs_note, sizeof s->regs_note,
		 "registers: the monitor (reading them from QEMU's memory failed)");
	compose_note(s);
	snprintf(err, errlen, "reading the vCPUs' registers from QEMU's memory failed; "
		 "using the monitor");
	return QMP_E_ERROR;
}

static int query_kvm(struct sampler *s)
{
	json_object *ret = NULL, *v;
	char err[128];
	int on;

	if (qmp_execute(s->q, "query-kvm", NULL, &ret, err, sizeof err) < 0)
		return 0;
	on = ret && json_object_object_get_ex(ret, "enabled", &v) &&
	     json_object_get_boolean(v);
	json_object_put(ret);
	return on;
}

/* Find each vCPU's CPUX86State: the monitor's registers read with the guest
 * paused (exact), looked up in QEMU's memory.  A guest that runs is paused
 * for it once (stop ... cont, a few ms, said in the note); one paused by
 * someone else is read as it is.  Returns 0 (found or not: the note says
 * which and why), or -1 with err when --regs direct cannot be had or the
 * connection failed. */
static int regs_direct_setup(struct sampler *s, char *err, size_t errlen)
{
	char why[256] = "";
	char *text = NULL;
	struct qp_regs regs[MAX_CPUS];
	int ids[MAX_CPUS], n = 0, rc = 0, we_stopped = 0, npause = 0;
	uint64_t skip[64][2], t0, paused_ns = 0;
	struct cpustate_snap *snap = NULL;
	int nskip, pid = memread_qemu_pid(s->mr);

	if (s->cfg.regs == SAMPLER_REGS_MONITOR) {
		snprintf(s->regs_note, sizeof s->regs_note,
			 "registers: the monitor (--regs monitor)");
		goto done;
	}
	if (!pid) {
		snprintf(why, sizeof why, "guest memory is not read from QEMU's process");
		goto none;
	}
	if (query_kvm(s)) {
		snprintf(why, sizeof why, "under KVM the registers live in the kernel");
		goto none;
	}
	t0 = now_ns();
	/* Three ways, the shortest pause first: (0) the places whose CR0/CR4
	 * match, found with the guest running, copied paused in one read;
	 * (1) a paused copy of the heap; (2) of all QEMU's anonymous memory. */
	for (int pass = s->guest_running ? 0 : 1; pass < 3 && !s->cs; pass++) {
		uint64_t t1, cand[64];
		int ncand = 0;

		nskip = memread_ram_ranges(s->mr, skip, 64);
		if (pass == 0) {
			rc = qmp_hmp(s->q, "info registers -a", -1, &text, err, errlen);
			if (rc < 0)
				return -1;
			n = regs_parse_all(text, strlen(text), regs, ids, MAX_CPUS);
			free(text);
			ncand = n > 0 ? cpustate_candidates(pid, (const uint64_t (*)[2])skip, nskip,
							    SNAP_BUDGET, regs, n, cand, 64, why,
							    sizeof why) : 0;
			if (ncand <= 0)
				continue;
		}
		t1 = now_ns();
		we_stopped = 0;
		if (s->guest_running) {
			s->expect_stop++;
			rc = qmp_execute(s->q, "stop", NULL, NULL, err, errlen);
			if (rc < 0)
				return -1;
			qmp_poll(s->q, 0, err, errlen);
			handle_events(s);
			/* our STOP event comes before the reply; none: someone
			 * else had paused it, and it stays paused */
			we_stopped = s->expect_stop == 0;
			s->expect_stop = 0;
		}
		rc = qmp_hmp(s->q, "info registers -a", -1, &text, err, errlen);
		if (rc >= 0) {
			n = regs_parse_all(text, strlen(text), regs, ids, MAX_CPUS);
			free(text);
			snap = pass == 0 ? cpustate_snapshot_at(pid, cand, ncand, why, sizeof why) :
			       cpustate_snapshot(pid, (const uint64_t (*)[2])skip, nskip,
						 pass == 2 ? SNAP_BUDGET : 1, why, sizeof why);
		}
		if (we_stopped) {
			s->expect_resume++;
			int rc2 = qmp_execute(s->q, "cont", NULL, NULL, err, errlen);
			paused_ns += now_ns() - t1;
			npause++;
			if (rc2 < 0) {
				cpustate_snap_free(snap);
				return -1;
			}
		}
		qmp_poll(s->q, 0, err, errlen);
		handle_events(s);
		if (rc < 0) {
			cpustate_snap_free(snap);
			return -1;
		}
		if (snap && n != s->ncpus)
			snprintf(why, sizeof why, "the monitor listed %d of %d vCPUs", n,
				 s->ncpus);
		else if (snap)
			s->cs = cpustate_find(snap, regs, ids, n, why, sizeof why);
		cpustate_snap_free(snap);
		snap = NULL;
		if (!s->cs && strstr(why, " places"))
			break;    /* ambiguous: another copy will not help */
	}
	if (s->cs) {
		snprintf(s->regs_note, sizeof s->regs_note,
			 "registers: read from QEMU's memory (each vCPU's CPUX86State, "
			 "found in a %llu KiB copy%s%.1f ms); no monitor command per round",
			 (unsigned long long)(cpustate_scanned(s->cs) >> 10),
			 npause == 1 ? " taken with the guest paused once for " :
			 npause ? " taken with the guest paused twice for " : " in ",
			 (double)(npause ? paused_ns : now_ns() - t0) / 1e6);
		goto done;
	}
	/* equal registers (a guest at reset): look again once it runs */
	if (strstr(why, "match") && s->cs_retries < 2) {
		s->cs_retries++;
		s->cs_retry_ns = now_ns() + 1000000000ull * (uint64_t)s->cs_retries;
	}
none:
	if (s->cfg.regs == SAMPLER_REGS_DIRECT) {
		snprintf(err, errlen, "--regs direct: %s", why);
		return -1;
	}
	snprintf(s->regs_note, sizeof s->regs_note, "registers: the monitor (%s)", why);
done:
	compose_note(s);
	return 0;
}

/* Capture one round of all selected vCPUs into s->buf, with the guest paused
 * around it (stop) or running.  Returns how many vCPUs were captured (their
 * indexes into s->regs/s->cpu_ids in sel), 0 when none were (a failed
 * command, counted; or a guest someone else paused), or a negative qmp_err
 * when the connection is gone.  Running: *nmoved counts the vCPUs whose
 * registers moved under the reads (flagged QP_SF_UNSTABLE, leaf only); with
 * bail the capture stops as soon as one is seen (it will be redone). */
static int capture_round(struct sampler *s, int stop, int bail, int *sel,
			 int *nmoved)
{
	char err[256];
	char *text = NULL;
	int rc, n, n2 = 0, we_stopped = 0, followups = 0;
	int nsel = 0;
	/* stop 2: the guest is paused already (boot): read it as paused,
	 * without a stop or a cont of ours */
	int held = stop == 2;
	struct memread_req req[MAX_CPUS * 2];
	size_t nreq;
	uint64_t t_regs;
	uint64_t id_stop = 0, ids[MAX_CPUS + 2];
	int nids = 0;
	int spec_cpu[MAX_CPUS], spec_idx[MAX_CPUS], nspec = 0;
	/* Direct reads: the stacks are read straight after the registers
	 * (microseconds, no monitor), so a round is one "info registers -a",
	 * the reads, and in a running round "info registers -a" again. */
	int direct = memread_mode(s->mr) == SAMPLER_MEM_DIRECT;
	/* Direct and --auto-stop: one "info registers -a" and the reads, no
	 * second register read and never a pause.  The stacks are copied
	 * microseconds after the registers, but the guest runs on: each chain
	 * is vouched for by the consumer instead (QP_SF_RUNNING: every return
	 * address must follow a call that leads to its callee), and cut where
	 * one is not. */
	int vouch = direct && !stop && s->cfg.stop == SAMPLER_STOP_AUTO;
	/* Registers from QEMU's memory: no monitor command in the round at
	 * all (only stop/cont in paused rounds) */
	int fast = s->cs != NULL && direct;
	long spec_got[MAX_CPUS];
	uint64_t spec_a0[MAX_CPUS];
	uint32_t spec_ask[MAX_CPUS];

	/* The reply to the previous round's cont (sent without waiting). */
	rc = finish_cont(s, err, sizeof err);
	if (rc < 0)
		goto fail;
	s->attempt_ns = now_ns();
	s->attempt_paused = stop;
	/* The burst: [stop], the registers, a stack read at each vCPU's own
	 * stack pointer (HMP x $esp, so no round trip to learn sp first) and,
	 * in --no-stop, the registers again.  All in flight at once: QEMU
	 * runs them back to back, so the pause (--stop), or the window in
	 * which a running guest can move under the reads (--no-stop), is only
	 * as long as QEMU takes to run them.  Reads that turn out short are
	 * completed afterwards (rare: the ask follows the stack's depth). */
	if (stop && !held) {
		s->expect_stop++;
		rc = qmp_send(s->q, "stop", NULL, &id_stop, err, sizeof err);
		if (rc < 0)
			goto fail;
	}
	/* the copy before the registers: a second witness for the vouched
	 * walk when the registers take a monitor command; read from QEMU's
	 * memory, the stack comes with them and this one only costs rate
	 * (measured on Linux: 2,160 vs 2,600 samples/s, whole chains 91 vs
	 * 93 %) */
	if (vouch && !fast)
		pre_read(s);
	if (!fast) {
		rc = qmp_hmp_send(s->q, "info registers -a", -1, &ids[nids++], err,
				  sizeof err);
		if (rc < 0)
			goto fail;
	}
	for (int cpu = 0; cpu < s->ncpus; cpu++) {
		spec_idx[cpu] = -1;
		if (!cpu_selected(s, cpu))
			continue;
		spec_ask[nspec] = s->spec_len[cpu];
		/* direct: read right after the registers, below */
		if (!direct) {
			rc = memread_send_at_sp(s->mr, cpu, spec_ask[nspec], &ids[nids++],
						err, sizeof err);
			if (rc < 0)
				goto fail;
		}
		spec_idx[cpu] = nspec;
		spec_cpu[nspec++] = cpu;
	}
	if (!stop && !direct) {
		rc = qmp_hmp_send(s->q, "info registers -a", -1, &ids[nids++], err, sizeof err);
		if (rc < 0)
			goto fail;
	}
	if (stop && !held) {
		rc = qmp_wait(s->q, id_stop, NULL, err, sizeof err);
		if (rc < 0) {
			int rc2 = drain(s, ids, nids, err, sizeof err);
			if (rc2 < 0)
				rc = rc2;
			goto fail;
		}
		qmp_poll(s->q, 0, err, sizeof err);
		handle_events(s);
		/* Our stop produced a STOP event (QEMU sends it before the
		 * reply).  If none came, someone else had already paused the
		 * guest: leave it paused and don't sample. */
		if (s->expect_stop > 0) {
			s->expect_stop = 0;
			s->guest_running = 0;
			rc = drain(s, ids, nids, err, sizeof err);
			return rc < 0 ? rc : 0;
		}
		we_stopped = 1;
	}
	memset(s->cur_t0_ok, 0, sizeof s->cur_t0_ok);
	if (fast) {
		/* Each vCPU's registers and, at once, its stack: the guest
		 * runs on, and the microseconds between the two reads are
		 * what a running chain's first frames must survive. */
		n = 0;
		for (int cpu = 0; cpu < s->ncpus; cpu++) {
			struct qp_regs *r = &s->regs[n];
			int i = spec_idx[cpu];
			uint32_t ask;
			struct iovec rio[CPUSTATE_MAX_IOV], lio[CPUSTATE_MAX_IOV];
			int nio = 0;
			long kgot = 0;
			uint64_t klo = 0, kpg = 0, kup = 0, kvalid_lo = 0, kvalid_hi = 0;

			/* Linux: the kernel stack this vCPU was on last goes
			 * with the registers (translated with the last state
			 * given: kernel mappings are the same in every CR3).
			 * Found on another one (a task switch, an interrupt,
			 * back from user mode): read once more, with that
			 * stack, so registers and stack still come from one
			 * moment, a few microseconds later. */
			int moved_retries = 0;
			for (int attempt = 0; attempt < 2; attempt++) {
				int t_asked = 0;
				/* First the word that says which task runs
				 * (--comm's last load, e.g. Linux's current_task):
				 * the name is then the one of the task these
				 * registers belong to, however late it is read */
				int sio = 0, ws_c = s->cfg.comm[cpu].wordsize == 4 ? 4 : 8;
				s->cur_t0_ok[cpu] = 0;
				if (s->cur_slot[cpu]) {
					sio = memread_host_iov(s->mr, cpu, s->cur_slot[cpu],
							       (uint32_t)ws_c, rio, 2);
					uint8_t *end = iov_local(rio, lio, 0, sio, s->cur_t0[cpu]);
					if (end != s->cur_t0[cpu] + ws_c)
						sio = 0;
				}
				nio = sio;
				kvalid_lo = kvalid_hi = 0;
				if (i >= 0 && s->kbuf[cpu] && s->last_ksp[cpu]) {
					/* The page sp was on and those above it
					 * first: the frames are there, and the
					 * kernel copies the ranges in this order */
					uint64_t ks = s->cfg.linux_kstack;
					uint64_t pg = s->last_ksp[cpu] & ~(uint64_t)4095;
					klo = s->last_ksp[cpu] & ~(ks - 1);
					int nup = memread_host_iov(s->mr, cpu, pg,
								   (uint32_t)(klo + ks - pg), rio + sio,
								   CPUSTATE_MAX_IOV - sio);
					size_t up = 0;
					for (int v = sio; v < sio + nup; v++)
						up += rio[v].iov_len;
					nio = sio + nup;
					if (up == klo + ks - pg && pg > klo)
						nio += memread_host_iov(s->mr, cpu, klo,
									(uint32_t)(pg - klo),
									rio + nio,
									CPUSTATE_MAX_IOV - nio);
					iov_local(rio, lio, sio, sio + nup, s->kbuf[cpu] + (pg - klo));
					iov_local(rio, lio, sio + nup, nio, s->kbuf[cpu]);
					kup = up;
					kpg = pg;
				}
				/* the user stack behind it, where it was last
				 * round (attempt 0: translated with last round's
				 * CR3, the one it was seen in) */
				int kio = nio;
				unsigned hs = s->ubuf[cpu] ? uhint_slot(s, klo) : 0;
				s->ubuf_got[cpu] = 0;
				if (kio > sio && s->ubuf[cpu] && s->uhint[hs].klo == klo &&
				    s->uhint[hs].cr3 == s->mr_cr3[cpu]) {
					uint64_t usp = s->uhint[hs].usp;
					uint64_t ua = usp > USPEC_BELOW ?
						      (usp - USPEC_BELOW) & ~(uint64_t)15 : 0;
					uint32_t ulen = s->cfg.ustack_bytes + USPEC_BELOW;
					int nu = memread_host_iov(s->mr, cpu, ua, ulen, rio + nio,
								  CPUSTATE_MAX_IOV - nio);
					uint8_t *at = iov_local(rio, lio, nio, nio + nu, s->ubuf[cpu]);
					nio += nu;
					s->ubuf_addr[cpu] = ua;
					s->ubuf_cr3[cpu] = s->mr_cr3[cpu];
					s->ubuf_ask[cpu] = (uint32_t)(at - s->ubuf[cpu]);
					/* and the trap frame once more, after it:
					 * unchanged, the task was in the same
					 * system call all along (a write then a
					 * read can be a few hundred instructions
					 * apart, a few microseconds) */
					uint64_t pa = klo + s->cfg.linux_kstack - TRAP_RECHECK;
					int np = nu ? memread_host_iov(s->mr, cpu, pa, TRAP_RECHECK,
								       rio + nio,
								       CPUSTATE_MAX_IOV - nio) : 0;
					if (np == 1 && rio[nio].iov_len == TRAP_RECHECK) {
						lio[nio] = (struct iovec){ s->tbuf[cpu], TRAP_RECHECK };
						nio++;
						s->tbuf_addr[cpu] = pa;
						t_asked = 1;
					}
				}
				kgot = cpustate_read_with(s->cs, cpu, r, rio, lio, nio);
				if (kgot < 0) {
					rc = regs_direct_lost(s, err, sizeof err);
					goto fail;
				}
				if (sio && kgot >= ws_c) {
					s->cur_t0_ok[cpu] = 1;
					kgot -= ws_c;
				} else if (sio) {
					kgot = 0;
				}
				/* what of the stack came with them: from sp's
				 * page up, and the pages below when whole */
				if (kio > sio && (uint64_t)kgot >= kup) {
					size_t kall = 0;
					for (int v = sio; v < kio; v++)
						kall += rio[v].iov_len;
					uint64_t kk = (uint64_t)kgot < kall ? (uint64_t)kgot : kall;
					kvalid_lo = kk - kup >= kpg - klo ? klo : kpg;
					kvalid_hi = kpg + kup;
					if (nio > kio && (uint64_t)kgot > kall)
						s->ubuf_got[cpu] = (long)((uint64_t)kgot - kall);
					/* the user stack counts only with the trap
					 * frame read after it, the same as before it */
					int t_same = 0;
					if (t_asked && s->ubuf_got[cpu] ==
					    (long)s->ubuf_ask[cpu] + TRAP_RECHECK &&
					    kvalid_hi == klo + s->cfg.linux_kstack) {
						t_same = memcmp(s->kbuf[cpu] + s->cfg.linux_kstack -
								TRAP_RECHECK, s->tbuf[cpu],
								TRAP_RECHECK) == 0;
						if (!t_same && moved_retries++ < 1) {
							/* left its system call while
							 * read: once more, a few us on */
							atomic_fetch_add(&s->st.run_retries, 1);
							attempt--;
							continue;
						}
					}
					s->ubuf_got[cpu] = t_same ? (long)s->ubuf_ask[cpu] : 0;
				}
				if (i < 0 || !s->kbuf[cpu] || r->cpl != 0 ||
				    r->gpr[QP_RSP] < lk_half(s))
					break;
				if (r->gpr[QP_RSP] >= kvalid_lo && r->gpr[QP_RSP] < kvalid_hi)
					break;
				if (attempt == 0) {
					/* the new stack translates with the new state */
					memread_set_cpu_state(s->mr, cpu, r);
					s->mr_cr3[cpu] = r->cr3;
					s->last_ksp[cpu] = r->gpr[QP_RSP];
				}
			}
			s->cpu_ids[n++] = cpu;
			if (i < 0)
				continue;
			memread_set_cpu_state(s->mr, cpu, r);
			s->mr_cr3[cpu] = r->cr3;
			ask = (spec_ask[i] + 15) & ~15u;
			if (ask > s->cfg.stack_bytes + SPEC_PAD)
				ask = s->cfg.stack_bytes + SPEC_PAD;
			spec_a0[i] = r->gpr[QP_RSP] & ~(uint64_t)15;
			s->last_ksp[cpu] = s->kbuf[cpu] && r->cpl == 0 &&
					   r->gpr[QP_RSP] >= lk_half(s) ? r->gpr[QP_RSP] : 0;
			if (r->cpl == 0 && spec_a0[i] >= kvalid_lo && spec_a0[i] < kvalid_hi) {
				/* on the same stack: up to its top (or the copy's
				 * room), so nothing of it is read later */
				uint64_t have = kvalid_hi - spec_a0[i];
				if (have > s->cfg.stack_bytes + SPEC_PAD)
					have = s->cfg.stack_bytes + SPEC_PAD;
				memcpy(s->spec[cpu], s->kbuf[cpu] + (spec_a0[i] - klo), have);
				spec_got[i] = (long)have;
				spec_ask[i] = (uint32_t)have;
			} else {
				spec_got[i] = memread_virt(s->mr, cpu, spec_a0[i], s->spec[cpu],
							   ask, err, sizeof err);
			}
			if (spec_got[i] < 0 && spec_got[i] != QMP_E_ERROR) {
				rc = (int)spec_got[i];
				goto fail;
			}
			r->halted = (uint8_t)looks_halted(s, cpu, r);
		}
		t_regs = now_ns();
	} else {
		if (vouch &&
		    qmp_wait_readable(s->q, s->cfg.timeout_ms > 0 ? s->cfg.timeout_ms : 3000) > 0)
			early_read(s);
		rc = qmp_hmp_wait(s->q, ids[0], &text, err, sizeof err);
		if (rc < 0) {
			if (rc == QMP_E_ERROR || rc == QMP_E_TIMEOUT) {
				int rc2 = drain(s, ids + 1, nids - 1, err, sizeof err);
				if (rc2 < 0)
					rc = rc2;
			}
			goto fail;
		}
		t_regs = now_ns();
		n = regs_parse_all(text, strlen(text), s->regs, s->cpu_ids, MAX_CPUS);
		free(text);
		text = NULL;
	}
	if (direct) {
		for (int k = 0; k < n && !fast; k++)
			if (s->regs[k].valid)
				memread_set_cpu_state(s->mr, s->cpu_ids[k], &s->regs[k]);
		for (int i = 0; i < nspec && !fast; i++) {
			const struct qp_regs *r = regs_of(s->regs, s->cpu_ids, n, spec_cpu[i]);
			uint32_t ask = (spec_ask[i] + 15) & ~15u;

			spec_got[i] = QMP_E_ERROR;
			spec_a0[i] = 0;
			if (!r || !r->valid)
				continue;
			if (ask > s->cfg.stack_bytes + SPEC_PAD)
				ask = s->cfg.stack_bytes + SPEC_PAD;
			spec_a0[i] = r->gpr[QP_RSP] & ~(uint64_t)15;
			int c = spec_cpu[i];
			uint64_t ea = s->early_addr[c];
			if (vouch && s->early_got[c] > 0 && spec_a0[i] >= ea &&
			    spec_a0[i] < ea + (uint64_t)s->early_got[c] &&
			    (s->early_kernel[c] || s->early_cr3[c] == r->cr3)) {
				/* copied as the reply arrived: closer to the
				 * register read than a read now */
				uint64_t have = ea + (uint64_t)s->early_got[c] - spec_a0[i];
				if (have > ask)
					have = ask;
				memcpy(s->spec[c], s->early[c] + (spec_a0[i] - ea), have);
				spec_got[i] = (long)have;
			} else {
				spec_got[i] = memread_virt(s->mr, c, spec_a0[i],
							   s->spec[c], ask, err, sizeof err);
			}
			if (spec_got[i] < 0 && spec_got[i] != QMP_E_ERROR) {
				rc = (int)spec_got[i];
				goto fail;
			}
		}
		if (!stop && !vouch && fast) {
			n2 = read_regs_direct(s, s->regs2, s->cpu_ids2);
			if (n2 < 0) {
				rc = regs_direct_lost(s, err, sizeof err);
				goto fail;
			}
		} else if (!stop && !vouch) {
			rc = qmp_hmp_send(s->q, "info registers -a", -1, &ids[nids++],
					  err, sizeof err);
			if (rc < 0)
				goto fail;
		}
	}
	for (int i = 0; i < nspec && !direct; i++) {
		spec_a0[i] = 0;
		spec_got[i] = memread_wait_at_sp(s->mr, ids[1 + i], &spec_a0[i],
						 s->spec[spec_cpu[i]], s->cfg.stack_bytes + SPEC_PAD,
						 err, sizeof err);
		if (spec_got[i] < 0 && spec_got[i] != QMP_E_ERROR) {
			rc = (int)spec_got[i];
			goto fail;
		}
	}
	if (!stop && !vouch && !fast) {
		rc = qmp_hmp_wait(s->q, ids[nids - 1], &text, err, sizeof err);
		if (rc < 0 && rc != QMP_E_ERROR)
			goto fail;
		n2 = rc < 0 ? 0 : regs_parse_all(text, strlen(text), s->regs2,
						 s->cpu_ids2, MAX_CPUS);
		free(text);
		text = NULL;
	}

	for (int k = 0; k < n; k++) {
		int cpu = s->cpu_ids[k];
		if (cpu >= 0 && cpu < s->ncpus && cpu_selected(s, cpu) && s->regs[k].valid)
			sel[nsel++] = k;
	}
	for (int j = 0; j < nsel; j++) {
		int k = sel[j], cpu = s->cpu_ids[k];
		const struct qp_regs *r = &s->regs[k];
		struct qp_sample *smp = (struct qp_sample *)s->buf[cpu];
		int si = spec_idx[cpu];

		memset(smp, 0, sizeof *smp);
		smp->cpu = (uint32_t)cpu;
		smp->t_ns = t_regs;
		smp->regs = *r;
		smp->stack_addr = r->gpr[QP_RSP];
		if (we_stopped || held)
			smp->flags |= QP_SF_STOPPED;
		if (r->halted)
			smp->flags |= QP_SF_IDLE;
		/* --no-stop: registers moved between the two reads, or the
		 * stack was read at another sp: keep only the leaf (cut
		 * cleanly rather than filled with the wrong callers), and
		 * read nothing more for it. */
		if (vouch) {
			if (si < 0 || spec_got[si] <= 0)
				smp->flags |= QP_SF_UNSTABLE;
			else
				smp->flags |= QP_SF_RUNNING;
		} else if (!stop &&
		    (regs_moved(r, regs_of(s->regs2, s->cpu_ids2, n2, cpu)) ||
		     si < 0 || spec_got[si] <= 0 ||
		     spec_a0[si] != (r->gpr[QP_RSP] & ~(uint64_t)15)))
			smp->flags |= QP_SF_UNSTABLE;
		if (smp->flags & QP_SF_UNSTABLE)
			++*nmoved;
	}
	if (bail && *nmoved)
		return nsel;

	/* Phase 0: TSS.sp0 of kernel-mode vCPUs whose cache does not cover
	 * the current stack pointer (a task switch happened). */
	uint8_t sp0buf[MAX_CPUS][8];
	nreq = 0;
	for (int j = 0; j < nsel; j++) {
		int k = sel[j], cpu = s->cpu_ids[k];
		const struct qp_regs *r = &s->regs[k];
		uint64_t sp0 = as_get(s, r->cr3)->sp0[cpu];
		uint64_t sp = r->gpr[QP_RSP];

		if (r->cpl != 0 || r->tr_base == 0 || s->cfg.linux_kstack)
			continue;
		if (((struct qp_sample *)s->buf[cpu])->flags & QP_SF_UNSTABLE)
			continue;
		if (sp0 > sp && sp0 - sp <= s->cfg.stack_bytes)
			continue;
		/* A kernel thread's stack is not the one TSS.sp0 names: having
		 * just seen that, don't pay a read per sample for it. */
		if (t_regs - as_get(s, r->cr3)->sp0_ns[cpu] < SP0_RECHECK_NS)
			continue;
		memset(sp0buf[cpu], 0, 8);
		req[nreq++] = (struct memread_req){ .cpu = cpu, .addr = r->tr_base + 4,
			.len = 8, .buf = sp0buf[cpu] };
	}
	if (nreq) {
		rc = followup_reads(s, req, nreq, &followups, err, sizeof err);
		if (rc < 0)
			goto fail;
		for (size_t i = 0; i < nreq; i++) {
			int cpu = req[i].cpu;
			int k = -1;
			for (int j = 0; j < nsel; j++)
				if (s->cpu_ids[sel[j]] == cpu)
					k = sel[j];
			as_get(s, s->regs[k].cr3)->sp0_ns[cpu] = t_regs;
			as_get(s, s->regs[k].cr3)->sp0[cpu] = req[i].got == 8 ?
				load_word(sp0buf[cpu], qp_regs_wordsize(&s->regs[k])) : 0;
		}
	}

	/* Phase 1: the stacks, from sp up to where this stack ends: taken from
	 * the burst's read, the part it did not cover read now. */
	nreq = 0;
	for (int j = 0; j < nsel; j++) {
		int k = sel[j], cpu = s->cpu_ids[k], si = spec_idx[cpu];
		const struct qp_regs *r = &s->regs[k];
		struct qp_sample *smp = (struct qp_sample *)s->buf[cpu];
		uint64_t sp = r->gpr[QP_RSP];
		uint64_t len = s->cfg.stack_bytes, have = 0;
		int hole = 0;

		if (smp->flags & QP_SF_UNSTABLE)
			continue;
		if (r->cpl == 0 && s->cfg.linux_kstack) {
			/* up to the top of this (task or IRQ) stack */
			uint64_t top = (sp | (s->cfg.linux_kstack - 1u)) + 1;
			if (top - sp < len)
				len = top - sp;
		} else if (r->cpl == 0) {
			uint64_t sp0 = as_get(s, r->cr3)->sp0[cpu];
			if (sp0 > sp && sp0 - sp <= len)
				len = sp0 - sp;
		} else {
			const struct as_entry *a = as_get(s, r->cr3);
			if (a->ustack_top > sp && a->ustack_top - sp < len)
				len = a->ustack_top - sp;
		}
		if (si >= 0 && spec_got[si] > 0 && spec_a0[si] == (sp & ~(uint64_t)15) &&
		    (uint64_t)spec_got[si] > sp - spec_a0[si]) {
			uint64_t off = sp - spec_a0[si];
			have = (uint64_t)spec_got[si] - off;
			if (have > len)
				have = len;
			memcpy(qp_sample_stack(smp), s->spec[cpu] + off, have);
			/* ended early at an unmapped line: that is the stack's end */
			hole = (uint64_t)spec_got[si] < (uint64_t)(spec_ask[si] + 15) / 16 * 16;
		}
		smp->stack_len = (uint32_t)have;
		if (have < len && hole) {
			smp->flags |= QP_SF_STACK_CLIPPED;
			if (r->cpl == 3)
				as_get(s, r->cr3)->ustack_top = sp + have;
		} else if (have < len) {
			req[nreq++] = (struct memread_req){ .cpu = cpu, .addr = sp + have,
				.len = (uint32_t)(len - have),
				.buf = qp_sample_stack(smp) + have };
		}
	}
	if (nreq) {
		rc = followup_reads(s, req, nreq, &followups, err, sizeof err);
		if (rc < 0)
			goto fail;
		for (size_t i = 0; i < nreq; i++) {
			struct qp_sample *smp = (struct qp_sample *)s->buf[req[i].cpu];
			if (req[i].got > 0)
				smp->stack_len += (uint32_t)req[i].got;
			if (req[i].got < (long)req[i].len) {
				smp->flags |= QP_SF_STACK_CLIPPED;
				if (smp->regs.cpl == 3)
					as_get(s, smp->regs.cr3)->ustack_top =
						smp->stack_addr + smp->stack_len;
			}
		}
	}
	/* Vouch mode, a Linux kernel stack: keep some of the early copy below
	 * sp too.  rsp and rip of a running vCPU are read at different
	 * moments, and the frame rip belongs to may lie below the rsp read:
	 * the consumer looks for its return address there. */
	for (int j = 0; vouch && s->cfg.linux_kstack && j < nsel; j++) {
		int cpu = s->cpu_ids[sel[j]];
		struct qp_sample *smp = (struct qp_sample *)s->buf[cpu];
		uint64_t sp = smp->stack_addr, ea = s->early_addr[cpu];
		uint64_t base = sp & ~(uint64_t)(s->cfg.linux_kstack - 1u);

		if (!(smp->flags & QP_SF_RUNNING) || smp->regs.cpl != 0 ||
		    !smp->stack_len || s->early_got[cpu] <= 0 ||
		    (!s->early_kernel[cpu] && s->early_cr3[cpu] != smp->regs.cr3) ||
		    sp < ea || sp > ea + (uint64_t)s->early_got[cpu])
			continue;
		uint64_t below = KSTACK_BELOW;
		if (sp - ea < below)
			below = sp - ea;
		if (sp - base < below)
			below = sp - base;
		below &= ~(uint64_t)7;
		if (!below)
			continue;
		uint8_t *st = qp_sample_stack(smp);
		memmove(st + below, st, smp->stack_len);
		memcpy(st, s->early[cpu] + (sp - below - ea), below);
		smp->stack_addr = sp - below;
		smp->stack_len += (uint32_t)below;
	}

	/* Next round's ask per vCPU: this stack's depth plus slack, falling
	 * slowly, so a deeper chain next time rarely needs a second read. */
	for (int j = 0; j < nsel; j++) {
		int cpu = s->cpu_ids[sel[j]];
		const struct qp_sample *smp = (const struct qp_sample *)s->buf[cpu];
		uint32_t want, cur = s->spec_len[cpu];

		if (smp->flags & QP_SF_UNSTABLE)
			continue;
		want = (uint32_t)((smp->stack_addr & 15) + smp->stack_len + SPEC_SLACK + 15) & ~15u;
		if (want > s->cfg.stack_bytes + 16)
			want = (s->cfg.stack_bytes + 31) & ~15u;
		s->spec_len[cpu] = want >= cur ? want : cur - ((cur - want) / 8 & ~15u);
		if (!smp->stack_len) {
			((struct qp_sample *)s->buf[cpu])->flags |= QP_SF_STACK_FAILED;
			atomic_fetch_add(&s->st.stack_fail, 1);
		}
	}

	/* Linux: a stack copied to its top whose top word points into
	 * another kernel stack is an IRQ stack (call_on_irqstack saved the
	 * task's sp there): copy that task stack too. */
	for (int j = 0; j < nsel; j++) {
		int cpu = s->cpu_ids[sel[j]];
		struct qp_sample *smp = (struct qp_sample *)s->buf[cpu];
		uint64_t ks = s->cfg.linux_kstack;

		s->stk2_len[cpu] = 0;
		if (!ks || smp->regs.cpl != 0 || (smp->flags & QP_SF_UNSTABLE) ||
		    smp->stack_len < 8)
			continue;
		uint64_t top = (smp->stack_addr | (ks - 1u)) + 1;
		uint64_t end = smp->stack_addr + smp->stack_len;
		/* copied to its top: the 16 KiB boundary, or a page end where
		 * the read stopped (an IRQ stack need not be 16 KiB aligned;
		 * a guard page follows it) */
		if (end != top && (end & 0xfff))
			continue;
		int ws = lk_ws(s);
		uint64_t old = load_word(qp_sample_stack(smp) + smp->stack_len - ws, ws);
		if (old < lk_half(s) || (old >= top - ks && old < top) ||
		    (old & (uint64_t)(ws - 1)))
			continue;
		uint64_t top2 = (old | (ks - 1u)) + 1;
		long got = memread_virt(s->mr, cpu, old, s->stk2[cpu],
					(uint32_t)(top2 - old), err, sizeof err);
		if (got >= 16) {
			s->stk2_addr[cpu] = old;
			s->stk2_len[cpu] = (uint32_t)got;
		}
	}

	/* Phase 2: the user stack behind a trap frame, code bytes for
	 * address-space matching. */
	nreq = 0;
	uint8_t *code_dst[MAX_CPUS] = { 0 };
	for (int j = 0; j < nsel; j++) {
		int cpu = s->cpu_ids[sel[j]];
		struct qp_sample *smp = (struct qp_sample *)s->buf[cpu];
		const struct qp_regs *r = &smp->regs;
		int ws = qp_regs_wordsize(r);
		uint64_t user_ip = 0, user_sp = 0;

		if (smp->flags & QP_SF_UNSTABLE)
			continue;
		if (r->cpl == 3) {
			user_ip = r->ip;
		} else if (smp->stack_len && s->cfg.linux_kstack && ws == 4 &&
			   s->cfg.linux_ws == 4) {
			/* i386: pt_regs ends 8 bytes below the task stack's
			 * top; its iret frame ip cs flags sp ss, from user mode
			 * with __USER_CS 0x73 and __USER_DS 0x7b */
			uint64_t base = smp->stack_addr, len = smp->stack_len;
			uint64_t top = (base | (s->cfg.linux_kstack - 1u)) + 1;
			uint64_t tf = top - 8 - 20;
			if (tf >= base && tf + 20 <= base + len) {
				const uint8_t *p = qp_sample_stack(smp) + (tf - base);
				uint64_t cs = load_word(p + 4, 4) & 0xffff;
				uint64_t ss = load_word(p + 16, 4) & 0xffff;
				if (cs == 0x73 && ss == 0x7b) {
					smp->flags |= QP_SF_HAS_TRAP;
					smp->trap_addr = tf;
					user_ip = load_word(p, 4);
					user_sp = load_word(p + 12, 4);
				}
			}
		} else if (smp->stack_len && s->cfg.linux_kstack && ws == 8) {
			/* pt_regs ends the task stack: ip cs flags sp ss are
			 * its last 5 words.  Only Linux's user selectors count
			 * (__USER_CS 0x33, __USER32_CS 0x23, __USER_DS 0x2b):
			 * on an IRQ stack these words are anything. */
			uint64_t base = smp->stack_addr, len = smp->stack_len;
			const uint8_t *copy = qp_sample_stack(smp);
			if (s->stk2_len[cpu]) {
				/* on an IRQ stack: the task stack's pt_regs */
				base = s->stk2_addr[cpu];
				len = s->stk2_len[cpu];
				copy = s->stk2[cpu];
			}
			uint64_t top = (base | (s->cfg.linux_kstack - 1u)) + 1;
			uint64_t tf = top - 40;
			uint64_t end = base + len;
			if (tf >= base && tf + 40 <= end) {
				const uint8_t *p = copy + (tf - base);
				uint64_t cs = load_word(p + 8, 8), ss = load_word(p + 32, 8);
				if ((cs == 0x33 || cs == 0x23) && ss == 0x2b) {
					smp->flags |= QP_SF_HAS_TRAP;
					smp->trap_addr = tf;
					user_ip = load_word(p, 8);
					user_sp = load_word(p + 24, 8);
				}
			}
		} else if (smp->stack_len && as_get(s, r->cr3)->sp0[cpu]) {
			/* Hardware trap frame: ip, cs, flags, sp, ss at sp0 - 5 words. */
			uint64_t tf = as_get(s, r->cr3)->sp0[cpu] - 5u * (uint64_t)ws;
			uint64_t end = smp->stack_addr + smp->stack_len;
			if (tf >= smp->stack_addr && tf + 5u * (uint64_t)ws <= end) {
				const uint8_t *p = qp_sample_stack(smp) + (tf - smp->stack_addr);
				uint64_t cs = load_word(p + ws, ws);
				if ((cs & 3) == 3) {
					smp->flags |= QP_SF_HAS_TRAP;
					smp->trap_addr = tf;
					user_ip = load_word(p, ws);
					user_sp = load_word(p + 3 * ws, ws);
				}
			}
		}
		if (fast && s->ubuf[cpu] && user_sp && r->cpl == 0) {
			/* the next sample of this task reads its user stack
			 * with the registers */
			uint64_t klo = smp->trap_addr & ~(uint64_t)(s->cfg.linux_kstack - 1u);
			unsigned hs = uhint_slot(s, klo);
			s->uhint[hs].klo = klo;
			s->uhint[hs].usp = user_sp;
			s->uhint[hs].cr3 = r->cr3;
		}
		if (user_sp && s->cfg.ustack_bytes) {
			const struct as_entry *a = as_get(s, r->cr3);
			uint64_t len = s->cfg.ustack_bytes;
			if (a->ustack_top > user_sp && a->ustack_top - user_sp < len)
				len = a->ustack_top - user_sp;
			smp->ustack_addr = user_sp;
			long ug = s->ubuf_got[cpu];
			uint64_t ua = s->ubuf_addr[cpu];
			if (ug > 0 && s->ubuf_cr3[cpu] == r->cr3 && user_sp >= ua &&
			    user_sp < ua + (uint64_t)ug &&
			    ua + (uint64_t)ug - user_sp >= len &&
			    trap_frame_same(s, cpu, smp, s->tbuf[cpu], s->tbuf_addr[cpu],
					    TRAP_RECHECK)) {
				/* read with the registers (ug: all it asked) */
				memcpy(qp_sample_stack(smp) + smp->stack_len,
				       s->ubuf[cpu] + (user_sp - ua), len);
				smp->ustack_len = (uint32_t)len;
			} else {
				req[nreq++] = (struct memread_req){ .cpu = cpu,
					.addr = user_sp, .len = (uint32_t)len,
					.buf = qp_sample_stack(smp) + smp->stack_len };
			}
		}
		if (user_ip && s->cfg.want_code) {
			struct as_entry *a = as_get(s, r->cr3);
			/* A new address space is probed a few times quickly:
			 * its first probe may fail, or its code there may be
			 * shared by several programs (a library linked at the
			 * same address) and name none; short-lived processes
			 * would stay nameless for a second. */
			uint64_t every = a->code_probes < CODE_FAST_PROBES ?
					 CODE_RETRY_NS : CODE_PROBE_NS;
			if (a->code_ns == 0 || t_regs - a->code_ns > every) {
				a->code_probes++;
				a->code_ns = t_regs;
				smp->code_addr = user_ip;
				code_dst[cpu] = (uint8_t *)1;   /* filled after the user stack */
			}
		}
		if (user_ip)
			pm_hook(s, cpu, smp, user_ip, user_sp, t_regs);   /* #15 */
	}
	if (nreq) {
		rc = followup_reads(s, req, nreq, &followups, err, sizeof err);
		if (rc < 0)
			goto fail;
		for (size_t i = 0; i < nreq; i++) {
			struct qp_sample *smp = (struct qp_sample *)s->buf[req[i].cpu];
			if (req[i].got > 0) {
				smp->ustack_len = (uint32_t)req[i].got;
				if (req[i].got < (long)req[i].len)
					as_get(s, smp->regs.cr3)->ustack_top = req[i].addr + (uint64_t)req[i].got;
			} else {
				smp->flags |= QP_SF_USTACK_FAILED;
			}
			if (req[i].got > 0 && direct && !(smp->flags & QP_SF_STOPPED) &&
			    !trap_frame_unchanged(s, req[i].cpu, smp, fast)) {
				/* not the user stack the kernel part was entered
				 * from: the chain ends at the trap, cut */
				smp->ustack_len = 0;
				smp->flags |= QP_SF_USTACK_FAILED;
				atomic_fetch_add(&s->st.ustack_stale, 1);
			}
		}
	}
	/* Code bytes and --comm: rare (once per address space per interval). */
	nreq = 0;
	for (int j = 0; j < nsel; j++) {
		int cpu = s->cpu_ids[sel[j]];
		struct qp_sample *smp = (struct qp_sample *)s->buf[cpu];
		if (!code_dst[cpu])
			continue;
		code_dst[cpu] = (uint8_t *)qp_sample_ustack(smp) + smp->ustack_len;
		req[nreq++] = (struct memread_req){ .cpu = cpu, .addr = smp->code_addr,
			.len = QP_CODE_BYTES, .buf = code_dst[cpu] };
	}
	if (nreq) {
		rc = followup_reads(s, req, nreq, &followups, err, sizeof err);
		if (rc < 0)
			goto fail;
		for (size_t i = 0; i < nreq; i++) {
			struct qp_sample *smp = (struct qp_sample *)s->buf[req[i].cpu];
			if (req[i].got == QP_CODE_BYTES) {
				smp->code_len = QP_CODE_BYTES;
				smp->flags |= QP_SF_HAS_CODE;
			} else {
				/* Until a probe succeeds the address space has no
				 * program: try again soon, not in CODE_PROBE_NS. */
				as_get(s, smp->regs.cr3)->code_ns =
					t_regs - CODE_PROBE_NS + CODE_RETRY_NS;
			}
		}
	}
	{
		for (int j = 0; j < nsel; j++) {
			int cpu = s->cpu_ids[sel[j]];
			const struct comm_recipe *cr = &s->cfg.comm[cpu];
			struct qp_sample *smp = (struct qp_sample *)s->buf[cpu];
			struct as_entry *a;
			uint64_t addr = cr->addr;
			int ok = 1;

			if (!cr->valid || (smp->flags & QP_SF_UNSTABLE))
				continue;
			a = as_get(s, smp->regs.cr3);
			/* Re-read when this vCPU is in another address space
			 * than at its previous sample, else every COMM_PROBE_NS
			 * (the symbolizer confirms a changed name by a second
			 * read: see set_cpu_comm). */
			int moved = s->prev_cr3[cpu] != smp->regs.cr3;
			s->prev_cr3[cpu] = smp->regs.cr3;
			/* Linux, paused or in kernel mode: every sample
			 * reads its own task's name (inside a task switch CR3
			 * is already the next task's while current is not) */
			int own = s->cfg.linux_kstack && ((smp->flags & QP_SF_STOPPED) ||
							  smp->regs.cpl == 0);
			if (a->comm_ns[cpu] && t_regs - a->comm_ns[cpu] < COMM_PROBE_NS &&
			    !moved && !own && a->comm_agreed[cpu])
				continue;
			/* Linux, read running: a task switch between the
			 * registers and this read names another task.  In
			 * kernel mode the read is checked below; in user mode
			 * it cannot be: only this address space's first one */
			int lrun = s->cfg.linux_kstack && !(smp->flags & QP_SF_STOPPED);
			if (lrun && smp->regs.cpl != 0 && a->comm_ns[cpu])
				continue;
			a->comm_ns[cpu] = t_regs;
			followups = 1;
			struct comm_rd rd = { .s = s, .cpu = cpu, .use_t0 = s->cur_t0_ok[cpu] };
			ok = comm_eval(cr, cpu, &smp->regs, comm_read, &rd, &addr) == 0;
			/* its last load is the running-task word: read with
			 * the registers from next round on.  Linux only: its
			 * kernel-mode samples are named each on its own,
			 * checked against the task's stack and memory; a
			 * kernel that sets its task word before it switches
			 * address spaces (xv6's scheduler, the test guest's
			 * arch_run_task) would otherwise lend the next task's
			 * name to the scheduler's address space */
			if (ok && s->cs && s->cfg.linux_kstack)
				s->cur_slot[cpu] = rd.last_addr;
			if (rd.fatal < 0) {
				rc = (int)rd.fatal;
				snprintf(err, sizeof err, "%s", rd.err);
				goto fail;
			}
			if (!ok)
				continue;
			uint8_t *dst = (uint8_t *)qp_sample_code(smp) + smp->code_len;
			long got = memread_virt(s->mr, cpu, addr, dst, cr->len, err, sizeof err);
			if (got < 0 && got != QMP_E_ERROR) {
				rc = (int)got;
				goto fail;
			}
			if (got > 0 && s->cfg.linux_kstack && smp->regs.cpl == 0 &&
			    s->cfg.kmm[cpu].valid) {
				/* the task's memory is CR3's?  Else (inside a
				 * task switch) the name is the sample's task's
				 * but not this address space's */
				uint64_t pgd = 0;
				if (comm_eval(&s->cfg.kmm[cpu], cpu, &smp->regs, comm_read,
					      &rd, &pgd) != 0 ||
				    pgd - s->cfg.linux_page_offset != qp_regs_as(&smp->regs))
					smp->flags |= QP_SF_COMM_NOT_AS;
				if (rd.fatal < 0) {
					rc = (int)rd.fatal;
					snprintf(err, sizeof err, "%s", rd.err);
					goto fail;
				}
			}
			if (got > 0 && s->cfg.linux_kstack && smp->regs.cpl == 0) {
				/* the task running now is the sampled one when
				 * its kernel stack is the one sp is on (paused
				 * too: in __switch_to the stack is already the
				 * next task's, current not yet) */
				uint64_t ks = s->cfg.linux_kstack, stk = 0;
				const struct comm_recipe *kr = &s->cfg.kstack[cpu];
				if (!kr->valid ||
				    comm_eval(kr, cpu, &smp->regs, comm_read, &rd, &stk) != 0 ||
				    stk != (smp->regs.gpr[QP_RSP] & ~(uint64_t)(ks - 1))) {
					got = 0;   /* kernel samples read again anyway */
				}
				if (rd.fatal < 0) {
					rc = (int)rd.fatal;
					snprintf(err, sizeof err, "%s", rd.err);
					goto fail;
				}
			}
			if (got > 0 && s->cfg.pid[cpu].valid) {
				/* #15: the task id with the name */
				int64_t pid = 0;
				if (pid_eval(&s->cfg.pid[cpu], cpu, &smp->regs, comm_read,
					     &rd, &pid) == 0) {
					smp->pid = pid;
					smp->flags |= QP_SF_HAS_PID;
				} else {
					got = 0;
				}
				if (rd.fatal < 0) {
					rc = (int)rd.fatal;
					snprintf(err, sizeof err, "%s", rd.err);
					goto fail;
				}
			}
			if (got > 0 && s->cs && !(smp->flags & QP_SF_STOPPED) && !rd.t0_used) {
				/* Registers from QEMU's memory: cheap to look
				 * again.  Another address space now than at the
				 * registers: the task switched under the reads
				 * and the name may be the next one's; cached for
				 * this address space it would name its samples
				 * wrongly until the next probe. */
				struct qp_regs now;
				if (cpustate_read(s->cs, cpu, &now) < 0 ||
				    qp_regs_as(&now) != qp_regs_as(&smp->regs)) {
					got = 0;
					a->comm_ns[cpu] = 0;
					smp->flags &= ~(uint32_t)QP_SF_HAS_PID;
				}
			}
			if (got > 0) {
				smp->comm_len = (uint32_t)got;
				smp->flags |= QP_SF_HAS_COMM;
			}
			size_t nread = got > 0 && got <= QP_COMM_BYTES ? (size_t)got : 0;
			a->comm_agreed[cpu] = nread && a->comm_last_len[cpu] == nread &&
					      !memcmp(a->comm_last[cpu], dst, nread);
			if (nread)
				memcpy(a->comm_last[cpu], dst, nread);
			a->comm_last_len[cpu] = (uint8_t)nread;
		}
	}

	if (we_stopped) {
		/* Resume without waiting for the reply: it is collected at the
		 * start of the next round (finish_cont), which retries a cont
		 * that failed. */
		s->expect_resume++;
		rc = qmp_send(s->q, "cont", NULL, &s->cont_id, err, sizeof err);
		if (rc < 0)
			goto fail;   /* still ours to resume: the fail path retries */
		s->cont_pending = 1;
		we_stopped = 0;
		s->guest_running = 1;
	}

	/* --no-stop: the burst's second register read already checked the
	 * stacks.  Reads made after it (the rest of a stack, the user stack
	 * behind a trap frame, code bytes, the task name) need one more: where
	 * a vCPU's stack pointer, frame pointer, CR3 or mode moved, the copies
	 * may belong to another call chain (or task) than the registers, so
	 * keep only the (consistent) leaf and let the chain be cut cleanly
	 * rather than filled with the wrong callers. */
	if (!stop && !vouch && nsel) {
		*nmoved = 0;
		if (followups) {
			rc = qmp_hmp(s->q, "info registers -a", -1, &text, err, sizeof err);
			if (rc < 0)
				goto fail;
			n2 = regs_parse_all(text, strlen(text), s->regs2, s->cpu_ids2, MAX_CPUS);
			free(text);
			text = NULL;
		}
		for (int j = 0; j < nsel; j++) {
			int cpu = s->cpu_ids[sel[j]];
			struct qp_sample *smp = (struct qp_sample *)s->buf[cpu];
			const struct qp_regs *a = &smp->regs;

			if (!(smp->flags & QP_SF_UNSTABLE) &&
			    !(followups && regs_moved(a, regs_of(s->regs2, s->cpu_ids2, n2, cpu))))
				continue;
			/* The code bytes and the name may be another task's
			 * too: drop them (they would teach the symbolizer a
			 * wrong program or name for this address space). */
			smp->flags |= QP_SF_UNSTABLE | QP_SF_STACK_FAILED |
				      QP_SF_USTACK_FAILED;
			smp->flags &= ~(uint32_t)QP_SF_STACK_CLIPPED;
			if (smp->flags & QP_SF_HAS_CODE)
				as_get(s, a->cr3)->code_ns = 0;      /* probe again soon */
			if (smp->flags & QP_SF_HAS_COMM)
				as_get(s, a->cr3)->comm_ns[cpu] = 0;
			smp->flags &= ~(uint32_t)(QP_SF_HAS_CODE | QP_SF_HAS_COMM |
						  QP_SF_HAS_PID);
			++*nmoved;
		}
	}
	{
		int nerr = memread_take_errors(s->mr, err, sizeof err);
		if (nerr) {
			atomic_fetch_add(&s->st.errors, (uint64_t)nerr);
			set_error(s, err);
		}
	}
	return nsel;

fail:
	free(text);
	if (rc == QMP_E_ERROR || rc == QMP_E_TIMEOUT) {
		/* A command failed but the connection lives: count, go on.
		 * Never leave the guest paused by us. */
		atomic_fetch_add(&s->st.errors, 1);
		set_error(s, err);
		if (we_stopped) {
			s->expect_resume++;
			rc = qmp_execute(s->q, "cont", NULL, NULL, err, sizeof err);
			if (rc < 0 && rc != QMP_E_ERROR)
				return rc;
		}
		return 0;
	}
	set_error(s, err);
	return rc;
}

/* A capture about to be taken again is dropped with what it read of code
 * bytes and task names: probe those again in the next attempt. */
static void forget_probes(struct sampler *s, const int *sel, int nsel)
{
	for (int j = 0; j < nsel; j++) {
		int cpu = s->cpu_ids[sel[j]];
		const struct qp_sample *smp = (const struct qp_sample *)s->buf[cpu];
		if (smp->flags & QP_SF_HAS_CODE)
			as_get(s, smp->regs.cr3)->code_ns = 0;
		if (smp->flags & QP_SF_HAS_COMM)
			as_get(s, smp->regs.cr3)->comm_ns[cpu] = 0;
	}
}

/* Vouch mode: give a QP_SF_RUNNING sample the earlier copy from its sp on,
 * when the vCPU was on that stack (same address space, sp inside it). */
static void attach_pre(struct sampler *s, int cpu, struct qp_sample *smp)
{
	uint64_t sp = smp->regs.gpr[QP_RSP];
	uint64_t lo = s->pre_addr[cpu], got = (uint64_t)s->pre_got[cpu];

	s->pre_sp[cpu] = sp;
	if (!(smp->flags & QP_SF_RUNNING) || s->pre_got[cpu] <= 0 ||
	    (!s->pre_kernel[cpu] && s->pre_cr3[cpu] != smp->regs.cr3) ||
	    sp < lo || sp >= lo + got) {
		s->pre_cr3[cpu] = smp->regs.cr3;
		return;
	}
	s->pre_cr3[cpu] = smp->regs.cr3;
	uint64_t n = lo + got - sp;
	if (n > s->cfg.stack_bytes)
		n = s->cfg.stack_bytes;
	memcpy((uint8_t *)qp_sample_stack0(smp), s->pre[cpu] + (sp - lo), n);
	smp->stack0_addr = sp;
	smp->stack0_len = (uint32_t)n;
}

static void push_round(struct sampler *s, const int *sel, int nsel, int nmoved,
		       uint64_t t0);

/* One sampling round: capture, then one sample per vCPU into the ring.
 * Returns 0, or a negative qmp_err when the connection is gone. */
static int sample_round(struct sampler *s)
{
	int sel[MAX_CPUS], nmoved = 0, nsel;
	int stop = s->cfg.stop == SAMPLER_STOP_ALWAYS, tried = 0;
	uint64_t t0 = now_ns();

	/* auto: where nearly every running read moves (a guest busy in short
	 * calls, system calls, task switches), trying first only wastes a
	 * burst: go paused directly, and try running again every AUTO_PROBE
	 * rounds to notice when the guest calms down. */
	if (s->cfg.stop == SAMPLER_STOP_AUTO &&
	    memread_mode(s->mr) == SAMPLER_MEM_DIRECT) {
		/* direct reads: chains are vouched for, never retried or
		 * paused (capture_round) */
	} else if (s->cfg.stop == SAMPLER_STOP_AUTO && s->moved_avg > AUTO_GIVE_UP &&
	    s->auto_skip++ % AUTO_PROBE != 0) {
		stop = 1;
		atomic_fetch_add(&s->st.stop_rounds, 1);
	} else {
		tried = s->cfg.stop == SAMPLER_STOP_AUTO;
	}
	nsel = capture_round(s, stop, tried, sel, &nmoved);
	if (tried && nsel > 0)
		s->moved_avg = 0.95 * s->moved_avg + (nmoved ? 0.05 : 0.0);
	/* A vCPU moved: once more running first (it rarely moves twice in a
	 * row: that costs the guest nothing), then paused. */
	if (nsel > 0 && nmoved && tried) {
		atomic_fetch_add(&s->st.run_retries, 1);
		forget_probes(s, sel, nsel);
		nmoved = 0;
		nsel = capture_round(s, 0, 1, sel, &nmoved);
	}
	if (nsel > 0 && nmoved && tried) {
		/* A vCPU moved while the guest ran under the reads: take this
		 * round again with the guest paused, so its chain is exact.
		 * Only such rounds pay a pause. */
		atomic_fetch_add(&s->st.stop_rounds, 1);
		forget_probes(s, sel, nsel);
		nmoved = 0;
		nsel = capture_round(s, 1, 0, sel, &nmoved);
	}
	if (nsel < 0)
		return nsel;
	push_round(s, sel, nsel, nmoved, t0);
	return 0;
}

/* The captured vCPUs of a round into the ring. */
static void push_round(struct sampler *s, const int *sel, int nsel, int nmoved,
		       uint64_t t0)
{
	atomic_fetch_add(&s->st.unstable, (uint64_t)nmoved);
	for (int j = 0; j < nsel; j++) {
		int cpu = s->cpu_ids[sel[j]];
		struct qp_sample *smp = (struct qp_sample *)s->buf[cpu];
		if (s->cfg.stop == SAMPLER_STOP_AUTO &&
		    memread_mode(s->mr) == SAMPLER_MEM_DIRECT)
			attach_pre(s, cpu, smp);
		if (s->cfg.linux_kstack && s->stk2_len[cpu] &&
		    !(smp->flags & QP_SF_UNSTABLE)) {
			memcpy((uint8_t *)qp_sample_stack2(smp), s->stk2[cpu],
			       s->stk2_len[cpu]);
			smp->stack2_addr = s->stk2_addr[cpu];
			smp->stack2_len = s->stk2_len[cpu];
		}
		void *slot = ring_reserve(s->ring);
		if (!slot)
			continue;        /* consumer behind: counted by the ring */
		smp->seq = s->seq++;
		memcpy(slot, smp, qp_sample_size(smp));
		ring_commit(s->ring);
		atomic_fetch_add(&s->st.samples, 1);
	}
	atomic_fetch_add(&s->st.rounds, 1);
	atomic_fetch_add(&s->st.busy_ns, now_ns() - t0);
}

/* --launch / --boot: the guest waits at its first instruction (-S).  Read
 * that round as it is, then resume it: asked for by the user, so the one
 * "cont" for a pause that is not ours.  A guest already running (started
 * without -S) is only sampled.  Returns 0 or a negative qmp_err. */
static int boot_round(struct sampler *s)
{
	char err[256];
	int sel[MAX_CPUS], nmoved = 0, nsel;
	uint64_t t0 = now_ns();

	if (s->guest_running)
		return 0;
	nsel = capture_round(s, 2, 0, sel, &nmoved);
	if (nsel < 0)
		return nsel;
	push_round(s, sel, nsel, 0, t0);
	s->expect_resume++;
	atomic_store(&s->st.cont_ns, now_ns());
	int rc = qmp_execute(s->q, "cont", NULL, NULL, err, sizeof err);
	if (rc < 0) {
		set_error(s, err);
		return rc == QMP_E_ERROR ? 0 : rc;
	}
	s->guest_running = 1;
	qmp_poll(s->q, 0, err, sizeof err);
	handle_events(s);
	return 0;
}

static void *sampler_loop(void *arg)
{
	struct sampler *s = arg;
	char err[256];
	uint64_t next = now_ns();
	double ewma_round = 0;   /* ns, slow average of a round's duration */
	uint64_t ideal = 0;      /* single_attempt: the drawn schedule */
	/* rounds never retried (no pause, no second attempt): --no-stop, and
	 * --auto-stop with direct memory (vouched chains) */
	int single_attempt = s->cfg.stop == SAMPLER_STOP_NEVER ||
		(s->cfg.stop == SAMPLER_STOP_AUTO &&
		 memread_mode(s->mr) == SAMPLER_MEM_DIRECT);
	sigset_t all;

	/* Signals belong to the main thread (terminal restore, saving). */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);

	if (s->cfg.boot && boot_round(s) < 0) {
		atomic_store(&s->st.state, SAMPLER_DISCONNECTED);
		return NULL;
	}
	atomic_store(&s->st.state, s->guest_running ? SAMPLER_RUNNING : SAMPLER_PAUSED);
	while (!atomic_load(&s->stop_req)) {
		int rc;

		if (qmp_poll(s->q, 0, err, sizeof err) < 0) {
			set_error(s, err);
			atomic_store(&s->st.state, SAMPLER_DISCONNECTED);
			return NULL;
		}
		handle_events(s);
		if (!s->guest_running) {
			/* Paused by someone else (user, gdb, QEMU): it stays
			 * paused; wait for RESUME without sampling. */
			atomic_store(&s->st.state, SAMPLER_PAUSED);
			if (qmp_poll(s->q, 100, err, sizeof err) < 0) {
				set_error(s, err);
				atomic_store(&s->st.state, SAMPLER_DISCONNECTED);
				return NULL;
			}
			next = now_ns();
			continue;
		}
		atomic_store(&s->st.state, SAMPLER_RUNNING);
		if (s->cs_retry_ns && now_ns() >= s->cs_retry_ns) {
			s->cs_retry_ns = 0;
			if (regs_direct_setup(s, err, sizeof err) < 0) {
				set_error(s, err);
				atomic_store(&s->st.state, SAMPLER_DISCONNECTED);
				return NULL;
			}
			continue;
		}
		uint64_t round_start = now_ns();
		rc = sample_round(s);
		if (rc < 0) {
			atomic_store(&s->st.state, SAMPLER_DISCONNECTED);
			return NULL;
		}
		if (s->cfg.max_samples && atomic_load(&s->st.samples) >= s->cfg.max_samples) {
			atomic_store(&s->st.state, SAMPLER_DONE);
			return NULL;
		}
		/* Pacing.  Two rules keep the profile unbiased:
		 * - jitter: a fixed stride through a guest that runs in rounds
		 *   aliases (measured: +-10 pp on the test guest); intervals
		 *   are uniform in [0.5, 1.5) x the mean;
		 * - the guest's progress between two samples must not depend
		 *   on what the previous sample found.  Rounds that found a
		 *   syscall cost more reads; waiting "a fraction of the last
		 *   round" let the guest run further after exactly those and
		 *   under-sampled the syscall path by a third.  So the interval
		 *   is drawn independently of the round: measured from the
		 *   resume (--stop: the guest only runs between cont and the
		 *   next stop) or from the previous start (--no-stop: it runs
		 *   all the time).  At the maximum rate the mean interval
		 *   follows a slow average of the round time. */
		uint64_t now = now_ns();
		uint64_t period = atomic_load(&s->period_ns);
		uint64_t dur = now - round_start;
		uint64_t r = xorshift64(&s->rng);
		double u = (double)(r >> 11) / 9007199254740992.0;   /* [0,1) */
		double mean;

		ewma_round = ewma_round ? 0.95 * ewma_round + 0.05 * (double)dur : (double)dur;
		if (s->cfg.stop == SAMPLER_STOP_ALWAYS) {
			/* Guest run time per interval: what the period leaves
			 * after the (paused) round; at the maximum rate one
			 * round (the guest runs half the time).  Shorter
			 * windows were measured to bias the split (-3 pp on
			 * the syscall path at half a round): each resume has a
			 * fixed cost inside the guest. */
			mean = period > 1000 ? (double)period - ewma_round : 0;
			if (mean < ewma_round)
				mean = period > 1000 ? 0.1 * (double)period : ewma_round;
			if (mean < ewma_round * 0.1)
				mean = ewma_round * 0.1;
			next = now + (uint64_t)((0.5 + u) * mean);
		} else {
			/* From the instant the kept reads were taken, not from
			 * the round's start: a round read again (a vCPU moved)
			 * keeps a later attempt, and counting from its start
			 * shortened the guest's run to the next sample after
			 * exactly those states (b_inner +1.8 pp, k_spin_inner
			 * -1.9 pp on the test guest).  A paused attempt: the
			 * guest ran on only from the cont.  At the maximum rate
			 * the mean is three rounds: a single attempt rarely
			 * overruns the draw, and the profiler's own CPU (the
			 * guest's, on a host its vCPU threads fill) stays low
			 * enough not to shift the profile (Linux 6.1, QEMU 7.2:
			 * at two rounds, 3,759/s over 2 vCPUs, self shares moved
			 * 3 pp from 10 Hz's as the guest spent more of its time
			 * in timer interrupts; at three, 2,841/s, <= 2 pp). */
			uint64_t base = s->attempt_paused ? now : s->attempt_ns;
			mean = period > 1000 ? (double)period : 3.0 * ewma_round;
			if (single_attempt && period > 1000) {
				/* One attempt per round: the instants are drawn
				 * ahead as a renewal process and a late round
				 * does not push the schedule back (the rate
				 * asked is the rate kept on a loaded host);
				 * far behind (a pause), start afresh. */
				if (!ideal || ideal + 4 * period < now)
					ideal = now;
				ideal += (uint64_t)((0.5 + u) * mean);
				next = ideal;
			} else {
				next = base + (uint64_t)((0.5 + u) * mean);
			}
			if (next < now)
				next = now;   /* overrun */
		}
		while (!atomic_load(&s->stop_req)) {
			now = now_ns();
			if (now >= next)
				break;
			uint64_t left = next - now;
			if (left >= 2000000) {
				if (qmp_poll(s->q, (int)(left / 1000000) - 1, err, sizeof err) < 0) {
					set_error(s, err);
					atomic_store(&s->st.state, SAMPLER_DISCONNECTED);
					return NULL;
				}
			} else {
				struct timespec ts = { 0, (long)left };
				nanosleep(&ts, NULL);
			}
		}
	}
	atomic_store(&s->st.state, SAMPLER_DONE);
	return NULL;
}

/* json-c duplocale()s the calling thread's locale on every parse; on the
 * global locale that races with setlocale() on the main thread (tui_run), and
 * glibc 2.36 sizes the copy before taking its lock: heap overflow.  A locale
 * object of this thread's own makes every parse race-free. */
static void *sampler_main(void *arg)
{
	locale_t loc = newlocale(LC_ALL_MASK, "C", (locale_t)0);

	if (loc)
		uselocale(loc);
	/* Sleeps between rounds are drawn to the microsecond; Linux lets a
	 * normal thread's timers fire up to 50 us late (timer slack), 5 % of
	 * a 1 kHz period. */
	prctl(PR_SET_TIMERSLACK, 1000UL);
	sampler_loop(arg);
	{
		struct sampler *s = arg;
		char err[256];
		finish_cont(s, err, sizeof err);   /* never leave our pause behind */
	}
	if (loc) {
		uselocale(LC_GLOBAL_LOCALE);
		freelocale(loc);
	}
	return NULL;
}

void sampler_set_hz(struct sampler *s, double hz)
{
	if (hz <= 0)
		hz = 1e6;   /* as fast as QEMU answers */
	atomic_store(&s->period_ns, (uint64_t)(1e9 / hz));
}

struct sampler *sampler_start(const struct sampler_config *cfg,
			      struct ring *ring, char *err, size_t errlen)
{
	struct sampler *s = calloc(1, sizeof *s);
	int code = 0;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->cfg = *cfg;
	if (!s->cfg.stack_bytes)
		s->cfg.stack_bytes = 8192;
	s->ring = ring;
	pthread_mutex_init(&s->err_lock, NULL);
	sampler_set_hz(s, cfg->hz);
	s->rng = now_ns() | 1;
	s->buf_size = sampler_slot_size(&s->cfg);
	if (s->buf_size > ring->slot_size) {
		snprintf(err, errlen, "internal: ring slots too small for --stack-bytes");
		goto out;
	}
	s->q = qmp_connect(cfg->qmp_spec, cfg->timeout_ms > 0 ? cfg->timeout_ms : 3000,
			   &code, err, errlen);
	if (!s->q)
		goto out;
	if (cfg->timeout_ms > 0)
		qmp_set_timeout(s->q, cfg->timeout_ms);
	if (query_running(s, err, errlen) < 0 || query_cpus(s, err, errlen) < 0)
		goto out;
	s->mr = memread_new_ex(s->q, cfg->mem, cfg->mem_file, err, errlen);
	if (!s->mr)
		goto out;
	if (regs_direct_setup(s, err, errlen) < 0)
		goto out;
	for (int i = 0; i < s->ncpus; i++) {
		s->buf[i] = aligned_alloc(64, (s->buf_size + 63) & ~(size_t)63);
		s->spec[i] = malloc(s->cfg.stack_bytes + SPEC_PAD);
		s->pre[i] = malloc(s->cfg.stack_bytes + PRE_BELOW);
		s->early[i] = malloc(s->cfg.stack_bytes + PRE_BELOW);
		if (s->cfg.linux_kstack && (!(s->stk2[i] = malloc(s->cfg.linux_kstack)) ||
					    !(s->kbuf[i] = malloc(s->cfg.linux_kstack)) ||
					    !(s->ubuf[i] = malloc(s->cfg.ustack_bytes + USPEC_BELOW)))) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		s->spec_len[i] = SPEC_FIRST < s->cfg.stack_bytes ? SPEC_FIRST :
				 (s->cfg.stack_bytes + 15) & ~15u;
		if (!s->buf[i] || !s->spec[i] || !s->pre[i] || !s->early[i]) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
	}
	atomic_store(&s->st.ncpus, s->ncpus);
	atomic_store(&s->st.state, SAMPLER_STARTING);
	if (pthread_create(&s->thr, NULL, sampler_main, s) != 0) {
		snprintf(err, errlen, "cannot start the sampler thread");
		goto out;
	}
	s->started = 1;
	return s;
out:
	sampler_stop(s);
	return NULL;
}

void sampler_join(struct sampler *s)
{
	atomic_store(&s->stop_req, 1);
	if (s->started) {
		pthread_join(s->thr, NULL);
		s->started = 0;
	}
}

void sampler_stop(struct sampler *s)
{
	if (!s)
		return;
	sampler_join(s);
	memread_free(s->mr);
	cpustate_free(s->cs);
	qmp_close(s->q);
	for (int i = 0; i < MAX_CPUS; i++) {
		free(s->buf[i]);
		free(s->spec[i]);
		free(s->pre[i]);
		free(s->early[i]);
		free(s->stk2[i]);
		free(s->kbuf[i]);
		free(s->ubuf[i]);
	}
	pthread_mutex_destroy(&s->err_lock);
	free(s);
}

struct sampler_stats *sampler_stats(struct sampler *s) { return &s->st; }
const char *sampler_mem_note(struct sampler *s) { return s->note; }

const char *sampler_last_error(struct sampler *s)
{
	static _Thread_local char copy[256];
	pthread_mutex_lock(&s->err_lock);
	snprintf(copy, sizeof copy, "%s", s->last_err);
	pthread_mutex_unlock(&s->err_lock);
	return copy;
}

size_t sampler_slot_size(const struct sampler_config *cfg)
{
	uint32_t sb = cfg->stack_bytes ? cfg->stack_bytes : 8192;
	return sizeof(struct qp_sample) + 2 * sb + cfg->ustack_bytes + QP_CODE_BYTES +
	       QP_COMM_BYTES + cfg->linux_kstack + (cfg->linux_kstack ? KSTACK_BELOW : 0);
}
