/* options.h - qtop-prof's command line: every option, parsed into one
 * struct options (src/app/options.c).  Only the program uses it.
 */
#ifndef QTOP_OPTIONS_H
#define QTOP_OPTIONS_H

#include <stdint.h>
#include <stdio.h>
#include "acquire.h"
#include "markers.h"
#include "pipeline.h"
#include "sampler.h"
#include "symbolizer.h"
#include "tui.h"

#define DEFAULT_HZ 100.0

struct options {
	struct sampler_config samp;
	struct symbolizer_config sym;
	struct tui_options tui;
	enum pipeline_filter filter;
	const char *record, *replay, *load;
	struct tui_output out[TUI_MAX_OUTPUTS];   /* -o FILE, format decided */
	int nout;
	int format;                /* --format, or EXPORT_UNKNOWN */
	const char *diff_before, *diff_after;   /* --diff BEFORE AFTER */
	int no_normalize;
	enum acq_engine engine;
	const char *plugin_name;  /* --plugin-shm NAME (the plugin's name=) */
	int batch, folded_stdout, top;
	const char *comm[8];       /* --comm [CPUS:]EXPR, in order given */
	int ncomm;
	int koff_auto;             /* --kernel-offset auto (Linux: from the IDT) */
	int koff_given;            /* --kernel-offset N (0 too: no search) */
	int comm_linux;            /* --comm linux (BTF + __per_cpu_offset) */
	const char *pid[8];        /* --pid [CPUS:]EXPR (#15), in order given */
	int npid;
	int pid_linux;             /* --pid linux: task_struct.pid (BTF) */
	double duration;
	uint64_t samples;
	/* boot profiling */
	int launch;                /* --launch -- QEMU-COMMAND... */
	char **launch_argv;
	int boot;                  /* --boot: a QEMU started with -S */
	const char *serial_log;    /* --serial-log FILE */
	const char *json;          /* --json FILE */
	const char *from, *to;     /* --from T / --to T: seconds or marker */
	struct markers ms;         /* --mark, --until */
	int repeat;                /* --repeat N (boot matrix) */
	const char *smp_list;      /* --smp-list 1,2,4 (boot matrix) */
};

/* "0-3,5" -> bit mask of vCPUs.  0, or -1. */
int options_parse_cpus(const char *s, uint64_t *mask);
/* The usage text (--help on stdout, errors on stderr). */
void options_usage(FILE *f);
/* Parse argv into o (zeroed, markers_init'ed by the caller).  0, or -1
 * after a message on stderr (exit code 2); --help and --version exit. */
int options_parse(int argc, char **argv, struct options *o);

#endif
