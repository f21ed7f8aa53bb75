/* serial.c - read, stamp, echo and log a launched QEMU's serial port
 * (serial.h). */
#include "serial.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct serial_reader {
	int fd, echo_fd;
	FILE *log;
	struct markers *ms;
	pthread_t thr;
	_Atomic int stop, eof;
	char line[4096];
	size_t len;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* A whole line (or a long piece of one): match, without its \r. */
static void end_line(struct serial_reader *r, uint64_t t)
{
	size_t n = r->len;
	while (n && (r->line[n - 1] == '\r' || r->line[n - 1] == '\n'))
		n--;
	r->line[n] = 0;
	if (r->ms)
		markers_serial_line(r->ms, r->line, t);
	r->len = 0;
}

static void *serial_main(void *arg)
{
	struct serial_reader *r = arg;
	char buf[4096];
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	while (!atomic_load(&r->stop)) {
		struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
		int pr = poll(&pfd, 1, 100);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			continue;
		ssize_t n = read(r->fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		uint64_t t = now_ns();   /* the line's time: when its end arrived */
		if (r->echo_fd >= 0)
			write_all(r->echo_fd, buf, (size_t)n);
		if (r->log)
			fwrite(buf, 1, (size_t)n, r->log);
		for (ssize_t i = 0; i < n; i++) {
			if (r->len < sizeof r->line - 1)
				r->line[r->len++] = buf[i];
			if (buf[i] == '\n' || r->len == sizeof r->line - 1)
				end_line(r, t);
		}
	}
	if (r->len)
		end_line(r, now_ns());
	if (r->log)
		fflush(r->log);
	atomic_store(&r->eof, 1);
	return NULL;
}

struct serial_reader *serial_start(int fd, int echo_fd, FILE *log,
				   struct markers *ms, char *err, size_t errlen)
{
	struct serial_reader *r = calloc(1, sizeof *r);
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->fd = fd;
	r->echo_fd = echo_fd;
	r->log = log;
	r->ms = ms;
	if (pthread_create(&r->thr, NULL, serial_main, r) != 0) {
		snprintf(err, errlen, "cannot start the serial thread");
		free(r);
		return NULL;
	}
	return r;
}

void serial_stop(struct serial_reader *r, int wait_ms)
{
	if (!r)
		return;
	for (int w = 0; w < wait_ms && !atomic_load(&r->eof); w += 10) {
		struct timespec ts = { 0, 10000000L };
		nanosleep(&ts, NULL);
	}
	atomic_store(&r->stop, 1);
	pthread_join(r->thr, NULL);
	close(r->fd);
	free(r);
}
