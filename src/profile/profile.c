/* profile.c - the call tree: nodes in one array, strings interned, children
 * found through a hash index keyed by (parent, name, kind).
 *
 * Invariants the views rely on:
 *   - a node's parent has a smaller index (nodes are appended, decay keeps
 *     the order), so one reverse pass visits children before parents;
 *   - total == self + sum of the children's totals;
 *   - procs[] is sorted by node index (a new process node is always the
 *     newest node), so profile_proc is a binary search.
 */
#include "profile.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ---- hashing ------------------------------------------------------------ */

static uint32_t hash_str(const char *s, size_t *len)
{
	/* FNV-1a: short strings, good enough spread, length for free. */
	uint32_t h = 2166136261u;
	const unsigned char *c = (const unsigned char *)s;
	size_t n = 0;
	for (; c[n]; n++)
		h = (h ^ c[n]) * 16777619u;
	*len = n;
	return h;
}

static uint32_t hash_key(uint32_t parent, uint32_t name, uint32_t kind)
{
	/* murmur3 finalizer over the packed key: (parent, name) pairs are
	 * small sequential integers, which a plain xor would cluster. */
	uint64_t k = ((uint64_t)parent << 32 | name) ^ ((uint64_t)kind << 61);
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	k ^= k >> 33;
	return (uint32_t)k;
}

/* ---- interned strings --------------------------------------------------- */

struct prof_strtab {
	char *buf;              /* NUL-terminated strings back to back */
	size_t len, cap;
	uint32_t *off;          /* id -> offset in buf; id 0 is "" */
	uint32_t *hash;         /* id -> hash, so rehashing needs no strings */
	uint32_t n, capn;
	uint32_t *slots;        /* open addressing, 0 = empty */
	uint32_t mask;          /* slots - 1 */
};

#define STR_NOT_FOUND UINT32_MAX

static void strtab_free(struct prof_strtab *t)
{
	if (!t)
		return;
	free(t->buf);
	free(t->off);
	free(t->hash);
	free(t->slots);
	free(t);
}

static void strtab_clear(struct prof_strtab *t)
{
	t->buf[0] = '\0';
	t->len = 1;
	t->n = 1;
	t->off[0] = 0;
	t->hash[0] = 0;
	memset(t->slots, 0, ((size_t)t->mask + 1) * sizeof *t->slots);
}

static struct prof_strtab *strtab_new(void)
{
	struct prof_strtab *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->cap = 16384;
	t->capn = 1024;
	t->mask = 2047;
	t->buf = malloc(t->cap);
	t->off = malloc(t->capn * sizeof *t->off);
	t->hash = malloc(t->capn * sizeof *t->hash);
	t->slots = malloc(((size_t)t->mask + 1) * sizeof *t->slots);
	if (!t->buf || !t->off || !t->hash || !t->slots) {
		strtab_free(t);
		return NULL;
	}
	strtab_clear(t);
	return t;
}

static struct prof_strtab *strtab_clone(const struct prof_strtab *s)
{
	struct prof_strtab *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	*t = *s;
	t->buf = malloc(s->cap);
	t->off = malloc(s->capn * sizeof *t->off);
	t->hash = malloc(s->capn * sizeof *t->hash);
	t->slots = malloc(((size_t)s->mask + 1) * sizeof *t->slots);
	if (!t->buf || !t->off || !t->hash || !t->slots) {
		strtab_free(t);
		return NULL;
	}
	memcpy(t->buf, s->buf, s->len);
	memcpy(t->off, s->off, s->n * sizeof *t->off);
	memcpy(t->hash, s->hash, s->n * sizeof *t->hash);
	memcpy(t->slots, s->slots, ((size_t)s->mask + 1) * sizeof *t->slots);
	return t;
}

static uint32_t strtab_find_h(const struct prof_strtab *t, const char *s,
			      uint32_t h)
{
	if (!s[0])
		return 0;
	for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
		uint32_t id = t->slots[i];
		if (!id)
			return STR_NOT_FOUND;
		if (t->hash[id] == h && strcmp(t->buf + t->off[id], s) == 0)
			return id;
	}
}

/* Room for nstr more strings of bytes more bytes (NULs included), so that
 * the interning that follows cannot fail.  0 or -ENOMEM. */
