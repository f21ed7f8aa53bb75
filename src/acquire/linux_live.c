/* linux_live.c - the live half of Linux KASLR slide detection: the IDT
 * base from "info registers" and the IDT and linux_banner bytes through
 * memread; the vote and the check are linux_guest.c's. */
#include "linux_live.h"
#include "errmsg.h"
#include "memread.h"
#include "qmp.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct live_ctx {
	struct memread *m;
	int cpu;
};

static int live_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct live_ctx *c = ctx;
	/* With page-table isolation (PTI) a vCPU in user mode does not map
	 * kernel data: try the other vCPUs, then a little later (one of them
	 * is soon in the kernel or idle). */
	for (int attempt = 0; attempt < 5; attempt++) {
		for (int k = -1; k < 8; k++) {
			int cpu = k < 0 ? c->cpu : k;
			if (k == c->cpu)
				continue;
			long got = memread_virt(c->m, cpu, addr, buf,
						(uint32_t)len, NULL, 0);
			if (got == (long)len)
				return 0;
		}
		usleep(20000);
	}
	return -1;
}

int linux_kernel_detect_slide(struct linux_kernel *k, struct qmp *q,
			      struct memread *m, int cpu,
			      struct kaslr_result *res, char *err,
			      size_t errlen)
{
	if (!linux_kernel_syms(k)) {
		seterr(err, errlen, "kaslr: needs the kernel's System.map");
		return -1;
	}
	char *text = NULL;
	if (qmp_hmp(q, "info registers", cpu, &text, err, errlen) < 0)
		return -5;
	uint64_t base;
	uint32_t limit;
	int rc = kaslr_parse_idt(text, strlen(text), &base, &limit);
	free(text);
	if (rc < 0) {
		seterr(err, errlen, "kaslr: no IDT= in info registers of CPU %d",
		       cpu);
		return -5;
	}
	uint8_t idt[4096];
	uint32_t want = limit + 1u < sizeof idt ? limit + 1u : sizeof idt;
	long got = memread_virt(m, cpu, base, idt, want, err, errlen);
	if (got < 8 * 15) {
		if (got >= 0)
			seterr(err, errlen, "kaslr: read %ld of %u IDT bytes at "
			       "0x%llx", got, want, (unsigned long long)base);
		return -5;
	}
	struct live_ctx c = { m, cpu };
	return linux_kernel_slide_from_idt(k, idt, (size_t)got, live_read, &c,
					   res, err, errlen);
}

int linux_kernel_detect_slide_qmp(struct linux_kernel *k, const char *qmp_spec,
				  int cpu, struct kaslr_result *res, char *err,
				  size_t errlen)
{
	int code;
	struct qmp *q = qmp_connect(qmp_spec, 5000, &code, err, errlen);
	if (!q)
		return -5;
	struct memread *m = memread_new(q, SAMPLER_MEM_AUTO, err, errlen);
	int rc = -5;
	if (m)
		rc = linux_kernel_detect_slide(k, q, m, cpu, res, err, errlen);
	memread_free(m);
	qmp_close(q);
	return rc;
}
