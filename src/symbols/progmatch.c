/* progmatch.c - address space -> program ELF by the pages that tell the
 * programs apart (see progmatch.h). */
#include "progmatch.h"
#include "elffile.h"
#include "guest.h"

#include <elf.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PROGS 4096
#define MAX_CAND 16          /* (program, bias) candidates per probe */
#define MAX_DIST 16          /* distinguishing pages compared per candidate */
#define MAX_READS 64         /* pages read per probe */
#define MIN_OVERLAP 64       /* bytes of the pc page a candidate must cover */
#define MIN_DIST_BYTES 16    /* a page distinguishes with this many bytes */
#define RETRY_NS 200000000ull
#define MAX_ATTEMPTS 8
#define NOWHERE_FAST 16      /* probes at a pc no program covers retried at once */

struct pseg { uint64_t vaddr, filesz, off; };

struct prog {
	char *path;             /* realpath */
	char *name;             /* file name */
	int dyn;                /* ET_DYN: any page-aligned load bias */
	const uint8_t *file;    /* the guest's mapping (guest_prog) */
	size_t len;
	struct pseg *segs;      /* executable PT_LOADs (file bytes) */
	int nsegs;
};

struct entry {
	uint64_t cr3;
	int state;              /* 0 undecided, 1 matched, -1 none */
	int prog;
	int64_t bias;
	int matched, compared, ncand;
	int attempts;
	int nowhere;            /* probes at a pc no program covers */
	uint64_t last_ns;
};

struct progmatch {
	struct prog *p;
	int np;
	pthread_mutex_t lock;
	struct entry *e;
	int ne, cape;
};

/* ---- ELF images ---- */

