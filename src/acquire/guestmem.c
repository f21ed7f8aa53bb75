/* guestmem.c - guest-physical reads from QEMU's own memory (see guestmem.h). */
#include "guestmem.h"
#include "regs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAX_REGIONS 64
#define RESOLVE_MIN_NS 1000000000ull   /* a miss re-resolves at most this often */

struct guestmem {
	struct qmp *q;
	int pid;                     /* QEMU; 0 in file mode */
	char file[256];
	const uint8_t *map;          /* file mode */
	size_t map_len;
	struct guestmem_region reg[MAX_REGIONS];
	int nreg;
	int last;                    /* region of the last hit */
	int stale;                   /* resolve before the next read */
	unsigned resolves;
	uint64_t resolved_ns;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- parsing (pure) ---- */

static int hexnum(const char **p, uint64_t *v)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(*p, &end, 16);
	if (end == *p || errno)
		return -1;
	*p = end;
	*v = x;
	return 0;
}

/* "  START-END (prio N, TYPE): NAME [@OFF] ..." */
static int parse_region_line(const char *l, const char *eol,
			     struct guestmem_region *r)
{
	const char *p = l, *t, *c;
	uint64_t a, b;
	size_t n;

	while (p < eol && *p == ' ')
		p++;
	if (hexnum(&p, &a) || *p != '-')
		return -1;
	p++;
	if (hexnum(&p, &b) || b < a || p >= eol)
		return -1;
	t = memchr(p, ',', (size_t)(eol - p));
	c = t ? memchr(t, ')', (size_t)(eol - t)) : NULL;
	if (!t || !c || c + 2 >= eol || c[1] != ':')
		return -1;
	t++;
	while (t < c && *t == ' ')
		t++;
	if ((size_t)(c - t) == 3 && !memcmp(t, "ram", 3))
		r->rom = 0;
	else if ((size_t)(c - t) == 3 && !memcmp(t, "rom", 3))
		r->rom = 1;
	else
		return 0;            /* i/o, romd, ...: not plain RAM */
	p = c + 2;
	while (p < eol && *p == ' ')
		p++;
	for (n = 0; p + n < eol && p[n] != ' '; n++)
		;
	if (!n || n >= sizeof r->mr)
		return -1;
	memcpy(r->mr, p, n);
	r->mr[n] = 0;
	p += n;
	r->mr_off = 0;
	while (p < eol && *p == ' ')
		p++;
	if (p < eol && *p == '@') {
		p++;
		if (hexnum(&p, &r->mr_off))
			return -1;
	}
	r->gpa = a;
	r->size = b - a + 1;
	r->where = 0;
	return 1;
}

int guestmem_parse_mtree(const char *text, struct guestmem_region *out, int max)
{
	const char *p = text, *end = text + strlen(text);
	int in_view = 0, ours = 0, found = 0, n = 0;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *l = p;

		if (!eol)
			eol = end;
		p = eol < end ? eol + 1 : end;
		if (eol > l && eol[-1] == '\r')
			eol--;
		if (!strncmp(l, "FlatView #", 10)) {
			if (ours)
				break;           /* our view ended */
			in_view = 1;
			continue;
		}
		if (!in_view)
			continue;
		if (eol - l >= 12 && !strncmp(l, " AS \"memory\"", 12)) {
			ours = found = 1;
			continue;
		}
		if (!ours || n >= max)
			continue;
		struct guestmem_region r;
		memset(&r, 0, sizeof r);
		if (parse_region_line(l, eol, &r) == 1)
			out[n++] = r;
	}
	return found ? n : -1;
}

int guestmem_parse_gpa2hva(const char *text, uint64_t *hva)
{
	const char *p = strstr(text, "Host virtual address for ");
	const char *is;
	uint64_t v;

	if (!p || !(is = strstr(p, ") is 0x")))
		return -1;
	is += 7;
	if (hexnum(&is, &v))
		return -1;
	*hva = v;
	return 0;
}

/* ---- layout ---- */

