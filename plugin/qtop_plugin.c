/* qtop_plugin.c - qtop-plugin.so: exact sampling inside QEMU (TCG, x86).
 *
 *   qemu-system-x86_64 -plugin /path/qtop-plugin.so[,name=N][,slots=N][,stack=N] ...
 *
 * Two clocks arm a vCPU's counter; at the next block start a conditional
 * callback reads the exact registers, copies the stack (and the user stack
 * behind a kernel trap frame, code bytes, the --comm bytes) and pushes one
 * struct qp_sample into that vCPU's ring in the shared segment
 * (plugin_shm.h):
 *   - timer signals: each vCPU thread has a POSIX timer whose signal goes
 *     to that thread itself; the blocks carry only a compare.  A signal
 *     costs 1-2 us on bare metal but 30 us on a virtualised host;
 *   - block counting: nothing interrupts the vCPU; every block adds 1 to
 *     its counter (inline) and every n-th block a callback reads the clock,
 *     n chosen so the checks close in on the time the next sample is due
 *     (on_check).  The add is swapped in with qemu_plugin_reset only while
 *     counting.
 * clock=auto (default) takes signals up to 2 kHz per vCPU and counting
 * above.  A control thread follows qtop-prof (attach, rate, config) every
 * 10 ms.  The unwinder, symbolizer and views stay in qtop-prof.
 *
 * Safety: reads only (no guest memory or register is written), never
 * blocks the vCPU thread (a full ring drops the sample, counted), arms
 * nothing while no qtop-prof is attached (heartbeat), and QEMU runs on
 * normally whatever qtop-prof does.
 */
#include "qemu_plugin_api.h"
#include "plugin_shm.h"
#include "sample.h"
#include "shmring.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QTOP_PLUGIN_API_VERSION;

#define PAGE 4096u
#define KERNEL_HALF 0x8000000000000000ull
#define CHECK_AT (1ull << 40)   /* the block counter's value that fires a check */
#define FIRST_BLOCKS 64         /* blocks to a check while the block rate is unknown */
#define MAX_CHECK_NS 5e6        /* checks at least every 5 ms of running */
#define POKE_NS 50000000ull     /* a sampled vCPU not checking for 50 ms is poked */

/* What every translated block carries.  Idle (no qtop-prof sampling): one
 * compare of the vCPU's counter, never true unless the control thread
 * pokes it.  Counting (sampling): the counter add and the check. */
enum { INST_IDLE, INST_COUNT };

/* What clocks the samples (clock= argument, or auto by rate).  Signals: a
 * POSIX timer per vCPU thread whose signal arms the vCPU's counter; the
 * blocks carry only the compare, but each sample costs a timer interrupt
 * and a signal (1-2 us on bare metal, 30 us on a virtualised host).
 * Counting: no interrupt, but every block adds to its counter while
 * sampling (measured ~6 % on the test guest's short blocks).  Auto takes
 * signals up to 2 kHz per vCPU and counting above. */
enum { CLK_AUTO, CLK_SIGNAL, CLK_COUNT };
#define COUNT_BELOW_NS 500000ull    /* auto: count when the period is shorter */
#define TICKS_PER_GAP 8             /* a vCPU timer's gap is drawn every 8 expiries */

/* Register slots we look up by name (gdbstub names of QEMU's x86 targets). */
enum reg_id {
	R_GPR0, R_IP = R_GPR0 + QP_NGPR, R_FLAGS, R_CS, R_SS, R_FS_BASE, R_GS_BASE,
	R_CR0, R_CR2, R_CR3, R_CR4, R_EFER, R_TR_BASE, R_NREGS
};
static const char *const reg_names64[R_NREGS] = {
	"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
	"rip", "eflags", "cs", "ss", "fs_base", "gs_base",
	"cr0", "cr2", "cr3", "cr4", "efer", "tr_base",
};
static const char *const reg_names32[QP_NGPR + 1] = {
	"eax", "ebx", "ecx", "edx", "esi", "edi", "ebp", "esp",
	NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "eip",
};

struct vcpu {
	struct qemu_plugin_register *reg[R_NREGS];
	GByteArray *buf;             /* vCPU thread only */
	uint8_t *stk2;               /* the task stack behind an IRQ stack
					(linux_kstack bytes), vCPU thread only */
	uint32_t stk2_cap;
	_Atomic int ready;           /* init callback ran: may be sampled */
	_Atomic int idle;            /* halted (idle callback) until resumed */
	_Atomic uint64_t seen_ns;    /* the last check (for the control thread) */
	uint64_t seq;
	/* the self-clocked schedule (on_check): vCPU thread only */
	uint64_t due_ns;             /* next record due; 0: no schedule */
	uint64_t period_ns;          /* the period it was drawn for */
	uint64_t last_ns;            /* the last check */
	uint64_t blocks;             /* blocks from it to the next one */
	double rate;                 /* blocks per ns while running, 0: unknown */
	uint64_t left_ns, idle_ns;   /* at the last halt: time left, when */
	int resumed;                 /* back from halt: resume the schedule */
	uint64_t rng;
	/* signal clock: the vCPU thread's own timer, set up by its first
	 * wake; next_ns and trng belong to the signal handler */
	timer_t tmr;
	_Atomic int has_tmr;
	_Atomic int tmr_tried;
	_Atomic int resync;          /* handler: restart the schedule from now */
	_Atomic uint64_t arm_ns;     /* when the pending arm was set */
	uint64_t next_ns, gap_ns, trng;
	int ticks_left;
};

/* What the vCPU callbacks use of qtop-prof's config: a snapshot published
 * by the control thread with release, never modified after. */
struct snap {
	struct qps_cfg c;
	struct snap *older;          /* freed at exit */
};

static struct {
	qemu_plugin_id_t id;
	struct qps_ctl *ctl;
	size_t bytes;
	char name[128];
	unsigned ncpus;
	struct vcpu *cpu;
	struct qemu_plugin_scoreboard *sb;
	qemu_plugin_u64 ctr;         /* per vCPU: blocks, see check_after */
	_Atomic(struct snap *) snap;
	pthread_t timer;
	_Atomic int quit;
	int timer_started;
	_Atomic unsigned ninit;
	unsigned smp;
	int is64;
	uint32_t stack_cap, ustack_cap;
	uint64_t late_ns;
	_Atomic uint64_t period_ns;  /* 0: not sampling (checks park) */
	_Atomic int inst;            /* the instrumentation in place: INST_* */
	_Atomic int next_inst;       /* what a reset under way puts in place */
	_Atomic int resetting;       /* a qemu_plugin_reset is under way */
	int clock_arg;               /* CLK_*, from clock= */
	_Atomic int clock;           /* CLK_SIGNAL or CLK_COUNT for the current period */
	int sig;                     /* the vCPU timers' signal, 0: none free */
	_Atomic int sig_broken;      /* a vCPU could not have its timer: count */
	_Atomic uint64_t mask;       /* vCPUs to sample, 0: all */
} P;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t proc_starttime(pid_t pid)
{
	char path[64], buf[1024];
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	/* field 22, counted after the ")" that ends the command name */
	char *p = strrchr(buf, ')');
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	return p ? strtoull(p + 1, NULL, 10) : 0;
}

