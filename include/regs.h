/* regs.h - parse QEMU HMP "info registers" text into struct qp_regs.
 *
 * Pure functions, token based (KEY=VALUE and segment lines "FS =sel base
 * limit flags"), tolerant of layout changes between QEMU versions; handles
 * the 64-bit (RAX=...RIP=...) and 32-bit (EAX=...EIP=...) layouts.
 */
#ifndef QTOP_REGS_H
#define QTOP_REGS_H

#include <stddef.h>
#include "sample.h"

/* Parse the registers of one CPU (the first "CPU#N" block if there are
 * several). Returns 0, or -1 if no instruction pointer and stack pointer were
 * found (out->valid is 0 then). */
int regs_parse(const char *text, size_t len, struct qp_regs *out);

/* Parse "info registers -a" output: blocks headed "CPU#N".  Fills out[k] and
 * cpu_ids[k] for up to max blocks; returns the number parsed (>= 0).  Blocks
 * without ip/sp are skipped; cpu_ids may be NULL. */
int regs_parse_all(const char *text, size_t len, struct qp_regs *out,
		   int *cpu_ids, int max);

/* Parse HMP "x/Ngx ADDR" (or /wx, /bx) output "ADDR: 0x... 0x..." into
 * little-endian bytes.  *addr gets the first address printed.  Returns bytes
 * written to buf (<= cap), or -1 if the text is an error ("Cannot access
 * memory") or not x output.  A dump that runs into unmapped memory returns
 * the bytes before the error line; only whole units of contiguous lines
 * count. */
long hmpx_parse(const char *text, size_t len, uint64_t *addr, uint8_t *buf,
		size_t cap);

#endif
