/* bootmatrix.h - qtop-prof --launch --repeat N --smp-list 1,2,4: boot the
 * same guest several times per vCPU count and time its markers.
 *
 * Each boot is one child `qtop-prof --launch --batch` (this program,
 * /proc/self/exe) with the user's options and a QEMU command whose -smp value
 * is replaced (or `-smp N` added); it writes its JSON report and folded
 * profile into a private directory (TMPDIR/qtop-matrix-XXXXXX, removed at
 * the end).  The child owns its QEMU through launch.c (private QMP directory,
 * SIGTERM then SIGKILL, PR_SET_PDEATHSIG); SIGINT/SIGTERM of the matrix is
 * passed to the running child, which ends and cleans up its QEMU, and no
 * further boot starts.
 *
 * Results: per configuration and marker the mean, median, sample standard
 * deviation, min and max of the marker's time (seconds since the reset),
 * speedup T(b)/T(n) and efficiency b*T(b)/(n*T(n)) against the smallest
 * vCPU count b of the list (T(1) when 1 is in it), from the means; a text
 * table on stdout, the matrix report (--json: doc/report.md, "matrix"), and
 * per configuration the merged profile of its boots as folded stacks
 * (STEM-smpN.folded, STEM from -o or --json, else "qtop-matrix"; never
 * overwriting).  A progress line per boot on stderr.
 *
 * A run mode of the front end: it prints.
 */
#ifndef QTOP_BOOTMATRIX_H
#define QTOP_BOOTMATRIX_H

#define BOOTMATRIX_MAX_CONFS 16
#define BOOTMATRIX_MAX_REPEAT 1000

struct bootmatrix_opts {
	int launch;            /* --launch given (required) */
	int repeat;            /* --repeat N, 0: 1 */
	const char *smp_list;  /* --smp-list "1,2,4,8", or NULL: the command's */
	const char *json;      /* --json FILE: the matrix report, or NULL */
	const char *out;       /* the first -o FILE: stem of the folded files */
	int argc;              /* the whole command line, re-run per boot */
	char **argv;
};

/* Parse "1,2,4,8" (1..1024 each, at most BOOTMATRIX_MAX_CONFS, no
 * duplicates) into n[]; returns the count, or -1. */
int bootmatrix_parse_smp(const char *s, int *n, int max);
/* The QEMU command with its -smp value set to ncpu (a new NULL-terminated
 * array of copies, -smp N appended when absent); NULL on ENOMEM.  The
 * count in "-smp 2", "-smp 2,sockets=1" and "-smp cpus=2,..." is replaced;
 * maxcpus= is raised to ncpu when lower. */
char **bootmatrix_smp_argv(char *const *qemu, int ncpu);
/* The vCPU count a QEMU command asks for (-smp), 1 when none. */
int bootmatrix_smp_of(char *const *qemu);
void bootmatrix_free_argv(char **argv);

/* Run the matrix; returns the exit code (0, 1 failure, 2 usage, 130
 * interrupted). */
int bootmatrix_run(const struct bootmatrix_opts *o);

#endif
