/* elffile.c - see elffile.h. */
#include "elffile.h"
#include "errmsg.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

Elf *elffile_open(const char *path, int *fd, char *err, size_t errlen)
{
	Elf *e;

	if (elf_version(EV_CURRENT) == EV_NONE) {
		seterr(err, errlen, "libelf: %s", elf_errmsg(-1));
		return NULL;
	}
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0) {
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	e = elf_begin(*fd, ELF_C_READ, NULL);
	if (!e || elf_kind(e) != ELF_K_ELF) {
		seterr(err, errlen, "%s: not an ELF file", path);
		elffile_close(e, *fd);
		return NULL;
	}
	return e;
}

void elffile_close(Elf *e, int fd)
{
	if (e)
		elf_end(e);
	if (fd >= 0)
		close(fd);
}

Elf_Scn *elffile_section(Elf *e, const char *name, GElf_Shdr *sh)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (elf_getshdrstrndx(e, &shstrndx) != 0)
		return NULL;
	while ((scn = elf_nextscn(e, scn))) {
		const char *n;
		if (!gelf_getshdr(scn, sh) || sh->sh_type == SHT_NOBITS)
			continue;
		n = elf_strptr(e, shstrndx, sh->sh_name);
		if (n && !strcmp(n, name))
			return scn;
	}
	return NULL;
}

struct elffile *elffile_map(const char *path, char *err, size_t errlen)
{
	struct elffile *f = calloc(1, sizeof *f);
	struct stat st;

	if (!f || !(f->path = strdup(path))) {
		free(f);
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	elf_version(EV_CURRENT);
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0) {
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		elffile_unmap(f);
		return NULL;
	}
	if (fstat(f->fd, &st) < 0 || st.st_size < 64) {
		seterr(err, errlen, "%s: not an ELF file", path);
		elffile_unmap(f);
		return NULL;
	}
	void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, f->fd, 0);
	if (m == MAP_FAILED) {
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		elffile_unmap(f);
		return NULL;
	}
	f->map = m;
	f->len = (size_t)st.st_size;
	f->elf = elf_memory((char *)m, f->len);
	if (f->elf && elf_kind(f->elf) != ELF_K_ELF) {
		elf_end(f->elf);
		f->elf = NULL;
	}
	return f;
}

void elffile_unmap(struct elffile *f)
{
	if (!f)
		return;
	if (f->elf)
		elf_end(f->elf);
	if (f->map)
		munmap((void *)f->map, f->len);
	if (f->fd >= 0)
		close(f->fd);
	free(f->path);
	free(f);
}

int elffile_build_id(Elf *e, char *hex, size_t len)
{
	int rc = -1;
	Elf_Scn *scn = NULL;
	while (e && rc < 0 && (scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		size_t off = 0, noff, doff;
		GElf_Nhdr nh;
		while (d && (off = gelf_getnote(d, off, &nh, &noff, &doff)) > 0) {
			if (nh.n_type != NT_GNU_BUILD_ID || nh.n_namesz != 4 ||
			    memcmp((char *)d->d_buf + noff, "GNU", 4))
				continue;
			if (len < 2 * (size_t)nh.n_descsz + 1)
				break;
			for (size_t i = 0; i < nh.n_descsz; i++)
				snprintf(hex + 2 * i, 3, "%02x",
					 ((unsigned char *)d->d_buf)[doff + i]);
			rc = 0;
			break;
		}
	}
	return rc;
}
