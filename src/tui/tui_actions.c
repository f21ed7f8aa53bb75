/* tui_actions.c - actions on the data: freeze, save, reset, decay. */
#include <stdio.h>
#include <string.h>

#include "export.h"
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
	if (t->src && t->src->log) {     /* the samples the picture holds */
		t->frozen_nlog = samplelog_count(t->src->log);
		t->frozen_loggen = samplelog_generation(t->src->log);
	}
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
	char out[4096], err[512], done[1024] = "";
	if (tui_diff(t))
		return tui_diff_save(t);
	struct profile *p = tui_shown(t);
	uint32_t under = shown_root(t);
	if (p->samples == 0 || tui_scope_missing(t)) {
		tui_msg(t, 1, "nothing to save: no samples");
		return TR_REDRAW;
	}
	struct export_input in = { .p = p, .under = under,
				   .period_ns = t->opt->period_ns };
	/* The samples themselves (times, vCPUs) when the picture is all of
	 * them; a zoom, a process filter or the decaying window export the
	 * stacks shown, aggregated. */
	const struct samplelog *log = t->src ? t->src->log : NULL;
	if (log && !under && !t->decay && !t->window &&
	    (!t->frozen || t->frozen_loggen == samplelog_generation(log))) {
		in.log = log;
		in.nsamples = t->frozen ? t->frozen_nlog : 0;
	}
	int n = t->opt->noutputs ? t->opt->noutputs : 1;
	for (int i = 0; i < n; i++) {
		const struct tui_output *o = t->opt->noutputs ? &t->opt->outputs[i] : NULL;
		int fmt = o ? o->format : t->save_format;
		if (export_save(fmt, &in, o ? o->path : NULL, out, sizeof out,
				err, sizeof err) < 0) {
			tui_msg(t, 1, "save failed: %s", err);
			return TR_REDRAW;
		}
		size_t l = strlen(done), m = strlen(out);
		if (l + m + 3 < sizeof done) {
			if (l)
				memcpy(done + l, ", ", 2), l += 2;
			memcpy(done + l, out, m + 1);
		}
	}
	tui_msg(t, 0, "saved %sto %s%s%s%s%s",
		t->frozen ? "the frozen picture " : "", done,
		under ? " (stacks through " : "",
		under ? profile_node_name(p, under) : "",
		under ? ")" : "",
		in.log && samplelog_dropped(log) ? " (sample log full: exports hold the "
		"first samples, folded all)" : "");
	return TR_REDRAW;
}

int tui_act_save_format(struct tui *t, int key)
{
	t->save_format = (t->save_format + 1) % EXPORT_NFORMATS;
	if (t->opt->noutputs)
		tui_msg(t, 0, "s writes the -o files in their formats; without -o: %s",
			export_format_name(t->save_format));
	else
		tui_msg(t, 0, "s saves %s (qtop-<time>%s)", export_format_name(t->save_format),
			export_format_ext(t->save_format));
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
