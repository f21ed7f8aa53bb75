/* folded.c - folded stacks: write, save (savefile.c), tolerant load. */
#include "folded.h"
#include "savefile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SFX_KERNEL "_[k]"
#define SFX_INLINE "_[i]"
#define SFX_LEN 4

/* ---- write -------------------------------------------------------------- */

static void put_name(const char *s, FILE *f)
{
	/* ';' and line breaks would change the line's structure */
	for (; *s; s++) {
		char c = *s;
		if (c == ';')
			c = ':';
		else if (c == '\n')
			c = ' ';
		putc_unlocked(c, f);
	}
}

static void put_stack(const struct profile *p, const uint32_t *path,
		      size_t n, unsigned flags, FILE *f)
{
	int first = 1;
	for (size_t i = n; i > 0; i--) {
		const struct prof_node *nd = &p->nodes[path[i - 1]];
		int proc = nd->kind == PK_PROC && i == n;
		if (!proc && (flags & FOLDED_NO_INLINE) && (nd->flags & PF_INLINE))
			continue;
		if (!first)
			putc_unlocked(';', f);
		first = 0;
		put_name(profile_str_get(p, nd->name), f);
		if (proc)
			continue;
		if (nd->flags & PF_INLINE)
			fputs(SFX_INLINE, f);
		if (nd->kind == PK_KERNEL)
			fputs(SFX_KERNEL, f);
	}
}

static void put_line(const struct profile *p, const uint32_t *path,
		     size_t n, unsigned flags, uint64_t count, FILE *f)
{
	put_stack(p, path, n, flags, f);
	fprintf(f, " %llu\n", (unsigned long long)count);
}

int folded_write_stack(const struct profile *p, uint32_t node, unsigned flags,
		       FILE *f)
{
	if (!p || !f || node == 0 || node >= p->nnodes)
		return -EINVAL;
	size_t n = p->nodes[node].depth;
	uint32_t *path = malloc(n * sizeof *path);
	if (!path)
		return -ENOMEM;
	n = 0;
	for (uint32_t y = node; y; y = p->nodes[y].parent)
		path[n++] = y;
	put_stack(p, path, n, flags, f);
	free(path);
	return ferror(f) ? -EIO : 0;
}

long folded_write(const struct profile *p, uint32_t under, unsigned flags,
		  FILE *f)
{
	if (!p || !f || under >= p->nnodes)
		return -EINVAL;
	if ((flags & FOLDED_KERNEL_ONLY) && (flags & FOLDED_USER_ONLY))
		return -EINVAL;
	/* Depth-first with children by name: a stack of pending nodes, each
	 * node's children pushed in reverse so they pop in order. */
	uint32_t *todo = NULL, *kids = NULL, *path = NULL;
	size_t ntodo = 0, captodo = 0, capkids = 0, cappath = 0;
	long lines = 0, rc = 0;

	flockfile(f);
	uint32_t x = under;
	for (;;) {
		const struct prof_node *nd = &p->nodes[x];
		int keep = nd->self > 0 && nd->depth >= 1;
		if (keep && (flags & FOLDED_KERNEL_ONLY))
			keep = nd->kind == PK_KERNEL;
		if (keep && (flags & FOLDED_USER_ONLY))
			keep = nd->kind == PK_USER;
		if (keep) {
			if (nd->depth > cappath) {
				size_t nc = (size_t)nd->depth * 2;
				uint32_t *np = realloc(path, nc * sizeof *np);
				if (!np) {
					rc = -ENOMEM;
					break;
				}
				path = np;
				cappath = nc;
			}
			size_t n = 0;
			for (uint32_t y = x; y; y = p->nodes[y].parent)
				path[n++] = y;
			put_line(p, path, n, flags, nd->self, f);
			lines++;
		}
		long nk = profile_children_sorted(p, x, &kids, &capkids);
		if (nk < 0) {
			rc = nk;
			break;
		}
		if (ntodo + (size_t)nk > captodo) {
			size_t nc = captodo ? captodo * 2 : 256;
			while (nc < ntodo + (size_t)nk)
				nc *= 2;
			uint32_t *nt = realloc(todo, nc * sizeof *nt);
			if (!nt) {
				rc = -ENOMEM;
				break;
			}
			todo = nt;
			captodo = nc;
		}
		for (long k = nk; k > 0; k--)
			todo[ntodo++] = kids[k - 1];
		if (!ntodo)
			break;
		x = todo[--ntodo];
	}
	funlockfile(f);
	free(todo);
	free(kids);
	free(path);
	if (rc)
		return rc;
	if (ferror(f))
		return -EIO;
	return lines;
}

