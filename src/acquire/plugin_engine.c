/* plugin_engine.c - attach to qtop-plugin.so's segment, move its records
 * into the consumer ring (see plugin_engine.h, plugin_shm.h). */
#include "plugin_engine.h"
#include "plugin_shm.h"
#include "qmp.h"
#include "regs.h"
#include "shmring.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BEAT_NS      50000000ull     /* our heartbeat to the plugin */
#define DEAD_NS    1500000000ull     /* plugin beat still for this long: QEMU gone */
#define MAX_HZ       100000.0
#define DEFAULT_MAX_HZ 10000u        /* --hz 0 (as fast as possible) */

/* The plugin's counters of what the vCPU threads spent in it. */
struct cost_sums {
	uint64_t recs, arms, cb_ns, checks, check_ns, tick_ns;
};

static struct cost_sums cost_sums(const struct qps_ctl *c)
{
	struct cost_sums s = { 0 };
	for (uint32_t i = 0; i < c->ncpus && i < QPS_MAX_CPUS; i++) {
		s.recs += atomic_load(&c->cpu[i].samples);
		s.arms += atomic_load(&c->cpu[i].arms);
		s.cb_ns += atomic_load(&c->cpu[i].cb_ns);
		s.checks += atomic_load(&c->cpu[i].checks);
		s.check_ns += atomic_load(&c->cpu[i].check_ns);
		s.tick_ns += atomic_load(&c->cpu[i].tick_ns);
	}
	return s;
}

struct plugin_engine {
	struct qps_ctl *ctl;
	size_t bytes;
	struct ring *ring;
	struct sampler_config cfg;
	struct sampler_stats st;
	pthread_t thr;
	int started;
	_Atomic int quit;
	uint64_t seq;
	int32_t qemu_pid;
	uint64_t qemu_start;
	pthread_mutex_t err_lock;
	char last_err[256];
	char note[640];
	struct cost_sums at_start;   /* the plugin's cost counters when we attached */
	_Atomic uint32_t clock_seen; /* the plugin's clock while records came */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull) };
	nanosleep(&ts, NULL);
}

