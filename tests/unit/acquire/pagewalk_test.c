/* pagewalk_test - the x86 page walk on synthetic page tables built in a
 * buffer that stands for guest-physical memory: every paging mode, large
 * pages, non-present entries, reads across pages (into an unmapped one),
 * canonical-address checks, the translation cache and its invalidation. */
#include "pagewalk.h"
#include "check.h"

#include <stdint.h>

#define PHYS_SIZE (16u << 20)
static uint8_t *phys;
static unsigned nreads;

static long phys_read(void *ctx, uint64_t pa, void *buf, uint32_t len)
{
	(void)ctx;
	nreads++;
	if (pa >= PHYS_SIZE)
		return 0;
	if (len > PHYS_SIZE - pa)
		len = (uint32_t)(PHYS_SIZE - pa);
	memcpy(buf, phys + pa, len);
	return len;
}

static void put32(uint64_t pa, uint32_t v) { memcpy(phys + pa, &v, 4); }
static void put64(uint64_t pa, uint64_t v) { memcpy(phys + pa, &v, 8); }

static void fill(uint64_t pa, uint32_t len, uint8_t seed)
{
	for (uint32_t i = 0; i < len; i++)
		phys[pa + i] = (uint8_t)(seed + i * 7);
}

static uint64_t tr(struct pagewalk *pw, const struct pagewalk_cpu *c,
		   uint64_t v, int *rc, uint64_t *size)
{
	uint64_t p = ~0ull, s = 0;
	*rc = pagewalk_translate(pw, c, v, &p, &s);
	if (size)
		*size = s;
	return p;
}

#define P 1ull
#define PS 0x80ull

static void test_modes(void)
{
	struct pagewalk_cpu c = { 0 };

	CHECK_EQ(pagewalk_mode_of(&c), PAGEWALK_OFF);
	c.cr0 = 0x80000011;
	CHECK_EQ(pagewalk_mode_of(&c), PAGEWALK_32);
	c.cr4 = PAGEWALK_CR4_PSE;
	CHECK_EQ(pagewalk_mode_of(&c), PAGEWALK_32);
	c.cr4 = PAGEWALK_CR4_PAE;
	CHECK_EQ(pagewalk_mode_of(&c), PAGEWALK_PAE);
	c.efer = 0x500;          /* LME | LMA, as QEMU prints a 64-bit guest's */
	CHECK_EQ(pagewalk_mode_of(&c), PAGEWALK_4LEVEL);
	c.cr4 |= PAGEWALK_CR4_LA57;
	CHECK_EQ(pagewalk_mode_of(&c), PAGEWALK_5LEVEL);
	c.efer = 0x100;          /* LME without LMA: not yet in long mode */
	CHECK_EQ(pagewalk_mode_of(&c), PAGEWALK_PAE);
	c.cr0 = 0x11;            /* paging off wins */
	c.efer = 0x500;
	CHECK_EQ(pagewalk_mode_of(&c), PAGEWALK_OFF);
	CHECK(!strcmp(pagewalk_mode_name(PAGEWALK_5LEVEL), "5-level"));
}

static void test_off(struct pagewalk *pw)
{
	struct pagewalk_cpu c = { .cr0 = 0x11 };
	uint8_t b[16];
	int rc;

	CHECK_EQ(tr(pw, &c, 0x12345, &rc, NULL), 0x12345);
	CHECK_RC(rc, 0);
	tr(pw, &c, 0x100000000ull, &rc, NULL);
	CHECK_RC(rc, PAGEWALK_E_NONCANON);
	fill(0x5000, 16, 1);
	CHECK_RC(pagewalk_read(pw, &c, 0x5000, b, 16), 16);
	CHECK(!memcmp(b, phys + 0x5000, 16));
}

