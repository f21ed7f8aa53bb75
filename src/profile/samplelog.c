/* samplelog.c - append-only log of symbolized samples (see samplelog.h). */
#include "samplelog.h"
#include "folded.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_BITS 16                  /* 64 Ki samples (1.5 MiB) per chunk */
#define CHUNK (1u << CHUNK_BITS)

/* Open addressing over ids: slot holds id + 1, 0 is empty. */
struct idhash {
	uint32_t *slot;
	uint32_t cap;                  /* power of two */
	uint32_t n;
};

struct samplelog {
	uint64_t max, count, dropped, weight, generation;
	int aggregated;

	struct slog_sample **chunks;
	size_t nchunks, capchunks;

	char *sbuf;                    /* strings: NUL-terminated, at offsets */
	size_t slen, scap;
	uint32_t *soff;
	uint32_t nstr, capstr;
	struct idhash shash;

	struct slog_frame *frames;
	uint32_t nframes, capframes;
	struct idhash fhash;

	struct slog_stack *stk;        /* stack id i + 1 is stk[i] */
	uint32_t nstk, capstk;
	struct idhash khash;

	struct slog_module { char *name, *path, *build_id; } *mods;  /* not reset */
	size_t nmods;
};

static uint64_t hash_bytes(const void *p, size_t n, uint64_t h)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;   /* FNV-1a */
	return h;
}
#define HASH0 0xcbf29ce484222325ull

static int grow(void **v, size_t *cap, size_t need, size_t elem, size_t first)
{
	if (need <= *cap)
		return 0;
	size_t nc = *cap ? *cap : first;
	while (nc < need)
		nc *= 2;
	void *nv = realloc(*v, nc * elem);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = nc;
	return 0;
}

static int grow32(void **v, uint32_t *cap, size_t need, size_t elem)
{
	size_t c = *cap;
	if (need > UINT32_MAX / 2)
		return -ENOMEM;
	int rc = grow(v, &c, need, elem, 64);
	*cap = (uint32_t)c;
	return rc;
}

/* ---- id hash ---- */

typedef uint64_t (*hash_fn)(const struct samplelog *l, uint32_t id);

static int idhash_rehash(struct samplelog *l, struct idhash *h, hash_fn fn)
{
	uint32_t nc = h->cap ? h->cap * 2 : 1024;
	uint32_t *ns = calloc(nc, sizeof *ns);
	if (!ns)
		return -ENOMEM;
	for (uint32_t i = 0; i < h->cap; i++) {
		if (!h->slot[i])
			continue;
		uint32_t j = (uint32_t)fn(l, h->slot[i] - 1) & (nc - 1);
		while (ns[j])
			j = (j + 1) & (nc - 1);
		ns[j] = h->slot[i];
	}
	free(h->slot);
	h->slot = ns;
	h->cap = nc;
	return 0;
}

/* ---- strings ---- */

static uint64_t str_hash(const struct samplelog *l, uint32_t id)
{
	const char *s = l->sbuf + l->soff[id];
	return hash_bytes(s, strlen(s), HASH0);
}

static uint32_t str_intern(struct samplelog *l, const char *s, int *err)
{
	if (!s || !*s)
		return 0;
	size_t len = strlen(s);
	if ((l->shash.n + 1) * 2 > l->shash.cap &&
	    idhash_rehash(l, &l->shash, str_hash) < 0)
		goto oom;
	uint32_t m = l->shash.cap - 1;
	uint32_t j = (uint32_t)hash_bytes(s, len, HASH0) & m;
	for (; l->shash.slot[j]; j = (j + 1) & m)
		if (!strcmp(l->sbuf + l->soff[l->shash.slot[j] - 1], s))
			return l->shash.slot[j];    /* ids are index + 1 */
	if (l->slen + len + 1 > UINT32_MAX ||
	    grow((void **)&l->sbuf, &l->scap, l->slen + len + 1, 1, 4096) < 0 ||
	    grow32((void **)&l->soff, &l->capstr, l->nstr + 1, sizeof *l->soff) < 0)
		goto oom;
	memcpy(l->sbuf + l->slen, s, len + 1);
	l->soff[l->nstr] = (uint32_t)l->slen;
	l->slen += len + 1;
	l->shash.slot[j] = l->nstr + 1;
	l->shash.n++;
	return ++l->nstr;
oom:
	*err = -ENOMEM;
	return 0;
}

