/* qmp.h - a QMP client: connect, negotiate, execute commands (pipelined, with
 * ids and timeouts), collect asynchronous events.
 *
 * Not thread-safe: one thread owns a connection (the sampler thread).
 * Errors are negative QMP_E_* codes; a one-line human message is written to
 * the caller's err buffer.  Library code never prints.
 *
 * Safety: qmp_send refuses any command that could change guest state other
 * than "stop" and "cont" (see qmp_command_allowed).  human-monitor-command is
 * allowed only for read-only HMP commands (info ..., x/..., xp/..., print,
 * gpa2hva).
 */
#ifndef QTOP_QMP_H
#define QTOP_QMP_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

enum qmp_err {
	QMP_OK = 0,
	QMP_E_NOENT = -1,      /* socket path does not exist */
	QMP_E_NOTSOCK = -2,    /* path exists but is not a socket */
	QMP_E_REFUSED = -3,    /* nobody listening */
	QMP_E_NOGREET = -4,    /* connected, no greeting in time (another client holds QMP?) */
	QMP_E_PROTO = -5,      /* peer does not speak QMP / malformed JSON */
	QMP_E_TIMEOUT = -6,    /* no reply in time */
	QMP_E_CLOSED = -7,     /* QEMU closed the connection */
	QMP_E_ERROR = -8,      /* QMP error reply ({"error": ...}); message in err */
	QMP_E_REFUSED_CMD = -9,/* command not on the allow list: never sent */
	QMP_E_IO = -10,        /* other socket error */
	QMP_E_NOMEM = -11,
};

enum qmp_event_kind {
	QMP_EV_OTHER, QMP_EV_STOP, QMP_EV_RESUME, QMP_EV_SHUTDOWN, QMP_EV_RESET,
	QMP_EV_GUEST_PANICKED,
};

struct qmp_event {
	enum qmp_event_kind kind;
	char name[32];         /* event name as sent */
	int64_t ts_sec, ts_usec;
};

struct qmp;

/* spec: a unix socket path, or "tcp:HOST:PORT".  Reads the greeting and
 * sends qmp_capabilities.  timeout_ms bounds connect + greeting. */
struct qmp *qmp_connect(const char *spec, int timeout_ms, int *errcode,
			char *err, size_t errlen);
void qmp_close(struct qmp *q);

/* 1 when spec is tcp:HOST:PORT with a host that is not loopback. */
int qmp_spec_is_remote(const char *spec);

/* Default timeout for qmp_execute/qmp_hmp waits, in ms (default 5000). */
void qmp_set_timeout(struct qmp *q, int timeout_ms);

/* 1 if the command (and, for human-monitor-command, its command-line) may be
 * sent by qtop-prof. */
int qmp_command_allowed(const char *cmd, json_object *args);

/* Send one command without waiting; *id identifies its reply. args may be
 * NULL; it is not consumed. */
int qmp_send(struct qmp *q, const char *cmd, json_object *args, uint64_t *id,
	     char *err, size_t errlen);
/* Wait for the reply to id (replies to other ids that arrive first are kept).
 * On success *ret owns the "return" value (may be NULL if ret is NULL). */
int qmp_wait(struct qmp *q, uint64_t id, json_object **ret, char *err,
	     size_t errlen);
/* qmp_send + qmp_wait. */
int qmp_execute(struct qmp *q, const char *cmd, json_object *args,
		json_object **ret, char *err, size_t errlen);

/* human-monitor-command with cpu-index (cpu < 0: omit it).  *out is a
 * malloc'd NUL-terminated copy of the returned text. */
int qmp_hmp_send(struct qmp *q, const char *cmdline, int cpu, uint64_t *id,
		 char *err, size_t errlen);
int qmp_hmp_wait(struct qmp *q, uint64_t id, char **out, char *err,
		 size_t errlen);
int qmp_hmp(struct qmp *q, const char *cmdline, int cpu, char **out,
	    char *err, size_t errlen);

/* Read whatever has arrived within timeout_ms (0: don't block) and queue
 * events.  Returns number of events queued, or a negative error. */
int qmp_poll(struct qmp *q, int timeout_ms, char *err, size_t errlen);
/* Pop the oldest queued event; returns 1 if one was popped, 0 if none. */
int qmp_next_event(struct qmp *q, struct qmp_event *ev);

/* The socket fd, for poll(). */
int qmp_fd(const struct qmp *q);
/* QEMU version from the greeting (major*10000 + minor*100 + micro), 0 unknown. */
int qmp_qemu_version(const struct qmp *q);
/* 1 when connected over a unix socket, or tcp to a loopback address
 * (memsave files are then local). */
int qmp_is_local(const struct qmp *q);
/* Pid of the QEMU at the other end of a unix socket (SO_PEERCRED, as seen
 * from our pid namespace), 0 over TCP or when it is not visible. */
int qmp_peer_pid(const struct qmp *q);

const char *qmp_strerror(int code);

/* --- Additions (qmp.c owner) --- */

/* Largest JSON message accepted from the peer: a longer one (a peer sending
 * endless JSON) gives QMP_E_PROTO instead of eating memory. */
#define QMP_MAX_MSG (8u << 20)

/* Like qmp_connect, on an already connected stream socket, which the
 * connection owns from now on (closed by qmp_close, or here on failure).
 * For tests and fuzzing. */
struct qmp *qmp_connect_fd(int fd, int timeout_ms, int *errcode, char *err,
			   size_t errlen);

/* One message received from the peer, classified.  Pure; qmp.c uses the same
 * classification on the stream. */
enum qmp_msg_kind {
	QMP_MSG_GREETING, QMP_MSG_RETURN, QMP_MSG_ERROR, QMP_MSG_EVENT,
};
struct qmp_msg {
	enum qmp_msg_kind kind;
	int has_id;
	uint64_t id;
	json_object *ret;      /* RETURN: the "return" value (owned, may be NULL) */
	char errclass[48];     /* ERROR: "class" */
	char errdesc[256];     /* ERROR: "desc" */
	struct qmp_event ev;   /* EVENT */
	int version;           /* GREETING: as qmp_qemu_version(), 0 unknown */
};
/* Parse one JSON text (e.g. one received line).  Returns 0, or QMP_E_PROTO
 * if it is not a single QMP message. Release with qmp_msg_clear. */
int qmp_parse_message(const char *text, size_t len, struct qmp_msg *m,
		      char *err, size_t errlen);
void qmp_msg_clear(struct qmp_msg *m);

#endif
