/* btf.h - a Linux vmlinux's .BTF section, over libbpf's BTF API.
 *
 * struct btf is libbpf's (bpf/btf.h): callers that need more than what is
 * here (the --comm compiler's BTF type source, src/guest/comm.c) use
 * libbpf's functions on it.  Here: byte offsets of struct members
 * (task_struct.comm, .pid, .mm; members of anonymous structs/unions are
 * found too) and the offsets of per-CPU variables (current_task) from the
 * .data..percpu DATASEC.  libbpf checks the section's layout; this layer
 * bounds its own walks: arbitrary bytes give an error, never a crash (fuzz
 * target fuzz/fuzz_btf.c).
 */
#ifndef QTOP_BTF_H
#define QTOP_BTF_H

#include <stddef.h>
#include <stdint.h>

struct btf;

/* Parses raw .BTF bytes (copied).  NULL with a message. */
struct btf *btf_from_bytes(const uint8_t *buf, size_t len, char *err,
			   size_t errlen);
/* Reads the .BTF section of an ELF (the vmlinux from the bzImage has it). */
struct btf *btf_from_elf(const char *path, char *err, size_t errlen);
/* The same over an ELF already open; path only names it in messages. */
struct Elf;
struct btf *btf_from_elf_handle(struct Elf *e, const char *path, char *err,
				size_t errlen);
void btf_free(struct btf *b);
/* Number of types (ids 1..n). */
uint32_t btf_count(const struct btf *b);

/* The first struct (kind BTF_KIND_STRUCT = 4) or union (5), or either
 * (0), named name that has members; else one without members (a forward
 * is never taken); 0: none. */
uint32_t btf_find_struct(const struct btf *b, const char *name, int kind);
/* Member `member` of the struct/union of type id (anonymous members looked
 * into): 1 with its byte offset and type id (unresolved), 0 not found, -1
 * a bitfield. */
int btf_find_member(const struct btf *b, uint32_t id, const char *member,
		    uint64_t *offset, uint32_t *mtype);

/* Byte offset and size of member `member` of struct/union `type`.
 * 0, or -1 with a message (no such type / member, bitfield). */
int btf_member(const struct btf *b, const char *type, const char *member,
	       uint64_t *offset, uint64_t *size, char *err, size_t errlen);

/* Offset of variable `var` inside DATASEC `sec` (".data..percpu" for a
 * per-CPU variable: its offset from the per-CPU base).  0 or -1. */
int btf_datasec_var(const struct btf *b, const char *sec, const char *var,
		    uint64_t *offset, uint64_t *size, char *err, size_t errlen);

/* What reading the current task of a Linux x86_64 kernel needs. */
struct linux_task_layout {
	uint64_t comm_off, comm_size;
	uint64_t pid_off;
	uint64_t mm_off;            /* (uint64_t)-1 when not found */
	uint64_t current_task_off;  /* per-CPU offset of current_task */
	uint64_t stack_off;         /* task_struct.stack, (uint64_t)-1 when not found */
};

/* From BTF: task_struct.comm/pid/mm and current_task (per-CPU; Linux 6.1;
 * 6.2+ keeps it in pcpu_hot.current_task, also handled).  0 or -1. */
int btf_linux_task_layout(const struct btf *b, struct linux_task_layout *l,
			  char *err, size_t errlen);

#endif
