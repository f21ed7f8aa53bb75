/* pagewalk.c - x86 page-table walk over a physical-read callback (see
 * pagewalk.h).  Follows the SDM's "Paging" chapter; entry layouts are the
 * architectural ones (P = bit 0, PS = bit 7, PAT of a large page = bit 12,
 * address bits 51:12, NX and protection keys above them). */
#include "pagewalk.h"

#include <stdlib.h>
#include <string.h>

#define PAGE 4096ull
#define ADDR_MASK 0x000ffffffffff000ull
#define PTE_P  1ull
#define PTE_PS 0x80ull

#define MAX_LEVELS 5

/* The entries a walk read: where, and what they said. */
struct pw_path {
	uint64_t pa[MAX_LEVELS], val[MAX_LEVELS];
	uint8_t n, size;
};

struct pw_entry {
	uint64_t cr3;
	uint64_t vpn;          /* virt >> 12 */
	uint64_t ppn;          /* phys >> 12 */
	uint32_t gen;          /* valid when == pw->gen */
	uint8_t mode;
	struct pw_path path;   /* to revalidate it in a later round */
};

struct pagewalk {
	pagewalk_phys_fn read;
	pagewalk_physv_fn readv;
	void *ctx;
	struct pw_entry *cache;
	unsigned mask;
	uint32_t gen;
	struct pw_path cur;    /* the walk under way */
	uint64_t hits, misses, revalidated;
};

enum pagewalk_mode pagewalk_mode_of(const struct pagewalk_cpu *c)
{
	if (!(c->cr0 & PAGEWALK_CR0_PG))
		return PAGEWALK_OFF;
	if (c->efer & PAGEWALK_EFER_LMA)
		return (c->cr4 & PAGEWALK_CR4_LA57) ? PAGEWALK_5LEVEL : PAGEWALK_4LEVEL;
	return (c->cr4 & PAGEWALK_CR4_PAE) ? PAGEWALK_PAE : PAGEWALK_32;
}

const char *pagewalk_mode_name(enum pagewalk_mode mode)
{
	switch (mode) {
	case PAGEWALK_OFF: return "off";
	case PAGEWALK_32: return "32-bit";
	case PAGEWALK_PAE: return "PAE";
	case PAGEWALK_4LEVEL: return "4-level";
	case PAGEWALK_5LEVEL: return "5-level";
	}
	return "?";
}

struct pagewalk *pagewalk_new(pagewalk_phys_fn read, void *ctx,
			      unsigned cache_entries)
{
	struct pagewalk *pw = calloc(1, sizeof *pw);
	unsigned n = 1;

	if (!pw)
		return NULL;
	if (!cache_entries)
		cache_entries = 1024;
	while (n < cache_entries && n < (1u << 20))
		n <<= 1;
	pw->cache = calloc(n, sizeof *pw->cache);
	if (!pw->cache) {
		free(pw);
		return NULL;
	}
	pw->mask = n - 1;
	pw->read = read;
	pw->ctx = ctx;
	pw->gen = 1;           /* calloc'd entries (gen 0) are invalid */
	return pw;
}

void pagewalk_set_physv(struct pagewalk *pw, pagewalk_physv_fn readv)
{
	pw->readv = readv;
}

void pagewalk_free(struct pagewalk *pw)
{
	if (!pw)
		return;
	free(pw->cache);
	free(pw);
}

void pagewalk_invalidate(struct pagewalk *pw)
{
	if (++pw->gen == 0) {  /* wrapped: old generations could match again */
		memset(pw->cache, 0, ((size_t)pw->mask + 1) * sizeof *pw->cache);
		pw->gen = 1;
	}
}

void pagewalk_cache_stats(const struct pagewalk *pw, uint64_t *hits,
			  uint64_t *misses)
{
	if (hits)
		*hits = pw->hits;
	if (misses)
		*misses = pw->misses;
}

uint64_t pagewalk_revalidated(const struct pagewalk *pw)
{
	return pw->revalidated;
}

