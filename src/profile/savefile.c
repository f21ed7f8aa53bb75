/* savefile.c - atomic, never-overwriting saves (see savefile.h). */
#include "savefile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int fail(char *err, size_t errlen, int rc, const char *fmt,
		const char *arg)
{
	if (err && errlen)
		snprintf(err, errlen, fmt, arg, strerror(-rc));
	return rc;
}

/* umask without changing it (umask() would race with other threads). */
static mode_t current_umask(void)
{
	mode_t m = 022;
	FILE *f = fopen("/proc/self/status", "re");
	if (!f)
		return m;
	char line[256];
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "Umask:", 6)) {
			m = (mode_t)strtoul(line + 6, NULL, 8);
			break;
		}
	fclose(f);
	return m;
}

/* Link the finished temp file at `to` without ever replacing a file.
 * Returns 0 (tmp still exists when *renamed is 0) or -errno. */
static int place(const char *tmp, const char *to, int *renamed)
{
	if (link(tmp, to) == 0)
		return 0;
	int e = errno;
	if (e == EEXIST)
		return -EEXIST;
	/* file systems without hard links (vfat, some FUSE) */
	if (e == EPERM || e == EOPNOTSUPP || e == ENOSYS || e == EMLINK) {
		if (renameat2(AT_FDCWD, tmp, AT_FDCWD, to, RENAME_NOREPLACE) == 0) {
			*renamed = 1;
			return 0;
		}
		e = errno;
	}
	return -e;
}

static void sync_dir(const char *dir)
{
	/* make the new directory entry durable; best effort */
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}
int savefile_save(const char *path, const char *ext, savefile_write_fn fn,
		  void *ctx, char *out_path, size_t out_len,
		  char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (!fn || (path && !path[0]))
		return fail(err, errlen, -EINVAL, "save: %s%s", "bad arguments: ");
	if (!ext)
		ext = "";

	char dir[4096], tmp[4200], base[64], name[4200];
	if (path) {
		const char *slash = strrchr(path, '/');
		size_t dl = slash ? (size_t)(slash - path) : 1;
		if (dl >= sizeof dir || strlen(path) >= sizeof name)
			return fail(err, errlen, -ENAMETOOLONG, "save %s: %s", path);
		if (!slash)
			memcpy(dir, ".", 2);
		else if (dl == 0)
			memcpy(dir, "/", 2);
		else {
			memcpy(dir, path, dl);
			dir[dl] = '\0';
		}
	} else {
		if (strlen(ext) > 32)
			return fail(err, errlen, -ENAMETOOLONG, "save %s: %s", ext);
		time_t now = time(NULL);
		struct tm tm;
		localtime_r(&now, &tm);
		strftime(base, sizeof base, "qtop-%Y%m%d-%H%M%S", &tm);
		memcpy(dir, ".", 2);
	}

	snprintf(tmp, sizeof tmp, "%s/.qtop-save-XXXXXX", dir);
	int fd = mkstemp(tmp);
	if (fd < 0)
		return fail(err, errlen, -errno,
			    "save: cannot create a file in %s: %s", dir);
	/* mkstemp makes 0600; give it what open(2) would have */
	fchmod(fd, 0666 & ~current_umask());

	int rc = 0;
	FILE *f = fdopen(fd, "w");
	if (!f) {
		rc = -errno;
		close(fd);
		unlink(tmp);
		return fail(err, errlen, rc, "save: %s: %s", tmp);
	}
	errno = 0;
	long w = fn(f, ctx);
	if (w < 0)   /* a writer's -EIO from ferror(): errno says why (ENOSPC) */
		rc = w == -EIO && errno ? -errno : (int)w;
	else if (fflush(f) != 0 || ferror(f))
		rc = -(errno ? errno : EIO);
	else if (fsync(fd) != 0)
		rc = -errno;
	if (fclose(f) != 0 && !rc)
		rc = -errno;
	if (rc) {
		unlink(tmp);
		return fail(err, errlen, rc, "save: writing %s: %s",
			    path ? path : "the profile");
	}

	int renamed = 0;
	for (int n = 0;; n++) {
		if (path)
			snprintf(name, sizeof name, "%s", path);
		else if (n == 0)
			snprintf(name, sizeof name, "%s%s", base, ext);
		else
			snprintf(name, sizeof name, "%s-%d%s", base, n, ext);
		if (out_path && strlen(name) >= out_len) {
			rc = -ENAMETOOLONG;
			break;
		}
		rc = place(tmp, name, &renamed);
		if (rc != -EEXIST || path || n >= 999)
			break;
	}
	if (!renamed)
		unlink(tmp);
	if (rc == -EEXIST && path)
		return fail(err, errlen, rc,
			    "save: %s already exists, not overwriting (%s)", path);
	if (rc)
		return fail(err, errlen, rc, "save: cannot create %s: %s", name);
	sync_dir(dir);
	if (out_path)
		snprintf(out_path, out_len, "%s", name);
	return 0;
}
