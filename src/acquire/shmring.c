/* shmring.c - SPSC ring in one position-independent block (see shmring.h).
 * Built into qtop-prof and into qtop-plugin.so: plain C11, no allocation. */
#include "shmring.h"

#include <errno.h>
#include <string.h>

#define HDR_BYTES ((sizeof(struct shmring) + 63) & ~(size_t)63)

size_t shmring_bytes(size_t nslots, size_t slot_size)
{
	size_t n = 1;

	if (nslots == 0 || slot_size == 0 || nslots > (1u << 20) || slot_size > (16u << 20))
		return 0;
	while (n < nslots)
		n <<= 1;
	slot_size = (slot_size + 63) & ~(size_t)63;
	return HDR_BYTES + n * slot_size;
}

int shmring_init(void *mem, size_t nslots, size_t slot_size)
{
	struct shmring *r = mem;
	size_t n = 1;

	if (!shmring_bytes(nslots, slot_size) || ((uintptr_t)mem & 63))
		return -EINVAL;
	while (n < nslots)
		n <<= 1;
	memset(r, 0, sizeof *r);
	r->slot_size = (slot_size + 63) & ~(size_t)63;
	r->mask = n - 1;
	r->data_off = HDR_BYTES;
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	atomic_init(&r->dropped, 0);
	return 0;
}

int shmring_check(const struct shmring *r, size_t avail)
{
	uint64_t n = r->mask + 1;

	if (avail < HDR_BYTES || r->data_off != HDR_BYTES || r->slot_size == 0 ||
	    (r->slot_size & 63) || r->slot_size > (16u << 20) ||
	    n == 0 || (n & (n - 1)) || n > (1u << 20))
		return -EINVAL;
	if (n * r->slot_size > avail - HDR_BYTES)
		return -EINVAL;
	return 0;
}

static uint8_t *slot(struct shmring *r, uint64_t i)
{
	return (uint8_t *)r + r->data_off + (i & r->mask) * r->slot_size;
}

void *shmring_reserve(struct shmring *r)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	/* A1: pairs with C2 (the consumer's release of tail): the slot we are
	 * about to overwrite has been read. */
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);

	/* head - tail > mask + 1 only if a consumer wrote a tail ahead of head
	 * (a bad or dying one): refuse too rather than overwrite. */
	if (head - tail > r->mask) {
		atomic_fetch_add_explicit(&r->dropped, 1, memory_order_relaxed);
		return NULL;
	}
	return slot(r, head);
}

void shmring_commit(struct shmring *r)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	/* P2: pairs with C1: the slot's contents are visible before the index. */
	atomic_store_explicit(&r->head, head + 1, memory_order_release);
}

const void *shmring_peek(struct shmring *r)
{
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	/* C1: pairs with P2. */
	uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);

	if (tail == head || head - tail > r->mask + 1)
		return NULL;
	return slot(r, tail);
}

void shmring_release(struct shmring *r)
{
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	/* C2: pairs with A1: we are done reading the slot. */
	atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
}

void shmring_skip_all(struct shmring *r)
{
	/* C1': pairs with P2, C2': pairs with A1, as peek + release. */
	uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	atomic_store_explicit(&r->tail, head, memory_order_release);
}

size_t shmring_count(struct shmring *r)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	return (size_t)(head - tail);
}

uint64_t shmring_dropped(struct shmring *r)
{
	return atomic_load_explicit(&r->dropped, memory_order_relaxed);
}