static uint64_t proc_starttime(pid_t pid)
{
	char path[64], buf[1024];
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	/* A zombie (killed, not yet reaped) is gone too. */
	if (p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'))
		return 0;
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	return p ? strtoull(p + 1, NULL, 10) : 0;
}

static int pid_alive(pid_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

static void set_error(struct plugin_engine *e, const char *msg)
{
	pthread_mutex_lock(&e->err_lock);
	snprintf(e->last_err, sizeof e->last_err, "%s", msg);
	pthread_mutex_unlock(&e->err_lock);
}

/* QMP once: QEMU's pid (the socket's peer) and each vCPU's TR base (QEMU
 * does not give tr_base to plugins; TSS.sp0 ends a kernel stack). */
static int qmp_probe(const char *spec, int *pid, uint64_t *tss, int ntss,
		     char *why, size_t whylen)
{
	char err[256];
	int code;
	struct qmp *q;

	if (qmp_spec_is_remote(spec)) {
		snprintf(why, whylen, "QMP %s is TCP: the plugin's segment is only "
			 "reachable on QEMU's host through a unix socket", spec);
		return -1;
	}
	q = qmp_connect(spec, 3000, &code, err, sizeof err);
	if (!q) {
		snprintf(why, whylen, "%s", err);
		return -1;
	}
	*pid = qmp_peer_pid(q);
	if (*pid <= 0) {
		snprintf(why, whylen, "cannot tell QEMU's pid from the QMP socket %s", spec);
		qmp_close(q);
		return -1;
	}
	if (tss) {
		char *text = NULL;
		struct qp_regs regs[QPS_MAX_CPUS];
		int ids[QPS_MAX_CPUS];
		if (qmp_hmp(q, "info registers -a", 0, &text, err, sizeof err) >= 0 && text) {
			int n = regs_parse_all(text, strlen(text), regs, ids, QPS_MAX_CPUS);
			for (int i = 0; i < n; i++)
				if (ids[i] >= 0 && ids[i] < ntss)
					tss[ids[i]] = regs[i].tr_base;
		}
		free(text);
	}
	qmp_close(q);
	return 0;
}

static void seg_path(char *path, size_t len, const char *name, int pid)
{
	if (name)
		snprintf(path, len, "/dev/shm/%s", name);
	else
		snprintf(path, len, "/dev/shm/" QPS_NAME_PREFIX "%d", pid);
}

int plugin_engine_locate(const char *qmp_spec, const char *name, char *path,
			 size_t pathlen, char *why, size_t whylen)
{
	int pid = 0;

	if (name) {
		seg_path(path, pathlen, name, 0);
		return 0;
	}
	if (qmp_probe(qmp_spec, &pid, NULL, 0, why, whylen) < 0)
		return -1;
	seg_path(path, pathlen, NULL, pid);
	return 0;
}

/* Map and check the segment: ours (magic, layout), sane (every ring within
 * the mapping), and live (its QEMU runs, the plugin's beat moves). */
static int open_segment(struct plugin_engine *e, const char *path, int want_pid,
			char *err, size_t errlen)
{
	struct stat sb;
	int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	struct qps_ctl *c;

	if (fd < 0) {
		if (errno == ENOENT)
			snprintf(err, errlen, "no %s: QEMU was not started with "
				 "-plugin qtop-plugin.so (QEMU >= 9.2, TCG)", path);
		else
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) < 0 || sb.st_uid != geteuid() || (sb.st_mode & 077) ||
	    (size_t)sb.st_size < sizeof(struct qps_ctl)) {
		snprintf(err, errlen, "%s: not a qtop-plugin segment of this user (mode, "
			 "owner or size)", path);
		close(fd);
		return -1;
	}
	c = mmap(NULL, (size_t)sb.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (c == MAP_FAILED) {
		snprintf(err, errlen, "%s: mmap: %s", path, strerror(errno));
		return -1;
	}
	e->ctl = c;
	e->bytes = (size_t)sb.st_size;
	atomic_thread_fence(memory_order_acquire);
	if (memcmp(c->magic, QPS_MAGIC, 8)) {
		snprintf(err, errlen, "%s: not a qtop-plugin segment (no magic: "
			 "another program's, or one still being set up)", path);
		return -1;
	}
	char mine[QPS_BUILD_LEN], theirs[QPS_BUILD_LEN] = "";
	qps_build_id(mine);
	if (c->version >= 2 && e->bytes >= offsetof(struct qps_ctl, build) + QPS_BUILD_LEN)
		snprintf(theirs, sizeof theirs, "%.*s", QPS_BUILD_LEN - 1, c->build);
	if (c->version != QPS_VERSION || strcmp(theirs, mine)) {
		snprintf(err, errlen, "%s was made by a qtop-plugin.so of another build "
			 "(segment version %u, build %s); this qtop-prof reads version %u, "
			 "build %s: load the qtop-plugin.so built with this qtop-prof",
			 path, c->version, c->version >= 2 ? theirs : "(not recorded)",
			 QPS_VERSION, mine);
		return -1;
	}
	if (c->ctl_bytes != sizeof *c || c->total_bytes != e->bytes ||
	    c->ncpus == 0 || c->ncpus > QPS_MAX_CPUS) {
		snprintf(err, errlen, "%s: header inconsistent with its size (ctl %u "
			 "bytes, total %" PRIu64 " of %zu, %u vCPUs)", path, c->ctl_bytes,
			 c->total_bytes, e->bytes, c->ncpus);
		return -1;
	}
	if (c->ring_off < sizeof *c || c->ring_stride == 0 ||
	    c->ring_off + (uint64_t)c->ncpus * c->ring_stride > e->bytes) {
		snprintf(err, errlen, "%s: ring layout out of bounds", path);
		return -1;
	}
	for (uint32_t i = 0; i < c->ncpus; i++) {
		struct shmring *r = (struct shmring *)((uint8_t *)c + c->ring_off +
						       (uint64_t)i * c->ring_stride);
		if (shmring_check(r, c->ring_stride) < 0 ||
		    r->slot_size < sizeof(struct qp_sample)) {
			snprintf(err, errlen, "%s: ring %u is malformed", path, i);
			return -1;
		}
	}
	e->qemu_pid = c->qemu_pid;
	e->qemu_start = c->qemu_start;
	if (!pid_alive(c->qemu_pid) || proc_starttime(c->qemu_pid) != c->qemu_start) {
		/* Provably stale: the process that made it has ended (its pid
		 * is free, a zombie, or another process's now: start time
		 * differs).  Ours (owner checked), of our format: removed, if
		 * the name still holds the file we checked. */
		struct stat now;
		char proc[64];
		snprintf(proc, sizeof proc, "/proc/%d/stat", (int)c->qemu_pid);
		/* proc_starttime() is 0 for a zombie and for a /proc entry we
		 * may not read (hidepid): only the first is proof */
		int proof = !pid_alive(c->qemu_pid) || access(proc, R_OK) == 0;
		int gone = proof && stat(path, &now) == 0 && now.st_ino == sb.st_ino &&
			   now.st_dev == sb.st_dev && unlink(path) == 0;
		snprintf(err, errlen, "%s is stale: its QEMU (pid %d) is gone; not used%s",
			 path, c->qemu_pid, gone ? ", removed" : " (remove it)");
		return -1;
	}
	if (want_pid && c->qemu_pid != want_pid) {
		snprintf(err, errlen, "%s names QEMU pid %d, the QMP socket's is %d",
			 path, c->qemu_pid, want_pid);
		return -1;
	}
	if (atomic_load(&c->plugin_state) != QPS_RUNNING) {
		snprintf(err, errlen, "%s: its QEMU (pid %d) runs but the plugin is %s: "
			 "not used", path, c->qemu_pid,
			 atomic_load(&c->plugin_state) == QPS_EXITED ? "shut down" :
			 "still starting");
		return -1;
	}
	/* The plugin's timer beats at least every 100 ms. */
	uint64_t b0 = atomic_load(&c->plugin_beat), t0 = now_ns();
	while (atomic_load(&c->plugin_beat) == b0) {
		if (now_ns() - t0 > 1000000000ull) {
			snprintf(err, errlen, "%s: the plugin does not beat: stale or hung "
				 "(QEMU pid %d stopped?): not used", path, c->qemu_pid);
			return -1;
		}
		sleep_ns(5000000);
	}
	return 0;
}

static int attach(struct plugin_engine *e, char *err, size_t errlen)
{
	struct qps_ctl *c = e->ctl;
	int32_t me = (int32_t)getpid();

	for (int tries = 0; tries < 3; tries++) {
		int32_t cur = atomic_load(&c->client_pid);
		if (cur && cur != me && pid_alive(cur)) {
			/* A live holder whose beat moves is attached for real. */
			uint64_t b0 = atomic_load(&c->client_beat);
			sleep_ns(3 * BEAT_NS);
			if (atomic_load(&c->client_beat) != b0 &&
			    atomic_load(&c->client_pid) == cur) {
				snprintf(err, errlen, "another qtop-prof (pid %d) is attached "
					 "to this QEMU's plugin", cur);
				return -1;
			}
		}
		if (atomic_compare_exchange_strong(&c->client_pid, &cur, me))
			return 0;
	}
	snprintf(err, errlen, "could not attach to the plugin (contended)");
	return -1;
}

static void configure(struct plugin_engine *e, const uint64_t *tss)
{
	struct qps_ctl *c = e->ctl;
	struct qps_cfg *k = &c->cfg;

	atomic_store(&c->enabled, 0);
	memset(k, 0, sizeof *k);
	k->stack_bytes = e->cfg.stack_bytes;
	k->ustack_bytes = e->cfg.ustack_bytes;
	k->linux_kstack = e->cfg.linux_kstack;
	k->want_code = (uint32_t)e->cfg.want_code;
	k->cpu_mask = e->cfg.cpu_mask;
	for (int i = 0; i < QPS_MAX_CPUS; i++) {
		const struct comm_recipe *r = &e->cfg.comm[i];
		k->tss_base[i] = tss[i];
		if (!r->valid)
			continue;
		/* the plugin runs the fixed form only: a program that uses
		 * registers other than $cpu is not read there.  --pid (cfg.pid,
		 * #15) is not read by the plugin at all: its samples carry no
		 * id (QP_SF_HAS_PID clear), the processes keep bare names */
		if (r->nops && !r->fixed)
			continue;
		k->comm[i].addr = r->addr;
		memcpy(k->comm[i].off, r->off, sizeof k->comm[i].off);
		k->comm[i].nderef = r->nderef;
		k->comm[i].wordsize = r->wordsize;
		k->comm[i].len = r->len;
		k->comm[i].valid = 1;
	}
	/* R: pairs with the plugin's acquire of cfg_gen (take_cfg). */
	atomic_fetch_add_explicit(&c->cfg_gen, 1, memory_order_release);
	/* A new consumer does not want the last one's backlog. */
	for (uint32_t i = 0; i < c->ncpus; i++)
		shmring_skip_all((struct shmring *)((uint8_t *)c + c->ring_off +
						    (uint64_t)i * c->ring_stride));
}

void plugin_engine_set_hz(struct plugin_engine *e, double hz)
{
	uint32_t v;

	if (!e)
		return;
	if (hz <= 0)
		v = DEFAULT_MAX_HZ;
	else
		v = (uint32_t)(hz > MAX_HZ ? MAX_HZ : hz < 1 ? 1 : hz);
	atomic_store(&e->ctl->hz, v);
}

static void *engine_main(void *arg)
{
	struct plugin_engine *e = arg;
	struct qps_ctl *c = e->ctl;
	uint64_t last_beat = 0, pbeat = atomic_load(&c->plugin_beat), pbeat_ns = now_ns();

	atomic_store(&e->st.state, SAMPLER_RUNNING);
	while (!atomic_load(&e->quit)) {
		uint64_t t = now_ns(), moved = 0;

		if (t - last_beat >= BEAT_NS) {
			atomic_fetch_add_explicit(&c->client_beat, 1, memory_order_release);
			last_beat = t;
			uint64_t pb = atomic_load_explicit(&c->plugin_beat, memory_order_acquire);
			if (pb != pbeat) {
				pbeat = pb;
				pbeat_ns = t;
			}
			if (atomic_load(&c->plugin_state) == QPS_EXITED) {
				set_error(e, "QEMU exited (the plugin said so)");
				break;
			}
			if (!pid_alive(e->qemu_pid) ||
			    proc_starttime(e->qemu_pid) != e->qemu_start) {
				set_error(e, "QEMU is gone (its process ended)");
				break;
			}
			if (t - pbeat_ns > DEAD_NS) {
				set_error(e, "the plugin stopped beating (QEMU hung or stopped)");
				break;
			}
		}
		for (uint32_t i = 0; i < c->ncpus; i++) {
			struct shmring *r = (struct shmring *)((uint8_t *)c + c->ring_off +
							       (uint64_t)i * c->ring_stride);
			const struct qp_sample *s;
			int n = 0;
			while (n++ < 256 && (s = shmring_peek(r))) {
				/* Untrusted sizes: a record must fit its slot and ours. */
				size_t sz = sizeof *s + (size_t)s->stack_len + s->ustack_len +
					    s->code_len + s->comm_len + s->stack2_len;
				if (s->stack_len > r->slot_size || s->ustack_len > r->slot_size ||
				    s->code_len > QP_CODE_BYTES || s->comm_len > QP_COMM_BYTES ||
				    s->stack0_len || s->stack2_len > r->slot_size ||
				    (s->stack2_len && !e->cfg.linux_kstack) ||
				    sz > r->slot_size || sz > e->ring->slot_size) {
					atomic_fetch_add(&e->st.errors, 1);
					shmring_release(r);
					continue;
				}
				void *slot = ring_reserve(e->ring);
				if (slot) {
					memcpy(slot, s, sz);
					((struct qp_sample *)slot)->seq = e->seq++;
					((struct qp_sample *)slot)->cpu = i;
					ring_commit(e->ring);
					atomic_fetch_add(&e->st.samples, 1);
					if (s->flags & QP_SF_STACK_FAILED)
						atomic_fetch_add(&e->st.stack_fail, 1);
				}
				shmring_release(r);
				if (!moved++)
					atomic_store(&e->clock_seen, atomic_load(&c->clock));
				if (e->cfg.max_samples &&
				    atomic_load(&e->st.samples) >= e->cfg.max_samples) {
					atomic_store(&e->st.state, SAMPLER_DONE);
					atomic_store(&c->enabled, 0);
					return NULL;
				}
			}
		}
		if (!moved)
			sleep_ns(1000000);
	}
	atomic_store(&e->st.state, atomic_load(&e->quit) ? SAMPLER_DONE : SAMPLER_DISCONNECTED);
	return NULL;
}

struct plugin_engine *plugin_engine_start(const struct sampler_config *cfg,
					  const char *name, struct ring *ring,
					  char *err, size_t errlen)
{
	struct plugin_engine *e = calloc(1, sizeof *e);
	uint64_t tss[QPS_MAX_CPUS] = { 0 };
	char path[300];
	int pid = 0;

	if (!e) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&e->err_lock, NULL);
	e->cfg = *cfg;
	e->ring = ring;
	if (qmp_probe(cfg->qmp_spec, &pid, tss, QPS_MAX_CPUS, err, errlen) < 0) {
		if (!name)
			goto fail;
		pid = 0;          /* a named segment: QMP is optional */
	}
	seg_path(path, sizeof path, name, pid);
	/* named or not, a segment of another QEMU than the QMP socket's is
	 * refused (pid 0: no QMP, a named segment taken on its word) */
	if (open_segment(e, path, pid, err, errlen) < 0 ||
	    attach(e, err, errlen) < 0)
		goto fail;
	configure(e, tss);
	plugin_engine_set_hz(e, cfg->hz);
	atomic_store(&e->st.ncpus, (int)e->ctl->ncpus);
	atomic_fetch_add(&e->ctl->client_beat, 1);
	e->at_start = cost_sums(e->ctl);
	atomic_store(&e->ctl->enabled, 1);
	/* the plugin's control thread, detached, waits on this word (up to
	 * 100 ms): sampling starts now rather than at its next look */
	syscall(SYS_futex, (uint32_t *)&e->ctl->enabled, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	snprintf(e->note, sizeof e->note, "plugin %s: QEMU pid %d, plugin API %d, %u vCPU "
		 "ring(s); registers and memory read inside QEMU at a block start%s",
		 path, e->qemu_pid, e->ctl->api_cur, e->ctl->ncpus,
		 e->ctl->has_cr3 ? "" : " (no cr3 from QEMU: one address space assumed)");
	if (pthread_create(&e->thr, NULL, engine_main, e) != 0) {
		snprintf(err, errlen, "cannot start the plugin engine thread");
		goto fail;
	}
	e->started = 1;
	return e;
fail:
	plugin_engine_stop(e);
	return NULL;
}

void plugin_engine_join(struct plugin_engine *e)
{
	if (!e || !e->started)
		return;
	atomic_store(&e->quit, 1);
	pthread_join(e->thr, NULL);
	e->started = 0;
}

void plugin_engine_stop(struct plugin_engine *e)
{
	if (!e)
		return;
	plugin_engine_join(e);
	if (e->ctl) {
		int32_t me = (int32_t)getpid();
		if (atomic_load(&e->ctl->client_pid) == me) {
			atomic_store(&e->ctl->enabled, 0);
			atomic_compare_exchange_strong(&e->ctl->client_pid, &me, 0);
		}
		munmap(e->ctl, e->bytes);
	}
	pthread_mutex_destroy(&e->err_lock);
	free(e);
}

struct sampler_stats *plugin_engine_stats(struct plugin_engine *e) { return &e->st; }
const char *plugin_engine_note(struct plugin_engine *e) { return e->note; }

const char *plugin_engine_last_error(struct plugin_engine *e)
{
	static _Thread_local char copy[256];
	pthread_mutex_lock(&e->err_lock);
	snprintf(copy, sizeof copy, "%s", e->last_err);
	pthread_mutex_unlock(&e->err_lock);
	return copy;
}

void plugin_engine_summary(struct plugin_engine *e, char *buf, size_t len)
{
	struct qps_ctl *c = e->ctl;
	uint64_t lost = 0, rf = 0, merged = 0, idle = 0, late = 0, s2 = 0;

	for (uint32_t i = 0; i < c->ncpus; i++) {
		struct shmring *r = (struct shmring *)((uint8_t *)c + c->ring_off +
						       (uint64_t)i * c->ring_stride);
		rf += atomic_load(&c->cpu[i].reg_fail);
		merged += atomic_load(&c->cpu[i].merged);
		idle += atomic_load(&c->cpu[i].idle_arms);
		late += atomic_load(&c->cpu[i].late);
		s2 += atomic_load(&c->cpu[i].irq_stack2);
		lost += shmring_dropped(r);
	}
	/* the cost: this run's share only (an earlier qtop-prof may have
	 * sampled at another rate, with the other clock) */
	struct cost_sums now = cost_sums(c), d = {
		now.recs - e->at_start.recs, now.arms - e->at_start.arms,
		now.cb_ns - e->at_start.cb_ns, now.checks - e->at_start.checks,
		now.check_ns - e->at_start.check_ns, now.tick_ns - e->at_start.tick_ns };
	uint32_t clock = atomic_load(&e->clock_seen) ? atomic_load(&e->clock_seen) :
			 atomic_load(&c->clock);
	snprintf(buf, len, "plugin (since QEMU started): %" PRIu64 " arms, %" PRIu64
		 " records, %" PRIu64 " served late + %" PRIu64 " merged (vCPU thread not "
		 "running: not sampled), %" PRIu64 " while halted, %" PRIu64 " lost in "
		 "QEMU's rings (qtop-prof behind), %" PRIu64 " register reads failed, "
		 "%" PRIu64 " on an IRQ stack with the task stack behind it; this run, on "
		 "the vCPU threads: %.2f us per record in callbacks, %.1f checks of the "
		 "clock per record at %.3f us each, %.2f us per arm in timer handlers "
		 "(signal delivery not counted); clock: %s; instrumentation switched %" PRIu64
		 " times (attach, detach)",
		 now.arms, now.recs, late, merged, idle, lost, rf, s2,
		 d.recs ? d.cb_ns / 1e3 / (double)d.recs : 0.0,
		 d.recs ? (double)d.checks / (double)d.recs : 0.0,
		 d.checks ? d.check_ns / 1e3 / (double)d.checks : 0.0,
		 d.arms ? d.tick_ns / 1e3 / (double)d.arms : 0.0,
		 clock == 1 ? "timer signals" : clock == 2 ? "block counting" : "none yet",
		 (uint64_t)atomic_load(&c->resets));
}
