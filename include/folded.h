/* folded.h - folded stacks ("frame;frame;frame count"), as written by
 * stackcollapse-*.pl and inferno and read by flamegraph.pl, inferno and
 * speedscope.
 *
 * Our lines: "proc;user_fn;...;kernel_fn_[k] N".  The first frame is the
 * process; kernel frames carry the "_[k]" suffix; inline frames "_[i]".
 */
#ifndef QTOP_FOLDED_H
#define QTOP_FOLDED_H

#include <stdio.h>
#include "profile.h"

enum {
	FOLDED_KERNEL_ONLY = 1u << 0,   /* only stacks whose leaf is kernel */
	FOLDED_USER_ONLY   = 1u << 1,   /* only stacks whose leaf is user */
	FOLDED_NO_INLINE   = 1u << 2,   /* drop PF_INLINE frames */
};

/* Longer lines are reported as bad by folded_load (memory stays bounded). */
#define FOLDED_MAX_LINE (1u << 20)

/* Write every stack below subtree root `under` (0: all) with its full path
 * from the process frame.  Returns lines written or -errno.
 * One line per node with self > 0, in tree order with children by name (so
 * the output is stable).  An inline kernel frame is written "f_[i]_[k]".
 * ';' and newlines inside names are written as ':' and ' '.
 * KERNEL_ONLY together with USER_ONLY is -EINVAL. */
long folded_write(const struct profile *p, uint32_t under, unsigned flags,
		  FILE *f);

/* Save atomically: write to a temporary file in the target directory, fsync,
 * then link it into place without overwriting (EEXIST is an error, never a
 * silent overwrite).  path NULL: "qtop-YYYYmmdd-HHMMSS.folded" in the
 * current directory (a "-N" suffix is added if it exists).  The final path
 * goes to out_path.  Returns 0 or -errno with a message in err. */
int folded_save(const struct profile *p, uint32_t under, unsigned flags,
		const char *path, char *out_path, size_t out_len,
		char *err, size_t errlen);

/* The same for any writer: fn(ctx, f) writes the content (returns >= 0 or
 * -errno).  ext names timestamped files ("qtop-YYYYmmdd-HHMMSS" ext; NULL:
 * ".folded"). */
typedef long (*folded_writer)(void *ctx, FILE *f);
int folded_save_with(folded_writer fn, void *ctx, const char *path,
		     const char *ext, char *out_path, size_t out_len,
		     char *err, size_t errlen);

/* Write the stack of node (process frame first, "a;b;c_[k]", no count, no
 * newline) as folded_write writes it.  Returns 0 or -errno. */
int folded_write_stack(const struct profile *p, uint32_t node, unsigned flags,
		       FILE *f);

#define FOLDED_DIAG_LINES 32

struct folded_diag {
	long lines_ok;
	long lines_bad;
	long first_bad_line;     /* 1-based, 0 if none */
	char first_bad_msg[128];
	long bad_lines[FOLDED_DIAG_LINES];  /* numbers of the first bad lines */
	int nbad_lines;          /* entries used in bad_lines */
};

/* Parse folded text into p (added to what is there).  Bad lines are skipped
 * and reported in diag; good lines are kept.  A first frame without a
 * process-looking name is still taken as the PK_PROC frame.  Returns 0, or
 * -errno on I/O error (-ENOMEM if the profile cannot grow).
 * Blank lines are skipped silently.  Frames "[unknown]", "[truncated]" and
 * "[idle]" (no "_[k]") load as PK_MARK, kernel frames get module "kernel";
 * the cpu of loaded samples is PROF_CPU_UNKNOWN.  diag may be NULL. */
int folded_load(struct profile *p, FILE *f, struct folded_diag *diag);
int folded_load_path(struct profile *p, const char *path,
		     struct folded_diag *diag, char *err, size_t errlen);

#endif
