/* linux_live.h - Linux KASLR slide detection on a running guest: the live
 * reads (QMP "info registers", guest memory through memread) that feed
 * linux_kernel_slide_from_idt (linux_guest.h).
 */
#ifndef QTOP_LINUX_LIVE_H
#define QTOP_LINUX_LIVE_H

#include <stddef.h>
#include "linux_guest.h"

struct qmp;
struct memread;

/* Live: info registers (IDT=) of vCPU cpu, the IDT through memread,
 * vote, then confirm with linux_banner.  0 with *res, or negative (see
 * kaslr_detect; -5 QMP failures). */
int linux_kernel_detect_slide(struct linux_kernel *k, struct qmp *q,
			      struct memread *m, int cpu,
			      struct kaslr_result *res, char *err,
			      size_t errlen);

/* The same over its own QMP connection, closed before returning (a QMP
 * unix socket serves one client: call it before sampler_start). */
int linux_kernel_detect_slide_qmp(struct linux_kernel *k, const char *qmp_spec,
				  int cpu, struct kaslr_result *res, char *err,
				  size_t errlen);

#endif
