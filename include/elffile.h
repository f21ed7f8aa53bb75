/* elffile.h - open an ELF file for libelf and find its sections by name:
 * the few lines every reader of a vmlinux section (BTF, ORC, KASLR checks)
 * would otherwise write again. */
#ifndef QTOP_ELFFILE_H
#define QTOP_ELFFILE_H

#include <gelf.h>
#include <stddef.h>

/* The ELF at path, read with libelf (its fd in *fd), or NULL with
 * "PATH: reason" in err. */
Elf *elffile_open(const char *path, int *fd, char *err, size_t errlen);
/* elf_end + close; e may be NULL. */
void elffile_close(Elf *e, int fd);
/* The section called name that has data in the file (not NOBITS), its
 * header in *sh; NULL if there is none. */
Elf_Scn *elffile_section(Elf *e, const char *name, GElf_Shdr *sh);

#endif
