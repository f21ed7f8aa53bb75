/* fuzz_qmp.c - libFuzzer target for the QMP client's parsing.
 *
 * 1. qmp_parse_message on the whole input (one received JSON text).
 * 2. The input as the byte stream of a QMP server over a socketpair, fed to
 *    the real client: data[0] & 1 selects whether a valid handshake comes
 *    first (then the rest answers three pipelined commands, ids 2..4) or the
 *    rest is the stream from the first byte (greeting parsing).
 * Checks: no crash, no leak, no hang, and every error is a qmp_err code
 * with a one-line message. */
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qmp.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void check_err(int rc, const char *err)
{
	if (rc > 0 || rc < QMP_E_NOMEM)
		abort();
	if (rc < 0 && (!*err || strchr(err, '\n')))
		abort();
}

static void *peer_hello(void *arg)
{
	int fd = *(int *)arg;
	static const char hello[] =
		"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, \"package\": \"\"}, \"capabilities\": [\"oob\"]}}\r\n";
	static const char ok[] = "{\"return\": {}, \"id\": 1}\r\n";
	char buf[256];

	if (write(fd, hello, sizeof hello - 1) < 0)
		return NULL;
	if (read(fd, buf, sizeof buf) > 0 && write(fd, ok, sizeof ok - 1) < 0)
		return NULL;
	return NULL;
}

/* Writes all of buf (the client drains concurrently only later, so the
 * socket buffer must hold it: inputs are capped below its size). */
static void put(int fd, const unsigned char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct qmp_msg m;
	char err[256] = "";
	int rc, sv[2], sz = 1 << 20;
	struct qmp *q;
	uint64_t id[3];
	struct qmp_event ev;
	char *text = NULL;
	json_object *r = NULL;

	rc = qmp_parse_message((const char *)data, size, &m, err, sizeof err);
	check_err(rc, err);
	if (rc == 0) {
		if (m.kind == QMP_MSG_EVENT && strlen(m.ev.name) >= sizeof m.ev.name)
			abort();
		qmp_msg_clear(&m);
	}

	if (size < 1 || size > 60000)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return 0;
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
	if (data[0] & 1) {
		pthread_t th;
		pthread_create(&th, NULL, peer_hello, &sv[1]);
		q = qmp_connect_fd(sv[0], 2000, &rc, err, sizeof err);
		pthread_join(th, NULL);
		if (!q)
			abort(); /* a valid handshake must succeed */
		qmp_set_timeout(q, 2000);
		qmp_send(q, "query-status", NULL, &id[0], err, sizeof err);
		qmp_hmp_send(q, "info registers", 0, &id[1], err, sizeof err);
		qmp_send(q, "query-name", NULL, &id[2], err, sizeof err);
		put(sv[1], data + 1, size - 1);
		shutdown(sv[1], SHUT_WR); /* EOF: the client never waits long */
		rc = qmp_wait(q, id[2], &r, err, sizeof err);
		check_err(rc, err);
		json_object_put(r);
		rc = qmp_hmp_wait(q, id[1], &text, err, sizeof err);
		check_err(rc, err);
		free(text);
		rc = qmp_wait(q, id[0], NULL, err, sizeof err);
		check_err(rc, err);
	} else {
		put(sv[1], data + 1, size - 1);
		shutdown(sv[1], SHUT_WR);
		q = qmp_connect_fd(sv[0], 2000, &rc, err, sizeof err);
		check_err(rc, err);
		if (q) {
			/* the peer never answers qmp_capabilities's successors */
			rc = qmp_execute(q, "query-status", NULL, NULL, err, sizeof err);
			check_err(rc, err);
		}
	}
	if (q) {
		rc = qmp_poll(q, 0, err, sizeof err);
		check_err(rc < 0 ? rc : 0, err);
		while (qmp_next_event(q, &ev))
			if (strlen(ev.name) >= sizeof ev.name)
				abort();
	}
	qmp_close(q);
	close(sv[1]);
	return 0;
}
