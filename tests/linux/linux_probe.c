/* linux_probe.c - test driver for the Linux guest modules (kaslr, orc, btf,
 * linux_guest) against a real kernel.  Prints JSON lines for the Python
 * tests.
 *
 *   linux_probe info VMLINUX SYSMAP
 *       layout from BTF, ORC table size, cross-checks with System.map
 *   linux_probe live QMP VMLINUX SYSMAP ROUNDS [SLIDE|auto]
 *       detect the slide, then ROUNDS times: stop, registers of every vCPU,
 *       stack copy, ORC walk, symbols, comm of the current task, cont.
 */
#include "commprog.h"
#include "linux_guest.h"
#include "linux_live.h"
#include "memread.h"
#include "qmp.h"
#include "regs.h"
#include "sample.h"
#include "symtab.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int die(const char *what, const char *err)
{
	fprintf(stderr, "linux_probe: %s: %s\n", what, err);
	return 1;
}

static int cmd_info(const char *vmlinux, const char *sysmap)
{
	char err[512];
	struct linux_kernel *k = linux_kernel_open(vmlinux, sysmap, err,
						   sizeof err);
	if (!k)
		return die("open", err);
	const struct linux_task_layout *l = linux_kernel_layout(k);
	if (!l)
		return die("layout", "no BTF task layout");
	const struct sym *ct = symtab_find(linux_kernel_syms(k), "current_task");
	uint64_t lo, hi;
	orc_range(linux_kernel_orc(k), &lo, &hi);
	printf("{\"comm_off\": %llu, \"comm_size\": %llu, \"pid_off\": %llu, "
	       "\"mm_off\": %llu, \"current_task_off\": %llu, "
	       "\"current_task_sysmap\": %lld, \"orc_entries\": %zu, "
	       "\"orc_lo\": \"0x%llx\", \"orc_hi\": \"0x%llx\", "
	       "\"symbols\": %zu}\n",
	       (unsigned long long)l->comm_off,
	       (unsigned long long)l->comm_size,
	       (unsigned long long)l->pid_off, (unsigned long long)l->mm_off,
	       (unsigned long long)l->current_task_off,
	       ct ? (long long)ct->addr : -1LL,
	       orc_count(linux_kernel_orc(k)), (unsigned long long)lo,
	       (unsigned long long)hi, symtab_count(linux_kernel_syms(k)));
	linux_kernel_free(k);
	return 0;
}

