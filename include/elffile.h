/* elffile.h - open an ELF file for libelf and find its sections by name:
 * the few lines every reader of a vmlinux section (BTF, ORC, KASLR checks)
 * would otherwise write again. */
#ifndef QTOP_ELFFILE_H
#define QTOP_ELFFILE_H

#include <gelf.h>
#include <stddef.h>
#include <stdint.h>

/* The ELF at path, read with libelf (its fd in *fd), or NULL with
 * "PATH: reason" in err. */
Elf *elffile_open(const char *path, int *fd, char *err, size_t errlen);
/* elf_end + close; e may be NULL. */
void elffile_close(Elf *e, int fd);
/* The section called name that has data in the file (not NOBITS), its
 * header in *sh; NULL if there is none. */
Elf_Scn *elffile_section(Elf *e, const char *name, GElf_Shdr *sh);

/* One ELF file read once and shared by everyone who needs it (the guest's
 * kernel image: ORC, BTF, KASLR bytes, symbols, the symbolizer, libdwfl):
 * opened once, mapped whole, its fd kept (libdwfl gets a dup of it). */
struct elffile {
	char *path;
	int fd;
	const uint8_t *map;
	size_t len;
	Elf *elf;            /* over map; NULL when the bytes are not an ELF */
};
/* NULL with "PATH: reason" (strerror) or "PATH: not an ELF file" (shorter
 * than an ELF header, or not mappable). */
struct elffile *elffile_map(const char *path, char *err, size_t errlen);
/* NULL ok. */
void elffile_unmap(struct elffile *f);

/* The GNU build-id note of e as hex.  0, or -1 when there is none or hex
 * is too short. */
int elffile_build_id(Elf *e, char *hex, size_t len);

#endif
