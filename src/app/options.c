/* options.c - the command line: usage text and option parsing. */
#include "options.h"
#include "bootmatrix.h"
#include "export.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void options_usage(FILE *f)
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
"  --regs auto|direct|monitor   where a round's registers come from (default\n"
"                      auto: under TCG with direct memory, each vCPU's state\n"
"                      read from QEMU's memory, found once with the guest\n"
"                      paused a few ms; else \"info registers -a\" per round)\n"
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
"  --pid [CPUS:]EXPR   task id, read with the --comm name (same language, an\n"
"                      integer result: cpus[$cpu].proc->pid); the process is\n"
"                      then NAME/ID; linux: task_struct.pid (BTF)\n"
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

int options_parse_cpus(const char *s, uint64_t *mask)
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

int options_parse(int argc, char **argv, struct options *o)
{
	/* -F -d -C: perf's spellings (perf record/top) of --hz --duration --cpus */
	enum { O_STOP = 256, O_NOSTOP, O_AUTOSTOP, O_STACK, O_USTACK, O_MEM, O_REGS,
	       O_KERNEL, O_SYMBOLS, O_KOFF, O_SYSROOT, O_COMM, O_PID, O_INLINE, O_KONLY,
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
		{ "regs", required_argument, 0, O_REGS },
		{ "kernel", required_argument, 0, O_KERNEL },
		{ "symbols", required_argument, 0, O_SYMBOLS },
		{ "kernel-offset", required_argument, 0, O_KOFF },
		{ "sysroot", required_argument, 0, O_SYSROOT },
		{ "comm", required_argument, 0, O_COMM },
		{ "pid", required_argument, 0, O_PID },
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
		{ "repeat", required_argument, 0, O_REPEAT },
		{ "smp-list", required_argument, 0, O_SMP_LIST },
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
			if (options_parse_cpus(optarg, &o->samp.cpu_mask) < 0) goto bad;
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
		case O_REGS:
			if (!strcmp(optarg, "auto")) o->samp.regs = SAMPLER_REGS_AUTO;
			else if (!strcmp(optarg, "direct")) o->samp.regs = SAMPLER_REGS_DIRECT;
			else if (!strcmp(optarg, "monitor")) o->samp.regs = SAMPLER_REGS_MONITOR;
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
		case O_PID:
			if (!strcmp(optarg, "linux")) {
				o->pid_linux = 1;
				break;
			}
			if (o->npid == 8) goto bad;
			o->pid[o->npid++] = optarg;
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
		case O_REPEAT:
			o->repeat = (int)strtol(optarg, &end, 10);
			if (*end || o->repeat < 1 || o->repeat > BOOTMATRIX_MAX_REPEAT) goto bad;
			break;
		case O_SMP_LIST: o->smp_list = optarg; break;
		case O_MARK:
		case O_UNTIL: {
			char e[256];
			if (markers_add(&o->ms, optarg, c == O_UNTIL, e, sizeof e) < 0) {
				fprintf(stderr, "qtop-prof: %s\n", e);
				return -1;
			}
			break;
		}
		case 'h': options_usage(stdout); exit(0);
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