static const char *end_name(enum orc_end e)
{
	static const char *n[] = { "user", "kthread", "depth", "notable",
				   "read", "bad" };
	return (unsigned)e < 6 ? n[e] : "?";
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* comm_recipe done by hand, the way the sampler does it */
static int read_comm(struct memread *m, int cpu, const struct comm_recipe *r,
		     char *out)
{
	uint64_t a = r->addr;
	for (int i = 0; i < r->nderef; i++) {
		uint64_t w;
		if (memread_virt(m, cpu, a, &w, 8, NULL, 0) != 8)
			return -1;
		a = w + (uint64_t)r->off[i];
	}
	char buf[QP_COMM_BYTES + 1] = { 0 };
	if (memread_virt(m, cpu, a, buf, r->len, NULL, 0) != r->len)
		return -1;
	buf[r->len] = 0;
	strcpy(out, buf);
	return 0;
}

/* --pid linux (#15): the sampler's pid_eval over memread */
struct pid_rd { struct memread *m; int cpu; };
static long pid_read(void *ctx, uint64_t addr, void *buf, uint32_t len)
{
	struct pid_rd *rd = ctx;
	return memread_virt(rd->m, rd->cpu, addr, buf, len, NULL, 0);
}

static int cmd_live(const char *qmp_path, const char *vmlinux,
		    const char *sysmap, int rounds, const char *slide_arg)
{
	char err[512];
	struct linux_kernel *k = linux_kernel_open(vmlinux, sysmap, err,
						   sizeof err);
	if (!k)
		return die("open", err);
	int code;
	struct qmp *q = qmp_connect(qmp_path, 5000, &code, err, sizeof err);
	if (!q)
		return die("connect", err);
	struct memread *m = memread_new(q, SAMPLER_MEM_AUTO, err, sizeof err);
	if (!m)
		return die("memread", err);
	int64_t slide = 0;
	if (!slide_arg || !strcmp(slide_arg, "auto")) {
		struct kaslr_result kr;
		double t0 = now_ms();
		int rc = linux_kernel_detect_slide(k, q, m, 0, &kr, err,
						   sizeof err);
		double t1 = now_ms();
		if (rc < 0) {
			printf("{\"kaslr\": {\"rc\": %d, \"error\": \"%s\"}}\n",
			       rc, err);
			return 2;
		}
		printf("{\"kaslr\": {\"rc\": 0, \"slide\": \"0x%llx\", "
		       "\"votes\": %d, \"decoded\": %d, \"confirmed\": %d, "
		       "\"ms\": %.2f}}\n", (unsigned long long)kr.slide,
		       kr.votes, kr.decoded, kr.confirmed, t1 - t0);
		slide = kr.slide;
	} else {
		slide = (int64_t)strtoull(slide_arg, NULL, 0);
	}
	fflush(stdout);
	const struct symtab *syms = linux_kernel_syms(k);
	static uint8_t stack[16384], extra[2][16384];
	for (int r = 0; r < rounds; r++) {
		json_object *st = NULL;
		if (qmp_execute(q, "query-status", NULL, &st, err, sizeof err) < 0)
			return die("query-status", err);
		int running = json_object_get_boolean(
			json_object_object_get(st, "running"));
		json_object_put(st);
		if (running && qmp_execute(q, "stop", NULL, NULL, err,
					   sizeof err) < 0)
			return die("stop", err);
		char *text = NULL;
		if (qmp_hmp(q, "info registers -a", -1, &text, err,
			    sizeof err) < 0)
			return die("info registers", err);
		struct qp_regs regs[SAMPLER_MAX_CPUS];
		int ids[SAMPLER_MAX_CPUS];
		int n = regs_parse_all(text, strlen(text), regs, ids,
				       SAMPLER_MAX_CPUS);
		free(text);
		for (int i = 0; i < n; i++) {
			const struct qp_regs *g = &regs[i];
			int cpu = ids[i];
			struct comm_recipe cr;
			char comm[QP_COMM_BYTES + 1] = "";
			int comm_ok = linux_kernel_comm_recipe(k, slide, cpu,
						&cr, err, sizeof err) == 0 &&
				read_comm(m, cpu, &cr, comm) == 0;
			json_object *o = json_object_new_object();
			json_object_object_add(o, "round", json_object_new_int(r));
			json_object_object_add(o, "cpu", json_object_new_int(cpu));
			json_object_object_add(o, "cpl", json_object_new_int(g->cpl));
			json_object_object_add(o, "halted", json_object_new_int(g->halted));
			json_object_object_add(o, "la57",
				json_object_new_int((int)(g->cr4 >> 12 & 1)));
			json_object_object_add(o, "comm", comm_ok ?
				json_object_new_string(comm) : NULL);
			struct comm_recipe pr;
			struct pid_rd prd = { m, cpu };
			int64_t pid = 0;
			int pid_ok = comm_ok && linux_kernel_pid_recipe(k, slide, cpu,
						&pr, err, sizeof err) == 0 &&
				pid_eval(&pr, cpu, g, pid_read, &prd, &pid) == 0;
			json_object_object_add(o, "pid", pid_ok ?
				json_object_new_int64(pid) : NULL);
			char hx[32];
			snprintf(hx, sizeof hx, "0x%llx", (unsigned long long)g->ip);
			json_object_object_add(o, "ip", json_object_new_string(hx));
			snprintf(hx, sizeof hx, "0x%llx", (unsigned long long)g->gs_base);
			json_object_object_add(o, "gs_base", json_object_new_string(hx));
			if (g->cpl == 0) {
				uint64_t sp = g->gpr[QP_RSP];
				uint64_t top = (sp & ~0x3fffull) + 0x4000;
				uint32_t len = (uint32_t)(top - sp);
				long got = memread_virt(m, cpu, sp, stack, len,
							err, sizeof err);
				struct orc_mem mem[3] = { { sp, stack,
						       got > 0 ? (size_t)got : 0 } };
				int nmem = 1;
				struct orc_frame fr[64];
				struct orc_result res;
				double t0 = now_ms(), t1;
				for (;;) {
					t0 = now_ms();
					linux_kernel_unwind(k, slide, g->ip, sp,
						g->gpr, mem, nmem, fr, 64, &res);
					t1 = now_ms();
					/* IRQ stack -> task stack: read the other
					 * 16 KiB stack and walk again */
					if (res.end != ORC_END_READ || nmem == 3)
						break;
					uint64_t a = res.fail_addr & ~0x3fffull;
					long g2 = memread_virt(m, cpu, a,
						extra[nmem - 1], 0x4000, NULL, 0);
					if (g2 <= 0)
						break;
					mem[nmem] = (struct orc_mem){ a,
						extra[nmem - 1], (size_t)g2 };
					nmem++;
				}
				/* warm figure: the same walk repeated */
				double w0 = now_ms();
				for (int rep = 0; rep < 200; rep++)
					linux_kernel_unwind(k, slide, g->ip, sp,
						g->gpr, mem, nmem, fr, 64, &res);
				json_object_object_add(o, "unwind_warm_us",
					json_object_new_double(
						(now_ms() - w0) * 1e3 / 200));
				json_object_object_add(o, "copies",
					json_object_new_int(nmem));
				/* the same through the symbolizer-facing call,
				 * over a qp_sample holding the first copy */
				struct qp_sample *smp = calloc(1, sizeof *smp +
							       sizeof stack);
				smp->regs = *g;
				smp->stack_addr = sp;
				smp->stack_len = (uint32_t)mem[0].len;
				memcpy(qp_sample_stack(smp), stack, mem[0].len);
				struct uw_frame uf[64];
				struct uw_result ur;
				struct uw_state us = { 0 };
				int hu = linux_kernel_walk_sample(k, slide, smp,
							uf, 64, &ur, &us);
				free(smp);
				json_object_object_add(o, "sample_n",
					json_object_new_int(ur.n));
				json_object_object_add(o, "sample_user",
					json_object_new_int(hu));
				int same = 1;
				for (int f = 0; f < ur.n && f < res.n; f++)
					same &= uf[f].pc == fr[f].ip;
				json_object_object_add(o, "sample_same",
					json_object_new_int(same));
				json_object *chain = json_object_new_array();
				for (int f = 0; f < res.n; f++) {
					uint64_t pc = fr[f].ip - (uint64_t)slide;
					const struct sym *s = symtab_lookup(syms,
						fr[f].signal ? pc : pc - 1);
					json_object_array_add(chain,
						json_object_new_string(s ? s->name : "?"));
				}
				json_object_object_add(o, "chain", chain);
				json_object_object_add(o, "end",
					json_object_new_string(end_name(res.end)));
				json_object_object_add(o, "stack_got",
					json_object_new_int64(got));
				json_object_object_add(o, "unwind_us",
					json_object_new_double((t1 - t0) * 1e3));
				if (res.end == ORC_END_USER) {
					snprintf(hx, sizeof hx, "0x%llx",
						 (unsigned long long)res.user_ip);
					json_object_object_add(o, "user_ip",
						json_object_new_string(hx));
					snprintf(hx, sizeof hx, "0x%llx",
						 (unsigned long long)res.user_sp);
					json_object_object_add(o, "user_sp",
						json_object_new_string(hx));
				}
			}
			printf("%s\n", json_object_to_json_string_ext(o,
				JSON_C_TO_STRING_PLAIN));
			json_object_put(o);
		}
		fflush(stdout);
		if (running && qmp_execute(q, "cont", NULL, NULL, err,
					   sizeof err) < 0)
			return die("cont", err);
		usleep(20000 + (unsigned)(rand() % 30000));
	}
	memread_free(m);
	qmp_close(q);
	linux_kernel_free(k);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "info"))
		return cmd_info(argv[2], argv[3]);
	if ((argc == 6 || argc == 7) && !strcmp(argv[1], "live"))
		return cmd_live(argv[2], argv[3], argv[4], atoi(argv[5]),
				argc == 7 ? argv[6] : NULL);
	fprintf(stderr, "usage: linux_probe info VMLINUX SYSMAP\n"
		"       linux_probe live QMP VMLINUX SYSMAP ROUNDS [SLIDE|auto]\n");
	return 2;
}
