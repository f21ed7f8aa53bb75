/* sample.h - one raw sample of one vCPU: registers plus copies of guest memory.
 *
 * Produced by the sampler thread (cheap raw capture, no interpretation beyond
 * finding where the stacks are), consumed by the unwinder/symbolizer.  Plain
 * data, no pointers, so it can live in a ring slot and be written to a record
 * file as is.
 */
#ifndef QTOP_SAMPLE_H
#define QTOP_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

/* Indices into qp_regs.gpr, in the order QEMU's HMP prints them.
 * For 32-bit layouts (EAX=...) slots 0..7 hold eax ebx ecx edx esi edi ebp esp
 * and 8..15 are zero. */
enum qp_gpr {
	QP_RAX, QP_RBX, QP_RCX, QP_RDX, QP_RSI, QP_RDI, QP_RBP, QP_RSP,
	QP_R8, QP_R9, QP_R10, QP_R11, QP_R12, QP_R13, QP_R14, QP_R15,
	QP_NGPR
};

struct qp_regs {
	uint64_t gpr[QP_NGPR];
	uint64_t ip;       /* RIP or EIP */
	uint64_t flags;    /* RFL / EFL */
	uint64_t cr0, cr2, cr3, cr4;
	uint64_t efer;
	uint64_t fs_base, gs_base, tr_base;
	uint16_t cs, ss;   /* selectors */
	uint8_t cpl;       /* 0..3 (from CPL=, else cs & 3) */
	uint8_t halted;    /* HLT=1 */
	uint8_t long_mode; /* 1 when QEMU printed the 64-bit (RAX=) layout */
	uint8_t valid;     /* 1 when ip and sp were parsed */
};

/* qp_sample.flags */
enum {
	QP_SF_STOPPED      = 1u << 0, /* taken with the guest paused by us (--stop) */
	QP_SF_STACK_CLIPPED= 1u << 1, /* stack copy shorter than asked (unmapped page) */
	QP_SF_STACK_FAILED = 1u << 2, /* no stack bytes could be read */
	QP_SF_HAS_TRAP     = 1u << 3, /* trap_addr points at a hardware trap frame to ring 3 */
	QP_SF_USTACK_FAILED= 1u << 4, /* trap frame seen but the user stack could not be read */
	QP_SF_HAS_CODE     = 1u << 5, /* code bytes at code_addr captured (address-space matching) */
	QP_SF_HAS_COMM     = 1u << 6, /* comm bytes captured (--comm) */
	QP_SF_IDLE         = 1u << 7, /* vCPU was halted */
	QP_SF_UNSTABLE     = 1u << 8, /* --no-stop: sp/fp/CR3/mode changed while
					 the stacks were read: stacks not used */
	QP_SF_RUNNING      = 1u << 9, /* registers read once with the guest
					 running, stacks copied just after:
					 each return address must be vouched
					 for (it follows a call that leads to
					 its callee); the chain is cut where
					 one is not */
	QP_SF_COMM_NOT_AS  = 1u << 10, /* the comm is the sampled task's, but
					  its memory is not CR3's (Linux: inside
					  a task switch): not this address
					  space's name */
	QP_SF_HAS_PID      = 1u << 11, /* pid holds the --pid value, read
					  with the comm (#15) */
};

/* Fixed part of a sample.  The variable part (stack bytes, user stack bytes,
 * code bytes, comm bytes, in that order) follows it in memory; see
 * qp_sample_stack() and friends. */
struct qp_sample {
	uint64_t seq;        /* sampler-wide sequence number, strictly increasing */
	uint64_t t_ns;       /* CLOCK_MONOTONIC at capture */
	uint32_t cpu;        /* vCPU index */
	uint32_t flags;      /* QP_SF_* */
	struct qp_regs regs;

	uint64_t stack_addr; /* guest VA of the first copied stack byte (== sp) */
	uint32_t stack_len;  /* bytes copied */

	/* Kernel-mode samples only: the hardware trap frame that entered the
	 * kernel from ring 3 (found from TSS.sp0), and a copy of the user stack
	 * it points to. trap_addr is a guest VA inside [stack_addr, +stack_len)
	 * when QP_SF_HAS_TRAP is set. */
	uint64_t trap_addr;
	uint64_t ustack_addr;
	uint32_t ustack_len;

