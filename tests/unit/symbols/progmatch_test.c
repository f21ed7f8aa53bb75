/* progmatch: which program runs in an address space, judged from guest
 * pages that are built here from the programs' own ELF files.
 *
 *   progmatch_test SYSROOT ALPHA BETA PIE
 *
 * alpha and beta are the test guest's programs: linked at the same address
 * with the same library code alone on their first text page, so a pc there
 * fits both.  PIE is position independent and mapped at a bias. */
#include <fcntl.h>
#include <limits.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest.h"
#include "progmatch.h"

static int fails;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: CHECK(%s) failed\n", \
	__FILE__, __LINE__, #c); fails++; } } while (0)

/* A guest address space: the program's PT_LOAD segments at vaddr + bias,
 * page-granular, nothing else mapped. */
struct image {
	uint64_t lo, hi;         /* page-aligned */
	uint8_t *mem;
	uint8_t *mapped;         /* one flag per page */
	uint64_t entry;          /* e_entry + bias */
	uint64_t text_lo;        /* lowest executable vaddr + bias */
};

static int image_load(struct image *im, const char *path, uint64_t bias)
{
	memset(im, 0, sizeof *im);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	Elf *e = elf_begin(fd, ELF_C_READ, NULL);
	GElf_Ehdr eh;
	size_t n;
	if (!e || !gelf_getehdr(e, &eh) || elf_getphdrnum(e, &n) < 0)
		return -1;
	im->lo = ~0ull;
	im->text_lo = ~0ull;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		uint64_t a = (ph.p_vaddr + bias) & ~4095ull;
		uint64_t b = (ph.p_vaddr + bias + ph.p_memsz + 4095) & ~4095ull;
		if (a < im->lo)
			im->lo = a;
		if (b > im->hi)
			im->hi = b;
		if ((ph.p_flags & PF_X) && ph.p_vaddr + bias < im->text_lo)
			im->text_lo = ph.p_vaddr + bias;
	}
	im->mem = calloc(1, im->hi - im->lo);
	im->mapped = calloc(1, (im->hi - im->lo) / 4096);
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		uint64_t a = ph.p_vaddr + bias;
		if (pread(fd, im->mem + (a - im->lo), ph.p_filesz, (off_t)ph.p_offset) !=
		    (ssize_t)ph.p_filesz)
			return -1;
		for (uint64_t p = a & ~4095ull; p < a + ph.p_memsz; p += 4096)
			im->mapped[(p - im->lo) / 4096] = 1;
	}
	im->entry = eh.e_entry + bias;
	elf_end(e);
	close(fd);
	return 0;
}

static long image_read(void *ctx, uint64_t addr, void *buf, uint32_t len)
{
	const struct image *im = ctx;
	long got = 0;
	while (got < len) {
		uint64_t a = addr + (uint64_t)got;
		if (a < im->lo || a >= im->hi || !im->mapped[(a - im->lo) / 4096])
			break;
		uint64_t room = 4096 - (a & 4095);
		if (room > len - (uint64_t)got)
			room = len - (uint64_t)got;
		memcpy((uint8_t *)buf + got, im->mem + (a - im->lo), room);
		got += (long)room;
	}
	return got;
}

/* a mapped page of nops, anywhere */
static long nop_read(void *ctx, uint64_t addr, void *buf, uint32_t len)
{
	memset(buf, 0x90, len);
	return len;
}

