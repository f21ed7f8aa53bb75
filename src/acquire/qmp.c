/* qmp.c - QMP client: connect, negotiate, pipelined commands matched by id,
 * events queued, a poll() timeout on every wait, bounded message size. */
#include "qmp.h"
#include "errmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_CONNECT_MS 3000
#define DEFAULT_TIMEOUT_MS 5000
#define EVQ_CAP 256          /* oldest events are dropped beyond this */
#define JSON_DEPTH 64

struct outstanding {
	uint64_t id;
	char cmd[40];            /* for messages */
	int answered;            /* its reply is stored */
};

struct stored {
	uint64_t id;
	json_object *msg;        /* the whole reply object */
};

struct qmp {
	int fd;
	int timeout_ms;
	int local;
	int version;
	uint64_t next_id;
	char spec[200];          /* for messages */

	json_tokener *tok;
	size_t msg_bytes;        /* bytes fed into the message being parsed */
	int greeted;

	struct outstanding *out; /* sent, not yet waited for */
	size_t nout, capout;
	struct stored *rep;      /* received, not yet waited for */
	size_t nrep, caprep;

	struct qmp_event evq[EVQ_CAP];
	size_t evhead, evcount;
	int new_events;

	int dead;                /* fatal error code once the stream is unusable */
	char dead_msg[256];
};

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remaining(int64_t deadline)
{
	int64_t r = deadline - now_ms();

	if (r < 0)
		return 0;
	return r > 0x7fffffff ? 0x7fffffff : (int)r;
}

/* "3 s", "0.5 s": timeouts as a user reads them */
static const char *secs(int ms, char *buf, size_t n)
{
	if (ms % 1000 == 0)
		snprintf(buf, n, "%d s", ms / 1000);
	else
		snprintf(buf, n, "%.1f s", ms / 1000.0);
	return buf;
}

const char *qmp_strerror(int code)
{
	switch (code) {
	case QMP_OK: return "success";
	case QMP_E_NOENT: return "QMP socket does not exist";
	case QMP_E_NOTSOCK: return "not a socket";
	case QMP_E_REFUSED: return "connection refused";
	case QMP_E_NOGREET: return "no QMP greeting (another client holds the QMP socket?)";
	case QMP_E_PROTO: return "peer does not speak QMP";
	case QMP_E_TIMEOUT: return "no reply in time";
	case QMP_E_CLOSED: return "QEMU closed the connection";
	case QMP_E_ERROR: return "QMP command failed";
	case QMP_E_REFUSED_CMD: return "command not allowed (never sent)";
	case QMP_E_IO: return "socket error";
	case QMP_E_NOMEM: return "out of memory";
	}
	return "unknown QMP error";
}

/* ---- allow list ---- */

static int word_is(const char *s, size_t n, const char *w)
{
	return strlen(w) == n && memcmp(s, w, n) == 0;
}

/* Read-only HMP command lines only: info, x, xp, print/p (with /fmt), and
 * gpa2hva (prints where guest RAM lies in QEMU's address space). */
