/* view_proc.c - per-process split: share, kernel vs user, per-vCPU share.
 * Enter filters every view to the selected process. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui_view.h"

static const struct profile *sort_p;

static int by_samples(const void *a, const void *b)
{
	const struct prof_proc *x = &sort_p->procs[*(const uint32_t *)a];
	const struct prof_proc *y = &sort_p->procs[*(const uint32_t *)b];
	if (x->samples != y->samples)
		return x->samples < y->samples ? 1 : -1;
	return strcmp(profile_node_name(sort_p, x->node),
		      profile_node_name(sort_p, y->node));
}

static const char *proc_name(const struct profile *p, uint32_t i)
{
	return profile_node_name(p, p->procs[i].node);
}

static void remember_sel(struct tui *t)
{
	struct proc_state *v = &t->procv;
	if (v->sel >= 0 && v->sel < v->n)
		snprintf(v->sel_name, sizeof v->sel_name, "%s",
			 proc_name(tui_shown(t), v->order[v->sel]));
}

static void proc_update(struct tui *t)
{
	struct proc_state *v = &t->procv;
	const struct profile *p = tui_shown(t);
	free(v->order);
	v->n = 0;
	v->order = malloc(sizeof *v->order * (p->nprocs ? p->nprocs : 1));
	if (!v->order)
		return;
	for (uint32_t i = 0; i < p->nprocs; i++)
		if (p->procs[i].samples &&
		    (!t->filter[0] || tui_match(proc_name(p, i), t->filter)))
			v->order[v->n++] = i;
	sort_p = p;     /* qsort has no context argument; one thread only */
	qsort(v->order, (size_t)v->n, sizeof *v->order, by_samples);
	for (long i = 0; i < v->n; i++)
		if (!strcmp(proc_name(p, v->order[i]), v->sel_name))
			v->sel = i;
	if (v->sel >= v->n)
		v->sel = v->n - 1;
	if (v->sel < 0)
		v->sel = 0;
	remember_sel(t);
}

static double pct(uint64_t v, uint64_t total)
{
	return total ? 100.0 * (double)v / (double)total : 0.0;
}

static void proc_draw(struct tui *t, int y0, int hgt)
{
	struct proc_state *v = &t->procv;
	const struct profile *p = tui_shown(t);
	const struct tui_styles *s = &t->sty;
	int ncpu = (int)p->ncpus;
	/* as many vCPU columns as fit beside a 16-column name */
	int fixed = 8 + 10 + 8 + 8;
	int fit = (t->cols - fixed - 16) / 6;
	if (ncpu > fit)
		ncpu = fit > 0 ? fit : 0;
	int body = hgt - 2;
	v->page = body;

	char hd[512];
	int l = snprintf(hd, sizeof hd, "%7s %9s %7s %7s ", "SHARE%", "SAMPLES",
			 "KERN%", "USER%");
	for (int c = 0; c < ncpu && l < (int)sizeof hd - 8; c++)
		l += snprintf(hd + l, sizeof hd - (size_t)l, "%5s%d", "cpu", c);
	snprintf(hd + l, sizeof hd - (size_t)l, " PROCESS");
	tui_fill(y0, 0, t->cols, s->st[ST_HEADER]);
	tui_put(t, y0, 0, t->cols, hd, s->st[ST_HEADER]);
	if (body < 1)
		return;
	if (v->sel < v->top)
		v->top = v->sel;
	if (v->sel >= v->top + body)
		v->top = v->sel - body + 1;
	/* never leave rows hidden above when there is room (after a resize) */
	if (v->top > v->n - body)
		v->top = v->n - body;
	if (v->top < 0)
		v->top = 0;
	if (v->n == 0)
		tui_put(t, y0 + 1, 1, t->cols - 1, "no processes yet", s->st[ST_DIM]);
	for (int i = 0; i < body && v->top + i < v->n; i++) {
		long ri = v->top + i;
		const struct prof_proc *pr = &p->procs[v->order[ri]];
		const char *name = profile_node_name(p, pr->node);
		int sel = ri == v->sel;
		int filtered = t->proc.n && !strcmp(t->proc.names[0], name);
		attr_t a = sel ? s->st[ST_SELECTED] : s->st[ST_NORMAL];
		char b[512];
		int k = snprintf(b, sizeof b, "%7.1f %9llu %7.1f %7.1f ",
				 pct(pr->samples, p->samples),
				 (unsigned long long)pr->samples,
				 pct(pr->kernel, pr->samples), pct(pr->user, pr->samples));
		for (int c = 0; c < ncpu && k < (int)sizeof b - 8; c++)
			k += snprintf(b + k, sizeof b - (size_t)k, "%6.1f",
				      pct(pr->cpu[c], p->cpu_samples[c]));
		snprintf(b + k, sizeof b - (size_t)k, " %s%s", filtered ? "*" : "", name);
		tui_fill(y0 + 1 + i, 0, t->cols, a);
		tui_put(t, y0 + 1 + i, 0, t->cols, b,
			!sel && tui_match(name, t->search) ? s->st[ST_MATCH] : a);
	}
	int yd = y0 + hgt - 1;
	tui_fill(yd, 0, t->cols, s->st[ST_HEADER]);
	tui_put(t, yd, 0, t->cols, t->proc.n ?
		"Enter/Esc: clear the process filter   (cpuN: share of vCPU N's samples)" :
		"Enter: show only this process in every view   (cpuN: share of vCPU N's samples)",
		s->st[ST_HEADER]);
}

