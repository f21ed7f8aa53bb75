/* pagewalk.h - x86 guest virtual -> guest physical, by walking the guest's
 * page tables from CR3 over a physical-read callback.
 *
 * Modes, decided from CR0.PG, CR4.PAE/PSE/LA57 and EFER.LMA as the CPU
 * does: paging off (identity), 32-bit 2-level (4 KiB pages, 4 MiB with
 * CR4.PSE, PSE-36 high bits), PAE 3-level (4 KiB / 2 MiB), 4-level and
 * 5-level (4 KiB / 2 MiB / 1 GiB).  Access rights (U/S, R/W, NX) are not
 * checked: a read that the guest itself could not make from user mode is
 * still answered, as QEMU's memsave and HMP x do.  Non-present entries,
 * non-canonical addresses (long mode) and addresses above 4 GiB (legacy
 * modes) fail cleanly; so does an entry the callback cannot read.
 *
 * Translations are cached per (CR3, mode, virtual page) in a small table;
 * pagewalk_invalidate() makes all of them stale in O(1) (a generation
 * counter): call it once per sampling round, because the guest changes its
 * page tables while it runs.  A stale translation is used again only when
 * every table entry its walk read still holds the same value (accessed and
 * dirty bits aside), read again in one call of the vector callback
 * (pagewalk_set_physv; without one, stale means walked again).  Never
 * writes anything (the callbacks only read).
 * Not thread-safe: one owner (the sampler thread).
 */
#ifndef QTOP_PAGEWALK_H
#define QTOP_PAGEWALK_H

#include <stddef.h>
#include <stdint.h>

/* Reads len bytes of guest-physical memory at paddr into buf; returns the
 * bytes read (a prefix: 0 .. len), or a negative value on failure. */
typedef long (*pagewalk_phys_fn)(void *ctx, uint64_t paddr, void *buf, uint32_t len);
/* Reads n table entries of size bytes (4 or 8) at paddr[i] into val[i]
 * (zero-extended) at once; 0 when all were read, else negative. */
typedef int (*pagewalk_physv_fn)(void *ctx, const uint64_t *paddr, uint64_t *val,
				 int n, uint32_t size);

enum pagewalk_mode {
	PAGEWALK_OFF,      /* CR0.PG = 0: virtual = physical (32-bit) */
	PAGEWALK_32,       /* 2-level, 4-byte entries */
	PAGEWALK_PAE,      /* 3-level, CR4.PAE without long mode */
	PAGEWALK_4LEVEL,   /* EFER.LMA */
	PAGEWALK_5LEVEL,   /* EFER.LMA + CR4.LA57 */
};

/* The control registers the walk depends on (as HMP "info registers"
 * prints them: struct qp_regs has the same fields). */
struct pagewalk_cpu {
	uint64_t cr0, cr3, cr4, efer;
};

enum pagewalk_err {
	PAGEWALK_E_NOTMAPPED = -1,   /* a non-present entry on the way */
	PAGEWALK_E_NONCANON  = -2,   /* not a canonical (or not a 32-bit) address */
	PAGEWALK_E_PHYS      = -3,   /* the callback could not read a table entry */
};

#define PAGEWALK_CR0_PG   (1ull << 31)
#define PAGEWALK_CR4_PSE  (1ull << 4)
#define PAGEWALK_CR4_PAE  (1ull << 5)
#define PAGEWALK_CR4_LA57 (1ull << 12)
#define PAGEWALK_EFER_LMA (1ull << 10)

enum pagewalk_mode pagewalk_mode_of(const struct pagewalk_cpu *c);
/* Name for messages: "off", "32-bit", "PAE", "4-level", "5-level". */
const char *pagewalk_mode_name(enum pagewalk_mode mode);

struct pagewalk;

/* cache_entries: translations kept (rounded up to a power of two; 0 = a
 * default of 1024).  NULL on out of memory. */
struct pagewalk *pagewalk_new(pagewalk_phys_fn read, void *ctx,
			      unsigned cache_entries);
void pagewalk_free(struct pagewalk *pw);   /* NULL ok */
/* Revalidate stale translations through readv (see above); NULL: never. */
void pagewalk_set_physv(struct pagewalk *pw, pagewalk_physv_fn readv);
/* Make every cached translation stale (O(1)). */
void pagewalk_invalidate(struct pagewalk *pw);

/* Translate one virtual address: 0 and *phys (and *page_size, the size of
 * the page it lies in: 4 KiB, 2 or 4 MiB, 1 GiB), or a negative
 * pagewalk_err.  Uses and fills the cache (*page_size is then 4096). */
int pagewalk_translate(struct pagewalk *pw, const struct pagewalk_cpu *c,
		       uint64_t virt, uint64_t *phys, uint64_t *page_size);

/* Read len bytes at virt, page by page: returns the bytes read, a prefix
 * clipped at the first page that is unmapped or not readable physically
 * (0 if the first one is).  The same contract as memread's reads. */
long pagewalk_read(struct pagewalk *pw, const struct pagewalk_cpu *c,
		   uint64_t virt, void *buf, uint32_t len);

/* Cache statistics since pagewalk_new (for benches and tests). */
void pagewalk_cache_stats(const struct pagewalk *pw, uint64_t *hits,
			  uint64_t *misses);
/* Hits that were stale translations found to hold (a subset of hits). */
uint64_t pagewalk_revalidated(const struct pagewalk *pw);

#endif
