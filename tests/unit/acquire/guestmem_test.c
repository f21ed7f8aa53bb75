/* guestmem_test - parsing what QEMU says about its RAM layout: "info mtree
 * -f" (captures of QEMU 7.2 and 10.0 on the test guest, and a synthetic one
 * with RAM above 4 GiB, a memory backend, romd and MMIO) and "gpa2hva". */
#include "guestmem.h"
#include "check.h"

static void test_capture(const char *dir, const char *name)
{
	struct guestmem_region r[16];
	char *text = slurp(dir, name, NULL);
	int n = guestmem_parse_mtree(text, r, 16);

	CHECK_RC(n, 6);
	if (n == 6) {
		CHECK_EQ(r[0].gpa, 0);
		CHECK_EQ(r[0].size, 0xc3000);
		CHECK(!strcmp(r[0].mr, "pc.ram"));
		CHECK_EQ(r[1].gpa, 0xc3000);
		CHECK_EQ(r[1].rom, 1);
		CHECK_EQ(r[1].mr_off, 0xc3000);
		CHECK_EQ(r[4].gpa, 0x100000);
		CHECK_EQ(r[4].size, 0x8000000 - 0x100000);
		CHECK_EQ(r[4].mr_off, 0x100000);
		CHECK_EQ(r[4].rom, 0);
		CHECK(!strcmp(r[5].mr, "pc.bios"));     /* MMIO (ioapic, hpet, apic) left out */
		CHECK_EQ(r[5].gpa, 0xfffc0000);
		CHECK_EQ(r[5].size, 0x40000);
	}
	CHECK_RC(guestmem_parse_mtree(text, r, 2), 2);
	free(text);
}

static const char synth[] =
	"FlatView #0\r\n"
	" AS \"I/O\", root: io\r\n"
	" Root memory region: io\r\n"
	"  0000000000000000-0000000000000007 (prio 0, i/o): dma-chan\r\n"
	"\r\n"
	"FlatView #1\r\n"
	" AS \"memory\", root: system\r\n"
	" AS \"cpu-memory-0\", root: system\r\n"
	" Root memory region: system\r\n"
	"  0000000000000000-000000007fffffff (prio 0, ram): m KVM\r\n"
	"  00000000fe000000-00000000fe00ffff (prio 0, romd): pflash\r\n"
	"  00000000fec00000-00000000fec00fff (prio 0, i/o): ioapic\r\n"
	"  0000000100000000-000000017fffffff (prio 0, ram): m @0000000080000000 KVM\r\n"
	"\r\n"
	"FlatView #2\r\n"
	" AS \"cpu-smm-0\", root: memory\r\n"
	"  0000000000000000-00000000ffffffff (prio 0, ram): smram\r\n";

static void test_synth(void)
{
	struct guestmem_region r[8];
	uint64_t hva = 0;

	CHECK_RC(guestmem_parse_mtree(synth, r, 8), 2);
	CHECK_EQ(r[0].size, 0x80000000ull);
	CHECK(!strcmp(r[0].mr, "m"));
	CHECK_EQ(r[1].gpa, 0x100000000ull);
	CHECK_EQ(r[1].mr_off, 0x80000000ull);
	CHECK_RC(guestmem_parse_mtree("FlatView #0\n AS \"I/O\", root: io\n", r, 8), -1);
	CHECK_RC(guestmem_parse_mtree("", r, 8), -1);
	CHECK_RC(guestmem_parse_mtree("FlatView #0\n AS \"memory\", root: system\n"
				      "  zzzz-0001 (prio 0, ram): x\n"
				      "  0000000000002000-0000000000001000 (prio 0, ram): x\n"
				      "  0000000000000000-0000000000000fff (prio 0, ram\n", r, 8), 0);

	CHECK_RC(guestmem_parse_gpa2hva("Host virtual address for 0x100000 (pc.ram) is 0x7ff967f00000\r\n", &hva), 0);
	CHECK_EQ(hva, 0x7ff967f00000ull);
	CHECK_RC(guestmem_parse_gpa2hva("Memory at address 0xfee00000 is not RAM\r\n", &hva), -1);
	CHECK_RC(guestmem_parse_gpa2hva("No memory is mapped at address 0x8000000\r\n", &hva), -1);
	CHECK_RC(guestmem_parse_gpa2hva("Host virtual address for 0x0 (x) is zz\r\n", &hva), -1);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: guestmem_test DATA_DIR\n");
		return 2;
	}
	test_capture(argv[1], "mtree_f_7.2.txt");
	test_capture(argv[1], "mtree_f_10.0.txt");
	test_synth();
	return check_done("guestmem_test");
}
