/* qmp_fault_test - the QMP client against a misbehaving fake server
 * (fakeqmp.py) and against plain connection errors: every case must give its
 * qmp_err, a one-line message, and no crash or hang.
 *
 * Usage: qmp_fault_test PYTHON FAKEQMP.PY CASE */
#include "qmp.h"
#include "regs.h"
#include "../unit/acquire/check.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[] = "/tmp/qmpfault.XXXXXX";
static char sock[256], portfile[256], spec[300];
static pid_t server = -1;

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Starts fakeqmp.py MODE and waits until it listens. */
static void start(const char *py, const char *script, const char *mode, int tcp)
{
	char where[300];

	snprintf(where, sizeof where, tcp ? "tcp:%s" : "unix:%s", tcp ? portfile : sock);
	server = fork();
	if (server == 0) {
		execlp(py, py, script, mode, where, (char *)NULL);
		_exit(127);
	}
	/* readiness, not timing: the file appears once the server listens */
	for (int i = 0; access(tcp ? portfile : sock, F_OK); i++) {
		int st;
		if (i == 3000 || waitpid(server, &st, WNOHANG) == server) {
			fprintf(stderr, "fakeqmp.py did not start\n");
			exit(2);
		}
		msleep(10);
	}
	if (tcp) {
		FILE *f = fopen(portfile, "r");
		int port = 0;
		if (!f || fscanf(f, "%d", &port) != 1)
			exit(2);
		fclose(f);
		snprintf(spec, sizeof spec, "tcp:127.0.0.1:%d", port);
	} else {
		snprintf(spec, sizeof spec, "%s", sock);
	}
}

static void cleanup(void)
{
	if (server > 0) {
		kill(server, SIGKILL);
		waitpid(server, NULL, 0);
		server = -1;
	}
	unlink(sock);
	unlink(portfile);
	rmdir(dir);
}

static int oneline(const char *s)
{
	return *s && !strchr(s, '\n');
}

static struct qmp *conn(int timeout_ms, int *rc, char *err, size_t n)
{
	struct qmp *q = qmp_connect(spec, timeout_ms, rc, err, n);
	CHECK(q ? *rc == 0 : *rc < 0);
	CHECK(q || oneline(err));
	if (!q)
		fprintf(stderr, "connect: %s\n", err);
	return q;
}

static long maxrss_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* A normal session: handshake, a query, HMP text, a pipelined batch. */
static void session(struct qmp *q)
{
	char err[256], *text = NULL;
	json_object *r = NULL;
	struct qp_regs regs;
	uint64_t id[4];

	CHECK_RC(qmp_qemu_version(q), 70222);
	CHECK_RC(qmp_execute(q, "query-status", NULL, &r, err, sizeof err), 0);
	CHECK(r && !strcmp(json_object_get_string(json_object_object_get(r, "status")), "prelaunch"));
	json_object_put(r);
	CHECK_RC(qmp_hmp(q, "info registers", 0, &text, err, sizeof err), 0);
	CHECK(text && regs_parse(text, strlen(text), &regs) == 0 &&
	      regs.ip == 0xffffffff81000000ull);
	free(text);
	for (int i = 0; i < 4; i++)
		CHECK_RC(qmp_send(q, "query-status", NULL, &id[i], err, sizeof err), 0);
	for (int i = 3; i >= 0; i--)
		CHECK_RC(qmp_wait(q, id[i], NULL, err, sizeof err), 0);
}

