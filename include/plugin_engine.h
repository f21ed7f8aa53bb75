/* plugin_engine.h - sampling through qtop-plugin.so inside QEMU.
 *
 * A sibling of the QMP sampler (sampler.h) that feeds the same consumer
 * ring: it finds the plugin's shared segment (plugin_shm.h) from the QMP
 * socket's peer pid, checks it is live (not left by a dead QEMU), attaches
 * (client pid + heartbeat), writes the config and the rate, and a thread
 * moves the plugin's per-vCPU records into the ring, renumbered.  QMP is
 * used once at attach (peer pid, TR bases) and closed again.
 */
#ifndef QTOP_PLUGIN_ENGINE_H
#define QTOP_PLUGIN_ENGINE_H

#include <stddef.h>
#include "ring.h"
#include "sampler.h"

struct plugin_engine;

/* Where the segment of the QEMU behind qmp_spec would be, without opening
 * it: 0 with path filled ("/dev/shm/qtop-plugin-PID", or
 * /dev/shm/NAME for name), or -1 with why (remote QMP, no QMP). */
int plugin_engine_locate(const char *qmp_spec, const char *name, char *path,
			 size_t pathlen, char *why, size_t whylen);

/* Attach and start the thread.  NULL with a one-line reason (no segment:
 * QEMU was started without the plugin; stale segment; another qtop-prof
 * attached; ...). */
struct plugin_engine *plugin_engine_start(const struct sampler_config *cfg,
					  const char *name, struct ring *ring,
					  char *err, size_t errlen);
void plugin_engine_join(struct plugin_engine *e);
void plugin_engine_stop(struct plugin_engine *e);     /* detaches; NULL ok */
struct sampler_stats *plugin_engine_stats(struct plugin_engine *e);
const char *plugin_engine_last_error(struct plugin_engine *e);
void plugin_engine_set_hz(struct plugin_engine *e, double hz);
const char *plugin_engine_note(struct plugin_engine *e);
/* One line of the plugin's own counters (arms, records, lost in QEMU's
 * rings because qtop-prof was behind, register-read failures). */
void plugin_engine_summary(struct plugin_engine *e, char *buf, size_t len);

#endif
