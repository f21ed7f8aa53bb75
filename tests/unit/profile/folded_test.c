/* folded_test.c - folded stacks: round trip, flags, perf/inferno fixtures,
 * bad-line reporting, and saving that never overwrites nor leaves temp
 * files behind.  argv[1] is tests/data/folded. */
#include "check.h"
#include "folded.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *datadir = "tests/data/folded";

/* Same shape, names, kinds, flags and counts below a and b. */
static int same_tree(const struct profile *a, uint32_t na,
		     const struct profile *b, uint32_t nb)
{
	const struct prof_node *x = &a->nodes[na], *y = &b->nodes[nb];
	if (x->self != y->self || x->total != y->total || x->kind != y->kind ||
	    x->flags != y->flags) {
		fprintf(stderr, "differs at %s\n", profile_node_name(a, na));
		return 0;
	}
	int nx = 0, ny = 0;
	for (uint32_t c = y->first_child; c; c = b->nodes[c].next_sibling)
		ny++;
	for (uint32_t c = x->first_child; c; c = a->nodes[c].next_sibling) {
		nx++;
		const struct prof_node *cn = &a->nodes[c];
		uint32_t d = profile_child(b, nb, profile_node_name(a, c), cn->kind);
		if (!d) {
			fprintf(stderr, "missing %s\n", profile_node_name(a, c));
			return 0;
		}
		if (!same_tree(a, c, b, d))
			return 0;
	}
	return nx == ny;
}

static char *write_str(const struct profile *p, uint32_t under, unsigned flags,
		       long *lines)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	*lines = folded_write(p, under, flags, f);
	fclose(f);
	return buf;
}

static struct profile *load_str(const char *s, struct folded_diag *d)
{
	struct profile *p = profile_new();
	FILE *f = fmemopen((void *)s, strlen(s), "r");
	CHECK(folded_load(p, f, d) == 0);
	fclose(f);
	return p;
}

static struct profile *rich_profile(void)
{
	struct profile *p = profile_new();
	add_stack(p, "sh;main;parse;lex", 0, 7);
	add_stack(p, "sh;main;parse", 1, 3);
	add_stack(p, "sh;main;read;entry_SYSCALL_64:k;ksys_read:k", 2, 11);
	add_stack(p, "sh;main;read;entry_SYSCALL_64:k;copy_inl:k", 2, 1);
	add_stack(p, "sh;main;memcpy_inl:i;memcpy_impl", 0, 4);
	add_stack(p, "sh;main;strlen:i", 0, 2);
	add_stack(p, "sh;main;read", 0, 1);          /* user "read" next to... */
	add_stack(p, "sh;main;read:k", 0, 9);        /* ...kernel "read" */
	add_stack(p, "sh;[truncated]:m;ksys_write:k", 3, 5);
	add_stack(p, "sh", 0, 2);                    /* sample in the process frame */
	add_stack(p, "my prog;operator new(unsigned long);std::vector<int, std::allocator<int> >::push_back(int const&)", 0, 6);
	add_stack(p, "idle;[idle]:m", 0, 100);
	/* an inline kernel frame keeps both marks */
	struct prof_frame fr[3] = { { .name = "sh", .kind = PK_PROC },
		{ .name = "main", .kind = PK_USER },
		{ .name = "kinl", .kind = PK_KERNEL, .flags = PF_INLINE } };
	profile_add(p, fr, 3, 0, 8);
	return p;
}

static void test_round_trip(void)
{
	struct profile *p = rich_profile();
	long lines;
	char *text = write_str(p, 0, 0, &lines);
	CHECK(lines == 13);
	CHECK(strstr(text, "sh;main;read;entry_SYSCALL_64_[k];ksys_read_[k] 11\n") != NULL);
	CHECK(strstr(text, "sh;main;memcpy_inl_[i];memcpy_impl 4\n") != NULL);
	CHECK(strstr(text, "sh;main;kinl_[i]_[k] 8\n") != NULL);
	CHECK(strstr(text, "\nsh 2\n") != NULL);
	CHECK(strstr(text, "my prog;operator new(unsigned long);std::vector<int, std::allocator<int> >::push_back(int const&) 6\n") != NULL);

	struct folded_diag d;
	struct profile *q = load_str(text, &d);
	CHECK(d.lines_ok == 13 && d.lines_bad == 0 && d.first_bad_line == 0);
	CHECK_U64(q->samples, p->samples);
	CHECK_U64(q->nnodes, p->nnodes);
	CHECK(same_tree(p, 0, q, 0));
	CHECK(same_tree(q, 0, p, 0));
	const struct prof_proc *a = profile_proc(p, node_at(p, "sh"));
	const struct prof_proc *b = profile_proc(q, node_at(q, "sh"));
	CHECK(a && b && a->samples == b->samples && a->kernel == b->kernel &&
	      a->user == b->user);
	CHECK_STR(profile_str_get(q, q->nodes[node_at(q, "sh;main;read;entry_SYSCALL_64")].module), "kernel");
	/* and writing it again gives the same text */
	long lines2;
	char *text2 = write_str(q, 0, 0, &lines2);
	CHECK(lines2 == lines && strcmp(text, text2) == 0);
	free(text2);
	free(text);
	profile_free(q);
	profile_free(p);
}

