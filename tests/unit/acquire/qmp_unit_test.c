/* qmp_unit_test - the QMP client without QEMU: allow list, spec parsing,
 * message classification on real QEMU 7.2 captures, and the stream logic
 * (pipelining, out-of-order replies, events, refusal before sending) over a
 * socketpair with scripted replies. */
#include "qmp.h"
#include "check.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *dir;

static int hmp_ok(const char *line)
{
	json_object *a = json_object_new_object();
	int r;

	json_object_object_add(a, "command-line", json_object_new_string(line));
	r = qmp_command_allowed("human-monitor-command", a);
	json_object_put(a);
	return r;
}

static void test_allow(void)
{
	static const char *const ok[] = { "qmp_capabilities", "query-status",
		"query-cpus-fast", "query-version", "query-name", "query-target",
		"query-kvm", "stop", "cont", "memsave", "pmemsave" };
	static const char *const bad[] = { "quit", "system_reset",
		"system_powerdown", "device_del", "migrate", "savevm", "loadvm",
		"x-exit-preconfig", "query-statusx", "", "STOP" };

	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
		CHECK(qmp_command_allowed(ok[i], NULL));
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		CHECK(!qmp_command_allowed(bad[i], NULL));
	CHECK(!qmp_command_allowed(NULL, NULL));

	CHECK(hmp_ok("info registers"));
	CHECK(hmp_ok("info registers -a"));
	CHECK(hmp_ok("  info tlb"));
	CHECK(hmp_ok("x/8gx 0xffffffff81000000"));
	CHECK(hmp_ok("xp/16wx 0x1000"));
	CHECK(hmp_ok("x/1i $pc"));
	CHECK(hmp_ok("p $pc"));
	CHECK(hmp_ok("p/x $esp"));
	CHECK(hmp_ok("print $eax"));
	CHECK(hmp_ok("gpa2hva 0x100000"));
	CHECK(hmp_ok("info mtree -f"));
	CHECK(hmp_ok("info ramblock"));
	CHECK(!hmp_ok("gpa2hvax 0"));
	CHECK(!hmp_ok("gva2gpa2 0"));
	CHECK(!hmp_ok("quit"));
	CHECK(!hmp_ok("system_reset"));
	CHECK(!hmp_ok("cont"));
	CHECK(!hmp_ok("stop"));
	CHECK(!hmp_ok("savevm snap"));
	CHECK(!hmp_ok("gdbserver"));
	CHECK(!hmp_ok("xquit"));
	CHECK(!hmp_ok("infox"));
	CHECK(!hmp_ok("pmemsave 0 4096 /etc/passwd"));
	CHECK(!hmp_ok("sendkey ctrl-alt-delete"));
	CHECK(!hmp_ok("info registers\nquit"));      /* one command per call */
	CHECK(!hmp_ok(""));
	/* command-line missing or not a string */
	CHECK(!qmp_command_allowed("human-monitor-command", NULL));
	{
		json_object *a = json_object_new_object();
		json_object_object_add(a, "command-line", json_object_new_int(1));
		CHECK(!qmp_command_allowed("human-monitor-command", a));
		json_object_put(a);
	}
}

static void test_spec(void)
{
	CHECK(!qmp_spec_is_remote("./qmp-socket"));
	CHECK(!qmp_spec_is_remote("tcp:localhost:4444"));
	CHECK(!qmp_spec_is_remote("tcp:127.0.0.1:4444"));
	CHECK(!qmp_spec_is_remote("tcp:[::1]:4444"));
	CHECK(qmp_spec_is_remote("tcp:10.0.0.5:4444"));
	CHECK(qmp_spec_is_remote("tcp:build-host:4444"));
	CHECK(qmp_spec_is_remote("tcp:[fe80::1]:4444"));
	for (int c = QMP_E_NOMEM; c <= 0; c++)
		CHECK(qmp_strerror(c) && *qmp_strerror(c));
}