static int strtab_reserve(struct prof_strtab *t, size_t nstr, size_t bytes)
{
	if (bytes > UINT32_MAX - t->len || nstr > (UINT32_MAX >> 2) - t->n)
		return -ENOMEM;     /* offsets and ids are 32-bit */
	if (t->len + bytes > t->cap) {
		size_t cap = t->cap;
		while (cap < t->len + bytes)
			cap *= 2;
		char *b = realloc(t->buf, cap);
		if (!b)
			return -ENOMEM;
		t->buf = b;
		t->cap = cap;
	}
	size_t want = t->n + nstr;
	if (want > t->capn) {
		size_t capn = t->capn;
		while (capn < want)
			capn *= 2;
		uint32_t *o = realloc(t->off, capn * sizeof *o);
		if (!o)
			return -ENOMEM;
		t->off = o;
		uint32_t *h = realloc(t->hash, capn * sizeof *h);
		if (!h)
			return -ENOMEM;
		t->hash = h;
		t->capn = (uint32_t)capn;
	}
	/* load factor <= 1/2 keeps probes short */
	if (want * 2 > (size_t)t->mask + 1) {
		size_t ns = (size_t)t->mask + 1;
		while (want * 2 > ns)
			ns *= 2;
		uint32_t *sl = calloc(ns, sizeof *sl);
		if (!sl)
			return -ENOMEM;
		uint32_t mask = (uint32_t)(ns - 1);
		for (uint32_t id = 1; id < t->n; id++) {
			uint32_t i = t->hash[id] & mask;
			while (sl[i])
				i = (i + 1) & mask;
			sl[i] = id;
		}
		free(t->slots);
		t->slots = sl;
		t->mask = mask;
	}
	return 0;
}

/* Intern with room already reserved. */
static uint32_t strtab_add_reserved(struct prof_strtab *t, const char *s,
				    size_t len, uint32_t h)
{
	uint32_t i = h & t->mask;
	for (;; i = (i + 1) & t->mask) {
		uint32_t id = t->slots[i];
		if (!id)
			break;
		if (t->hash[id] == h && strcmp(t->buf + t->off[id], s) == 0)
			return id;
	}
	uint32_t id = t->n++;
	t->off[id] = (uint32_t)t->len;
	t->hash[id] = h;
	memcpy(t->buf + t->len, s, len + 1);
	t->len += len + 1;
	t->slots[i] = id;
	return id;
}

static uint32_t strtab_intern(struct prof_strtab *t, const char *s)
{
	size_t len;
	uint32_t h = hash_str(s, &len);
	uint32_t id = strtab_find_h(t, s, h);
	if (id != STR_NOT_FOUND)
		return id;
	if (strtab_reserve(t, 1, len + 1) < 0)
		return 0;
	return strtab_add_reserved(t, s, len, h);
}

/* ---- child index -------------------------------------------------------- */

/* Each slot carries its key, so a probe never touches the node array (the
 * cache misses there dominated profile_add). */
struct prof_slot {
	uint32_t node;          /* 0 = empty (the root is nobody's child) */
	uint32_t parent;
	uint32_t name;
	uint32_t kind;
};

struct prof_index {
	struct prof_slot *slots;
	uint32_t mask;
};

static void index_free(struct prof_index *x)
{
	if (!x)
		return;
	free(x->slots);
	free(x);
}

static struct prof_index *index_new(size_t slots)
{
	struct prof_index *x = calloc(1, sizeof *x);
	if (!x)
		return NULL;
	x->slots = calloc(slots, sizeof *x->slots);
	if (!x->slots) {
		free(x);
		return NULL;
	}
	x->mask = (uint32_t)(slots - 1);
	return x;
}

static void slots_insert(struct prof_slot *sl, uint32_t mask,
			 const struct prof_node *nd, uint32_t node)
{
	uint32_t i = hash_key(nd->parent, nd->name, nd->kind) & mask;
	while (sl[i].node)
		i = (i + 1) & mask;
	sl[i] = (struct prof_slot){ node, nd->parent, nd->name, nd->kind };
}

static void index_insert(struct prof_index *x, const struct prof_node *nodes,
			 uint32_t node)
{
	slots_insert(x->slots, x->mask, &nodes[node], node);
}

