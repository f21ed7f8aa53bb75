/* acquire.h - where raw samples come from: one small interface, two engines.
 *
 *   qmp     the sampler thread talking to QEMU's monitor (sampler.h)
 *   plugin  qtop-plugin.so sampling inside QEMU (plugin_engine.h): exact
 *           registers at a block start, no monitor, no pause
 *   auto    plugin when its segment is there for this QEMU, else qmp
 *
 * Both push struct qp_sample into the same consumer ring, so the pipeline,
 * symbolizer, profile and views do not know which one runs.
 */
#ifndef QTOP_ACQUIRE_H
#define QTOP_ACQUIRE_H

#include <stddef.h>
#include "ring.h"
#include "sampler.h"

enum acq_engine { ACQ_AUTO, ACQ_QMP, ACQ_PLUGIN };

struct acquire;

/* Start the engine asked for (auto: plugin if found).  why gets one line
 * for stderr: which engine and why.  NULL with err on failure. */
struct acquire *acquire_start(enum acq_engine eng, const char *plugin_name,
			      const struct sampler_config *cfg, struct ring *ring,
			      char *why, size_t whylen, char *err, size_t errlen);
void acquire_join(struct acquire *a);
void acquire_stop(struct acquire *a);      /* NULL ok */
struct sampler_stats *acquire_stats(struct acquire *a);
const char *acquire_last_error(struct acquire *a);
void acquire_set_hz(struct acquire *a, double hz);
const char *acquire_note(struct acquire *a);   /* how memory and registers are read: lines */
const char *acquire_name(const struct acquire *a);   /* "qmp" / "plugin" */
/* Engine-specific counters, one line (empty when none). */
void acquire_summary(struct acquire *a, char *buf, size_t len);

#endif
