/* commprog.c - run and reduce compiled --comm programs (see commprog.h). */
#include "commprog.h"

#include <stdio.h>
#include <string.h>

static uint64_t load_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t reg_value(int reg, int cpu, const struct qp_regs *r)
{
	if (reg >= 0 && reg < QP_NGPR)
		return r->gpr[reg];
	switch (reg) {
	case COMM_REG_IP: return r->ip;
	case COMM_REG_CPU: return (uint64_t)cpu;
	case COMM_REG_GS_BASE: return r->gs_base;
	case COMM_REG_FS_BASE: return r->fs_base;
	case COMM_REG_CR3: return r->cr3;
	}
	return 0;
}

int comm_eval(const struct comm_recipe *r, int cpu, const struct qp_regs *regs,
	      comm_read_fn read, void *ctx, uint64_t *addr)
{
	uint64_t st[COMM_STACK];
	int sp = 0;
	uint8_t w[8];

	if (!r->nops) {
		uint64_t a = r->addr;
		int ws = r->wordsize == 4 ? 4 : 8;
		for (int d = 0; d < r->nderef && d < 4; d++) {
			memset(w, 0, sizeof w);
			if (read(ctx, a, w, (uint32_t)ws) != ws)
				return -1;
			a = load_le(w, ws) + (uint64_t)r->off[d];
			if (ws == 4)      /* 32-bit pointers wrap */
				a &= 0xffffffffull;
		}
		*addr = a;
		return 0;
	}
	for (int i = 0; i < r->nops && i < COMM_MAX_OPS; i++) {
		const struct comm_op *o = &r->ops[i];
		switch (o->op) {
		case COMM_OP_PUSH:
		case COMM_OP_REG:
			if (sp == COMM_STACK)
				return -1;
			st[sp++] = o->op == COMM_OP_PUSH ? (uint64_t)o->imm
							 : reg_value(o->arg, cpu, regs);
			break;
		case COMM_OP_ADDI:
		case COMM_OP_MULI:
		case COMM_OP_LOAD:
			if (!sp)
				return -1;
			if (o->op == COMM_OP_ADDI) {
				st[sp - 1] += (uint64_t)o->imm;
			} else if (o->op == COMM_OP_MULI) {
				st[sp - 1] *= (uint64_t)o->imm;
			} else {
				int n = o->arg;
				if (n != 1 && n != 2 && n != 4 && n != 8)
					return -1;
				memset(w, 0, sizeof w);
				if (read(ctx, st[sp - 1], w, (uint32_t)n) != n)
					return -1;
				st[sp - 1] = load_le(w, n);
			}
			break;
		case COMM_OP_ADD:
			if (sp < 2)
				return -1;
			sp--;
			st[sp - 1] += st[sp];
			break;
		default:
			return -1;
		}
	}
	if (sp != 1)
		return -1;
	*addr = st[0];
	return 0;
}

static void drop(struct comm_recipe *r, int i, int n)
{
	memmove(&r->ops[i], &r->ops[i + n],
		(size_t)(r->nops - i - n) * sizeof r->ops[0]);
	r->nops = (uint8_t)(r->nops - n);
}

static void fold(struct comm_recipe *r)
{
	int changed = 1;
	while (changed) {
		changed = 0;
		for (int i = 0; i + 1 < r->nops && !changed; i++) {
			struct comm_op *a = &r->ops[i], *b = &r->ops[i + 1];
			if (a->op == COMM_OP_PUSH && b->op == COMM_OP_ADDI) {
				a->imm = (int64_t)((uint64_t)a->imm + (uint64_t)b->imm);
				drop(r, i + 1, 1);
				changed = 1;
			} else if (a->op == COMM_OP_PUSH && b->op == COMM_OP_MULI) {
				a->imm = (int64_t)((uint64_t)a->imm * (uint64_t)b->imm);
				drop(r, i + 1, 1);
				changed = 1;
			} else if (a->op == COMM_OP_ADDI && b->op == COMM_OP_ADDI) {
				a->imm = (int64_t)((uint64_t)a->imm + (uint64_t)b->imm);
				drop(r, i + 1, 1);
				changed = 1;
			} else if (a->op == COMM_OP_ADDI && a->imm == 0) {
				drop(r, i, 1);
				changed = 1;
			} else if (a->op == COMM_OP_PUSH && b->op == COMM_OP_ADD && i > 0) {
				/* x; push k; add -> x; addi k */
				b->op = COMM_OP_ADDI;
				b->imm = a->imm;
				drop(r, i, 1);
				changed = 1;
			}
		}
		/* push a; push b; add at the start of an operand: a+b */
		for (int i = 0; i + 2 < r->nops && !changed; i++)
			if (r->ops[i].op == COMM_OP_PUSH && r->ops[i + 1].op == COMM_OP_PUSH &&
			    r->ops[i + 2].op == COMM_OP_ADD) {
				r->ops[i].imm = (int64_t)((uint64_t)r->ops[i].imm +
							  (uint64_t)r->ops[i + 1].imm);
				drop(r, i + 1, 2);
				changed = 1;
			}
	}
}