static int run(const char *py, const char *script, const char *c)
{
	char err[256] = "";
	int rc = 1;
	struct qmp *q = NULL;
	json_object *r = NULL;

	signal(SIGPIPE, SIG_DFL); /* the client must survive without our help */
	if (!mkdtemp(dir))
		return 2;
	snprintf(sock, sizeof sock, "%s/qmp", dir);
	snprintf(portfile, sizeof portfile, "%s/port", dir);
	atexit(cleanup);

	if (!strcmp(c, "noent")) {
		q = qmp_connect(sock, 1000, &rc, err, sizeof err);
		CHECK(!q);
		CHECK_RC(rc, QMP_E_NOENT);
		CHECK(strstr(err, "no such file") && strstr(err, "-qmp unix:"));
	} else if (!strcmp(c, "notsock")) {
		FILE *f = fopen(sock, "w");
		fclose(f);
		q = qmp_connect(sock, 1000, &rc, err, sizeof err);
		CHECK(!q);
		CHECK_RC(rc, QMP_E_NOTSOCK);
		CHECK(strstr(err, "not a socket"));
	} else if (!strcmp(c, "refused")) {
		/* a socket file nobody listens on: QEMU exited uncleanly */
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		strcpy(sa.sun_path, sock);
		CHECK(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
		close(fd);
		q = qmp_connect(sock, 1000, &rc, err, sizeof err);
		CHECK(!q);
		CHECK_RC(rc, QMP_E_REFUSED);
		CHECK(strstr(err, "connection refused"));
	} else if (!strcmp(c, "tcprefused")) {
		struct sockaddr_in sa = { .sin_family = AF_INET,
			.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t sl = sizeof sa;
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		CHECK(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
		getsockname(fd, (struct sockaddr *)&sa, &sl);
		close(fd); /* the port is now (almost certainly) closed */
		snprintf(spec, sizeof spec, "tcp:127.0.0.1:%d", ntohs(sa.sin_port));
		q = qmp_connect(spec, 1000, &rc, err, sizeof err);
		CHECK(!q);
		CHECK_RC(rc, QMP_E_REFUSED);
		CHECK(strstr(err, "connection refused"));
	} else if (!strcmp(c, "ok") || !strcmp(c, "split") || !strcmp(c, "tcp")) {
		start(py, script, !strcmp(c, "tcp") ? "split" : c, !strcmp(c, "tcp"));
		q = conn(5000, &rc, err, sizeof err);
		CHECK_RC(rc, 0);
		if (q) {
			CHECK(qmp_is_local(q));
			session(q);
		}
	} else if (!strcmp(c, "nogreet")) {
		start(py, script, c, 0);
		q = conn(500, &rc, err, sizeof err);
		CHECK_RC(rc, QMP_E_NOGREET);
		CHECK(strstr(err, "no QMP greeting within 0.5 s") &&
		      strstr(err, "another client"));
	} else if (!strcmp(c, "badgreet") || !strcmp(c, "garbage")) {
		start(py, script, c, 0);
		q = conn(2000, &rc, err, sizeof err);
		CHECK_RC(rc, QMP_E_PROTO);
		CHECK(strstr(err, "does not speak QMP"));
	} else if (!strcmp(c, "closegreet")) {
		start(py, script, c, 0);
		q = conn(2000, &rc, err, sizeof err);
		CHECK_RC(rc, QMP_E_CLOSED);
		CHECK(strstr(err, "closed the connection"));
	} else if (!strcmp(c, "badjson") || !strcmp(c, "deep")) {
		start(py, script, c, 0);
		q = conn(2000, &rc, err, sizeof err);
		CHECK_RC(rc, 0);
		CHECK_RC(qmp_execute(q, "query-status", NULL, &r, err, sizeof err), QMP_E_PROTO);
		CHECK(r == NULL && oneline(err) && strstr(err, "does not speak QMP"));
		/* sticky: the stream cannot be resynchronised */
		CHECK_RC(qmp_execute(q, "query-status", NULL, NULL, err, sizeof err), QMP_E_PROTO);
	} else if (!strcmp(c, "truncated")) {
		start(py, script, c, 0);
		q = conn(2000, &rc, err, sizeof err);
		CHECK_RC(qmp_execute(q, "query-status", NULL, &r, err, sizeof err), QMP_E_CLOSED);
		CHECK(strstr(err, "closed the connection in the middle of a message"));
	} else if (!strcmp(c, "stall")) {
		start(py, script, c, 0);
		q = conn(2000, &rc, err, sizeof err);
		qmp_set_timeout(q, 300);
		CHECK_RC(qmp_execute(q, "query-status", NULL, &r, err, sizeof err), QMP_E_TIMEOUT);
		CHECK(strstr(err, "no reply to query-status within 0.3 s"));
		CHECK_RC(qmp_hmp(q, "info registers", 0, NULL, err, sizeof err), QMP_E_TIMEOUT);
		CHECK(strstr(err, "human-monitor-command"));
	} else if (!strcmp(c, "error")) {
		json_object *a = json_object_new_object();
		start(py, script, c, 0);
		q = conn(2000, &rc, err, sizeof err);
		json_object_object_add(a, "val", json_object_new_int64(-1));
		json_object_object_add(a, "size", json_object_new_int(4096));
		json_object_object_add(a, "filename", json_object_new_string("/dev/null"));
		CHECK_RC(qmp_execute(q, "memsave", a, &r, err, sizeof err), QMP_E_ERROR);
		CHECK(r == NULL);
		CHECK(!strcmp(err, "qmp: memsave: Invalid addr 0xffffffffffffffff/size 4096 specified"));
		/* an error reply leaves the connection usable */
		CHECK_RC(qmp_execute(q, "memsave", a, NULL, err, sizeof err), QMP_E_ERROR);
		json_object_put(a);
	} else if (!strcmp(c, "huge")) {
		long before;
		start(py, script, c, 0);
		q = conn(2000, &rc, err, sizeof err);
		qmp_set_timeout(q, 60000);
		before = maxrss_kb();
		CHECK_RC(qmp_execute(q, "query-status", NULL, &r, err, sizeof err), QMP_E_PROTO);
		CHECK(strstr(err, "longer than"));
		/* bounded: 64 MiB were sent; we may hold at most ~2x the limit */
		CHECK(maxrss_kb() - before < 3L * (QMP_MAX_MSG >> 10));
		fprintf(stderr, "huge: max RSS grew by %ld KiB\n", maxrss_kb() - before);
	} else if (!strcmp(c, "events")) {
		uint64_t id[3];
		struct qmp_event ev;
		static const enum qmp_event_kind want[] = { QMP_EV_STOP,
			QMP_EV_RESUME, QMP_EV_GUEST_PANICKED, QMP_EV_OTHER };
		char *text = NULL;

		start(py, script, c, 0);
		q = conn(2000, &rc, err, sizeof err);
		CHECK_RC(qmp_send(q, "query-status", NULL, &id[0], err, sizeof err), 0);
		CHECK_RC(qmp_hmp_send(q, "info registers", 0, &id[1], err, sizeof err), 0);
		CHECK_RC(qmp_send(q, "query-name", NULL, &id[2], err, sizeof err), 0);
		CHECK_RC(qmp_wait(q, id[0], &r, err, sizeof err), 0);
		CHECK(r && json_object_object_get(r, "running"));
		CHECK_RC(qmp_hmp_wait(q, id[1], &text, err, sizeof err), 0);
		CHECK(text && strstr(text, "RIP="));
		free(text);
		CHECK_RC(qmp_wait(q, id[2], NULL, err, sizeof err), 0);
		/* the last event follows the last reply: may need a poll */
		for (int i = 0; i < 4; i++) {
			while (!qmp_next_event(q, &ev))
				if (qmp_poll(q, 5000, err, sizeof err) <= 0)
					break;
			CHECK_EQ(ev.kind, want[i]);
		}
		CHECK(!strcmp(ev.name, "VSERPORT_CHANGE"));
		CHECK_RC(qmp_next_event(q, &ev), 0);
	} else if (!strcmp(c, "closeafter")) {
		int st;
		start(py, script, c, 0);
		q = conn(2000, &rc, err, sizeof err);
		waitpid(server, &st, 0); /* peer gone before we write: EPIPE */
		server = -1;
		CHECK_RC(qmp_execute(q, "query-status", NULL, NULL, err, sizeof err), QMP_E_CLOSED);
		CHECK_RC(qmp_hmp(q, "info registers", 0, NULL, err, sizeof err), QMP_E_CLOSED);
		CHECK(strstr(err, "closed the connection"));
	} else {
		fprintf(stderr, "unknown case %s\n", c);
		return 2;
	}
	if (*err)
		fprintf(stderr, "%s: message: %s\n", c, err);
	CHECK(!*err || oneline(err));
	json_object_put(r);
	qmp_close(q);
	return check_done(c);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s PYTHON FAKEQMP.PY CASE\n", argv[0]);
		return 2;
	}
	return run(argv[1], argv[2], argv[3]);
}
