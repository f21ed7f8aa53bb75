/* tui_actions.c - actions on the data: freeze, save, reset, decay. */
#include <stdio.h>

#include "folded.h"
#include "tui_view.h"

int tui_act_freeze(struct tui *t, int key)
{
	if (t->frozen) {
		profile_free(t->frozen);
		t->frozen = NULL;
		tui_msg(t, 0, "live: zoom and selection kept where the same stack exists");
		return TR_REBUILD;
	}
	/* A clone, not a pause: the live profile keeps growing behind it. */
	t->frozen = profile_clone(t->live);
	if (!t->frozen) {
		tui_msg(t, 1, "freeze failed: out of memory");
		return TR_REDRAW;
	}
	tui_msg(t, 0, "frozen: sampling goes on; z again for live data, s saves this picture");
	return TR_REBUILD;
}

/* The subtree being shown: the flame zoom in the flame view, otherwise the
 * process filter. */
static uint32_t shown_root(struct tui *t)
{
	tui_ensure_updated(t);
	if (t->view == VIEW_FLAME)
		return t->fl.zoom_node;
	return tui_scope(t);
}

int tui_act_save(struct tui *t, int key)
{
	char out[4096], err[512];
	if (tui_diff(t))
		return tui_diff_save(t);
	struct profile *p = tui_shown(t);
	uint32_t under = shown_root(t);
	if (p->samples == 0 || tui_scope_missing(t)) {
		tui_msg(t, 1, "nothing to save: no samples");
		return TR_REDRAW;
	}
	int rc = folded_save(p, under, 0, t->opt->save_path, out, sizeof out,
			     err, sizeof err);
	if (rc < 0)
		tui_msg(t, 1, "save failed: %s", err);
	else
		tui_msg(t, 0, "saved %sto %s%s%s%s",
			t->frozen ? "the frozen picture " : "", out,
			under ? " (stacks through " : "",
			under ? profile_node_name(p, under) : "",
			under ? ")" : "");
	return TR_REDRAW;
}

int tui_act_reset(struct tui *t, int key)
{
	profile_reset(t->live);
	if (t->src && t->src->reset)
		t->src->reset(t->src->ctx);
	tui_msg(t, 0, "counts reset%s", t->frozen ? " (the frozen picture stays)" : "");
	return TR_REBUILD;
}

int tui_act_decay(struct tui *t, int key)
{
	t->decay = !t->decay;
	t->last_decay = tui_now();
	if (t->decay)
		tui_msg(t, 0, "decaying window: half-life %gs", t->opt->decay_halflife_s);
	else
		tui_msg(t, 0, "cumulative counts");
	return TR_REDRAW;
}
