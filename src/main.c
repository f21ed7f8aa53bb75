/* main.c - qtop-prof: parse the options, pick the run mode (src/app/):
 *   live:   sampler thread or plugin engine (acquire.h) -> ring -> pipeline
 *           -> profile -> TUI or --batch
 *   replay: --replay FILE -> pipeline -> profile -> TUI or --batch
 *   load:   --load FILE.folded -> profile -> TUI or --batch
 *   diff:   --diff BEFORE AFTER
 * Only the program (main.c and src/app) prints to the user. */
#include "app.h"
#include "bootmatrix.h"
#include "markers.h"
#include "options.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	struct options o;

	memset(&o, 0, sizeof o);
	markers_init(&o.ms);
	if (options_parse(argc, argv, &o) < 0)
		return 2;
	o.tui.markers = &o.ms;           /* the timeline's marker ticks */
	if (o.repeat || o.smp_list)      /* a boot matrix: one child per boot */
		return bootmatrix_run(&(struct bootmatrix_opts){ .launch = o.launch,
			.repeat = o.repeat, .smp_list = o.smp_list, .json = o.json,
			.out = o.nout ? o.out[0].path : NULL, .argc = argc, .argv = argv });
	if (o.diff_before)
		return app_run_diff(&o);
	if (o.load)
		return app_run_load(&o);
	if (o.replay) {
		if (o.koff_auto) {
			fputs("qtop-prof: --kernel-offset auto needs a live guest (a recording has no IDT to read): give the slide as a number\n", stderr);
			return 2;
		}
		return app_run_replay(&o);
	}
	return app_run_live(&o);
}