/* One table entry of size 4 or 8 (little-endian host and guest). */
static int entry(struct pagewalk *pw, uint64_t paddr, uint32_t size, uint64_t *v)
{
	uint64_t x = 0;

	if (pw->read(pw->ctx, paddr, &x, size) != (long)size)
		return PAGEWALK_E_PHYS;
	*v = x;
	if (pw->cur.n < MAX_LEVELS) {
		pw->cur.pa[pw->cur.n] = paddr;
		pw->cur.val[pw->cur.n++] = x;
		pw->cur.size = (uint8_t)size;
	}
	return 0;
}

/* A translation of an earlier round holds when every entry its walk read
 * still says the same: all of them read again in one go (one system call
 * for QEMU's process instead of one per level), at one instant, which a
 * fresh walk would not do better. */
static int path_holds(struct pagewalk *pw, const struct pw_path *path)
{
	uint64_t now[MAX_LEVELS];

	if (!pw->readv || !path->n ||
	    pw->readv(pw->ctx, path->pa, now, path->n, path->size) != 0)
		return 0;
	/* the accessed and dirty bits the CPU sets say nothing of the
	 * mapping (both sides are zero-extended) */
	for (int i = 0; i < path->n; i++)
		if ((now[i] ^ path->val[i]) & ~0x60ull)
			return 0;
	return 1;
}

static int walk32(struct pagewalk *pw, const struct pagewalk_cpu *c,
		  uint64_t virt, uint64_t *phys, uint64_t *psize)
{
	uint64_t pde, pte;

	if (entry(pw, (c->cr3 & 0xfffff000u) + ((virt >> 22) & 0x3ff) * 4, 4, &pde))
		return PAGEWALK_E_PHYS;
	if (!(pde & PTE_P))
		return PAGEWALK_E_NOTMAPPED;
	if ((pde & PTE_PS) && (c->cr4 & PAGEWALK_CR4_PSE)) {
		/* 4 MiB page; PDE bits 20:13 are physical bits 39:32 (PSE-36) */
		*phys = (pde & 0xffc00000u) | ((pde >> 13) & 0xff) << 32 |
			(virt & 0x3fffff);
		*psize = 4ull << 20;
		return 0;
	}
	if (entry(pw, (pde & 0xfffff000u) + ((virt >> 12) & 0x3ff) * 4, 4, &pte))
		return PAGEWALK_E_PHYS;
	if (!(pte & PTE_P))
		return PAGEWALK_E_NOTMAPPED;
	*phys = (pte & 0xfffff000u) | (virt & 0xfff);
	*psize = PAGE;
	return 0;
}

/* From a table at `table` down, levels at the given shifts (the last is 12).
 * Large pages are allowed at 30 (1 GiB, long mode) and 21 (2 MiB). */
static int walk_levels(struct pagewalk *pw, uint64_t table, const int *shift,
		       int nlev, int allow_1g, uint64_t virt, uint64_t *phys,
		       uint64_t *psize)
{
	for (int l = 0; l < nlev; l++) {
		uint64_t e;
		int s = shift[l];

		if (entry(pw, table + ((virt >> s) & 511) * 8, 8, &e))
			return PAGEWALK_E_PHYS;
		if (!(e & PTE_P))
			return PAGEWALK_E_NOTMAPPED;
		if (s == 12 || ((e & PTE_PS) && (s == 21 || (s == 30 && allow_1g)))) {
			uint64_t size = 1ull << s;
			*phys = (e & ADDR_MASK & ~(size - 1)) | (virt & (size - 1));
			*psize = size;
			return 0;
		}
		table = e & ADDR_MASK;
	}
	return PAGEWALK_E_NOTMAPPED;   /* not reached: the last shift is 12 */
}

