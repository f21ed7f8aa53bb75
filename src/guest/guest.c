/* guest.c - one guest's files, each read once: see guest.h. */
#include "guest.h"
#include "elffile.h"
#include "errmsg.h"
#include "linux_guest.h"
#include "symtab.h"

#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct guest {
	char *kernel_path, *symbols_path;
	struct elffile *kernel;          /* NULL: none, or kernel_err */
	char kernel_err[512];
	char *symbols;                   /* NUL-terminated text, or NULL */
	size_t symbols_len;
	Elf *symbols_elf;                /* over symbols when it is an ELF */
	char symbols_err[512];
	struct linux_kernel *lk;         /* adopted from the set-up */
};

struct guest *guest_open(const struct guest_config *cfg, char *err,
			 size_t errlen)
{
	struct guest *g = calloc(1, sizeof *g);
	if (!g || (cfg->kernel && !(g->kernel_path = strdup(cfg->kernel))) ||
	    (cfg->symbols && !(g->symbols_path = strdup(cfg->symbols)))) {
		guest_close(g);
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	if (cfg->kernel)
		g->kernel = elffile_map(cfg->kernel, g->kernel_err,
					sizeof g->kernel_err);
	if (cfg->symbols) {
		g->symbols = symtab_read_text(cfg->symbols, &g->symbols_len,
					      g->symbols_err,
					      sizeof g->symbols_err);
		if (g->symbols && g->symbols_len >= SELFMAG &&
		    !memcmp(g->symbols, ELFMAG, SELFMAG)) {
			elf_version(EV_CURRENT);
			g->symbols_elf = elf_memory(g->symbols, g->symbols_len);
		}
	}
	return g;
}

void guest_close(struct guest *g)
{
	if (!g)
		return;
	linux_kernel_free(g->lk);
	if (g->symbols_elf)
		elf_end(g->symbols_elf);
	free(g->symbols);
	elffile_unmap(g->kernel);
	free(g->kernel_path);
	free(g->symbols_path);
	free(g);
}

const char *guest_kernel_path(const struct guest *g)
{
	return g->kernel_path;
}

const char *guest_symbols_path(const struct guest *g)
{
	return g->symbols_path;
}

const struct elffile *guest_kernel(const struct guest *g, char *err,
				   size_t errlen)
{
	if (!g->kernel)
		seterr(err, errlen, "%s", g->kernel_err);
	return g->kernel;
}

const char *guest_symbols_text(const struct guest *g, size_t *len, char *err,
			       size_t errlen)
{
	if (!g->symbols)
		seterr(err, errlen, "%s", g->symbols_err);
	*len = g->symbols_len;
	return g->symbols;
}

struct Elf *guest_symbols_elf(const struct guest *g)
{
	return g->symbols_elf;
}

int guest_build_id(const struct guest *g, char *hex, size_t len)
{
	return g->kernel && g->kernel->elf
		? elffile_build_id(g->kernel->elf, hex, len) : -1;
}

struct linux_kernel *guest_linux_open(const struct guest *g, int use_symbols,
				      char *err, size_t errlen)
{
	const struct elffile *f = guest_kernel(g, err, errlen);
	if (!f)
		return NULL;
	if (!f->elf) {
		seterr(err, errlen, "%s: not an ELF file", f->path);
		return NULL;
	}
	const char *sysmap = use_symbols ? g->symbols_path : NULL;
	struct linux_kernel *k = linux_kernel_open_elf(f->elf, f->path,
		sysmap && g->symbols ? sysmap : NULL, g->symbols,
		g->symbols_len, err, errlen);
	if (k && sysmap && !g->symbols) {
		/* the vmlinux is fine, the System.map is not */
		linux_kernel_free(k);
		k = NULL;
		seterr(err, errlen, "%s", g->symbols_err);
	}
	return k;
}

struct linux_kernel *guest_linux_open_syms(const struct guest *g, char *err,
					   size_t errlen)
{
	if (g->symbols_path) {
		if (!g->symbols) {
			seterr(err, errlen, "%s", g->symbols_err);
			return NULL;
		}
		return linux_kernel_open_syms_src(g->symbols_path,
						  g->symbols_elf, g->symbols,
						  g->symbols_len, err, errlen);
	}
	if (!g->kernel) {
		seterr(err, errlen, "%s", g->kernel_err);
		return NULL;
	}
	return linux_kernel_open_syms_src(g->kernel_path, g->kernel->elf,
					  (const char *)g->kernel->map,
					  g->kernel->len, err, errlen);
}

void guest_adopt_linux(struct guest *g, struct linux_kernel *k)
{
	if (g->lk != k)
		linux_kernel_free(g->lk);
	g->lk = k;
}

struct linux_kernel *guest_linux(const struct guest *g)
{
	return g->lk;
}