/* ---- frames ---- */

static uint64_t frame_hash_of(const struct slog_frame *f)
{
	uint64_t h = HASH0;
	h = hash_bytes(&f->name, 16, h);       /* name module file line */
	h = hash_bytes(&f->addr, 8, h);
	h = hash_bytes(&f->kind, 2, h);
	return h;
}

static uint64_t frame_hash(const struct samplelog *l, uint32_t id)
{
	return frame_hash_of(&l->frames[id]);
}

static int frame_eq(const struct slog_frame *a, const struct slog_frame *b)
{
	return a->name == b->name && a->module == b->module &&
	       a->file == b->file && a->line == b->line && a->addr == b->addr &&
	       a->kind == b->kind && a->flags == b->flags;
}

/* "file.c:123" -> file, line */
static void split_src(struct samplelog *l, const char *src, struct slog_frame *f,
		      int *err)
{
	if (!src || !*src)
		return;
	const char *colon = strrchr(src, ':');
	if (colon && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1) &&
	    colon != src) {
		char buf[512];
		size_t n = (size_t)(colon - src);
		if (n >= sizeof buf)
			n = sizeof buf - 1;
		memcpy(buf, src, n);
		buf[n] = '\0';
		f->file = str_intern(l, buf, err);
		unsigned long v = strtoul(colon + 1, NULL, 10);
		f->line = v > UINT32_MAX ? 0 : (uint32_t)v;
	} else {
		f->file = str_intern(l, src, err);
	}
}

static uint32_t frame_intern(struct samplelog *l, const struct prof_frame *pf,
			     int *err)
{
	struct slog_frame f;
	memset(&f, 0, sizeof f);
	f.name = str_intern(l, pf->name, err);
	f.module = str_intern(l, pf->module, err);
	split_src(l, pf->src, &f, err);
	f.addr = pf->addr;
	f.kind = pf->kind;
	f.flags = pf->flags & PF_INLINE;
	if (*err)
		return 0;
	if ((l->fhash.n + 1) * 2 > l->fhash.cap &&
	    idhash_rehash(l, &l->fhash, frame_hash) < 0)
		goto oom;
	uint32_t m = l->fhash.cap - 1;
	uint32_t j = (uint32_t)frame_hash_of(&f) & m;
	for (; l->fhash.slot[j]; j = (j + 1) & m)
		if (frame_eq(&l->frames[l->fhash.slot[j] - 1], &f))
			return l->fhash.slot[j] - 1;
	if (l->nframes >= SAMPLELOG_MAX_STACKS) {
		*err = -ENOSPC;
		return 0;
	}
	if (grow32((void **)&l->frames, &l->capframes, l->nframes + 1,
		   sizeof *l->frames) < 0)
		goto oom;
	l->frames[l->nframes] = f;
	l->fhash.slot[j] = l->nframes + 1;
	l->fhash.n++;
	return l->nframes++;
oom:
	*err = -ENOMEM;
	return 0;
}

/* ---- stacks: a prefix tree, node = (prefix stack, leaf frame) ---- */

static uint64_t stack_hash_of(uint32_t prefix, uint32_t frame)
{
	return (((uint64_t)prefix << 32) | frame) * 0x9e3779b97f4a7c15ull >> 17;
}

static uint64_t stack_hash(const struct samplelog *l, uint32_t idx)
{
	return stack_hash_of(l->stk[idx].prefix, l->stk[idx].frame);
}

