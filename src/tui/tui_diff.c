/* tui_diff.c - diff mode: what is on screen is AFTER (the --diff file, or
 * now), compared with BEFORE (the other file, or a baseline snapshot taken
 * with 'b').  The views ask tui_diff(); the numbers come from pdiff.c. */
#include <stdio.h>
#include <string.h>

#include "tui_view.h"

int tui_diff_normalize(const struct tui *t)
{
	return !t->opt->no_normalize;
}

uint32_t tui_path_in(const struct tpath *tp, const struct profile *p)
{
	int exact;
	uint32_t n = tpath_resolve(tp, p, &exact);
	return exact ? n : PDIFF_NONE;
}

int tui_act_baseline(struct tui *t, int key)
{
	if (t->before) {
		profile_free(t->baseline);
		t->baseline = NULL;
		t->before = NULL;
		tui_msg(t, 0, "diff off%s", t->opt->diff_before
			? ": b compares with BEFORE again" : ": baseline cleared");
		return TR_REBUILD;
	}
	if (t->opt->diff_before) {
		t->before = t->opt->diff_before;
		tui_msg(t, 0, "comparing with %s again", t->opt->diff_before_name);
		return TR_REBUILD;
	}
	/* A snapshot of what is shown: the frozen picture when frozen. */
	t->baseline = profile_clone(tui_shown(t));
	if (!t->baseline) {
		tui_msg(t, 1, "baseline failed: out of memory");
		return TR_REDRAW;
	}
	t->before = t->baseline;
	tui_msg(t, 0, "baseline of %llu samples taken: now vs baseline "
		"(R counts afresh against it; b again clears it)",
		(unsigned long long)t->baseline->samples);
	return TR_REBUILD;
}

int tui_act_diff_colors(struct tui *t, int key)
{
	if (!tui_diff(t)) {
		tui_msg(t, 0, "not comparing: b takes a baseline");
		return TR_REDRAW;
	}
	t->diff_cb = !t->diff_cb;
	tui_msg(t, 0, t->diff_cb ? "diff colours: orange grew, blue shrank"
				 : "diff colours: red grew, blue shrank");
	return TR_REDRAW;
}

static const char *base_name(const char *path)
{
	const char *s = path ? strrchr(path, '/') : NULL;
	return s ? s + 1 : path ? path : "";
}

int tui_diff_badge(struct tui *t, int y, int x)
{
	if (!tui_diff(t))
		return 0;
	char b[512];
	const char *grow = t->diff_cb ? "orange" : "red";
	int file = t->before != t->baseline;
	const char *bn = file ? base_name(t->opt->diff_before_name) : "baseline";
	const char *an = file ? base_name(t->opt->diff_after_name) : "now";
	/* which profile is which, and which one gives the widths */
	snprintf(b, sizeof b, " DIFF %s vs %s | width: %s | %s grew, blue shrank%s ",
		 an, bn, t->diff_width_before ? bn : an, grow,
		 tui_diff_normalize(t) ? "" : " | counts");
	return tui_put(t, y, x, t->cols - x, b, t->sty.st[ST_FROZEN]);
}

/* The subtree on screen in AFTER and its counterpart in BEFORE. */
static int save_roots(struct tui *t, uint32_t *ua, uint32_t *ub)
{
	const struct profile *a = tui_shown(t);
	const struct tpath *tp = t->view == VIEW_FLAME ? &t->fl.zoom : &t->proc;
	*ua = tui_path_in(tp, a);
	if (*ua == PDIFF_NONE)
		return -1;
	*ub = tui_path_in(tp, t->before);
	return 0;
}

int tui_diff_save(struct tui *t)
{
	char pa[4096], pd[4096], err[1024];
	uint32_t ua, ub;
	tui_ensure_updated(t);
	if (tui_shown(t)->samples == 0 || save_roots(t, &ua, &ub) < 0) {
		tui_msg(t, 1, "nothing to save: no samples here after");
		return TR_REDRAW;
	}
	if (pdiff_save(t->before, ub, tui_shown(t), ua, tui_diff_normalize(t),
		       t->opt->noutputs ? t->opt->outputs[0].path : NULL,
		       pa, pd, sizeof pa, err, sizeof err) < 0)
		tui_msg(t, 1, "save failed: %s", err);
	else
		tui_msg(t, 0, "saved after to %s, before/after to %s", pa, pd);
	return TR_REDRAW;
}