static struct shmring *ring_of(unsigned cpu)
{
	return (struct shmring *)((uint8_t *)P.ctl + P.ctl->ring_off +
				  (uint64_t)cpu * P.ctl->ring_stride);
}

/* ---- vCPU side ---- */

static int read_reg(struct vcpu *v, int id, uint64_t *out)
{
	uint64_t x = 0;

	if (!v->reg[id])
		return -1;
	g_byte_array_set_size(v->buf, 0);
	if (qemu_plugin_read_register(v->reg[id], v->buf) <= 0 || v->buf->len == 0)
		return -1;
	/* target byte order: x86 is little-endian */
	for (unsigned i = 0; i < v->buf->len && i < 8; i++)
		x |= (uint64_t)v->buf->data[i] << (8 * i);
	*out = x;
	return 0;
}

/* Guest virtual memory, page by page (a read across into an unmapped page
 * fails whole); returns the bytes read before the first failure. */
static uint32_t read_mem(struct vcpu *v, uint64_t addr, uint8_t *dst, uint32_t len)
{
	uint32_t got = 0;

	while (got < len) {
		uint64_t a = addr + got;
		uint32_t chunk = PAGE - (uint32_t)(a & (PAGE - 1));
		if (chunk > len - got)
			chunk = len - got;
		g_byte_array_set_size(v->buf, 0);
		if (!qemu_plugin_read_memory_vaddr(a, v->buf, chunk) || v->buf->len < chunk)
			break;
		memcpy(dst + got, v->buf->data, chunk);
		got += chunk;
	}
	return got;
}

static uint64_t load_word(const uint8_t *p, int ws)
{
	uint64_t x = 0;
	for (int i = 0; i < ws; i++)
		x |= (uint64_t)p[i] << (8 * i);
	return x;
}

static int read_regs(struct vcpu *v, struct qp_regs *r)
{
	uint64_t x;

	for (int i = 0; i < QP_NGPR; i++)
		if (v->reg[R_GPR0 + i] && read_reg(v, R_GPR0 + i, &r->gpr[i]) < 0)
			return -1;
	if (read_reg(v, R_IP, &r->ip) < 0 || !v->reg[R_GPR0 + QP_RSP])
		return -1;
	read_reg(v, R_FLAGS, &r->flags);
	if (read_reg(v, R_CS, &x) == 0)
		r->cs = (uint16_t)x;
	if (read_reg(v, R_SS, &x) == 0)
		r->ss = (uint16_t)x;
	read_reg(v, R_FS_BASE, &r->fs_base);
	read_reg(v, R_GS_BASE, &r->gs_base);
	read_reg(v, R_CR0, &r->cr0);
	read_reg(v, R_CR2, &r->cr2);
	read_reg(v, R_CR3, &r->cr3);
	read_reg(v, R_CR4, &r->cr4);
	read_reg(v, R_EFER, &r->efer);
	read_reg(v, R_TR_BASE, &r->tr_base);
	r->cpl = (uint8_t)(r->cs & 3);
	/* 64-bit code: long mode active (EFER.LMA).  A 32-bit program under a
	 * 64-bit kernel (compat mode) is taken as 64-bit: QEMU's plugin API
	 * does not expose CS.L. */
	r->long_mode = P.is64 && (r->efer & (1u << 10));
	if (!r->long_mode)
		for (int i = 0; i < QP_NGPR; i++)
			r->gpr[i] &= i < 8 ? 0xffffffffull : 0;
	if (!r->long_mode)
		r->ip &= 0xffffffffull;
	r->valid = 1;
	return 0;
}

static void capture(struct vcpu *v, unsigned idx, const struct qps_cfg *c,
		    struct qp_sample *smp)
{
	struct qp_regs *r = &smp->regs;
	int ws = qp_regs_wordsize(r);
	uint64_t sp = r->gpr[QP_RSP], len = c->stack_bytes, user_ip = 0, user_sp = 0;
	uint8_t w[8];

	smp->stack_addr = sp;
	if (r->cpl == 0 && c->linux_kstack) {
		uint64_t top = (sp | (c->linux_kstack - 1u)) + 1;
		if (top - sp < len)
			len = top - sp;
	} else if (r->cpl == 0) {
		/* The kernel stack ends at TSS.sp0 (offset 4 in both TSS
		 * layouts): the copy ends exactly at the trap frame. */
		uint64_t tss = r->tr_base ? r->tr_base :
			       idx < QPS_MAX_CPUS ? c->tss_base[idx] : 0;
		if (tss && read_mem(v, tss + 4, w, (uint32_t)ws) == (uint32_t)ws) {
			uint64_t sp0 = load_word(w, ws);
			if (sp0 > sp && sp0 - sp <= len)
				len = sp0 - sp;
			if (sp0 > sp && sp0 - sp <= len && sp0 - sp >= 5u * (uint64_t)ws)
				smp->trap_addr = sp0 - 5u * (uint64_t)ws;   /* checked below */
		}
	}
	smp->stack_len = read_mem(v, sp, qp_sample_stack(smp), (uint32_t)len);
	if (smp->stack_len < len)
		smp->flags |= QP_SF_STACK_CLIPPED;
	if (!smp->stack_len) {
		smp->flags |= QP_SF_STACK_FAILED;
		atomic_fetch_add_explicit(&P.ctl->cpu[idx].stack_fail, 1, memory_order_relaxed);
	}

