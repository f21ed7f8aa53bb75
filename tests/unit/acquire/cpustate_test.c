/* cpustate_test - finding and reading a vCPU's CPUX86State (cpustate.h).
 *
 * The state is built here, in this process's own anonymous memory, from
 * real monitor captures (tests/data/qemu/): QEMU's layout of 7.2-10.x for
 * a 64-bit build and for qemu-system-i386, then looked for and read with
 * the same process_vm_readv calls used on QEMU (on our own pid).  The
 * end-to-end check against a real QEMU is the guest suite: every profile
 * test samples with registers read this way by default. */
#include "cpustate.h"
#include "regs.h"
#include "check.h"

#include <sys/mman.h>
#include <unistd.h>

static const char *dir;
static const int qemu_order[16] = {
	QP_RAX, QP_RCX, QP_RDX, QP_RBX, QP_RSP, QP_RBP, QP_RSI, QP_RDI,
	QP_R8, QP_R9, QP_R10, QP_R11, QP_R12, QP_R13, QP_R14, QP_R15,
};

static void put(uint8_t *p, uint64_t v, int ws) { memcpy(p, &v, (size_t)ws); }

/* CPUX86State's head as QEMU lays it out; efer at efer_off (ws 8). */
static void build(uint8_t *env, const struct qp_regs *r, int ws, int efer_off)
{
	unsigned eip = ws == 8 ? 128 : 32, hfl = ws == 8 ? 176 : 60;
	unsigned segs = ws == 8 ? 184 : 68, ss = ws == 8 ? 24 : 16, base = ws == 8 ? 8 : 4;
	unsigned cr = ws == 8 ? 424 : 228;
	uint32_t hf = r->cpl | (r->long_mode ? (1u << 15) | (1u << 14) : 0);

	memset(env, 0x5a, 1024);
	for (int i = 0; i < (r->long_mode ? 16 : 8); i++)
		put(env + (size_t)i * ws, r->gpr[qemu_order[i]], ws);
	put(env + eip, r->ip, ws);
	put(env + eip + ws, r->flags, ws);
	memcpy(env + hfl, &hf, 4);
	for (int s = 0; s < 8; s++)
		memset(env + segs + s * ss, 0, ss);
	put(env + segs + 1 * ss, r->cs, 4);
	put(env + segs + 2 * ss, r->ss, 4);
	put(env + segs + 4 * ss + base, r->fs_base, ws);
	put(env + segs + 5 * ss + base, r->gs_base, ws);
	put(env + segs + 7 * ss + base, r->tr_base, ws);
	put(env + cr, r->cr0, ws);
	put(env + cr + ws, 0, ws);
	put(env + cr + 2 * ws, r->cr2, ws);
	put(env + cr + 3 * ws, r->cr3, ws);
	put(env + cr + 4 * ws, r->cr4, ws);
	if (efer_off)
		memcpy(env + efer_off, &r->efer, 8);
}

static void same_regs(const struct qp_regs *a, const struct qp_regs *b)
{
	for (int i = 0; i < QP_NGPR; i++)
		CHECK_EQ(a->gpr[i], b->gpr[i]);
	CHECK_EQ(a->ip, b->ip);
	CHECK_EQ(a->cs, b->cs);
	CHECK_EQ(a->ss, b->ss);
	CHECK_EQ(a->fs_base, b->fs_base);
	CHECK_EQ(a->gs_base, b->gs_base);
	CHECK_EQ(a->tr_base, b->tr_base);
	CHECK_EQ(a->cr0, b->cr0);
	CHECK_EQ(a->cr2, b->cr2);
	CHECK_EQ(a->cr3, b->cr3);
	CHECK_EQ(a->cr4, b->cr4);
	CHECK_EQ(a->efer, b->efer);
	CHECK_EQ(a->cpl, b->cpl);
	CHECK_EQ(a->long_mode, b->long_mode);
}

static struct qp_regs parsed(const char *name, int cpu)
{
	size_t n;
	char *t = slurp(dir, name, &n);
	struct qp_regs all[8];
	int ids[8];
	int k = regs_parse_all(t, n, all, ids, 8);

	free(t);
	CHECK(k > cpu);
	return all[cpu];
}

/* The image decodes to what the monitor printed; a wrong CR3 or CPL is
 * not a match. */
static void test_image(void)
{
	uint8_t env[1024];
	struct qp_regs r = parsed("regs64_all_smp2.txt", 1), d;

	build(env, &r, 8, 600);
	CHECK_RC(cpustate_image_decode(env, sizeof env, 8, 600, &d), 0);
	same_regs(&d, &r);
	CHECK_EQ(cpustate_image_matches(env, sizeof env, 8, &r), 1);
	CHECK_EQ(cpustate_image_matches(env, sizeof env, 4, &r), 0);
	r.cr3 ^= 0x1000;
	CHECK_EQ(cpustate_image_matches(env, sizeof env, 8, &r), 0);
	r.cr3 ^= 0x1000;
	r.cpl = 3;
	CHECK_EQ(cpustate_image_matches(env, sizeof env, 8, &r), 0);
	/* too short for the layout */
	CHECK_RC(cpustate_image_decode(env, 100, 8, -1, &d), -1);
	/* no efer offset: LME|LMA from hflags */
	CHECK_RC(cpustate_image_decode(env, sizeof env, 8, -1, &d), 0);
	CHECK_EQ(d.efer, 0x500);
}

/* Two vCPUs' states in this process's memory: found, each at its place,
 * and read again after they change; a third copy of one makes it
 * ambiguous; a state nowhere is refused. */