static uint64_t sum_counts(const char *text, int (*pred)(const char *line, size_t len))
{
	uint64_t sum = 0;
	for (const char *l = text; *l;) {
		const char *e = strchr(l, '\n');
		size_t len = e ? (size_t)(e - l) : strlen(l);
		const char *sp = l + len;
		while (sp > l && sp[-1] != ' ')
			sp--;
		if (!pred || pred(l, len))
			sum += strtoull(sp, NULL, 10);
		l = e ? e + 1 : l + len;
	}
	return sum;
}

static int leaf_is_kernel(const char *l, size_t len)
{
	const char *sp = l + len;
	while (sp > l && sp[-1] != ' ')
		sp--;
	return sp - l > 5 && !strncmp(sp - 5, "_[k]", 4);
}

static void test_flags(void)
{
	struct profile *p = rich_profile();
	long n;
	char *k = write_str(p, 0, FOLDED_KERNEL_ONLY, &n);
	CHECK(n == 5);
	CHECK_U64(sum_counts(k, leaf_is_kernel), sum_counts(k, NULL));
	CHECK_U64(sum_counts(k, NULL), 11 + 1 + 9 + 5 + 8);
	char *u = write_str(p, 0, FOLDED_USER_ONLY, &n);
	CHECK(n == 6);
	CHECK_U64(sum_counts(u, leaf_is_kernel), 0);
	CHECK_U64(sum_counts(u, NULL), 7 + 3 + 4 + 2 + 1 + 6);
	CHECK(strstr(u, "[idle]") == NULL && strstr(u, "\nsh 2") == NULL);
	char *ni = write_str(p, 0, FOLDED_NO_INLINE, &n);
	CHECK(strstr(ni, "_[i]") == NULL);
	CHECK(strstr(ni, "sh;main;memcpy_impl 4\n") != NULL);
	CHECK_U64(sum_counts(ni, NULL), p->samples);
	/* a subtree keeps the full path from the process frame */
	char *sub = write_str(p, node_at(p, "sh;main;read"), 0, &n);
	CHECK(n == 3);
	CHECK(strncmp(sub, "sh;main;read", 12) == 0);
	CHECK_U64(sum_counts(sub, NULL), p->nodes[node_at(p, "sh;main;read")].total);
	FILE *f = fopen("/dev/null", "w");
	CHECK(folded_write(p, 0, FOLDED_KERNEL_ONLY | FOLDED_USER_ONLY, f) == -EINVAL);
	CHECK(folded_write(p, p->nnodes, 0, f) == -EINVAL);
	fclose(f);
	f = fopen("/dev/full", "w");
	if (f) {
		setvbuf(f, NULL, _IONBF, 0);
		CHECK(folded_write(p, 0, 0, f) < 0);
		fclose(f);
	}
	free(k);
	free(u);
	free(ni);
	free(sub);
	profile_free(p);
}

static struct profile *load_fixture(const char *name, struct folded_diag *d)
{
	char path[1024], err[256];
	snprintf(path, sizeof path, "%s/%s", datadir, name);
	struct profile *p = profile_new();
	int rc = folded_load_path(p, path, d, err, sizeof err);
	if (rc)
		fprintf(stderr, "%s\n", err);
	CHECK(rc == 0);
	return p;
}

