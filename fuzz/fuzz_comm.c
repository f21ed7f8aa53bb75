/* fuzz_comm.c - libFuzzer target for the --comm expression compiler
 * (comm.c) and the program runner (commprog.c).
 *
 * The DWARF is this program's own (built with -g): the globals below give
 * the compiler structs, arrays, pointers, typedefs and anonymous members to
 * walk.  Checks: an error is one line starting "column N: " with N inside
 * the expression (or one past its end); a compiled program has at most
 * COMM_MAX_OPS steps, a length within QP_COMM_BYTES, and runs (over memory
 * that reads as zeros, or not at all) without tripping anything. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <elfutils/libdw.h>

#include "commprog.h"
#include "symtab.h"
#include "unwind.h"

struct fz_task { long id; char name[16]; const char *cmd; };
typedef struct fz_task fz_task_t;
struct fz_cpu { int apicid; struct fz_task *proc; struct { int x, y; }; };
struct fz_task fz_init = { 1, "init", "init" };
fz_task_t *volatile fz_current = &fz_init;
struct fz_cpu fz_cpus[4];
struct fz_cpu *fz_cpu_ptrs[4];
int fz_int;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static Dwarf *dw;
static struct symtab *syms;
static int ready;

static long zeros(void *ctx, uint64_t addr, void *buf, uint32_t len)
{
	(void)ctx;
	if (addr & 1)
		return -1;
	memset(buf, 0, len);
	return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ready) {
		char err[256];
		int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
		dw = fd >= 0 ? dwarf_begin(fd, DWARF_C_READ) : NULL;
		syms = symtab_from_elf_flags("/proc/self/exe", 0, SYMTAB_ALL, err, sizeof err);
		ready = 1;
		fz_cpus[0].proc = &fz_init;
		fz_cpu_ptrs[0] = &fz_cpus[0];
		fz_int = 1;
	}
	if (size > 300)
		return 0;
	char expr[301];
	memcpy(expr, data, size);
	expr[size] = 0;
	struct comm_recipe r;
	char err[256];
	memset(&r, 0x5a, sizeof r);
	int rc = comm_compile(expr, dw, syms, (size & 1) ? 4 : 8, &r, err, sizeof err);
	if (rc < 0) {
		int col = 0;
		if (strlen(expr) >= 256)
			return 0;
		if (sscanf(err, "column %d: ", &col) != 1 || col < 1 ||
		    (size_t)col > strlen(expr) + 1 || strchr(err, '\n'))
			abort();
		return 0;
	}
	if (!r.valid || r.nops > COMM_MAX_OPS || !r.len || r.len > QP_COMM_BYTES)
		abort();
	struct qp_regs regs;
	memset(&regs, 0, sizeof regs);
	uint64_t a;
	(void)comm_eval(&r, 1, &regs, zeros, NULL, &a);
	comm_specialize(&r, 3);
	(void)comm_eval(&r, 3, &regs, zeros, NULL, &a);
	char buf[64];
	comm_format(&r, buf, sizeof buf);
	return 0;
}