/* The fixed form: push a; (load ws; [addi k])* */
static void lower(struct comm_recipe *r)
{
	struct comm_recipe f = *r;
	int ws = r->wordsize == 4 ? 4 : 8;

	r->fixed = 0;
	if (!r->nops || r->ops[0].op != COMM_OP_PUSH)
		return;
	f.addr = (uint64_t)r->ops[0].imm;
	f.nderef = 0;
	memset(f.off, 0, sizeof f.off);
	for (int i = 1; i < r->nops; i++) {
		const struct comm_op *o = &r->ops[i];
		if (o->op == COMM_OP_LOAD && o->arg == ws && f.nderef < 4) {
			f.nderef++;
		} else if (o->op == COMM_OP_ADDI && f.nderef) {
			f.off[f.nderef - 1] += o->imm;
		} else {
			return;
		}
	}
	r->addr = f.addr;
	r->nderef = f.nderef;
	memcpy(r->off, f.off, sizeof r->off);
	r->fixed = 1;
}

void comm_optimize(struct comm_recipe *r)
{
	fold(r);
	lower(r);
}

int pid_eval(const struct comm_recipe *r, int cpu, const struct qp_regs *regs,
	     comm_read_fn read, void *ctx, int64_t *pid)
{
	uint64_t a, v;
	int len = r->len == 1 || r->len == 2 || r->len == 4 ? r->len : 8;
	if (!r->valid || comm_eval(r, cpu, regs, read, ctx, &a) != 0)
		return -1;
	if (r->value) {
		v = a;
	} else {
		uint8_t w[8] = { 0 };
		if (read(ctx, a, w, (uint32_t)len) != len)
			return -1;
		v = load_le(w, len);
	}
	if (len < 8) {
		uint64_t m = (1ull << (8 * len)) - 1;
		v &= m;
		if (r->sext && (v >> (8 * len - 1) & 1))
			v |= ~m;
	}
	*pid = (int64_t)v;
	return 0;
}

void comm_specialize(struct comm_recipe *r, int cpu)
{
	for (int i = 0; i < r->nops; i++)
		if (r->ops[i].op == COMM_OP_REG && r->ops[i].arg == COMM_REG_CPU) {
			r->ops[i].op = COMM_OP_PUSH;
			r->ops[i].arg = 0;
			r->ops[i].imm = cpu;
		}
	comm_optimize(r);
}

static const char *const reg64[QP_NGPR] = {
	"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15" };
static const char *const reg32[8] = {
	"eax", "ebx", "ecx", "edx", "esi", "edi", "ebp", "esp" };
static const char *const regx[] = { "rip", "cpu", "gs_base", "fs_base", "cr3" };

int comm_reg_by_name(const char *n)
{
	for (int i = 0; i < QP_NGPR; i++)
		if (!strcmp(n, reg64[i]) || (i < 8 && !strcmp(n, reg32[i])))
			return i;
	if (!strcmp(n, "eip"))
		return COMM_REG_IP;
	for (size_t i = 0; i < sizeof regx / sizeof regx[0]; i++)
		if (!strcmp(n, regx[i]))
			return COMM_REG_IP + (int)i;
	return -1;
}

static const char *reg_name(int r)
{
	if (r >= 0 && r < QP_NGPR)
		return reg64[r];
	if (r >= COMM_REG_IP && r < COMM_NREG)
		return regx[r - COMM_REG_IP];
	return "?";
}

void comm_format(const struct comm_recipe *r, char *buf, size_t len)
{
	size_t k = 0;
	buf[0] = 0;
	for (int i = 0; i < r->nops && k < len; i++) {
		const struct comm_op *o = &r->ops[i];
		const char *sep = i ? "; " : "";
		int n = 0;
		switch (o->op) {
		case COMM_OP_PUSH:
			n = snprintf(buf + k, len - k, "%spush %#llx", sep,
				     (unsigned long long)o->imm);
			break;
		case COMM_OP_REG:
			n = snprintf(buf + k, len - k, "%sreg %s", sep, reg_name(o->arg));
			break;
		case COMM_OP_ADDI:
			n = snprintf(buf + k, len - k, "%saddi %lld", sep, (long long)o->imm);
			break;
		case COMM_OP_MULI:
			n = snprintf(buf + k, len - k, "%smuli %lld", sep, (long long)o->imm);
			break;
		case COMM_OP_ADD:
			n = snprintf(buf + k, len - k, "%sadd", sep);
			break;
		case COMM_OP_LOAD:
			n = snprintf(buf + k, len - k, "%sload %d", sep, o->arg);
			break;
		default:
			n = snprintf(buf + k, len - k, "%s?", sep);
		}
		if (n < 0)
			break;
		k += (size_t)n;
	}
}