static void test_32(struct pagewalk *pw)
{
	struct pagewalk_cpu c = { .cr0 = 0x80000011, .cr3 = 0x1000 };
	uint8_t b[32];
	uint64_t size;
	int rc;

	memset(phys, 0, 0x10000);
	put32(0x1000 + 1 * 4, 0x2000 | P);                  /* 0x400000: PT */
	put32(0x2000 + 0 * 4, 0x5000 | P | 0x60);           /* A/D bits ignored */
	put32(0x2000 + 2 * 4, 0x7000 | P);
	/* PT[1] not present */
	put32(0x1000 + 2 * 4, 0x800000 | PS | P);           /* 4 MiB page */
	put32(0x1000 + 3 * 4, 0xc00000 | (1u << 13) | PS | P); /* PSE-36: phys 1_00c00000 */

	CHECK_EQ(tr(pw, &c, 0x400abc, &rc, &size), 0x5abc);
	CHECK_RC(rc, 0);
	CHECK_EQ(size, 4096);
	CHECK_EQ(tr(pw, &c, 0x402010, &rc, NULL), 0x7010);
	tr(pw, &c, 0x401000, &rc, NULL);
	CHECK_RC(rc, PAGEWALK_E_NOTMAPPED);
	tr(pw, &c, 0x1000, &rc, NULL);                      /* PDE 0 absent */
	CHECK_RC(rc, PAGEWALK_E_NOTMAPPED);
	tr(pw, &c, 0x100000000ull, &rc, NULL);
	CHECK_RC(rc, PAGEWALK_E_NONCANON);

	/* PS without CR4.PSE: the entry points at a page table (all zero) */
	tr(pw, &c, 0x812345, &rc, NULL);
	CHECK_RC(rc, PAGEWALK_E_NOTMAPPED);
	c.cr4 = PAGEWALK_CR4_PSE;
	pagewalk_invalidate(pw);
	CHECK_EQ(tr(pw, &c, 0x812345, &rc, &size), 0x812345);
	CHECK_RC(rc, 0);
	CHECK_EQ(size, 4u << 20);
	CHECK_EQ(tr(pw, &c, 0xc00010, &rc, NULL), 0x100c00010ull);

	/* a read crossing into the unmapped page stops at its first byte */
	fill(0x5ff0, 16, 3);
	CHECK_RC(pagewalk_read(pw, &c, 0x400ff0, b, 32), 16);
	CHECK(!memcmp(b, phys + 0x5ff0, 16));
	CHECK_RC(pagewalk_read(pw, &c, 0x401000, b, 32), 0);
	/* a read that would wrap past 4 GiB stops at 4 GiB */
	CHECK_RC(pagewalk_read(pw, &c, 0xfffffff8ull, b, 16), 0);
}

static void test_pae(struct pagewalk *pw)
{
	/* CR3 is 32-byte aligned in PAE mode, not page aligned */
	struct pagewalk_cpu c = { .cr0 = 0x80000011, .cr3 = 0x3020,
				  .cr4 = PAGEWALK_CR4_PAE };
	uint8_t b[64];
	uint64_t size;
	int rc;

	memset(phys, 0, 0x10000);
	put64(0x3020 + 0 * 8, 0x4000 | P);                   /* PDPT[0] */
	put64(0x4000 + 0 * 8, 0x6000 | P);                   /* PD[0] -> PT */
	put64(0x4000 + 1 * 8, 0x200000 | PS | P);            /* 2 MiB */
	put64(0x4000 + 2 * 8, 0x400000 | 0x1000 | PS | P);   /* 2 MiB, PAT bit */
	put64(0x6000 + 3 * 8, 0x7000 | P | (1ull << 63));    /* NX set */
	put64(0x6000 + 4 * 8, 0x9000 | P);

	CHECK_EQ(tr(pw, &c, 0x3008, &rc, &size), 0x7008);
	CHECK_RC(rc, 0);
	CHECK_EQ(size, 4096);
	CHECK_EQ(tr(pw, &c, 0x201234, &rc, &size), 0x201234);
	CHECK_EQ(size, 2u << 20);
	CHECK_EQ(tr(pw, &c, 0x400010, &rc, NULL), 0x400010);  /* PAT bit is not an address bit */
	tr(pw, &c, 0x40000000, &rc, NULL);                   /* PDPT[1] absent */
	CHECK_RC(rc, PAGEWALK_E_NOTMAPPED);
	tr(pw, &c, 0x5000, &rc, NULL);                       /* PT[5] absent */
	CHECK_RC(rc, PAGEWALK_E_NOTMAPPED);
	tr(pw, &c, 0x1ffffffffull, &rc, NULL);
	CHECK_RC(rc, PAGEWALK_E_NONCANON);
	/* across two non-adjacent physical pages */
	fill(0x7fe0, 32, 5);
	fill(0x9000, 32, 9);
	CHECK_RC(pagewalk_read(pw, &c, 0x3fe0, b, 64), 64);
	CHECK(!memcmp(b, phys + 0x7fe0, 32));
	CHECK(!memcmp(b + 32, phys + 0x9000, 32));
	/* a PDPTE whose table lies outside physical memory */
	put64(0x3020 + 2 * 8, 0x7ff000000ull | P);
	tr(pw, &c, 0x80000000, &rc, NULL);
	CHECK_RC(rc, PAGEWALK_E_PHYS);
}

