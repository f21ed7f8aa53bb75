/* shmring tests: geometry and bounds checks with the ring in a MAP_SHARED
 * memfd mapped twice at different addresses (producer on one mapping,
 * consumer on the other: position independence), then a two-thread stress
 * test that checks every sequence number and payload.  The stress test
 * uses one mapping: ThreadSanitizer tracks addresses, so only there can it
 * check the acquire/release pairs (run under TSan in CI). */
#include "shmring.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); exit(1); } } while (0)

struct payload { uint64_t seq; uint64_t sum; uint8_t bytes[200]; };

static void *map_twice(size_t bytes, void **second)
{
	int fd = memfd_create("shmring_test", MFD_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(ftruncate(fd, (off_t)bytes) == 0);
	void *a = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	void *b = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(a != MAP_FAILED && b != MAP_FAILED && a != b);
	close(fd);
	*second = b;
	return a;
}

static void test_basic(void)
{
	size_t bytes = shmring_bytes(3, sizeof(struct payload));
	void *m2, *m = map_twice(bytes, &m2);
	struct shmring *p = m, *c = m2;

	CHECK(bytes > 0 && shmring_init(m, 3, sizeof(struct payload)) == 0);
	CHECK(shmring_check(c, bytes) == 0);
	CHECK(shmring_check(c, bytes - 1) < 0);        /* slots beyond the mapping */
	CHECK(shmring_peek(c) == NULL);
	for (int i = 0; i < 4; i++) {
		struct payload *x = shmring_reserve(p);
		CHECK(x != NULL);
		x->seq = (uint64_t)i;
		shmring_commit(p);
	}
	CHECK(shmring_reserve(p) == NULL);            /* full: refused, counted */
	CHECK(shmring_dropped(c) == 1 && shmring_count(c) == 4);
	for (int i = 0; i < 2; i++) {
		const struct payload *x = shmring_peek(c);   /* the other mapping */
		CHECK(x && x->seq == (uint64_t)i);
		shmring_release(c);
	}
	shmring_skip_all(c);                          /* a new consumer: no backlog */
	CHECK(shmring_peek(c) == NULL && shmring_count(p) == 0);
	CHECK(shmring_reserve(p) != NULL);

	/* A header someone else wrote is checked before use. */
	struct shmring bad = *c;
	bad.mask = 6;                                 /* not a power of two minus 1 */
	CHECK(shmring_check(&bad, bytes) < 0);
	bad = *c;
	bad.slot_size = 100;                          /* not a multiple of 64 */
	CHECK(shmring_check(&bad, bytes) < 0);
	bad = *c;
	bad.data_off = 0;
	CHECK(shmring_check(&bad, bytes) < 0);
	CHECK(shmring_bytes(0, 8) == 0 && shmring_init((char *)m + 8, 4, 64) < 0);
	munmap(m, bytes);
	munmap(m2, bytes);
}

#define N 1000000ull
static struct shmring *gp, *gc;

static void *producer(void *arg)
{
	(void)arg;
	uint64_t seq = 0;
	while (seq < N) {
		struct payload *x = shmring_reserve(gp);
		if (!x)
			continue;           /* full: spin (the test wants no loss) */
		x->seq = seq;
		memset(x->bytes, (int)(seq & 0xff), sizeof x->bytes);
		x->sum = seq * 31 + (seq & 0xff);
		shmring_commit(gp);
		seq++;
	}
	return NULL;
}

static void test_threads(void)
{
	size_t bytes = shmring_bytes(64, sizeof(struct payload));
	void *m2, *m = map_twice(bytes, &m2);
	pthread_t t;

	CHECK(shmring_init(m, 64, sizeof(struct payload)) == 0);
	gp = m;
	gc = m;
	CHECK(shmring_check(gc, bytes) == 0);
	CHECK(pthread_create(&t, NULL, producer, NULL) == 0);
	uint64_t want = 0;
	while (want < N) {
		const struct payload *x = shmring_peek(gc);
		if (!x)
			continue;
		CHECK(x->seq == want);   /* nothing lost, duplicated or reordered */
		CHECK(x->sum == want * 31 + (want & 0xff));
		CHECK(x->bytes[0] == (uint8_t)(want & 0xff) && x->bytes[199] == (uint8_t)(want & 0xff));
		shmring_release(gc);
		want++;
	}
	pthread_join(t, NULL);
	munmap(m, bytes);
	munmap(m2, bytes);
}

int main(void)
{
	test_basic();
	test_threads();
	puts("shmring: ok");
	return 0;
}
