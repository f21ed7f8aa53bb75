/* unwind_cfi.c - CFI-unwind one captured i386 guest stack with libdwfl.
 *
 * Helper of check_unwind.py (independent of qtop-prof's own unwinder): it
 * proves that the guest's CFI (compiler-made and the hand-written trap-frame
 * rules in entry.S) leads a plain libdwfl unwind along the chains truth.json
 * promises, across the kernel -> user boundary.
 *
 *   unwind_cfi KERNEL USER|- EAX ECX EDX EBX ESP EBP ESI EDI EIP [BASE FILE]...
 *
 * Registers are in DWARF order.  Each BASE FILE pair is a copy of guest
 * memory at virtual address BASE.  Prints one line per frame, leaf first:
 * "PC FUNCTION", then "end OK" or "end ERROR message".
 */
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SEGS 8

struct seg {
	uint64_t base;
	size_t len;
	unsigned char *data;
};

struct ctx {
	struct seg segs[MAX_SEGS];
	int nsegs;
	Dwarf_Word regs[9];
};

static pid_t next_thread(Dwfl *dwfl, void *arg, void **state)
{
	if (*state)
		return 0;
	*state = arg;
	return 1;
}

/* Served from the copies only: a read outside them fails the step. */
static bool memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *out,
			void *arg)
{
	struct ctx *c = arg;

	for (int i = 0; i < c->nsegs; i++) {
		struct seg *s = &c->segs[i];
		uint32_t v;

		if (addr >= s->base && addr + 4 <= s->base + s->len) {
			memcpy(&v, s->data + (addr - s->base), 4);
			*out = v;
			return true;
		}
	}
	return false;
}

static bool set_initial_registers(Dwfl_Thread *thread, void *arg)
{
	struct ctx *c = arg;

	return dwfl_thread_state_registers(thread, 0, 9, c->regs);
}

static const Dwfl_Thread_Callbacks thread_cbs = {
	.next_thread = next_thread,
	.memory_read = memory_read,
	.set_initial_registers = set_initial_registers,
};

static char *debuginfo_path;
static const Dwfl_Callbacks dwfl_cbs = {
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
	.debuginfo_path = &debuginfo_path,
};

static int frame_cb(Dwfl_Frame *state, void *arg)
{
	Dwfl *dwfl = arg;
	Dwarf_Addr pc;
	bool act;

	if (!dwfl_frame_pc(state, &pc, &act))
		return DWARF_CB_ABORT;
	/* return addresses point after the call */
	Dwarf_Addr look = act ? pc : pc - 1;
	Dwfl_Module *m = dwfl_addrmodule(dwfl, look);
	const char *name = m ? dwfl_module_addrname(m, look) : NULL;

	printf("%#lx %s\n", (unsigned long)pc, name ? name : "?");
	return DWARF_CB_OK;
}

static int load(const char *path, struct seg *s)
{
	FILE *f = fopen(path, "rb");
	long n;

	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return -EIO;
	}
	s->len = (size_t)n;
	s->data = malloc(s->len ? s->len : 1);
	if (!s->data || fread(s->data, 1, s->len, f) != s->len) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	static struct ctx c;

	if (argc < 12 || (argc - 12) % 2 || (argc - 12) / 2 > MAX_SEGS) {
		fprintf(stderr, "usage: %s KERNEL USER|- EAX ECX EDX EBX ESP EBP "
			"ESI EDI EIP [BASE FILE]...\n", argv[0]);
		return 2;
	}
	for (int i = 0; i < 9; i++)
		c.regs[i] = strtoull(argv[3 + i], NULL, 0);
	for (int i = 12; i < argc; i += 2) {
		struct seg *s = &c.segs[c.nsegs++];

		s->base = strtoull(argv[i], NULL, 0);
		if (load(argv[i + 1], s)) {
			fprintf(stderr, "cannot read %s\n", argv[i + 1]);
			return 2;
		}
	}

	Dwfl *dwfl = dwfl_begin(&dwfl_cbs);
	if (!dwfl)
		return 2;
	dwfl_report_begin(dwfl);
	/* kernel (0xC0000000+) and user program (0x08048000) do not overlap,
	 * so one Dwfl holds both */
	if (!dwfl_report_elf(dwfl, "kernel", argv[1], -1, 0, false) ||
	    (strcmp(argv[2], "-") &&
	     !dwfl_report_elf(dwfl, "user", argv[2], -1, 0, false))) {
		fprintf(stderr, "report: %s\n", dwfl_errmsg(-1));
		return 2;
	}
	dwfl_report_end(dwfl, NULL, NULL);
	if (!dwfl_attach_state(dwfl, NULL, 1, &thread_cbs, &c)) {
		fprintf(stderr, "attach: %s\n", dwfl_errmsg(-1));
		return 2;
	}
	int r = dwfl_getthread_frames(dwfl, 1, frame_cb, dwfl);
	if (r == 0)
		printf("end OK\n");
	else
		printf("end ERROR %s\n", dwfl_errmsg(-1));
	dwfl_end(dwfl);
	for (int i = 0; i < c.nsegs; i++)
		free(c.segs[i].data);
	return 0;
}