static void test_find_and_read(void)
{
	size_t len = 1 << 16;
	uint8_t *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct qp_regs r[2] = { parsed("regs64_all_smp2.txt", 0), parsed("regs64_all_smp2.txt", 1) };
	int ids[2] = { 0, 1 };
	char err[256] = "";
	struct cpustate_snap *sn;
	struct cpustate *c;
	struct qp_regs got;

	CHECK(m != MAP_FAILED);
	if (m == MAP_FAILED)
		return;
	build(m + 0x1238, &r[0], 8, 600);
	build(m + 0x9a40, &r[1], 8, 600);
	sn = cpustate_snapshot(getpid(), NULL, 0, 1ull << 40, err, sizeof err);
	CHECK(sn != NULL);
	CHECK(cpustate_snap_bytes(sn) >= len);
	c = sn ? cpustate_find(sn, r, ids, 2, err, sizeof err) : NULL;
	if (!c)
		fprintf(stderr, "find: %s\n", err);
	CHECK(c != NULL);
	CHECK_EQ(cpustate_word_size(c), 8);
	CHECK_RC(cpustate_read(c, 0, &got), 0);
	same_regs(&got, &r[0]);
	CHECK_RC(cpustate_read(c, 1, &got), 0);
	same_regs(&got, &r[1]);
	CHECK_RC(cpustate_read(c, 2, &got), -1);
	/* the guest runs on: a read sees the new values */
	put(m + 0x9a40 + 4 * 8, 0x1234560, 8);             /* RSP */
	put(m + 0x9a40 + 128, 0xffffffff81000000ull, 8);    /* RIP */
	CHECK_RC(cpustate_read(c, 1, &got), 0);
	CHECK_EQ(got.gpr[QP_RSP], 0x1234560);
	CHECK_EQ(got.ip, 0xffffffff81000000ull);
	cpustate_free(c);
	cpustate_snap_free(sn);

	/* vCPU 0's registers at two places (e.g. equal vCPUs at reset) */
	build(m + 0xc000, &r[0], 8, 600);
	sn = cpustate_snapshot(getpid(), NULL, 0, 1ull << 40, err, sizeof err);
	c = sn ? cpustate_find(sn, r, ids, 1, err, sizeof err) : NULL;
	CHECK(c == NULL);
	CHECK(strstr(err, " places in QEMU") != NULL);   /* 2, or more: freed copies of earlier snapshots */
	cpustate_snap_free(sn);

	/* a state that is nowhere (other CR3): not TCG, or another layout */
	r[1].cr3 += 0x1000;
	sn = cpustate_snapshot(getpid(), NULL, 0, 1ull << 40, err, sizeof err);
	c = sn ? cpustate_find(sn, r + 1, ids + 1, 1, err, sizeof err) : NULL;
	CHECK(c == NULL);
	CHECK(strstr(err, "not in QEMU's memory") != NULL);
	cpustate_snap_free(sn);

	/* the skip ranges (guest RAM) are not looked at.  A CR3 no earlier
	 * snapshot saw: freed snapshot buffers keep their bytes (ASan's
	 * quarantine), and one of them would be found instead. */
	r[1].cr3 += 0x7000;
	build(m + 0x9a40, &r[1], 8, 600);
	uint64_t skip[1][2] = { { (uint64_t)(uintptr_t)m, (uint64_t)(uintptr_t)m + len } };
	sn = cpustate_snapshot(getpid(), (const uint64_t (*)[2])skip, 1, 1ull << 40, err,
			       sizeof err);
	c = sn ? cpustate_find(sn, r + 1, ids + 1, 1, err, sizeof err) : NULL;
	CHECK(c == NULL);
	cpustate_free(c);
	cpustate_snap_free(sn);
	munmap(m, len);
}

/* qemu-system-i386: 4-byte target_ulong, 16-byte segment caches. */
static void test_i386_build(void)
{
	size_t len = 1 << 16;
	uint8_t *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct qp_regs r = parsed("regs32_realmode.txt", 0), got;
	int id = 0;
	char err[256] = "";
	struct cpustate_snap *sn;
	struct cpustate *c;

	CHECK(m != MAP_FAILED);
	if (m == MAP_FAILED)
		return;
	CHECK_EQ(r.long_mode, 0);
	/* protected mode, distinctive values, as a teaching OS would have */
	r.gpr[QP_RAX] = 0x1c; r.gpr[QP_RBX] = 0x80112345; r.gpr[QP_RSP] = 0x8010ff40;
	r.gpr[QP_RBP] = 0x8010ff58; r.ip = 0x80103a1b; r.cr0 = 0x80010011; r.cr3 = 0x3ff000;
	r.cs = 0x8; r.ss = 0x10; r.efer = 0;
	build(m + 0x2004, &r, 4, 0);
	sn = cpustate_snapshot(getpid(), NULL, 0, 1ull << 40, err, sizeof err);
	c = sn ? cpustate_find(sn, &r, &id, 1, err, sizeof err) : NULL;
	if (!c)
		fprintf(stderr, "find: %s\n", err);
	CHECK(c != NULL);
	CHECK_EQ(cpustate_word_size(c), 4);
	CHECK_RC(cpustate_read(c, 0, &got), 0);
	same_regs(&got, &r);
	cpustate_free(c);
	cpustate_snap_free(sn);
	munmap(m, len);
}

int main(int argc, char **argv)
{
	dir = argc > 1 ? argv[1] : "tests/data/qemu";
	test_image();
	test_find_and_read();
	test_i386_build();
	if (check_failures)
		fprintf(stderr, "%d check(s) failed\n", check_failures);
	else
		printf("cpustate: all checks passed\n");
	return check_failures ? 1 : 0;
}