	/* Linux: a kernel stack copied to its top whose top word points into
	 * another kernel stack is an IRQ stack (call_on_irqstack saved the
	 * task's sp there, the per-CPU hardirq_stack_ptr's word): copy that
	 * task stack too, from the saved sp to its top (stack2), as the QMP
	 * engine does (sampler.c); the walk goes on through it into the task
	 * and its user trap frame. */
	uint64_t end = smp->stack_addr + smp->stack_len;
	uint32_t s2len = 0;
	uint64_t s2addr = 0;
	if (r->cpl == 0 && c->linux_kstack && ws == 8 && smp->stack_len >= 8) {
		uint64_t ks = c->linux_kstack, top = (smp->stack_addr | (ks - 1u)) + 1;
		/* to its top: the kstack boundary, or a page end where the read
		 * stopped (an IRQ stack need not be ks-aligned; a guard page
		 * follows it) */
		if (end == top || !(end & (PAGE - 1))) {
			uint64_t old = load_word(qp_sample_stack(smp) + smp->stack_len - 8, 8);
			if (old >= KERNEL_HALF && !(old >= top - ks && old < top) && !(old & 7)) {
				uint64_t top2 = (old | (ks - 1u)) + 1, want = top2 - old;
				if (!v->stk2 || v->stk2_cap < ks) {
					free(v->stk2);
					v->stk2 = malloc(ks);
					v->stk2_cap = v->stk2 ? (uint32_t)ks : 0;
				}
				if (v->stk2 && want <= v->stk2_cap) {
					s2len = read_mem(v, old, v->stk2, (uint32_t)want);
					if (s2len >= 16)
						s2addr = old;
					else
						s2len = 0;
				}
			}
		}
	}

	/* The user context behind a kernel trap frame (as sampler.c). */
	if (r->cpl == 3) {
		user_ip = r->ip;
	} else if (smp->stack_len && c->linux_kstack && ws == 8) {
		/* pt_regs ends the task stack: on an IRQ stack, the one behind */
		uint64_t base = s2len ? s2addr : smp->stack_addr;
		uint64_t blen = s2len ? s2len : smp->stack_len;
		const uint8_t *copy = s2len ? v->stk2 : qp_sample_stack(smp);
		uint64_t top = (base | (c->linux_kstack - 1u)) + 1, tf = top - 40;
		if (tf >= base && tf + 40 <= base + blen) {
			const uint8_t *p = copy + (tf - base);
			uint64_t cs = load_word(p + 8, 8), ss = load_word(p + 32, 8);
			if ((cs == 0x33 || cs == 0x23) && ss == 0x2b) {
				smp->flags |= QP_SF_HAS_TRAP;
				smp->trap_addr = tf;
				user_ip = load_word(p, 8);
				user_sp = load_word(p + 24, 8);
			}
		}
	} else if (smp->trap_addr) {
		uint64_t tf = smp->trap_addr;
		smp->trap_addr = 0;
		if (tf >= smp->stack_addr && tf + 5u * (uint64_t)ws <= end) {
			const uint8_t *p = qp_sample_stack(smp) + (tf - smp->stack_addr);
			if ((load_word(p + ws, ws) & 3) == 3) {
				smp->flags |= QP_SF_HAS_TRAP;
				smp->trap_addr = tf;
				user_ip = load_word(p, ws);
				user_sp = load_word(p + 3 * ws, ws);
			}
		}
	}
	if (!(smp->flags & QP_SF_HAS_TRAP))
		smp->trap_addr = 0;
	if (user_sp && c->ustack_bytes) {
		smp->ustack_addr = user_sp;
		smp->ustack_len = read_mem(v, user_sp, qp_sample_stack(smp) + smp->stack_len,
					   c->ustack_bytes);
		if (!smp->ustack_len)
			smp->flags |= QP_SF_USTACK_FAILED;
	}
	uint8_t *dst = qp_sample_stack(smp) + smp->stack_len + smp->ustack_len;
	if (user_ip && c->want_code) {
		smp->code_addr = user_ip;
		smp->code_len = read_mem(v, user_ip, dst, QP_CODE_BYTES);
		if (smp->code_len)
			smp->flags |= QP_SF_HAS_CODE;
		dst += smp->code_len;
	}
	if (idx < QPS_MAX_CPUS && c->comm[idx].valid) {
		const struct qps_comm *cr = &c->comm[idx];
		uint64_t a = cr->addr;
		int ok = 1, cws = cr->wordsize == 4 ? 4 : 8;
		for (int i = 0; i < cr->nderef && i < 4 && ok; i++) {
			ok = read_mem(v, a, w, (uint32_t)cws) == (uint32_t)cws;
			a = load_word(w, cws) + (uint64_t)cr->off[i];
		}
		if (ok && cr->len && cr->len <= QP_COMM_BYTES) {
			smp->comm_len = read_mem(v, a, dst, cr->len);
			if (smp->comm_len)
				smp->flags |= QP_SF_HAS_COMM;
		}
		dst += smp->comm_len;
	}
	/* stack2 last (after the empty stack0), clipped to the slot's room:
	 * its low end (where the walk resumes) is kept */
	if (s2len) {
		size_t used = (size_t)(dst - (uint8_t *)smp);
		size_t room = P.ctl->slot_size > used ? P.ctl->slot_size - used : 0;
		if (s2len > room)
			s2len = (uint32_t)(room & ~(size_t)7);
		if (s2len >= 16) {
			memcpy(dst, v->stk2, s2len);
			smp->stack2_addr = s2addr;
			smp->stack2_len = s2len;
			atomic_fetch_add_explicit(&P.ctl->cpu[idx].irq_stack2, 1,
						  memory_order_relaxed);
		}
	}
}

