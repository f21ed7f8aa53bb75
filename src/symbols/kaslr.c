/* kaslr.c - KASLR slide from the IDT, confirmed by a known object. */
#include "kaslr.h"
#include "elffile.h"
#include "errmsg.h"
#include "symtab.h"

#include <ctype.h>
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* A present 32-bit (i386: 8-byte gates) or 64-bit (16-byte) interrupt or
 * trap gate's offset; a task gate (i386 Linux's double fault) does not
 * count. */
static int idt_gate(const uint8_t *idt, size_t len, int vector, size_t size,
		    uint64_t *off)
{
	if (!idt || vector < 0 || vector > 255 ||
	    (size_t)vector * size + size > len)
		return -1;
	const uint8_t *g = idt + (size_t)vector * size;
	if (!(g[5] & 0x80))
		return -1;   /* not present */
	uint8_t type = g[5] & 0x0f;
	if (type != 0xe && type != 0xf)
		return -1;   /* not an interrupt/trap gate */
	*off = le(g, 2) | le(g + 6, 2) << 16 | (size == 16 ? le(g + 8, 4) << 32 : 0);
	return 0;
}

int kaslr_idt_gate(const uint8_t *idt, size_t len, int vector, uint64_t *off)
{
	return idt_gate(idt, len, vector, 16, off);
}

int kaslr_idt_gate32(const uint8_t *idt, size_t len, int vector, uint64_t *off)
{
	return idt_gate(idt, len, vector, 8, off);
}

int kaslr_parse_idt(const char *text, size_t len, uint64_t *base,
		    uint32_t *limit)
{
	static const char key[] = "IDT=";
	for (size_t i = 0; i + sizeof key - 1 <= len; i++) {
		if (memcmp(text + i, key, sizeof key - 1) != 0)
			continue;
		if (i > 0 && isalnum((unsigned char)text[i - 1]))
			continue;
		/* copy the rest of the line so strtoull cannot run off */
		char line[96];
		size_t j = i + sizeof key - 1, k = 0;
		while (j < len && text[j] != '\n' && k + 1 < sizeof line)
			line[k++] = text[j++];
		line[k] = 0;
		char *end;
		errno = 0;
		unsigned long long b = strtoull(line, &end, 16);
		if (end == line || errno)
			return -1;
		char *end2;
		unsigned long long l = strtoull(end, &end2, 16);
		if (end2 == end || l > 0xffffffffull)
			return -1;
		*base = b;
		if (limit)
			*limit = (uint32_t)l;
		return 0;
	}
	return -1;
}

/* Linux 6.x exception entries (arch/x86/include/asm/idtentry.h), the same
 * names on x86_64 and i386; int 0x80 differs. */
static const struct { int vector; const char *name; } linux_vecs[] = {
	{ 0, "asm_exc_divide_error" }, { 1, "asm_exc_debug" },
	{ 2, "asm_exc_nmi" }, { 3, "asm_exc_int3" },
	{ 4, "asm_exc_overflow" }, { 5, "asm_exc_bounds" },
	{ 6, "asm_exc_invalid_op" }, { 7, "asm_exc_device_not_available" },
	{ 8, "asm_exc_double_fault" }, { 10, "asm_exc_invalid_tss" },
	{ 11, "asm_exc_segment_not_present" }, { 12, "asm_exc_stack_segment" },
	{ 13, "asm_exc_general_protection" }, { 14, "asm_exc_page_fault" },
	{ 16, "asm_exc_coprocessor_error" }, { 17, "asm_exc_alignment_check" },
	{ 18, "asm_exc_machine_check" }, { 19, "asm_exc_simd_coprocessor_error" },
	{ 0x80, "entry_INT80_compat" },
	{ 0x80, "entry_INT80_32" },     /* i386 */
};

int kaslr_linux_vectors(const struct symtab *t, struct kaslr_vec *vecs,
			int max)
{
	int n = 0;
	for (size_t i = 0; t && i < sizeof linux_vecs / sizeof linux_vecs[0] &&
	     n < max; i++) {
		const struct sym *s = symtab_find(t, linux_vecs[i].name);
		if (!s)
			continue;
		vecs[n].vector = linux_vecs[i].vector;
		vecs[n].addr = s->addr;
		vecs[n].name = linux_vecs[i].name;
		n++;
	}
	return n;
}

