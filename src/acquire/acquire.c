/* acquire.c - one interface over the two sampling engines (acquire.h):
 * a const table of operations per engine, as htop's classes. */
#include "acquire.h"
#include "plugin_engine.h"

#include <dirent.h>
#include <signal.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct acq_ops {
	const char *name;
	void (*join)(void *impl);
	void (*stop)(void *impl);
	struct sampler_stats *(*stats)(void *impl);
	const char *(*last_error)(void *impl);
	void (*set_hz)(void *impl, double hz);
	const char *(*note)(void *impl);
	void (*summary)(void *impl, char *buf, size_t len);
};

struct acquire {
	const struct acq_ops *ops;
	void *impl;
	int auto_fallback;      /* auto found no plugin segment: qmp */
};

/* sampler.h behind the table */
static void q_join(void *p) { sampler_join(p); }
static void q_stop(void *p) { sampler_stop(p); }
static struct sampler_stats *q_stats(void *p) { return sampler_stats(p); }
static const char *q_err(void *p) { return sampler_last_error(p); }
static void q_hz(void *p, double hz) { sampler_set_hz(p, hz); }
static const char *q_note(void *p) { return sampler_mem_note(p); }
static void q_summary(void *p, char *buf, size_t len) { (void)p; if (len) *buf = 0; }

static const struct acq_ops qmp_ops = {
	.name = "qmp", .join = q_join, .stop = q_stop, .stats = q_stats,
	.last_error = q_err, .set_hz = q_hz, .note = q_note, .summary = q_summary,
};

static void p_join(void *p) { plugin_engine_join(p); }
static void p_stop(void *p) { plugin_engine_stop(p); }
static struct sampler_stats *p_stats(void *p) { return plugin_engine_stats(p); }
static const char *p_err(void *p) { return plugin_engine_last_error(p); }
static void p_hz(void *p, double hz) { plugin_engine_set_hz(p, hz); }
static const char *p_note(void *p) { return plugin_engine_note(p); }
static void p_summary(void *p, char *buf, size_t len) { plugin_engine_summary(p, buf, len); }

static const struct acq_ops plugin_ops = {
	.name = "plugin", .join = p_join, .stop = p_stop, .stats = p_stats,
	.last_error = p_err, .set_hz = p_hz, .note = p_note, .summary = p_summary,
};

static int any_plugin_segment(void)
{
	DIR *d = opendir("/dev/shm");
	struct dirent *e;
	int found = 0;

	if (!d)
		return 1;       /* cannot tell: probe */
	while (!found && (e = readdir(d))) {
		if (strncmp(e->d_name, "qtop-plugin-", 12))
			continue;
		/* qtop-plugin-PID: only a live QEMU's segment can be ours (a
		 * dead one's is left over); a named one (name=) cannot be told */
		char *end;
		long pid = strtol(e->d_name + 12, &end, 10);
		found = *end || pid <= 0 || kill((pid_t)pid, 0) == 0 || errno == EPERM;
	}
	closedir(d);
	return found;
}

struct acquire *acquire_start(enum acq_engine eng, const char *plugin_name,
			      const struct sampler_config *cfg, struct ring *ring,
			      char *why, size_t whylen, char *err, size_t errlen)
{
	struct acquire *a = calloc(1, sizeof *a);
	char perr[512] = "";

	if (!a) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* auto: probing for the plugin costs a QMP connection of its own
	 * (QEMU's pid from the socket); skip it when no plugin segment exists
	 * at all, so a plain QEMU sees one client, as before */
	if (eng == ACQ_AUTO && !plugin_name && !any_plugin_segment()) {
		snprintf(perr, sizeof perr, "no live %s* segment in /dev/shm: QEMU was "
			 "not started with -plugin qtop-plugin.so (QEMU >= 9.2, TCG)",
			 "qtop-plugin-");
		eng = ACQ_QMP;
		a->auto_fallback = 1;
	}
	if (eng != ACQ_QMP) {
		a->impl = plugin_engine_start(cfg, plugin_name, ring, perr, sizeof perr);
		if (a->impl) {
			a->ops = &plugin_ops;
			snprintf(why, whylen, "engine plugin (%s): exact registers inside "
				 "QEMU, no monitor commands, no pauses",
				 eng == ACQ_AUTO ? "auto: found its segment" : "asked");
			return a;
		}
		if (eng == ACQ_PLUGIN) {
			snprintf(err, errlen, "--engine plugin: %s", perr);
			free(a);
			return NULL;
		}
	}
	a->impl = sampler_start(cfg, ring, err, errlen);
	if (!a->impl) {
		free(a);
		return NULL;
	}
	a->ops = &qmp_ops;
	if (eng == ACQ_AUTO || a->auto_fallback)
		snprintf(why, whylen, "engine qmp (auto: no plugin: %s)", perr);
	else
		snprintf(why, whylen, "engine qmp (asked)");
	return a;
}

void acquire_join(struct acquire *a) { a->ops->join(a->impl); }
void acquire_stop(struct acquire *a)
{
	if (!a)
		return;
	a->ops->stop(a->impl);
	free(a);
}
struct sampler_stats *acquire_stats(struct acquire *a) { return a->ops->stats(a->impl); }
const char *acquire_last_error(struct acquire *a) { return a->ops->last_error(a->impl); }
void acquire_set_hz(struct acquire *a, double hz) { a->ops->set_hz(a->impl, hz); }
const char *acquire_note(struct acquire *a) { return a->ops->note(a->impl); }
const char *acquire_name(const struct acquire *a) { return a->ops->name; }
void acquire_summary(struct acquire *a, char *buf, size_t len) { a->ops->summary(a->impl, buf, len); }