static void test_fixtures(void)
{
	struct folded_diag d;
	/* perf script | stackcollapse-perf.pl --kernel --pid */
	struct profile *p = load_fixture("perf-stackcollapse.folded", &d);
	CHECK(d.lines_ok == 11 && d.lines_bad == 0);
	CHECK_U64(p->samples, 114);
	CHECK_U64(p->nprocs, 4);
	uint32_t vr = node_at(p, "dd-2811;[unknown];read;entry_SYSCALL_64;do_syscall_64;ksys_read;vfs_read");
	CHECK(vr && p->nodes[vr].kind == PK_KERNEL && p->nodes[vr].self == 12);
	CHECK(p->nodes[node_at(p, "dd-2811;[unknown]")].kind == PK_MARK);
	CHECK(p->nodes[node_at(p, "dd-2811;[unknown];[dd]")].kind == PK_USER);
	CHECK(node_at(p, "kworker/0:1-16;ret_from_fork;kthread") != 0);
	const struct prof_proc *dd = profile_proc(p, node_at(p, "dd-2811"));
	CHECK(dd && dd->samples == 38 && dd->kernel == 28 && dd->user == 10);
	const struct prof_proc *gz = profile_proc(p, node_at(p, "gzip-2901"));
	CHECK(gz && gz->kernel == 4 && gz->user == 31);
	CHECK_U64(p->ncpus, 0);
	profile_free(p);

	/* inferno-collapse-perf: spaces in names, _[i] inline, _[j] jit kept */
	p = load_fixture("inferno.folded", &d);
	CHECK(d.lines_ok == 7 && d.lines_bad == 0);
	CHECK_U64(p->samples, 48);
	uint32_t en = node_at(p, "perf_stacks;_start;__libc_start_main;main;std::endl<char, std::char_traits<char> >");
	CHECK(en && p->nodes[en].total == 30);
	uint32_t inv = node_at(p, "perf_stacks;_start;__libc_start_main;main;std::function<int (int, int)>::operator();std::_Function_handler<int (int, int), main::{lambda(int, int)#1}>::_M_invoke");
	CHECK(inv && p->nodes[inv].self == 2);
	uint32_t wr = node_at(p, "java;start_thread;[libjvm.so];call_stub;Interpreter;LCounter:::countTo;java/io/PrintStream:::println;java/io/PrintStream:::print;java/io/PrintStream:::write");
	CHECK(wr && (p->nodes[wr].flags & PF_INLINE) && p->nodes[wr].kind == PK_USER);
	CHECK(node_at(p, "java;start_thread;[libjvm.so];call_stub;Interpreter;LCounter:::countTo_[j]") != 0);
	CHECK(p->nodes[node_at(p, "perf_stacks;_start;__libc_start_main;main;std::endl<char, std::char_traits<char> >;std::ostream::put;_IO_new_file_overflow;__GI___libc_write;entry_SYSCALL_64_after_hwframe")].kind == PK_KERNEL);
	profile_free(p);

	p = load_fixture("crlf.folded", &d);
	CHECK(d.lines_ok == 2 && d.lines_bad == 0);
	CHECK(node_at(p, "sh;main;foo") != 0 && p->samples == 12);
	profile_free(p);

	char err[256];
	p = profile_new();
	CHECK(folded_load_path(p, "/nonexistent/x.folded", &d, err, sizeof err) == -ENOENT);
	CHECK(strstr(err, "/nonexistent/x.folded") != NULL);
	profile_free(p);
}

static void test_bad_lines(void)
{
	struct folded_diag d;
	struct profile *p = load_fixture("bad-lines.folded", &d);
	CHECK(d.lines_ok == 2);
	CHECK(d.lines_bad == 11);
	CHECK(d.first_bad_line == 2);
	CHECK(strstr(d.first_bad_msg, "line 2") != NULL);
	CHECK_U64(p->nodes[node_at(p, "sh;main;foo")].self, 15);
	CHECK_U64(p->samples, 15);
	profile_free(p);

	/* an over-long line is bad, the lines around it are kept and the
	 * numbering stays right */
	size_t big = FOLDED_MAX_LINE + 100;
	char *text = malloc(big + 64);
	strcpy(text, "a;ok 1\n");
	size_t o = strlen(text);
	for (size_t i = 0; i < big; i++)
		text[o + i] = i % 2 ? ';' : 'x';
	o += big;
	strcpy(text + o, " 1\na;ok2 2\n\nb;broken\n");
	p = load_str(text, &d);
	CHECK(d.lines_ok == 2 && d.lines_bad == 2 && d.first_bad_line == 2);
	CHECK(strstr(d.first_bad_msg, "long") != NULL);
	CHECK_U64(p->samples, 3);
	free(text);
	profile_free(p);

	/* loading adds to what is there; no trailing newline is fine */
	p = load_str("a;b 1\na;b 2", &d);
	CHECK(d.lines_ok == 2);
	CHECK_U64(p->nodes[node_at(p, "a;b")].self, 3);
	profile_free(p);
}

/* Names in dir starting with prefix. */
static int count_files(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += !strncmp(e->d_name, prefix, strlen(prefix));
	if (d)
		closedir(d);
	return n;
}