static void test_messages(void)
{
	struct qmp_msg m;
	char err[256], *t;
	size_t n;

	t = slurp(dir, "greeting.json", &n);
	CHECK_RC(qmp_parse_message(t, n, &m, err, sizeof err), 0);
	CHECK_EQ(m.kind, QMP_MSG_GREETING);
	CHECK_RC(m.version, 70222);
	qmp_msg_clear(&m);
	free(t);

	/* QEMU 10.0 (tests/data/qemu/10.0): same greeting shape */
	{
		char d10[4096];
		snprintf(d10, sizeof d10, "%s/10.0", dir);
		t = slurp(d10, "greeting.json", &n);
		CHECK_RC(qmp_parse_message(t, n, &m, err, sizeof err), 0);
		CHECK_EQ(m.kind, QMP_MSG_GREETING);
		CHECK_RC(m.version, 100002);
		qmp_msg_clear(&m);
		free(t);
		/* 10.0's query-status has no "singlestep" */
		t = slurp(d10, "reply_query_status.json", &n);
		CHECK_RC(qmp_parse_message(t, n, &m, err, sizeof err), 0);
		CHECK_EQ(m.kind, QMP_MSG_RETURN);
		CHECK(m.ret && !strcmp(json_object_get_string(json_object_object_get(m.ret, "status")), "prelaunch"));
		qmp_msg_clear(&m);
		free(t);
		t = slurp(d10, "reply_memsave_unmapped.json", &n);
		CHECK_RC(qmp_parse_message(t, n, &m, err, sizeof err), 0);
		CHECK_EQ(m.kind, QMP_MSG_ERROR);
		CHECK(!strcmp(m.errclass, "GenericError"));
		CHECK(strstr(m.errdesc, "Invalid addr 0x0000000000000000/size 8"));
		qmp_msg_clear(&m);
		free(t);
	}

	t = slurp(dir, "reply_query_status.json", &n);
	CHECK_RC(qmp_parse_message(t, n, &m, err, sizeof err), 0);
	CHECK_EQ(m.kind, QMP_MSG_RETURN);
	CHECK(m.ret && !strcmp(json_object_get_string(json_object_object_get(m.ret, "status")), "prelaunch"));
	qmp_msg_clear(&m);
	qmp_msg_clear(&m); /* twice is harmless */
	free(t);

	t = slurp(dir, "reply_memsave_unmapped.json", &n);
	CHECK_RC(qmp_parse_message(t, n, &m, err, sizeof err), 0);
	CHECK_EQ(m.kind, QMP_MSG_ERROR);
	CHECK(!strcmp(m.errclass, "GenericError"));
	CHECK(strstr(m.errdesc, "Invalid addr 0x0000000000000000/size 8"));
	free(t);

	t = slurp(dir, "events_stop_resume.json", &n);
	{
		char *nl = strchr(t, '\n');
		CHECK_RC(qmp_parse_message(t, (size_t)(nl - t), &m, err, sizeof err), 0);
		CHECK_EQ(m.kind, QMP_MSG_EVENT);
		CHECK_EQ(m.ev.kind, QMP_EV_STOP);
		CHECK(!strcmp(m.ev.name, "STOP"));
		CHECK_RC(m.ev.ts_sec, 1795305643);
		CHECK_RC(m.ev.ts_usec, 726353);
		/* the whole file is three messages, not one */
		CHECK_RC(qmp_parse_message(t, n, &m, err, sizeof err), QMP_E_PROTO);
	}
	free(t);

	CHECK_RC(qmp_parse_message("{\"event\": \"GUEST_PANICKED\"}", 27, &m, err, sizeof err), 0);
	CHECK_EQ(m.ev.kind, QMP_EV_GUEST_PANICKED);
	CHECK_RC(qmp_parse_message("{\"event\": \"BLOCK_JOB_READY\"}", 28, &m, err, sizeof err), 0);
	CHECK_EQ(m.ev.kind, QMP_EV_OTHER);
	CHECK_RC(qmp_parse_message("{\"return\": {}, \"id\": 42}", 24, &m, err, sizeof err), 0);
	CHECK(m.has_id && m.id == 42);
	qmp_msg_clear(&m);
	CHECK_RC(qmp_parse_message("SSH-2.0-OpenSSH_9.2\r\n", 21, &m, err, sizeof err), QMP_E_PROTO);
	CHECK(strstr(err, "does not speak QMP"));
	CHECK_RC(qmp_parse_message("[1,2]", 5, &m, err, sizeof err), QMP_E_PROTO);
	CHECK_RC(qmp_parse_message("{\"foo\": 1}", 10, &m, err, sizeof err), QMP_E_PROTO);
	CHECK_RC(qmp_parse_message("{\"return\": ", 11, &m, err, sizeof err), QMP_E_PROTO);
}

