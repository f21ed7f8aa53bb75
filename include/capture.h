/* capture.h - what the sampler is asked to capture, as plain types shared
 * by the producer (src/acquire, which reads guest memory) and the stages that
 * compute the requests (src/guest and src/symbols compile --comm recipes):
 * the compiled --comm program and how guest memory is read.  No functions,
 * so no stage has to include an acquire header for them.
 */
#ifndef QTOP_CAPTURE_H
#define QTOP_CAPTURE_H

#include <stdint.h>
#include "sample.h"

/* vCPUs the sampler reads (one --comm recipe each) */
#define SAMPLER_MAX_CPUS 64

/* One step of a compiled --comm program (src/guest/comm.c compiles the
 * expression from the kernel's debug info; comm_eval runs it): a stack
 * machine over 64-bit values, so the sampler needs no DWARF. */
enum comm_opcode {
	COMM_OP_PUSH,   /* push imm */
	COMM_OP_REG,    /* push register arg (enum comm_reg) of the sample */
	COMM_OP_ADDI,   /* top += imm */
	COMM_OP_MULI,   /* top *= imm */
	COMM_OP_ADD,    /* b = pop, top += b */
	COMM_OP_LOAD,   /* top = zero-extended arg-byte (1/2/4/8) word at top */
};
/* COMM_OP_REG operands: general registers by enum qp_gpr (0..15), then: */
enum comm_reg { COMM_REG_IP = 16, COMM_REG_CPU, COMM_REG_GS_BASE,
		COMM_REG_FS_BASE, COMM_REG_CR3, COMM_NREG };

struct comm_op {
	uint8_t op;         /* enum comm_opcode */
	uint8_t arg;        /* register or load size */
	int64_t imm;
};

#define COMM_MAX_OPS 24
#define COMM_STACK 8

/* How the sampler reads --comm bytes.  With nops: run ops (the value left
 * is the address) and read len bytes there.  Else the fixed form (also
 * filled when a program reduces to it, for the plugin): a = addr; repeat
 * nderef times { a = *(word *)a + off[i] }; then read len bytes at a. */
struct comm_recipe {
	uint64_t addr;
	int64_t off[4];
	uint8_t nderef;
	uint8_t wordsize;   /* 4 or 8 */
	uint8_t len;        /* <= QP_COMM_BYTES */
	uint8_t valid;
	uint8_t fixed;      /* addr/off/nderef describe the program */
	uint8_t nops;
	/* --pid recipes (the same programs, an integer at the end): value 1:
	 * the program's result is the id itself (a cast or a register), 0: it
	 * is the address of len (1/2/4/8) bytes to read; sext: sign-extend
	 * those len bytes (a signed type).  Both 0 in --comm recipes. */
	uint8_t value;
	uint8_t sext;
	struct comm_op ops[COMM_MAX_OPS];
};

/* AUTO: DIRECT when QEMU is on this host and its memory can be read, else
 * MEMSAVE (local) or HMPX (remote).  DIRECT: read QEMU's RAM directly
 * (guestmem.h) and walk the page tables here (pagewalk.h). */
enum sampler_mem { SAMPLER_MEM_AUTO, SAMPLER_MEM_MEMSAVE, SAMPLER_MEM_HMPX,
		   SAMPLER_MEM_DIRECT };

/* Where a round's registers come from.  AUTO: straight from QEMU's memory
 * (cpustate.h) under TCG when guest memory is read directly from QEMU's
 * process and the vCPUs' state was found, else the monitor.  DIRECT: the
 * same, refused with the reason when it cannot work.  MONITOR: "info
 * registers -a" every round. */
enum sampler_regs { SAMPLER_REGS_AUTO, SAMPLER_REGS_DIRECT, SAMPLER_REGS_MONITOR };

#endif
