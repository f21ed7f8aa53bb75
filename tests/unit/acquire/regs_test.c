/* regs_test - the register and x/ parsers on real QEMU 7.2 captures
 * (tests/data/qemu/, see capture.py there) and QEMU 10.0 ones
 * (tests/data/qemu/10.0/: the same layout, other values). */
#include "regs.h"
#include "check.h"

static const char *dir;

static void test_regs64(void)
{
	size_t n;
	char *t = slurp(dir, "regs64_cpu0.txt", &n);
	struct qp_regs r;

	CHECK_RC(regs_parse(t, n, &r), 0);
	CHECK_EQ(r.valid, 1);
	CHECK_EQ(r.long_mode, 1);
	CHECK_EQ(r.ip, 0xffffffff8103cfe3ull);
	CHECK_EQ(r.gpr[QP_RSP], 0xffffc90000003fc0ull);
	CHECK_EQ(r.gpr[QP_RBP], 0xffff88801f419040ull);
	CHECK_EQ(r.gpr[QP_RAX], 0xffffffff8106aa00ull);
	CHECK_EQ(r.gpr[QP_RCX], 0xc0000080ull);
	CHECK_EQ(r.gpr[QP_R8], 0xffffffffffbf8babull);   /* padded "R8 =" */
	CHECK_EQ(r.gpr[QP_R9], 0x2f684e27ull);
	CHECK_EQ(r.gpr[QP_R11], 0xffffc90000003ff8ull);
	CHECK_EQ(r.flags, 0x93);
	CHECK_EQ(r.cpl, 0);
	CHECK_EQ(r.halted, 1);
	CHECK_EQ(r.cs, 0x10);
	CHECK_EQ(r.ss, 0x18);
	CHECK_EQ(r.fs_base, 0);
	CHECK_EQ(r.gs_base, 0xffff88801f400000ull);       /* 2nd field, not sel */
	CHECK_EQ(r.tr_base, 0xfffffe0000003000ull);
	CHECK_EQ(r.cr0, 0x80050033);
	CHECK_EQ(r.cr2, 0xffff888003801000ull);
	CHECK_EQ(r.cr3, 0x2a10000);
	CHECK_EQ(r.cr4, 0x6b0);
	CHECK_EQ(r.efer, 0xd01);
	free(t);
}

static void test_regs32(void)
{
	size_t n;
	char *t = slurp(dir, "regs32_realmode.txt", &n);
	struct qp_regs r;

	memset(&r, 0xaa, sizeof r);
	CHECK_RC(regs_parse(t, n, &r), 0);
	CHECK_EQ(r.valid, 1);
	CHECK_EQ(r.long_mode, 0);
	CHECK_EQ(r.ip, 0xfff0);
	CHECK_EQ(r.gpr[QP_RDX], 0x60fb1);
	CHECK_EQ(r.gpr[QP_RSP], 0);
	for (int i = QP_R8; i < QP_NGPR; i++)
		CHECK_EQ(r.gpr[i], 0);
	CHECK_EQ(r.flags, 2);
	CHECK_EQ(r.cs, 0xf000);
	CHECK_EQ(r.cpl, 0);
	CHECK_EQ(r.halted, 0);
	CHECK_EQ(r.cr0, 0x60000010);
	CHECK_EQ(r.efer, 0);
	free(t);
}

static void test_all(void)
{
	size_t n;
	char *t = slurp(dir, "regs64_all_smp2.txt", &n);
	struct qp_regs r[4], one;
	int ids[4] = { -9, -9, -9, -9 };

	CHECK_RC(regs_parse_all(t, n, r, ids, 4), 2);
	CHECK_EQ(ids[0], 0);
	CHECK_EQ(ids[1], 1);
	CHECK_EQ(r[0].ip, 0xffffffff8103cfe3ull);
	CHECK_EQ(r[0].halted, 1);
	CHECK_EQ(r[1].ip, 0xffffffff819b95c3ull);
	CHECK_EQ(r[1].gpr[QP_RSP], 0xffffc90000013d98ull);
	CHECK_EQ(r[1].gpr[QP_R13], 0x1518);
	CHECK_EQ(r[1].flags, 0x283);
	CHECK_EQ(r[1].halted, 0);
	CHECK_EQ(r[1].long_mode, 1);
	/* max bounds the output */
	CHECK_RC(regs_parse_all(t, n, r, ids, 1), 1);
	/* regs_parse takes the first CPU, not a mix of both */
	CHECK_RC(regs_parse(t, n, &one), 0);
	CHECK_EQ(one.ip, 0xffffffff8103cfe3ull);
	CHECK_EQ(one.gpr[QP_RSP], 0xffffc90000003fc0ull);
	CHECK_EQ(one.halted, 1);
	free(t);
}

