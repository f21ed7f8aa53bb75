/* main.c - qtop-prof's front end: options, then one of
 *   live:   sampler thread or plugin engine (acquire.h) -> ring -> pipeline
 *           -> profile -> TUI or --batch
 *   replay: --replay FILE -> pipeline -> profile -> TUI or --batch
 *   load:   --load FILE.folded -> profile -> TUI or --batch
 * Only this file prints to the user. */
#include "export.h"
#include "acquire.h"
#include "folded.h"
#include "hotspot.h"
#include "launch.h"
#include "linux_guest.h"
#include "markers.h"
#include "pdiff.h"
#include "profload.h"
#include "pipeline.h"
#include "profile.h"
#include "qmp.h"
#include "record.h"
#include "report.h"
#include "ring.h"
#include "sampler.h"
#include "serial.h"
#include "symbolizer.h"
#include "commprog.h"
#include "timeline.h"   /* #16: timeline_load_report */
#include "bootmatrix.h" /* #16: --repeat, --smp-list */
#include "tui.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
	int repeat;                /* #16 --repeat N (boot matrix) */
	const char *smp_list;      /* #16 --smp-list 1,2,4 (boot matrix) */
};

static volatile sig_atomic_t got_signal;
static void on_signal(int sig) { got_signal = sig; }

static void usage(FILE *f)
{
	fputs(
"usage: qtop-prof [--qmp SOCKET|tcp:HOST:PORT] [options]\n"
"       qtop-prof --replay FILE.qrec [options]\n"
"       qtop-prof --load FILE.folded|FILE.pb.gz|FILE.speedscope.json\n"
"       qtop-prof --diff BEFORE AFTER [options]\n"
"       qtop-prof --launch [options] -- QEMU-COMMAND...\n"
"\n"
"Live sampling profiler for operating systems running in QEMU.\n"
"\n"
"Sampling:\n"
"  --qmp SPEC          QMP socket (default ./qmp-socket) or tcp:HOST:PORT\n"
"  --engine auto|qmp|plugin  sample through QEMU's monitor, or through\n"
"                      qtop-plugin.so loaded in QEMU (-plugin, QEMU >= 9.2, TCG):\n"
"                      exact registers, no pauses; auto: plugin when found\n"
"  --plugin-shm NAME   the plugin's segment when started with name=NAME\n"
"  -F, --frequency N, --hz N\n"
"                      sampling rounds per second, all vCPUs each (default 100; 0 = max)\n"
"  -C, --cpu LIST, --cpus LIST\n"
"                      vCPUs to sample, e.g. 0,2-3 (default all)\n"
"  --auto-stop         read with the guest running (default): with direct memory\n"
"                      never paused, chains vouched for and cut where unsure;\n"
"                      with monitor memory a moved round is read again, then paused\n"
"  --stop              pause the guest around every round\n"
"  --no-stop           never pause (a vCPU that moved keeps only its leaf)\n"
"  --stack-bytes N     stack copied from sp (default 8192)\n"
"  --ustack-bytes N    user stack copied behind a kernel trap frame (default 4096)\n"
"  --mem auto|direct|memsave|hmp|file:PATH   how guest memory is read (default\n"
"                      auto: direct from a local QEMU's memory when allowed)\n"
"Boot profiling:\n"
"  --launch            run the QEMU command after --, paused (-S) on a private\n"
"                      QMP socket; sample the reset vector, then resume it;\n"
"                      its serial port (when the command names none) is echoed\n"
"                      on stderr; ending qtop-prof ends that QEMU\n"
"  --boot              a QEMU started with -S: sample its first instruction,\n"
"                      then resume it (the one cont for a pause not ours)\n"
"  --serial-log FILE   --launch: keep the serial output (never overwrites)\n"
"  --mark NAME=REGEX   marker at the first serial line matching REGEX (POSIX\n"
"                      extended); NAME=@SYMBOL: the first sample whose chain\n"
"                      holds SYMBOL; repeatable\n"
"  --until REGEX|@SYMBOL  end the profile there\n"
"  --from T, --to T    keep the samples from/to T: seconds since the reset\n"
"                      (or the start), or a marker name (batch, replay, --load\n"
"                      of a JSON report)\n"
"  --repeat N          --launch: boot N times (a boot matrix: marker times'\n"
"                      mean, median, stdev, min/max; --json the matrix report)\n"
"  --smp-list 1,2,4    --launch: boot with each -smp count (speedup, efficiency;\n"
"                      merged folded profile per count: STEM-smpN.folded)\n"
"Symbols and processes:\n"
"  --kernel ELF        guest kernel with symbols\n"
"  --symbols FILE      nm / System.map / kallsyms text\n"
"  --kernel-offset N|auto  slide of a relocated kernel (default for a Linux\n"
"                      kernel: auto; 0 turns the search off); auto: Linux\n"
"                      KASLR, found from the IDT and checked (live only)\n"
"  --sysroot DIR       the guest's program ELFs\n"
"  --comm [CPUS:]EXPR  task name: a C expression over the kernel's DWARF\n"
"                      (. -> [i] * & (type *) + -; $cpu $gs_base $fs_base\n"
"                      $cr3 $rsp ... as variables), giving a char array or\n"
"                      char *: current_task->name, cpus[$cpu].proc->name,\n"
"                      *sym+off; with CPUS (e.g. 1:cur_ap->name) only for\n"
"                      those vCPUs;\n"
"                      linux: the current task of a Linux vmlinux (BTF)\n"
"  --inline            emit inline frames\n"
"  --kernel-only | --user-only\n"
"Output:\n"
"  --batch             no TUI: sample, then print the top functions\n"
"  -d, --duration S    stop after S seconds (batch)\n"
"  --samples N         stop after N samples\n"
"  -o, --output FILE   profile file, format by extension: .folded .txt,\n"
"                      .pb.gz .pprof, .speedscope.json, .perf-script .perf\n"
"                      .script (batch: written at the end; TUI: 's'); repeatable\n"
"  --format FMT        folded|pprof|speedscope|perf-script: for -o files\n"
"                      without such an extension and for 's' without -o\n"
"  --folded            batch: print folded stacks to stdout instead of the table\n"
"  --top N             batch: rows of the table (default 25)\n"
"  --json FILE         the JSON report: meta, markers, frames, samples,\n"
"                      hotspots (doc/report.md); --load reads it back\n"
"  --record FILE       also store the raw samples (replay them with --replay)\n"
"  --replay FILE       analyse recorded samples offline\n"
"  --load FILE         open a folded file (ours, perf+stackcollapse, inferno),\n"
"                      a pprof or speedscope file, or a JSON report\n"
"Comparing:\n"
"  --diff BEFORE AFTER compare two saved profiles (folded, or .qrec replayed\n"
"                      with the symbol options): differential flamegraph and\n"
"                      delta table; --batch prints the delta table, --folded\n"
"                      the two-column folded (stack before after)\n"
"  --no-normalize      compare sample counts (equal-length runs), not shares\n"
"TUI:\n"
"  --refresh HZ        redraws per second (default 4)\n"
"  --theme NAME|PATH   colour theme   --themes-dir DIR\n"
"  -h, --help          this text      --version\n", f);
}

