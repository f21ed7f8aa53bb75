/* app_int.h - what the run modes in src/app share: the pipeline set-up and
 * the end of a run (outputs, report, TUI over a finished profile). */
#ifndef QTOP_APP_INT_H
#define QTOP_APP_INT_H

#include <signal.h>
#include <stdint.h>
#include "app.h"
#include "options.h"
#include "pipeline.h"
#include "report.h"

struct profile;
struct samplelog;
struct markers;

/* Set by SIGINT/SIGTERM/SIGHUP once install_signals ran. */
extern volatile sig_atomic_t got_signal;
void install_signals(void);
double app_mono_s(void);

/* session.c: the pipeline set-up every run mode over samples shares (live,
 * --replay): the guest model (guest.h: its kernel files read once), the
 * symbolizer of o->sym over it (its warnings printed), the profile, the
 * sample log (with the symbolizer's modules), and the pipeline over them
 * (no ring, no --record: the caller adds those). */
struct guest;
struct session {
	struct guest *guest;
	struct symbolizer *sym;
	struct profile *p;
	struct samplelog *log;
	struct pipeline pl;
};
/* s zeroed first.  The guest alone (the live set-up needs it before the
 * symbolizer: KASLR, --comm linux); 0 or -1 after a message. */
int session_open_guest(struct session *s, const struct options *o);
/* The rest (and the guest if not open yet).  0, or -1 after a message
 * (then session_close). */
int session_open(struct session *s, const struct options *o);
/* Frees what session_open made (not pl.ring, pl.rec), the guest last.
 * Zeroed s ok. */
void session_close(struct session *s);

/* output.c */
/* The status of a finished profile shown in the TUI ("file"). */
struct static_src { const char *what, *warning; uint64_t n; double t0; };
struct app_status;
void static_status(void *ctx, struct app_status *st);
void note_log_full(const struct samplelog *log);
int write_outputs(const struct options *o, const struct profile *p,
		  const struct samplelog *log);
int save_on_signal(const struct profile *p, int sig);
/* warning: printed on stderr (after the TUI, which shows it too), or NULL */
int run_static(const struct options *o, struct profile *p,
	       struct samplelog *log, const char *what, const char *warning);
/* The end of a batch run (live or replay). */
int batch_finish(const struct options *o, struct profile *p,
		 struct samplelog *log, struct markers *ms,
		 const struct report_meta *meta);

#endif