static uint32_t index_find(const struct profile *p, uint32_t parent,
			   uint32_t name, uint32_t kind)
{
	const struct prof_index *x = p->index;
	for (uint32_t i = hash_key(parent, name, kind) & x->mask;;
	     i = (i + 1) & x->mask) {
		const struct prof_slot *s = &x->slots[i];
		if (!s->node)
			return 0;
		if (s->parent == parent && s->name == name && s->kind == kind)
			return s->node;
	}
}

static void index_rebuild(struct profile *p)
{
	struct prof_index *x = p->index;
	memset(x->slots, 0, ((size_t)x->mask + 1) * sizeof *x->slots);
	for (uint32_t i = 1; i < p->nnodes; i++)
		index_insert(x, p->nodes, i);
}

/* Room for `want` nodes in the index at load <= 1/2. */
static int index_reserve(struct profile *p, size_t want)
{
	struct prof_index *x = p->index;
	size_t ns = (size_t)x->mask + 1;
	if (want * 2 <= ns)
		return 0;
	while (want * 2 > ns)
		ns *= 2;
	if (ns - 1 > UINT32_MAX)
		return -ENOMEM;
	struct prof_slot *sl = calloc(ns, sizeof *sl);
	if (!sl)
		return -ENOMEM;
	free(x->slots);
	x->slots = sl;
	x->mask = (uint32_t)(ns - 1);
	for (uint32_t i = 1; i < p->nnodes; i++)
		index_insert(x, p->nodes, i);
	return 0;
}

/* ---- profile ------------------------------------------------------------ */

static int nodes_reserve(struct profile *p, size_t extra)
{
	size_t want = (size_t)p->nnodes + extra;
	if (want > UINT32_MAX)
		return -ENOMEM;
	if (want <= p->capnodes)
		return 0;
	size_t cap = p->capnodes ? p->capnodes : 1024;
	while (cap < want)
		cap *= 2;
	if (cap > UINT32_MAX)
		cap = UINT32_MAX;
	struct prof_node *n = realloc(p->nodes, cap * sizeof *n);
	if (!n)
		return -ENOMEM;
	p->nodes = n;
	p->capnodes = (uint32_t)cap;
	return 0;
}

static int procs_reserve(struct profile *p, size_t extra)
{
	size_t want = (size_t)p->nprocs + extra;
	if (want <= p->capprocs)
		return 0;
	size_t cap = p->capprocs ? p->capprocs * 2 : 16;
	while (cap < want)
		cap *= 2;
	struct prof_proc *n = realloc(p->procs, cap * sizeof *n);
	if (!n)
		return -ENOMEM;
	p->procs = n;
	p->capprocs = (uint32_t)cap;
	return 0;
}

static void init_root(struct profile *p)
{
	memset(&p->nodes[0], 0, sizeof p->nodes[0]);
	p->nodes[0].kind = PK_ROOT;
	/* cannot fail: a fresh or cleared table has room for one string */
	p->nodes[0].name = strtab_intern(p->strs, "all");
	p->nnodes = 1;
}

struct profile *profile_new(void)
{
	struct profile *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->strs = strtab_new();
	p->index = index_new(2048);
	if (!p->strs || !p->index || nodes_reserve(p, 1024) < 0 ||
	    procs_reserve(p, 16) < 0) {
		profile_free(p);
		return NULL;
	}
	init_root(p);
	return p;
}

void profile_free(struct profile *p)
{
	if (!p)
		return;
	free(p->nodes);
	free(p->procs);
	strtab_free(p->strs);
	index_free(p->index);
	free(p);
}

void profile_reset(struct profile *p)
{
	if (!p)
		return;
	/* Capacities are kept: a live session refills them right away. */
	strtab_clear(p->strs);
	struct prof_index *x = p->index;
	memset(x->slots, 0, ((size_t)x->mask + 1) * sizeof *x->slots);
	p->nprocs = 0;
	p->samples = 0;
	memset(p->cpu_samples, 0, sizeof p->cpu_samples);
	p->ncpus = 0;
	init_root(p);
}