static const char *match_name(const struct progmatch *pm, struct image *im,
			      uint64_t pc, int64_t *bias, int *ncand)
{
	int matched, compared;
	int i = progmatch_match(pm, pc, image_read, im, bias, &matched,
				&compared, ncand);
	if (i < 0)
		return NULL;
	CHECK(compared > 0 && matched == compared);
	return progmatch_prog_name(pm, i);
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: %s SYSROOT ALPHA BETA PIE\n", argv[0]);
		return 2;
	}
	elf_version(EV_CURRENT);
	/* the sysroot: links to the three programs */
	char dir[] = "/tmp/qtop-pmtest-XXXXXX";
	if (!mkdtemp(dir))
		return 2;
	const char *names[3] = { "alpha", "beta", "pie" };
	char link[3][256];
	for (int i = 0; i < 3; i++) {
		snprintf(link[i], sizeof link[i], "%s/%s", dir, names[i]);
		char *target = realpath(argv[2 + i], NULL);
		if (!target || symlink(target, link[i]) < 0)
			return 2;
		free(target);
	}
	char gerr[256];
	struct guest *g = guest_open_sysroot(dir, NULL, gerr, sizeof gerr);
	CHECK(g && guest_nprogs(g) == 3);
	struct progmatch *pm = progmatch_new(g);
	CHECK(pm && progmatch_nprogs(pm) == 3);

	struct image a, b, p, x;
	const uint64_t pie_bias = 0x555555554000ull;
	CHECK(image_load(&a, argv[2], 0) == 0);
	CHECK(image_load(&b, argv[3], 0) == 0);
	CHECK(image_load(&p, argv[4], pie_bias) == 0);
	int64_t bias = -1;
	int ncand = 0;
	const char *m;

	/* a pc on the shared first text page fits both: the pages that tell
	 * them apart decide */
	CHECK(memcmp(a.mem + (a.text_lo - a.lo), b.mem + (b.text_lo - b.lo), 256) == 0);
	m = match_name(pm, &a, a.text_lo + 16, &bias, &ncand);
	CHECK(m && !strcmp(m, "alpha") && bias == 0 && ncand >= 2);
	m = match_name(pm, &b, b.text_lo + 16, &bias, &ncand);
	CHECK(m && !strcmp(m, "beta") && bias == 0 && ncand >= 2);
	/* from each program's own code too */
	m = match_name(pm, &b, b.entry, &bias, &ncand);
	CHECK(m && !strcmp(m, "beta"));
	/* position independent, at a bias: found from the page contents */
	m = match_name(pm, &p, p.entry, &bias, &ncand);
	CHECK(m && !strcmp(m, "pie") && (uint64_t)bias == pie_bias);
	/* alpha with one byte of its own code changed (another build): not
	 * alpha, and not beta either */
	CHECK(image_load(&x, argv[2], 0) == 0);
	x.mem[x.entry - x.lo] ^= 0xff;
	m = match_name(pm, &x, x.text_lo + 16, &bias, &ncand);
	CHECK(!m || (strcmp(m, "alpha") && strcmp(m, "beta")));
	/* nothing mapped at the pc */
	m = match_name(pm, &a, 0x7f0000000000ull, &bias, &ncand);
	CHECK(m == NULL);
	/* a pc no program covers (Linux i386: the vDSO's landing pad)
	 * decides nothing, counts no attempt, and is tried again at once,
	 * 16 times (NOWHERE_FAST); then a pc in alpha's code decides */
	const uint64_t now = 1000000000ull, as = 0x1000;
	int quick = 0;
	while (quick < 100 && progmatch_wants(pm, as, now)) {
		CHECK(progmatch_probe(pm, as, 0xb7f00559, now, nop_read, NULL) == 0);
		quick++;
	}
	CHECK(quick == 16);
	CHECK(progmatch_wants(pm, as, now + 200000000ull));
	CHECK(progmatch_probe(pm, as, a.entry, now + 200000000ull, image_read, &a) == 1);
	int idx = -1;
	CHECK(progmatch_lookup_index(pm, as, &idx, &bias) == 1 &&
	      !strcmp(progmatch_prog_name(pm, idx), "alpha"));

	progmatch_free(pm);
	guest_close(g);
	struct image *ims[] = { &a, &b, &p, &x };
	for (int i = 0; i < 4; i++) {
		free(ims[i]->mem);
		free(ims[i]->mapped);
	}
	for (int i = 0; i < 3; i++)
		unlink(link[i]);
	rmdir(dir);
	if (fails)
		fprintf(stderr, "%d checks failed\n", fails);
	return fails ? 1 : 0;
}