/* The peer's side of the handshake: greeting, then the reply to
 * qmp_capabilities once it was asked (a reply nobody asked for is dropped). */
static void *peer_hello(void *arg)
{
	int fd = *(int *)arg;
	const char *hello =
		"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, \"package\": \"\"}, \"capabilities\": [\"oob\"]}}\r\n";
	const char *ok = "{\"return\": {}, \"id\": 1}\r\n";
	char buf[512];
	size_t got = 0;
	ssize_t n;

	if (write(fd, hello, strlen(hello)) != (ssize_t)strlen(hello))
		return NULL;
	while (got + 1 < sizeof buf && (n = read(fd, buf + got, sizeof buf - 1 - got)) > 0) {
		got += (size_t)n;
		buf[got] = 0;
		if (strchr(buf, '\n')) {
			CHECK(strstr(buf, "\"qmp_capabilities\""));
			CHECK(strstr(buf, "\"id\":1"));
			if (write(fd, ok, strlen(ok)) != (ssize_t)strlen(ok))
				return NULL;
			break;
		}
	}
	return NULL;
}

/* A client connected to a socketpair; *peer is the scripted server's end. */
static struct qmp *scripted(int *peer)
{
	int sv[2], rc;
	char err[256];
	struct qmp *q;
	pthread_t th;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		exit(2);
	pthread_create(&th, NULL, peer_hello, &sv[1]);
	q = qmp_connect_fd(sv[0], 5000, &rc, err, sizeof err);
	pthread_join(th, NULL);
	if (!q) {
		fprintf(stderr, "connect_fd: %s\n", err);
		exit(1);
	}
	*peer = sv[1];
	return q;
}