struct profile *profile_clone(const struct profile *p)
{
	if (!p)
		return NULL;
	struct profile *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	*c = *p;
	c->nodes = NULL;
	c->procs = NULL;
	c->strs = NULL;
	c->index = NULL;
	c->capnodes = p->nnodes;
	c->capprocs = p->nprocs ? p->nprocs : 1;
	const struct prof_index *px = p->index;
	size_t ns = (size_t)px->mask + 1;
	c->nodes = malloc((size_t)c->capnodes * sizeof *c->nodes);
	c->procs = malloc((size_t)c->capprocs * sizeof *c->procs);
	c->strs = strtab_clone(p->strs);
	c->index = index_new(ns);
	if (!c->nodes || !c->procs || !c->strs || !c->index) {
		profile_free(c);
		return NULL;
	}
	memcpy(c->nodes, p->nodes, (size_t)p->nnodes * sizeof *c->nodes);
	memcpy(c->procs, p->procs, (size_t)p->nprocs * sizeof *c->procs);
	memcpy(((struct prof_index *)c->index)->slots, px->slots,
	       ns * sizeof *px->slots);
	return c;
}

static long proc_find(const struct profile *p, uint32_t node)
{
	size_t lo = 0, hi = p->nprocs;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (p->procs[mid].node < node)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < p->nprocs && p->procs[lo].node == node)
		return (long)lo;
	return -1;
}

const struct prof_proc *profile_proc(const struct profile *p, uint32_t node)
{
	if (!p || node == 0 || node >= p->nnodes)
		return NULL;
	long i = proc_find(p, node);
	return i < 0 ? NULL : &p->procs[i];
}

static uint8_t frame_kind(const struct prof_frame *f, size_t i)
{
	return i == 0 ? PK_PROC : f->kind;
}

uint32_t profile_add(struct profile *p, const struct prof_frame *frames,
		     size_t n, uint32_t cpu, uint64_t count)
{
	if (!p || !frames || n == 0 || n > PROF_MAX_STACK || count == 0)
		return 0;
	struct prof_strtab *st = p->strs;

	/* Pass 1, no changes: follow the part of the stack already there. */
	uint32_t cur = 0;
	size_t i = 0;
	for (; i < n; i++) {
		const char *name = frames[i].name ? frames[i].name : "";
		size_t len;
		uint32_t id = strtab_find_h(st, name, hash_str(name, &len));
		if (id == STR_NOT_FOUND)
			break;
		uint32_t c = index_find(p, cur, id, frame_kind(&frames[i], i));
		if (!c)
			break;
		cur = c;
	}

	/* Pass 2: reserve everything the rest needs, so nothing below can
	 * fail half way and leave a partial stack behind. */
	if (i < n) {
		size_t rest = n - i, bytes = 0;
		for (size_t j = i; j < n; j++) {
			const struct prof_frame *f = &frames[j];
			bytes += (f->name ? strlen(f->name) : 0) + 1;
			bytes += (f->module ? strlen(f->module) : 0) + 1;
			bytes += (f->src ? strlen(f->src) : 0) + 1;
		}
		if (nodes_reserve(p, rest) < 0 ||
		    index_reserve(p, (size_t)p->nnodes + rest) < 0 ||
		    strtab_reserve(st, 3 * rest, bytes) < 0 ||
		    (i == 0 && procs_reserve(p, 1) < 0))
			return 0;
		for (; i < n; i++) {
			const struct prof_frame *f = &frames[i];
			const char *strs[3] = { f->name, f->module, f->src };
			uint32_t ids[3];
			for (int k = 0; k < 3; k++) {
				const char *s = strs[k] ? strs[k] : "";
				size_t len;
				uint32_t h = hash_str(s, &len);
				ids[k] = s[0] ? strtab_add_reserved(st, s, len, h) : 0;
			}
			uint32_t c = p->nnodes++;
			struct prof_node *nd = &p->nodes[c];
			nd->parent = cur;
			nd->first_child = 0;
			nd->next_sibling = p->nodes[cur].first_child;
			nd->name = ids[0];
			nd->module = ids[1];
			nd->src = ids[2];
			nd->kind = frame_kind(f, i);
			nd->flags = f->flags;
			nd->depth = (uint16_t)(i + 1);
			nd->total = 0;
			nd->self = 0;
			p->nodes[cur].first_child = c;
			index_insert(p->index, p->nodes, c);
			if (i == 0) {
				/* newest node => procs[] stays sorted */
				struct prof_proc *pr = &p->procs[p->nprocs++];
				memset(pr, 0, sizeof *pr);
				pr->node = c;
			}
			cur = c;
		}
	}

	uint32_t leaf = cur, proc = 0;
	p->nodes[leaf].self += count;
	for (uint32_t x = leaf;; x = p->nodes[x].parent) {
		p->nodes[x].total += count;
		if (p->nodes[x].depth == 1)
			proc = x;
		if (x == 0)
			break;
	}
	p->samples += count;

	long pi = proc_find(p, proc);
	struct prof_proc *pr = pi >= 0 ? &p->procs[pi] : NULL;
	if (pr) {
		pr->samples += count;
		if (p->nodes[leaf].kind == PK_KERNEL)
			pr->kernel += count;
		else if (p->nodes[leaf].kind == PK_USER)
			pr->user += count;
	}
	if (cpu < PROF_MAX_CPUS) {
		p->cpu_samples[cpu] += count;
		if (pr)
			pr->cpu[cpu] += count;
		if (cpu + 1 > p->ncpus)
			p->ncpus = cpu + 1;
	}
	return leaf;
}

