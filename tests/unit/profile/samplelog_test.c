/* samplelog_test - the sample log: interning, order, cap, aggregated logs,
 * and the memory budget (1 Mi samples well under 64 MiB). */
#include <errno.h>

#include "check.h"
#include "samplelog.h"
#include "folded.h"

static void test_basic(void)
{
	struct samplelog *l = samplelog_new(0);
	struct prof_frame a[] = {
		{ .name = "sh", .kind = PK_PROC },
		{ .name = "main", .module = "sh", .src = "main.c:12", .kind = PK_USER, .addr = 0x401000 },
		{ .name = "sys_read", .module = "kernel", .src = "dir/read.c:7", .kind = PK_KERNEL, .addr = 0xc0100000 },
	};
	CHECK(samplelog_add(l, a, 3, 1000, 0, SLOG_MODE_KERNEL, 1) == 1);
	CHECK(samplelog_add(l, a, 3, 2000, 1, SLOG_MODE_KERNEL, 1) == 1);
	CHECK(samplelog_add(l, a, 2, 3000, 1, SLOG_MODE_USER, 1) == 1);
	CHECK(samplelog_add(l, a, 0, 3000, 1, SLOG_MODE_USER, 1) == -EINVAL);
	CHECK_U64(samplelog_count(l), 3);
	CHECK_U64(samplelog_weight(l), 3);
	CHECK_U64(samplelog_nframes(l), 2);
	CHECK_U64(samplelog_nstacks(l), 3);     /* main, main;sys_read, and 0 */
	const struct slog_sample *s = samplelog_sample(l, 1);
	CHECK_U64(s->t_ns, 2000);
	CHECK_U64(s->cpu, 1);
	CHECK_STR(samplelog_str(l, s->comm), "sh");
	uint32_t ids[8];
	uint32_t d = samplelog_stack_frames(l, s->stack, ids, 8);
	CHECK_U64(d, 2);
	CHECK(samplelog_stack_frames(l, s->stack, ids, 1) == 2);
	CHECK(samplelog_stack(l, s->stack)->prefix == samplelog_sample(l, 2)->stack);
	const struct slog_frame *f = samplelog_frame(l, ids[1]);
	CHECK_STR(samplelog_str(l, f->name), "sys_read");
	CHECK_STR(samplelog_str(l, f->module), "kernel");
	CHECK_STR(samplelog_str(l, f->file), "dir/read.c");
	CHECK_U64(f->line, 7);
	CHECK_U64(f->addr, 0xc0100000);
	CHECK(f->kind == PK_KERNEL);
	CHECK(samplelog_sample(l, 3) == NULL);
	CHECK(!samplelog_aggregated(l));
	uint64_t g = samplelog_generation(l);
	samplelog_reset(l);
	CHECK_U64(samplelog_count(l), 0);
	CHECK_U64(samplelog_nframes(l), 0);
	CHECK(samplelog_generation(l) == g + 1);
	CHECK(samplelog_add(l, a, 3, 1000, PROF_CPU_UNKNOWN, SLOG_MODE_KERNEL, 1) == 1);
	CHECK_U64(samplelog_sample(l, 0)->cpu, SLOG_CPU_UNKNOWN);
	samplelog_free(l);
	samplelog_free(NULL);
}

static void test_cap(void)
{
	struct samplelog *l = samplelog_new(5);
	struct prof_frame a[] = { { .name = "p", .kind = PK_PROC },
				  { .name = "f", .kind = PK_USER } };
	for (int i = 0; i < 8; i++)
		CHECK(samplelog_add(l, a, 2, (uint64_t)i, 0, SLOG_MODE_USER, 1) == (i < 5));
	CHECK_U64(samplelog_count(l), 5);
	CHECK_U64(samplelog_dropped(l), 3);
	CHECK_U64(samplelog_max(l), 5);
	samplelog_free(l);
}

static void test_from_profile(void)
{
	struct profile *p = profile_new();
	add_stack(p, "sh;main;read;sys_read:k", 0, 5);
	add_stack(p, "sh;main;spin", 1, 7);
	add_stack(p, "idle;[idle]:m", 0, 2);
	struct samplelog *l = samplelog_new(0);
	CHECK(samplelog_from_profile(l, p, 0, 0) == 3);
	CHECK(samplelog_aggregated(l));
	CHECK_U64(samplelog_weight(l), 14);
	/* folded order: processes by name, children by name */
	const struct slog_sample *s = samplelog_sample(l, 0);
	CHECK_STR(samplelog_str(l, s->comm), "idle");
	CHECK(s->mode == SLOG_MODE_IDLE && s->cpu == SLOG_CPU_UNKNOWN && s->weight == 2);
	s = samplelog_sample(l, 1);
	CHECK(s->mode == SLOG_MODE_KERNEL && s->weight == 5);
	CHECK_U64(samplelog_stack(l, s->stack)->depth, 3);
	struct samplelog *k = samplelog_new(0);
	CHECK(samplelog_from_profile(k, p, 0, FOLDED_KERNEL_ONLY) == 1);
	CHECK(samplelog_from_profile(k, p, 12345, 0) == -EINVAL);
	samplelog_free(k);
	samplelog_free(l);
	profile_free(p);
}

/* 1 Mi samples of a realistic shape (2000 call paths of depth 2-20, the
 * leaf at one of 64 pcs) stay well under 64 MiB: samples are 24 bytes,
 * frames and stack nodes are interned. */
static void test_budget(void)
{
	struct samplelog *l = samplelog_new(1u << 20);
	enum { NPATH = 2000, NFN = 400 };
	static char names[NFN][16];
	static uint16_t path[NPATH][20];
	static uint8_t plen[NPATH];
	uint64_t x = 1;
#define RND() (x = x * 6364136223846793005ull + 1442695040888963407ull, x >> 33)
	for (int i = 0; i < NFN; i++)
		snprintf(names[i], sizeof names[i], "fn%d", i);
	for (int i = 0; i < NPATH; i++) {
		plen[i] = (uint8_t)(2 + RND() % 19);
		for (int k = 0; k < plen[i]; k++)   /* shared prefixes: few roots */
			path[i][k] = (uint16_t)(k < 3 ? RND() % (uint64_t)(4 * (k + 1)) : RND() % NFN);
	}
	struct prof_frame fr[21];
	for (uint32_t i = 0; i < (1u << 20) + 10; i++) {
		unsigned pi = (unsigned)(RND() % NPATH);
		fr[0] = (struct prof_frame){ .name = names[pi % 4], .kind = PK_PROC };
		for (int k = 0; k < plen[pi]; k++)
			fr[k + 1] = (struct prof_frame){ .name = names[path[pi][k]],
				.module = "prog", .kind = PK_USER,
				.addr = 0x400000 + path[pi][k] * 256u +
					(k == plen[pi] - 1 ? (unsigned)(RND() % 64) : 7u) };
		samplelog_add(l, fr, (size_t)plen[pi] + 1, i * 1000ull, i % 4, SLOG_MODE_USER, 1);
	}
#undef RND
	CHECK_U64(samplelog_count(l), 1u << 20);
	CHECK_U64(samplelog_dropped(l), 10);
	size_t mb = samplelog_bytes(l) >> 20;
	printf("samplelog: 1 Mi samples, %u stack nodes, %u frames: %zu MiB\n",
	       samplelog_nstacks(l), samplelog_nframes(l), mb);
	CHECK(mb < 40);
	samplelog_free(l);
}

int main(void)
{
	test_basic();
	test_cap();
	test_from_profile();
	test_budget();
	return check_done("samplelog_test");
}
