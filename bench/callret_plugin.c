/* callret_plugin.c - bench only: the instrumenting approach of the TCG
 * plugin profilers that track calls and returns (a callback on every
 * executed call and ret instruction keeping a shadow stack per vCPU), to
 * measure what that approach costs the guest beside qtop-plugin.so's
 * sampling (bench/bench_plugin.py).  Cheapest form of it: no register
 * reads, a push of the return address on a call and a pop on a ret; a real
 * profiler does more per event (time stamps, a call-tree update).
 *
 *   qemu-system-x86_64 -plugin build/bench/callret-plugin.so ...
 *
 * At exit it prints the events counted per vCPU (QEMU's stderr).
 */
#include "qemu_plugin_api.h"

#include <stdio.h>
#include <stdlib.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QTOP_PLUGIN_API_VERSION;

struct qemu_plugin_insn;
QAPI size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
QAPI struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
QAPI size_t qemu_plugin_insn_data(const struct qemu_plugin_insn *insn, void *dest, size_t len);
QAPI size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
QAPI uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
QAPI void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn,
						 qemu_plugin_vcpu_udata_cb_t cb,
						 enum qemu_plugin_cb_flags flags, void *userdata);

#define MAXCPU 64
#define DEPTH 4096

static struct shadow {
	uint64_t stack[DEPTH];
	unsigned sp;
	uint64_t calls, rets;
} *S;

static void on_call(unsigned int cpu, void *ret_addr)
{
	struct shadow *s = &S[cpu % MAXCPU];
	s->stack[s->sp++ % DEPTH] = (uint64_t)(uintptr_t)ret_addr;
	s->calls++;
}

static void on_ret(unsigned int cpu, void *unused)
{
	struct shadow *s = &S[cpu % MAXCPU];
	(void)unused;
	if (s->sp)
		s->sp--;
	s->rets++;
}

/* 1 call, 2 ret, 0 other (x86: legacy and REX prefixes skipped). */
static int kind(const uint8_t *b, size_t n)
{
	size_t i = 0;
	while (i < n && (b[i] == 0x66 || b[i] == 0x67 || b[i] == 0xf2 || b[i] == 0xf3 ||
			 b[i] == 0x2e || b[i] == 0x3e || b[i] == 0x26 || b[i] == 0x36 ||
			 b[i] == 0x64 || b[i] == 0x65 || (b[i] & 0xf0) == 0x40))
		i++;
	if (i >= n)
		return 0;
	switch (b[i]) {
	case 0xe8: case 0x9a:
		return 1;
	case 0xc3: case 0xc2: case 0xcb: case 0xca:
		return 2;
	case 0xff:
		if (i + 1 < n) {
			int reg = (b[i + 1] >> 3) & 7;
			return reg == 2 || reg == 3 ? 1 : 0;
		}
		return 0;
	default:
		return 0;
	}
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	(void)id;
	for (size_t i = 0, n = qemu_plugin_tb_n_insns(tb); i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
		uint8_t b[16];
		size_t len = qemu_plugin_insn_data(insn, b, sizeof b);
		int k = kind(b, len);
		if (k == 1)
			qemu_plugin_register_vcpu_insn_exec_cb(insn, on_call, QEMU_PLUGIN_CB_NO_REGS,
				(void *)(uintptr_t)(qemu_plugin_insn_vaddr(insn) +
						    qemu_plugin_insn_size(insn)));
		else if (k == 2)
			qemu_plugin_register_vcpu_insn_exec_cb(insn, on_ret, QEMU_PLUGIN_CB_NO_REGS, NULL);
	}
}

static void at_exit(qemu_plugin_id_t id, void *u)
{
	(void)id;
	(void)u;
	for (int i = 0; i < MAXCPU; i++)
		if (S[i].calls || S[i].rets)
			fprintf(stderr, "callret-plugin: vCPU %d: %llu calls, %llu rets\n", i,
				(unsigned long long)S[i].calls, (unsigned long long)S[i].rets);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
					   int argc, char **argv)
{
	(void)info;
	(void)argc;
	(void)argv;
	S = calloc(MAXCPU, sizeof *S);
	if (!S)
		return -1;
	qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
	qemu_plugin_register_atexit_cb(id, at_exit, NULL);
	return 0;
}