static uint64_t scale(uint64_t v, double f)
{
	return (uint64_t)((double)v * f);
}

void profile_decay(struct profile *p, double factor)
{
	if (!p || !(factor < 1.0))
		return;
	if (!(factor > 0.0))
		factor = 0.0;
	struct prof_node *nd = p->nodes;
	uint32_t n = p->nnodes;

	for (uint32_t i = 0; i < n; i++) {
		nd[i].self = scale(nd[i].self, factor);
		nd[i].total = nd[i].self;
	}
	for (uint32_t i = n - 1; i > 0; i--)
		nd[nd[i].parent].total += nd[i].total;

	/* Compact without a side array: first_child temporarily holds the
	 * new index (links are rebuilt below).  Parents are renumbered
	 * before any node moves, as a move may overwrite a parent's slot. */
	uint32_t j = 1;
	nd[0].first_child = 0;
	for (uint32_t i = 1; i < n; i++)
		nd[i].first_child = nd[i].total ? j++ : 0;
	for (uint32_t i = 1; i < n; i++)
		if (nd[i].total)
			nd[i].parent = nd[nd[i].parent].first_child;
	uint32_t nn = 1, np = 0, pc = 0;
	for (uint32_t i = 1; i < n; i++) {
		if (!nd[i].total)
			continue;
		/* procs[] and nodes are both in index order: one cursor */
		while (pc < p->nprocs && p->procs[pc].node < i)
			pc++;
		if (pc < p->nprocs && p->procs[pc].node == i) {
			struct prof_proc pr = p->procs[pc++];
			pr.node = nn;
			pr.samples = nd[i].total;
			pr.kernel = pr.user = 0;
			for (int c = 0; c < PROF_MAX_CPUS; c++)
				pr.cpu[c] = scale(pr.cpu[c], factor);
			p->procs[np++] = pr;    /* np < pc: never overtakes */
		}
		nd[nn++] = nd[i];
	}
	p->nnodes = nn;
	p->nprocs = np;

	/* Relink (next_sibling briefly holds each node's process) and
	 * recount kernel/user exactly from the leaves. */
	nd[0].first_child = nd[0].next_sibling = 0;
	for (uint32_t i = 1; i < nn; i++) {
		nd[i].first_child = 0;
		nd[i].next_sibling = nd[i].depth == 1 ? i
				    : nd[nd[i].parent].next_sibling;
		if (nd[i].self && (nd[i].kind == PK_KERNEL ||
				   nd[i].kind == PK_USER)) {
			long pi = proc_find(p, nd[i].next_sibling);
			if (pi >= 0) {
				if (nd[i].kind == PK_KERNEL)
					p->procs[pi].kernel += nd[i].self;
				else
					p->procs[pi].user += nd[i].self;
			}
		}
	}
	for (uint32_t i = 1; i < nn; i++) {
		nd[i].next_sibling = nd[nd[i].parent].first_child;
		nd[nd[i].parent].first_child = i;
	}
	index_rebuild(p);

	p->samples = nd[0].total;
	for (int c = 0; c < PROF_MAX_CPUS; c++)
		p->cpu_samples[c] = scale(p->cpu_samples[c], factor);
}