/* ---- save --------------------------------------------------------------- */

struct save_ctx {
	const struct profile *p;
	uint32_t under;
	unsigned flags;
};

static long write_cb(FILE *f, void *ctx)
{
	const struct save_ctx *c = ctx;
	return folded_write(c->p, c->under, c->flags, f);
}

int folded_save(const struct profile *p, uint32_t under, unsigned flags,
		const char *path, char *out_path, size_t out_len,
		char *err, size_t errlen)
{
	struct save_ctx c = { p, under, flags };
	if (!p) {
		if (err && errlen)
			snprintf(err, errlen, "save: bad arguments");
		return -EINVAL;
	}
	return savefile_save(path, ".folded", write_cb, &c, out_path, out_len,
			     err, errlen);
}

/* folded_writer takes (ctx, f); savefile's writer (f, ctx) */
struct with_ctx { folded_writer fn; void *ctx; };

static long with_cb(FILE *f, void *ctx)
{
	const struct with_ctx *w = ctx;
	return w->fn(w->ctx, f);
}

int folded_save_with(folded_writer fn, void *ctx, const char *path,
		     const char *ext, char *out_path, size_t out_len,
		     char *err, size_t errlen)
{
	struct with_ctx w = { fn, ctx };
	if (!fn || (path && !path[0])) {
		if (err && errlen)
			snprintf(err, errlen, "save: bad arguments");
		return -EINVAL;
	}
	return savefile_save(path, ext ? ext : ".folded", with_cb, &w, out_path,
			     out_len, err, errlen);
}

/* ---- load --------------------------------------------------------------- */

struct reader {
	char *buf;
	size_t len, cap;
	int too_long;
};

/* Next line into r->buf (NUL-terminated, newline stripped).  0 at EOF.
 * Lines over FOLDED_MAX_LINE are consumed but not kept (too_long). */
static int read_line(FILE *f, struct reader *r)
{
	r->len = 0;
	r->too_long = 0;
	int c, any = 0;
	while ((c = getc_unlocked(f)) != EOF) {
		any = 1;
		if (c == '\n')
			break;
		if (r->too_long)
			continue;
		if (r->len + 1 >= r->cap) {
			if (r->cap > FOLDED_MAX_LINE) {
				r->too_long = 1;
				continue;
			}
			size_t nc = r->cap ? r->cap * 2 : 4096;
			char *nb = realloc(r->buf, nc);
			if (!nb)
				return -ENOMEM;
			r->buf = nb;
			r->cap = nc;
		}
		r->buf[r->len++] = (char)c;
	}
	if (!any)
		return 0;
	if (r->len > FOLDED_MAX_LINE)
		r->too_long = 1;
	if (r->buf)
		r->buf[r->len] = '\0';
	return 1;
}

static int ends_with(const char *s, size_t len, const char *sfx)
{
	return len >= SFX_LEN && memcmp(s + len - SFX_LEN, sfx, SFX_LEN) == 0;
}

static int is_mark(const char *s)
{
	return !strcmp(s, "[unknown]") || !strcmp(s, "[truncated]") ||
	       !strcmp(s, "[idle]");
}

struct frames {
	struct prof_frame *v;
	size_t cap;
};