static void test_edits(void)
{
	size_t n;
	char *t = slurp(dir, "regs64_cpu0.txt", &n), *p;
	struct qp_regs r;

	/* CPL= absent: cs & 3 (a user-mode CS) */
	p = strstr(t, "CPL=0");
	memcpy(p, "XXX=0", 5);
	p = strstr(t, "CS =0010");
	memcpy(p, "CS =0033", 8);
	CHECK_RC(regs_parse(t, n, &r), 0);
	CHECK_EQ(r.cpl, 3);
	CHECK_EQ(r.cs, 0x33);
	/* truncated before RSP: no stack pointer, invalid */
	p = strstr(t, "RSI=");
	CHECK_RC(regs_parse(t, (size_t)(p - t), &r), -1);
	CHECK_EQ(r.valid, 0);
	/* a corrupt RIP value is not taken as a number */
	p = strstr(t, "RIP=ffff");
	p[6] = 'z';
	CHECK_RC(regs_parse(t, n, &r), -1);
	free(t);

	CHECK_RC(regs_parse("", 0, &r), -1);
	CHECK_RC(regs_parse("unknown command: 'info'\r\n", 25, &r), -1);
	CHECK_RC(regs_parse_all("garbage", 7, &r, NULL, 1), 0);
}

static void test_x(void)
{
	size_t n, n2;
	char *t = slurp(dir, "x64_kernel_8gx.txt", &n);
	char *w = slurp(dir, "x64_kernel_8wx.txt", &n2);
	uint8_t b[128], b2[128];
	uint64_t a = 0, a2 = 0;
	static const uint8_t first[8] = { 0xeb, 0xf4, 0x31, 0xc0, 0x31, 0xd2, 0xc7, 0x04 };

	CHECK_RC(hmpx_parse(t, n, &a, b, sizeof b), 64);
	CHECK_EQ(a, 0xffffffff8103cfe3ull);
	CHECK(!memcmp(b, first, 8));                /* little-endian */
	CHECK_EQ(b[63], 0x44);                       /* last word 0x441f0f90... */
	/* the same memory as 32-bit words gives the same bytes */
	CHECK_RC(hmpx_parse(w, n2, &a2, b2, sizeof b2), 32);
	CHECK_EQ(a2, a);
	CHECK(!memcmp(b, b2, 32));
	/* cap: whole units only */
	CHECK_RC(hmpx_parse(t, n, &a, b, 20), 16);
	free(t);
	free(w);

	t = slurp(dir, "x64_unmapped_8gx.txt", &n);
	a = 7;
	CHECK_RC(hmpx_parse(t, n, &a, b, sizeof b), -1);
	CHECK_EQ(a, 7);
	free(t);
	t = slurp(dir, "x64_noncanonical_8gx.txt", &n);
	CHECK_RC(hmpx_parse(t, n, &a, b, sizeof b), -1);
	free(t);
	/* a dump that runs into unmapped memory keeps what was read */
	t = slurp(dir, "x_realmode_8wx.txt", &n);
	CHECK_RC(hmpx_parse(t, n, &a, b, sizeof b), 16);
	CHECK_EQ(a, 0xfffffff0ull);
	CHECK_EQ(b[0], 0xea);                        /* the reset vector's far jmp */
	free(t);
	/* the QEMU 7.2 error for $rsp, and a print */
	CHECK_RC(hmpx_parse("unknown register\r\n", 18, &a, b, sizeof b), -1);
	t = slurp(dir, "print_pc.txt", &n);
	CHECK_RC(hmpx_parse(t, n, &a, b, sizeof b), -1);
	free(t);
	/* non-contiguous lines: only the first run counts */
	{
		const char *s = "0000000000001000: 0x01 0x02\r\n0000000000002000: 0x03\r\n";
		CHECK_RC(hmpx_parse(s, strlen(s), &a, b, sizeof b), 2);
	}
}

/* QEMU 10.0.2 (bookworm-backports): the same kernel two vCPUs, captured
 * while both ran (HLT=0). */
