/* bench_tui.c - cost of the TUI per view on a profile with 100,000 call-tree
 * nodes: the update (hotspot_build + sort / flame_layout, run when the data
 * changed), the draw into curses' virtual screen, and a full repaint of the
 * terminal (output to /dev/null).  Target: update + draw < 5 ms.  Then the
 * same in diff mode (--diff / 'b') against a second 100k-node profile.
 *
 *   bench_tui [NODES] [COLSxROWS]
 */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui_view.h"

static uint64_t rng = 88172645463325252ull;

static uint32_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

/* Random stacks from a pool of names until the tree has `want` nodes. */
static struct profile *build(uint32_t want)
{
	struct profile *p = profile_new();
	char names[20][32];
	struct prof_frame fr[20];
	while (p && p->nnodes < want) {
		uint32_t r = next();
		int depth = 3 + (int)(r % 16);
		snprintf(names[0], sizeof names[0], "proc%u", r % 12);
		fr[0] = (struct prof_frame){ names[0], NULL, NULL, PK_PROC, 0, 0 };
		int kfrom = (r >> 8) % 3 == 0 ? depth - 3 : depth;
		for (int i = 1; i < depth; i++) {
			int kern = i >= kfrom;
			snprintf(names[i], sizeof names[i], "%s_%u",
				 kern ? "sys_fn" : "function_name", next() % (i < 3 ? 4 : 24));
			fr[i] = (struct prof_frame){ names[i], kern ? "kernel" : "prog",
				"file.c:42", (uint8_t)(kern ? PK_KERNEL : PK_USER), 0, 0 };
		}
		if (!profile_add(p, fr, (size_t)depth, r % 4, 1 + next() % 8))
			break;
	}
	return p;
}

static double ms_since(double t0)
{
	return (tui_now() - t0) * 1000.0;
}

int main(int argc, char **argv)
{
	uint32_t want = argc > 1 ? (uint32_t)atol(argv[1]) : 100000;
	int cols = 200, rows = 60;
	if (argc > 2)
		sscanf(argv[2], "%dx%d", &cols, &rows);
	char b[32];
	snprintf(b, sizeof b, "%d", cols);
	setenv("COLUMNS", b, 1);
	snprintf(b, sizeof b, "%d", rows);
	setenv("LINES", b, 1);
	setlocale(LC_ALL, "C.UTF-8");

	double t0 = tui_now();
	struct profile *p = build(want);
	if (!p) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	printf("profile: %u nodes, %llu samples, built in %.0f ms; screen %dx%d\n",
	       p->nnodes, (unsigned long long)p->samples, ms_since(t0), cols, rows);

	FILE *out = fopen("/dev/null", "w"), *in = fopen("/dev/null", "r");
	SCREEN *scr = newterm("xterm-256color", out, in);
	if (!scr) {
		fprintf(stderr, "newterm failed\n");
		return 1;
	}
	struct tui_options opt = { .refresh_hz = 4, .decay_halflife_s = 5 };
	struct app_source src = { 0 };
	static struct tui t;
	tui_state_init(&t, &opt, p, &src);
	t.utf8 = 1;
	t.status.guest_state = "running";
	tui_colors_init(&t);

	enum { N = 40 };
	int fail = 0;
	for (int v = 0; v < TUI_NVIEWS; v++) {
		t.view = v;
		double upd = 0, drw = 0, rep = 0;
		for (int i = 0; i < N; i++) {
			t.gen++;              /* data changed: recompute */
			double a = tui_now();
			t.rows = LINES, t.cols = COLS;
			tui_ensure_updated(&t);
			double m = tui_now();
			tui_draw(&t);
			double e = tui_now();
			clearok(curscr, TRUE);    /* repaint everything */
			refresh();
			upd += m - a, drw += e - m, rep += tui_now() - e;
		}
		upd = upd * 1000 / N, drw = drw * 1000 / N, rep = rep * 1000 / N;
		printf("%-10s update %7.3f ms  draw %6.3f ms  full repaint %6.3f ms  (update+draw %s 5 ms)\n",
		       tui_views[v]->name, upd, drw, rep,
		       upd + drw < 5 ? "<" : ">=");
		if (upd + drw >= 5)
			fail = 1;
	}
	/* how much of the hotspot update is hotspot_build (profile module) */
	double hb = tui_now();
	for (int i = 0; i < N; i++) {
		struct hot_row *hr = NULL;
		long n = hotspot_build(p, 0, &hr);
		if (n > 0)
			hotspot_sort(p, hr, (size_t)n, HOT_SORT_SELF, 0);
		free(hr);
	}
	printf("  of which hotspot_build + hotspot_sort: %.3f ms\n", ms_since(hb) / N);
	/* the flame view with a search: every node is visited for the counts */
	t.view = VIEW_FLAME;
	snprintf(t.search, sizeof t.search, "sys_fn_3");
	double a = tui_now();
	for (int i = 0; i < N; i++) {
		t.gen++;
		tui_ensure_updated(&t);
		tui_draw(&t);
	}
	printf("Flame with a search: update+draw %.3f ms (%llu matching samples)\n",
	       ms_since(a) / N, (unsigned long long)t.fl.match_all);
	/* diff mode: two 100k-node profiles (the second from the same name
	 * pool, so most frames have a counterpart), the delta table and the
	 * differential flamegraph; same budget as the normal views */
	t.search[0] = '\0';
	struct profile *q = build(want);
	if (!q) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	printf("diff: before %u nodes, %llu samples\n", q->nnodes,
	       (unsigned long long)q->samples);
	t.before = q;
	int views[2] = { VIEW_HOT, VIEW_FLAME };
	for (int k = 0; k < 2; k++) {
		t.view = views[k];
		double upd = 0, drw = 0;
		for (int i = 0; i < N; i++) {
			t.gen++;
			double a0 = tui_now();
			tui_ensure_updated(&t);
			double m = tui_now();
			tui_draw(&t);
			upd += m - a0, drw += tui_now() - m;
		}
		upd = upd * 1000 / N, drw = drw * 1000 / N;
		printf("Diff %-8s update %7.3f ms  draw %6.3f ms  (update+draw %s 5 ms)\n",
		       tui_views[views[k]]->name, upd, drw, upd + drw < 5 ? "<" : ">=");
		if (views[k] == VIEW_FLAME && upd + drw >= 5)
			fail = 1;
	}
	double pd = tui_now();
	for (int i = 0; i < N; i++) {
		struct pdiff_row *dr = NULL;
		long n = pdiff_table(q, 0, p, 0, 1, &dr);
		if (n > 0)
			pdiff_sort_rows(q, p, dr, (size_t)n, PD_SORT_DSELF, 0);
		free(dr);
	}
	printf("  of which pdiff_table + pdiff_sort_rows: %.3f ms\n", ms_since(pd) / N);
	t.before = NULL;
	endwin();
	delscreen(scr);
	tui_state_free(&t);
	profile_free(q);
	profile_free(p);
	fclose(out);
	fclose(in);
	return fail && getenv("BENCH_STRICT") ? 1 : 0;
}
