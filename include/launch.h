/* launch.h - qtop-prof --launch: start QEMU ourselves, paused, on a private
 * QMP socket, and end it with us.
 *
 * The command gets, after the user's arguments:
 *   -S                                    (paused at the reset vector)
 *   -qmp unix:DIR/qmp.sock,server=on,wait=off   (DIR: mkdtemp, 0700)
 *   -serial stdio  when the command names no serial port (-serial,
 *                  -nographic, a -chardev/-device serial): QEMU's stdout is
 *                  then a pipe whose read end is launch->serial_fd
 *   -plugin PATH   when asked (TCG and a QEMU >= 9.2)
 * QEMU's stdin is /dev/null, its stderr ours.  The child has
 * PR_SET_PDEATHSIG(SIGKILL): a qtop-prof killed by SIGKILL takes its QEMU
 * with it.  launch_stop ends that pid only (SIGTERM, then SIGKILL) and
 * removes DIR.
 */
#ifndef QTOP_LAUNCH_H
#define QTOP_LAUNCH_H

#include <stddef.h>
#include <sys/types.h>

struct launch {
	pid_t pid;             /* QEMU, or 0 once reaped */
	int status;            /* its wait status once reaped */
	int serial_fd;         /* read end of QEMU's stdout (the serial port), or -1 */
	char dir[256];         /* the private directory */
	char qmp_path[300];    /* DIR/qmp.sock */
	char qmparg[400];      /* the -qmp argument */
	char **argv;           /* the command run (NULL-terminated) */
};

/* What to add to the user's command. */
struct launch_opts {
	const char *plugin;    /* -plugin PATH, or NULL */
	int serial;            /* 1: capture the serial port when none is named */
};

/* 1 when argv names a serial port (or -nographic, which puts it on stdio). */
int launch_has_serial(char *const *argv);
/* 1 when argv asks for KVM (or another accelerator than TCG); 0 for TCG,
 * which is QEMU's default. */
int launch_not_tcg(char *const *argv);
/* Run "QEMU -version": major * 100 + minor (e.g. 1000 for 10.0), or -1. */
int launch_qemu_version(const char *qemu);

/* Start argv (argv[0] the QEMU program) paused, as above; wait until the
 * QMP socket exists (QEMU dying first is an error).  0, or -1 with a
 * message; on failure nothing is left running or on disk. */
int launch_start(struct launch *l, char *const *argv, const struct launch_opts *o,
		 int timeout_ms, char *err, size_t errlen);
/* Reap QEMU if it has exited: 1 when it is gone (status in l->status),
 * 0 when it still runs. */
int launch_poll(struct launch *l);
/* End QEMU (this pid only): SIGTERM, SIGKILL after grace_ms; reap it;
 * close the pipe; remove the directory.  Safe to call twice. */
void launch_stop(struct launch *l, int grace_ms);

#endif
