/* symtab_test.c - symbols from ELF and nm/kallsyms text. */
#include "symtab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
#define CHECK(c, ...) do { if (!(c)) { failures++; \
	fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #c); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

static const char *nm_at(const struct symtab *t, uint64_t a)
{
	const struct sym *s = symtab_lookup(t, a);
	return s ? s->name : "(none)";
}

static void test_elf(const char *path)
{
	char err[256] = "";
	struct symtab *t = symtab_from_elf(path, 0, err, sizeof err);
	CHECK(t != NULL, "%s", err);
	if (!t)
		return;
	const struct sym *r = symtab_find(t, "real_fn");
	const struct sym *a = symtab_find(t, "alias_fn");
	CHECK(r && a && r->addr == a->addr, "alias at the same address");
	/* the global name wins over its weak alias */
	CHECK(r && !strcmp(nm_at(t, r->addr + 1), "real_fn"), "alias: %s",
	      r ? nm_at(t, r->addr + 1) : "");
	const struct sym *l = symtab_find(t, "local_fn");
	CHECK(l && !strcmp(nm_at(t, l->addr), "local_fn"), "local symbol");
	const struct sym *c = symtab_find(t, "foo::bar(int)");
	CHECK(c != NULL, "C++ name demangled");
	const struct sym *ru = symtab_find(t, "core::fmt::write");
	CHECK(ru != NULL, "Rust legacy name demangled without hash");
	const struct sym *sl = symtab_find(t, "sizeless_label");
	CHECK(sl && sl->size == 0, "sizeless label kept");
	CHECK(sl && !strcmp(nm_at(t, sl->addr + 3), "sizeless_label"),
	      "a label runs to the next symbol: %s", sl ? nm_at(t, sl->addr + 3) : "");
	CHECK(symtab_find(t, "data_var") == NULL, "data is not a function");
	uint64_t lo, hi;
	symtab_range(t, &lo, &hi);
	CHECK(r && lo <= r->addr && hi > r->addr && lo < hi, "range");
	CHECK(symtab_lookup(t, lo - 1) == NULL, "below text");
	uint64_t raddr = r ? r->addr : 0;
	symtab_free(t);

	t = symtab_from_elf_flags(path, 0x1000, SYMTAB_ALL, err, sizeof err);
	const struct sym *d = t ? symtab_find(t, "data_var") : NULL;
	CHECK(d != NULL, "SYMTAB_ALL keeps data");
	const struct sym *r2 = t ? symtab_find(t, "real_fn") : NULL;
	CHECK(raddr && r2 && r2->addr == raddr + 0x1000, "bias applied");
	symtab_free(t);

	CHECK(symtab_from_elf("/nonexistent/x", 0, err, sizeof err) == NULL &&
	      strstr(err, "/nonexistent/x"), "missing file message: %s", err);
}

static void test_elf32(const char *path)
{
	char err[256] = "";
	struct symtab *t = symtab_from_elf(path, 0, err, sizeof err);
	CHECK(t != NULL, "i386 ELF: %s", err);
	const struct sym *s = t ? symtab_find(t, "fx_rec") : NULL;
	CHECK(s && s->size > 0 && !strcmp(nm_at(t, s->addr + s->size - 1), "fx_rec"),
	      "i386 lookup");
	symtab_free(t);
}

static void test_nm(const char *dir)
{
	char path[1024], err[256] = "";
	snprintf(path, sizeof path, "%s/kallsyms.txt", dir);
	struct symtab *t = symtab_from_nm(path, 0, err, sizeof err);
	CHECK(t != NULL, "%s", err);
	if (!t)
		return;
	CHECK(!strcmp(nm_at(t, 0xffffffff81000150ull), "start_kernel"),
	      "T preferred over its t alias: %s", nm_at(t, 0xffffffff81000150ull));
	CHECK(!strcmp(nm_at(t, 0xffffffff81000200ull), "weak_fn"), "weak");
	CHECK(!strcmp(nm_at(t, 0xffffffff81000310ull), "foo::bar(int)"), "C++: %s",
	      nm_at(t, 0xffffffff81000310ull));
	CHECK(!strcmp(nm_at(t, 0xffffffff81000410ull), "mycrate::foo"), "Rust v0: %s",
	      nm_at(t, 0xffffffff81000410ull));
	CHECK(!strcmp(nm_at(t, 0xffffffff81000490ull), "core::fmt::write"),
	      "Rust legacy: %s", nm_at(t, 0xffffffff81000490ull));
	/* data is not text: the preceding label runs over it */
	CHECK(symtab_find(t, "some_data") == NULL, "data kept");
	CHECK(!strcmp(nm_at(t, 0xffffffff81000585ull), "sized_fn"), "sized");
	CHECK(symtab_lookup(t, 0xffffffff81000595ull) == NULL,
	      "past a sized symbol: %s", nm_at(t, 0xffffffff81000595ull));
	CHECK(symtab_find(t, "percpu_text_like") == NULL, "per-CPU offset kept");
	CHECK(symtab_lookup(t, 0x1000) == NULL, "lookup in per-CPU range");
	CHECK(!strcmp(nm_at(t, 0xffffffffc0000010ull), "mod_fn"), "module symbol");
	CHECK(symtab_find(t, "undefined_sym") == NULL, "undefined kept");
	symtab_free(t);

	/* slide */
	t = symtab_from_nm(path, 0x200000, err, sizeof err);
	CHECK(t && !strcmp(nm_at(t, 0xffffffff81200150ull), "start_kernel"), "slide");
	symtab_free(t);

	/* all-zero addresses: kptr_restrict */
	const char *z = "0000000000000000 T a\n0000000000000000 T b\n";
	t = symtab_from_nm_text(z, strlen(z), 0, 0, err, sizeof err);
	CHECK(t == NULL && strstr(err, "zero"), "zero addresses: %s", err);
	const char *junk = "hello world\n\n";
	t = symtab_from_nm_text(junk, strlen(junk), 0, 0, err, sizeof err);
	CHECK(t == NULL && *err, "junk accepted");
	/* 32-bit System.map */
	const char *m32 = "c0100000 T _stext\nc0100010 T i386_fn\nc0100040 t other\n";
	t = symtab_from_nm_text(m32, strlen(m32), 0, 0, err, sizeof err);
	CHECK(t && !strcmp(nm_at(t, 0xc0100020), "i386_fn"), "32-bit map");
	symtab_free(t);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: symtab_test SYMFX DATADIR [ELF32]\n");
		return 2;
	}
	test_elf(argv[1]);
	if (argc > 3)
		test_elf32(argv[3]);
	test_nm(argv[2]);
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