/* 4-level tables, also the lower part of the 5-level test */
static void build_4level(void)
{
	put64(0x8000 + 511 * 8, 0x9000 | P | 0x7);          /* PML4[511] */
	put64(0x9000 + 510 * 8, 0xa000 | P);                 /* PDPT[510] */
	put64(0x9000 + 511 * 8, 0x40000000 | PS | P);        /* 1 GiB */
	put64(0xa000 + 0 * 8, 0xb000 | P);                   /* PD[0] -> PT */
	put64(0xa000 + 1 * 8, 0x400000 | PS | P);            /* 2 MiB */
	put64(0xa000 + 2 * 8, 0x7fff000000ull | P);          /* PT out of phys */
	put64(0xb000 + 0 * 8, 0xc000 | P);
	put64(0xb000 + 1 * 8, 0xe000 | P | (1ull << 63));
	/* PT[2] absent */
}

static void test_4level(struct pagewalk *pw)
{
	struct pagewalk_cpu c = { .cr0 = 0x80000011, .cr3 = 0x8000 | 0x123 /* PCID */,
				  .cr4 = PAGEWALK_CR4_PAE, .efer = 0x500 };
	const uint64_t k = 0xffffffff80000000ull;
	uint8_t b[4096];
	uint64_t size;
	int rc;

	memset(phys, 0, 0x20000);
	build_4level();
	CHECK_EQ(tr(pw, &c, k + 0x10, &rc, &size), 0xc010);
	CHECK_RC(rc, 0);
	CHECK_EQ(size, 4096);
	CHECK_EQ(tr(pw, &c, k + 0x1010, &rc, NULL), 0xe010);
	CHECK_EQ(tr(pw, &c, k + 0x200000 + 0x12345, &rc, &size), 0x412345);
	CHECK_EQ(size, 2u << 20);
	CHECK_EQ(tr(pw, &c, 0xffffffffc0123456ull, &rc, &size), 0x40123456);
	CHECK_EQ(size, 1u << 30);
	tr(pw, &c, k + 0x2000, &rc, NULL);
	CHECK_RC(rc, PAGEWALK_E_NOTMAPPED);
	tr(pw, &c, 0x1000, &rc, NULL);                       /* PML4[0] absent */
	CHECK_RC(rc, PAGEWALK_E_NOTMAPPED);
	tr(pw, &c, k + 0x400000, &rc, NULL);                 /* table outside RAM */
	CHECK_RC(rc, PAGEWALK_E_PHYS);
	/* canonical: bits 63..47 equal */
	tr(pw, &c, 0x0000800000000000ull, &rc, NULL);
	CHECK_RC(rc, PAGEWALK_E_NONCANON);
	tr(pw, &c, 0xffff7fffffffffffull, &rc, NULL);
	CHECK_RC(rc, PAGEWALK_E_NONCANON);
	tr(pw, &c, 0xff00000000001234ull, &rc, NULL);        /* canonical only with LA57 */
	CHECK_RC(rc, PAGEWALK_E_NONCANON);
	tr(pw, &c, 0x00007fffffffffffull, &rc, NULL);        /* canonical, not mapped */
	CHECK_RC(rc, PAGEWALK_E_NOTMAPPED);

	/* across pages: physically apart, then into the unmapped page */
	fill(0xcf00, 256, 11);
	fill(0xe000, 4096, 13);
	CHECK_RC(pagewalk_read(pw, &c, k + 0xff8, b, 16), 16);
	CHECK(!memcmp(b, phys + 0xcff8, 8));
	CHECK(!memcmp(b + 8, phys + 0xe000, 8));
	CHECK_RC(pagewalk_read(pw, &c, k + 0x1ff8, b, 4096), 8);
	CHECK(!memcmp(b, phys + 0xeff8, 8));
	CHECK_RC(pagewalk_read(pw, &c, k + 0x2000, b, 16), 0);
	/* the physical page exists only in part: a prefix */
	CHECK_RC(pagewalk_read(pw, &c, 0xffffffffc0000000ull, b, 16), 0);
}

