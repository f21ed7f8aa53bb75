/* guest.c - one guest's files, each read once: see guest.h. */
#include "guest.h"
#include "elffile.h"
#include "errmsg.h"
#include "linux_guest.h"
#include "symtab.h"

#include <dirent.h>
#include <errno.h>
#include <gelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_PROGS 8192        /* program ELFs of a sysroot */
#define MAX_PROG_FDS 256      /* programs that keep their fd (libdwfl dups
			       * it); the others are reopened by path */

struct guest {
	char *kernel_path, *symbols_path;
	struct elffile *kernel;          /* NULL: none, or kernel_err */
	char kernel_err[512];
	char *symbols;                   /* NUL-terminated text, or NULL */
	size_t symbols_len;
	Elf *symbols_elf;                /* over symbols when it is an ELF */
	char symbols_err[512];
	struct linux_kernel *lk;         /* adopted from the set-up */
	char *sysroot;
	struct guest_prog *progs;        /* the sysroot's ELF files, found order */
	int nprogs;
	char warnings[2048];             /* see guest_sysroot_warnings */
};


static void prog_free(struct guest_prog *p)
{
	elffile_unmap((struct elffile *)p->file);
	free((char *)p->name);
	free((char *)p->real);
}

/* The sysroot's program ELFs, 4 levels deep: regular files (no dot
 * files), readable, not the kernel image (kreal), whose bytes start as an
 * ELF.  Each file opened and mapped once. */
static void scan(struct guest *g, const char *dir, int depth, const char *kreal)
{
	if (depth > 4)
		return;
	DIR *d = opendir(dir);
	if (!d) {
		addline(g->warnings, sizeof g->warnings, "%s: %s (skipped)", dir, strerror(errno));
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) && g->nprogs < MAX_PROGS) {
		if (de->d_name[0] == '.')
			continue;
		char path[PATH_MAX];
		if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >=
		    (int)sizeof path)
			continue;
		struct stat st;
		if (stat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			scan(g, path, depth + 1, kreal);
			continue;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		if (access(path, R_OK) < 0) {
			addline(g->warnings, sizeof g->warnings, "%s: %s (skipped)", path, strerror(errno));
			continue;
		}
		char real[PATH_MAX];
		int have_real = realpath(path, real) != NULL;
		if (kreal && have_real && !strcmp(real, kreal))
			continue;       /* the kernel image (guest_kernel) */
		char err[256];
		struct elffile *f = elffile_map(path, err, sizeof err);
		if (!f)
			continue;
		if (f->len < SELFMAG || memcmp(f->map, ELFMAG, SELFMAG)) {
			elffile_unmap(f);
			continue;
		}
		struct guest_prog *np = realloc(g->progs,
			(size_t)(g->nprogs + 1) * sizeof *np);
		if (!np) {
			elffile_unmap(f);
			break;
		}
		g->progs = np;
		struct guest_prog *p = &g->progs[g->nprogs];
		p->file = f;
		p->path = f->path;
		p->name = strdup(de->d_name);
		p->real = strdup(have_real ? real : path);
		if (!p->name || !p->real) {
			prog_free(p);
			break;
		}
		if (g->nprogs >= MAX_PROG_FDS) {
			close(f->fd);   /* libdwfl opens the path itself */
			f->fd = -1;
		}
		g->nprogs++;
	}
	closedir(d);
}

static void scan_sysroot(struct guest *g, const char *sysroot,
			 const char *kernel)
{
	struct stat st;
	if (stat(sysroot, &st) < 0 || !S_ISDIR(st.st_mode))
		return;         /* the symbolizer says so */
	char kreal[PATH_MAX];
	scan(g, sysroot, 0, kernel && realpath(kernel, kreal) ? kreal : NULL);
}

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
	if (cfg->sysroot) {
		if (!(g->sysroot = strdup(cfg->sysroot))) {
			guest_close(g);
			seterr(err, errlen, "out of memory");
			return NULL;
		}
		scan_sysroot(g, cfg->sysroot, cfg->kernel);
	}
	return g;
}

struct guest *guest_open_sysroot(const char *sysroot, const char *kernel,
				 char *err, size_t errlen)
{
	struct guest_config none = { 0 };
	struct guest *g = guest_open(&none, err, errlen);
	if (g && !(g->sysroot = strdup(sysroot))) {
		guest_close(g);
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	if (g)
		scan_sysroot(g, sysroot, kernel);
	return g;
}

void guest_close(struct guest *g)
{
	if (!g)
		return;
	linux_kernel_free(g->lk);
	for (int i = 0; i < g->nprogs; i++)
		prog_free(&g->progs[i]);
	free(g->progs);
	free(g->sysroot);
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

const char *guest_sysroot_path(const struct guest *g)
{
	return g->sysroot;
}

int guest_nprogs(const struct guest *g)
{
	return g ? g->nprogs : 0;
}

const struct guest_prog *guest_prog(const struct guest *g, int i)
{
	return g && i >= 0 && i < g->nprogs ? &g->progs[i] : NULL;
}

const char *guest_sysroot_warnings(const struct guest *g)
{
	return g->warnings;
}

const struct elffile *guest_file(const struct guest *g, const char *path)
{
	if (!g || !path)
		return NULL;
	if (g->kernel && !strcmp(g->kernel->path, path))
		return g->kernel;
	for (int i = 0; i < g->nprogs; i++)
		if (!strcmp(g->progs[i].path, path))
			return g->progs[i].file;
	return NULL;
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
