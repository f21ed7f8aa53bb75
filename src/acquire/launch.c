/* launch.c - start QEMU paused on a private QMP socket (launch.h). */
#include "launch.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int opt_is(const char *a, const char *name)
{
	/* QEMU takes -opt and --opt */
	if (a[0] != '-')
		return 0;
	if (a[1] == '-')
		a++;
	return !strcmp(a + 1, name);
}

int launch_has_serial(char *const *argv)
{
	for (int i = 1; argv[i]; i++) {
		if (opt_is(argv[i], "serial") || opt_is(argv[i], "nographic"))
			return 1;
		if (opt_is(argv[i], "device") && argv[i + 1] &&
		    (strstr(argv[i + 1], "serial") || strstr(argv[i + 1], "16550")))
			return 1;
	}
	return 0;
}

int launch_not_tcg(char *const *argv)
{
	for (int i = 1; argv[i]; i++) {
		const char *v = argv[i + 1];
		if (opt_is(argv[i], "enable-kvm"))
			return 1;
		if (!v)
			continue;
		if (opt_is(argv[i], "accel") && strncmp(v, "tcg", 3))
			return 1;
		if (opt_is(argv[i], "machine") || opt_is(argv[i], "M")) {
			const char *a = strstr(v, "accel=");
			if (a && strncmp(a + 6, "tcg", 3))
				return 1;
		}
	}
	return 0;
}

int launch_qemu_version(const char *qemu)
{
	int fds[2], maj = -1, min = 0;
	char buf[512];
	size_t n = 0;

	if (pipe(fds) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(fds[1], 1);
		dup2(null, 2);
		execlp(qemu, qemu, "-version", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		ssize_t r = read(fds[0], buf + n, sizeof buf - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n == sizeof buf - 1)
			break;
	}
	buf[n] = 0;
	close(fds[0]);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	const char *v = strstr(buf, "version ");
	if (!v || sscanf(v + 8, "%d.%d", &maj, &min) < 1)
		return -1;
	return maj * 100 + min;
}

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

int launch_start(struct launch *l, char *const *argv, const struct launch_opts *o,
		 int timeout_ms, char *err, size_t errlen)
{
	const char *tmp = getenv("TMPDIR");
	int fds[2] = { -1, -1 }, serial = o->serial && !launch_has_serial(argv);
	size_t n = 0;

	memset(l, 0, sizeof *l);
	l->serial_fd = -1;
	while (argv[n])
		n++;
	if (!n) {
		snprintf(err, errlen, "--launch: no QEMU command after --");
		return -1;
	}
	snprintf(l->dir, sizeof l->dir, "%s/qtop-launch-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(l->dir)) {
		snprintf(err, errlen, "--launch: mkdtemp %s: %s", l->dir, strerror(errno));
		l->dir[0] = 0;
		return -1;
	}
	snprintf(l->qmp_path, sizeof l->qmp_path, "%s/qmp.sock", l->dir);
	snprintf(l->qmparg, sizeof l->qmparg, "unix:%s,server=on,wait=off", l->qmp_path);
	l->argv = calloc(n + 10, sizeof *l->argv);
	if (!l->argv) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		l->argv[k++] = argv[i];
	l->argv[k++] = "-S";
	l->argv[k++] = "-qmp";
	l->argv[k++] = l->qmparg;
	if (serial) {
		l->argv[k++] = "-serial";
		l->argv[k++] = "stdio";
	}
	if (o->plugin) {
		l->argv[k++] = "-plugin";
		l->argv[k++] = (char *)o->plugin;
	}
	if (serial && pipe2(fds, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "--launch: pipe: %s", strerror(errno));
		goto fail;
	}
	pid_t parent = getpid();
	l->pid = fork();
	if (l->pid < 0) {
		snprintf(err, errlen, "--launch: fork: %s", strerror(errno));
		l->pid = 0;
		goto fail;
	}
	if (l->pid == 0) {
		/* QEMU dies with us, even when we are SIGKILLed; a parent
		 * that died before the prctl is caught by the getppid check. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGINT, SIG_IGN);   /* Ctrl-C is ours: we end QEMU */
		signal(SIGPIPE, SIG_DFL);
		int null = open("/dev/null", O_RDONLY);
		if (null >= 0)
			dup2(null, 0);
		if (fds[1] >= 0)
			dup2(fds[1], 1);   /* dup2 clears O_CLOEXEC */
		execvp(l->argv[0], l->argv);
		fprintf(stderr, "qtop-prof: --launch: cannot run %s: %s\n", l->argv[0],
			strerror(errno));
		_exit(127);
	}
	if (fds[1] >= 0)
		close(fds[1]);
	l->serial_fd = fds[0];
	for (int waited = 0;; waited += 10) {
		struct stat st;
		if (stat(l->qmp_path, &st) == 0 && S_ISSOCK(st.st_mode))
			return 0;
		if (launch_poll(l)) {
			if (WIFEXITED(l->status))
				snprintf(err, errlen, "--launch: %s exited (%d) before its QMP "
					 "socket appeared", l->argv[0], WEXITSTATUS(l->status));
			else
				snprintf(err, errlen, "--launch: %s died (signal %d) before its "
					 "QMP socket appeared", l->argv[0], WTERMSIG(l->status));
			goto fail;
		}
		if (waited >= timeout_ms) {
			snprintf(err, errlen, "--launch: no QMP socket after %d ms", timeout_ms);
			goto fail;
		}
		msleep(10);
	}
fail:
	if (fds[1] >= 0 && l->pid == 0)
		close(fds[1]);
	launch_stop(l, 1000);
	return -1;
}

int launch_poll(struct launch *l)
{
	if (!l->pid)
		return 1;
	pid_t r = waitpid(l->pid, &l->status, WNOHANG);
	if (r == l->pid || (r < 0 && errno == ECHILD)) {
		l->pid = 0;
		return 1;
	}
	return 0;
}

void launch_stop(struct launch *l, int grace_ms)
{
	if (l->pid && !launch_poll(l)) {
		kill(l->pid, SIGTERM);
		for (int w = 0; w < grace_ms && !launch_poll(l); w += 10)
			msleep(10);
		if (l->pid) {
			kill(l->pid, SIGKILL);
			while (waitpid(l->pid, &l->status, 0) < 0 && errno == EINTR)
				;
			l->pid = 0;
		}
	}
	if (l->serial_fd >= 0) {
		close(l->serial_fd);
		l->serial_fd = -1;
	}
	if (l->dir[0]) {
		unlink(l->qmp_path);
		rmdir(l->dir);
		l->dir[0] = 0;
	}
	free(l->argv);
	l->argv = NULL;
}