int kaslr_detect(const struct kaslr_input *in, struct kaslr_result *res,
		 char *err, size_t errlen)
{
	int64_t cand[64];
	int cnt[64];
	int ncand = 0, decoded = 0;
	for (int i = 0; i < in->nvecs; i++) {
		uint64_t off;
		if (idt_gate(in->idt, in->idt_len, in->vecs[i].vector,
			     in->gate_size == 8 ? 8 : 16, &off) < 0)
			continue;
		decoded++;
		int64_t s = (int64_t)(off - in->vecs[i].addr);
		int k;
		for (k = 0; k < ncand; k++)
			if (cand[k] == s)
				break;
		if (k == ncand) {
			if (ncand == 64)
				continue;
			cand[ncand] = s;
			cnt[ncand++] = 0;
		}
		cnt[k]++;
	}
	if (!decoded) {
		seterr(err, errlen, "kaslr: no IDT gate could be decoded (%d "
		       "vectors asked, %zu IDT bytes)", in->nvecs, in->idt_len);
		return -1;
	}
	int best = 0;
	for (int k = 1; k < ncand; k++)
		if (cnt[k] > cnt[best])
			best = k;
	/* a strict majority: one odd gate (a debugger's, a hypervisor's)
	 * does not decide, a kernel that is not the one in System.map
	 * fails here */
	if (cnt[best] * 2 <= decoded) {
		seterr(err, errlen, "kaslr: IDT gates disagree (%d of %d agree "
		       "on 0x%llx): System.map not of this kernel?", cnt[best],
		       decoded, (unsigned long long)cand[best]);
		return -1;
	}
	int64_t slide = cand[best];
	uint64_t align = in->align ? in->align : 0x200000;
	if ((uint64_t)slide % align) {
		seterr(err, errlen, "kaslr: slide 0x%llx is not %llu-aligned: "
		       "wrong symbols?", (unsigned long long)slide,
		       (unsigned long long)align);
		return -2;
	}
	int confirmed = 0;
	if (in->read && in->confirm_bytes && in->confirm_len) {
		uint8_t buf[256];
		size_t n = in->confirm_len < sizeof buf ? in->confirm_len
							: sizeof buf;
		if (in->read(in->ctx, in->confirm_addr + (uint64_t)slide, buf,
			     n) < 0) {
			seterr(err, errlen, "kaslr: cannot read the confirmation "
			       "object at 0x%llx (slide 0x%llx)",
			       (unsigned long long)(in->confirm_addr + slide),
			       (unsigned long long)slide);
			return -3;
		}
		if (memcmp(buf, in->confirm_bytes, n) != 0) {
			seterr(err, errlen, "kaslr: slide 0x%llx is wrong: guest "
			       "bytes at 0x%llx differ from the vmlinux's "
			       "(another kernel build?)",
			       (unsigned long long)slide,
			       (unsigned long long)(in->confirm_addr + slide));
			return -4;
		}
		confirmed = 1;
	}
	res->slide = slide;
	res->votes = cnt[best];
	res->decoded = decoded;
	res->confirmed = confirmed;
	return 0;
}

int kaslr_elf_read(const char *path, uint64_t addr, void *buf, size_t len,
		   char *err, size_t errlen)
{
	int fd;
	Elf *e = elffile_open(path, &fd, err, errlen);
	if (!e)
		return -1;
	int rc = kaslr_elf_read_handle(e, path, addr, buf, len, err, errlen);
	elffile_close(e, fd);
	return rc;
}

int kaslr_elf_read_handle(Elf *e, const char *path, uint64_t addr, void *buf,
			  size_t len, char *err, size_t errlen)
{
	int rc = -1;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	seterr(err, errlen, "%s: 0x%llx+%zu is in no section with data", path,
	       (unsigned long long)addr, len);
	while ((scn = elf_nextscn(e, scn))) {
		if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_ALLOC) ||
		    sh.sh_type == SHT_NOBITS)
			continue;
		if (addr < sh.sh_addr || addr - sh.sh_addr > sh.sh_size ||
		    len > sh.sh_size - (addr - sh.sh_addr))
			continue;
		Elf_Data *d = elf_rawdata(scn, NULL);
		if (!d || d->d_size < sh.sh_size)
			break;
		memcpy(buf, (const uint8_t *)d->d_buf + (addr - sh.sh_addr),
		       len);
		rc = 0;
		break;
	}
	return rc;
}
