/* direct_mem - the direct path (guestmem + pagewalk) against the monitor's
 * own reads on a real QEMU: with the guest paused (by us, only if it was
 * running), for every vCPU read the stack at sp, the code page at the pc,
 * the TSS and a few kernel addresses through memread in direct, memsave and
 * HMP x modes; the byte counts and bytes must be equal.  Unmapped and
 * non-canonical addresses must fail in every mode.  Prints "ok"/"not ok"
 * lines; exit 1 on any failure.
 *
 * usage: direct_mem QMP_SOCKET */
#include "guestmem.h"
#include "memread.h"
#include "pagewalk.h"
#include "qmp.h"
#include "regs.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures, checks;

static void check(int ok, const char *what)
{
	checks++;
	if (!ok)
		failures++;
	printf("%s %s\n", ok ? "ok  " : "not ok", what);
}

/* Equal bytes (may_fail: or every mode fails). */
static void compare2(struct memread *const *m, int cpu, uint64_t addr, uint32_t len,
		     const char *what, int may_fail)
{
	static uint8_t buf[3][16384];
	long got[3];
	char err[256], line[256];

	for (int i = 0; i < 3; i++) {
		memset(buf[i], 0xa5, len);
		got[i] = memread_virt(m[i], cpu, addr, buf[i], len, err, sizeof err);
	}
	snprintf(line, sizeof line,
		 "cpu %d %s 0x%" PRIx64 " +%u: direct %ld, memsave %ld, hmp %ld bytes%s",
		 cpu, what, addr, len, got[0], got[1], got[2],
		 got[0] > 0 && got[0] == got[1] && got[1] == got[2] &&
		 !memcmp(buf[0], buf[1], (size_t)got[0]) &&
		 !memcmp(buf[0], buf[2], (size_t)got[0]) ? ", equal" : "");
	check((got[0] > 0 && got[0] == got[1] && got[1] == got[2] &&
	       !memcmp(buf[0], buf[1], (size_t)got[0]) &&
	       !memcmp(buf[0], buf[2], (size_t)got[0])) ||
	      (may_fail && got[0] < 0 && got[1] < 0 && got[2] < 0), line);
}

static void compare(struct memread *const *m, int cpu, uint64_t addr, uint32_t len,
		    const char *what)
{
	compare2(m, cpu, addr, len, what, 0);
}

static void both_fail(struct memread *const *m, int cpu, uint64_t addr, const char *what)
{
	uint8_t b[64];
	char err[256], line[200];
	long g0 = memread_virt(m[0], cpu, addr, b, sizeof b, err, sizeof err);
	long g1 = memread_virt(m[1], cpu, addr, b, sizeof b, err, sizeof err);

	snprintf(line, sizeof line, "cpu %d %s 0x%" PRIx64 " fails: direct %ld, memsave %ld",
		 cpu, what, addr, g0, g1);
	check(g0 < 0 && g1 < 0, line);
}

int main(int argc, char **argv)
{
	char err[512], *text = NULL;
	int code = 0, we_stopped = 0, n;
	struct qmp *q;
	struct memread *m[3];
	struct qp_regs regs[16];
	int ids[16];
	json_object *st = NULL, *v;

	if (argc < 2) {
		fprintf(stderr, "usage: direct_mem QMP_SOCKET\n");
		return 2;
	}
	q = qmp_connect(argv[1], 5000, &code, err, sizeof err);
	if (!q) {
		fprintf(stderr, "direct_mem: %s\n", err);
		return 2;
	}
	m[0] = memread_new(q, SAMPLER_MEM_DIRECT, err, sizeof err);
	if (!m[0]) {
		fprintf(stderr, "direct_mem: %s\n", err);
		return 1;
	}
	printf("# %s\n", memread_note(m[0]));
	m[1] = memread_new(q, SAMPLER_MEM_MEMSAVE, err, sizeof err);
	m[2] = memread_new(q, SAMPLER_MEM_HMPX, err, sizeof err);
	if (!m[1] || !m[2] || memread_mode(m[1]) != SAMPLER_MEM_MEMSAVE) {
		fprintf(stderr, "direct_mem: no memsave/hmp memread: %s\n", err);
		return 1;
	}
	/* Paused, so that every path sees the same bytes. */
	if (qmp_execute(q, "query-status", NULL, &st, err, sizeof err) == 0 &&
	    json_object_object_get_ex(st, "running", &v) && json_object_get_boolean(v)) {
		if (qmp_execute(q, "stop", NULL, NULL, err, sizeof err) == 0)
			we_stopped = 1;
	}
	json_object_put(st);
	if (qmp_hmp(q, "info registers -a", -1, &text, err, sizeof err) < 0) {
		fprintf(stderr, "direct_mem: %s\n", err);
		return 1;
	}
	n = regs_parse_all(text, strlen(text), regs, ids, 16);
	free(text);
	check(n > 0, "registers parsed");
	for (int k = 0; k < n; k++) {
		const struct qp_regs *r = &regs[k];
		int cpu = ids[k];
		struct pagewalk_cpu pc = { r->cr0, r->cr3, r->cr4, r->efer };
		char what[64];

		snprintf(what, sizeof what, "paging %s", pagewalk_mode_name(pagewalk_mode_of(&pc)));
		check(1, what);
		memread_set_cpu_state(m[0], cpu, r);
		compare(m, cpu, r->gpr[QP_RSP] & ~(uint64_t)15, 4096, "stack at sp");
		compare(m, cpu, r->gpr[QP_RSP] & ~(uint64_t)4095, 4096, "stack page");
		compare(m, cpu, r->gpr[QP_RSP] & ~(uint64_t)15, 16384, "16 KiB from sp");
		compare(m, cpu, r->ip & ~(uint64_t)4095, 4096, "code page at pc");
		compare(m, cpu, r->ip, 64, "code at pc");
		if (r->tr_base)
			compare(m, cpu, r->tr_base, 104, "TSS");
		if (r->long_mode || r->efer & 0x400) {
			compare(m, cpu, 0xffffffff80100000ull, 8192, "kernel image");
			both_fail(m, cpu, 0x8000000000000000ull, "non-canonical");
		} else {
			compare(m, cpu, 0xc0100000ull, 8192, "kernel image");
		}
		/* mapped or not, the same answer every way */
		compare2(m, cpu, 0x0, 64, "null page", 1);
		compare2(m, cpu, 0x7fff0000, 64, "user half", 1);
		compare2(m, cpu, 0xfffff000, 4096, "top of 4 GiB", 1);
		compare2(m, cpu, 0xc0000000 + 0x7ff0000, 8192, "end of RAM, 32-bit kernel", 1);
	}
	if (we_stopped)
		qmp_execute(q, "cont", NULL, NULL, err, sizeof err);
	for (int i = 0; i < 3; i++)
		memread_free(m[i]);
	qmp_close(q);
	printf("%d check(s), %d failure(s)\n", checks, failures);
	return failures ? 1 : 0;
}