/* Parse one line in place: 0 ok, 1 bad (*bad says why), -ENOMEM. */
#define BAD(msg) do { *bad = (msg); return 1; } while (0)
static int parse_line(char *s, size_t len, struct frames *fr,
		      size_t *nframes, uint64_t *count, const char **bad)
{
	if (memchr(s, '\0', len))
		BAD("NUL byte in line");
	char *sp = strrchr(s, ' ');
	if (!sp)
		BAD("no count (expected \"frame;frame count\")");
	const char *num = sp + 1;
	if (!*num)
		BAD("no count after the last space");
	uint64_t c = 0;
	for (const char *d = num; *d; d++) {
		if (*d < '0' || *d > '9')
			BAD("count is not a positive integer");
		if (c > (UINT64_MAX - (uint64_t)(*d - '0')) / 10)
			BAD("count too large");
		c = c * 10 + (uint64_t)(*d - '0');
	}
	if (c == 0)
		BAD("count is not a positive integer");
	/* frames may contain spaces, but not end with the separator's */
	while (sp > s && (sp[-1] == ' ' || sp[-1] == '\t'))
		sp--;
	*sp = '\0';
	if (sp == s)
		BAD("no frames before the count");

	size_t n = 0;
	for (char *fs = s;;) {
		char *semi = strchr(fs, ';');
		if (semi)
			*semi = '\0';
		size_t fl = strlen(fs);
		if (fl == 0)
			BAD("empty frame");
		if (n == PROF_MAX_STACK)
			BAD("too many frames");
		if (n == fr->cap) {
			size_t nc = fr->cap ? fr->cap * 2 : 64;
			struct prof_frame *nv = realloc(fr->v, nc * sizeof *nv);
			if (!nv)
				return -ENOMEM;
			fr->v = nv;
			fr->cap = nc;
		}
		struct prof_frame *f = &fr->v[n];
		*f = (struct prof_frame){ .name = fs, .kind = PK_USER };
		if (n == 0) {
			f->kind = PK_PROC;
		} else {
			if (ends_with(fs, fl, SFX_KERNEL)) {
				fl -= SFX_LEN;
				fs[fl] = '\0';
				f->kind = PK_KERNEL;
				f->module = "kernel";
			}
			if (ends_with(fs, fl, SFX_INLINE)) {
				fl -= SFX_LEN;
				fs[fl] = '\0';
				f->flags = PF_INLINE;
			}
			if (fl == 0)
				BAD("empty frame name before its suffix");
			if (f->kind == PK_USER && is_mark(fs))
				f->kind = PK_MARK;
		}
		n++;
		if (!semi)
			break;
		fs = semi + 1;
	}
	*nframes = n;
	*count = c;
	return 0;
}
#undef BAD

int folded_load(struct profile *p, FILE *f, struct folded_diag *diag)
{
	struct folded_diag d = { 0 };
	if (!p || !f)
		return -EINVAL;
	struct reader r = { 0 };
	struct frames fr = { 0 };
	long lineno = 0;
	int rc = 0, got;

	flockfile(f);
	while ((got = read_line(f, &r)) > 0) {
		lineno++;
		char *s = r.buf;
		size_t len = r.len;
		const char *bad = NULL;
		if (r.too_long) {
			bad = "line too long";
		} else {
			/* CRLF files, trailing blanks */
			while (len && (s[len - 1] == '\r' || s[len - 1] == ' ' ||
				       s[len - 1] == '\t'))
				s[--len] = '\0';
			size_t lead = 0;
			while (lead < len && (s[lead] == ' ' || s[lead] == '\t'))
				lead++;
			if (lead == len)
				continue;
			s += lead;
			len -= lead;
			size_t n = 0;
			uint64_t count = 0;
			int pr = parse_line(s, len, &fr, &n, &count, &bad);
			if (pr < 0) {
				rc = pr;
				break;
			}
			if (!pr && count > UINT64_MAX - p->samples) {
				/* totals are sums of counts: keep them exact */
				bad = "count overflows the profile's total";
				pr = 1;
			}
			if (!pr && !profile_add(p, fr.v, n, PROF_CPU_UNKNOWN, count)) {
				rc = -ENOMEM;
				break;
			}
		}
		if (bad) {
			d.lines_bad++;
			if (d.nbad_lines < FOLDED_DIAG_LINES)
				d.bad_lines[d.nbad_lines++] = lineno;
			if (!d.first_bad_line) {
				d.first_bad_line = lineno;
				snprintf(d.first_bad_msg, sizeof d.first_bad_msg,
					 "line %ld: %s", lineno, bad);
			}
		} else {
			d.lines_ok++;
		}
	}
	if (got < 0)
		rc = got;
	if (!rc && ferror(f))
		rc = -EIO;
	funlockfile(f);
	free(r.buf);
	free(fr.v);
	if (diag)
		*diag = d;
	return rc;
}

static int fail(char *err, size_t errlen, int rc, const char *fmt,
		const char *arg)
{
	if (err && errlen)
		snprintf(err, errlen, fmt, arg, strerror(-rc));
	return rc;
}

int folded_load_path(struct profile *p, const char *path,
		     struct folded_diag *diag, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (!p || !path)
		return fail(err, errlen, -EINVAL, "load%s: %s", "");
	int use_stdin = !strcmp(path, "-");
	FILE *f = use_stdin ? stdin : fopen(path, "re");
	if (!f)
		return fail(err, errlen, -errno, "cannot open %s: %s", path);
	int rc = folded_load(p, f, diag);
	if (!use_stdin)
		fclose(f);
	if (rc)
		return fail(err, errlen, rc, "reading %s: %s", path);
	return 0;
}