static void test_5level(struct pagewalk *pw)
{
	struct pagewalk_cpu c = { .cr0 = 0x80000011, .cr3 = 0x10000,
				  .cr4 = PAGEWALK_CR4_PAE | PAGEWALK_CR4_LA57,
				  .efer = 0x500 };
	uint64_t size;
	uint8_t b[8];
	int rc;

	memset(phys, 0, 0x20000);
	build_4level();
	put64(0x10000 + 511 * 8, 0x8000 | P);               /* PML5[511] -> the PML4 */
	put64(0x10000 + 256 * 8, 0x11000 | P);              /* PML5[256] */
	put64(0x11000 + 0 * 8, 0x12000 | P);                /* PML4[0] */
	put64(0x12000 + 0 * 8, 0 | PS | P);                 /* 1 GiB at 0 */

	CHECK_EQ(tr(pw, &c, 0xffffffff80000010ull, &rc, NULL), 0xc010);
	CHECK_RC(rc, 0);
	CHECK_EQ(tr(pw, &c, 0xff00000000001234ull, &rc, &size), 0x1234);
	CHECK_RC(rc, 0);
	CHECK_EQ(size, 1u << 30);
	fill(0x1234, 8, 17);
	CHECK_RC(pagewalk_read(pw, &c, 0xff00000000001234ull, b, 8), 8);
	CHECK(!memcmp(b, phys + 0x1234, 8));
	tr(pw, &c, 0x0100000000000000ull, &rc, NULL);       /* bit 56 set, 63..57 not */
	CHECK_RC(rc, PAGEWALK_E_NONCANON);
	tr(pw, &c, 0xfeff800000000000ull, &rc, NULL);
	CHECK_RC(rc, PAGEWALK_E_NONCANON);
	tr(pw, &c, 0x0000800000000000ull, &rc, NULL);       /* canonical with LA57, PML5[1] absent... */
	CHECK_RC(rc, PAGEWALK_E_NOTMAPPED);                  /* ...PML5[0] absent */
}

static void test_cache(struct pagewalk *pw)
{
	struct pagewalk_cpu c = { .cr0 = 0x80000011, .cr3 = 0x8000,
				  .cr4 = PAGEWALK_CR4_PAE, .efer = 0x500 };
	struct pagewalk_cpu c2 = c;
	const uint64_t k = 0xffffffff80000000ull;
	uint64_t h0, m0, h1, m1;
	unsigned r0;
	int rc;

	memset(phys, 0, 0x20000);
	build_4level();
	pagewalk_invalidate(pw);
	pagewalk_cache_stats(pw, &h0, &m0);
	CHECK_EQ(tr(pw, &c, k + 0x10, &rc, NULL), 0xc010);
	r0 = nreads;
	CHECK_EQ(tr(pw, &c, k + 0x20, &rc, NULL), 0xc020);   /* same page: cached */
	CHECK_EQ(nreads, r0);
	pagewalk_cache_stats(pw, &h1, &m1);
	CHECK_EQ(h1 - h0, 1);
	CHECK_EQ(m1 - m0, 1);
	/* the guest remaps the page: the cache answers the old page ... */
	put64(0xb000, 0xd000 | P);
	CHECK_EQ(tr(pw, &c, k + 0x10, &rc, NULL), 0xc010);
	/* ... until the next round */
	pagewalk_invalidate(pw);
	CHECK_EQ(tr(pw, &c, k + 0x10, &rc, NULL), 0xd010);
	/* another CR3 is another address space */
	c2.cr3 = 0x10000;
	memset(phys + 0x10000, 0, 4096);
	tr(pw, &c2, k + 0x10, &rc, NULL);
	CHECK_RC(rc, PAGEWALK_E_NOTMAPPED);
	CHECK_EQ(tr(pw, &c, k + 0x10, &rc, NULL), 0xd010);
	/* many invalidations (generation wrap is handled) */
	for (int i = 0; i < 100000; i++)
		pagewalk_invalidate(pw);
	put64(0xb000, 0xc000 | P);
	CHECK_EQ(tr(pw, &c, k + 0x10, &rc, NULL), 0xc010);
}

