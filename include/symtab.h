/* symtab.h - function symbols of one module, sorted, binary-searched.
 *
 * From an ELF (.symtab, else .dynsym; 32- and 64-bit alike via GElf) or
 * from nm / System.map / /proc/kallsyms text.  Keeps STT_FUNC, STT_NOTYPE
 * and STT_GNU_IFUNC symbols in executable sections; aliases resolved as in
 * ../shared/UNWINDING.md (sized > sizeless, GLOBAL > WEAK > LOCAL); a
 * zero-size symbol runs to the next one (the last one to its section end,
 * or 64 KiB for text files).  Text files: "ADDR TYPE NAME [module]" or
 * "ADDR SIZE TYPE NAME" (nm -S); text types t T w W i; with _stext/_text
 * present, text below it is dropped (kallsyms per-CPU offsets).  Names are
 * demangled.  Lookup ~5-15 ns.
 */
#ifndef QTOP_SYMTAB_H
#define QTOP_SYMTAB_H

#include <stddef.h>
#include <stdint.h>

struct sym {
	uint64_t addr;       /* runtime address (bias applied) */
	uint64_t size;       /* 0 = runs to the next symbol */
	const char *name;    /* demangled when it was mangled */
};

struct symtab;

/* bias is added to every symbol address (slide / load base). */
struct symtab *symtab_from_elf(const char *path, uint64_t bias, char *err,
			       size_t errlen);
struct symtab *symtab_from_nm(const char *path, uint64_t bias, char *err,
			      size_t errlen);
void symtab_free(struct symtab *t);

/* Like the above with flags: SYMTAB_ALL keeps data symbols too (STT_OBJECT,
 * nm types d/D/b/B/r/R), for resolving variables by name (--comm). */
enum { SYMTAB_ALL = 1u << 0 };
struct symtab *symtab_from_elf_flags(const char *path, uint64_t bias,
				     unsigned flags, char *err, size_t errlen);
struct symtab *symtab_from_nm_flags(const char *path, uint64_t bias,
				    unsigned flags, char *err, size_t errlen);
/* symtab_from_elf_flags over an ELF already open; path only names it in
 * messages. */
struct Elf;
struct symtab *symtab_from_elf_handle(struct Elf *e, const char *path,
				      uint64_t bias, unsigned flags,
				      char *err, size_t errlen);
/* A text file read whole (NUL-terminated, its length in *len), or NULL
 * with "PATH: reason": so one file can serve several symtabs. */
char *symtab_read_text(const char *path, size_t *len, char *err,
		       size_t errlen);
/* symtab_from_nm_flags over that text; path only names it in messages. */
struct symtab *symtab_from_nm_buf(const char *path, const char *text,
				  size_t len, uint64_t bias, unsigned flags,
				  char *err, size_t errlen);
/* Parse nm text from memory (the fuzz target and tests use it). */
struct symtab *symtab_from_nm_text(const char *text, size_t len,
				   uint64_t bias, unsigned flags, char *err,
				   size_t errlen);

/* The symbol containing addr, or NULL. */
const struct sym *symtab_lookup(const struct symtab *t, uint64_t addr);
/* Where a symbol from symtab_lookup ends: its size, or for a sizeless one
 * (nm / System.map text) the next symbol. */
uint64_t symtab_end(const struct symtab *t, const struct sym *s);
/* The symbol with this exact name, or NULL. */
const struct sym *symtab_find(const struct symtab *t, const char *name);
size_t symtab_count(const struct symtab *t);
/* Lowest address and end of the executable symbols (0, 0 if none). */
void symtab_range(const struct symtab *t, uint64_t *lo, uint64_t *hi);

/* Demangle C++ / Rust (libiberty); returns malloc'd string or NULL if the
 * name is not mangled. */
char *sym_demangle(const char *name);

#endif
