/* qps_toggle.c - switch a qtop-plugin's sampling on or off from outside,
 * while one qtop-prof stays attached: bench_plugin.py alternates windows
 * with and without sampling in one QEMU and one qtop-prof run, so the
 * slowdown is a ratio of adjacent windows, not of two processes.
 *
 *   qps_toggle NAME on|off      (NAME: qtop-plugin-<QEMU pid>, in /dev/shm)
 *
 * Writes only the segment's enabled word, as qtop-prof itself does.
 */
#include "plugin_shm.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char path[256];
	struct qps_ctl *c;
	int fd;

	if (argc != 3 || (strcmp(argv[2], "on") && strcmp(argv[2], "off"))) {
		fprintf(stderr, "usage: qps_toggle NAME on|off\n");
		return 2;
	}
	snprintf(path, sizeof path, "/%s", argv[1]);
	fd = shm_open(path, O_RDWR, 0);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	c = mmap(NULL, sizeof *c, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (c == MAP_FAILED || memcmp(c->magic, QPS_MAGIC, 8) || c->version != QPS_VERSION) {
		fprintf(stderr, "qps_toggle: %s is not a qtop-plugin segment of this build\n", path);
		return 1;
	}
	atomic_store(&c->enabled, strcmp(argv[2], "on") ? 0u : 1u);
	syscall(SYS_futex, (uint32_t *)&c->enabled, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	munmap(c, sizeof *c);
	return 0;
}