static int parse_cpus(const char *s, uint64_t *mask)
{
	char *end;
	*mask = 0;
	while (*s) {
		long a = strtol(s, &end, 10), b;
		if (end == s || a < 0 || a > 63)
			return -1;
		b = a;
		if (*end == '-') {
			s = end + 1;
			b = strtol(s, &end, 10);
			if (end == s || b < a || b > 63)
				return -1;
		}
		for (long i = a; i <= b; i++)
			*mask |= 1ull << i;
		s = end;
		if (*s == ',')
			s++;
		else if (*s)
			return -1;
	}
	return *mask ? 0 : -1;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	/* -F -d -C: perf's spellings (perf record/top) of --hz --duration --cpus */
	enum { O_STOP = 256, O_NOSTOP, O_AUTOSTOP, O_STACK, O_USTACK, O_MEM,
	       O_KERNEL, O_SYMBOLS, O_KOFF, O_SYSROOT, O_COMM, O_INLINE, O_KONLY,
	       O_UONLY, O_BATCH, O_SAMPLES, O_FOLDED, O_TOP, O_RECORD,
	       O_REPLAY, O_LOAD, O_REFRESH, O_THEME, O_THEMES_DIR, O_VERSION, O_QMP,
	       O_FORMAT, O_DIFF, O_NO_NORMALIZE, O_ENGINE, O_PLUGIN_SHM,
	       O_LAUNCH, O_BOOT, O_SERIAL_LOG, O_MARK, O_UNTIL, O_JSON, O_FROM, O_TO,
	       O_REPEAT, O_SMP_LIST };
	static const struct option lo[] = {
		{ "qmp", required_argument, 0, O_QMP },
		{ "engine", required_argument, 0, O_ENGINE },
		{ "plugin-shm", required_argument, 0, O_PLUGIN_SHM },
		{ "hz", required_argument, 0, 'F' },
		{ "frequency", required_argument, 0, 'F' },
		{ "cpus", required_argument, 0, 'C' },
		{ "cpu", required_argument, 0, 'C' },
		{ "stop", no_argument, 0, O_STOP },
		{ "no-stop", no_argument, 0, O_NOSTOP },
		{ "auto-stop", no_argument, 0, O_AUTOSTOP },
		{ "stack-bytes", required_argument, 0, O_STACK },
		{ "ustack-bytes", required_argument, 0, O_USTACK },
		{ "mem", required_argument, 0, O_MEM },
		{ "kernel", required_argument, 0, O_KERNEL },
		{ "symbols", required_argument, 0, O_SYMBOLS },
		{ "kernel-offset", required_argument, 0, O_KOFF },
		{ "sysroot", required_argument, 0, O_SYSROOT },
		{ "comm", required_argument, 0, O_COMM },
		{ "inline", no_argument, 0, O_INLINE },
		{ "kernel-only", no_argument, 0, O_KONLY },
		{ "user-only", no_argument, 0, O_UONLY },
		{ "batch", no_argument, 0, O_BATCH },
		{ "duration", required_argument, 0, 'd' },
		{ "samples", required_argument, 0, O_SAMPLES },
		{ "output", required_argument, 0, 'o' },
		{ "format", required_argument, 0, O_FORMAT },
		{ "folded", no_argument, 0, O_FOLDED },
		{ "top", required_argument, 0, O_TOP },
		{ "record", required_argument, 0, O_RECORD },
		{ "replay", required_argument, 0, O_REPLAY },
		{ "load", required_argument, 0, O_LOAD },
		{ "diff", required_argument, 0, O_DIFF },
		{ "no-normalize", no_argument, 0, O_NO_NORMALIZE },
		{ "refresh", required_argument, 0, O_REFRESH },
		{ "theme", required_argument, 0, O_THEME },
		{ "themes-dir", required_argument, 0, O_THEMES_DIR },
		{ "launch", no_argument, 0, O_LAUNCH },
		{ "boot", no_argument, 0, O_BOOT },
		{ "serial-log", required_argument, 0, O_SERIAL_LOG },
		{ "mark", required_argument, 0, O_MARK },
		{ "until", required_argument, 0, O_UNTIL },
		{ "json", required_argument, 0, O_JSON },
		{ "from", required_argument, 0, O_FROM },
		{ "to", required_argument, 0, O_TO },
		{ "repeat", required_argument, 0, O_REPEAT },     /* #16 boot matrix */
		{ "smp-list", required_argument, 0, O_SMP_LIST }, /* #16 boot matrix */
		{ "help", no_argument, 0, 'h' },
		{ "version", no_argument, 0, O_VERSION },
		{ 0, 0, 0, 0 }
	};
	char *end;
	int c;

	o->samp.qmp_spec = "./qmp-socket";
	o->samp.hz = DEFAULT_HZ;
	o->samp.stack_bytes = 8192;
	o->samp.ustack_bytes = 4096;
	o->samp.stop = SAMPLER_STOP_AUTO;
	o->samp.timeout_ms = 3000;
	o->tui.refresh_hz = 4;
	o->tui.decay_halflife_s = 5;
	o->top = 25;
	o->sym.max_depth = 128;
	o->format = EXPORT_UNKNOWN;

	while ((c = getopt_long(argc, argv, "hF:d:C:o:", lo, NULL)) != -1) {
		switch (c) {
		case O_QMP: o->samp.qmp_spec = optarg; break;
		case O_ENGINE:
			if (!strcmp(optarg, "auto")) o->engine = ACQ_AUTO;
			else if (!strcmp(optarg, "qmp")) o->engine = ACQ_QMP;
			else if (!strcmp(optarg, "plugin")) o->engine = ACQ_PLUGIN;
			else goto bad;
			break;
		case O_PLUGIN_SHM:
			if (!*optarg || strchr(optarg, '/')) goto bad;
			o->plugin_name = optarg;
			break;
		case 'F':
			o->samp.hz = strtod(optarg, &end);
			if (*end || o->samp.hz < 0) goto bad;
			break;
		case 'C':
			if (parse_cpus(optarg, &o->samp.cpu_mask) < 0) goto bad;
			break;
		case O_STOP: o->samp.stop = SAMPLER_STOP_ALWAYS; break;
		case O_NOSTOP: o->samp.stop = SAMPLER_STOP_NEVER; break;
		case O_AUTOSTOP: o->samp.stop = SAMPLER_STOP_AUTO; break;
		case O_STACK:
		case O_USTACK: {
			unsigned long v = strtoul(optarg, &end, 0);
			if (*end || v > (1u << 20) || (c == O_STACK && v < 64)) goto bad;
			if (c == O_STACK) o->samp.stack_bytes = (uint32_t)v;
			else o->samp.ustack_bytes = (uint32_t)v;
			break;
		}
		case O_MEM:
			if (!strcmp(optarg, "auto")) o->samp.mem = SAMPLER_MEM_AUTO;
			else if (!strcmp(optarg, "memsave")) o->samp.mem = SAMPLER_MEM_MEMSAVE;
			else if (!strcmp(optarg, "hmp") || !strcmp(optarg, "x")) o->samp.mem = SAMPLER_MEM_HMPX;
			else if (!strcmp(optarg, "direct")) o->samp.mem = SAMPLER_MEM_DIRECT;
			else if (!strncmp(optarg, "file:", 5) && optarg[5]) {
				o->samp.mem = SAMPLER_MEM_DIRECT;
				o->samp.mem_file = optarg + 5;
			}
			else goto bad;
			break;
		case O_KERNEL: o->sym.kernel = optarg; break;
		case O_SYMBOLS: o->sym.symbols = optarg; break;
		case O_KOFF:
			if (!strcmp(optarg, "auto")) {
				o->koff_auto = 1;
				o->koff_given = 0;
				break;
			}
			o->koff_auto = 0;
			o->koff_given = 1;
			o->sym.kernel_offset = (int64_t)strtoull(optarg, &end, 0);
			if (*end) goto bad;
			break;
		case O_SYSROOT: o->sym.sysroot = optarg; break;
		case O_COMM:
			if (!strcmp(optarg, "linux")) {
				o->comm_linux = 1;
				break;
			}
			if (o->ncomm == 8) goto bad;
			o->comm[o->ncomm++] = optarg;
			break;
		case O_INLINE: o->sym.inline_frames = 1; break;
		case O_KONLY: o->filter = PIPE_KERNEL_ONLY; break;
		case O_UONLY: o->filter = PIPE_USER_ONLY; break;
		case O_BATCH: o->batch = 1; break;
		case 'd':
			o->duration = strtod(optarg, &end);
			if (*end || o->duration <= 0) goto bad;
			break;
		case O_SAMPLES:
			o->samples = strtoull(optarg, &end, 10);
			if (*end || !o->samples) goto bad;
			break;
		case 'o':
			if (o->nout == TUI_MAX_OUTPUTS) {
				fprintf(stderr, "qtop-prof: at most %d -o files\n", TUI_MAX_OUTPUTS);
				return -1;
			}
			o->out[o->nout++].path = optarg;
			break;
		case O_FORMAT:
			o->format = export_format_parse(optarg);
			if (o->format == EXPORT_JSON) {
				fputs("qtop-prof: --format json: the JSON report is written "
				      "with --json FILE\n", stderr);
				return -1;
			}
			if (o->format == EXPORT_UNKNOWN) goto bad;
			break;
		case O_FOLDED: o->folded_stdout = 1; break;
		case O_TOP: o->top = atoi(optarg); break;
		case O_RECORD: o->record = optarg; break;
		case O_REPLAY: o->replay = optarg; break;
		case O_LOAD: o->load = optarg; break;
		case O_DIFF: o->diff_before = optarg; break;
		case O_NO_NORMALIZE: o->no_normalize = 1; break;
		case O_REFRESH:
			o->tui.refresh_hz = strtod(optarg, &end);
			if (*end || o->tui.refresh_hz <= 0 || o->tui.refresh_hz > 100) goto bad;
			break;
		case O_THEME: o->tui.theme = optarg; break;
		case O_THEMES_DIR: o->tui.themes_dir = optarg; break;
		case O_LAUNCH: o->launch = 1; break;
		case O_BOOT: o->boot = 1; break;
		case O_SERIAL_LOG: o->serial_log = optarg; break;
		case O_JSON: o->json = optarg; break;
		case O_FROM: o->from = optarg; break;
		case O_TO: o->to = optarg; break;
		case O_REPEAT:   /* #16 boot matrix */
			o->repeat = (int)strtol(optarg, &end, 10);
			if (*end || o->repeat < 1 || o->repeat > BOOTMATRIX_MAX_REPEAT) goto bad;
			break;
		case O_SMP_LIST: o->smp_list = optarg; break;   /* #16 boot matrix */
		case O_MARK:
		case O_UNTIL: {
			char e[256];
			if (markers_add(&o->ms, optarg, c == O_UNTIL, e, sizeof e) < 0) {
				fprintf(stderr, "qtop-prof: %s\n", e);
				return -1;
			}
			break;
		}
		case 'h': usage(stdout); exit(0);
		case O_VERSION: puts("qtop-prof 0.1.0"); exit(0);
		default:
			fputs("Try 'qtop-prof --help'.\n", stderr);
			return -1;
		}
		continue;
bad:
		fprintf(stderr, "qtop-prof: invalid value '%s' (see --help)\n", optarg);
		return -1;
	}
	/* --diff BEFORE AFTER: AFTER is the (permuted) operand */
	if (o->diff_before) {
		if (optind >= argc) {
			fputs("qtop-prof: --diff needs two files: --diff BEFORE AFTER\n", stderr);
			return -1;
		}
		o->diff_after = argv[optind++];
		if (o->load || o->replay || o->record) {
			fputs("qtop-prof: --diff compares two saved profiles: not with "
			      "--load, --replay or --record\n", stderr);
			return -1;
		}
	}
	if (o->launch) {
		/* the QEMU command: everything after "--" */
		if (optind >= argc || strcmp(argv[optind - 1], "--")) {
			fputs("qtop-prof: --launch needs the QEMU command after --: "
			      "qtop-prof --launch [options] -- qemu-system-x86_64 ...\n", stderr);
			return -1;
		}
		o->launch_argv = argv + optind;
		optind = argc;
		if (o->load || o->replay || o->diff_before || o->boot) {
			fputs("qtop-prof: --launch starts a guest: not with --load, --replay, "
			      "--diff or --boot\n", stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "qtop-prof: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (o->serial_log && !o->launch) {
		fputs("qtop-prof: --serial-log needs --launch (the serial port it captures)\n", stderr);
		return -1;
	}
	o->samp.max_samples = o->samples;
	/* the extension decides; --format for the others; .json alone is
	 * the JSON report, which does not exist yet */
	for (int i = 0; i < o->nout; i++) {
		int f = export_format_from_path(o->out[i].path);
		if (f == EXPORT_JSON && o->format == EXPORT_UNKNOWN) {
			fprintf(stderr, "qtop-prof: -o %s: a .json name: give --json %s for the "
				"JSON report, name it .speedscope.json for speedscope, or give "
				"--format\n", o->out[i].path, o->out[i].path);
			return -1;
		}
		if (f == EXPORT_UNKNOWN || f == EXPORT_JSON)
			f = o->format == EXPORT_UNKNOWN ? EXPORT_FOLDED : o->format;
		o->out[i].format = f;
	}
	o->tui.outputs = o->out;
	o->tui.noutputs = o->nout;
	o->tui.save_format = o->format == EXPORT_UNKNOWN ? EXPORT_FOLDED : o->format;
	o->tui.period_ns = o->samp.hz > 0 ? 1e9 / o->samp.hz : 0;
	o->tui.no_normalize = o->no_normalize;
	return 0;
}

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- output of batch mode ---- */

static void print_table(const struct profile *p, int top)
{
	struct hot_row *rows = NULL;
	long n = hotspot_build(p, 0, &rows);

	if (n < 0) {
		fputs("qtop-prof: out of memory\n", stderr);
		return;
	}
	hotspot_sort(p, rows, (size_t)n, HOT_SORT_SELF, 0);
	printf("%7s %7s %9s  %-40s %s\n", "SELF%", "TOTAL%", "SAMPLES", "FUNCTION", "MODULE");
	for (long i = 0; i < n && i < top; i++) {
		double tot = p->samples ? (double)p->samples : 1;
		printf("%6.2f%% %6.2f%% %9" PRIu64 "  %-40s %s%s\n",
		       100.0 * (double)rows[i].self / tot, 100.0 * (double)rows[i].total / tot,
		       rows[i].self, profile_str_get(p, rows[i].name),
		       profile_str_get(p, rows[i].module),
		       rows[i].kind == PK_KERNEL ? " [k]" : "");
	}
	free(rows);
}

/* The log holds the first samplelog_max() samples; past that, say so. */
static void note_log_full(const struct samplelog *log)
{
	if (samplelog_dropped(log))
		fprintf(stderr, "qtop-prof: sample log full: exports hold the first %" PRIu64
			" samples; the folded profile holds all\n", samplelog_count(log));
}

static int write_outputs(const struct options *o, const struct profile *p,
			 const struct samplelog *log)
{
	char path[4096], err[512];
	int rc = 0;

	if (o->folded_stdout) {
		if (folded_write(p, 0, 0, stdout) < 0)
			rc = 1;
	} else {
		print_table(p, o->top);
	}
	for (int i = 0; i < o->nout; i++) {
		struct export_input in = { .p = p, .log = log,
			.period_ns = o->samp.hz > 0 ? 1e9 / o->samp.hz : 0,
			.name = o->replay ? o->replay : o->load ? o->load : o->samp.qmp_spec };
		int f = o->out[i].format;
		if (f != EXPORT_FOLDED && log && !samplelog_aggregated(log))
			note_log_full(log);
		if (export_save(f, &in, o->out[i].path, path, sizeof path, err, sizeof err) < 0) {
			fprintf(stderr, "qtop-prof: %s\n", err);
			rc = 1;
		} else {
			fprintf(stderr, "qtop-prof: %" PRIu64 " samples written to %s (%s)\n",
				p->samples, path, export_format_name(f));
		}
	}
	fflush(stdout);
	return rc;
}

/* ---- live mode sources for the TUI ---- */

enum { RATE_WIN = 5 };

struct live {
	struct pipeline *pl;
	struct acquire *smp;
	struct ring *ring;
	double t0, hz;
	uint64_t cpu_mask;          /* --cpus, 0 = all */
	int stop;                   /* enum sampler_stop */
	/* per-vCPU rate over the last RATE_WIN seconds: sample counts taken
	 * once a second (a loaded host makes single seconds jumpy) */
	double rate_t[RATE_WIN + 1];
	uint64_t rate_n[RATE_WIN + 1];
	int rate_i, rate_k;         /* newest snapshot, snapshots held */
	char state[48];
	double rate;
	uint64_t base_rounds, base_paused;   /* since the start or 'R' */
	char symwarn[512];          /* pipeline_symcheck's warning, or "" */
	struct markers *ms;         /* --mark / --until */
	int ended;                  /* --until reached: no more samples taken in */
	char markline[512];         /* the markers for the status line */
	struct launch *launch;      /* --launch: our QEMU, or NULL */
};

/* The kernel-symbol check (pipeline_symcheck) of a live session: on the
 * kernel-mode samples of the first second, or the first 200. */
static int live_symcheck(struct live *l)
{
	uint64_t min = mono_s() - l->t0 >= 1.0 ? 10 : 200;
	return pipeline_symcheck(l->pl, min, l->symwarn, sizeof l->symwarn);
}

static const char *stop_mode_name(int stop)
{
	return stop == SAMPLER_STOP_ALWAYS ? "stop" : stop == SAMPLER_STOP_NEVER ? "no-stop"
								 : "auto-stop";
}

/* Markers: t0 is the boot round's cont once the sampler sent it; @SYMBOL
 * markers from the samples logged so far. */
static void live_markers(struct live *l)
{
	uint64_t c = atomic_load(&acquire_stats(l->smp)->cont_ns);
	if (c && atomic_load(&l->ms->t0_ns) != c)
		atomic_store(&l->ms->t0_ns, c);
	markers_scan_log(l->ms, l->pl->log);
}

static long live_pump(void *ctx, struct profile *p, int budget_ms)
{
	struct live *l = ctx;
	if (l->ended)   /* --until: the profile ends there */
		return 0;
	long n = pipeline_pump(l->pl, p, budget_ms);
	live_symcheck(l);
	live_markers(l);
	if (atomic_load(&l->ms->until_hit))
		l->ended = 1;
	return n;
}

static const char *state_name(int st)
{
	switch (st) {
	case SAMPLER_STARTING: return "starting";
	case SAMPLER_RUNNING: return "running";
	case SAMPLER_PAUSED: return "paused";
	case SAMPLER_DISCONNECTED: return "disconnected";
	default: return "stopped";
	}
}

/* vCPUs a round samples: --cpus of the ones QEMU has. */
static int sampled_cpus(uint64_t mask, int ncpus)
{
	if (ncpus <= 0)
		return 0;
	if (!mask)
		return ncpus;
	if (ncpus < 64)
		mask &= (1ull << ncpus) - 1;
	return __builtin_popcountll(mask);
}

/* Rounds taken with the guest paused: counted in --auto-stop, all of them
 * with --stop, none with --no-stop. */
static uint64_t paused_rounds(struct sampler_stats *ss, int stop)
{
	if (stop == SAMPLER_STOP_ALWAYS)
		return atomic_load(&ss->rounds);
	if (stop == SAMPLER_STOP_NEVER)
		return 0;
	return atomic_load(&ss->stop_rounds);
}

static void live_status(void *ctx, struct app_status *st)
{
	struct live *l = ctx;
	struct sampler_stats *ss = acquire_stats(l->smp);
	double now = mono_s();
	uint64_t n = atomic_load(&ss->samples);
	int ncpu = sampled_cpus(l->cpu_mask, atomic_load(&ss->ncpus));

	if (now - l->rate_t[l->rate_i] >= 1.0) {
		/* the oldest snapshot; once all are held, the next one
		 * replaces it */
		int old = l->rate_k < RATE_WIN ? 0 : (l->rate_i + 1) % (RATE_WIN + 1);
		l->rate = ncpu ? (double)(n - l->rate_n[old]) /
				 (now - l->rate_t[old]) / ncpu : 0;
		if (l->rate_k < RATE_WIN)
			l->rate_k++;
		l->rate_i = (l->rate_i + 1) % (RATE_WIN + 1);
		l->rate_t[l->rate_i] = now;
		l->rate_n[l->rate_i] = n;
	}
	memset(st, 0, sizeof *st);
	/* the engine in use beside the state: "running [plugin]" */
	snprintf(l->state, sizeof l->state, "%s [%s]", state_name(atomic_load(&ss->state)),
		 acquire_name(l->smp));
	st->guest_state = l->state;
	st->target_hz = l->hz;
	st->vcpu_hz = l->rate;
	uint64_t rounds = atomic_load(&ss->rounds) - l->base_rounds;
	uint64_t paused = paused_rounds(ss, l->stop) - l->base_paused;
	st->paused_pct = rounds ? 100.0 * (double)paused / (double)rounds : 0;
	st->samples = n;
	st->dropped = ring_dropped(l->ring);
	st->errors = atomic_load(&ss->errors);
	st->elapsed_s = now - l->t0;
	st->ncpus = ncpu;
	const char *e = acquire_last_error(l->smp);
	st->message = e && *e ? e : NULL;
	st->warning = l->symwarn[0] ? l->symwarn : NULL;
	if (l->ms->n) {
		/* the markers reached, on the message line when nothing is wrong */
		char ml[400];
		markers_line(l->ms, ml, sizeof ml);
		snprintf(l->markline, sizeof l->markline, "%s%s%s",
			 l->ended ? "until reached: profile ended · " : "",
			 *ml ? "markers: " : "", ml);
		if (!st->message && l->markline[0])
			st->message = l->markline;
	}
	if (l->launch && launch_poll(l->launch))
		st->guest_state = "QEMU exited";
}

/* --batch's account of the status line's rate facts over the whole run:
 * "100 Hz asked, 73/s per vCPU, 2 vCPUs, 0 % paused". */
static void batch_rate_line(const struct live *l, char *b, size_t n)
{
	struct sampler_stats *ss = acquire_stats(l->smp);
	double dt = mono_s() - l->t0;
	int ncpu = sampled_cpus(l->cpu_mask, atomic_load(&ss->ncpus));
	uint64_t rounds = atomic_load(&ss->rounds);
	uint64_t paused = paused_rounds(ss, l->stop);
	double per = ncpu && dt > 0 ? (double)atomic_load(&ss->samples) / dt / ncpu : 0;
	char asked[32];

	if (l->hz > 0)
		snprintf(asked, sizeof asked, "%g Hz", l->hz);
	else
		snprintf(asked, sizeof asked, "max Hz");
	snprintf(b, n, "%s asked, %.1f/s per vCPU, %d vCPU%s, %.1f %% paused",
		 asked, per, ncpu, ncpu == 1 ? "" : "s",
		 rounds ? 100.0 * (double)paused / (double)rounds : 0.0);
}

static void live_reset(void *ctx)
{
	struct live *l = ctx;
	struct sampler_stats *ss = acquire_stats(l->smp);
	samplelog_reset(l->pl->log);   /* exports follow the reset counts */
	l->rate_i = l->rate_k = 0;
	l->rate_t[0] = mono_s();
	l->rate_n[0] = atomic_load(&ss->samples);
	l->rate = 0;
	l->base_rounds = atomic_load(&ss->rounds);
	l->base_paused = paused_rounds(ss, l->stop);
}

/* A signal ended the TUI: the profile collected so far is not lost. */
static int save_on_signal(const struct profile *p, int sig)
{
	char path[4096], err[512];

	if (!p->samples)
		return 0;
	if (folded_save(p, 0, 0, NULL, path, sizeof path, err, sizeof err) < 0) {
		fprintf(stderr, "qtop-prof: %s: could not save the profile: %s\n",
			strsignal(sig), err);
		return 1;
	}
	fprintf(stderr, "qtop-prof: %s: %" PRIu64 " samples saved to %s\n",
		strsignal(sig), p->samples, path);
	return 0;
}

struct static_src { const char *what, *warning; uint64_t n; double t0; };
static void static_status(void *ctx, struct app_status *st)
{
	struct static_src *s = ctx;
	memset(st, 0, sizeof *st);
	st->guest_state = "file";
	st->samples = s->n;
	st->elapsed_s = mono_s() - s->t0;
	st->message = s->what;
	st->warning = s->warning;
}

static void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* warning: printed on stderr (after the TUI, which shows it too), or NULL */
static int run_static(const struct options *o, struct profile *p,
		      struct samplelog *log, const char *what, const char *warning)
{
	char err[512];
	struct static_src ss = { what, warning, p->samples, mono_s() };
	struct app_source src = { .ctx = &ss, .status = static_status, .log = log };
	int rc = 0;

	if (o->batch) {
		rc = write_outputs(o, p, log);
		if (o->json) {
			/* a loaded profile: its stacks, aggregated (no times) */
			struct samplelog *agg = log ? NULL : samplelog_new(0);
			char path[4096];
			struct report_meta meta = { .source = what };
			struct report_input in = { .meta = &meta, .ms = &((struct options *)o)->ms,
						   .log = log ? log : agg };
			if (!in.log || (agg && samplelog_from_profile(agg, p, 0, 0) < 0)) {
				fputs("qtop-prof: out of memory\n", stderr);
				rc = 1;
			} else if (report_save(&in, o->json, path, sizeof path, err, sizeof err) < 0) {
				fprintf(stderr, "qtop-prof: --json: %s\n", err);
				rc = 1;
			} else {
				fprintf(stderr, "qtop-prof: JSON report written to %s\n", path);
			}
			samplelog_free(agg);
		}
	} else if (tui_run(&o->tui, p, &src, err, sizeof err) < 0) {
		fprintf(stderr, "qtop-prof: %s\n", err);
		return 1;
	}
	if (warning)
		fprintf(stderr, "qtop-prof: warning: %s\n", warning);
	return rc;
}

/* --load of a pprof or speedscope file or a JSON report: read whole
 * (bounded), import. */
static int load_other(const struct options *o, struct profile *p, const char *path,
		      int fmt)
{
	char err[512];
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	if (!f) {
		fprintf(stderr, "qtop-prof: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (n < cap)
			break;
		if (cap > EXPORT_MAX_INPUT) {
			fprintf(stderr, "qtop-prof: %s: larger than %u MiB\n", path,
				EXPORT_MAX_INPUT >> 20);
			free(buf);
			buf = NULL;
			n = 0;
			break;
		}
		char *nb = realloc(buf, cap * 2);
		if (!nb) {
			free(buf);
			buf = NULL;
		}
		buf = nb;
		cap *= 2;
	}
	int ioerr = ferror(f);
	if (f != stdin)
		fclose(f);
	if (!buf || ioerr) {
		if (ioerr)
			fprintf(stderr, "qtop-prof: reading %s failed\n", path);
		free(buf);
		return -1;
	}
	if (fmt == EXPORT_UNKNOWN)
		fmt = report_detect(buf, n) ? EXPORT_JSON : export_detect(buf, n);
	long r = fmt == EXPORT_PPROF ? import_pprof(p, buf, n, err, sizeof err)
	       : fmt == EXPORT_JSON ? import_report(p, buf, n, o->from, o->to, err, sizeof err)
				    : import_speedscope(p, buf, n, err, sizeof err);
	free(buf);
	if (r < 0) {
		fprintf(stderr, "qtop-prof: %s: %s file: %s\n", path,
			fmt == EXPORT_JSON ? "JSON report" : export_format_name(fmt), err);
		return -1;
	}
	if (r == 0) {
		fprintf(stderr, "qtop-prof: %s: no samples in this file\n", path);
		return -1;
	}
	return 0;
}

/* What a file to --load holds, from its first bytes. */
static int sniff(const char *path)
{
	char head[4096];
	if (!strcmp(path, "-"))
		return EXPORT_FOLDED;   /* stdin cannot be looked at twice */
	FILE *f = fopen(path, "rb");
	if (!f)
		return EXPORT_FOLDED;   /* folded_load_path says why */
	size_t n = fread(head, 1, sizeof head, f);
	fclose(f);
	return report_detect(head, n) ? EXPORT_JSON : export_detect(head, n);
}

static int run_load(const struct options *o)
{
	char err[512];
	struct folded_diag d;
	struct profile *p = profile_new();
	int rc, fmt;

	if (!p) {
		fputs("qtop-prof: out of memory\n", stderr);
		return 1;
	}
	fmt = sniff(o->load);
	if ((o->from || o->to) && fmt != EXPORT_JSON) {
		fprintf(stderr, "qtop-prof: --from/--to: %s has no sample times (only a JSON "
			"report, a live run or a replay has)\n", o->load);
		profile_free(p);
		return 1;
	}
	if (fmt != EXPORT_FOLDED) {
		if (load_other(o, p, o->load, fmt) < 0) {
			profile_free(p);
			return 1;
		}
		/* #16: a JSON report's samples keep their times for the TUI's timeline */
		struct samplelog *tl = fmt == EXPORT_JSON && !o->batch ? timeline_load_report(o->load,
			o->from, o->to, &((struct options *)o)->ms, NULL, err, sizeof err) : NULL;
		rc = run_static(o, p, tl, o->load, NULL);
		samplelog_free(tl);
		profile_free(p);
		return rc;
	}
	memset(&d, 0, sizeof d);
	if (folded_load_path(p, o->load, &d, err, sizeof err) < 0) {
		fprintf(stderr, "qtop-prof: %s\n", err);
		profile_free(p);
		return 1;
	}
	if (d.lines_bad) {
		fprintf(stderr, "qtop-prof: %s: %ld bad line(s) skipped, first at line %ld: %s\n",
			o->load, d.lines_bad, d.first_bad_line, d.first_bad_msg);
		fprintf(stderr, "qtop-prof: %s: bad lines:", o->load);
		for (int i = 0; i < d.nbad_lines; i++)
			fprintf(stderr, " %ld", d.bad_lines[i]);
		fprintf(stderr, "%s\n", d.lines_bad > d.nbad_lines ? " ..." : "");
	}
	if (d.lines_ok == 0) {
		fprintf(stderr, "qtop-prof: %s: no stacks in this file\n", o->load);
		profile_free(p);
		return 1;
	}
	rc = run_static(o, p, NULL, o->load, NULL);
	profile_free(p);
	return rc;
}

/* ---- --diff BEFORE AFTER ---- */

static void print_diff_table(const struct options *o, const struct profile *b,
			     const struct profile *a)
{
	struct pdiff_row *rows = NULL;
	long n = pdiff_table(b, 0, a, 0, !o->no_normalize, &rows);

	if (n < 0) {
		fputs("qtop-prof: out of memory\n", stderr);
		return;
	}
	pdiff_sort_rows(b, a, rows, (size_t)n, PD_SORT_DSELF, 0);
	printf("# before: %s (%" PRIu64 " samples)  after: %s (%" PRIu64 " samples)\n",
	       o->diff_before, b->samples, o->diff_after, a->samples);
	printf("# %s; DELTA = after - before in percentage points, sorted by |self delta|\n",
	       o->no_normalize ? "not normalized: both as % of before's samples"
			       : "normalized: each as % of its own samples");
	printf("%7s %7s %7s  %7s %7s %7s  %-5s  %-40s %s\n", "SELF_B%", "SELF_A%",
	       "DELTA", "TOTAL_B%", "TOTAL_A%", "DELTA", "STATE", "FUNCTION", "MODULE");
	for (long i = 0; i < n && i < o->top; i++) {
		const struct pdiff_row *r = &rows[i];
		const struct profile *p = pdiff_row_profile(b, a, r);
		printf("%7.2f %7.2f %+7.2f  %7.2f %7.2f %+7.2f  %-5s  %-40s %s%s\n",
		       r->self_pb, r->self_pa, r->dself, r->total_pb, r->total_pa,
		       r->dtotal, r->state == PD_BOTH ? "=" : pdiff_state_mark(r->state),
		       profile_str_get(p, r->name), profile_str_get(p, r->module),
		       r->kind == PK_KERNEL ? " [k]" : "");
	}
	free(rows);
}

/* Things worth knowing before reading the deltas. */
static void diff_notes(const struct options *o, const struct profile *b,
		       const struct profile *a)
{
	struct pdiff_row *rows = NULL;
	long n = pdiff_table(b, 0, a, 0, 1, &rows), common = 0;
	for (long i = 0; i < n; i++)
		common += rows[i].state == PD_BOTH;
	free(rows);
	if (n > 0 && common == 0)
		fprintf(stderr, "qtop-prof: warning: %s and %s have no function in "
			"common: are they profiles of the same program?\n",
			o->diff_before, o->diff_after);
	if (o->no_normalize && a->samples != b->samples)
		fprintf(stderr, "qtop-prof: --no-normalize: %" PRIu64 " samples before, %"
			PRIu64 " after (%+.1f %%): the difference in length shows as %s\n",
			b->samples, a->samples,
			100.0 * ((double)a->samples - (double)b->samples) / (double)b->samples,
			a->samples > b->samples ? "growth" : "shrinkage");
}

static struct profile *diff_load(const struct options *o, const char *path,
				 const char *which)
{
	char err[768];
	struct profload_info info;
	struct profload_opts lo = { .sym = &o->sym, .filter = o->filter,
				    .max_samples = o->samples };
	struct profile *p = profile_new();

	if (!p) {
		fputs("qtop-prof: out of memory\n", stderr);
		return NULL;
	}
	if (profload_path(p, path, &lo, &info, err, sizeof err) < 0) {
		fprintf(stderr, "qtop-prof: --diff %s: %s\n", which, err);
		profile_free(p);
		return NULL;
	}
	if (info.warning[0])
		fprintf(stderr, "qtop-prof: warning: %s: %s\n", path, info.warning);
	return p;
}

static int run_diff(struct options *o)
{
	char err[1024], pa[4096], pd[4096];
	struct profile *b = diff_load(o, o->diff_before, "BEFORE");
	struct profile *a = b ? diff_load(o, o->diff_after, "AFTER") : NULL;
	int rc = 0;

	if (!a) {
		profile_free(b);
		return 1;
	}
	diff_notes(o, b, a);
	if (o->batch) {
		if (o->folded_stdout) {
			if (pdiff_write_folded(b, 0, a, 0, !o->no_normalize, stdout) < 0)
				rc = 1;
		} else {
			print_diff_table(o, b, a);
		}
		if (o->nout) {
			if (pdiff_save(b, 0, a, 0, !o->no_normalize, o->out[0].path, pa, pd,
				       sizeof pa, err, sizeof err) < 0) {
				fprintf(stderr, "qtop-prof: %s\n", err);
				rc = 1;
			} else {
				fprintf(stderr, "qtop-prof: after saved to %s, both columns to %s\n",
					pa, pd);
			}
		}
		fflush(stdout);
	} else {
		struct static_src ss = { o->diff_after, NULL, a->samples, mono_s() };
		struct app_source src = { .ctx = &ss, .status = static_status };
		o->tui.diff_before = b;
		o->tui.diff_before_name = o->diff_before;
		o->tui.diff_after_name = o->diff_after;
		if (tui_run(&o->tui, a, &src, err, sizeof err) < 0) {
			fprintf(stderr, "qtop-prof: %s\n", err);
			rc = 1;
		}
	}
	profile_free(a);
	profile_free(b);
	return rc;
}

/* The exports' mappings name the host's ELF files and their build-ids. */
static void log_module(void *ctx, const char *name, const char *path)
{
	char bid[128] = "";
	report_build_id(path, bid, sizeof bid);
	samplelog_set_module(ctx, name, path, bid);
}

static struct symbolizer *open_symbolizer(const struct options *o)
{
	char err[512];
	struct symbolizer *s = symbolizer_new(&o->sym, err, sizeof err);
	if (!s) {
		fprintf(stderr, "qtop-prof: %s\n", err);
		return NULL;
	}
	for (const char *w = symbolizer_warnings(s), *nl; *w; w = nl + 1) {
		nl = strchr(w, '\n');
		if (!nl)
			break;
		fprintf(stderr, "qtop-prof: warning: %.*s\n", (int)(nl - w), w);
	}
	return s;
}

static int batch_finish(const struct options *o, struct profile *p,
			struct samplelog *log, struct markers *ms,
			const struct report_meta *meta);

static int run_replay(struct options *o)
{
	char err[512], symwarn[512] = "";
	struct record_reader *r = record_open(o->replay, err, sizeof err);
	struct symbolizer *sym;
	struct profile *p;
	struct pipeline pl;
	const struct qp_sample *s;
	int rc;

	if (!r) {
		fprintf(stderr, "qtop-prof: %s\n", err);
		return 1;
	}
	sym = open_symbolizer(o);
	p = profile_new();
	struct samplelog *log = samplelog_new(0);
	if (!sym || !p || !log) {
		record_reader_close(r);
		symbolizer_free(sym);
		profile_free(p);
		samplelog_free(log);
		return 1;
	}
	memset(&pl, 0, sizeof pl);
	pl.sym = sym;
	pl.filter = o->filter;
	pl.log = log;
	symbolizer_each_module(sym, log_module, log);
	while ((rc = record_next(r, &s, err, sizeof err)) == 1) {
		pipeline_feed(&pl, p, s);
		pipeline_symcheck(&pl, 200, symwarn, sizeof symwarn);
		if (o->samples && pl.consumed >= o->samples)
			break;
	}
	if (rc < 0)   /* keep what was read: a truncated file still gives a profile */
		fprintf(stderr, "qtop-prof: %s (using the %" PRIu64 " samples before it)\n",
			err, pl.consumed);
	pipeline_symcheck(&pl, 1, symwarn, sizeof symwarn);   /* a short file */
	record_reader_close(r);
	/* t0: the first sample (a recording does not know the reset) */
	uint64_t t0 = samplelog_count(log) ? samplelog_sample(log, 0)->t_ns : 0;
	atomic_store(&o->ms.t0_ns, t0);
	markers_scan_log(&o->ms, log);
	if (o->batch && (o->from || o->to || o->json || o->ms.n)) {
		struct report_meta meta = { .hz_asked = o->samp.hz, .t0_ns = t0,
			.source = o->replay };
		char bid[128] = "";
		if (o->sym.kernel && report_build_id(o->sym.kernel, bid, sizeof bid) == 0)
			meta.build_id = bid;
		rc = batch_finish(o, p, log, &o->ms, &meta);
		if (symwarn[0])
			fprintf(stderr, "qtop-prof: warning: %s\n", symwarn);
	} else {
		rc = run_static(o, p, log, o->replay, symwarn[0] ? symwarn : NULL);
	}
	profile_free(p);
	samplelog_free(log);
	symbolizer_free(sym);
	return rc;
}


/* ---- boot profiling: --launch, markers, --from/--to, the JSON report ---- */

#ifndef QTOP_PLUGIN_DIR
#define QTOP_PLUGIN_DIR "/usr/local/lib/qtop-prof"
#endif

/* qtop-plugin.so beside qtop-prof: the build tree (src/ and plugin/), the
 * same directory, or the installed library directory. */
static int find_plugin(char *out, size_t len)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	const char *const rel[] = { "/../plugin/qtop-plugin.so", "/qtop-plugin.so" };

	if (n > 0) {
		exe[n] = 0;
		char *slash = strrchr(exe, '/');
		if (slash)
			*slash = 0;
		for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
			if ((size_t)snprintf(out, len, "%.3900s%s", exe, rel[i]) < len &&
			    access(out, R_OK) == 0)
				return 0;
		}
	}
	snprintf(out, len, "%s/qtop-plugin.so", QTOP_PLUGIN_DIR);
	return access(out, R_OK) == 0 ? 0 : -1;
}

/* The report's meta from QEMU: version and accelerator (query-kvm). */
static void query_meta(const char *spec, char *ver, size_t vlen, char *accel,
		       size_t alen)
{
	char err[256];
	int code = 0;
	json_object *ret = NULL, *a, *b;
	struct qmp *q = qmp_connect(spec, 3000, &code, err, sizeof err);

	if (!q)
		return;
	if (qmp_execute(q, "query-version", NULL, &ret, err, sizeof err) == 0 && ret &&
	    json_object_object_get_ex(ret, "qemu", &a)) {
		int ma = 0, mi = 0, mc = 0;
		if (json_object_object_get_ex(a, "major", &b)) ma = json_object_get_int(b);
		if (json_object_object_get_ex(a, "minor", &b)) mi = json_object_get_int(b);
		if (json_object_object_get_ex(a, "micro", &b)) mc = json_object_get_int(b);
		snprintf(ver, vlen, "%d.%d.%d", ma, mi, mc);
		if (json_object_object_get_ex(ret, "package", &b) &&
		    *json_object_get_string(b)) {
			size_t k = strlen(ver);
			snprintf(ver + k, vlen - k, " (%s)", json_object_get_string(b));
		}
	}
	json_object_put(ret);
	ret = NULL;
	if (qmp_execute(q, "query-kvm", NULL, &ret, err, sizeof err) == 0 && ret &&
	    json_object_object_get_ex(ret, "enabled", &a))
		snprintf(accel, alen, "%s", json_object_get_boolean(a) ? "kvm" : "tcg");
	json_object_put(ret);
	qmp_close(q);
}

/* --from/--to as monotonic ns with t0 = 0 s (0: open).  -1 with a message. */
static int resolve_window(const struct options *o, struct markers *ms, uint64_t t0,
			  uint64_t *from, uint64_t *to)
{
	const char *names[MARKERS_MAX];
	double times[MARKERS_MAX], v;
	char err[256];
	const char *spec[2] = { o->from, o->to };
	uint64_t *out[2] = { from, to };

	*from = *to = 0;
	for (int i = 0; i < ms->n; i++) {
		uint64_t t = markers_time(ms, i);
		names[i] = ms->m[i].name;
		times[i] = t ? ((double)t - (double)t0) / 1e9 : NAN;
	}
	for (int k = 0; k < 2; k++) {
		if (!spec[k])
			continue;
		if (report_time_spec(spec[k], names, times, ms->n, &v, err, sizeof err) < 0) {
			fprintf(stderr, "qtop-prof: --%s %s\n", k ? "to" : "from", err);
			return -1;
		}
		double ns = (double)t0 + v * 1e9;
		*out[k] = ns < 1 ? 1 : (uint64_t)ns;
	}
	return 0;
}

/* The markers reached, for --batch: seconds since t0 and since the
 * previous one. */
static void print_markers(struct markers *ms, int boot)
{
	char line[1024];

	if (!ms->n)
		return;
	markers_line(ms, line, sizeof line);
	fprintf(stderr, "qtop-prof: markers (seconds since the %s): %s\n",
		boot ? "reset" : "start", *line ? line : "none reached");
	for (int i = 0; i < ms->n; i++)
		if (!markers_time(ms, i))
			fprintf(stderr, "qtop-prof: marker %s: not reached\n", ms->m[i].name);
}

/* The end of a batch run (live or replay): the window, the markers, the
 * table and -o files, and the JSON report. */
static int batch_finish(const struct options *o, struct profile *p,
			struct samplelog *log, struct markers *ms,
			const struct report_meta *meta)
{
	uint64_t from, to;
	struct profile *fp = p;
	const struct samplelog *flog = log;
	int rc;

	if (resolve_window(o, ms, meta->t0_ns, &from, &to) < 0)
		return 1;
	print_markers(ms, meta->boot);
	if (from || to) {
		fp = profile_new();
		long n = fp ? report_profile_from_log(fp, log, from, to) : -ENOMEM;
		if (n < 0) {
			fputs("qtop-prof: out of memory\n", stderr);
			profile_free(fp);
			return 1;
		}
		fprintf(stderr, "qtop-prof: --from/--to: %ld of %" PRIu64 " samples in the window\n",
			n, p->samples);
		flog = NULL;   /* exports: the window's aggregated stacks */
		note_log_full(log);
	}
	rc = write_outputs(o, fp, flog);
	if (fp != p)
		profile_free(fp);
	if (o->json) {
		char path[4096], err[512];
		struct report_input in = { .meta = meta, .ms = ms, .log = log,
					   .from_ns = from, .to_ns = to };
		if (report_save(&in, o->json, path, sizeof path, err, sizeof err) < 0) {
			fprintf(stderr, "qtop-prof: --json: %s\n", err);
			rc = 1;
		} else {
			fprintf(stderr, "qtop-prof: JSON report written to %s\n", path);
		}
	}
	return rc;
}

/* The KASLR slide of a Linux guest, over a QMP connection of our own.
 * Given --kernel-offset auto, a failure is an error (-1); without any
 * --kernel-offset it is a warning and the slide stays 0. */
static int linux_slide(struct options *o, struct linux_kernel *k,
		       char *err, size_t errlen)
{
	struct kaslr_result kr;
	char e[400];

	if (linux_kernel_detect_slide_qmp(k, o->samp.qmp_spec, 0, &kr,
					  e, sizeof e) < 0) {
		if (o->koff_auto) {
			snprintf(err, errlen, "%s", e);
			return -1;
		}
		fprintf(stderr, "qtop-prof: warning: Linux kernel: the KASLR slide "
			"was not found (%s); going on with slide 0: kernel "
			"frames may be unnamed (give --kernel-offset N, or "
			"--kernel-offset 0 to skip this search)\n", e);
		return 0;
	}
	o->sym.kernel_offset = kr.slide;
	fprintf(stderr, "qtop-prof: kernel slide 0x%llx (%d of %d IDT "
		"gates%s)\n", (unsigned long long)kr.slide, kr.votes,
		kr.decoded, kr.confirmed ? ", linux_banner matches" : "");
	return 0;
}

/* A Linux kernel: a vmlinux (ORC tables) as --kernel, or the symbols of
 * one (--symbols, or a --kernel ELF without ORC).  Its KASLR slide is found
 * unless --kernel-offset N was given; with a vmlinux, kernel stacks are
 * found from their 16 KiB alignment and --comm linux is resolved.  All on a
 * QMP connection of our own closed before the sampler opens its one.
 * Returns 0, or -1 with a message. */
static int linux_setup(struct options *o, char *err, size_t errlen)
{
	int want_slide = o->koff_auto || !o->koff_given;
	struct linux_kernel *k = NULL;

	if (o->sym.kernel)
		k = linux_kernel_open(o->sym.kernel, o->sym.symbols, err, errlen);
	if (!k) {
		if (o->comm_linux) {
			if (!o->sym.kernel)
				snprintf(err, errlen, "--comm linux needs --kernel "
					 "VMLINUX and --symbols System.map");
			return -1;
		}
		if (!want_slide)
			return 0;
		/* not a vmlinux with ORC: the symbols may still be Linux's */
		const char *path = o->sym.symbols ? o->sym.symbols : o->sym.kernel;
		k = path ? linux_kernel_open_syms(path, err, errlen) : NULL;
		if (!k) {
			if (!o->koff_auto)
				return 0;   /* not Linux: nothing to do */
			if (!path)
				snprintf(err, errlen, "--kernel-offset auto needs "
					 "--kernel VMLINUX and --symbols System.map");
			return -1;
		}
		int rc = linux_slide(o, k, err, errlen);
		linux_kernel_free(k);
		return rc;
	}
	/* i386 (a 32-bit vmlinux): 8 KiB stacks, 32-bit words */
	o->samp.linux_ws = (uint8_t)linux_kernel_wordsize(k);
	o->samp.linux_kstack = o->samp.linux_ws == 4 ? 8192 : 16384;
	if (want_slide && linux_slide(o, k, err, errlen) < 0) {
		linux_kernel_free(k);
		return -1;
	}
	for (int c = 0; o->comm_linux && c < SAMPLER_MAX_CPUS; c++)
		if (linux_kernel_comm_recipe(k, o->sym.kernel_offset, c,
					     &o->samp.comm[c], err, errlen) < 0) {
			linux_kernel_free(k);
			return -1;
		}
	for (int c = 0; c < SAMPLER_MAX_CPUS; c++) {
		char e2[200];
		if (linux_kernel_stack_recipe(k, o->sym.kernel_offset, c,
					      &o->samp.kstack[c], e2, sizeof e2) < 0)
			break;   /* no BTF layout: pre-reads at the previous sp */
	}
	for (int c = 0; c < SAMPLER_MAX_CPUS; c++)
		if (linux_kernel_mm_recipe(k, o->sym.kernel_offset, c, &o->samp.kmm[c],
					   &o->samp.linux_page_offset) < 0)
			break;   /* not known (x86_64): names not checked against CR3 */
	o->sym.linux_kernel = k;   /* the symbolizer walks with it (ORC) */
	return 0;
}

static int run_live(struct options *o)
{
	char err[512];
	struct ring ring;
	struct symbolizer *sym = NULL;
	struct acquire *smp = NULL;
	char why[768];
	struct profile *p = NULL;
	struct pipeline pl;
	struct live live;
	struct samplelog *log = NULL;
	struct launch lch;
	struct serial_reader *serial = NULL;
	FILE *serial_log = NULL;
	char plugin[4096], qver[160] = "", accel[16] = "", buildid[128] = "";
	double start_unix = 0;
	int rc = 1, launched = 0;

	memset(&lch, 0, sizeof lch);
	lch.serial_fd = -1;
	memset(&live, 0, sizeof live);
	memset(&pl, 0, sizeof pl);
	if (!o->batch && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))) {
		fputs("qtop-prof: not a terminal: use --batch for headless profiling\n", stderr);
		return 1;
	}
	if (o->launch || o->boot) {
		o->samp.boot = 1;
		/* Before the kernel runs there is no IDT to find a KASLR slide in */
		if (!o->koff_given && !o->koff_auto && o->sym.kernel) {
			o->koff_given = 1;
			o->sym.kernel_offset = 0;
		}
	}
	if (o->launch) {
		struct launch_opts lo = { .serial = 1 };
		if (o->engine != ACQ_QMP && !launch_not_tcg(o->launch_argv)) {
			int v = launch_qemu_version(o->launch_argv[0]);
			if (v >= 902 && find_plugin(plugin, sizeof plugin) == 0)
				lo.plugin = plugin;
			else if (o->engine == ACQ_PLUGIN)
				fprintf(stderr, "qtop-prof: warning: --engine plugin: %s\n",
					v < 902 ? "this QEMU is older than 9.2 (no plugin API 4)"
						: "qtop-plugin.so not found beside qtop-prof");
		}
		if (o->serial_log) {
			int fd = open(o->serial_log, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
			serial_log = fd >= 0 ? fdopen(fd, "w") : NULL;
			if (!serial_log) {
				fprintf(stderr, "qtop-prof: --serial-log %s: %s\n", o->serial_log,
					strerror(errno));
				if (fd >= 0)
					close(fd);
				return 1;
			}
		}
		/* signals before the child exists: Ctrl-C during the start
		 * still ends it (the child ignores SIGINT, we end it) */
		install_signals();
		if (launch_start(&lch, o->launch_argv, &lo, 10000, err, sizeof err) < 0) {
			fprintf(stderr, "qtop-prof: %s\n", err);
			if (serial_log)
				fclose(serial_log);
			return 1;
		}
		launched = 1;
		o->samp.qmp_spec = lch.qmp_path;
		fprintf(stderr, "qtop-prof: launched %s (pid %d), paused, QMP %s%s%s\n",
			lch.argv[0], (int)lch.pid, lch.qmp_path,
			lo.plugin ? ", -plugin " : "", lo.plugin ? lo.plugin : "");
		if (lch.serial_fd >= 0) {
			serial = serial_start(lch.serial_fd, STDERR_FILENO, serial_log, &o->ms,
					      err, sizeof err);
			if (!serial) {
				fprintf(stderr, "qtop-prof: %s\n", err);
				goto out;
			}
			lch.serial_fd = -1;   /* the reader's now */
		} else if (markers_have_serial(&o->ms)) {
			fputs("qtop-prof: warning: the QEMU command names its own serial "
			      "port: serial markers (--mark NAME=REGEX, --until REGEX) "
			      "cannot see it\n", stderr);
		}
	}
	if (o->sym.kernel)
		report_build_id(o->sym.kernel, buildid, sizeof buildid);
	if (o->json)
		query_meta(o->samp.qmp_spec, qver, sizeof qver, accel, sizeof accel);
	if (qmp_spec_is_remote(o->samp.qmp_spec))
		fprintf(stderr, "qtop-prof: warning: %s is not loopback; QMP has no authentication\n",
			o->samp.qmp_spec);
	memset(&ring, 0, sizeof ring);
	sym = NULL;
	if (linux_setup(o, err, sizeof err) < 0) {
		fprintf(stderr, "qtop-prof: %s\n", err);
		goto out;
	}
	sym = open_symbolizer(o);
	if (!sym)
		goto out;
	/* --comm EXPR applies to every vCPU; --comm CPUS:EXPR (e.g.
	 * 1:current_task_ap->name) to those vCPUs; later ones win. */
	for (int i = 0; i < o->ncomm; i++) {
		const char *e = o->comm[i], *colon = strchr(e, ':');
		uint64_t mask = ~0ull;
		struct comm_recipe r;
		char cpus[64];

		if (colon && colon > e && (size_t)(colon - e) < sizeof cpus &&
		    strspn(e, "0123456789,-") == (size_t)(colon - e)) {
			memcpy(cpus, e, (size_t)(colon - e));
			cpus[colon - e] = 0;
			if (parse_cpus(cpus, &mask) < 0) {
				fprintf(stderr, "qtop-prof: --comm %s: bad vCPU list\n", e);
				goto out;
			}
			e = colon + 1;
		}
		if (symbolizer_resolve_comm(sym, e, &r, err, sizeof err) < 0) {
			fprintf(stderr, "qtop-prof: --comm %s: %s\n", e, err);
			goto out;
		}
		for (int c = 0; c < SAMPLER_MAX_CPUS; c++)
			if ((mask >> c) & 1) {
				o->samp.comm[c] = r;
				comm_specialize(&o->samp.comm[c], c);   /* $cpu */
			}
	}
	o->samp.want_code = symbolizer_wants_code(sym);
	o->samp.progmatch = symbolizer_progmatch(sym);   /* #15 */
	if (ring_init(&ring, 1024, sampler_slot_size(&o->samp)) < 0) {
		fputs("qtop-prof: out of memory\n", stderr);
		goto out;
	}
	pl.ring = &ring;
	pl.sym = sym;
	pl.filter = o->filter;
	if (o->record) {
		pl.rec = record_create(o->record, err, sizeof err);
		if (!pl.rec) {
			fprintf(stderr, "qtop-prof: --record: %s\n", err);
			goto out;
		}
	}
	p = profile_new();
	log = samplelog_new(0);
	if (!p || !log) {
		fputs("qtop-prof: out of memory\n", stderr);
		goto out;
	}
	pl.log = log;
	symbolizer_each_module(sym, log_module, log);
	install_signals();
	smp = acquire_start(o->engine, o->plugin_name, &o->samp, &ring, why, sizeof why,
			    err, sizeof err);
	if (!smp) {
		fprintf(stderr, "qtop-prof: %s\n", err);
		goto out;
	}
	fprintf(stderr, "qtop-prof: %s\n", why);
	fprintf(stderr, "qtop-prof: %s\n", acquire_note(smp));
	start_unix = (double)time(NULL);
	if (o->samp.boot && strcmp(acquire_name(smp), "qmp")) {
		/* the plugin samples on the vCPU threads: resume the guest from
		 * here (its first sample is the first armed block) */
		int code = 0;
		struct qmp *q = qmp_connect(o->samp.qmp_spec, 3000, &code, err, sizeof err);
		atomic_store(&acquire_stats(smp)->cont_ns, (uint64_t)(mono_s() * 1e9));
		if (!q || qmp_execute(q, "cont", NULL, NULL, err, sizeof err) < 0)
			fprintf(stderr, "qtop-prof: cont: %s\n", err);
		qmp_close(q);
	}
	live.pl = &pl;
	live.ms = &o->ms;
	live.launch = launched ? &lch : NULL;
	atomic_store(&o->ms.t0_ns, (uint64_t)(mono_s() * 1e9));
	live.smp = smp;
	live.ring = &ring;
	live.t0 = live.rate_t[0] = mono_s();
	live.hz = o->samp.hz;
	live.cpu_mask = o->samp.cpu_mask;
	live.stop = o->samp.stop;

	if (o->batch) {
		double t_end = o->duration > 0 ? live.t0 + o->duration : 0;
		int st;
		for (;;) {
			pipeline_pump(&pl, p, 50);
			if (live_symcheck(&live))
				fprintf(stderr, "qtop-prof: warning: %s\n", live.symwarn);
			st = atomic_load(&acquire_stats(smp)->state);
			live_markers(&live);
			if (got_signal || st == SAMPLER_DISCONNECTED || st == SAMPLER_DONE)
				break;
			if (atomic_load(&o->ms.until_hit)) {
				fputs("qtop-prof: --until reached: the profile ends there\n", stderr);
				break;
			}
			if (launched && launch_poll(&lch))
				break;   /* QEMU exited: the sampler sees it too */
			if (t_end && mono_s() >= t_end)
				break;
			struct timespec ts = { 0, 10 * 1000000 };
			nanosleep(&ts, NULL);
		}
		acquire_join(smp);   /* final counters: no more pushes after this */
		live_markers(&live);
		int live_ncpus = sampled_cpus(live.cpu_mask, atomic_load(&acquire_stats(smp)->ncpus));
		double live_dt = mono_s() - live.t0;
		double live_per_vcpu = live_ncpus && live_dt > 0 ?
			(double)atomic_load(&acquire_stats(smp)->samples) / live_dt / live_ncpus : 0;
		const char *live_engine = acquire_name(smp);   /* a static string */
		char rate_line[160];
		batch_rate_line(&live, rate_line, sizeof rate_line);
		if (st == SAMPLER_DISCONNECTED)
			fprintf(stderr, "qtop-prof: sampling ended: %s\n", acquire_last_error(smp));
		/* Failed commands do not end sampling: say how many and why. */
		uint64_t nerr = atomic_load(&acquire_stats(smp)->errors);
		uint64_t nsf = atomic_load(&acquire_stats(smp)->stack_fail);
		if (nerr && st != SAMPLER_DISCONNECTED)
			fprintf(stderr, "qtop-prof: %" PRIu64 " QMP command(s) failed, last: %s\n",
				nerr, acquire_last_error(smp));
		uint64_t nun = atomic_load(&acquire_stats(smp)->unstable);
		if (nsf)
			fprintf(stderr, "qtop-prof: %" PRIu64 " stack read(s) failed: those samples "
				"have no call chain\n", nsf);
		if (nun)
			fprintf(stderr, "qtop-prof: %" PRIu64 " sample(s) moved while their stack was "
				"read (--no-stop): kept as leaf only, chain cut\n", nun);
		uint64_t nrs = atomic_load(&acquire_stats(smp)->stop_rounds);
		uint64_t nrr = atomic_load(&acquire_stats(smp)->run_retries);
		if (nrr || nrs)
			fprintf(stderr, "qtop-prof: %" PRIu64 " of %" PRIu64 " rounds read again "
				"(a vCPU moved under the reads), %" PRIu64 " rounds taken with the "
				"guest paused\n", nrr, (uint64_t)atomic_load(&acquire_stats(smp)->rounds), nrs);
		if (st == SAMPLER_PAUSED)
			fputs("qtop-prof: the guest is paused: it was not sampled "
			      "while paused and is left paused\n", stderr);
		char sum[512];
		acquire_summary(smp, sum, sizeof sum);
		if (*sum)
			fprintf(stderr, "qtop-prof: %s\n", sum);
		acquire_stop(smp);
		smp = NULL;
		if (!atomic_load(&o->ms.until_hit))   /* --until: not past it */
			while (pipeline_pump(&pl, p, 1000) > 0)
				;
		markers_scan_log(&o->ms, log);
		{
			struct symbolizer_stats ss;
			symbolizer_get_stats(pl.sym, &ss);
			if (ss.vouched)
				fprintf(stderr, "qtop-prof: chains read with the guest running: "
					"%" PRIu64 " return addresses checked; %" PRIu64
					" walks met one that did not follow a call to its callee, "
					"%" PRIu64 " of them whole in the copy made before the "
					"registers\n",
					ss.vouched, ss.vouch_cuts, ss.vouch_rescued);
			symbolizer_match_report(pl.sym, stderr);   /* #15 */
			if (ss.samples)
				fprintf(stderr, "qtop-prof: whole chains %.1f %% (%" PRIu64
					" whole, %" PRIu64 " cut)\n",
					100.0 * (double)(ss.samples - ss.truncated) /
					(double)ss.samples, ss.samples - ss.truncated,
					ss.truncated);
		}
		if (pipeline_symcheck(&pl, 1, live.symwarn, sizeof live.symwarn))
			fprintf(stderr, "qtop-prof: warning: %s\n", live.symwarn);
		fprintf(stderr, "qtop-prof: %" PRIu64 " samples in %.1f s (%.1f/s), %" PRIu64
			" dropped, %" PRIu64 " unusable\n", pl.consumed, mono_s() - live.t0,
			(double)pl.consumed / (mono_s() - live.t0), ring_dropped(&ring), pl.unusable);
		fprintf(stderr, "qtop-prof: %s\n", rate_line);
		if (launched && launch_poll(&lch))
			fprintf(stderr, "qtop-prof: QEMU exited (%s %d): the profile ends there\n",
				WIFEXITED(lch.status) ? "status" : "signal",
				WIFEXITED(lch.status) ? WEXITSTATUS(lch.status) : WTERMSIG(lch.status));
		struct report_meta meta = { .qemu_version = *qver ? qver : NULL,
			.accel = *accel ? accel : NULL, .vcpus = live_ncpus,
			.hz_asked = o->samp.hz, .hz_achieved = live_per_vcpu,
			.mode = stop_mode_name(o->samp.stop), .engine = live_engine,
			.build_id = *buildid ? buildid : NULL, .start_unix = start_unix,
			.t0_ns = atomic_load(&o->ms.t0_ns), .boot = o->samp.boot,
			.source = launched ? lch.argv[0] : o->samp.qmp_spec };
		rc = batch_finish(o, p, log, &o->ms, &meta);
	} else {
		struct app_source src = { .ctx = &live, .pump = live_pump,
					  .status = live_status, .reset = live_reset,
					  .log = log };
		int tr = tui_run(&o->tui, p, &src, err, sizeof err);
		if (live.symwarn[0])   /* the terminal is back: say it where it stays */
			fprintf(stderr, "qtop-prof: warning: %s\n", live.symwarn);
		if (tr < 0) {
			fprintf(stderr, "qtop-prof: %s\n", err);
			rc = 1;
		} else {
			rc = 0;
			if (tr > 0)
				rc = save_on_signal(p, tr);
		}
		if (o->json) {
			char path[4096];
			struct report_meta meta = { .qemu_version = *qver ? qver : NULL,
				.accel = *accel ? accel : NULL,
				.vcpus = atomic_load(&acquire_stats(smp)->ncpus),
				.hz_asked = o->samp.hz, .hz_achieved = live.rate,
				.mode = stop_mode_name(o->samp.stop), .engine = acquire_name(smp),
				.build_id = *buildid ? buildid : NULL, .start_unix = start_unix,
				.t0_ns = atomic_load(&o->ms.t0_ns), .boot = o->samp.boot,
				.source = launched ? lch.argv[0] : o->samp.qmp_spec };
			struct report_input in = { .meta = &meta, .ms = &o->ms, .log = log };
			markers_scan_log(&o->ms, log);
			if (report_save(&in, o->json, path, sizeof path, err, sizeof err) < 0) {
				fprintf(stderr, "qtop-prof: --json: %s\n", err);
				rc = 1;
			} else {
				fprintf(stderr, "qtop-prof: JSON report written to %s\n", path);
			}
		}
	}
out:
	if (smp) {
		const char *e = acquire_last_error(smp);
		int st = atomic_load(&acquire_stats(smp)->state);
		if (st == SAMPLER_DISCONNECTED && e && *e)
			fprintf(stderr, "qtop-prof: %s\n", e);
	}
	acquire_stop(smp);
	if (pl.rec) {
		uint64_t n = record_written(pl.rec);
		if (record_close(pl.rec, err, sizeof err) < 0) {
			fprintf(stderr, "qtop-prof: --record: %s\n", err);
			rc = 1;
		} else {
			fprintf(stderr, "qtop-prof: %" PRIu64 " raw samples recorded in %s\n", n, o->record);
		}
	}
	if (launched) {
		/* our QEMU, by its pid only; its end closes the serial pipe */
		launch_stop(&lch, 3000);
		serial_stop(serial, 1000);
		if (serial_log && fclose(serial_log) != 0) {
			fprintf(stderr, "qtop-prof: --serial-log %s: %s\n", o->serial_log,
				strerror(errno));
			rc = 1;
		}
	}
	profile_free(p);
	samplelog_free(log);
	symbolizer_free(sym);
	ring_free(&ring);
	return rc;
}

int main(int argc, char **argv)
{
	struct options o;

	memset(&o, 0, sizeof o);
	markers_init(&o.ms);
	if (parse_args(argc, argv, &o) < 0)
		return 2;
	o.tui.markers = &o.ms;   /* #16: the timeline's marker ticks */
	if (o.repeat || o.smp_list)   /* #16: boot matrix */
		return bootmatrix_run(&(struct bootmatrix_opts){ .launch = o.launch,
			.repeat = o.repeat, .smp_list = o.smp_list, .json = o.json,
			.out = o.nout ? o.out[0].path : NULL, .argc = argc, .argv = argv });
	if (o.diff_before)
		return run_diff(&o);
	if (o.load)
		return run_load(&o);
	if (o.replay) {
		if (o.koff_auto) {
			fputs("qtop-prof: --kernel-offset auto needs a live guest (a recording has no IDT to read): give the slide as a number\n", stderr);
			return 2;
		}
		return run_replay(&o);
	}
	return run_live(&o);
}