static uint64_t rd(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void prog_free(struct prog *p)
{
	free(p->segs);
	free(p->path);
	free(p->name);
	memset(p, 0, sizeof *p);
}

/* 0 and *p filled for an ELF program with executable code (its bytes: the
 * guest's mapping of the file), else -1. */
static int prog_open(struct prog *p, const struct guest_prog *gp)
{
	memset(p, 0, sizeof *p);
	if (gp->file->len < 52)
		return -1;
	p->file = gp->file->map;
	p->len = gp->file->len;
	const uint8_t *h = p->file;
	if (memcmp(h, ELFMAG, SELFMAG) || h[EI_DATA] != ELFDATA2LSB ||
	    (h[EI_CLASS] != ELFCLASS32 && h[EI_CLASS] != ELFCLASS64))
		goto bad;
	int is64 = h[EI_CLASS] == ELFCLASS64;
	if (is64 && p->len < 64)
		goto bad;
	uint64_t type = rd(h + 16, 2);
	if (type != ET_EXEC && type != ET_DYN)
		goto bad;
	p->dyn = type == ET_DYN;
	uint64_t phoff = is64 ? rd(h + 32, 8) : rd(h + 28, 4);
	uint64_t phent = rd(h + (is64 ? 54 : 42), 2);
	uint64_t phnum = rd(h + (is64 ? 56 : 44), 2);
	if (phent < (is64 ? 56u : 32u) || phnum > 4096)
		goto bad;
	for (uint64_t i = 0; i < phnum; i++) {
		uint64_t o = phoff + i * phent;
		if (o > p->len || p->len - o < phent)
			goto bad;
		const uint8_t *ph = h + o;
		uint64_t ptype = rd(ph, 4), flags, off, va, fsz;
		if (is64) {
			flags = rd(ph + 4, 4);
			off = rd(ph + 8, 8);
			va = rd(ph + 16, 8);
			fsz = rd(ph + 32, 8);
		} else {
			off = rd(ph + 4, 4);
			va = rd(ph + 8, 4);
			fsz = rd(ph + 16, 4);
			flags = rd(ph + 24, 4);
		}
		if (ptype != PT_LOAD || !(flags & PF_X) || !fsz ||
		    off > p->len || p->len - off < fsz)
			continue;
		struct pseg *ns = realloc(p->segs, (size_t)(p->nsegs + 1) * sizeof *ns);
		if (!ns)
			goto bad;
		p->segs = ns;
		p->segs[p->nsegs++] = (struct pseg){ va, fsz, off };
	}
	if (!p->nsegs)
		goto bad;
	p->path = strdup(gp->real);
	p->name = strdup(gp->name);
	if (!p->path || !p->name)
		goto bad;
	return 0;
bad:
	prog_free(p);
	return -1;
}

static int prog_cmp(const void *a, const void *b)
{
	return strcmp(((const struct prog *)a)->path, ((const struct prog *)b)->path);
}

struct progmatch *progmatch_new(const struct guest *g)
{
	if (!guest_nprogs(g))
		return NULL;
	struct progmatch *pm = calloc(1, sizeof *pm);
	if (!pm)
		return NULL;
	pthread_mutex_init(&pm->lock, NULL);
	for (int i = 0; i < guest_nprogs(g) && pm->np < MAX_PROGS; i++) {
		struct prog *np = realloc(pm->p, (size_t)(pm->np + 1) * sizeof *np);
		if (!np)
			break;
		pm->p = np;
		if (prog_open(&pm->p[pm->np], guest_prog(g, i)) < 0)
			continue;
		/* a kernel image in the sysroot (upper half) is no program */
		if (pm->p[pm->np].segs[0].vaddr >= 0xc0000000ull &&
		    !pm->p[pm->np].dyn) {
			prog_free(&pm->p[pm->np]);
			continue;
		}
		pm->np++;
	}
	if (!pm->np) {
		progmatch_free(pm);
		return NULL;
	}
	qsort(pm->p, (size_t)pm->np, sizeof *pm->p, prog_cmp);
	return pm;
}

void progmatch_free(struct progmatch *pm)
{
	if (!pm)
		return;
	for (int i = 0; i < pm->np; i++)
		prog_free(&pm->p[i]);
	free(pm->p);
	free(pm->e);
	pthread_mutex_destroy(&pm->lock);
	free(pm);
}

int progmatch_nprogs(const struct progmatch *pm)
{
	return pm ? pm->np : 0;
}

const char *progmatch_prog_path(const struct progmatch *pm, int i)
{
	return pm && i >= 0 && i < pm->np ? pm->p[i].path : NULL;
}

const char *progmatch_prog_name(const struct progmatch *pm, int i)
{
	return pm && i >= 0 && i < pm->np ? pm->p[i].name : NULL;
}

/* ---- matching ---- */

/* The byte a program loaded at bias has at addr: 1 and *b, 0 none. */
static int byte_at(const struct prog *p, int64_t bias, uint64_t addr, uint8_t *b)
{
	uint64_t v = addr - (uint64_t)bias;
	for (int i = 0; i < p->nsegs; i++) {
		const struct pseg *s = &p->segs[i];
		if (v >= s->vaddr && v - s->vaddr < s->filesz) {
			*b = p->file[s->off + (v - s->vaddr)];
			return 1;
		}
	}
	return 0;
}

struct cand {
	int prog;
	int64_t bias;
	int matched, compared, mism;
};

struct page {
	uint64_t addr;
	long got;
	uint8_t buf[PROGMATCH_PAGE];
};

struct reader {
	progmatch_read_fn rd;
	void *ctx;
	struct page *pages;
	int n;
};

static const struct page *page_get(struct reader *r, uint64_t addr)
{
	for (int i = 0; i < r->n; i++)
		if (r->pages[i].addr == addr)
			return &r->pages[i];
	if (r->n >= MAX_READS)
		return NULL;
	struct page *pg = &r->pages[r->n++];
	pg->addr = addr;
	pg->got = r->rd(r->ctx, addr, pg->buf, PROGMATCH_PAGE);
	if (pg->got < 0)
		pg->got = 0;
	return pg;
}

/* Does program pi at bias have the bytes of the pc page there? */
static int covers(const struct prog *p, int64_t bias, uint64_t ip,
		  const struct page *pg)
{
	uint8_t b;
	if (!byte_at(p, bias, ip, &b))
		return 0;
	int have = 0, nonzero = 0;
	for (long i = 0; i < pg->got; i++) {
		if (!byte_at(p, bias, pg->addr + (uint64_t)i, &b))
			continue;
		if (b != pg->buf[i])
			return 0;
		have++;
		nonzero += b != 0;
	}
	return have >= MIN_OVERLAP && nonzero > 0;
}

/* The comparison set: the candidates and every static program. */
struct others {
	const struct progmatch *pm;
	const struct cand *c;
	int nc;
};

/* Is byte addr of candidate k one that tells it apart (some other program
 * of the set has another byte, or none, there)?  With nobody to compare
 * with, every byte of its own counts. */
static int distinguishes(const struct others *o, int k, uint64_t addr, uint8_t mine)
{
	int any = 0;
	uint8_t b;
	for (int j = 0; j < o->nc; j++) {
		if (j == k)
			continue;
		any = 1;
		const struct prog *q = &o->pm->p[o->c[j].prog];
		if (!byte_at(q, o->c[j].bias, addr, &b) || b != mine)
			return 1;
	}
	for (int i = 0; i < o->pm->np; i++) {
		const struct prog *q = &o->pm->p[i];
		int listed = 0;
		for (int j = 0; j < o->nc && !listed; j++)
			listed = o->c[j].prog == i;
		if (q->dyn || listed)
			continue;
		any = 1;
		if (!byte_at(q, 0, addr, &b) || b != mine)
			return 1;
	}
	return !any;
}

int progmatch_match(const struct progmatch *pm, uint64_t user_ip,
		    progmatch_read_fn rdfn, void *ctx, int64_t *bias_out,
		    int *matched, int *compared, int *ncand)
{
	*matched = *compared = *ncand = 0;
	*bias_out = 0;
	struct reader r = { rdfn, ctx, malloc(MAX_READS * sizeof *r.pages), 0 };
	if (!r.pages)
		return -2;
	int ret = -2;
	uint64_t p0 = user_ip & ~(uint64_t)(PROGMATCH_PAGE - 1);
	const struct page *pg0 = page_get(&r, p0);
	if (!pg0 || pg0->got <= 0)
		goto out;       /* unreadable: try again later */

	/* 1. candidates: programs with the pc page's bytes there */
	struct cand c[MAX_CAND];
	int nc = 0;
	for (int i = 0; i < pm->np && nc < MAX_CAND; i++) {
		const struct prog *p = &pm->p[i];
		if (!p->dyn) {
			if (covers(p, 0, user_ip, pg0))
				c[nc++] = (struct cand){ .prog = i, .bias = 0 };
			continue;
		}
		int per = 0;
		for (int s = 0; s < p->nsegs && per < 4 && nc < MAX_CAND; s++) {
			uint64_t v0 = p->segs[s].vaddr & ~(uint64_t)(PROGMATCH_PAGE - 1);
			uint64_t v1 = p->segs[s].vaddr + p->segs[s].filesz;
			for (uint64_t v = v0; v < v1 && per < 4 && nc < MAX_CAND;
			     v += PROGMATCH_PAGE) {
				int64_t b = (int64_t)(p0 - v);
				if (covers(p, b, user_ip, pg0)) {
					c[nc++] = (struct cand){ .prog = i, .bias = b };
					per++;
				}
			}
		}
	}
	*ncand = nc;
	if (!nc) {
		ret = -1;
		goto out;
	}

	/* 2. each candidate's distinguishing pages, compared on the bytes
	 * that distinguish */
	struct others o = { pm, c, nc };
	for (int k = 0; k < nc; k++) {
		const struct prog *p = &pm->p[c[k].prog];
		uint64_t pages[MAX_DIST * 8];
		int npg = 0, total = 0;
		for (int s = 0; s < p->nsegs; s++) {
			uint64_t a0 = (p->segs[s].vaddr + (uint64_t)c[k].bias) &
				      ~(uint64_t)(PROGMATCH_PAGE - 1);
			uint64_t a1 = p->segs[s].vaddr + (uint64_t)c[k].bias +
				      p->segs[s].filesz;
			for (uint64_t a = a0; a < a1; a += PROGMATCH_PAGE) {
				int nd = 0;
				uint8_t mine;
				for (uint32_t i = 0; i < PROGMATCH_PAGE && nd < MIN_DIST_BYTES; i++)
					if (byte_at(p, c[k].bias, a + i, &mine) &&
					    distinguishes(&o, k, a + i, mine))
						nd++;
				if (nd < MIN_DIST_BYTES)
					continue;
				/* keep an even spread of at most MAX_DIST * 8 */
				if (npg < MAX_DIST * 8)
					pages[npg++] = a;
				total++;
			}
		}
		int step = npg > MAX_DIST ? (npg + MAX_DIST - 1) / MAX_DIST : 1;
		for (int j = 0; j < npg; j += step) {
			const struct page *pg = page_get(&r, pages[j]);
			if (!pg || pg->got <= 0)
				continue;       /* not mapped (yet): no evidence */
			int bad = 0, cmp = 0;
			uint8_t mine;
			for (long i = 0; i < pg->got && !bad; i++) {
				uint64_t a = pg->addr + (uint64_t)i;
				if (!byte_at(p, c[k].bias, a, &mine) ||
				    !distinguishes(&o, k, a, mine))
					continue;
				cmp++;
				bad = pg->buf[i] != mine;
			}
			if (!cmp)
				continue;
			c[k].compared++;
			if (bad)
				c[k].mism++;
			else
				c[k].matched++;
		}
		(void)total;
	}

	/* 3. the candidate whose distinguishing pages all match */
	int best = -1, tie = 0, anycmp = 0;
	for (int k = 0; k < nc; k++) {
		anycmp |= c[k].compared > 0;
		if (c[k].mism || !c[k].matched)
			continue;
		if (best < 0 || c[k].matched > c[best].matched) {
			best = k;
			tie = 0;
		} else if (c[k].matched == c[best].matched) {
			tie = 1;
		}
	}
	if (best >= 0 && !tie) {
		*bias_out = c[best].bias;
		*matched = c[best].matched;
		*compared = c[best].compared;
		ret = c[best].prog;
	} else if (best < 0 && anycmp) {
		/* every candidate disagreed somewhere: report the closest */
		int k0 = 0;
		for (int k = 1; k < nc; k++)
			if (c[k].matched > c[k0].matched)
				k0 = k;
		*matched = c[k0].matched;
		*compared = c[k0].compared;
		ret = -1;
	}
out:
	free(r.pages);
	return ret;
}

/* ---- per address space (thread-safe) ---- */

static struct entry *entry_get(struct progmatch *pm, uint64_t cr3, int create)
{
	for (int i = 0; i < pm->ne; i++)
		if (pm->e[i].cr3 == cr3)
			return &pm->e[i];
	if (!create || pm->ne >= 65536)
		return NULL;
	if (pm->ne == pm->cape) {
		int nc = pm->cape ? 2 * pm->cape : 16;
		struct entry *ne = realloc(pm->e, (size_t)nc * sizeof *ne);
		if (!ne)
			return NULL;
		pm->e = ne;
		pm->cape = nc;
	}
	struct entry *e = &pm->e[pm->ne++];
	memset(e, 0, sizeof *e);
	e->cr3 = cr3;
	e->prog = -1;
	return e;
}

int progmatch_wants(struct progmatch *pm, uint64_t cr3, uint64_t now_ns)
{
	if (!pm)
		return 0;
	cr3 &= ~0x1full;    /* callers give qp_regs_as() keys */
	pthread_mutex_lock(&pm->lock);
	struct entry *e = entry_get(pm, cr3, 0);
	int want = !e || (e->state == 0 && e->attempts < MAX_ATTEMPTS &&
			  now_ns - e->last_ns >= RETRY_NS);
	pthread_mutex_unlock(&pm->lock);
	return want;
}

int progmatch_probe(struct progmatch *pm, uint64_t cr3, uint64_t user_ip,
		    uint64_t now_ns, progmatch_read_fn rdfn, void *ctx)
{
	if (!pm)
		return 1;
	cr3 &= ~0x1full;    /* callers give qp_regs_as() keys */
	int64_t bias;
	int matched, compared, ncand;
	int r = progmatch_match(pm, user_ip, rdfn, ctx, &bias, &matched,
				&compared, &ncand);
	pthread_mutex_lock(&pm->lock);
	struct entry *e = entry_get(pm, cr3, 1);
	if (e) {
		/* a pc no program covers at all (Linux i386: the vDSO's
		 * landing pad after sysenter, where most syscall samples
		 * are) decides nothing: probed again, not counted */
		int nowhere = r == -1 && !ncand;
		if (!nowhere)
			e->attempts++;
		/* ... and is tried again at the next sample, a few times:
		 * the program's own code is a few samples away, and every
		 * syscall chain sampled until it decides is cut at the vDSO
		 * (RETRY_NS later was 10-30 such chains per process) */
		e->last_ns = nowhere && ++e->nowhere < NOWHERE_FAST ? 0 : now_ns;
		e->ncand = ncand;
		e->matched = matched;
		e->compared = compared;
		if (r >= 0) {
			e->state = 1;
			e->prog = r;
			e->bias = bias;
		} else if ((r == -1 && ncand && e->attempts >= 2) ||
			   e->attempts >= MAX_ATTEMPTS) {
			/* none, seen twice (a probe may race an exec) */
			e->state = -1;
		}
	}
	pthread_mutex_unlock(&pm->lock);
	return !(r == -1 && !ncand);
}

int progmatch_lookup_index(struct progmatch *pm, uint64_t cr3, int *idx,
			   int64_t *bias)
{
	if (!pm)
		return 0;
	cr3 &= ~0x1full;    /* callers give qp_regs_as() keys */
	int st = 0;
	pthread_mutex_lock(&pm->lock);
	struct entry *e = entry_get(pm, cr3, 0);
	if (e) {
		st = e->state;
		if (st == 1) {
			*idx = e->prog;
			*bias = e->bias;
		}
	}
	pthread_mutex_unlock(&pm->lock);
	return st;
}

int progmatch_lookup(struct progmatch *pm, uint64_t cr3, const char **path,
		     int64_t *bias)
{
	int idx = -1;
	int st = progmatch_lookup_index(pm, cr3, &idx, bias);
	if (st == 1)
		*path = pm->p[idx].path;   /* the list never changes after progmatch_new */
	return st;
}

void progmatch_forget(struct progmatch *pm, uint64_t cr3)
{
	if (!pm)
		return;
	cr3 &= ~0x1full;    /* callers give qp_regs_as() keys */
	pthread_mutex_lock(&pm->lock);
	struct entry *e = entry_get(pm, cr3, 0);
	if (e && e->state != 0) {
		e->state = 0;
		e->prog = -1;
		e->attempts = 0;
		e->last_ns = 0;
	}
	pthread_mutex_unlock(&pm->lock);
}

int progmatch_report(struct progmatch *pm, FILE *f, const char *prefix)
{
	if (!pm)
		return 0;
	int n = 0;
	pthread_mutex_lock(&pm->lock);
	for (int i = 0; i < pm->ne; i++) {
		const struct entry *e = &pm->e[i];
		fprintf(f, "%sas-%llx: ", prefix ? prefix : "",
			(unsigned long long)e->cr3);
		if (e->state == 1) {
			const struct prog *p = &pm->p[e->prog];
			fprintf(f, "%s (%d/%d distinguishing pages", p->name,
				e->matched, e->compared);
			if (p->dyn)
				fprintf(f, ", load bias %#llx",
					(unsigned long long)e->bias);
			if (e->ncand > 1)
				fprintf(f, "; %d programs have its page at the pc",
					e->ncand);
			fputs(")\n", f);
		} else if (e->state == -1) {
			if (!e->ncand)
				fputs("matched no program (no program has the code at its pc)\n", f);
			else
				fprintf(f, "matched no program (%d candidate%s, "
					"distinguishing pages %d/%d at best)\n",
					e->ncand, e->ncand == 1 ? "" : "s",
					e->matched, e->compared);
		} else {
			fprintf(f, "not decided (%d probe%s)\n", e->attempts,
				e->attempts == 1 ? "" : "s");
		}
		n++;
	}
	pthread_mutex_unlock(&pm->lock);
	return n;
}