static void slurp(const char *path, char *buf, size_t len)
{
	buf[0] = '\0';
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	size_t n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

static void test_save(void)
{
	char dir[] = "/tmp/qtop-folded-test-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char cwd[4096];
	CHECK(getcwd(cwd, sizeof cwd) != NULL);
	CHECK(chdir(dir) == 0);
	struct profile *p = rich_profile();
	char out[512], err[512], path[600], buf[4096];

	/* default name in the current directory, reloads to the same tree */
	CHECK(folded_save(p, 0, 0, NULL, out, sizeof out, err, sizeof err) == 0);
	CHECK(strncmp(out, "qtop-", 5) == 0 && strstr(out, ".folded"));
	struct profile *q = profile_new();
	struct folded_diag d;
	CHECK(folded_load_path(q, out, &d, err, sizeof err) == 0);
	CHECK(same_tree(p, 0, q, 0));
	profile_free(q);
	struct stat st;
	CHECK(stat(out, &st) == 0 && (st.st_mode & 0444) == 0444);
	CHECK(unlink(out) == 0);

	/* the default name is taken: "-1", the old file untouched.  Block
	 * the names for a few seconds around now so a tick cannot dodge it. */
	time_t now = time(NULL);
	for (int s = -1; s < 5; s++) {
		time_t t = now + s;
		struct tm tm;
		char name[64];
		localtime_r(&t, &tm);
		strftime(name, sizeof name, "qtop-%Y%m%d-%H%M%S.folded", &tm);
		FILE *f = fopen(name, "wx");
		if (f) {
			fputs("precious\n", f);
			fclose(f);
		}
	}
	CHECK(folded_save(p, 0, 0, NULL, out, sizeof out, err, sizeof err) == 0);
	CHECK(strstr(out, "-1.folded") != NULL);
	snprintf(path, sizeof path, "%.*s.folded", (int)(strlen(out) - 9), out);
	slurp(path, buf, sizeof buf);
	CHECK_STR(buf, "precious\n");

	/* explicit path that exists: EEXIST, file unchanged, no temp left */
	FILE *f = fopen("mine.folded", "w");
	fputs("precious\n", f);
	fclose(f);
	int rc = folded_save(p, 0, 0, "mine.folded", out, sizeof out, err, sizeof err);
	CHECK(rc == -EEXIST);
	CHECK(strstr(err, "mine.folded") != NULL);
	slurp("mine.folded", buf, sizeof buf);
	CHECK_STR(buf, "precious\n");
	CHECK(count_files(".", ".qtop-save") == 0);

	/* explicit path in a subdirectory */
	CHECK(mkdir("sub", 0755) == 0);
	CHECK(folded_save(p, node_at(p, "sh"), FOLDED_KERNEL_ONLY, "sub/k.folded",
			  out, sizeof out, err, sizeof err) == 0);
	CHECK_STR(out, "sub/k.folded");
	slurp("sub/k.folded", buf, sizeof buf);
	CHECK(strstr(buf, "ksys_read_[k] 11\n") && !strstr(buf, "idle"));
	CHECK(count_files("sub", ".qtop-save") == 0);

	/* missing directory: error, nothing created */
	CHECK(folded_save(p, 0, 0, "nodir/x.folded", out, sizeof out, err, sizeof err) == -ENOENT);
	CHECK(err[0] != '\0');

	/* the write fails half way (file size limit): error, no temp file,
	 * no target */
	struct rlimit old, lim;
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = 64;
	signal(SIGXFSZ, SIG_IGN);
	CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	rc = folded_save(p, 0, 0, "big.folded", out, sizeof out, err, sizeof err);
	setrlimit(RLIMIT_FSIZE, &old);
	CHECK(rc == -EFBIG);
	CHECK(access("big.folded", F_OK) != 0);
	CHECK(count_files(".", ".qtop-save") == 0);

	/* out_path too small: refused before anything is placed */
	CHECK(folded_save(p, 0, 0, "sub/fits-not.folded", out, 4, err, sizeof err) == -ENAMETOOLONG);
	CHECK(access("sub/fits-not.folded", F_OK) != 0);
	CHECK(count_files("sub", ".qtop-save") == 0);

	/* read-only directory (root ignores permissions: skipped then) */
	CHECK(mkdir("ro", 0555) == 0);
	if (geteuid() != 0) {
		CHECK(folded_save(p, 0, 0, "ro/x.folded", out, sizeof out, err, sizeof err) == -EACCES);
		CHECK(count_files("ro", "") == 2);   /* . and .. */
	}

	/* clean up */
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	CHECK(chdir(cwd) == 0);
	CHECK(system(cmd) == 0);
	profile_free(p);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		datadir = argv[1];
	test_round_trip();
	test_flags();
	test_fixtures();
	test_bad_lines();
	test_save();
	return check_done("folded_test");
}