static int hmp_line_allowed(const char *line)
{
	const char *p = line, *w;
	size_t n, base;

	for (const char *c = line; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return 0; /* one command per call, nothing hidden */
	while (*p == ' ')
		p++;
	w = p;
	while (*p && *p != ' ')
		p++;
	n = (size_t)(p - w);
	if (word_is(w, n, "info") || word_is(w, n, "gpa2hva"))
		return 1;
	base = 0;
	while (base < n && w[base] != '/')
		base++;
	/* the /fmt suffix is only for x, xp and print */
	return word_is(w, base, "x") || word_is(w, base, "xp") ||
	       word_is(w, base, "p") || word_is(w, base, "print");
}

int qmp_command_allowed(const char *cmd, json_object *args)
{
	static const char *const ok[] = {
		"qmp_capabilities", "query-status", "query-cpus-fast",
		"query-version", "query-name", "query-target", "query-kvm",
		"stop", "cont", "memsave", "pmemsave",
	};
	json_object *cl;

	if (!cmd)
		return 0;
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		if (!strcmp(cmd, ok[i]))
			return 1;
	if (strcmp(cmd, "human-monitor-command"))
		return 0;
	if (!args || !json_object_is_type(args, json_type_object) ||
	    !json_object_object_get_ex(args, "command-line", &cl) ||
	    !json_object_is_type(cl, json_type_string))
		return 0;
	return hmp_line_allowed(json_object_get_string(cl));
}

/* ---- spec parsing ---- */

/* Splits "tcp:HOST:PORT" (HOST may be "[v6]"). Returns 0 on success. */
static int split_tcp(const char *spec, char *host, size_t hn, char *port,
		     size_t pn)
{
	const char *h, *c;
	size_t len;

	if (strncmp(spec, "tcp:", 4))
		return -1;
	h = spec + 4;
	c = strrchr(h, ':');
	if (!c || !c[1] || strlen(c + 1) >= pn)
		return -1;
	len = (size_t)(c - h);
	if (len >= 2 && h[0] == '[' && h[len - 1] == ']') {
		h++;
		len -= 2;
	}
	if (len >= hn)
		return -1;
	memcpy(host, h, len);
	host[len] = 0;
	strcpy(port, c + 1);
	return 0;
}

static int host_is_loopback(const char *host)
{
	return !*host || !strcmp(host, "localhost") || !strcmp(host, "::1") ||
	       !strncmp(host, "127.", 4) || !strcmp(host, "ip6-localhost");
}

int qmp_spec_is_remote(const char *spec)
{
	char host[256], port[32];

	if (!spec || split_tcp(spec, host, sizeof host, port, sizeof port))
		return 0;
	return !host_is_loopback(host);
}

/* ---- connection state ---- */

static void die(struct qmp *q, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void die(struct qmp *q, int code, const char *fmt, ...)
{
	va_list ap;

	if (q->dead)
		return; /* the first cause is the one to report */
	q->dead = code;
	va_start(ap, fmt);
	vsnprintf(q->dead_msg, sizeof q->dead_msg, fmt, ap);
	va_end(ap);
}

static struct outstanding *find_out(struct qmp *q, uint64_t id, size_t *idx)
{
	for (size_t i = 0; i < q->nout; i++)
		if (q->out[i].id == id) {
			if (idx)
				*idx = i;
			return &q->out[i];
		}
	return NULL;
}

static void drop_out(struct qmp *q, size_t i)
{
	q->out[i] = q->out[--q->nout];
}

static void push_event(struct qmp *q, const struct qmp_event *ev)
{
	if (q->evcount == EVQ_CAP) { /* a reader that never pops loses the oldest */
		q->evhead = (q->evhead + 1) % EVQ_CAP;
		q->evcount--;
	}
	q->evq[(q->evhead + q->evcount) % EVQ_CAP] = *ev;
	q->evcount++;
	q->new_events++;
}

int qmp_next_event(struct qmp *q, struct qmp_event *ev)
{
	if (!q || !q->evcount)
		return 0;
	if (ev)
		*ev = q->evq[q->evhead];
	q->evhead = (q->evhead + 1) % EVQ_CAP;
	q->evcount--;
	return 1;
}

/* ---- message classification (shared by the stream and qmp_parse_message) ---- */

static enum qmp_event_kind event_kind(const char *name)
{
	static const struct { const char *n; enum qmp_event_kind k; } t[] = {
		{ "STOP", QMP_EV_STOP }, { "RESUME", QMP_EV_RESUME },
		{ "SHUTDOWN", QMP_EV_SHUTDOWN }, { "RESET", QMP_EV_RESET },
		{ "GUEST_PANICKED", QMP_EV_GUEST_PANICKED },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (!strcmp(name, t[i].n))
			return t[i].k;
	return QMP_EV_OTHER;
}

static int get_int(json_object *o, const char *key, int64_t *v)
{
	json_object *x;

	if (!json_object_object_get_ex(o, key, &x) ||
	    !json_object_is_type(x, json_type_int))
		return 0;
	*v = json_object_get_int64(x);
	return 1;
}

static void copy_str(char *dst, size_t n, json_object *o, const char *key)
{
	json_object *x;
	const char *s = "";

	if (o && json_object_object_get_ex(o, key, &x) &&
	    json_object_is_type(x, json_type_string))
		s = json_object_get_string(x);
	snprintf(dst, n, "%s", s);
}

/* Classifies o (not consumed) into m; ret gets a new reference. */
static int classify(json_object *o, struct qmp_msg *m, char *err, size_t errlen)
{
	json_object *x, *v;

	memset(m, 0, sizeof *m);
	if (!json_object_is_type(o, json_type_object)) {
		seterr(err, errlen, "peer does not speak QMP (a %s where a JSON object was expected)",
		       json_type_to_name(json_object_get_type(o)));
		return QMP_E_PROTO;
	}
	if (json_object_object_get_ex(o, "id", &x)) {
		/* we only send integer ids >= 1; any other id matches nobody */
		int64_t id = json_object_is_type(x, json_type_int) ?
			     json_object_get_int64(x) : 0;
		m->has_id = 1;
		m->id = id > 0 ? (uint64_t)id : 0;
	}
	if (json_object_object_get_ex(o, "QMP", &x)) {
		int64_t maj = 0, min = 0, mic = 0;

		m->kind = QMP_MSG_GREETING;
		if (json_object_is_type(x, json_type_object) &&
		    json_object_object_get_ex(x, "version", &v) &&
		    json_object_object_get_ex(v, "qemu", &v) &&
		    get_int(v, "major", &maj) && get_int(v, "minor", &min) &&
		    get_int(v, "micro", &mic) && maj >= 0 && maj < 10000 &&
		    min >= 0 && min < 100 && mic >= 0 && mic < 100)
			m->version = (int)(maj * 10000 + min * 100 + mic);
		return 0;
	}
	if (json_object_object_get_ex(o, "event", &x)) {
		if (!json_object_is_type(x, json_type_string)) {
			seterr(err, errlen, "peer does not speak QMP (event name is not a string)");
			return QMP_E_PROTO;
		}
		m->kind = QMP_MSG_EVENT;
		snprintf(m->ev.name, sizeof m->ev.name, "%s", json_object_get_string(x));
		m->ev.kind = event_kind(m->ev.name);
		if (json_object_object_get_ex(o, "timestamp", &v) &&
		    json_object_is_type(v, json_type_object)) {
			get_int(v, "seconds", &m->ev.ts_sec);
			get_int(v, "microseconds", &m->ev.ts_usec);
		}
		return 0;
	}
	if (json_object_object_get_ex(o, "return", &x)) {
		m->kind = QMP_MSG_RETURN;
		m->ret = json_object_get(x);
		return 0;
	}
	if (json_object_object_get_ex(o, "error", &x)) {
		m->kind = QMP_MSG_ERROR;
		if (json_object_is_type(x, json_type_object)) {
			copy_str(m->errclass, sizeof m->errclass, x, "class");
			copy_str(m->errdesc, sizeof m->errdesc, x, "desc");
		}
		if (!m->errdesc[0])
			snprintf(m->errdesc, sizeof m->errdesc, "error without description");
		return 0;
	}
	seterr(err, errlen, "peer does not speak QMP (a message that is no greeting, reply or event)");
	return QMP_E_PROTO;
}

void qmp_msg_clear(struct qmp_msg *m)
{
	if (!m)
		return;
	json_object_put(m->ret);
	m->ret = NULL;
}

int qmp_parse_message(const char *text, size_t len, struct qmp_msg *m,
		      char *err, size_t errlen)
{
	json_tokener *tok;
	json_object *o;
	size_t end;
	int rc;

	if (len > QMP_MAX_MSG) {
		seterr(err, errlen, "peer does not speak QMP (message longer than %u bytes)",
		       QMP_MAX_MSG);
		return QMP_E_PROTO;
	}
	tok = json_tokener_new_ex(JSON_DEPTH);
	if (!tok) {
		seterr(err, errlen, "out of memory");
		return QMP_E_NOMEM;
	}
	o = json_tokener_parse_ex(tok, text, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (!o) {
		enum json_tokener_error e = json_tokener_get_error(tok);

		json_tokener_free(tok);
		seterr(err, errlen, "peer does not speak QMP (%s)",
		       e == json_tokener_continue ? "incomplete JSON"
						  : json_tokener_error_desc(e));
		return QMP_E_PROTO;
	}
	json_tokener_free(tok);
	for (; end < len; end++)
		if (!is_ws(text[end])) {
			json_object_put(o);
			seterr(err, errlen, "peer does not speak QMP (text after the JSON message)");
			return QMP_E_PROTO;
		}
	rc = classify(o, m, err, errlen);
	json_object_put(o);
	return rc;
}

/* ---- stream ---- */

static int store_reply(struct qmp *q, uint64_t id, json_object *o)
{
	if (q->nrep == q->caprep) {
		size_t n = q->caprep ? q->caprep * 2 : 8;
		struct stored *r = realloc(q->rep, n * sizeof *r);

		if (!r)
			return -1;
		q->rep = r;
		q->caprep = n;
	}
	q->rep[q->nrep].id = id;
	q->rep[q->nrep].msg = json_object_get(o);
	q->nrep++;
	return 0;
}

static void handle_message(struct qmp *q, json_object *o)
{
	struct qmp_msg m;
	char e[200];
	size_t idx;

	if (classify(o, &m, e, sizeof e)) {
		die(q, QMP_E_PROTO, "qmp: %s: %s", q->spec, e);
		return;
	}
	switch (m.kind) {
	case QMP_MSG_GREETING:
		if (!q->greeted) {
			q->greeted = 1;
			q->version = m.version;
		}
		break;
	case QMP_MSG_EVENT:
		push_event(q, &m.ev);
		break;
	case QMP_MSG_RETURN:
	case QMP_MSG_ERROR:
		if (!m.has_id) {
			/* QEMU answers without id only when it could not read the
			 * request; it executes in order, so it is the oldest one */
			uint64_t lo = UINT64_MAX;
			for (size_t i = 0; i < q->nout; i++)
				if (q->out[i].id < lo && !q->out[i].answered)
					lo = q->out[i].id;
			if (lo == UINT64_MAX)
				break;
			m.id = lo;
		}
		/* replies to ids nobody waits for (abandoned after a timeout)
		 * and duplicates are dropped: what we keep stays bounded */
		if (find_out(q, m.id, &idx) && !q->out[idx].answered) {
			q->out[idx].answered = 1;
			if (store_reply(q, m.id, o))
				die(q, QMP_E_NOMEM, "qmp: out of memory");
		}
		break;
	}
	qmp_msg_clear(&m);
}

/* Feeds received bytes to the tokener; complete messages are handled. */
static void feed(struct qmp *q, const char *buf, size_t n)
{
	size_t off = 0;

	while (off < n && !q->dead) {
		size_t chunk = n - off, end;
		json_object *o;
		enum json_tokener_error e;

		if (!q->msg_bytes && is_ws(buf[off])) {
			off++; /* between messages: msg_bytes counts messages only */
			continue;
		}
		/* never let the tokener hold more than QMP_MAX_MSG bytes */
		if (chunk > QMP_MAX_MSG - q->msg_bytes + 1)
			chunk = QMP_MAX_MSG - q->msg_bytes + 1;
		o = json_tokener_parse_ex(q->tok, buf + off, (int)chunk);
		e = json_tokener_get_error(q->tok);
		end = json_tokener_get_parse_end(q->tok);
		if (o) {
			off += end;
			json_tokener_reset(q->tok);
			q->msg_bytes = 0;
			handle_message(q, o);
			json_object_put(o);
			continue;
		}
		if (e != json_tokener_continue) {
			/* show what the peer sent: a wrong port is obvious then */
			char got[32];
			size_t k = 0;

			for (size_t i = off; i < n && k < 24 && buf[i] != '\r' && buf[i] != '\n'; i++)
				got[k++] = buf[i] >= 0x20 && buf[i] < 0x7f ? buf[i] : '?';
			got[k] = 0;
			die(q, QMP_E_PROTO, "qmp: %s: peer does not speak QMP (%s, at \"%s\")",
			    q->spec, json_tokener_error_desc(e), got);
			return;
		}
		off += chunk;
		q->msg_bytes += chunk;
		if (q->msg_bytes > QMP_MAX_MSG) {
			die(q, QMP_E_PROTO, "qmp: %s: peer does not speak QMP (message longer than %u MiB)",
			    q->spec, QMP_MAX_MSG >> 20);
			return;
		}
	}
}

/* Waits up to timeout_ms for data, then reads all that is available.
 * Returns 1 if bytes were read, 0 on timeout, or a negative code (q->dead
 * set). */
static int pump(struct qmp *q, int timeout_ms)
{
	char buf[65536];
	struct pollfd pfd = { .fd = q->fd, .events = POLLIN };
	int got = 0, r;

	if (q->dead)
		return q->dead;
	r = poll(&pfd, 1, timeout_ms);
	if (r < 0) {
		if (errno == EINTR)
			return 0;
		die(q, QMP_E_IO, "qmp: %s: poll: %s", q->spec, strerror(errno));
		return q->dead;
	}
	if (r == 0)
		return 0;
	for (;;) {
		ssize_t n = recv(q->fd, buf, sizeof buf, 0);

		if (n > 0) {
			got = 1;
			feed(q, buf, (size_t)n);
			if (q->dead)
				return q->dead;
			if ((size_t)n < sizeof buf)
				break;
			continue;
		}
		if (n == 0) {
			die(q, QMP_E_CLOSED, "qmp: %s: QEMU closed the connection%s", q->spec,
			    q->msg_bytes ? " in the middle of a message" : "");
			return q->dead;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		if (errno == ECONNRESET)
			die(q, QMP_E_CLOSED, "qmp: %s: QEMU closed the connection (reset)", q->spec);
		else
			die(q, QMP_E_IO, "qmp: %s: recv: %s", q->spec, strerror(errno));
		return q->dead;
	}
	return got;
}

static int send_all(struct qmp *q, const char *s, size_t n, int64_t deadline,
		    char *err, size_t errlen)
{
	while (n) {
		ssize_t w = send(q->fd, s, n, MSG_NOSIGNAL); /* SIGPIPE must not kill us */

		if (w > 0) {
			s += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = { .fd = q->fd, .events = POLLOUT };
			int t = remaining(deadline);

			if (t == 0 || poll(&pfd, 1, t) == 0) {
				seterr(err, errlen, "qmp: %s: QEMU does not read its QMP socket (send timed out)",
				       q->spec);
				return QMP_E_TIMEOUT;
			}
			continue;
		}
		if (w < 0 && (errno == EPIPE || errno == ECONNRESET))
			die(q, QMP_E_CLOSED, "qmp: %s: QEMU closed the connection", q->spec);
		else
			die(q, QMP_E_IO, "qmp: %s: send: %s", q->spec,
			    w < 0 ? strerror(errno) : "no progress");
		seterr(err, errlen, "%s", q->dead_msg);
		return q->dead;
	}
	return 0;
}

static int send_cmd(struct qmp *q, const char *cmd, json_object *args,
		    uint64_t *idp, int64_t deadline, char *err, size_t errlen)
{
	json_object *o;
	const char *s;
	char *line;
	size_t n;
	int rc;
	uint64_t id;

	if (q->dead) {
		seterr(err, errlen, "%s", q->dead_msg);
		return q->dead;
	}
	if (q->nout == q->capout) {
		size_t c = q->capout ? q->capout * 2 : 8;
		struct outstanding *no = realloc(q->out, c * sizeof *no);

		if (!no) {
			seterr(err, errlen, "qmp: out of memory");
			return QMP_E_NOMEM;
		}
		q->out = no;
		q->capout = c;
	}
	id = q->next_id++;
	o = json_object_new_object();
	if (!o) {
		seterr(err, errlen, "qmp: out of memory");
		return QMP_E_NOMEM;
	}
	json_object_object_add(o, "execute", json_object_new_string(cmd));
	if (args)
		json_object_object_add(o, "arguments", json_object_get(args));
	json_object_object_add(o, "id", json_object_new_int64((int64_t)id));
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	n = s ? strlen(s) : 0;
	line = s ? malloc(n + 2) : NULL;
	if (!line) {
		json_object_put(o);
		seterr(err, errlen, "qmp: out of memory");
		return QMP_E_NOMEM;
	}
	memcpy(line, s, n);
	line[n++] = '\n';
	json_object_put(o);
	rc = send_all(q, line, n, deadline, err, errlen);
	free(line);
	if (rc)
		return rc;
	memset(&q->out[q->nout], 0, sizeof q->out[q->nout]);
	q->out[q->nout].id = id;
	snprintf(q->out[q->nout].cmd, sizeof q->out[q->nout].cmd, "%s", cmd);
	q->nout++;
	*idp = id;
	return 0;
}

static int take_reply(struct qmp *q, uint64_t id, json_object **msg)
{
	for (size_t i = 0; i < q->nrep; i++)
		if (q->rep[i].id == id) {
			*msg = q->rep[i].msg;
			q->rep[i] = q->rep[--q->nrep];
			return 1;
		}
	return 0;
}

/* Waits for the reply to id until deadline. Sets *ret to a new reference to
 * "return" on success. */
static int wait_reply(struct qmp *q, uint64_t id, int64_t deadline, int tmo_ms,
		      json_object **ret, char *err, size_t errlen)
{
	struct outstanding *o;
	size_t idx;
	char cmd[40], t[32];
	json_object *msg = NULL, *x;
	int rc = 0;

	o = find_out(q, id, &idx);
	if (!o) {
		seterr(err, errlen, "qmp: no request with id %llu is waiting for its reply",
		       (unsigned long long)id);
		return QMP_E_IO;
	}
	snprintf(cmd, sizeof cmd, "%s", o->cmd);
	while (!take_reply(q, id, &msg)) {
		int r, tm;

		if (q->dead) {
			seterr(err, errlen, "%s", q->dead_msg);
			return q->dead;
		}
		tm = remaining(deadline);
		if (tm == 0) {
			/* abandon: a late reply is dropped, the stream stays usable */
			if (find_out(q, id, &idx))
				drop_out(q, idx);
			seterr(err, errlen, "qmp: %s: no reply to %s within %s (QEMU busy or hung?)",
			       q->spec, cmd, secs(tmo_ms, t, sizeof t));
			return QMP_E_TIMEOUT;
		}
		r = pump(q, tm);
		if (r < 0 && !q->nrep) {
			seterr(err, errlen, "%s", q->dead_msg);
			return r;
		}
	}
	if (find_out(q, id, &idx))
		drop_out(q, idx);
	if (json_object_object_get_ex(msg, "error", &x)) {
		struct qmp_msg m;

		if (classify(msg, &m, NULL, 0) == 0)
			seterr(err, errlen, "qmp: %s: %s", cmd, m.errdesc);
		else
			seterr(err, errlen, "qmp: %s failed", cmd);
		qmp_msg_clear(&m);
		rc = QMP_E_ERROR;
	} else if (ret) {
		json_object_object_get_ex(msg, "return", &x);
		*ret = json_object_get(x);
	}
	json_object_put(msg);
	return rc;
}

/* ---- connect ---- */

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Nonblocking connect bounded by deadline. Returns 0 or -errno. */
static int connect_wait(int fd, const struct sockaddr *sa, socklen_t len,
			int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	int soerr = 0;
	socklen_t sl = sizeof soerr;

	if (connect(fd, sa, len) == 0)
		return 0;
	if (errno != EINPROGRESS && errno != EAGAIN)
		return -errno;
	if (poll(&pfd, 1, remaining(deadline)) <= 0)
		return -ETIMEDOUT;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		return -errno;
	return soerr ? -soerr : 0;
}

static int open_unix(const char *path, int64_t deadline, int *fdp, char *err,
		     size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r;

	if (stat(path, &st) < 0) {
		if (errno == ENOENT || errno == ENOTDIR) {
			seterr(err, errlen, "qmp: %s: no such file (is QEMU running with -qmp unix:%s,server=on,wait=off?)",
			       path, path);
			return QMP_E_NOENT;
		}
		seterr(err, errlen, "qmp: %s: %s", path, strerror(errno));
		return QMP_E_IO;
	}
	if (!S_ISSOCK(st.st_mode)) {
		seterr(err, errlen, "qmp: %s: not a socket (give the path of QEMU's -qmp unix:PATH,server=on,wait=off)",
		       path);
		return QMP_E_NOTSOCK;
	}
	if (strlen(path) >= sizeof sa.sun_path) {
		seterr(err, errlen, "qmp: %s: socket path too long (max %zu bytes)", path,
		       sizeof sa.sun_path - 1);
		return QMP_E_IO;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		seterr(err, errlen, "qmp: socket: %s", strerror(errno));
		return QMP_E_IO;
	}
	r = connect_wait(fd, (struct sockaddr *)&sa, sizeof sa, deadline);
	if (r) {
		close(fd);
		if (r == -ECONNREFUSED) {
			seterr(err, errlen, "qmp: %s: connection refused (nobody listening: QEMU exited and left a stale socket?)",
			       path);
			return QMP_E_REFUSED;
		}
		if (r == -ETIMEDOUT || r == -EAGAIN) {
			/* a full listen backlog: QMP busy with another client */
			seterr(err, errlen, "qmp: %s: connect timed out: another client probably holds the QMP socket (QMP serves one client at a time)",
			       path);
			return QMP_E_NOGREET;
		}
		seterr(err, errlen, "qmp: %s: %s", path, strerror(-r));
		return QMP_E_IO;
	}
	*fdp = fd;
	return 0;
}

static int open_tcp(const char *spec, int64_t deadline, int *fdp, char *err,
		    size_t errlen)
{
	char host[256], port[32];
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai, *a;
	int r, fd = -1, last = 0;

	if (split_tcp(spec, host, sizeof host, port, sizeof port)) {
		seterr(err, errlen, "qmp: %s: expected tcp:HOST:PORT", spec);
		return QMP_E_IO;
	}
	r = getaddrinfo(*host ? host : "localhost", port, &hints, &ai);
	if (r) {
		seterr(err, errlen, "qmp: %s: %s", spec, gai_strerror(r));
		return QMP_E_IO;
	}
	for (a = ai; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			    a->ai_protocol);
		if (fd < 0) {
			last = -errno;
			continue;
		}
		last = connect_wait(fd, a->ai_addr, a->ai_addrlen, deadline);
		if (!last)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0) {
		if (last == -ECONNREFUSED) {
			seterr(err, errlen, "qmp: %s: connection refused (is QEMU running with -qmp tcp:%s:%s,server=on,wait=off?)",
			       spec, host, port);
			return QMP_E_REFUSED;
		}
		if (last == -ETIMEDOUT) {
			seterr(err, errlen, "qmp: %s: connect timed out", spec);
			return QMP_E_TIMEOUT;
		}
		seterr(err, errlen, "qmp: %s: %s", spec, strerror(-last));
		return QMP_E_IO;
	}
	r = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &r, sizeof r); /* latency */
	*fdp = fd;
	return 0;
}

static int handshake(struct qmp *q, int timeout_ms, int64_t deadline,
		     char *err, size_t errlen)
{
	char t[32];
	uint64_t id;
	int rc;

	while (!q->greeted) {
		int tm = remaining(deadline), r;

		if (tm == 0) {
			if (q->msg_bytes) {
				seterr(err, errlen, "qmp: %s: incomplete greeting within %s: peer does not speak QMP",
				       q->spec, secs(timeout_ms, t, sizeof t));
				return QMP_E_PROTO;
			}
			seterr(err, errlen, "qmp: %s: no QMP greeting within %s: another client probably holds the QMP socket (QMP serves one client at a time)",
			       q->spec, secs(timeout_ms, t, sizeof t));
			return QMP_E_NOGREET;
		}
		r = pump(q, tm);
		if (r < 0 && !q->greeted) {
			if (r == QMP_E_CLOSED)
				seterr(err, errlen, "qmp: %s: QEMU closed the connection before its greeting",
				       q->spec);
			else
				seterr(err, errlen, "%s", q->dead_msg);
			return r;
		}
		if (!q->greeted && (q->nrep || q->evcount)) {
			/* a reply or event first: not a QMP server's behaviour */
			seterr(err, errlen, "qmp: %s: peer does not speak QMP (no greeting first)",
			       q->spec);
			return QMP_E_PROTO;
		}
	}
	rc = send_cmd(q, "qmp_capabilities", NULL, &id, deadline, err, errlen);
	if (rc)
		return rc;
	rc = wait_reply(q, id, deadline, timeout_ms, NULL, err, errlen);
	if (rc == QMP_E_TIMEOUT)
		seterr(err, errlen, "qmp: %s: no reply to qmp_capabilities within %s",
		       q->spec, secs(timeout_ms, t, sizeof t));
	return rc;
}

static struct qmp *setup(int fd, const char *spec, int local, int timeout_ms,
			 int64_t deadline, int *errcode, char *err,
			 size_t errlen)
{
	struct qmp *q = calloc(1, sizeof *q);
	int rc;

	if (!q || !(q->tok = json_tokener_new_ex(JSON_DEPTH))) {
		free(q);
		close(fd);
		*errcode = QMP_E_NOMEM;
		seterr(err, errlen, "qmp: out of memory");
		return NULL;
	}
	q->fd = fd;
	q->local = local;
	q->timeout_ms = DEFAULT_TIMEOUT_MS;
	q->next_id = 1;
	snprintf(q->spec, sizeof q->spec, "%s", spec);
	rc = handshake(q, timeout_ms, deadline, err, errlen);
	if (rc) {
		qmp_close(q);
		*errcode = rc;
		return NULL;
	}
	*errcode = QMP_OK;
	return q;
}

struct qmp *qmp_connect(const char *spec, int timeout_ms, int *errcode,
			char *err, size_t errlen)
{
	int dummy, fd = -1, rc, tcp;
	int64_t deadline;

	if (!errcode)
		errcode = &dummy;
	if (!spec || !*spec) {
		*errcode = QMP_E_NOENT;
		seterr(err, errlen, "qmp: no QMP socket given");
		return NULL;
	}
	if (timeout_ms <= 0)
		timeout_ms = DEFAULT_CONNECT_MS;
	deadline = now_ms() + timeout_ms;
	tcp = !strncmp(spec, "tcp:", 4);
	rc = tcp ? open_tcp(spec, deadline, &fd, err, errlen)
		 : open_unix(spec, deadline, &fd, err, errlen);
	if (rc) {
		*errcode = rc;
		return NULL;
	}
	return setup(fd, spec, !tcp || !qmp_spec_is_remote(spec), timeout_ms,
		     deadline, errcode, err, errlen);
}

struct qmp *qmp_connect_fd(int fd, int timeout_ms, int *errcode, char *err,
			   size_t errlen)
{
	int dummy;

	if (!errcode)
		errcode = &dummy;
	if (fd < 0 || set_nonblock(fd) < 0) {
		if (fd >= 0)
			close(fd);
		*errcode = QMP_E_IO;
		seterr(err, errlen, "qmp: bad file descriptor");
		return NULL;
	}
	if (timeout_ms <= 0)
		timeout_ms = DEFAULT_CONNECT_MS;
	return setup(fd, "fd", 1, timeout_ms, now_ms() + timeout_ms, errcode,
		     err, errlen);
}

void qmp_close(struct qmp *q)
{
	if (!q)
		return;
	if (q->fd >= 0)
		close(q->fd);
	if (q->tok)
		json_tokener_free(q->tok);
	for (size_t i = 0; i < q->nrep; i++)
		json_object_put(q->rep[i].msg);
	free(q->rep);
	free(q->out);
	free(q);
}

void qmp_set_timeout(struct qmp *q, int timeout_ms)
{
	if (q)
		q->timeout_ms = timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS;
}

int qmp_fd(const struct qmp *q) { return q ? q->fd : -1; }
int qmp_qemu_version(const struct qmp *q) { return q ? q->version : 0; }
int qmp_is_local(const struct qmp *q) { return q ? q->local : 0; }

int qmp_wait_readable(struct qmp *q, int timeout_ms)
{
	struct pollfd p = { .fd = q ? q->fd : -1, .events = POLLIN };
	if (!q || q->fd < 0)
		return -1;
	int r = poll(&p, 1, timeout_ms);
	return r < 0 ? -1 : r > 0;
}

int qmp_peer_pid(const struct qmp *q)
{
	struct ucred cr;
	socklen_t n = sizeof cr;
	struct sockaddr_storage sa;
	socklen_t sn = sizeof sa;

	if (!q || q->fd < 0 || getsockname(q->fd, (struct sockaddr *)&sa, &sn) < 0 ||
	    sa.ss_family != AF_UNIX)
		return 0;
	if (getsockopt(q->fd, SOL_SOCKET, SO_PEERCRED, &cr, &n) < 0 || n != sizeof cr)
		return 0;
	return cr.pid > 0 ? (int)cr.pid : 0;
}

/* ---- commands ---- */

int qmp_send(struct qmp *q, const char *cmd, json_object *args, uint64_t *id,
	     char *err, size_t errlen)
{
	uint64_t dummy;

	if (!qmp_command_allowed(cmd, args)) {
		json_object *cl = NULL;

		if (cmd && !strcmp(cmd, "human-monitor-command") && args &&
		    json_object_object_get_ex(args, "command-line", &cl))
			seterr(err, errlen, "qmp: refusing HMP '%.60s': only read-only HMP commands (info, x, xp, print) are sent",
			       json_object_get_string(cl));
		else
			seterr(err, errlen, "qmp: refusing to send '%.60s': not on qtop-prof's read-only allow list",
			       cmd ? cmd : "(null)");
		return QMP_E_REFUSED_CMD;
	}
	if (!q) {
		seterr(err, errlen, "qmp: not connected");
		return QMP_E_IO;
	}
	return send_cmd(q, cmd, args, id ? id : &dummy, now_ms() + q->timeout_ms,
			err, errlen);
}

int qmp_wait(struct qmp *q, uint64_t id, json_object **ret, char *err,
	     size_t errlen)
{
	if (!q) {
		seterr(err, errlen, "qmp: not connected");
		return QMP_E_IO;
	}
	return wait_reply(q, id, now_ms() + q->timeout_ms, q->timeout_ms, ret,
			  err, errlen);
}

int qmp_execute(struct qmp *q, const char *cmd, json_object *args,
		json_object **ret, char *err, size_t errlen)
{
	uint64_t id;
	int rc = qmp_send(q, cmd, args, &id, err, errlen);

	return rc ? rc : qmp_wait(q, id, ret, err, errlen);
}

int qmp_hmp_send(struct qmp *q, const char *cmdline, int cpu, uint64_t *id,
		 char *err, size_t errlen)
{
	json_object *a = json_object_new_object();
	int rc;

	if (!a) {
		seterr(err, errlen, "qmp: out of memory");
		return QMP_E_NOMEM;
	}
	json_object_object_add(a, "command-line", json_object_new_string(cmdline ? cmdline : ""));
	/* The HMP "cpu N" selection does not persist: every call names its
	 * vCPU, except vCPU 0, QEMU's default: QEMU's monitor reads a request
	 * one byte per system call, so every byte sent costs (doc/performance.md). */
	if (cpu > 0)
		json_object_object_add(a, "cpu-index", json_object_new_int(cpu));
	rc = qmp_send(q, "human-monitor-command", a, id, err, errlen);
	json_object_put(a);
	return rc;
}

int qmp_hmp_wait(struct qmp *q, uint64_t id, char **out, char *err,
		 size_t errlen)
{
	json_object *r = NULL;
	int rc = qmp_wait(q, id, &r, err, errlen);
	char *s;

	if (rc)
		return rc;
	if (!json_object_is_type(r, json_type_string)) {
		json_object_put(r);
		seterr(err, errlen, "qmp: human-monitor-command returned no text");
		return QMP_E_PROTO;
	}
	if (out) {
		s = strdup(json_object_get_string(r));
		if (!s) {
			json_object_put(r);
			seterr(err, errlen, "qmp: out of memory");
			return QMP_E_NOMEM;
		}
		*out = s;
	}
	json_object_put(r);
	return 0;
}

int qmp_hmp(struct qmp *q, const char *cmdline, int cpu, char **out,
	    char *err, size_t errlen)
{
	uint64_t id;
	int rc = qmp_hmp_send(q, cmdline, cpu, &id, err, errlen);

	return rc ? rc : qmp_hmp_wait(q, id, out, err, errlen);
}

int qmp_poll(struct qmp *q, int timeout_ms, char *err, size_t errlen)
{
	int r;

	if (!q) {
		seterr(err, errlen, "qmp: not connected");
		return QMP_E_IO;
	}
	q->new_events = 0;
	r = pump(q, timeout_ms < 0 ? 0 : timeout_ms);
	if (r < 0) {
		/* events that arrived just before the close still count */
		if (q->new_events)
			return q->new_events;
		seterr(err, errlen, "%s", q->dead_msg);
		return r;
	}
	return q->new_events;
}
