/* live.c - the live run mode: the guest (Linux set-up), --launch/--boot,
 * the acquisition engine -> ring -> pipeline -> profile, then the TUI or
 * --batch. */
#include "app_int.h"
#include "guest.h"
#include "acquire.h"
#include "commprog.h"
#include "launch.h"
#include "linux_guest.h"
#include "linux_live.h"
#include "markers.h"
#include "pipeline.h"
#include "profile.h"
#include "qmp.h"
#include "record.h"
#include "regs.h"
#include "report.h"
#include "ring.h"
#include "sampler.h"
#include "serial.h"
#include "symbolizer.h"
#include "tui.h"

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
	uint64_t min = app_mono_s() - l->t0 >= 1.0 ? 10 : 200;
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
	double now = app_mono_s();
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
	double dt = app_mono_s() - l->t0;
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
	l->rate_t[0] = app_mono_s();
	l->rate_n[0] = atomic_load(&ss->samples);
	l->rate = 0;
	l->base_rounds = atomic_load(&ss->rounds);
	l->base_paused = paused_rounds(ss, l->stop);
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

/* --comm or (pid) --pid [CPUS:]EXPR, in order given: compiled and set
 * on their vCPUs.  0, or -1 after a message. */
static int resolve_exprs(struct options *o, struct symbolizer *sym, int pid)
{
	const char *what = pid ? "--pid" : "--comm";
	int n = pid ? o->npid : o->ncomm;
	for (int i = 0; i < n; i++) {
		const char *e = pid ? o->pid[i] : o->comm[i], *colon = strchr(e, ':');
		uint64_t mask = ~0ull;
		struct comm_recipe r;
		char cpus[64], err[512];

		if (colon && colon > e && (size_t)(colon - e) < sizeof cpus &&
		    strspn(e, "0123456789,-") == (size_t)(colon - e)) {
			memcpy(cpus, e, (size_t)(colon - e));
			cpus[colon - e] = 0;
			if (options_parse_cpus(cpus, &mask) < 0) {
				fprintf(stderr, "qtop-prof: %s %s: bad vCPU list\n", what, e);
				return -1;
			}
			e = colon + 1;
		}
		if ((pid ? symbolizer_resolve_pid(sym, e, &r, err, sizeof err)
			 : symbolizer_resolve_comm(sym, e, &r, err, sizeof err)) < 0) {
			fprintf(stderr, "qtop-prof: %s %s: %s\n", what, e, err);
			return -1;
		}
		struct comm_recipe *dst = pid ? o->samp.pid : o->samp.comm;
		for (int c = 0; c < SAMPLER_MAX_CPUS; c++)
			if ((mask >> c) & 1) {
				dst[c] = r;
				comm_specialize(&dst[c], c);   /* $cpu */
			}
	}
	return 0;
}

/* A vCPU with an id recipe and no name recipe. */
static int pid_without_comm(const struct options *o)
{
	for (int c = 0; c < SAMPLER_MAX_CPUS; c++)
		if (o->samp.pid[c].valid && !o->samp.comm[c].valid)
			return 1;
	return 0;
}

/* A Linux kernel: a vmlinux (ORC tables) as --kernel, or the symbols of
 * one (--symbols, or a --kernel ELF without ORC).  Its KASLR slide is found
 * unless --kernel-offset N was given; with a vmlinux, kernel stacks are
 * found from their 16 KiB alignment and --comm linux is resolved.  All on a
 * QMP connection of our own closed before the sampler opens its one.
 * Returns 0, or -1 with a message. */