	uint32_t code_len;   /* bytes of code at code_addr */
	uint64_t code_addr;  /* user pc (regs.ip, or the trap frame's ip) */

	uint32_t comm_len;   /* bytes read by the --comm recipe */
	uint32_t stack0_len; /* QP_SF_RUNNING: bytes of the earlier stack copy */

	/* QP_SF_RUNNING only: a second copy of the stack from stack0_addr
	 * (== sp), read just BEFORE the registers (at the previous round's
	 * stack pointer).  The guest runs on between the register read and
	 * the copy after it; when the chain cannot be vouched for in that
	 * copy (it moved on), it often can in this one (it had not moved
	 * yet).  Record format 2; 0 in format-1 files. */
	uint64_t stack0_addr;

	/* Linux, kernel mode on an IRQ stack: the task stack it was entered
	 * from (the IRQ stack's top word points into it), copied to its top,
	 * so the walk goes on past the interrupt into the task and its user
	 * trap frame (trap_addr may lie here). */
	uint64_t stack2_addr;
	uint32_t stack2_len;
	/* The program the sampler's page matcher (progmatch.h) had settled
	 * on for this address space when the sample was taken: 1 + its index
	 * in progmatch's list (the sysroot's programs, sorted by path), 0 when
	 * none yet.  It travels with the sample (and into --record files), so
	 * the consumer and a replay apply a decision at the same sample.  Was
	 * padding (0) before. */
	uint32_t prog;
	/* --pid (#15): the task id read with the comm bytes (the same
	 * round's registers and memory), valid with QP_SF_HAS_PID.  Record
	 * format 3; absent (0, flag clear) in older files. */
	int64_t pid;
};

static inline uint8_t *qp_sample_stack(struct qp_sample *s)
{ return (uint8_t *)(s + 1); }
static inline const uint8_t *qp_sample_stack_c(const struct qp_sample *s)
{ return (const uint8_t *)(s + 1); }
static inline const uint8_t *qp_sample_ustack(const struct qp_sample *s)
{ return qp_sample_stack_c(s) + s->stack_len; }
static inline const uint8_t *qp_sample_code(const struct qp_sample *s)
{ return qp_sample_ustack(s) + s->ustack_len; }
static inline const uint8_t *qp_sample_comm(const struct qp_sample *s)
{ return qp_sample_code(s) + s->code_len; }
static inline const uint8_t *qp_sample_stack0(const struct qp_sample *s)
{ return qp_sample_comm(s) + s->comm_len; }
static inline const uint8_t *qp_sample_stack2(const struct qp_sample *s)
{ return qp_sample_stack0(s) + s->stack0_len; }
static inline size_t qp_sample_size(const struct qp_sample *s)
{ return sizeof *s + s->stack_len + s->ustack_len + s->code_len + s->comm_len +
	 s->stack0_len + s->stack2_len; }

static inline uint64_t qp_sample_sp(const struct qp_sample *s)
{ return s->regs.gpr[QP_RSP]; }

/* Word size of the code the sample was taken in: 8 for the 64-bit layout,
 * 4 otherwise. */
static inline int qp_regs_wordsize(const struct qp_regs *r)
{ return r->long_mode ? 8 : 4; }

/* The address-space key of a CR3: its page-table base.  Long mode and
 * 32-bit paging: CR3 & ~0xfff (the low bits are PCID / cache flags).  PAE
 * (CR4.PAE, 32-bit): the PDPT is 32-byte aligned, and Linux i386 packs
 * several processes' PDPTs in one page: CR3 & ~0x1f. */
static inline uint64_t qp_regs_as(const struct qp_regs *r)
{ return !r->long_mode && (r->cr4 & 0x20) ? r->cr3 & ~0x1full : r->cr3 & ~0xfffull; }

#define QP_CODE_BYTES 64u   /* code bytes captured for address-space matching */
#define QP_COMM_BYTES 32u   /* max bytes of a --comm read */

#endif