uint32_t profile_str(struct profile *p, const char *s)
{
	if (!p || !s)
		return 0;
	return strtab_intern(p->strs, s);
}

uint32_t profile_nstrings(const struct profile *p)
{
	return p ? p->strs->n : 0;
}

const char *profile_str_get(const struct profile *p, uint32_t id)
{
	if (!p || id >= p->strs->n)
		return "";
	return p->strs->buf + p->strs->off[id];
}

uint32_t profile_child(const struct profile *p, uint32_t parent,
		       const char *name, int kind)
{
	if (!p || !name || parent >= p->nnodes)
		return 0;
	size_t len;
	uint32_t id = strtab_find_h(p->strs, name, hash_str(name, &len));
	if (id == STR_NOT_FOUND)
		return 0;
	return index_find(p, parent, id, (uint32_t)kind);
}

uint32_t profile_lookup_path_kinds(const struct profile *p,
				   const char *const *names,
				   const uint8_t *kinds, size_t n)
{
	if (!p || (n && !names))
		return 0;
	/* Without kinds, when siblings share a name the more common kind
	 * wins, in this order. */
	static const uint8_t any[] = { PK_USER, PK_KERNEL, PK_PROC, PK_MARK,
				       PK_ROOT };
	uint32_t cur = 0;
	for (size_t i = 0; i < n; i++) {
		if (!names[i])
			return 0;
		size_t len;
		uint32_t id = strtab_find_h(p->strs, names[i],
					    hash_str(names[i], &len));
		if (id == STR_NOT_FOUND)
			return 0;
		uint32_t c = 0;
		if (kinds)
			c = index_find(p, cur, id, kinds[i]);
		for (size_t k = 0; !kinds && k < sizeof any && !c; k++)
			c = index_find(p, cur, id, any[k]);
		if (!c)
			return 0;
		cur = c;
	}
	return cur;
}

uint32_t profile_lookup_path(const struct profile *p, const char *const *names,
			     size_t n)
{
	return profile_lookup_path_kinds(p, names, NULL, n);
}

size_t profile_path_kinds(const struct profile *p, uint32_t node,
			  const char **names, uint8_t *kinds, size_t max)
{
	if (!p || !names || node == 0 || node >= p->nnodes)
		return 0;
	size_t depth = p->nodes[node].depth;
	/* Too deep: skip the leaf end so the result is still a real path. */
	while (depth > max) {
		node = p->nodes[node].parent;
		depth--;
	}
	for (size_t i = depth; i > 0; i--) {
		names[i - 1] = profile_node_name(p, node);
		if (kinds)
			kinds[i - 1] = p->nodes[node].kind;
		node = p->nodes[node].parent;
	}
	return depth;
}

size_t profile_path(const struct profile *p, uint32_t node,
		    const char **names, size_t max)
{
	return profile_path_kinds(p, node, names, NULL, max);
}

static int cmp_children(const void *a, const void *b, void *ctx)
{
	const struct profile *p = ctx;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	const struct prof_node *nx = &p->nodes[x], *ny = &p->nodes[y];
	if (nx->name != ny->name) {
		int c = strcmp(profile_str_get(p, nx->name),
			       profile_str_get(p, ny->name));
		if (c)
			return c;
	}
	if (nx->kind != ny->kind)
		return nx->kind < ny->kind ? -1 : 1;
	return x < y ? -1 : x > y;
}

long profile_children_sorted(const struct profile *p, uint32_t node,
			     uint32_t **buf, size_t *cap)
{
	if (!p || !buf || !cap || node >= p->nnodes)
		return -EINVAL;
	size_t n = 0;
	for (uint32_t c = p->nodes[node].first_child; c;
	     c = p->nodes[c].next_sibling) {
		if (n == *cap) {
			size_t nc = *cap ? *cap * 2 : 64;
			uint32_t *b = realloc(*buf, nc * sizeof *b);
			if (!b)
				return -ENOMEM;
			*buf = b;
			*cap = nc;
		}
		(*buf)[n++] = c;
	}
	if (n > 1)
		qsort_r(*buf, n, sizeof **buf, cmp_children, (void *)p);
	return (long)n;
}