/* Reads what the client sent so far (nonblocking). */
static size_t drain(int fd, char *buf, size_t cap)
{
	size_t got = 0;
	ssize_t n;

	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (got + 1 < cap && (n = read(fd, buf + got, cap - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = 0;
	return got;
}

static void test_stream(void)
{
	int peer, rc;
	struct qmp *q = scripted(&peer);
	char err[256], sent[4096];
	uint64_t id[3];
	json_object *r[3] = { 0 };
	struct qmp_event ev;
	char *text = NULL;

	CHECK_RC(qmp_qemu_version(q), 70222);
	CHECK(qmp_is_local(q));

	/* refused before sending: nothing reaches the socket */
	CHECK_RC(qmp_execute(q, "system_reset", NULL, NULL, err, sizeof err), QMP_E_REFUSED_CMD);
	CHECK(strstr(err, "system_reset"));
	CHECK_RC(qmp_hmp(q, "quit", 0, &text, err, sizeof err), QMP_E_REFUSED_CMD);
	CHECK(text == NULL);
	CHECK_RC(drain(peer, sent, sizeof sent), 0);

	/* pipelined; replies arrive out of order with events between them */
	CHECK_RC(qmp_send(q, "query-status", NULL, &id[0], err, sizeof err), 0);
	CHECK_RC(qmp_hmp_send(q, "info registers", 1, &id[1], err, sizeof err), 0);
	CHECK_RC(qmp_send(q, "query-name", NULL, &id[2], err, sizeof err), 0);
	CHECK(id[0] != id[1] && id[1] != id[2]);
	drain(peer, sent, sizeof sent);
	CHECK(strstr(sent, "\"cpu-index\":1"));
	{
		char buf[1024];
		int len = snprintf(buf, sizeof buf,
			"{\"return\": {\"name\": \"g\"}, \"id\": %llu}\r\n"
			"{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"STOP\"}\r\n"
			"{\"return\": \"RIP=ffffffff81000000\\r\\n\", \"id\": %llu}\r\n"
			"{\"timestamp\": {\"seconds\": 3, \"microseconds\": 4}, \"event\": \"RESUME\"}\r\n"
			"{\"return\": {\"status\": \"running\", \"running\": true}, \"id\": %llu}\r\n",
			(unsigned long long)id[2], (unsigned long long)id[1],
			(unsigned long long)id[0]);
		CHECK(write(peer, buf, (size_t)len) == len);
	}
	CHECK_RC(qmp_wait(q, id[0], &r[0], err, sizeof err), 0);
	CHECK_RC(qmp_hmp_wait(q, id[1], &text, err, sizeof err), 0);
	CHECK_RC(qmp_wait(q, id[2], &r[2], err, sizeof err), 0);
	CHECK(r[0] && json_object_get_boolean(json_object_object_get(r[0], "running")));
	CHECK(text && !strcmp(text, "RIP=ffffffff81000000\r\n"));
	CHECK(r[2] && !strcmp(json_object_get_string(json_object_object_get(r[2], "name")), "g"));
	CHECK_RC(qmp_next_event(q, &ev), 1);
	CHECK_EQ(ev.kind, QMP_EV_STOP);
	CHECK_RC(ev.ts_usec, 2);
	CHECK_RC(qmp_next_event(q, &ev), 1);
	CHECK_EQ(ev.kind, QMP_EV_RESUME);
	CHECK_RC(qmp_next_event(q, &ev), 0);
	/* waiting twice for one id is an error, not a hang */
	CHECK(qmp_wait(q, id[0], NULL, err, sizeof err) < 0);
	for (int i = 0; i < 3; i++)
		json_object_put(r[i]);
	free(text);

	/* an error reply: code and QEMU's description */
	CHECK_RC(qmp_send(q, "memsave", NULL, &id[0], err, sizeof err), 0);
	{
		char buf[256];
		int len = snprintf(buf, sizeof buf,
			"{\"error\": {\"class\": \"GenericError\", \"desc\": \"Invalid addr 0x0/size 8 specified\\nhint: a second line\"}, \"id\": %llu}\r\n",
			(unsigned long long)id[0]);
		CHECK(write(peer, buf, (size_t)len) == len);
	}
	CHECK_RC(qmp_wait(q, id[0], NULL, err, sizeof err), QMP_E_ERROR);
	CHECK(strstr(err, "memsave") && strstr(err, "Invalid addr"));
	CHECK(!strchr(err, '\n')); /* one line, even when QEMU's desc is not */

	/* events alone, via qmp_poll */
	{
		const char *e = "{\"event\": \"SHUTDOWN\"}\n{\"event\": \"RESET\"}\n";
		CHECK(write(peer, e, strlen(e)) == (ssize_t)strlen(e));
	}
	rc = qmp_poll(q, 1000, err, sizeof err);
	if (rc == 1) /* the two may arrive in separate reads */
		rc += qmp_poll(q, 1000, err, sizeof err);
	CHECK_RC(rc, 2);
	CHECK_RC(qmp_next_event(q, &ev), 1);
	CHECK_EQ(ev.kind, QMP_EV_SHUTDOWN);
	CHECK_RC(qmp_next_event(q, &ev), 1);
	CHECK_EQ(ev.kind, QMP_EV_RESET);

	/* the peer goes away: CLOSED, sticky */
	close(peer);
	CHECK_RC(qmp_execute(q, "query-status", NULL, NULL, err, sizeof err), QMP_E_CLOSED);
	CHECK(strstr(err, "closed the connection"));
	CHECK_RC(qmp_execute(q, "query-status", NULL, NULL, err, sizeof err), QMP_E_CLOSED);
	qmp_close(q);
	qmp_close(NULL);
}

int main(int argc, char **argv)
{
	dir = argc > 1 ? argv[1] : "tests/data/qemu";
	test_allow();
	test_spec();
	test_messages();
	test_stream();
	return check_done("qmp_unit_test");
}
