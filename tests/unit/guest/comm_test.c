/* comm_test.c - --comm EXPR resolution against a DWARF fixture. */
#include "symbolizer.h"
#include "commprog.h"
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

/* --pid EXPR (#15) */
static int pidrecipe(const char *kernel, const char *expr, struct comm_recipe *r,
		     char *err, size_t errlen)
{
	struct symbolizer_config cfg = { .kernel = kernel };
	struct symbolizer *s = symbolizer_new(&cfg, err, errlen);
	if (!s)
		return -2;
	memset(r, 0, sizeof *r);
	int rc = symbolizer_resolve_pid(s, expr, r, err, errlen);
	symbolizer_free(s);
	return rc;
}

/* 0x1008: a task pointer (0x5000); 0x5000: its id, -7 */
static long pid_read(void *ctx, uint64_t addr, void *buf, uint32_t len)
{
	(void)ctx;
	if (addr == 0x1008 && len == 8) {
		uint64_t v = 0x5000;
		memcpy(buf, &v, 8);
		return 8;
	}
	if (addr == 0x5000 && len <= 8) {
		int64_t v = -7;
		memcpy(buf, &v, len);
		return len;
	}
	return -1;
}

static long fake_read(void *ctx, uint64_t addr, void *buf, uint32_t len)
{
	(void)ctx;
	if (addr == 0x1008 && len == 8) {
		uint64_t v = 0x5000;
		memcpy(buf, &v, 8);
		return 8;
	}
	return -1;
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

	/* compiled programs */
	const struct sym *cpus = symtab_find(t, "cpus");
	const struct sym *pp = symtab_find(t, "proc_ptr");
	CHECK(cpus && pp, "fixture symbols cpus, proc_ptr");
	char want[256], got[256];
	CHECK(recipe(k, "cpus[$cpu].proc->name", &r, err, sizeof err) == 0, "%s", err);
	comm_format(&r, got, sizeof got);
	snprintf(want, sizeof want, "push %#llx; reg cpu; muli 16; add; addi 8; load 8; addi 8",
		 cpus ? (unsigned long long)cpus->addr : 0ull);
	CHECK(!strcmp(got, want) && r.len == 16 && !r.fixed, "cpus[$cpu]: %s", got);
	comm_specialize(&r, 1);
	CHECK(r.fixed && cpus && r.addr == cpus->addr + 16 + 8 && r.nderef == 1 &&
	      r.off[0] == 8, "specialized: fixed %d addr %llx nderef %d off %lld", r.fixed,
	      (unsigned long long)r.addr, r.nderef, (long long)r.off[0]);
	CHECK(recipe(k, "cpus[1].proc->name", &r, err, sizeof err) == 0 && r.fixed &&
	      cpus && r.addr == cpus->addr + 24, "cpus[1]: %s", err);
	CHECK(recipe(k, "proc_ptr->p_name", &r, err, sizeof err) == 0, "%s", err);
	CHECK(r.fixed && pp && r.addr == pp->addr && r.nderef == 1 && r.off[0] == 12 &&
	      r.len == 12, "minix: off %lld len %d", (long long)r.off[0], r.len);
	CHECK(recipe(k, "(*(struct task **)($gs_base + 8))->name", &r, err, sizeof err) == 0,
	      "%s", err);
	comm_format(&r, got, sizeof got);
	CHECK(!strcmp(got, "reg gs_base; addi 8; load 8; addi 8"), "gs cast: %s", got);
	CHECK(recipe(k, "((task_t *)$rdi)->cmd", &r, err, sizeof err) == 0, "%s", err);
	comm_format(&r, got, sizeof got);
	CHECK(!strcmp(got, "reg rdi; addi 24; load 8"), "typedef cast + char*: %s", got);
	CHECK(recipe(k, "(&init_task)->name", &r, err, sizeof err) == 0 && r.fixed &&
	      r.addr == init->addr + 8 && !r.nderef, "&: %s", err);
	CHECK(recipe(k, "*&current_task", &r, err, sizeof err) == -1 &&
	      strstr(err, "struct task *"), "pointer result: %s", err);

	/* run a program over fake memory */
	{
		struct qp_regs regs = { 0 };
		regs.gs_base = 0x1000;
		CHECK(recipe(k, "(*(struct task **)($gs_base + 8))->name", &r, err,
			      sizeof err) == 0, "%s", err);
		uint64_t a = 0;
		CHECK(comm_eval(&r, 0, &regs, fake_read, NULL, &a) == 0 && a == 0x5008,
		      "eval: %llx", (unsigned long long)a);
		regs.gs_base = 0x2000;  /* unreadable */
		CHECK(comm_eval(&r, 0, &regs, fake_read, NULL, &a) == -1, "eval unreadable");
	}

	/* --pid (#15): an integer result; pointers, arrays, structs refused */
	{
		CHECK(pidrecipe(k, "current_task->id", &r, err, sizeof err) == 0, "%s", err);
		CHECK(r.valid && r.len == 8 && r.sext && !r.value, "pid long: len %d sext %d value %d",
		      r.len, r.sext, r.value);
		CHECK(pidrecipe(k, "cpus[$cpu].apicid", &r, err, sizeof err) == 0 &&
		      r.len == 4 && r.sext && !r.value, "pid int: %s len %d", err, r.len);
		CHECK(pidrecipe(k, "not_a_pointer", &r, err, sizeof err) == 0 &&
		      r.len == 4 && !r.value, "pid const int: %s", err);
		CHECK(pidrecipe(k, "$cpu", &r, err, sizeof err) == 0 && r.value && r.len == 8,
		      "pid register: %s", err);
		CHECK(pidrecipe(k, "current_task", &r, err, sizeof err) == -1 &&
		      strstr(err, "struct task *, a pointer") && strstr(err, "--pid needs an integer"),
		      "pid pointer refused: %s", err);
		CHECK(pidrecipe(k, "cpus[0].proc", &r, err, sizeof err) == -1 &&
		      strstr(err, "a pointer"), "pid pointer member refused: %s", err);
		CHECK(pidrecipe(k, "current_task->name", &r, err, sizeof err) == -1 &&
		      strstr(err, "not an integer"), "pid char array refused: %s", err);
		CHECK(pidrecipe(k, "init_task", &r, err, sizeof err) == -1 &&
		      strstr(err, "struct task, not an integer (fields: id, name, cmd)"),
		      "pid struct refused: %s", err);
		CHECK(pidrecipe(k, "current_task->nosuch", &r, err, sizeof err) == -1 &&
		      strstr(err, "no field 'nosuch'"), "pid bad field: %s", err);

		struct qp_regs regs = { 0 };
		int64_t id = 0;
		regs.gs_base = 0x1000;
		CHECK(pidrecipe(k, "(*(struct task **)($gs_base + 8))->id", &r, err,
				sizeof err) == 0, "%s", err);
		CHECK(pid_eval(&r, 0, &regs, pid_read, NULL, &id) == 0 && id == -7,
		      "pid eval: %lld", (long long)id);
		CHECK(pidrecipe(k, "(int)(*(struct task **)($gs_base + 8))->id", &r, err,
				sizeof err) == 0 && r.value && r.len == 4 && r.sext, "pid cast: %s", err);
		CHECK(pid_eval(&r, 0, &regs, pid_read, NULL, &id) == 0 && id == -7,
		      "pid eval cast: %lld", (long long)id);
		regs.gs_base = 0x2000;  /* unreadable */
		CHECK(pid_eval(&r, 0, &regs, pid_read, NULL, &id) == -1, "pid eval unreadable");
		CHECK(pidrecipe(k, "$cpu", &r, err, sizeof err) == 0, "%s", err);
		CHECK(pid_eval(&r, 3, &regs, pid_read, NULL, &id) == 0 && id == 3,
		      "pid $cpu: %lld", (long long)id);
	}

	/* errors: one line, the column, the type and its fields */
	static const struct { const char *e; int col; const char *has; } bad[] = {
		{ "current_task->nme", 15, "struct task has no field 'nme' (fields: id, name, cmd)" },
		{ "cpus[$cpu].proc.name", 16, "use '->'" },
		{ "cpus[$cpu", 10, "expected ']'" },
		{ "cpus[$cpu].", 12, "expected a field name" },
		{ "cpus[$foo].proc->name", 6, "unknown register '$foo'" },
		{ "(struct nosuch *)$rax", 2, "no type 'struct nosuch'" },
		{ "current_task->name)", 19, "unexpected ')'" },
		{ "current_task @ 1", 14, "unexpected character '@'" },
		{ "nosuch[1]", 1, "no variable or symbol 'nosuch'" },
		{ "cpus[0]", 1, "struct cpu, not a char array" },
		{ "*(not_a_pointer)", 1, "'*' needs a pointer" },
		{ "$", 1, "register name" },
		{ "(", 2, "expected a name" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char w[32];
		snprintf(w, sizeof w, "column %d: ", bad[i].col);
		CHECK(recipe(k, bad[i].e, &r, err, sizeof err) == -1 && strstr(err, w) &&
		      strstr(err, bad[i].has) && !strchr(err, '\n'), "%s -> %s", bad[i].e, err);
	}
	symtab_free(t);
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