static uint64_t xorshift64(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* uniform [0.5, 1.5) x period */
static uint64_t jittered(uint64_t period, uint64_t *rng)
{
	return period / 2 + xorshift64(rng) % (period ? period : 1);
}

/* The vCPU's block counter fires the check when it reaches CHECK_AT: a
 * check leaves it at CHECK_AT - n to come back n blocks later, at 0 when
 * nothing is to be sampled (2^40 blocks: hours). */
static void check_after(unsigned idx, uint64_t blocks)
{
	qemu_plugin_u64_set(P.ctr, idx, blocks ? CHECK_AT - blocks : 0);
}

/* One record of the vCPU's exact state at t0 (this block start), its
 * time counted in cb_ns; returns when it was done. */
static uint64_t take_sample(struct vcpu *v, unsigned idx, const struct snap *s, uint64_t t0)
{
	struct qps_cpu *pc = &P.ctl->cpu[idx];
	struct shmring *ring = ring_of(idx);
	struct qp_sample *smp = shmring_reserve(ring);

	if (smp) {           /* else full: qtop-prof is behind; counted by the ring */
		memset(smp, 0, sizeof *smp);
		if (read_regs(v, &smp->regs) == 0) {
			smp->t_ns = t0;
			smp->cpu = idx;
			smp->seq = v->seq++;
			capture(v, idx, &s->c, smp);
			shmring_commit(ring);
			atomic_fetch_add_explicit(&pc->samples, 1, memory_order_relaxed);
		} else {     /* slot not committed: reused next time */
			atomic_fetch_add_explicit(&pc->reg_fail, 1, memory_order_relaxed);
		}
	}
	uint64_t end = now_ns();
	atomic_fetch_add_explicit(&pc->cb_ns, end - t0, memory_order_relaxed);
	return end;
}

/* ---- signal clock ---- */

static struct timespec ns_ts(uint64_t ns)
{
	return (struct timespec){ (time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull) };
}

/* First expiry at first_ns (CLOCK_MONOTONIC, 0: stop), then every gap_ns
 * (0: once). */
static void timer_at(timer_t t, uint64_t first_ns, uint64_t gap_ns)
{
	struct itimerspec its = { ns_ts(gap_ns), ns_ts(first_ns) };
	timer_settime(t, TIMER_ABSTIME, &its, NULL);
}

/* Fire the vCPU's timer now: the handler starts the schedule afresh
 * (sampling switched on, a new rate, the vCPU back from halt). */
static void vcpu_timer_kick(struct vcpu *v)
{
	if (!atomic_load_explicit(&v->has_tmr, memory_order_acquire))
		return;
	atomic_store(&v->resync, 1);
	timer_at(v->tmr, now_ns() + 1000, 0);
}

/* The signal handler, on the vCPU thread the timer belongs to (its
 * sigev_value is the vCPU index): arm the counter, set the next expiry.
 * Async-signal-safe: atomics, clock_gettime, timer_settime. */
static void on_tick(int sig, siginfo_t *si, void *uctx)
{
	int saved = errno;
	unsigned idx = (unsigned)si->si_value.sival_int;
	uint64_t period = atomic_load(&P.period_ns);
	struct vcpu *v;

	(void)sig;
	(void)uctx;
	if (si->si_code != SI_TIMER || idx >= P.ncpus || atomic_load(&P.quit))
		goto out;
	v = &P.cpu[idx];
	uint64_t mask = atomic_load(&P.mask);
	int idle = atomic_load(&v->idle);
	if (!period || atomic_load(&P.clock) != CLK_SIGNAL || idle ||
	    (mask && !((mask >> idx) & 1))) {
		/* detached, counting now, halted (no guest time to sample) or
		 * not asked for: stop; an attach, vcpu_resume or a new rate or
		 * mask kicks the timer again */
		if (idle && period)
			atomic_fetch_add_explicit(&P.ctl->cpu[idx].idle_arms, 1,
						  memory_order_relaxed);
		atomic_store(&v->resync, 1);
		timer_at(v->tmr, 0, 0);
		goto out;
	}
	uint64_t t = now_ns(), e;
	int armed = qemu_plugin_u64_get(P.ctr, idx) >= CHECK_AT;
	int restart = atomic_exchange(&v->resync, 0) || !v->gap_ns;
	if (restart) {
		e = t;
	} else {
		/* the expiry that sent this signal; si_overrun more came
		 * while it was pending: the thread was off the CPU */
		e = v->next_ns + (uint64_t)si->si_overrun * v->gap_ns;
		if (si->si_overrun > 0)
			atomic_fetch_add_explicit(&P.ctl->cpu[idx].merged,
						  (uint64_t)si->si_overrun, memory_order_relaxed);
		if (armed)
			atomic_fetch_add_explicit(&P.ctl->cpu[idx].merged, 1, memory_order_relaxed);
	}
	if (!armed) {
		atomic_store_explicit(&v->arm_ns, t, memory_order_relaxed);
		qemu_plugin_u64_set(P.ctr, idx, CHECK_AT);   /* at the next block start */
	}
	atomic_fetch_add_explicit(&P.ctl->cpu[idx].arms, 1, memory_order_relaxed);
	/* The timer is periodic and its gap is drawn again (uniform [0.5,
	 * 1.5) x period) every TICKS_PER_GAP expiries, from the expiry it
	 * replaces, so the mean rate holds however late signals come
	 * (setting a timer costs 13 us on a virtualised host: one per tick
	 * cost more than the sample).  A first expiry already past comes
	 * 1/16 period from now: time for the vCPU to serve this arm. */
	if (restart || --v->ticks_left <= 0) {
		uint64_t gap = jittered(period, &v->trng), first = e + gap;
		if (first < t + period / 16)
			first = t + period / 16;
		timer_at(v->tmr, first, gap);
		v->gap_ns = gap;
		v->next_ns = first;
		v->ticks_left = TICKS_PER_GAP;
		/* stopped meanwhile: the control thread's disarm may have come first */
		if (!atomic_load(&P.period_ns) || atomic_load(&P.quit) ||
		    atomic_load(&P.clock) != CLK_SIGNAL)
			timer_at(v->tmr, 0, 0);
	} else {
		v->next_ns = e + v->gap_ns;
	}
	atomic_fetch_add_explicit(&P.ctl->cpu[idx].tick_ns, now_ns() - t, memory_order_relaxed);
out:
	errno = saved;
}

/* On the vCPU thread: a timer that signals this thread.  QEMU's threads
 * start with every signal blocked; ours is unblocked here only.  A vCPU
 * that cannot have one makes every vCPU count instead. */
static void vcpu_timer_setup(struct vcpu *v, unsigned idx)
{
	struct sigevent sev;
	sigset_t set;

	atomic_store(&v->tmr_tried, 1);
	if (!P.sig)
		return;
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = P.sig;
	sev.sigev_value.sival_int = (int)idx;
	sev._sigev_un._tid = (pid_t)gettid();
	v->trng = (now_ns() ^ ((uint64_t)idx << 40)) | 1;
	if (timer_create(CLOCK_MONOTONIC, &sev, &v->tmr) < 0) {
		fprintf(stderr, "qtop-plugin: vCPU %u: timer_create: %s (the vCPUs count "
			"blocks instead)\n", idx, strerror(errno));
		atomic_store(&P.sig_broken, 1);
		return;
	}
	sigemptyset(&set);
	sigaddset(&set, P.sig);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	atomic_store_explicit(&v->has_tmr, 1, memory_order_release);
	vcpu_timer_kick(v);
}

static void switch_inst(int inst);

/* The compare-only instrumentation fired: with the signal clock, an arm
 * set by the vCPU's timer (or the control thread's poke to set that
 * timer up); with the counting clock, the control thread's poke: the
 * counting instrumentation goes in. */
static void on_wake(unsigned int idx, void *udata)
{
	(void)udata;
	check_after(idx, 0);
	if (idx >= P.ncpus || !atomic_load_explicit(&P.period_ns, memory_order_relaxed))
		return;
	if (atomic_load(&P.clock) == CLK_COUNT) {
		switch_inst(INST_COUNT);
		return;
	}
	struct vcpu *v = &P.cpu[idx];
	const struct snap *s = atomic_load_explicit(&P.snap, memory_order_acquire);
	if (!s || !atomic_load_explicit(&v->ready, memory_order_acquire))
		return;
	if (!atomic_load(&v->tmr_tried)) {
		vcpu_timer_setup(v, idx);
		return;
	}
	uint64_t t0 = now_ns();
	if (t0 - atomic_load_explicit(&v->arm_ns, memory_order_relaxed) > P.late_ns)
		atomic_fetch_add_explicit(&P.ctl->cpu[idx].late, 1, memory_order_relaxed);
	else
		take_sample(v, idx, s, t0);
}

/* The check, on the vCPU thread at a block start: the vCPU clocks itself.
 * Every block adds 1 to its counter (inline, no call); every n-th block
 * this callback reads the clock.  n is half the blocks the vCPU is
 * expected to run until the next sample is due (from its block rate over
 * the last interval, which falls at once and rises by halves), so the checks
 * close in on the due time and the last ones come block by block: the
 * record is taken at the first block start at or after it, as an
 * interrupt would, but nothing interrupts the vCPU thread (a timer signal
 * cost 30 us on a virtualised host, 3 % of a vCPU at 1 kHz and 30 % at
 * 10 kHz; a check is a call and a clock read, ~12 per sample at 10 kHz).
 * Due times are drawn uniform [0.5, 1.5) x period apart, so periodic guest
 * work is not aliased; they count the vCPU's running time (a halt keeps
 * what was left). */
static void on_check(unsigned int idx, void *udata)
{
	(void)udata;
	if (idx >= P.ncpus) {
		check_after(idx, 0);       /* beyond the rings we made */
		return;
	}
	struct vcpu *v = &P.cpu[idx];
	struct qps_cpu *pc = &P.ctl->cpu[idx];
	const struct snap *s = atomic_load_explicit(&P.snap, memory_order_acquire);
	uint64_t period = atomic_load_explicit(&P.period_ns, memory_order_relaxed);
	uint64_t mask = atomic_load_explicit(&P.mask, memory_order_relaxed);
	uint64_t t = now_ns();

	atomic_store_explicit(&v->seen_ns, t, memory_order_relaxed);
	int counting = atomic_load(&P.clock) == CLK_COUNT;
	if (!period || !counting || !s || !atomic_load_explicit(&v->ready, memory_order_acquire) ||
	    (mask && !((mask >> idx) & 1))) {
		v->due_ns = 0;             /* not asked: no more checks until the
					      control thread pokes the counter */
		check_after(idx, 0);
		if (!period || !counting)
			switch_inst(INST_IDLE);   /* detached or signals: the add goes */
		return;
	}
	if (!v->due_ns || v->period_ns != period || v->resumed) {
		/* a new schedule (attach, new rate or mask) or back from halt:
		 * what was left of the gap at the halt is left now */
		uint64_t left = v->resumed && v->due_ns && v->period_ns == period ?
				v->left_ns : jittered(period, &v->rng);
		v->resumed = 0;
		v->period_ns = period;
		v->due_ns = t + left;
		v->rate = 0;
		v->blocks = FIRST_BLOCKS;
		v->last_ns = t;
		check_after(idx, FIRST_BLOCKS);
		return;
	}
	/* blocks per ns over the interval since the last check.  Too low
	 * (the thread was off the CPU) costs a few checks more; too high
	 * (slow blocks: device I/O, helpers) makes records late: it falls at
	 * once and rises by halves. */
	uint64_t dt = t - v->last_ns, end = t;
	if (v->blocks && dt) {
		double r = (double)v->blocks / (double)dt;
		v->rate = (v->rate == 0 || r < v->rate) ? r : (v->rate + r) / 2;
	}
	if (t >= v->due_ns) {
		atomic_fetch_add_explicit(&pc->arms, 1, memory_order_relaxed);
		if (t - v->due_ns > P.late_ns) {
			/* the thread was off the CPU (host scheduler, QEMU's
			 * lock): the first block after such a gap is mostly the
			 * interrupt that became due meanwhile, not running time */
			atomic_fetch_add_explicit(&pc->late, 1, memory_order_relaxed);
			v->due_ns = t + jittered(period, &v->rng);
		} else {
			end = take_sample(v, idx, s, t);
			v->due_ns += jittered(period, &v->rng);
			if (v->due_ns <= end) {
				/* due again already: the record took longer than the
				 * gap; that one is not made up */
				atomic_fetch_add_explicit(&pc->merged, 1, memory_order_relaxed);
				v->due_ns = end + jittered(period, &v->rng);
			}
		}
	}
	uint64_t n = FIRST_BLOCKS;
	if (v->rate > 0) {
		double left = (double)(v->due_ns - end);
		if (left > MAX_CHECK_NS)
			left = MAX_CHECK_NS;   /* a new rate, mask or detach is seen soon */
		n = (uint64_t)(left * v->rate / 2);
		if (n < 1)
			n = 1;
	}
	v->blocks = n;
	v->last_ns = end;
	check_after(idx, n);
	/* the cost of a check: one in 16 is timed (a clock read is a fifth
	 * of a check); counted without a locked add (this vCPU's thread is
	 * the only writer) */
	uint64_t c = atomic_load_explicit(&pc->checks, memory_order_relaxed);
	atomic_store_explicit(&pc->checks, c + 1, memory_order_relaxed);
	if (end == t && !(c & 15))
		atomic_fetch_add_explicit(&pc->check_ns, 16 * (now_ns() - t), memory_order_relaxed);
}

/* Halted (HLT, or the VM stopped): the schedule keeps the time that was
 * left, so the sampled time is running time. */
static void vcpu_idle(qemu_plugin_id_t id, unsigned int idx)
{
	(void)id;
	if (idx >= P.ncpus)
		return;
	struct vcpu *v = &P.cpu[idx];
	uint64_t t = now_ns();
	atomic_store(&v->idle, 1);
	v->idle_ns = t;
	v->left_ns = v->due_ns > t ? v->due_ns - t : 0;
}

static void vcpu_resume(qemu_plugin_id_t id, unsigned int idx)
{
	(void)id;
	if (idx >= P.ncpus)
		return;
	struct vcpu *v = &P.cpu[idx];
	atomic_store(&v->idle, 0);
	if (atomic_load(&v->resync) && atomic_load(&P.period_ns) &&
	    atomic_load(&P.clock) == CLK_SIGNAL)
		vcpu_timer_kick(v);
	if (v->due_ns && v->period_ns) {
		atomic_fetch_add_explicit(&P.ctl->cpu[idx].idle_arms,
					  (now_ns() - v->idle_ns) / v->period_ns,
					  memory_order_relaxed);
		v->resumed = 1;
		check_after(idx, 1);
	}
}

static void tb_trans_count(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	(void)id;
	qemu_plugin_register_vcpu_tb_exec_inline_per_vcpu(tb, QEMU_PLUGIN_INLINE_ADD_U64,
							   P.ctr, 1);
	qemu_plugin_register_vcpu_tb_exec_cond_cb(tb, on_check, QEMU_PLUGIN_CB_R_REGS,
						  QEMU_PLUGIN_COND_GE, P.ctr, CHECK_AT, NULL);
}

static void tb_trans_idle(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	(void)id;
	/* R_REGS: with the signal clock this callback takes the sample */
	qemu_plugin_register_vcpu_tb_exec_cond_cb(tb, on_wake, QEMU_PLUGIN_CB_R_REGS,
						  QEMU_PLUGIN_COND_GE, P.ctr, CHECK_AT, NULL);
}

static void vcpu_init(qemu_plugin_id_t id, unsigned int idx);
static void at_exit(qemu_plugin_id_t id, void *udata);

static void register_callbacks(qemu_plugin_id_t id, int inst)
{
	qemu_plugin_register_vcpu_init_cb(id, vcpu_init);
	qemu_plugin_register_vcpu_idle_cb(id, vcpu_idle);
	qemu_plugin_register_vcpu_resume_cb(id, vcpu_resume);
	qemu_plugin_register_atexit_cb(id, at_exit, NULL);
	qemu_plugin_register_vcpu_tb_trans_cb(id, inst == INST_COUNT ? tb_trans_count :
					      tb_trans_idle);
	atomic_store(&P.inst, inst);
}

/* After qemu_plugin_reset, with every vCPU out of the translated code
 * (QEMU's exclusive section): the other instrumentation, every vCPU's
 * counter and schedule set for it. */
static void reinstall(qemu_plugin_id_t id)
{
	int inst = atomic_load(&P.next_inst);

	for (unsigned i = 0; i < P.ncpus; i++) {
		if (!atomic_load_explicit(&P.cpu[i].ready, memory_order_acquire))
			continue;
		P.cpu[i].due_ns = 0;
		check_after(i, inst == INST_COUNT ? 1 : 0);
	}
	register_callbacks(id, inst);
	atomic_fetch_add_explicit(&P.ctl->resets, 1, memory_order_relaxed);
	atomic_store(&P.resetting, 0);
}

/* From a vCPU callback: put the other instrumentation in place.  The
 * translated code is flushed (retranslated as it runs again), so only on
 * attach and detach, never per sample. */
static void switch_inst(int inst)
{
	int no = 0;

	if (atomic_load(&P.inst) == inst || !atomic_compare_exchange_strong(&P.resetting, &no, 1))
		return;
	atomic_store(&P.next_inst, inst);
	qemu_plugin_reset(P.id, reinstall);
}

static void vcpu_init(qemu_plugin_id_t id, unsigned int idx)
{
	GArray *regs;
	struct vcpu *v;

	(void)id;
	if (idx >= P.ncpus)
		return;          /* beyond the rings we made: never armed */
	v = &P.cpu[idx];
	v->buf = g_byte_array_new();
	regs = qemu_plugin_get_registers();
	size_t off = 0;
	for (guint i = 0; regs && i < regs->len; i++) {
		qemu_plugin_reg_descriptor *d = &g_array_index(regs, qemu_plugin_reg_descriptor, i);
		for (int k = 0; k < R_NREGS; k++) {
			const char *n64 = reg_names64[k];
			const char *n32 = k <= R_IP ? reg_names32[k] : NULL;
			if ((n64 && !strcmp(d->name, n64)) || (n32 && !strcmp(d->name, n32)))
				if (!v->reg[k] || (n64 && !strcmp(d->name, n64)))
					v->reg[k] = d->handle;
		}
		if (idx == 0 && off + strlen(d->name) + 2 < sizeof P.ctl->regset) {
			off += (size_t)snprintf(P.ctl->regset + off, sizeof P.ctl->regset - off,
						"%s%s", off ? " " : "", d->name);
		}
	}
	if (regs)
		g_array_free(regs, TRUE);
	if (idx == 0) {
		P.ctl->has_cr3 = v->reg[R_CR3] != NULL;
		P.ctl->has_tr_base = v->reg[R_TR_BASE] != NULL;
	}
	if (!v->reg[R_IP] || !v->reg[R_GPR0 + QP_RSP]) {
		fprintf(stderr, "qtop-plugin: vCPU %u: QEMU exposes no rip/rsp to plugins "
			"(registers: %s): this vCPU is not sampled\n", idx, P.ctl->regset);
		return;
	}
	atomic_store_explicit(&v->ready, 1, memory_order_release);
	atomic_fetch_add(&P.ninit, 1);
}

/* ---- control thread ---- */

static int client_alive(pid_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

static void take_cfg(void)
{
	struct snap *n = malloc(sizeof *n);
	uint32_t g0, g1;

	if (!n)
		return;
	/* Seqlock-like: qtop-prof writes cfg, then bumps cfg_gen (release);
	 * a copy taken while it changed is taken again. */
	do {
		g0 = atomic_load_explicit(&P.ctl->cfg_gen, memory_order_acquire);
		memcpy(&n->c, &P.ctl->cfg, sizeof n->c);
		atomic_thread_fence(memory_order_acquire);
		g1 = atomic_load_explicit(&P.ctl->cfg_gen, memory_order_relaxed);
	} while (g0 != g1);
	/* Never trust the other side's numbers with our buffers. */
	if (n->c.stack_bytes == 0 || n->c.stack_bytes > P.stack_cap)
		n->c.stack_bytes = P.stack_cap;
	if (n->c.ustack_bytes > P.ustack_cap)
		n->c.ustack_bytes = P.ustack_cap;
	if (n->c.linux_kstack & (n->c.linux_kstack - 1))
		n->c.linux_kstack = 0;
	n->older = atomic_load_explicit(&P.snap, memory_order_relaxed);
	atomic_store_explicit(&P.snap, n, memory_order_release);
}

static void *timer_main(void *arg)
{
	uint64_t last_beat = 0, beat_ns = 0;
	uint32_t gen = 0;
	int armed = 0;

	(void)arg;
	while (!atomic_load(&P.quit)) {
		struct qps_ctl *c = P.ctl;
		uint64_t t = now_ns(), cb;
		atomic_fetch_add_explicit(&c->plugin_beat, 1, memory_order_release);
		atomic_fetch_add_explicit(&c->ticks, 1, memory_order_relaxed);

		cb = atomic_load_explicit(&c->client_beat, memory_order_acquire);
		if (cb != last_beat) {
			last_beat = cb;
			beat_ns = t;
		}
		pid_t cp = atomic_load_explicit(&c->client_pid, memory_order_acquire);
		int attached = cp && beat_ns && t - beat_ns < QPS_CLIENT_TIMEOUT_MS * 1000000ull &&
			       client_alive(cp);
		uint32_t hz = atomic_load_explicit(&c->hz, memory_order_relaxed);
		/* All vCPUs initialised first: the scoreboard grows while they
		 * come up, and an entry of a vCPU not yet set up asserts. */
		int go = attached && hz && atomic_load(&c->enabled) &&
			 atomic_load(&P.ninit) >= P.smp;
		if (go) {
			uint32_t g = atomic_load_explicit(&c->cfg_gen, memory_order_acquire);
			if (g != gen || !atomic_load(&P.snap)) {
				take_cfg();
				gen = g;
			}
		}
		if (go != armed) {
			armed = go;
			atomic_store(&c->plugin_armed, (uint32_t)go);
		}
		/* what the vCPUs read: period 0 parks them; the clock for
		 * this period; the vCPU timers stopped, or (re)started on a
		 * new rate, mask or clock */
		const struct snap *sn = atomic_load_explicit(&P.snap, memory_order_acquire);
		uint64_t period = go ? 1000000000ull / hz : 0, mask = sn ? sn->c.cpu_mask : 0;
		/* (detached: the clock stays what it was, as qtop-prof reports) */
		int clock = !period ? atomic_load(&P.clock) :
			    !P.sig || atomic_load(&P.sig_broken) ? CLK_COUNT :
			    P.clock_arg != CLK_AUTO ? P.clock_arg :
			    period < COUNT_BELOW_NS ? CLK_COUNT : CLK_SIGNAL;
		if (period != atomic_load(&P.period_ns) || mask != atomic_load(&P.mask) ||
		    clock != atomic_load(&P.clock)) {
			atomic_store(&P.mask, mask);
			atomic_store(&P.clock, clock);
			atomic_store(&P.period_ns, period);
			atomic_store(&c->clock, (uint32_t)clock);
			for (unsigned i = 0; i < P.ncpus; i++)
				if (period && clock == CLK_SIGNAL)
					vcpu_timer_kick(&P.cpu[i]);
				else if (atomic_load(&P.cpu[i].has_tmr))
					timer_at(P.cpu[i].tmr, 0, 0);
		}
		if (!go) {
			/* Detached: a beat every 100 ms, nothing sampled; a
			 * qtop-prof that sets enabled wakes this wait at once
			 * (a futex on the shared word). */
			struct timespec ts = { 0, 100 * 1000000 };
			uint32_t en = atomic_load(&c->enabled);
			if (syscall(SYS_futex, (uint32_t *)&c->enabled, FUTEX_WAIT, en, &ts,
				    NULL, 0) < 0 && errno != ETIMEDOUT && errno != EAGAIN &&
			    errno != EINTR)
				nanosleep(&ts, NULL);
			continue;
		}
		/* Signals: poke a vCPU without its timer yet (its wake sets it
		 * up).  Counting, compare-only instrumentation still in: poke
		 * the running vCPUs, the first to run a block puts the counting
		 * one in.  Counting: a vCPU that runs but has not checked lately
		 * is parked (masked out before) or its counter lost our write
		 * to its own add: poke it.  Halted vCPUs run nothing. */
		int idle_inst = atomic_load(&P.inst) == INST_IDLE;
		for (unsigned i = 0; i < P.ncpus && i < QPS_MAX_CPUS; i++) {
			struct vcpu *v = &P.cpu[i];
			int poke;
			if (clock == CLK_SIGNAL)   /* once: the wake sets its timer up */
				poke = !atomic_load(&v->tmr_tried) && idle_inst;
			else if (idle_inst)
				poke = !atomic_load(&P.resetting);
			else
				poke = t - atomic_load_explicit(&v->seen_ns, memory_order_relaxed) > POKE_NS;
			if (poke && atomic_load_explicit(&v->ready, memory_order_acquire) &&
			    !atomic_load(&v->idle)) {
				atomic_store_explicit(&v->seen_ns, t, memory_order_relaxed);
				qemu_plugin_u64_set(P.ctr, i, CHECK_AT);
			}
		}
		/* attach, rate and config changes are seen within 10 ms */
		struct timespec ts = { 0, 10 * 1000000 };
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* ---- load / exit ---- */

static void at_exit(qemu_plugin_id_t id, void *udata)
{
	(void)id;
	(void)udata;
	atomic_store(&P.quit, 1);
	if (P.timer_started)
		pthread_join(P.timer, NULL);
	P.timer_started = 0;
	/* a signal still pending finds quit set */
	for (unsigned i = 0; P.cpu && i < P.ncpus; i++)
		if (atomic_exchange(&P.cpu[i].has_tmr, 0))
			timer_delete(P.cpu[i].tmr);
	if (P.ctl) {
		atomic_store(&P.ctl->plugin_armed, 0);
		atomic_store(&P.ctl->plugin_state, QPS_EXITED);
		shm_unlink(P.name);
		/* The mapping stays: a late vCPU callback must not fault. */
	}
}

/* A segment of this name from an earlier QEMU: remove it if that QEMU is
 * gone; refuse if another live QEMU owns it (name=... given twice). */
static int clear_stale(const char *name)
{
	int fd = shm_open(name, O_RDONLY, 0);
	struct qps_ctl c;

	if (fd < 0)
		return 0;
	ssize_t n = pread(fd, &c, sizeof c, 0);
	close(fd);
	if (n == (ssize_t)sizeof c && !memcmp(c.magic, QPS_MAGIC, 8) &&
	    c.qemu_pid != getpid() && kill(c.qemu_pid, 0) == 0 &&
	    proc_starttime(c.qemu_pid) == c.qemu_start)
		return -1;
	shm_unlink(name);
	return 0;
}

/* A real-time signal nobody in QEMU's process handles, with on_tick as
 * its handler; 0 when none is free (the vCPUs then count blocks). */
static int pick_signal(void)
{
	for (int sig = SIGRTMAX - 4; sig >= SIGRTMIN + 4; sig--) {
		struct sigaction old, sa;
		if (sigaction(sig, NULL, &old) < 0 || old.sa_handler != SIG_DFL ||
		    (old.sa_flags & SA_SIGINFO))
			continue;
		memset(&sa, 0, sizeof sa);
		sa.sa_sigaction = on_tick;
		sa.sa_flags = SA_SIGINFO | SA_RESTART;
		sigfillset(&sa.sa_mask);
		if (sigaction(sig, &sa, NULL) == 0)
			return sig;
	}
	fputs("qtop-plugin: no free real-time signal: the vCPUs count blocks at "
	      "every rate\n", stderr);
	return 0;
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
					   int argc, char **argv)
{
	uint32_t nslots = 512;
	size_t ring_bytes, total;
	const char *name = NULL;
	int fd;

	P.stack_cap = 16384;
	P.ustack_cap = 8192;
	P.late_ns = 2000000;
	if (info->version.cur < QTOP_PLUGIN_API_VERSION) {
		fprintf(stderr, "qtop-plugin: QEMU's plugin API is version %d (min %d); "
			"qtop-plugin needs version %d (QEMU 9.2 or later: conditional "
			"callbacks, register and guest-memory reads)\n",
			info->version.cur, info->version.min, QTOP_PLUGIN_API_VERSION);
		return -1;
	}
	if (!info->system_emulation) {
		fputs("qtop-plugin: needs system emulation (qemu-system-*), not user mode\n", stderr);
		return -1;
	}
	if (strcmp(info->target_name, "x86_64") && strcmp(info->target_name, "i386")) {
		fprintf(stderr, "qtop-plugin: target %s not supported (x86_64, i386)\n",
			info->target_name);
		return -1;
	}
	P.is64 = !strcmp(info->target_name, "x86_64");
	for (int i = 0; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		unsigned long v = eq ? strtoul(eq + 1, NULL, 0) : 0;
		if (!strncmp(argv[i], "name=", 5) && argv[i][5] && !strchr(argv[i] + 5, '/'))
			name = argv[i] + 5;
		else if (!strncmp(argv[i], "slots=", 6) && v >= 16 && v <= 65536)
			nslots = (uint32_t)v;
		else if (!strncmp(argv[i], "stack=", 6) && v >= 256 && v <= (1u << 20))
			P.stack_cap = (uint32_t)v;
		else if (!strncmp(argv[i], "ustack=", 7) && v <= (1u << 20))
			P.ustack_cap = (uint32_t)v;
		else if (!strncmp(argv[i], "late_us=", 8) && v >= 10)
			P.late_ns = (uint64_t)v * 1000u;
		else if (!strcmp(argv[i], "clock=auto"))
			P.clock_arg = CLK_AUTO;
		else if (!strcmp(argv[i], "clock=signal"))
			P.clock_arg = CLK_SIGNAL;
		else if (!strcmp(argv[i], "clock=count"))
			P.clock_arg = CLK_COUNT;
		else {
			fprintf(stderr, "qtop-plugin: unknown or bad argument '%s' "
				"(name=NAME, slots=N, stack=BYTES, ustack=BYTES, late_us=N, "
				"clock=auto|signal|count)\n", argv[i]);
			return -1;
		}
	}
	if (name)
		snprintf(P.name, sizeof P.name, "/%s", name);
	else
		snprintf(P.name, sizeof P.name, "/" QPS_NAME_PREFIX "%d", (int)getpid());

	P.id = id;
	P.smp = (unsigned)(info->system.smp_vcpus > 0 ? info->system.smp_vcpus : 1);
	P.ncpus = (unsigned)(info->system.max_vcpus > 0 ? info->system.max_vcpus : 1);
	if (P.ncpus > QPS_MAX_CPUS)
		P.ncpus = QPS_MAX_CPUS;
	if (P.smp > P.ncpus)
		P.smp = P.ncpus;
	size_t slot = sizeof(struct qp_sample) + P.stack_cap + P.ustack_cap +
		      QP_CODE_BYTES + QP_COMM_BYTES;
	ring_bytes = shmring_bytes(nslots, slot);
	ring_bytes = (ring_bytes + PAGE - 1) & ~(size_t)(PAGE - 1);
	size_t ctl_bytes = (sizeof(struct qps_ctl) + PAGE - 1) & ~(size_t)(PAGE - 1);
	total = ctl_bytes + (size_t)P.ncpus * ring_bytes;

	if (clear_stale(P.name) < 0) {
		fprintf(stderr, "qtop-plugin: /dev/shm%s belongs to another running QEMU: "
			"give a different name=\n", P.name);
		return -1;
	}
	fd = shm_open(P.name, O_CREAT | O_EXCL | O_RDWR, 0600);
	if (fd < 0) {
		fprintf(stderr, "qtop-plugin: /dev/shm%s: %s\n", P.name, strerror(errno));
		return -1;
	}
	if (ftruncate(fd, (off_t)total) < 0) {
		fprintf(stderr, "qtop-plugin: /dev/shm%s: %s\n", P.name, strerror(errno));
		close(fd);
		shm_unlink(P.name);
		return -1;
	}
	P.ctl = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (P.ctl == MAP_FAILED) {
		P.ctl = NULL;
		fprintf(stderr, "qtop-plugin: mmap: %s\n", strerror(errno));
		shm_unlink(P.name);
		return -1;
	}
	P.bytes = total;
	struct qps_ctl *c = P.ctl;
	c->version = QPS_VERSION;
	c->ctl_bytes = sizeof *c;
	qps_build_id(c->build);
	c->total_bytes = total;
	c->qemu_pid = (int32_t)getpid();
	c->qemu_start = proc_starttime(getpid());
	c->ncpus = P.ncpus;
	c->ring_off = ctl_bytes;
	c->ring_stride = ring_bytes;
	c->nslots = nslots;
	c->api_min = info->version.min;
	c->api_cur = info->version.cur;
	for (unsigned i = 0; i < P.ncpus; i++)
		shmring_init(ring_of(i), nslots, slot);
	c->slot_size = (uint32_t)ring_of(0)->slot_size;

	P.cpu = calloc(P.ncpus, sizeof *P.cpu);
	/* One cache line per vCPU: each adds to its counter every block,
	 * and two counters in one line made the vCPUs' cores trade it on
	 * every block (the guest ran 3.5 x slower with 2 vCPUs). */
	P.sb = qemu_plugin_scoreboard_new(64);
	if (!P.cpu || !P.sb) {
		fputs("qtop-plugin: out of memory\n", stderr);
		shm_unlink(P.name);
		return -1;
	}
	P.ctr = (qemu_plugin_u64){ P.sb, 0 };
	P.sig = pick_signal();
	for (unsigned i = 0; i < P.ncpus; i++)
		P.cpu[i].rng = (now_ns() ^ ((uint64_t)i << 32)) | 1;
	register_callbacks(id, INST_IDLE);
	if (pthread_create(&P.timer, NULL, timer_main, NULL) != 0) {
		fputs("qtop-plugin: cannot start its control thread\n", stderr);
		shm_unlink(P.name);
		return -1;
	}
	P.timer_started = 1;
	/* The magic last: a reader that sees it sees a complete header. */
	atomic_store(&c->plugin_state, QPS_RUNNING);
	atomic_thread_fence(memory_order_release);
	memcpy(c->magic, QPS_MAGIC, 8);
	return 0;
}