static int resolve(struct guestmem *g, char *err, size_t errlen)
{
	char *text = NULL;
	struct guestmem_region reg[MAX_REGIONS];
	int n, k = 0, rc;
	const char *main_mr = NULL;

	rc = qmp_hmp(g->q, "info mtree -f", -1, &text, err, errlen);
	if (rc < 0)
		return GUESTMEM_E_QMP;
	n = guestmem_parse_mtree(text, reg, MAX_REGIONS);
	free(text);
	if (n <= 0) {
		snprintf(err, errlen, "no RAM in QEMU's \"info mtree -f\"");
		return GUESTMEM_E_QMP;
	}
	if (g->map) {
		/* File mode: the backend's regions are those of the memory
		 * region that covers the most guest RAM and fits the file. */
		uint64_t best = 0;
		for (int i = 0; i < n; i++) {
			uint64_t tot = 0;
			for (int j = 0; j < n; j++)
				if (!strcmp(reg[i].mr, reg[j].mr)) {
					if (reg[j].mr_off + reg[j].size > g->map_len) {
						tot = 0;
						break;
					}
					tot += reg[j].size;
				}
			if (tot > best) {
				best = tot;
				main_mr = reg[i].mr;
			}
		}
		if (!main_mr) {
			snprintf(err, errlen, "%s: no guest RAM region of QEMU fits this file (%zu bytes)",
				 g->file, g->map_len);
			return GUESTMEM_E_QMP;
		}
	}
	for (int i = 0; i < n; i++) {
		struct guestmem_region r = reg[i];
		char cmd[48];

		if (main_mr) {
			if (strcmp(r.mr, main_mr))
				continue;
			r.where = r.mr_off;
		} else {
			snprintf(cmd, sizeof cmd, "gpa2hva 0x%" PRIx64, r.gpa);
			rc = qmp_hmp(g->q, cmd, -1, &text, err, errlen);
			if (rc < 0 && rc != QMP_E_ERROR)
				return GUESTMEM_E_QMP;
			rc = rc < 0 ? -1 : guestmem_parse_gpa2hva(text, &r.where);
			free(text);
			text = NULL;
			if (rc < 0)
				continue;    /* not RAM after all: leave it out */
		}
		/* one range where guest and host addresses both continue */
		if (k && reg[k - 1].gpa + reg[k - 1].size == r.gpa &&
		    reg[k - 1].where + reg[k - 1].size == r.where) {
			reg[k - 1].size += r.size;
			continue;
		}
		reg[k++] = r;
	}
	if (!k) {
		snprintf(err, errlen, "QEMU named no guest RAM (gpa2hva)");
		return GUESTMEM_E_QMP;
	}
	memcpy(g->reg, reg, (size_t)k * sizeof reg[0]);
	g->nreg = k;
	g->last = 0;
	g->stale = 0;
	g->resolves++;
	g->resolved_ns = now_ns();
	return 0;
}

static int find(struct guestmem *g, uint64_t gpa)
{
	const struct guestmem_region *r = &g->reg[g->last];

	if (g->last < g->nreg && gpa >= r->gpa && gpa - r->gpa < r->size)
		return g->last;
	for (int i = 0; i < g->nreg; i++)
		if (gpa >= g->reg[i].gpa && gpa - g->reg[i].gpa < g->reg[i].size)
			return g->last = i;
	return -1;
}

static long read_at(struct guestmem *g, uint64_t where, void *buf, uint32_t len)
{
	if (g->map) {
		memcpy(buf, g->map + where, len);
		return len;
	}
	struct iovec lo = { buf, len }, re = { (void *)(uintptr_t)where, len };
	ssize_t n = process_vm_readv(g->pid, &lo, 1, &re, 1, 0);
	if (n >= 0)
		return (long)n;
	if (errno == EPERM || errno == EACCES)
		return GUESTMEM_E_PERM;
	if (errno == ESRCH)
		return GUESTMEM_E_GONE;
	return 0;   /* EFAULT: not mapped in QEMU (any more) */
}

long guestmem_hva(struct guestmem *g, uint64_t gpa, uint32_t len, uint64_t *hva)
{
	int i;

	if (g->stale || guestmem_pid(g) == 0 || (i = find(g, gpa)) < 0)
		return -1;
	const struct guestmem_region *r = &g->reg[i];
	uint64_t room = r->size - (gpa - r->gpa);
	*hva = r->where + (gpa - r->gpa);
	return room < len ? (long)room : (long)len;
}

long guestmem_read(struct guestmem *g, uint64_t gpa, void *buf, uint32_t len)
{
	uint8_t *out = buf;
	long total = 0;
	int retried = 0;

	if (g->stale) {
		char e[256];
		if (resolve(g, e, sizeof e) < 0)
			return GUESTMEM_E_QMP;
	}
	while ((uint32_t)total < len) {
		uint64_t a = gpa + (uint64_t)total;
		int i = find(g, a);
		long got;

		if (i < 0) {
			char e[256];
			/* Outside every range: MMIO or a gap, or a layout that
			 * changed under us (hotplug): look again, rarely. */
			if (retried || now_ns() - g->resolved_ns < RESOLVE_MIN_NS ||
			    resolve(g, e, sizeof e) < 0)
				break;
			retried = 1;
			continue;
		}
		const struct guestmem_region *r = &g->reg[i];
		uint64_t room = r->size - (a - r->gpa);
		uint32_t chunk = len - (uint32_t)total;
		if (chunk > room)
			chunk = (uint32_t)room;
		got = read_at(g, r->where + (a - r->gpa), out + total, chunk);
		if (got < 0)
			return total ? total : got;
		total += got;
		if ((uint32_t)got < chunk) {
			g->stale = 1;    /* QEMU's mapping moved: look again next time */
			break;
		}
	}
	return total;
}

