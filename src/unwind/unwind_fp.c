/* unwind_fp.c - own frame-pointer walker for x86_64 and i386.
 * libdwfl's i386 fallback rejects ordinary callers in 0.188, and a plain
 * walk is ~50 ns per stack, so we keep our own, validating every step. */
#include "unwind.h"

#include <string.h>

int uw_read_word(const struct uw_mem *mem, int nmem, int wordsize,
		 uint64_t addr, uint64_t *out)
{
	for (int i = 0; i < nmem; i++) {
		const struct uw_mem *m = &mem[i];
		if (!m->buf || addr < m->addr)
			continue;
		uint64_t off = addr - m->addr;
		if (off >= m->len || m->len - off < (uint64_t)wordsize)
			continue;
		if (wordsize == 8) {
			uint64_t v;
			memcpy(&v, m->buf + off, 8);
			*out = v;
		} else {
			uint32_t v;
			memcpy(&v, m->buf + off, 4);
			*out = v;
		}
		return 0;
	}
	return -1;
}

int uw_fp_step(const struct uw_walk *w, int idx, const struct uw_state *st,
	       struct uw_state *next)
{
	uint64_t ws = (uint64_t)w->wordsize;
	uint64_t ra, nfp;
	if (idx == 0 && w->is_entry && w->is_entry(w->ctx, st->pc)) {
		/* first instruction: nothing pushed yet, return address at [sp] */
		if (uw_read_word(w->mem, w->nmem, w->wordsize, st->sp, &ra) < 0)
			return -2;
		if (!ra)
			return 0;
		if (!w->is_text(w->ctx, ra))
			return -1;
		*next = (struct uw_state){ ra, st->sp + ws, st->fp };
		return 1;
	}
	if (!st->fp)
		return 0;                      /* outermost frame: clean end */
	if (st->fp & (ws - 1) || st->fp < st->sp)
		return -1;
	if (uw_read_word(w->mem, w->nmem, w->wordsize, st->fp, &nfp) < 0 ||
	    uw_read_word(w->mem, w->nmem, w->wordsize, st->fp + ws, &ra) < 0)
		return -2;
	if (!ra)
		return 0;
	if (!w->is_text(w->ctx, ra))
		return -1;
	/* A caller fp that does not grow (0, or the user's fp saved below an
	 * entry stub) is kept with this frame: the return address is good,
	 * and the next step refuses an fp below its sp. */
	*next = (struct uw_state){ ra, st->fp + 2 * ws, nfp };
	return 1;
}

void uw_fp_walk(const struct uw_walk *w, const struct uw_state *st,
		struct uw_frame *out, int max, struct uw_result *res)
{
	memset(res, 0, sizeof *res);
	if (max <= 0) {
		res->end = UW_END_DEPTH;
		return;
	}
	if (!w->is_text(w->ctx, st->pc)) {
		res->end = UW_END_FAIL;
		return;
	}
	out[0] = (struct uw_frame){ st->pc, st->sp, st->fp, 1 };
	res->n = 1;
	struct uw_state cur = *st;
	for (;;) {
		struct uw_state nx;
		int r = uw_fp_step(w, res->n - 1, &cur, &nx);
		if (r == 0) {
			res->end = UW_END_OK;
			return;
		}
		if (r < 0) {
			res->end = UW_END_FAIL;
			return;
		}
		if (!uw_fp_accept(w, &nx, out, max, res))
			return;
		cur = nx;
	}
}

int uw_fp_accept(const struct uw_walk *w, const struct uw_state *nx,
		 struct uw_frame *out, int max, struct uw_result *res)
{
	res->fp_steps++;
	if (w->stop_sp && nx->sp > w->stop_sp) {
		res->beyond_valid = 1;
		res->beyond = *nx;
		res->end = UW_END_OK;
		return 0;
	}
	if (res->n >= max) {
		res->end = UW_END_DEPTH;
		return 0;
	}
	out[res->n++] = (struct uw_frame){ nx->pc, nx->sp, nx->fp, 0 };
	return 1;
}
