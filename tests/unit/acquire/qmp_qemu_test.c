/* qmp_qemu_test - the QMP client against a real QEMU started paused (-S, no
 * guest needed): handshake, queries, HMP registers of cpu 0 (the reset
 * state), memsave into a private directory, pipelining, the one-client rule,
 * and that none of it resumed the guest.
 *
 * Usage: qmp_qemu_test QEMU_SYSTEM_X86_64 */
#include "qmp.h"
#include "regs.h"
#include "check.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[] = "/tmp/qmpqemu.XXXXXX";
static char sock[256];
static pid_t qemu = -1;

static void cleanup(void)
{
	if (qemu > 0) {
		kill(qemu, SIGKILL);
		waitpid(qemu, NULL, 0);
		qemu = -1;
	}
	unlink(sock);
	rmdir(dir);
}

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int is_paused(struct qmp *q)
{
	json_object *r = NULL;
	char err[256];
	int paused = 0;

	if (qmp_execute(q, "query-status", NULL, &r, err, sizeof err) == 0)
		paused = !json_object_get_boolean(json_object_object_get(r, "running"));
	json_object_put(r);
	return paused;
}

int main(int argc, char **argv)
{
	char err[256], arg[300], file[300], *text = NULL, *xtext = NULL;
	struct qmp *q, *q2;
	json_object *r = NULL, *a;
	struct qp_regs regs;
	uint64_t id[4], xaddr = 0;
	uint8_t xbytes[16], mem[16];
	struct qmp_event ev;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: %s QEMU\n", argv[0]);
		return 2;
	}
	if (!mkdtemp(dir))
		return 2;
	atexit(cleanup);
	snprintf(sock, sizeof sock, "%s/qmp", dir);
	snprintf(arg, sizeof arg, "unix:%s,server=on,wait=off", sock);
	qemu = fork();
	if (qemu == 0) {
		execlp(argv[1], argv[1], "-accel", "tcg", "-S", "-display", "none",
		       "-nodefaults", "-m", "64", "-qmp", arg, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; access(sock, F_OK); i++) {
		int st;
		if (i == 3000 || waitpid(qemu, &st, WNOHANG) == qemu) {
			fprintf(stderr, "QEMU did not start\n");
			/* a wrapper (tests/lib/qemu_run.py) saying: skip */
			if (i < 3000 && WIFEXITED(st) && WEXITSTATUS(st) == 77) {
				qemu = 0;
				return 77;
			}
			return 2;
		}
		msleep(10);
	}

	/* QEMU binds the socket before it listens: "refused" for a moment
	 * (seen with two QEMUs starting at once) */
	for (int i = 0; !(q = qmp_connect(sock, 5000, &rc, err, sizeof err)) && i < 300; i++) {
		if (waitpid(qemu, NULL, WNOHANG) == qemu) {
			qemu = 0;       /* reaped: cleanup must not kill the pid */
			break;
		}
		msleep(10);
	}
	if (!q) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	CHECK(qmp_qemu_version(q) >= 70000);
	/* the log says which QEMU ran (7.2 / 10.0 variants) */
	fprintf(stderr, "qemu: QMP greeting says %d.%d.%d\n", qmp_qemu_version(q) / 10000,
		qmp_qemu_version(q) / 100 % 100, qmp_qemu_version(q) % 100);
	CHECK(qmp_is_local(q));

	/* paused at reset, status prelaunch */
	CHECK_RC(qmp_execute(q, "query-status", NULL, &r, err, sizeof err), 0);
	CHECK(r && !json_object_get_boolean(json_object_object_get(r, "running")));
	CHECK(r && !strcmp(json_object_get_string(json_object_object_get(r, "status")), "prelaunch"));
	json_object_put(r);
	r = NULL;

	/* registers of cpu 0: the x86 reset state, 32-bit layout */
	CHECK_RC(qmp_hmp(q, "info registers", 0, &text, err, sizeof err), 0);
	CHECK(text && regs_parse(text, strlen(text), &regs) == 0);
	CHECK_EQ(regs.ip, 0xfff0);
	CHECK_EQ(regs.cs, 0xf000);
	CHECK_EQ(regs.long_mode, 0);
	CHECK_EQ(regs.cr0, 0x60000010);
	free(text);

	/* memsave of the reset vector into a private dir == what x/ shows */
	snprintf(file, sizeof file, "%s/mem", dir);
	a = json_object_new_object();
	json_object_object_add(a, "val", json_object_new_int64(0xfffffff0));
	json_object_object_add(a, "size", json_object_new_int(16));
	json_object_object_add(a, "filename", json_object_new_string(file));
	json_object_object_add(a, "cpu-index", json_object_new_int(0));
	CHECK_RC(qmp_execute(q, "memsave", a, NULL, err, sizeof err), 0);
	json_object_put(a);
	{
		FILE *f = fopen(file, "rb");
		CHECK(f && fread(mem, 1, 16, f) == 16);
		if (f)
			fclose(f);
		unlink(file);
	}
	CHECK_EQ(mem[0], 0xea); /* jmp far: the BIOS entry */
	CHECK_RC(qmp_hmp(q, "x/16bx 0xfffffff0", 0, &xtext, err, sizeof err), 0);
	CHECK(xtext && hmpx_parse(xtext, strlen(xtext), &xaddr, xbytes, sizeof xbytes) == 16);
	CHECK_EQ(xaddr, 0xfffffff0);
	CHECK(!memcmp(mem, xbytes, 16));
	free(xtext);

	/* an unmapped read is a QMP error with QEMU's reason */
	a = json_object_new_object();
	json_object_object_add(a, "val", json_object_new_int64(-4096));
	json_object_object_add(a, "size", json_object_new_int(4096));
	json_object_object_add(a, "filename", json_object_new_string(file));
	rc = qmp_execute(q, "memsave", a, NULL, err, sizeof err);
	json_object_put(a);
	unlink(file);
	if (rc) { /* real mode may wrap addresses; only check the shape */
		CHECK_RC(rc, QMP_E_ERROR);
		CHECK(strstr(err, "memsave"));
	}

	/* refused commands never reach QEMU */
	CHECK_RC(qmp_execute(q, "system_reset", NULL, NULL, err, sizeof err), QMP_E_REFUSED_CMD);
	CHECK_RC(qmp_hmp(q, "cont", 0, NULL, err, sizeof err), QMP_E_REFUSED_CMD);

	/* pipelined, waited in reverse order */
	CHECK_RC(qmp_send(q, "query-status", NULL, &id[0], err, sizeof err), 0);
	CHECK_RC(qmp_hmp_send(q, "info registers", 0, &id[1], err, sizeof err), 0);
	CHECK_RC(qmp_send(q, "query-version", NULL, &id[2], err, sizeof err), 0);
	CHECK_RC(qmp_send(q, "query-cpus-fast", NULL, &id[3], err, sizeof err), 0);
	CHECK_RC(qmp_wait(q, id[3], &r, err, sizeof err), 0);
	CHECK(r && json_object_is_type(r, json_type_array) && json_object_array_length(r) == 1);
	json_object_put(r);
	r = NULL;
	CHECK_RC(qmp_wait(q, id[2], &r, err, sizeof err), 0);
	CHECK(r && json_object_object_get(r, "qemu"));
	json_object_put(r);
	r = NULL;
	CHECK_RC(qmp_hmp_wait(q, id[1], &text, err, sizeof err), 0);
	CHECK(text && strstr(text, "EIP=0000fff0"));
	free(text);
	CHECK_RC(qmp_wait(q, id[0], NULL, err, sizeof err), 0);

	/* QMP serves one client: a second one gets no greeting */
	q2 = qmp_connect(sock, 1000, &rc, err, sizeof err);
	CHECK(q2 == NULL);
	CHECK_RC(rc, QMP_E_NOGREET);
	CHECK(strstr(err, "another client"));
	qmp_close(q2);
	/* ... and the first one still works */
	CHECK(is_paused(q));

	/* nothing we did resumed the guest */
	CHECK_RC(qmp_poll(q, 100, err, sizeof err) >= 0, 1);
	while (qmp_next_event(q, &ev))
		CHECK(ev.kind != QMP_EV_RESUME);
	CHECK(is_paused(q));
	qmp_close(q);
	return check_done("qmp_qemu_test");
}
