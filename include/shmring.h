/* shmring.h - the SPSC ring of ring.h laid out for shared memory.
 *
 * struct ring holds a pointer to its slots, which means nothing in another
 * process.  A shmring is one position-independent block: this header, then
 * the slots at data_off bytes from it, so two processes that map the same
 * segment at different addresses share it.  Same discipline as ring.c:
 * free-running 64-bit counters, a power-of-two mask, each index written by
 * one side only (read own relaxed, other's with acquire, publish with
 * release), a full ring drops the new item and counts it.
 *
 * The consumer must not trust a header another process wrote: it checks it
 * once with shmring_check() against the bytes it mapped; after that the
 * geometry (slot_size, mask, data_off) is read-only.
 */
#ifndef QTOP_SHMRING_H
#define QTOP_SHMRING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct shmring {
	/* Written by the producer only. */
	_Alignas(64) _Atomic uint64_t head;     /* next slot to fill */
	_Atomic uint64_t dropped;               /* pushes refused because full */
	/* Written by the consumer only. */
	_Alignas(64) _Atomic uint64_t tail;     /* next slot to read */
	/* Read-only after shmring_init. */
	_Alignas(64) uint64_t slot_size;        /* bytes per slot, multiple of 64 */
	uint64_t mask;                          /* nslots - 1 */
	uint64_t data_off;                      /* slots start here, from the header */
};

/* Bytes a ring of nslots (rounded up to a power of two) slots of slot_size
 * (rounded up to 64) takes, header included; 0 when too big or invalid. */
size_t shmring_bytes(size_t nslots, size_t slot_size);
/* Lay a ring out in mem (64-byte aligned, shmring_bytes() long). */
int shmring_init(void *mem, size_t nslots, size_t slot_size);
/* Consumer side: 0 if the ring at r is sane and lies within avail bytes,
 * else -EINVAL. */
int shmring_check(const struct shmring *r, size_t avail);

/* Producer: a slot to write into, or NULL when full (counted in dropped). */
void *shmring_reserve(struct shmring *r);
/* Producer: publish the slot returned by the last shmring_reserve. */
void shmring_commit(struct shmring *r);

/* Consumer: the oldest committed slot, or NULL when empty. */
const void *shmring_peek(struct shmring *r);
/* Consumer: done with the slot returned by shmring_peek. */
void shmring_release(struct shmring *r);
/* Consumer: throw away everything committed so far (a new consumer taking
 * over a ring does not want the backlog of the last one). */
void shmring_skip_all(struct shmring *r);

size_t shmring_count(struct shmring *r);
uint64_t shmring_dropped(struct shmring *r);

#endif
