/* elfload.c - load a static ELF32 or ELF64 program image into a buffer that
 * backs a user address range.  Only PT_LOAD matters; no relocation. */
#include "qg.h"

#define PT_LOAD 1

static uintptr_t load_seg(const char *img, size_t len, char *dst,
			  uintptr_t base, size_t size, uint64_t off,
			  uint64_t vaddr, uint64_t filesz, uint64_t memsz)
{
	if (vaddr < base || vaddr + memsz > base + size || filesz > memsz ||
	    off + filesz > len)
		return 0;
	memcpy(dst + (vaddr - base), img + off, (size_t)filesz);
	memset(dst + (vaddr - base) + filesz, 0, (size_t)(memsz - filesz));
	return 1;
}

static uint16_t rd16(const char *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t rd32(const char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

uintptr_t elf_load(const void *image, size_t len, void *dst, uintptr_t base,
		   size_t size)
{
	const char *img = image;
	int is64;
	uint64_t entry, phoff;
	unsigned phnum, phentsize, i;

	if (len < 52 || img[0] != 0x7f || img[1] != 'E' || img[2] != 'L' ||
	    img[3] != 'F')
		return 0;
	is64 = img[4] == 2;
	if (is64) {
		entry = rd64(img + 24);
		phoff = rd64(img + 32);
		phentsize = rd16(img + 54);
		phnum = rd16(img + 56);
	} else {
		entry = rd32(img + 24);
		phoff = rd32(img + 28);
		phentsize = rd16(img + 42);
		phnum = rd16(img + 44);
	}
	for (i = 0; i < phnum; i++) {
		const char *ph = img + phoff + (uint64_t)i * phentsize;

		if (phoff + (uint64_t)(i + 1) * phentsize > len)
			return 0;
		if (rd32(ph) != PT_LOAD)
			continue;
		if (is64 ? !load_seg(img, len, dst, base, size, rd64(ph + 8),
				     rd64(ph + 16), rd64(ph + 32), rd64(ph + 40))
			 : !load_seg(img, len, dst, base, size, rd32(ph + 4),
				     rd32(ph + 8), rd32(ph + 16), rd32(ph + 20)))
			return 0;
	}
	return (uintptr_t)entry;
}