/* The stack id (index + 1) of prefix + frame; 0 on OOM (*err set) or when
 * the node budget is spent (*full set). */
static uint32_t stack_push(struct samplelog *l, uint32_t prefix, uint32_t frame,
			   int *err, int *full)
{
	if ((l->khash.n + 1) * 2 > l->khash.cap &&
	    idhash_rehash(l, &l->khash, stack_hash) < 0)
		goto oom;
	uint32_t m = l->khash.cap - 1;
	uint32_t j = (uint32_t)stack_hash_of(prefix, frame) & m;
	for (; l->khash.slot[j]; j = (j + 1) & m) {
		const struct slog_stack *k = &l->stk[l->khash.slot[j] - 1];
		if (k->prefix == prefix && k->frame == frame)
			return l->khash.slot[j];
	}
	if (l->nstk >= SAMPLELOG_MAX_STACKS) {
		*full = 1;
		return 0;
	}
	if (grow32((void **)&l->stk, &l->capstk, l->nstk + 1, sizeof *l->stk) < 0)
		goto oom;
	uint32_t depth = prefix ? l->stk[prefix - 1].depth + 1 : 1;
	l->stk[l->nstk] = (struct slog_stack){ prefix, frame, depth };
	l->khash.slot[j] = l->nstk + 1;
	l->khash.n++;
	return ++l->nstk;
oom:
	*err = -ENOMEM;
	return 0;
}

/* ---- public ---- */

struct samplelog *samplelog_new(uint64_t max_samples)
{
	struct samplelog *l = calloc(1, sizeof *l);
	if (!l)
		return NULL;
	l->max = max_samples ? max_samples : SAMPLELOG_DEFAULT_MAX;
	return l;
}

static void free_all(struct samplelog *l)
{
	for (size_t i = 0; i < l->nchunks; i++)
		free(l->chunks[i]);
	free(l->chunks);
	free(l->sbuf);
	free(l->soff);
	free(l->shash.slot);
	free(l->frames);
	free(l->fhash.slot);
	free(l->stk);
	free(l->khash.slot);
}

void samplelog_free(struct samplelog *l)
{
	if (!l)
		return;
	free_all(l);
	for (size_t i = 0; i < l->nmods; i++) {
		free(l->mods[i].name);
		free(l->mods[i].path);
		free(l->mods[i].build_id);
	}
	free(l->mods);
	free(l);
}

int samplelog_set_module(struct samplelog *l, const char *name,
			 const char *path, const char *build_id)
{
	if (!l || !name || !path)
		return -EINVAL;
	struct slog_module *nv = realloc(l->mods, (l->nmods + 1) * sizeof *nv);
	if (!nv)
		return -ENOMEM;
	l->mods = nv;
	struct slog_module m = { strdup(name), strdup(path),
				 strdup(build_id ? build_id : "") };
	if (!m.name || !m.path || !m.build_id) {
		free(m.name);
		free(m.path);
		free(m.build_id);
		return -ENOMEM;
	}
	l->mods[l->nmods++] = m;
	return 0;
}

const char *samplelog_module(const struct samplelog *l, const char *name,
			     const char **build_id)
{
	for (size_t i = 0; l && name && i < l->nmods; i++)
		if (!strcmp(l->mods[i].name, name)) {
			if (build_id)
				*build_id = l->mods[i].build_id;
			return l->mods[i].path;
		}
	return NULL;
}

void samplelog_reset(struct samplelog *l)
{
	if (!l)
		return;
	uint64_t max = l->max, gen = l->generation;
	struct slog_module *mods = l->mods;
	size_t nmods = l->nmods;
	free_all(l);
	memset(l, 0, sizeof *l);
	l->max = max;
	l->generation = gen + 1;
	l->mods = mods;
	l->nmods = nmods;
}