static int proc_move(struct tui *t, int key)
{
	int r = tui_list_move(&t->procv.sel, t->procv.n, t->procv.page, key);
	remember_sel(t);
	return r;
}

static int proc_enter(struct tui *t, int key)
{
	struct proc_state *v = &t->procv;
	const struct profile *p = tui_shown(t);
	if (v->sel < 0 || v->sel >= v->n)
		return TR_NONE;
	uint32_t node = p->procs[v->order[v->sel]].node;
	if (t->proc.n && !strcmp(t->proc.names[0], profile_node_name(p, node))) {
		tpath_clear(&t->proc);
		tui_msg(t, 0, "process filter cleared");
	} else {
		tpath_set(&t->proc, p, node);
		tui_msg(t, 0, "showing only %s (Enter or Esc clears)", t->proc.names[0]);
	}
	return TR_REBUILD;
}

static int proc_esc(struct tui *t, int key)
{
	if (!t->proc.n)
		return TR_UNHANDLED;
	tpath_clear(&t->proc);
	tui_msg(t, 0, "process filter cleared");
	return TR_REBUILD;
}

static int proc_mouse(struct tui *t, int y, int x, int dbl)
{
	struct proc_state *v = &t->procv;
	long i = v->top + (y - 2);
	if (y < 2 || y >= 2 + v->page || i >= v->n)
		return TR_NONE;
	v->sel = i;
	remember_sel(t);
	return dbl ? proc_enter(t, '\n') : TR_REDRAW;
}

static void proc_jump(struct tui *t, int dir)
{
	struct proc_state *v = &t->procv;
	const struct profile *p = tui_shown(t);
	for (long k = dir ? 1 : 0; v->n > 0 && k <= v->n; k++) {
		long i = ((v->sel + (dir ? dir : 1) * k) % v->n + v->n) % v->n;
		if (tui_match(proc_name(p, v->order[i]), t->search)) {
			v->sel = i;
			remember_sel(t);
			return;
		}
	}
	tui_msg(t, 0, "no match for \"%s\"", t->search);
}

static void proc_free(struct tui *t)
{
	free(t->procv.order);
	t->procv.order = NULL;
	t->procv.n = 0;
}

static const struct tui_key proc_keys[] = {
	{ {KEY_UP, KEY_DOWN, 'k', 'j'}, proc_move, "Up Down j k", "move" },
	{ {KEY_PPAGE, KEY_NPAGE, KEY_HOME, KEY_END, 'g', 'G'}, proc_move,
	  "PgUp PgDn g G", "page, first / last" },
	{ {'\n', '\r', KEY_ENTER}, proc_enter, "Enter", "filter all views to this process (again: clear)" },
	{ {27}, proc_esc, "Esc", "clear the process filter" },
	{ {0}, NULL, NULL, NULL },
};

const struct tui_view_ops tui_view_proc = {
	.name = "Processes",
	.update = proc_update,
	.draw = proc_draw,
	.keys = proc_keys,
	.mouse = proc_mouse,
	.jump = proc_jump,
	.free = proc_free,
};
