/* comm_test.c - --comm EXPR resolution against a DWARF fixture. */
#include "symbolizer.h"
#include "symtab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
#define CHECK(c, ...) do { if (!(c)) { failures++; \
	fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #c); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

static int recipe(const char *kernel, const char *expr, struct comm_recipe *r,
		  char *err, size_t errlen)
{
	struct symbolizer_config cfg = { .kernel = kernel, .comm_expr = expr };
	struct symbolizer *s = symbolizer_new(&cfg, err, errlen);
	if (!s)
		return -2;
	memset(r, 0, sizeof *r);
	int rc = symbolizer_comm_recipe(s, r, err, errlen);
	symbolizer_free(s);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	unsetenv("DEBUGINFOD_URLS");
	const char *k = argv[1];
	char err[256];
	struct symtab *t = symtab_from_elf_flags(k, 0, SYMTAB_ALL, err, sizeof err);
	const struct sym *cur = t ? symtab_find(t, "current_task") : NULL;
	const struct sym *init = t ? symtab_find(t, "init_task") : NULL;
	CHECK(cur && init, "fixture symbols");
	if (!cur || !init)
		return 1;
	struct comm_recipe r;

	CHECK(recipe(k, "current_task->name", &r, err, sizeof err) == 0, "%s", err);
	CHECK(r.valid && r.addr == cur->addr && r.nderef == 1 && r.off[0] == 8 &&
	      r.len == 16 && r.wordsize == 8, "->: addr %llx nderef %d off %lld len %d",
	      (unsigned long long)r.addr, r.nderef, (long long)r.off[0], r.len);

	CHECK(recipe(k, "init_task.name", &r, err, sizeof err) == 0, "%s", err);
	CHECK(r.valid && r.addr == init->addr + 8 && r.nderef == 0 && r.len == 16,
	      ".: addr %llx nderef %d len %d", (unsigned long long)r.addr,
	      r.nderef, r.len);

	/* a char * member needs one more dereference */
	CHECK(recipe(k, "current_task->cmd", &r, err, sizeof err) == 0, "%s", err);
	CHECK(r.addr == cur->addr && r.nderef == 2 && r.off[0] == 24 &&
	      r.off[1] == 0, "char*: nderef %d off %lld %lld", r.nderef,
	      (long long)r.off[0], (long long)r.off[1]);

	CHECK(recipe(k, "*current_task+8", &r, err, sizeof err) == 0, "%s", err);
	CHECK(r.addr == cur->addr && r.nderef == 1 && r.off[0] == 8 && r.len > 0,
	      "*sym+off");
	CHECK(recipe(k, "init_task+0x8", &r, err, sizeof err) == 0, "%s", err);
	CHECK(r.addr == init->addr + 8 && r.nderef == 0, "sym+off");

	CHECK(recipe(k, "nosuch->name", &r, err, sizeof err) == -1 &&
	      strstr(err, "nosuch"), "unknown symbol: %s", err);
	CHECK(recipe(k, "current_task->nosuch", &r, err, sizeof err) == -1 &&
	      strstr(err, "nosuch"), "unknown field: %s", err);
	CHECK(recipe(k, "not_a_pointer->x", &r, err, sizeof err) == -1,
	      "non-pointer accepted");
	CHECK(recipe(k, NULL, &r, err, sizeof err) == 1, "no --comm");
	symtab_free(t);
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