static void test_qemu10(void)
{
	char d10[4096];
	size_t n, n2;
	char *t, *w;
	struct qp_regs r[4], one;
	int ids[4] = { -9, -9, -9, -9 };
	uint8_t b[128], b2[128];
	uint64_t a = 0, a2 = 0;
	static const uint8_t first[8] = { 0x65, 0x48, 0x8b, 0x3c, 0x25, 0x80, 0xfb, 0x01 };

	snprintf(d10, sizeof d10, "%s/10.0", dir);
	t = slurp(d10, "regs64_cpu0.txt", &n);
	CHECK_RC(regs_parse(t, n, &one), 0);
	CHECK_EQ(one.valid, 1);
	CHECK_EQ(one.long_mode, 1);
	CHECK_EQ(one.ip, 0xffffffff811270f5ull);
	CHECK_EQ(one.gpr[QP_RSP], 0xffffc9000008be70ull);
	CHECK_EQ(one.gpr[QP_RBP], 0xffffc90000013d74ull);
	CHECK_EQ(one.gpr[QP_RAX], 0xffff88801f42da68ull);
	CHECK_EQ(one.gpr[QP_R8], 0);
	CHECK_EQ(one.gpr[QP_R15], 0xffffffff81182001ull);
	CHECK_EQ(one.flags, 0x202);
	CHECK_EQ(one.cpl, 0);
	CHECK_EQ(one.halted, 0);
	CHECK_EQ(one.cs, 0x10);
	CHECK_EQ(one.ss, 0x18);
	CHECK_EQ(one.gs_base, 0xffff88801f400000ull);
	CHECK_EQ(one.tr_base, 0xfffffe0000003000ull);
	CHECK_EQ(one.cr2, 0xffff888003801000ull);
	CHECK_EQ(one.cr3, 0x2a10000);
	CHECK_EQ(one.cr4, 0x6b0);
	CHECK_EQ(one.efer, 0xd01);
	free(t);

	t = slurp(d10, "regs64_all_smp2.txt", &n);
	CHECK_RC(regs_parse_all(t, n, r, ids, 4), 2);
	CHECK_EQ(ids[0], 0);
	CHECK_EQ(ids[1], 1);
	CHECK_EQ(r[0].ip, 0xffffffff811270f5ull);
	CHECK_EQ(r[1].ip, 0xffffffff811955a0ull);
	CHECK_EQ(r[1].gpr[QP_RSP], 0xffffc900000b3e70ull);
	CHECK_EQ(r[1].gpr[QP_R15], 0xffffffff81182000ull);
	CHECK_EQ(r[1].flags, 2);
	CHECK_EQ(r[1].halted, 0);
	CHECK_EQ(r[1].long_mode, 1);
	free(t);

	t = slurp(d10, "regs32_realmode.txt", &n);
	CHECK_RC(regs_parse(t, n, &one), 0);
	CHECK_EQ(one.long_mode, 0);
	CHECK_EQ(one.ip, 0xfff0);
	CHECK_EQ(one.cs, 0xf000);
	CHECK_EQ(one.cr0, 0x60000010);
	free(t);

	t = slurp(d10, "x64_kernel_8gx.txt", &n);
	w = slurp(d10, "x64_kernel_8wx.txt", &n2);
	CHECK_RC(hmpx_parse(t, n, &a, b, sizeof b), 64);
	CHECK_EQ(a, 0xffffffff811270f5ull);
	CHECK(!memcmp(b, first, 8));
	CHECK_EQ(b[63], 0x66);
	CHECK_RC(hmpx_parse(w, n2, &a2, b2, sizeof b2), 32);
	CHECK_EQ(a2, a);
	CHECK(!memcmp(b, b2, 32));
	free(t);
	free(w);
	t = slurp(d10, "x64_unmapped_8gx.txt", &n);
	CHECK_RC(hmpx_parse(t, n, &a, b, sizeof b), -1);
	free(t);
	t = slurp(d10, "x64_noncanonical_8gx.txt", &n);
	CHECK_RC(hmpx_parse(t, n, &a, b, sizeof b), -1);
	free(t);
	t = slurp(d10, "x_realmode_8wx.txt", &n);
	CHECK_RC(hmpx_parse(t, n, &a, b, sizeof b), 16);
	CHECK_EQ(a, 0xfffffff0ull);
	CHECK_EQ(b[0], 0xea);
	free(t);
	t = slurp(d10, "print_pc.txt", &n);
	CHECK_RC(hmpx_parse(t, n, &a, b, sizeof b), -1);
	free(t);
}

int main(int argc, char **argv)
{
	dir = argc > 1 ? argv[1] : "tests/data/qemu";
	test_regs64();
	test_regs32();
	test_all();
	test_edits();
	test_x();
	test_qemu10();
	return check_done("regs_test");
}