int samplelog_mode_of(const struct prof_frame *leaf)
{
	if (leaf->kind == PK_KERNEL)
		return SLOG_MODE_KERNEL;
	if (leaf->kind == PK_USER)
		return SLOG_MODE_USER;
	if (leaf->kind == PK_MARK && !strcmp(leaf->name, "[idle]"))
		return SLOG_MODE_IDLE;
	return SLOG_MODE_UNKNOWN;
}

int samplelog_add(struct samplelog *l, const struct prof_frame *frames,
		  size_t n, uint64_t t_ns, uint32_t cpu, int mode,
		  uint32_t weight)
{
	if (!l || !frames || !n || n > PROF_MAX_STACK)
		return -EINVAL;
	if (l->count >= l->max) {
		l->dropped += weight;
		return 0;
	}
	int err = 0, full = 0;
	uint32_t comm = str_intern(l, frames[0].name, &err);
	uint32_t sid = 0;
	for (size_t i = 1; i < n && !err && !full; i++) {
		uint32_t f = frame_intern(l, &frames[i], &err);
		if (!err)
			sid = stack_push(l, sid, f, &err, &full);
	}
	if (err == -ENOSPC)
		full = 1;
	else if (err)
		return err;
	if (full) {                     /* the stack budget is spent */
		l->dropped += weight;
		return 0;
	}
	size_t c = (size_t)(l->count >> CHUNK_BITS);
	if (c >= l->nchunks) {
		if (grow((void **)&l->chunks, &l->capchunks, c + 1,
			 sizeof *l->chunks, 16) < 0)
			return -ENOMEM;
		l->chunks[c] = malloc(CHUNK * sizeof **l->chunks);
		if (!l->chunks[c])
			return -ENOMEM;
		l->nchunks = c + 1;
	}
	struct slog_sample *s = &l->chunks[c][l->count & (CHUNK - 1)];
	memset(s, 0, sizeof *s);
	s->t_ns = t_ns;
	s->stack = sid;
	s->comm = comm;
	s->weight = weight;
	s->cpu = cpu >= SLOG_CPU_UNKNOWN ? SLOG_CPU_UNKNOWN : (uint16_t)cpu;
	s->mode = (uint8_t)mode;
	l->count++;
	l->weight += weight;
	return 1;
}

long samplelog_from_profile(struct samplelog *l, const struct profile *p,
			    uint32_t under, unsigned flags)
{
	if (!l || !p || under >= p->nnodes)
		return -EINVAL;
	l->aggregated = 1;
	/* the same walk as folded_write: depth first, children by name */
	uint32_t *todo = NULL, *kids = NULL, *path = NULL;
	size_t ntodo = 0, captodo = 0, capkids = 0, cappath = 0, capfr = 0;
	struct prof_frame *fr = NULL;
	long added = 0, rc = 0;
	uint32_t x = under;
	for (;;) {
		const struct prof_node *nd = &p->nodes[x];
		int keep = nd->self > 0 && nd->depth >= 1;
		if (keep && (flags & FOLDED_KERNEL_ONLY))
			keep = nd->kind == PK_KERNEL;
		if (keep && (flags & FOLDED_USER_ONLY))
			keep = nd->kind == PK_USER;
		if (keep) {
			if (grow((void **)&path, &cappath, nd->depth, sizeof *path, 64) < 0 ||
			    grow((void **)&fr, &capfr, nd->depth, sizeof *fr, 64) < 0) {
				rc = -ENOMEM;
				break;
			}
			size_t n = 0;
			for (uint32_t y = x; y; y = p->nodes[y].parent)
				path[n++] = y;
			size_t k = 0;
			for (size_t i = n; i > 0; i--) {
				const struct prof_node *q = &p->nodes[path[i - 1]];
				if (i < n && (flags & FOLDED_NO_INLINE) && (q->flags & PF_INLINE))
					continue;
				fr[k++] = (struct prof_frame){
					.name = profile_str_get(p, q->name),
					.module = q->module ? profile_str_get(p, q->module) : NULL,
					.src = q->src ? profile_str_get(p, q->src) : NULL,
					.kind = q->kind, .flags = q->flags };
			}
			int mode = samplelog_mode_of(&fr[k - 1]);
			for (uint64_t left = nd->self; left && !rc;) {
				uint32_t w = left > UINT32_MAX ? UINT32_MAX : (uint32_t)left;
				int r = samplelog_add(l, fr, k, 0, SLOG_CPU_UNKNOWN, mode, w);
				if (r < 0)
					rc = r;
				else if (r > 0)
					added++;
				left -= w;
			}
			if (rc)
				break;
		}
		long nk = profile_children_sorted(p, x, &kids, &capkids);
		if (nk < 0) {
			rc = nk;
			break;
		}
		if (grow((void **)&todo, &captodo, ntodo + (size_t)nk, sizeof *todo, 256) < 0) {
			rc = -ENOMEM;
			break;
		}
		for (long k = nk; k > 0; k--)
			todo[ntodo++] = kids[k - 1];
		if (!ntodo)
			break;
		x = todo[--ntodo];
	}
	free(todo);
	free(kids);
	free(path);
	free(fr);
	return rc ? rc : added;
}

