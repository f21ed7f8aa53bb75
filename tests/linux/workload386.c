/* workload386.c - a user program with CFI for the i386 Linux test guest.
 *
 * Debian's busybox-static is stripped and only its libc part has .eh_frame,
 * so its user chains are honestly cut past the syscall wrapper (issue 15).
 * This program is built static by tests/linux/linux_fixture.py with
 * -fasynchronous-unwind-tables and its symbols kept, so a user walk from
 * the kernel entry can go whole to _start (glibc's _start ends the CFI).
 *
 * Each round: a pipe write and read (pipe_write/pipe_read in the kernel),
 * a getppid (a short syscall), a little arithmetic (user-mode samples).
 * Several nested functions give the chains some depth; noipa keeps each
 * one a frame of its own under its own name (no inlining, no clones). */
#include <unistd.h>

#define KEEP __attribute__((noipa))

static unsigned char buf[4096];

KEEP void wl_pipe(int rfd, int wfd)
{
	if (write(wfd, buf, sizeof buf) != (ssize_t)sizeof buf ||
	    read(rfd, buf, sizeof buf) != (ssize_t)sizeof buf)
		_exit(1);
}

KEEP unsigned wl_sum(unsigned seed)
{
	for (unsigned i = 0; i < sizeof buf; i++)
		seed = seed * 31 + buf[i];
	return seed;
}

KEEP unsigned wl_round(int rfd, int wfd, unsigned seed)
{
	wl_pipe(rfd, wfd);
	seed += (unsigned)getppid();
	seed = wl_sum(seed);
	buf[seed % sizeof buf] = (unsigned char)seed;
	return seed;
}

KEEP void wl_loop(int rfd, int wfd)
{
	unsigned seed = 1;
	for (;;)
		seed = wl_round(rfd, wfd, seed);
}

int main(void)
{
	int p[2];
	if (pipe(p))
		return 1;
	wl_loop(p[0], p[1]);
	return 0;
}