static unsigned nreadv;

static int phys_readv(void *ctx, const uint64_t *pa, uint64_t *val, int n,
		      uint32_t size)
{
	nreadv++;
	for (int i = 0; i < n; i++) {
		val[i] = 0;
		if (phys_read(ctx, pa[i], &val[i], size) != (long)size)
			return -1;
	}
	nreads -= (unsigned)n;   /* counted as one vector read, not as a walk */
	return 0;
}

/* Stale translations revalidated in one vector read of the entries their
 * walk read: the same page while every entry holds (accessed/dirty bits
 * aside), a fresh walk when one changed. */
static void test_revalidate(void)
{
	struct pagewalk *pw = pagewalk_new(phys_read, NULL, 64);
	struct pagewalk_cpu c = { .cr0 = 0x80000011, .cr3 = 0x8000,
				  .cr4 = PAGEWALK_CR4_PAE, .efer = 0x500 };
	const uint64_t k = 0xffffffff80000000ull;
	int rc;

	pagewalk_set_physv(pw, phys_readv);
	memset(phys, 0, 0x20000);
	build_4level();
	CHECK_EQ(tr(pw, &c, k + 0x10, &rc, NULL), 0xc010);
	CHECK_EQ(pagewalk_revalidated(pw), 0);
	unsigned r0 = nreads, v0 = nreadv;
	pagewalk_invalidate(pw);
	CHECK_EQ(tr(pw, &c, k + 0x10, &rc, NULL), 0xc010);
	CHECK_EQ(nreads, r0);          /* no walk */
	CHECK_EQ(nreadv, v0 + 1);      /* one vector read */
	CHECK_EQ(pagewalk_revalidated(pw), 1);
	/* the guest's CPU sets accessed / dirty: still the same mapping */
	put64(0xb000, 0xc000 | P | 0x60);
	pagewalk_invalidate(pw);
	CHECK_EQ(tr(pw, &c, k + 0x10, &rc, NULL), 0xc010);
	CHECK_EQ(pagewalk_revalidated(pw), 2);
	/* the guest remaps the page: walked again, the new page */
	put64(0xb000, 0xd000 | P);
	pagewalk_invalidate(pw);
	r0 = nreads;
	CHECK_EQ(tr(pw, &c, k + 0x10, &rc, NULL), 0xd010);
	CHECK(nreads > r0);
	CHECK_EQ(pagewalk_revalidated(pw), 2);
	/* an upper level moved (PD[0] to another page table): walked again */
	put64(0xf000, 0x5000 | P);
	put64(0xa000, 0xf000 | P);
	pagewalk_invalidate(pw);
	CHECK_EQ(tr(pw, &c, k + 0x10, &rc, NULL), 0x5010);
	CHECK_EQ(pagewalk_revalidated(pw), 2);
	pagewalk_free(pw);
}

int main(void)
{
	struct pagewalk *pw;

	phys = calloc(1, PHYS_SIZE);
	pw = pagewalk_new(phys_read, NULL, 64);
	if (!phys || !pw)
		return 2;
	test_modes();
	test_off(pw);
	pagewalk_invalidate(pw);
	test_32(pw);
	pagewalk_invalidate(pw);
	test_pae(pw);
	pagewalk_invalidate(pw);
	test_4level(pw);
	pagewalk_invalidate(pw);
	test_5level(pw);
	test_cache(pw);
	test_revalidate();
	pagewalk_free(pw);
	pagewalk_free(NULL);
	free(phys);
	return check_done("pagewalk_test");
}
