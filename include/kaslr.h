/* kaslr.h - find a Linux x86_64 or i386 kernel's KASLR slide from bytes of the
 * running guest, and confirm it.
 *
 * Method: the IDT (base from HMP "info registers", "IDT=") holds the entry
 * points of the exception handlers; their unslid addresses are known from
 * System.map (asm_exc_page_fault, ...).  Every decoded gate votes for
 * "gate offset - unslid address"; the majority slide must be 2 MiB aligned
 * (CONFIG_PHYSICAL_ALIGN) and agree with most votes.  It is then confirmed by
 * reading a known object (linux_banner) at its slid address and comparing
 * with the bytes the vmlinux ELF holds there.  A slide that fails the
 * confirmation is reported as wrong, never returned as good.
 *
 * Pure: the caller provides the IDT bytes, the symbols and a read callback
 * (QMP memsave in a live session, a buffer in tests).  No printing.
 */
#ifndef QTOP_KASLR_H
#define QTOP_KASLR_H

#include <stddef.h>
#include <stdint.h>

struct symtab;

/* One IDT vector and the unslid address of its handler. */
struct kaslr_vec {
	int vector;
	uint64_t addr;
	const char *name;    /* for messages; not owned */
};

/* Reads len bytes of guest virtual memory at addr.  0 or -1. */
typedef int (*kaslr_read_fn)(void *ctx, uint64_t addr, void *buf, size_t len);

struct kaslr_input {
	const uint8_t *idt;     /* IDT bytes from its base (16-byte gates) */
	size_t idt_len;
	const struct kaslr_vec *vecs;
	int nvecs;
	/* Confirmation: expected bytes of an object at its unslid address. */
	uint64_t confirm_addr;
	const uint8_t *confirm_bytes;
	size_t confirm_len;
	kaslr_read_fn read;     /* may be NULL: then nothing is confirmed */
	void *ctx;
	uint64_t align;         /* slide alignment, 0 = 2 MiB */
	int gate_size;          /* 8: i386 gates; else x86_64's 16 */
};

struct kaslr_result {
	int64_t slide;          /* runtime address - System.map address */
	int votes;              /* gates agreeing with slide */
	int decoded;            /* gates that could be decoded */
	int confirmed;          /* 1: confirmation bytes matched */
};

/* Offset of IDT gate `vector` (x86_64 16-byte gate).  0, or -1 when the gate
 * is outside the bytes or not present (P bit clear). */
int kaslr_idt_gate(const uint8_t *idt, size_t len, int vector, uint64_t *off);

/* The same for an i386 IDT (8-byte 32-bit interrupt/trap gates; a task
 * gate does not count). */
int kaslr_idt_gate32(const uint8_t *idt, size_t len, int vector, uint64_t *off);

/* "IDT=     fffffe0000000000 00000fff" from info registers text. 0 or -1. */
int kaslr_parse_idt(const char *text, size_t len, uint64_t *base,
		    uint32_t *limit);

/* Fills vecs (max entries) with the Linux 6.x x86_64/i386 exception handlers
 * found in t (an unslid System.map / kallsyms symtab, nokaslr addresses).
 * Returns how many were found. */
int kaslr_linux_vectors(const struct symtab *t, struct kaslr_vec *vecs,
			int max);

/* Votes, checks, confirms.  Returns 0 with *res filled (res->confirmed says
 * whether the confirmation ran and matched), or a negative code with a
 * message: -1 no usable gates / no majority, -2 slide misaligned, -3 the
 * confirmation read failed, -4 the confirmation bytes differ (wrong
 * slide, or the wrong vmlinux for this guest). */
int kaslr_detect(const struct kaslr_input *in, struct kaslr_result *res,
		 char *err, size_t errlen);

/* Reads len bytes at unslid virtual address addr from an ELF file's
 * allocated sections (e.g. linux_banner from the vmlinux). 0 or -1. */
int kaslr_elf_read(const char *path, uint64_t addr, void *buf, size_t len,
		   char *err, size_t errlen);
/* The same over an ELF already open; path only names it in messages. */
struct Elf;
int kaslr_elf_read_handle(struct Elf *e, const char *path, uint64_t addr,
			  void *buf, size_t len, char *err, size_t errlen);

#endif
