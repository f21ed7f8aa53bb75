/* ring.c - lock-free SPSC ring of fixed-size slots (see ring.h).
 *
 * Free-running 64-bit counters with a power-of-two mask.  Each index is
 * written by one side only; a side reads its own index relaxed and the
 * other's with acquire, and publishes with release.
 */
#include "ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int ring_init(struct ring *r, size_t nslots, size_t slot_size)
{
	size_t n = 1;

	if (nslots == 0 || slot_size == 0)
		return -EINVAL;
	while (n < nslots)
		n <<= 1;
	slot_size = (slot_size + 63) & ~(size_t)63;
	memset(r, 0, sizeof *r);
	r->mem = aligned_alloc(64, n * slot_size);
	if (!r->mem)
		return -ENOMEM;
	r->slot_size = slot_size;
	r->mask = n - 1;
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	atomic_init(&r->dropped, 0);
	return 0;
}

void ring_free(struct ring *r)
{
	if (!r)
		return;
	free(r->mem);
	r->mem = NULL;
}

void *ring_reserve(struct ring *r)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	/* A1: pairs with C2 (consumer's release of tail): the slot we are about
	 * to overwrite has been fully read. */
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);

	if (head - tail > r->mask) {
		atomic_fetch_add_explicit(&r->dropped, 1, memory_order_relaxed);
		return NULL;
	}
	return r->mem + (head & r->mask) * r->slot_size;
}

void ring_commit(struct ring *r)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	/* P2: pairs with C1: the slot's contents are visible before the index. */
	atomic_store_explicit(&r->head, head + 1, memory_order_release);
}

const void *ring_peek(struct ring *r)
{
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	/* C1: pairs with P2. */
	uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);

	if (tail == head)
		return NULL;
	return r->mem + (tail & r->mask) * r->slot_size;
}

void ring_release(struct ring *r)
{
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	/* C2: pairs with A1: we are done reading the slot. */
	atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
}

size_t ring_count(struct ring *r)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	return (size_t)(head - tail);
}

uint64_t ring_dropped(struct ring *r)
{
	return atomic_load_explicit(&r->dropped, memory_order_relaxed);
}