static int walk(struct pagewalk *pw, const struct pagewalk_cpu *c,
		enum pagewalk_mode mode, uint64_t virt, uint64_t *phys,
		uint64_t *psize)
{
	static const int lv5[] = { 48, 39, 30, 21, 12 };
	static const int pae[] = { 21, 12 };

	switch (mode) {
	case PAGEWALK_OFF:
		if (virt >> 32)
			return PAGEWALK_E_NONCANON;
		*phys = virt;
		*psize = PAGE;
		return 0;
	case PAGEWALK_32:
		if (virt >> 32)
			return PAGEWALK_E_NONCANON;
		return walk32(pw, c, virt, phys, psize);
	case PAGEWALK_PAE: {
		uint64_t pdpte;
		if (virt >> 32)
			return PAGEWALK_E_NONCANON;
		/* CR3 bits 31:5 hold the 32-byte aligned PDPT */
		if (entry(pw, (c->cr3 & 0xffffffe0u) + ((virt >> 30) & 3) * 8, 8, &pdpte))
			return PAGEWALK_E_PHYS;
		if (!(pdpte & PTE_P))
			return PAGEWALK_E_NOTMAPPED;
		return walk_levels(pw, pdpte & ADDR_MASK, pae, 2, 0, virt, phys, psize);
	}
	case PAGEWALK_4LEVEL:
	case PAGEWALK_5LEVEL: {
		int bits = mode == PAGEWALK_5LEVEL ? 57 : 48;
		/* canonical: bits 63..bits-1 all equal */
		if ((uint64_t)((int64_t)(virt << (64 - bits)) >> (64 - bits)) != virt)
			return PAGEWALK_E_NONCANON;
		if (mode == PAGEWALK_5LEVEL)
			return walk_levels(pw, c->cr3 & ADDR_MASK, lv5, 5, 1, virt, phys, psize);
		return walk_levels(pw, c->cr3 & ADDR_MASK, lv5 + 1, 4, 1, virt, phys, psize);
	}
	}
	return PAGEWALK_E_NOTMAPPED;
}

int pagewalk_translate(struct pagewalk *pw, const struct pagewalk_cpu *c,
		       uint64_t virt, uint64_t *phys, uint64_t *page_size)
{
	enum pagewalk_mode mode = pagewalk_mode_of(c);
	uint64_t vpn = virt >> 12, p, size;
	uint64_t h = (vpn ^ (c->cr3 >> 12) * 0x9e3779b97f4a7c15ull) * 0xff51afd7ed558ccdull;
	struct pw_entry *e = &pw->cache[(h >> 40) & pw->mask];
	int rc;

	/* (an empty entry has gen 0, never pw->gen, and no path) */
	if (e->vpn == vpn && e->cr3 == c->cr3 && e->mode == mode &&
	    (e->gen == pw->gen || path_holds(pw, &e->path))) {
		if (e->gen != pw->gen)
			pw->revalidated++;
		e->gen = pw->gen;
		pw->hits++;
		*phys = e->ppn << 12 | (virt & 0xfff);
		if (page_size)
			*page_size = PAGE;
		return 0;
	}
	pw->misses++;
	pw->cur.n = 0;
	rc = walk(pw, c, mode, virt, &p, &size);
	if (rc < 0)
		return rc;
	e->path = pw->cur;
	/* Cache the 4 KiB page within a large page: one entry per lookup key. */
	e->cr3 = c->cr3;
	e->vpn = vpn;
	e->ppn = p >> 12;
	e->mode = (uint8_t)mode;
	e->gen = pw->gen;
	*phys = p;
	if (page_size)
		*page_size = size;
	return 0;
}

long pagewalk_read(struct pagewalk *pw, const struct pagewalk_cpu *c,
		   uint64_t virt, void *buf, uint32_t len)
{
	uint8_t *out = buf;
	long total = 0;

	while ((uint32_t)total < len) {
		uint64_t v = virt + (uint64_t)total, phys;
		uint32_t chunk = (uint32_t)(PAGE - (v & (PAGE - 1)));
		long got;

		if (chunk > len - (uint32_t)total)
			chunk = len - (uint32_t)total;
		if (pagewalk_mode_of(c) < PAGEWALK_4LEVEL && (v >> 32))
			break;                /* a legacy-mode read does not wrap */
		if (pagewalk_translate(pw, c, v, &phys, NULL) < 0)
			break;
		got = pw->read(pw->ctx, phys, out + total, chunk);
		if (got <= 0)
			break;
		total += got;
		if ((uint32_t)got < chunk)
			break;
	}
	return total;
}
