/* savefile.h - atomic, never-overwriting saves for every file qtop-prof
 * writes (folded stacks, pprof, speedscope, perf script).
 *
 * The content goes to a temporary file in the target directory, is flushed
 * and fsync'ed, then linked into place without replacing anything (EEXIST is
 * an error, never a silent overwrite); a failed write (full disk, size limit)
 * leaves neither the target nor the temporary file behind.
 */
#ifndef QTOP_SAVEFILE_H
#define QTOP_SAVEFILE_H

#include <stddef.h>
#include <stdio.h>

/* Writes the content to f; returns >= 0 or -errno.  Write errors need not
 * be checked: the saver checks the stream after flushing. */
typedef long (*savefile_write_fn)(FILE *f, void *ctx);

/* Save what fn writes at path.  path NULL: "qtop-YYYYmmdd-HHMMSS<ext>" in
 * the current directory ("-N" is added before ext while the name is taken).
 * ext is e.g. ".folded" (only used when path is NULL).  The final path goes
 * to out_path (NULL ok).  Returns 0 or -errno with a one-line message in
 * err ("save: ..."). */
int savefile_save(const char *path, const char *ext, savefile_write_fn fn,
		  void *ctx, char *out_path, size_t out_len,
		  char *err, size_t errlen);

#endif
