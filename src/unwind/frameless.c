/* frameless.c - the caller of a frameless trapping leaf (see frameless.h). */
#include "frameless.h"

#include <elfutils/libdwfl.h>
#include <stdlib.h>

int frameless_after_trap(const uint8_t *b, size_t n)
{
	if (n < 2)
		return 0;
	uint8_t x = b[n - 2], y = b[n - 1];
	return (x == 0xcd && y == 0x80) ||      /* int $0x80 */
	       (x == 0x0f && y == 0x05) ||      /* syscall */
	       (x == 0x0f && y == 0x34);        /* sysenter */
}

static int covers(Dwarf_CFI *cfi, Dwarf_Addr bias, uint64_t pc)
{
	Dwarf_Frame *fr = NULL;
	if (!cfi || dwarf_cfi_addrframe(cfi, pc - bias, &fr) != 0)
		return 0;
	free(fr);
	return 1;
}

int frameless_cfi_covers(void *dwfl_module, uint64_t pc)
{
	Dwfl_Module *m = dwfl_module;
	Dwarf_Addr bias = 0;
	if (!m)
		return 0;
	if (covers(dwfl_module_eh_cfi(m, &bias), bias, pc))
		return 1;
	return covers(dwfl_module_dwarf_cfi(m, &bias), bias, pc);
}

int frameless_leaf(uint64_t pc, uint64_t fn_addr, int fn_first,
		   const uint8_t *before, size_t nbefore, int cfi_covers)
{
	if (cfi_covers)
		return 0;               /* CFI knows where the caller is */
	if (fn_addr && fn_first == 0x55 && pc != fn_addr)
		return 0;               /* push %rbp/%ebp: frame pointers work */
	if (fn_addr && pc == fn_addr)
		return 1;               /* at the entry: nothing pushed yet */
	return frameless_after_trap(before, nbefore);
}

int frameless_step(const struct uw_walk *w, const struct uw_state *st,
		   struct uw_state *caller)
{
	uint64_t ra;
	if (uw_read_word(w->mem, w->nmem, w->wordsize, st->sp, &ra) < 0)
		return -1;
	if (!ra)
		return 0;
	if (!w->is_text(w->ctx, ra))
		return -1;
	*caller = (struct uw_state){ ra, st->sp + (uint64_t)w->wordsize, st->fp };
	return 1;
}
