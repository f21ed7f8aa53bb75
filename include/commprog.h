/* commprog.h - run, specialise and print compiled --comm programs.
 *
 * No DWARF here: the sampler links this to read a task name per sample
 * from the same round's registers and guest memory.  Programs come from
 * comm_resolve (unwind.h), which compiles an expression against the
 * kernel's debug info.
 */
#ifndef QTOP_COMMPROG_H
#define QTOP_COMMPROG_H

#include <stddef.h>
#include <stdint.h>
#include "capture.h"
#include "sample.h"

/* Reads len bytes of guest memory at addr; returns the bytes read (a
 * prefix), or < 0. */
typedef long (*comm_read_fn)(void *ctx, uint64_t addr, void *buf, uint32_t len);

/* The address the name is read from: the program's value, or the fixed
 * form's.  0, or -1 when a read failed or the program is malformed. */
int comm_eval(const struct comm_recipe *r, int cpu, const struct qp_regs *regs,
	      comm_read_fn read, void *ctx, uint64_t *addr);

/* --pid (#15): the id the recipe gives (comm_eval, then the len bytes
 * read there unless r->value; truncated to len bytes, sign-extended when
 * r->sext).  0, or -1 when a read failed. */
int pid_eval(const struct comm_recipe *r, int cpu, const struct qp_regs *regs,
	     comm_read_fn read, void *ctx, int64_t *pid);

/* Fold $cpu into a constant for vCPU cpu, fold constants, and fill the
 * fixed form (r->fixed) when the program reduces to it (a constant, then
 * loads of a word each followed by an offset). */
void comm_specialize(struct comm_recipe *r, int cpu);

/* Reduce constants and fill the fixed form where possible ($cpu kept). */
void comm_optimize(struct comm_recipe *r);

/* "push 0x1000; load 8; addi 16" (for messages and tests). */
void comm_format(const struct comm_recipe *r, char *buf, size_t len);

/* Register name ("rsp", "esp", "cpu", "gs_base", ...) -> enum comm_reg /
 * qp_gpr index, or -1. */
int comm_reg_by_name(const char *name);

#endif