void guestmem_layout_changed(struct guestmem *g)
{
	if (g)
		g->stale = 1;
}

/* Compare a few spots with the monitor's own reading (xp): a pid that is
 * not the QEMU behind the socket (a proxy), or another guest's RAM file,
 * gives other bytes.  Memory of a running guest may change between the two
 * reads: one spot that matches with some non-zero bytes is enough. */
static int verify(struct guestmem *g, char *err, size_t errlen)
{
	const struct guestmem_region *big = &g->reg[0];
	int tried = 0, zero_only = 0;

	for (int i = 1; i < g->nreg; i++)
		if (g->reg[i].size > big->size)
			big = &g->reg[i];
	for (int s = 0; s < 8; s++) {
		uint64_t gpa = big->gpa + (big->size / 8) * (uint64_t)s;
		uint8_t a[64], b[64];
		uint64_t a0 = 0;
		char cmd[48], *text = NULL;
		long got;
		int nz = 0;

		gpa &= ~(uint64_t)63;
		got = guestmem_read(g, gpa, a, sizeof a);
		if (got < 0)
			return (int)got;
		snprintf(cmd, sizeof cmd, "xp/8gx 0x%" PRIx64, gpa);
		if (qmp_hmp(g->q, cmd, -1, &text, err, errlen) < 0) {
			free(text);
			return GUESTMEM_E_QMP;
		}
		long xg = hmpx_parse(text, strlen(text), &a0, b, sizeof b);
		free(text);
		if (xg != (long)sizeof b || a0 != gpa)
			continue;
		tried++;
		if (got != (long)sizeof a || memcmp(a, b, sizeof a))
			continue;
		for (size_t k = 0; k < sizeof a; k++)
			nz |= a[k];
		if (nz)
			return 0;
		zero_only++;
	}
	if (tried && zero_only == tried)
		return 0;    /* all zero both ways: nothing says it is wrong */
	snprintf(err, errlen, "%s does not hold this guest's RAM (its bytes differ from QEMU's xp)",
		 g->map ? g->file : "the QMP socket's peer process");
	return GUESTMEM_E_QMP;
}

struct guestmem *guestmem_open(struct qmp *q, const char *file, int *perm,
			       char *err, size_t errlen)
{
	struct guestmem *g = calloc(1, sizeof *g);
	int rc;

	if (perm)
		*perm = 0;
	if (!g) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	g->q = q;
	if (file) {
		struct stat st;
		int fd = open(file, O_RDONLY | O_CLOEXEC);

		snprintf(g->file, sizeof g->file, "%s", file);
		if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) {
			snprintf(err, errlen, "%s: %s", file,
				 fd < 0 ? strerror(errno) : "not a RAM file");
			if (fd >= 0)
				close(fd);
			free(g);
			return NULL;
		}
		g->map_len = (size_t)st.st_size;
		/* read-only: no write to guest memory can come from here */
		g->map = mmap(NULL, g->map_len, PROT_READ, MAP_SHARED, fd, 0);
		close(fd);
		if (g->map == MAP_FAILED) {
			snprintf(err, errlen, "%s: mmap: %s", file, strerror(errno));
			free(g);
			return NULL;
		}
	} else {
		g->pid = qmp_peer_pid(q);
		if (g->pid <= 0) {
			snprintf(err, errlen, "QEMU's pid is unknown (QMP not over a local unix socket, or QEMU in another pid namespace)");
			free(g);
			return NULL;
		}
	}
	rc = resolve(g, err, errlen);
	if (rc == 0)
		rc = verify(g, err, errlen);
	if (rc == GUESTMEM_E_PERM) {
		if (perm)
			*perm = 1;
		snprintf(err, errlen, "not allowed to read QEMU's memory (pid %d: process_vm_readv: %s); "
			 "fixes: start QEMU from qtop-prof, give it a shared RAM file (--mem file:PATH), "
			 "run qtop-prof with cap_sys_ptrace, or set kernel.yama.ptrace_scope=0",
			 g->pid, strerror(EPERM));
	} else if (rc == GUESTMEM_E_GONE) {
		snprintf(err, errlen, "QEMU (pid %d) is gone", g->pid);
	}
	if (rc < 0) {
		guestmem_free(g);
		return NULL;
	}
	return g;
}

void guestmem_free(struct guestmem *g)
{
	if (!g)
		return;
	if (g->map)
		munmap((void *)g->map, g->map_len);
	free(g);
}

int guestmem_pid(const struct guestmem *g) { return g->pid; }
int guestmem_nregions(const struct guestmem *g) { return g->nreg; }
const struct guestmem_region *guestmem_region(const struct guestmem *g, int i)
{
	return i >= 0 && i < g->nreg ? &g->reg[i] : NULL;
}
unsigned guestmem_resolves(const struct guestmem *g) { return g->resolves; }