static int linux_setup(struct options *o, struct guest *g, char *err,
		       size_t errlen)
{
	int want_slide = o->koff_auto || !o->koff_given;
	struct linux_kernel *k = NULL;

	if (o->sym.kernel)
		k = guest_linux_open(g, 1, err, errlen);
	if (!k) {
		if (o->comm_linux || o->pid_linux) {
			if (!o->sym.kernel)
				snprintf(err, errlen, "--%s linux needs --kernel "
					 "VMLINUX and --symbols System.map",
					 o->comm_linux ? "comm" : "pid");
			return -1;
		}
		if (!want_slide)
			return 0;
		/* not a vmlinux with ORC: the symbols may still be Linux's */
		const char *path = o->sym.symbols ? o->sym.symbols : o->sym.kernel;
		k = path ? guest_linux_open_syms(g, err, errlen) : NULL;
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
	for (int c = 0; o->pid_linux && c < SAMPLER_MAX_CPUS; c++)
		if (linux_kernel_pid_recipe(k, o->sym.kernel_offset, c,
					    &o->samp.pid[c], err, errlen) < 0) {
			char e3[300];
			snprintf(e3, sizeof e3, "--pid linux: %.250s", err);
			snprintf(err, errlen, "%s", e3);
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
	guest_adopt_linux(g, k);   /* the symbolizer walks with it (ORC) */
	return 0;
}

int app_run_live(struct options *o)
{
	char err[512];
	struct ring ring;
	struct acquire *smp = NULL;
	char why[768];
	struct session ses;
	struct live live;
	struct launch lch;
	struct serial_reader *serial = NULL;
	FILE *serial_log = NULL;
	char plugin[4096], qver[160] = "", accel[16] = "", buildid[128] = "";
	double start_unix = 0;
	int rc = 1, launched = 0;

	memset(&lch, 0, sizeof lch);
	lch.serial_fd = -1;
	memset(&live, 0, sizeof live);
	memset(&ses, 0, sizeof ses);
	memset(&ring, 0, sizeof ring);   /* ring_free at out: is safe from here */
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
	if (session_open_guest(&ses, o) < 0)
		goto out;
	guest_build_id(ses.guest, buildid, sizeof buildid);
	if (o->json)
		query_meta(o->samp.qmp_spec, qver, sizeof qver, accel, sizeof accel);
	if (qmp_spec_is_remote(o->samp.qmp_spec))
		fprintf(stderr, "qtop-prof: warning: %s is not loopback; QMP has no authentication\n",
			o->samp.qmp_spec);
	if (linux_setup(o, ses.guest, err, sizeof err) < 0) {
		fprintf(stderr, "qtop-prof: %s\n", err);
		goto out;
	}
	if (session_open(&ses, o) < 0)
		goto out;
	struct symbolizer *sym = ses.sym;
	struct profile *p = ses.p;
	struct samplelog *log = ses.log;
	/* --comm EXPR applies to every vCPU; --comm CPUS:EXPR (e.g.
	 * 1:current_task_ap->name) to those vCPUs; later ones win.  --pid
	 * (#15) likewise. */
	if (resolve_exprs(o, sym, 0) < 0 || resolve_exprs(o, sym, 1) < 0)
		goto out;
	if (pid_without_comm(o)) {
		fputs("qtop-prof: --pid needs --comm on the same vCPUs: the id is "
		      "read with the name\n", stderr);
		goto out;
	}
	o->samp.want_code = symbolizer_wants_code(sym);
	o->samp.progmatch = symbolizer_progmatch(sym);
	if (ring_init(&ring, 1024, sampler_slot_size(&o->samp)) < 0) {
		fputs("qtop-prof: out of memory\n", stderr);
		goto out;
	}
	ses.pl.ring = &ring;
	if (o->record) {
		ses.pl.rec = record_create(o->record, err, sizeof err);
		if (!ses.pl.rec) {
			fprintf(stderr, "qtop-prof: --record: %s\n", err);
			goto out;
		}
	}
	install_signals();
	smp = acquire_start(o->engine, o->plugin_name, &o->samp, &ring, why, sizeof why,
			    err, sizeof err);
	if (!smp) {
		fprintf(stderr, "qtop-prof: %s\n", err);
		goto out;
	}
	fprintf(stderr, "qtop-prof: %s\n", why);
	for (const char *l = acquire_note(smp); *l; ) {   /* a line each */
		size_t len = strcspn(l, "\n");
		fprintf(stderr, "qtop-prof: %.*s\n", (int)len, l);
		l += len + (l[len] == '\n');
	}
	if (strcmp(acquire_name(smp), "qmp") && (o->npid || o->pid_linux))
		fprintf(stderr, "qtop-prof: note: the %s engine does not read --pid "
			"(#15): processes are named without ids\n", acquire_name(smp));
	start_unix = (double)time(NULL);
	if (o->samp.boot && strcmp(acquire_name(smp), "qmp")) {
		/* the plugin samples on the vCPU threads: resume the guest from
		 * here (its first sample is the first armed block) */
		int code = 0;
		struct qmp *q = qmp_connect(o->samp.qmp_spec, 3000, &code, err, sizeof err);
		/* the round the qmp engine takes before cont: the vCPUs at
		 * the reset vector (the plugin records nothing while the guest
		 * waits, so this thread is the ring's only producer until cont) */
		char *text = NULL;
		if (q && qmp_hmp(q, "info registers -a", 0, &text, err, sizeof err) >= 0 &&
		    text) {
			struct qp_regs rg[64];
			int ids[64], nr = regs_parse_all(text, strlen(text), rg, ids, 64);
			uint64_t now = (uint64_t)(app_mono_s() * 1e9);
			for (int i = 0; i < nr; i++) {
				struct qp_sample *sl = ring_reserve(&ring);
				if (!sl)
					break;
				memset(sl, 0, sizeof *sl);
				sl->t_ns = now;
				sl->cpu = (uint32_t)ids[i];
				sl->flags = QP_SF_STOPPED | QP_SF_STACK_FAILED;
				sl->regs = rg[i];
				ring_commit(&ring);
			}
		}
		free(text);
		atomic_store(&acquire_stats(smp)->cont_ns, (uint64_t)(app_mono_s() * 1e9));
		if (!q || qmp_execute(q, "cont", NULL, NULL, err, sizeof err) < 0)
			fprintf(stderr, "qtop-prof: cont: %s\n", err);
		qmp_close(q);
	}
	live.pl = &ses.pl;
	live.ms = &o->ms;
	live.launch = launched ? &lch : NULL;
	atomic_store(&o->ms.t0_ns, (uint64_t)(app_mono_s() * 1e9));
	live.smp = smp;
	live.ring = &ring;
	live.t0 = live.rate_t[0] = app_mono_s();
	live.hz = o->samp.hz;
	live.cpu_mask = o->samp.cpu_mask;
	live.stop = o->samp.stop;

	if (o->batch) {
		double t_end = o->duration > 0 ? live.t0 + o->duration : 0;
		int st;
		for (;;) {
			pipeline_pump(&ses.pl, p, 50);
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
			if (t_end && app_mono_s() >= t_end)
				break;
			struct timespec ts = { 0, 10 * 1000000 };
			nanosleep(&ts, NULL);
		}
		acquire_join(smp);   /* final counters: no more pushes after this */
		live_markers(&live);
		int live_ncpus = sampled_cpus(live.cpu_mask, atomic_load(&acquire_stats(smp)->ncpus));
		double live_dt = app_mono_s() - live.t0;
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
				"read running: kept as leaf only, chain cut\n", nun);
		uint64_t nst = atomic_load(&acquire_stats(smp)->ustack_stale);
		if (nst)
			fprintf(stderr, "qtop-prof: %" PRIu64 " sample(s) whose task left the kernel "
				"before its user stack was read: chain cut at the system call\n", nst);
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
			while (pipeline_pump(&ses.pl, p, 1000) > 0)
				;
		markers_scan_log(&o->ms, log);
		{
			struct symbolizer_stats ss;
			symbolizer_get_stats(ses.pl.sym, &ss);
			if (ss.vouched)
				fprintf(stderr, "qtop-prof: chains read with the guest running: "
					"%" PRIu64 " return addresses checked; %" PRIu64
					" walks met one that did not follow a call to its callee, "
					"%" PRIu64 " of them whole in the copy made before the "
					"registers\n",
					ss.vouched, ss.vouch_cuts, ss.vouch_rescued);
			if (ss.leaf_from_stack)
				fprintf(stderr, "qtop-prof: %" PRIu64 " kernel sample(s) whose rip "
					"QEMU had not written back since an earlier function: "
					"leaf is the innermost function their stack proves "
					"active\n", ss.leaf_from_stack);
			symbolizer_match_report(ses.pl.sym, stderr);
			if (ss.samples)
				fprintf(stderr, "qtop-prof: whole chains %.1f %% (%" PRIu64
					" whole, %" PRIu64 " cut)\n",
					100.0 * (double)(ss.samples - ss.truncated) /
					(double)ss.samples, ss.samples - ss.truncated,
					ss.truncated);
		}
		if (pipeline_symcheck(&ses.pl, 1, live.symwarn, sizeof live.symwarn))
			fprintf(stderr, "qtop-prof: warning: %s\n", live.symwarn);
		fprintf(stderr, "qtop-prof: %" PRIu64 " samples in %.1f s (%.1f/s), %" PRIu64
			" dropped, %" PRIu64 " unusable\n", ses.pl.consumed, app_mono_s() - live.t0,
			(double)ses.pl.consumed / (app_mono_s() - live.t0), ring_dropped(&ring), ses.pl.unusable);
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
	if (ses.pl.rec) {
		uint64_t n = record_written(ses.pl.rec);
		if (record_close(ses.pl.rec, err, sizeof err) < 0) {
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
	session_close(&ses);
	ring_free(&ring);
	return rc;
}