uint64_t samplelog_count(const struct samplelog *l) { return l ? l->count : 0; }
uint64_t samplelog_dropped(const struct samplelog *l) { return l ? l->dropped : 0; }
uint64_t samplelog_max(const struct samplelog *l) { return l ? l->max : 0; }
uint64_t samplelog_weight(const struct samplelog *l) { return l ? l->weight : 0; }
int samplelog_aggregated(const struct samplelog *l) { return l ? l->aggregated : 0; }
uint64_t samplelog_generation(const struct samplelog *l) { return l ? l->generation : 0; }

const struct slog_sample *samplelog_sample(const struct samplelog *l, uint64_t i)
{
	if (!l || i >= l->count)
		return NULL;
	return &l->chunks[i >> CHUNK_BITS][i & (CHUNK - 1)];
}

uint32_t samplelog_nframes(const struct samplelog *l) { return l ? l->nframes : 0; }

const struct slog_frame *samplelog_frame(const struct samplelog *l, uint32_t id)
{
	return l && id < l->nframes ? &l->frames[id] : NULL;
}

uint32_t samplelog_nstacks(const struct samplelog *l) { return l ? l->nstk + 1 : 1; }

const struct slog_stack *samplelog_stack(const struct samplelog *l, uint32_t id)
{
	static const struct slog_stack empty = { 0, 0, 0 };
	if (!l || id == 0 || id > l->nstk)
		return &empty;
	return &l->stk[id - 1];
}

uint32_t samplelog_stack_frames(const struct samplelog *l, uint32_t id,
				uint32_t *buf, uint32_t max)
{
	uint32_t d = samplelog_stack(l, id)->depth;
	if (d > max)
		return d;
	for (uint32_t i = d; i > 0; i--) {
		const struct slog_stack *k = &l->stk[id - 1];
		buf[i - 1] = k->frame;
		id = k->prefix;
	}
	return d;
}

uint32_t samplelog_nstrings(const struct samplelog *l) { return l ? l->nstr + 1 : 1; }

const char *samplelog_str(const struct samplelog *l, uint32_t id)
{
	/* id 0 is "", interned ids start at 1: str_intern returns index+1 */
	if (!l || id == 0 || id > l->nstr)
		return "";
	return l->sbuf + l->soff[id - 1];
}

size_t samplelog_bytes(const struct samplelog *l)
{
	if (!l)
		return 0;
	return sizeof *l + l->nchunks * CHUNK * sizeof(struct slog_sample) +
	       l->capchunks * sizeof *l->chunks + l->scap +
	       (size_t)l->capstr * 4 + (size_t)l->shash.cap * 4 +
	       (size_t)l->capframes * sizeof *l->frames + (size_t)l->fhash.cap * 4 +
	       (size_t)l->capstk * sizeof *l->stk + (size_t)l->khash.cap * 4;
}
