/* ring.h - lock-free single-producer single-consumer ring of fixed-size slots.
 *
 * The sampler thread reserves a slot, writes a sample into it in place and
 * commits it; the consumer peeks the oldest committed slot and releases it.
 * No locks, no allocation after ring_init.  When the ring is full the
 * producer drops the new sample and counts it (the consumer is behind; old
 * samples are worth as much as new ones and are already paid for).
 */
#ifndef QTOP_RING_H
#define QTOP_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct ring {
	/* Written by the producer only. */
	_Alignas(64) _Atomic uint64_t head;     /* next slot to fill */
	_Atomic uint64_t dropped;               /* pushes refused because full */
	/* Written by the consumer only. */
	_Alignas(64) _Atomic uint64_t tail;     /* next slot to read */
	/* Read-only after ring_init. */
	_Alignas(64) uint8_t *mem;
	size_t slot_size;                       /* bytes per slot, multiple of 64 */
	uint64_t mask;                          /* nslots - 1 */
};

/* nslots is rounded up to a power of two. Returns 0 or -ENOMEM/-EINVAL. */
int ring_init(struct ring *r, size_t nslots, size_t slot_size);
void ring_free(struct ring *r);

/* Producer: a slot to write into, or NULL when full (counted in dropped). */
void *ring_reserve(struct ring *r);
/* Producer: publish the slot returned by the last ring_reserve. */
void ring_commit(struct ring *r);

/* Consumer: the oldest committed slot, or NULL when empty. */
const void *ring_peek(struct ring *r);
/* Consumer: done with the slot returned by ring_peek. */
void ring_release(struct ring *r);

/* Either side: committed slots not yet released (approximate). */
size_t ring_count(struct ring *r);
uint64_t ring_dropped(struct ring *r);

#endif
