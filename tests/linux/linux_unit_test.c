/* linux_unit_test.c - kaslr, orc and btf on synthetic data (no QEMU, no
 * download), and on a real vmlinux when given one.
 *
 *   linux_unit_test                       synthetic tests
 *   linux_unit_test elf OK.o HDR.o BAD.o  orc_from_elf layout checks
 *   linux_unit_test real VMLINUX SYSMAP   the Debian kernel's tables
 *   linux_unit_test commbtf [DIR]         --comm compiled over the cached
 *                                         Debian vmlinux's BTF (no DWARF);
 *                                         77 when it is not cached
 */
#include "btf.h"
#include "commprog.h"
#include "kaslr.h"
#include "linux_guest.h"
#include "orc.h"
#include "symtab.h"
#include "unwind.h"

#include <bpf/btf.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fails;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: FAIL %s\n", \
	__FILE__, __LINE__, #c); fails++; } } while (0)

static void put16(uint8_t *p, uint16_t v) { p[0] = v; p[1] = v >> 8; }
static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = v >> 8 * i; }
static void put64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = v >> 8 * i; }

/* ---- kaslr ---- */

static void gate(uint8_t *idt, int vec, uint64_t off)
{
	uint8_t *g = idt + 16 * vec;
	memset(g, 0, 16);
	put16(g, off & 0xffff);
	put16(g + 2, 0x10);
	g[5] = 0x8e;
	put16(g + 6, (off >> 16) & 0xffff);
	put32(g + 8, off >> 32);
}

struct fakemem {
	uint64_t addr;
	const uint8_t *buf;
	size_t len;
	int reads;
};

static int fake_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct fakemem *m = ctx;
	m->reads++;
	if (addr < m->addr || addr - m->addr + len > m->len)
		return -1;
	memcpy(buf, m->buf + (addr - m->addr), len);
	return 0;
}

static void test_kaslr(void)
{
	const char *regs = "RIP=ffffffff8100 RFL=00000246\n"
		"GDT=     fffffe0000001000 0000007f\n"
		"IDT=     fffffe0000000000 00000fff\n";
	uint64_t base = 0;
	uint32_t lim = 0;
	CHECK(kaslr_parse_idt(regs, strlen(regs), &base, &lim) == 0);
	CHECK(base == 0xfffffe0000000000ull && lim == 0xfff);
	CHECK(kaslr_parse_idt("GDT= 1 2", 8, &base, &lim) < 0);
	CHECK(kaslr_parse_idt("IDT=", 4, &base, &lim) < 0);

	const char *map =
		"ffffffff81000000 T _text\n"
		"ffffffff81c00990 T asm_exc_divide_error\n"
		"ffffffff81c00ba0 T asm_exc_int3\n"
		"ffffffff81c00be0 T asm_exc_page_fault\n"
		"ffffffff81c00c40 T asm_exc_general_protection\n"
		"ffffffff8211fa00 D linux_banner\n";
	char err[256];
	struct symtab *t = symtab_from_nm_text(map, strlen(map), 0, SYMTAB_ALL,
					       err, sizeof err);
	CHECK(t != NULL);
	struct kaslr_vec v[32];
	int nv = kaslr_linux_vectors(t, v, 32);
	CHECK(nv == 4);

	uint64_t slide = 0x34200000;
	static uint8_t idt[4096];
	memset(idt, 0, sizeof idt);
	for (int i = 0; i < nv; i++)
		gate(idt, v[i].vector, v[i].addr + slide);
	static const uint8_t banner[] = "Linux version 6.1.0-50-cloud-amd64 (x)";
	struct fakemem mem = { 0xffffffff8211fa00ull + slide, banner,
			       sizeof banner, 0 };
	struct kaslr_input in = { .idt = idt, .idt_len = sizeof idt,
		.vecs = v, .nvecs = nv, .confirm_addr = 0xffffffff8211fa00ull,
		.confirm_bytes = banner, .confirm_len = sizeof banner,
		.read = fake_read, .ctx = &mem };
	struct kaslr_result r;
	CHECK(kaslr_detect(&in, &r, err, sizeof err) == 0);
	CHECK(r.slide == (int64_t)slide && r.votes == 4 && r.decoded == 4 &&
	      r.confirmed == 1);

	/* wrong kernel bytes at the slid address: reported, not returned */
	static const uint8_t other[] = "Linux version 6.1.0-49-cloud-amd64 (x)";
	in.confirm_bytes = other;
	memset(&r, 0, sizeof r);
	CHECK(kaslr_detect(&in, &r, err, sizeof err) == -4);
	CHECK(strstr(err, "wrong") != NULL);
	CHECK(r.slide == 0);
	in.confirm_bytes = banner;

	/* the confirmation object unreadable at the slid address */
	mem.addr += 0x200000;
	CHECK(kaslr_detect(&in, &r, err, sizeof err) == -3);
	mem.addr -= 0x200000;

	/* one odd gate (a debugger's) does not decide */
	gate(idt, 3, 0xffffffffc0001234ull);
	CHECK(kaslr_detect(&in, &r, err, sizeof err) == 0 && r.votes == 3 &&
	      r.slide == (int64_t)slide);
	/* symbols of another build: gates disagree */
	gate(idt, 14, v[2].addr + slide + 0x40);
	CHECK(kaslr_detect(&in, &r, err, sizeof err) == -1);
	CHECK(strstr(err, "disagree") != NULL);
	/* all gates agree on a slide that is not 2 MiB aligned */
	for (int i = 0; i < nv; i++)
		gate(idt, v[i].vector, v[i].addr + slide + 0x1000);
	CHECK(kaslr_detect(&in, &r, err, sizeof err) == -2);
	/* no gate present */
	memset(idt, 0, sizeof idt);
	CHECK(kaslr_detect(&in, &r, err, sizeof err) == -1);
	/* nokaslr: slide 0 */
	for (int i = 0; i < nv; i++)
		gate(idt, v[i].vector, v[i].addr);
	mem.addr = 0xffffffff8211fa00ull;
	CHECK(kaslr_detect(&in, &r, err, sizeof err) == 0 && r.slide == 0 &&
	      r.confirmed);
	/* a gate outside the bytes, or a truncated IDT */
	uint64_t off;
	CHECK(kaslr_idt_gate(idt, 16 * 14, 14, &off) < 0);
	CHECK(kaslr_idt_gate(idt, 16 * 15, 14, &off) == 0);
	symtab_free(t);
}

/* i386 (Debian's 686-pae): 8-byte gates, entry_INT80_32, a task gate for
 * the double fault that must not vote. */
static void gate32(uint8_t *idt, int vec, uint32_t off, uint8_t type)
{
	uint8_t *g = idt + vec * 8;
	put16(g, (uint16_t)off);
	put16(g + 2, 0x60);              /* __KERNEL_CS */
	g[4] = 0;
	g[5] = (uint8_t)(0x80 | type);
	put16(g + 6, (uint16_t)(off >> 16));
}

static void test_kaslr_i386(void)
{
	const char *map =
		"c1000000 T _text\n"
		"c1931cc0 T asm_exc_divide_error\n"
		"c1931d70 T asm_exc_general_protection\n"
		"c1931db0 T asm_exc_page_fault\n"
		"c193229c T entry_INT80_32\n"
		"c1932638 T asm_exc_double_fault\n"
		"c1a2c180 D linux_banner\n";
	char err[256];
	struct symtab *t = symtab_from_nm_text(map, strlen(map), 0, SYMTAB_ALL,
					       err, sizeof err);
	CHECK(t != NULL);
	struct kaslr_vec v[32];
	int nv = kaslr_linux_vectors(t, v, 32);
	CHECK(nv == 5);
	uint32_t slide = 0x0c000000;
	static uint8_t idt[2048];
	memset(idt, 0, sizeof idt);
	for (int i = 0; i < nv; i++)
		gate32(idt, v[i].vector, (uint32_t)v[i].addr + slide,
		       v[i].vector == 8 ? 0x5 : v[i].vector == 0x80 ? 0xf : 0xe);
	static const uint8_t banner[] = "Linux version 6.1.0-50-686-pae (x)";
	struct fakemem mem = { 0xc1a2c180ull + slide, banner, sizeof banner, 0 };
	struct kaslr_input in = { .idt = idt, .idt_len = sizeof idt,
		.vecs = v, .nvecs = nv, .confirm_addr = 0xc1a2c180ull,
		.confirm_bytes = banner, .confirm_len = sizeof banner,
		.read = fake_read, .ctx = &mem, .gate_size = 8 };
	struct kaslr_result r;
	CHECK(kaslr_detect(&in, &r, err, sizeof err) == 0);
	CHECK(r.slide == (int64_t)slide && r.decoded == 4 && r.votes == 4 && r.confirmed);
	uint64_t off;
	CHECK(kaslr_idt_gate32(idt, sizeof idt, 8, &off) < 0);       /* task gate */
	CHECK(kaslr_idt_gate32(idt, sizeof idt, 14, &off) == 0 && off == 0xc1931db0ull + slide);
	CHECK(kaslr_idt_gate32(idt, 8 * 14, 14, &off) < 0);
	/* a slide off by a page: gates agree, alignment refuses it */
	for (int i = 0; i < nv; i++)
		gate32(idt, v[i].vector, (uint32_t)v[i].addr + slide + 0x1000,
		       v[i].vector == 8 ? 0x5 : v[i].vector == 0x80 ? 0xf : 0xe);
	CHECK(kaslr_detect(&in, &r, err, sizeof err) == -2);
	symtab_free(t);
}

/* ---- orc ---- */

struct ent { uint64_t ip; int16_t sp_off, bp_off; int sp_reg, bp_reg, type, end; };

static struct orc_table *mk_table(const struct ent *e, size_t n,
				  uint64_t ip_addr)
{
	uint8_t *ipb = calloc(n, 4), *eb = calloc(n, 6);
	for (size_t i = 0; i < n; i++) {
		put32(ipb + 4 * i, (uint32_t)(int32_t)(e[i].ip - (ip_addr + 4 * i)));
		put16(eb + 6 * i, (uint16_t)e[i].sp_off);
		put16(eb + 6 * i + 2, (uint16_t)e[i].bp_off);
		put16(eb + 6 * i + 4, (uint16_t)(e[i].sp_reg | e[i].bp_reg << 4 |
					     e[i].type << 8 | e[i].end << 10));
	}
	char err[256];
	struct orc_table *t = orc_from_bytes(ipb, ip_addr, eb, n, err, sizeof err);
	free(ipb);
	free(eb);
	return t;
}

#define K 0xffffffff81000000ull
/* leaf: after push %rbx: CFA = sp+16; mid: frame pointer; entry stub:
 * EMPTY hint at its start, then REGS once pt_regs is pushed; thunk EMPTY */
static const struct ent tab[] = {
	{ K + 0x000, 8, 0, ORC_REG_SP, ORC_REG_UNDEFINED, ORC_TYPE_CALL, 0 },   /* leaf entry */
	{ K + 0x001, 16, 0, ORC_REG_SP, ORC_REG_UNDEFINED, ORC_TYPE_CALL, 0 },  /* leaf body */
	{ K + 0x100, 8, 0, ORC_REG_SP, ORC_REG_UNDEFINED, ORC_TYPE_CALL, 0 },   /* mid entry */
	{ K + 0x101, 16, -16, ORC_REG_SP, ORC_REG_PREV_SP, ORC_TYPE_CALL, 0 },  /* push rbp */
	{ K + 0x104, 16, -16, ORC_REG_BP, ORC_REG_PREV_SP, ORC_TYPE_CALL, 0 },  /* mov rsp,rbp */
	{ K + 0x200, 0, 0, ORC_REG_UNDEFINED, ORC_REG_UNDEFINED, ORC_TYPE_CALL, 1 }, /* entry: EMPTY */
	{ K + 0x240, 0, 0, ORC_REG_SP, ORC_REG_UNDEFINED, ORC_TYPE_REGS, 0 },   /* pt_regs at sp */
	{ K + 0x300, 0, 0, ORC_REG_SP, ORC_REG_UNDEFINED, ORC_TYPE_REGS_PARTIAL, 0 }, /* irq entry */
	{ K + 0x340, 8, 0, ORC_REG_SP_INDIRECT, ORC_REG_UNDEFINED, ORC_TYPE_CALL, 0 }, /* on irq stack */
	{ K + 0x400, 0, 0, ORC_REG_UNDEFINED, ORC_REG_UNDEFINED, ORC_TYPE_CALL, 0 }, /* terminator */
};

enum { PT_BP = 4, PT_IP = 16, PT_CS = 17, PT_SP = 19 };

static void test_orc(void)
{
	int64_t slide = 0x34200000;
	uint64_t S = (uint64_t)slide;
	/* the ip table lives elsewhere: relative ips are to their own slot */
	struct orc_table *t = mk_table(tab, sizeof tab / sizeof tab[0],
				       K + 0x1c5d44c);
	CHECK(t && orc_count(t) == 10);
	struct orc_entry e;
	CHECK(orc_lookup(t, K - 1, &e) < 0);
	CHECK(orc_lookup(t, K + 0x105, &e) == 0 && e.sp_reg == ORC_REG_BP);
	CHECK(orc_lookup(t, K + 0x100, &e) == 0 && e.sp_offset == 8);
	CHECK(orc_lookup(t, K + 0x250, &e) == 0 && e.type == ORC_TYPE_REGS);
	/* a running read at the leaf's entry with rsp already past its push:
	 * +8 puts it back; at mid's entry, the push then the switch to rbp
	 * (a frame-pointer frame ends the list) */
	int64_t d[8];
	CHECK(orc_sp_deltas(t, K + 0x000, 64, d, 8) == 1 && d[0] == 8);
	CHECK(orc_sp_deltas(t, K + 0x100, 64, d, 8) == 1 && d[0] == 8);
	CHECK(orc_sp_deltas(t, K + 0x001, 64, d, 8) == 0);   /* nothing ahead */
	CHECK(orc_sp_deltas(t, K + 0x104, 64, d, 8) == 0);   /* rbp based */
	CHECK(orc_sp_deltas(t, K + 0x000, 64, d, 0) == 0);

	/* stack: sp0 -> [rbx][ret mid] ; mid frame [rbp][ret entry] ; pt_regs */
	uint8_t st[1024];
	memset(st, 0, sizeof st);
	uint64_t sp0 = 0xffffc90000013e00ull, bp_mid = sp0 + 0x30;
	put64(st + 0x00, 0x1111);                 /* saved rbx */
	put64(st + 0x08, K + 0x110 + S);          /* ret into mid */
	/* mid: rbp = bp_mid, [bp_mid] = caller's bp, [bp_mid+8] = ret */
	put64(st + 0x30, 0x7ffd00001000ull);      /* saved (user) rbp */
	put64(st + 0x38, K + 0x250 + S);          /* ret into entry after pt_regs */
	uint64_t regs = sp0 + 0x40;
	put64(st + 0x40 + 8 * PT_BP, 0x7ffd00002000ull);
	put64(st + 0x40 + 8 * PT_IP, 0x401234);
	put64(st + 0x40 + 8 * PT_CS, 0x33);
	put64(st + 0x40 + 8 * PT_SP, 0x7ffd00000f00ull);
	struct orc_mem mem = { sp0, st, sizeof st };
	struct orc_state s0 = { .ip = K + 0x010 + S, .sp = sp0, .bp = bp_mid };
	struct orc_frame fr[16];
	struct orc_result r;
	orc_unwind(t, slide, &s0, orc_mem_read, &mem, fr, 16, &r);
	CHECK(r.end == ORC_END_USER);
	CHECK(r.n == 3);
	CHECK(fr[0].ip == K + 0x010 + S && fr[0].signal);
	CHECK(fr[1].ip == K + 0x110 + S && !fr[1].signal && fr[1].sp == sp0 + 16);
	CHECK(fr[2].ip == K + 0x250 + S && fr[2].sp == sp0 + 0x40);
	CHECK(r.user_ip == 0x401234 && r.user_sp == 0x7ffd00000f00ull &&
	      r.user_bp == 0x7ffd00002000ull && r.regs_addr == regs);

	/* depth cap */
	orc_unwind(t, slide, &s0, orc_mem_read, &mem, fr, 2, &r);
	CHECK(r.end == ORC_END_DEPTH && r.n == 2);

	/* a stack copy too short: truncated, the refused word reported */
	struct orc_mem shortm = { sp0, st, 0x38 };
	orc_unwind(t, slide, &s0, orc_mem_read, &shortm, fr, 16, &r);
	CHECK(r.end == ORC_END_READ && r.n == 2 && r.fail_addr == sp0 + 0x38);

	/* a kernel thread's top: EMPTY hint with end */
	struct orc_state sk = { .ip = K + 0x200 + S, .sp = sp0 };
	orc_unwind(t, slide, &sk, orc_mem_read, &mem, fr, 16, &r);
	CHECK(r.end == ORC_END_KTHREAD && r.n == 1);
	/* a gap terminator (no end bit) is an error */
	sk.ip = K + 0x400 + S;
	orc_unwind(t, slide, &sk, orc_mem_read, &mem, fr, 16, &r);
	CHECK(r.end == ORC_END_BAD);
	/* an ip outside kernel space */
	sk.ip = 0x401000;
	orc_unwind(t, slide, &sk, orc_mem_read, &mem, fr, 16, &r);
	CHECK(r.end == ORC_END_NOTABLE && r.n == 1);

	/* loop on bad data: a return address pointing back into a frame
	 * whose CFA does not move up */
	uint8_t lp[64];
	memset(lp, 0, sizeof lp);
	put64(lp + 8, K + 0x110 + S);
	struct orc_mem lm = { sp0, lp, sizeof lp };
	struct orc_state sl = { .ip = K + 0x010 + S, .sp = sp0, .bp = sp0 - 64 };
	orc_unwind(t, slide, &sl, orc_mem_read, &lm, fr, 16, &r);
	CHECK(r.end == ORC_END_BAD || r.end == ORC_END_READ);
	CHECK(r.n <= 3);

	/* interrupt from kernel mode: REGS_PARTIAL (iret frame at sp) whose
	 * interrupted ip is in mid; registers after it are not known except
	 * ip/sp, so mid's frame is found through its bp-based entry... use
	 * the irq entry at +0x300 with the iret frame at sp */
	uint8_t ir[512];
	memset(ir, 0, sizeof ir);
	uint64_t isp = 0xffffc90000020000ull;
	put64(ir + 0x00, K + 0x005 + S);          /* iret ip: leaf body */
	put64(ir + 0x08, 0x10);                   /* cs: kernel */
	put64(ir + 0x18, isp + 0x100);            /* interrupted sp */
	put64(ir + 0x100, 0);                     /* leaf: saved rbx */
	put64(ir + 0x108, K + 0x210 + S);         /* ret into entry (EMPTY) */
	struct orc_mem im = { isp, ir, sizeof ir };
	struct orc_state si = { .ip = K + 0x300 + S, .sp = isp };
	orc_unwind(t, slide, &si, orc_mem_read, &im, fr, 16, &r);
	CHECK(r.n == 3);
	CHECK(fr[1].ip == K + 0x005 + S && fr[1].signal == 1);
	CHECK(fr[2].ip == K + 0x210 + S);
	CHECK(r.end == ORC_END_KTHREAD);

	/* IRQ stack -> task stack through SP_INDIRECT, two memory copies */
	uint8_t irq[64], task[64];
	memset(irq, 0, sizeof irq);
	memset(task, 0, sizeof task);
	uint64_t irq_sp = 0xffffc90000000fc0ull, task_sp = 0xffffc90000013f00ull;
	put64(irq, task_sp);                      /* saved task-stack sp */
	put64(task + 0x00, K + 0x200 + S);        /* [task_sp+8-8] = ret */
	struct orc_mem two[2] = { { irq_sp, irq, sizeof irq },
				  { task_sp, task, sizeof task } };
	struct orc_state sx = { .ip = K + 0x340 + S, .sp = irq_sp };
	orc_unwind(t, slide, &sx, orc_mem_read, &two[0], fr, 16, &r);
	CHECK(r.end == ORC_END_READ && r.fail_addr == task_sp);
	(void)two[1];
	orc_free(t);

	/* unsorted input is sorted; duplicates keep the rightmost */
	struct ent un[] = {
		{ K + 0x200, 8, 0, ORC_REG_SP, 0, 0, 0 },
		{ K + 0x100, 16, 0, ORC_REG_SP, 0, 0, 0 },
		{ K + 0x100, 24, 0, ORC_REG_SP, 0, 0, 0 },
	};
	t = mk_table(un, 3, K + 0x10000);
	CHECK(orc_lookup(t, K + 0x150, &e) == 0 && e.sp_offset == 24);
	CHECK(orc_lookup(t, K + 0x250, &e) == 0 && e.sp_offset == 8);
	orc_free(t);
	char err[128];
	CHECK(orc_from_bytes(NULL, 0, NULL, 0, err, sizeof err) == NULL);
}

/* The IRQ-stack walk again with an accessor over both copies. */
struct two { struct orc_mem m[2]; };
static int two_read(void *ctx, uint64_t addr, uint64_t *v)
{
	struct two *t = ctx;
	return orc_mem_read(&t->m[0], addr, v) == 0 ? 0 :
	       orc_mem_read(&t->m[1], addr, v);
}

static void test_orc_two_copies(void)
{
	int64_t slide = 0;
	struct orc_table *t = mk_table(tab, sizeof tab / sizeof tab[0],
				       K + 0x1c5d44c);
	uint8_t irq[64], task[64];
	memset(irq, 0, sizeof irq);
	memset(task, 0, sizeof task);
	uint64_t irq_sp = 0xffffc90000000fc0ull, task_sp = 0xffffc90000013f00ull;
	put64(irq, task_sp - 8);                  /* CFA = [sp] + 8 */
	put64(task + 0x00, K + 0x210);            /* ret at CFA - 8 */
	struct two tw = { { { irq_sp, irq, sizeof irq },
			    { task_sp - 8, task, sizeof task } } };
	struct orc_state sx = { .ip = K + 0x340, .sp = irq_sp };
	struct orc_frame fr[8];
	struct orc_result r;
	orc_unwind(t, slide, &sx, two_read, &tw, fr, 8, &r);
	CHECK(r.n == 2 && fr[1].ip == K + 0x210 && fr[1].sp == task_sp);
	CHECK(r.end == ORC_END_KTHREAD);
	orc_free(t);
}

/* ---- btf ---- */

struct bb { uint8_t t[1024]; size_t tl; char s[512]; size_t sl; };

static uint32_t str(struct bb *b, const char *s)
{
	uint32_t off = (uint32_t)b->sl;
	strcpy(b->s + b->sl, s);
	b->sl += strlen(s) + 1;
	return off;
}

static void ty(struct bb *b, uint32_t name, int kind, int vlen, int kflag,
	       uint32_t size_type)
{
	put32(b->t + b->tl, name);
	put32(b->t + b->tl + 4, (uint32_t)vlen | (uint32_t)kind << 24 |
				(uint32_t)kflag << 31);
	put32(b->t + b->tl + 8, size_type);
	b->tl += 12;
}

static void u32s(struct bb *b, uint32_t a, uint32_t c, uint32_t d, int n)
{
	uint32_t v[3] = { a, c, d };
	for (int i = 0; i < n; i++) {
		put32(b->t + b->tl, v[i]);
		b->tl += 4;
	}
}

static size_t mk_btf(uint8_t *out, int pcpu_hot)
{
	struct bb b = { .sl = 1 };
	b.s[0] = 0;
	/* 1 int, 2 char, 3 char[16], 4 ptr->void(0), 5 task_struct,
	 * 6 anon union, 7 typedef pid_t, 8 VAR current_task / pcpu_hot,
	 * 9 DATASEC, 10 fwd task_struct, 11 struct pcpu_hot */
	ty(&b, str(&b, "int"), 1, 0, 0, 4); u32s(&b, 32, 0, 0, 1);
	ty(&b, str(&b, "char"), 1, 0, 0, 1); u32s(&b, 8, 0, 0, 1);
	ty(&b, 0, 3, 0, 0, 0); u32s(&b, 2, 1, 16, 3);
	ty(&b, 0, 2, 0, 0, 0);
	/* task_struct: state @0 (int), bitfield @32 (1 bit), anon union @64
	 * { mm @0 }, pid @ 0x970, comm @ 0xba0 */
	ty(&b, str(&b, "task_struct"), 4, 5, 1, 0xc00);
	u32s(&b, str(&b, "state"), 1, 0, 3);
	u32s(&b, str(&b, "flag"), 1, 32 | 1u << 24, 3);
	u32s(&b, 0, 6, 64, 3);
	u32s(&b, str(&b, "pid"), 7, 0x970 * 8, 3);
	u32s(&b, str(&b, "comm"), 3, 0xba0 * 8, 3);
	ty(&b, 0, 5, 1, 0, 8); u32s(&b, str(&b, "mm"), 4, 0, 3);
	ty(&b, str(&b, "pid_t"), 8, 0, 0, 1);
	if (!pcpu_hot) {
		ty(&b, str(&b, "current_task"), 14, 0, 0, 4); u32s(&b, 1, 0, 0, 1);
	} else {
		ty(&b, str(&b, "pcpu_hot"), 14, 0, 0, 11); u32s(&b, 1, 0, 0, 1);
	}
	ty(&b, str(&b, ".data..percpu"), 15, 1, 0, 0x30000);
	u32s(&b, 8, 0x1fb80, 8, 3);
	ty(&b, str(&b, "task_struct"), 7, 0, 0, 0);
	ty(&b, str(&b, "pcpu_hot"), 4, 1, 0, 64);
	u32s(&b, str(&b, "current_task"), 4, 0, 3);
	uint8_t *h = out;
	memset(h, 0, 24);
	h[0] = 0x9f; h[1] = 0xeb; h[2] = 1;
	put32(h + 4, 24);
	put32(h + 8, 0);
	put32(h + 12, (uint32_t)b.tl);
	put32(h + 16, (uint32_t)b.tl);
	put32(h + 20, (uint32_t)b.sl);
	memcpy(out + 24, b.t, b.tl);
	memcpy(out + 24 + b.tl, b.s, b.sl);
	return 24 + b.tl + b.sl;
}

static void test_btf(void)
{
	static uint8_t buf[2048];
	size_t n = mk_btf(buf, 0);
	char err[256];
	struct btf *b = btf_from_bytes(buf, n, err, sizeof err);
	CHECK(b != NULL);
	if (!b) {
		fprintf(stderr, "btf: %s\n", err);
		return;
	}
	CHECK(btf_count(b) == 11);
	uint64_t off, size;
	CHECK(btf_member(b, "task_struct", "comm", &off, &size, err, sizeof err) == 0 &&
	      off == 0xba0 && size == 16);
	CHECK(btf_member(b, "task_struct", "pid", &off, &size, err, sizeof err) == 0 &&
	      off == 0x970 && size == 4);
	CHECK(btf_member(b, "task_struct", "mm", &off, &size, err, sizeof err) == 0 &&
	      off == 8 && size == 8);
	CHECK(btf_member(b, "task_struct", "flag", &off, &size, err, sizeof err) < 0 &&
	      strstr(err, "bitfield"));
	CHECK(btf_member(b, "task_struct", "nope", &off, &size, err, sizeof err) < 0);
	CHECK(btf_member(b, "mm_struct", "pgd", &off, &size, err, sizeof err) < 0);
	struct linux_task_layout l;
	CHECK(btf_linux_task_layout(b, &l, err, sizeof err) == 0);
	CHECK(l.comm_off == 0xba0 && l.comm_size == 16 && l.pid_off == 0x970 &&
	      l.mm_off == 8 && l.current_task_off == 0x1fb80);
	btf_free(b);

	n = mk_btf(buf, 1);    /* 6.2+: pcpu_hot.current_task */
	b = btf_from_bytes(buf, n, err, sizeof err);
	CHECK(b && btf_linux_task_layout(b, &l, err, sizeof err) == 0 &&
	      l.current_task_off == 0x1fb80);
	btf_free(b);

	/* every truncation and a few corruptions fail cleanly */
	for (size_t k = 0; k < n; k++) {
		b = btf_from_bytes(buf, k, err, sizeof err);
		if (b) {
			btf_linux_task_layout(b, &l, err, sizeof err);
			btf_free(b);
		}
	}
	uint8_t bad[2048];
	memcpy(bad, buf, n);
	bad[0] = 0;
	CHECK(btf_from_bytes(bad, n, err, sizeof err) == NULL);
	memcpy(bad, buf, n);
	put32(bad + 12, 0xfffffff0u);
	CHECK(btf_from_bytes(bad, n, err, sizeof err) == NULL);
	memcpy(bad, buf, n);
	bad[24 + 7] = 0x1f;    /* kind 31 */
	CHECK(btf_from_bytes(bad, n, err, sizeof err) == NULL);
}

/* ---- ELF layout checks ---- */

static int test_elf(const char *ok, const char *hdr, const char *bad)
{
	char err[512];
	struct orc_table *t = orc_from_elf(ok, err, sizeof err);
	CHECK(t != NULL && orc_count(t) == 3);
	struct orc_entry e;
	CHECK(t && orc_lookup(t, 0x1000, &e) == 0);
	orc_free(t);
	CHECK(orc_from_elf(hdr, err, sizeof err) == NULL);
	CHECK(strstr(err, "6.4") != NULL);
	fprintf(stderr, "refused: %s\n", err);
	CHECK(orc_from_elf(bad, err, sizeof err) == NULL);
	CHECK(strstr(err, "layout") != NULL);
	fprintf(stderr, "refused: %s\n", err);
	CHECK(orc_from_elf("/nonexistent", err, sizeof err) == NULL);
	return fails ? 1 : 0;
}

/* ---- the real Debian kernel ---- */

/* A sample inside a retpoline thunk (objtool's "empty" entry: the ORC walk
 * stops there) goes on from the caller's return address: at sp before the
 * thunk's own call, at sp + 8 after it (Debian 6.1 under TCG runs the
 * retpoline: "call .Ldo_rop" at 0, "mov reg,(sp)" at 0xc, "ret" at 0x10). */
static void test_thunk_walk(const char *vmlinux, const char *sysmap,
			    const struct symtab *s)
{
	char err[512];
	struct linux_kernel *k = linux_kernel_open(vmlinux, sysmap, err, sizeof err);
	const struct sym *th = symtab_find(s, "__x86_indirect_thunk_array");
	const struct sym *fn = symtab_find(s, "vfs_read");
	CHECK(k && th && fn);
	if (!k || !th || !fn) {
		linux_kernel_free(k);
		return;
	}
	const int64_t slide = 0x2e000000;
	const uint64_t S = (uint64_t)slide, sp = 0xffffc90000013e00ull;
	const uint64_t ra = fn->addr + 0x20 + S;
	const struct { unsigned off; uint64_t at_sp; int ra_slot; } cases[] = {
		{ 0x00, ra, 0 },                        /* entry */
		{ 0x0c, th->addr + 5 + S, 1 },          /* after its own call */
		{ 0x10, 0xffffffff81234560ull + S, 1 }, /* at ret: the target */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		union { struct qp_sample s; uint8_t b[sizeof(struct qp_sample) + 64]; } u;
		memset(&u, 0, sizeof u);
		struct qp_sample *smp = &u.s;
		smp->regs.long_mode = 1;
		smp->regs.ip = th->addr + cases[i].off + S;
		smp->regs.gpr[QP_RSP] = sp;
		smp->stack_addr = sp;
		smp->stack_len = 64;
		uint8_t *st = qp_sample_stack(smp);
		put64(st, cases[i].at_sp);
		put64(st + 8, cases[i].ra_slot ? ra : 0);
		struct uw_frame out[8];
		struct uw_result res;
		struct uw_state user;
		linux_kernel_walk_sample(k, slide, smp, out, 8, &res, &user);
		CHECK(res.n >= 2 && out[1].pc == ra && out[1].sp == sp + 8 * (cases[i].ra_slot + 1));
		if (!(res.n >= 2 && out[1].pc == ra))
			fprintf(stderr, "thunk+0x%x: %d frames\n", cases[i].off, res.n);
	}
	linux_kernel_free(k);
}

static int test_real(const char *vmlinux, const char *sysmap)
{
	char err[512];
	struct orc_table *t = orc_from_elf(vmlinux, err, sizeof err);
	if (!t) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	struct symtab *s = symtab_from_nm_flags(sysmap, 0, 0, err, sizeof err);
	if (!s) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	CHECK(orc_count(t) > 100000);
	struct orc_entry e;
	/* an ordinary C function at its first instruction: CFA = sp + 8 */
	const char *fns[] = { "vfs_read", "ksys_write", "pipe_write",
			      "do_syscall_64", "schedule" };
	for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
		const struct sym *f = symtab_find(s, fns[i]);
		CHECK(f != NULL);
		if (!f)
			continue;
		CHECK(orc_lookup(t, f->addr, &e) == 0);
		CHECK(e.type == ORC_TYPE_CALL && e.sp_reg == ORC_REG_SP &&
		      e.sp_offset == 8);
	}
	/* entry_SYSCALL_64: starts with an EMPTY hint, then pt_regs (REGS) */
	const struct sym *sc = symtab_find(s, "entry_SYSCALL_64");
	CHECK(sc != NULL);
	int saw_regs = 0;
	if (sc) {
		CHECK(orc_lookup(t, sc->addr, &e) == 0 &&
		      e.sp_reg == ORC_REG_UNDEFINED && e.end == 1);
		for (uint64_t a = sc->addr; a < sc->addr + 0x100; a++)
			if (orc_lookup(t, a, &e) == 0 && e.type == ORC_TYPE_REGS)
				saw_regs = 1;
	}
	CHECK(saw_regs);
	test_thunk_walk(vmlinux, sysmap, s);
	struct btf *b = btf_from_elf(vmlinux, err, sizeof err);
	CHECK(b != NULL);
	struct linux_task_layout l;
	CHECK(b && btf_linux_task_layout(b, &l, err, sizeof err) == 0);
	struct symtab *sa = symtab_from_nm_flags(sysmap, 0, SYMTAB_ALL, err,
						 sizeof err);
	const struct sym *ct = sa ? symtab_find(sa, "current_task") : NULL;
	CHECK(ct && b && ct->addr == l.current_task_off);
	CHECK(l.comm_size == 16);
	printf("real: %zu ORC entries; comm@%llu pid@%llu mm@%llu "
	       "current_task@0x%llx\n", orc_count(t),
	       (unsigned long long)l.comm_off, (unsigned long long)l.pid_off,
	       (unsigned long long)l.mm_off,
	       (unsigned long long)l.current_task_off);
	symtab_free(sa);
	btf_free(b);
	symtab_free(s);
	orc_free(t);
	return fails ? 1 : 0;
}

/* ---- --comm over BTF alone (the Debian cloud vmlinux has no DWARF) ---- */

#define CT_EXPR "(*(struct task_struct **)((char *)&current_task + $gs_base))"

struct ctmem { uint64_t slot, task; };

static long ct_read(void *ctx, uint64_t addr, void *buf, uint32_t len)
{
	const struct ctmem *m = ctx;
	if (addr == m->slot && len == 8) {
		memcpy(buf, &m->task, 8);
		return 8;
	}
	return -1;
}

/* The first DIR/PREFIX* (not a .gz or other derived file). */
static int find_in(const char *dir, const char *prefix, char *out, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int found = 0;
	if (!d)
		return 0;
	while (!found && (de = readdir(d)))
		if (!strncmp(de->d_name, prefix, strlen(prefix)) &&
		    !strchr(de->d_name + strlen(prefix), '/') &&
		    !strstr(de->d_name, ".gz")) {
			snprintf(out, len, "%s/%s", dir, de->d_name);
			found = 1;
		}
	closedir(d);
	return found;
}

static int test_comm_btf(const char *dir_arg)
{
	char dir[3072], vmlinux[4096], sysmap[4096], err[512];
	const char *env = getenv("QTOP_LINUX_CACHE"), *home = getenv("HOME");
	if (dir_arg)
		snprintf(dir, sizeof dir, "%s", dir_arg);
	else if (env)
		snprintf(dir, sizeof dir, "%s", env);
	else
		snprintf(dir, sizeof dir, "%s/.cache/qtop-prof/linux", home ? home : ".");
	if (!find_in(dir, "vmlinux-", vmlinux, sizeof vmlinux) ||
	    !find_in(dir, "System.map-", sysmap, sizeof sysmap)) {
		printf("SKIP: no cached Debian vmlinux / System.map in %s "
		       "(tests/linux/linux_fixture.py fetches them)\n", dir);
		return 77;
	}
	struct btf *b = btf_from_elf(vmlinux, err, sizeof err);
	struct linux_task_layout l;
	CHECK(b && btf_linux_task_layout(b, &l, err, sizeof err) == 0);
	if (fails) {
		fprintf(stderr, "%s\n", err);
		btf_free(b);
		return 1;
	}
	struct comm_files f = { .kernel = vmlinux, .symbols = sysmap };
	struct comm_recipe r;
	char prog[256];

	/* the explicit form of --comm linux: types from BTF alone */
	int rc = comm_resolve_files(CT_EXPR "->comm", &f, 0, 8, &r, err, sizeof err);
	CHECK(rc == 0);
	if (rc) {
		fprintf(stderr, "%s\n", err);
		btf_free(b);
		return 1;
	}
	comm_format(&r, prog, sizeof prog);
	printf("BTF: %s -> %s (len %d)\n", CT_EXPR "->comm", prog, r.len);
	CHECK(r.valid && r.len == l.comm_size);
	const uint64_t gs = 0xffff88803fc00000ull, task = 0xffff888004a1c000ull;
	struct ctmem m = { gs + l.current_task_off, task };
	struct qp_regs regs;
	memset(&regs, 0, sizeof regs);
	regs.gs_base = gs;
	uint64_t a = 0;
	CHECK(comm_eval(&r, 0, &regs, ct_read, &m, &a) == 0 &&
	      a == task + l.comm_off);
	printf("BTF layout: current_task@0x%llx comm@%llu; the expression read "
	       "[gs+0x%llx] and named task+%llu\n",
	       (unsigned long long)l.current_task_off,
	       (unsigned long long)l.comm_off,
	       (unsigned long long)(m.slot - gs), (unsigned long long)(a - task));

	/* a KASLR slide moves the kernel's symbols, not the per-CPU offsets */
	rc = comm_resolve_files(CT_EXPR "->comm", &f, 0x800000, 8, &r, err, sizeof err);
	a = 0;
	CHECK(rc == 0 && comm_eval(&r, 0, &regs, ct_read, &m, &a) == 0 &&
	      a == task + l.comm_off);

	/* current_task's own type comes from its BTF VAR (.data..percpu) */
	rc = comm_resolve_files("current_task->comm", &f, 0, 8, &r, err, sizeof err);
	CHECK(rc == 0 && r.fixed && r.addr == l.current_task_off &&
	      r.nderef == 1 && r.off[0] == (int64_t)l.comm_off);
	if (rc)
		fprintf(stderr, "%s\n", err);

	/* a wrong field: the type named, its fields listed */
	rc = comm_resolve_files(CT_EXPR "->comx", &f, 0, 8, &r, err, sizeof err);
	printf("->comx: %s\n", err);
	CHECK(rc < 0 && strstr(err, "struct task_struct has no field 'comx'") &&
	      strstr(err, "fields: ") && strstr(err, "stack"));

	/* a type that is not there */
	rc = comm_resolve_files("(*(struct no_such_struct **)&current_task)->comm",
				&f, 0, 8, &r, err, sizeof err);
	CHECK(rc < 0 && strstr(err, "no type 'struct no_such_struct' in the BTF"));

	/* a global without a BTF VAR entry: a cast is needed, and said */
	if (btf__find_by_name_kind(b, "init_task", BTF_KIND_VAR) <= 0) {
		rc = comm_resolve_files("init_task.comm", &f, 0, 8, &r, err, sizeof err);
		printf("init_task.comm: %s\n", err);
		CHECK(rc < 0 && strstr(err, "no type in the BTF") &&
		      strstr(err, "cast"));
		rc = comm_resolve_files("((struct task_struct *)&init_task)->comm",
					&f, 0, 8, &r, err, sizeof err);
		CHECK(rc == 0 && r.fixed && r.nderef == 0 && r.len == l.comm_size);
	}
	btf_free(b);
	return fails ? 1 : 0;
}

/* Writes the synthetic BTF blobs (fuzz/corpus/btf seeds). */
static int dump_btf(const char *dir)
{
	static uint8_t buf[2048];
	char path[4096];
	for (int v = 0; v < 2; v++) {
		size_t n = mk_btf(buf, v);
		snprintf(path, sizeof path, "%s/%s.btf", dir,
			 v ? "pcpu_hot" : "task_struct");
		FILE *f = fopen(path, "wb");
		if (!f || fwrite(buf, 1, n, f) != n)
			return 1;
		fclose(f);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "btfcorpus"))
		return dump_btf(argv[2]);
	if (argc == 5 && !strcmp(argv[1], "elf"))
		return test_elf(argv[2], argv[3], argv[4]);
	if ((argc == 2 || argc == 3) && !strcmp(argv[1], "commbtf"))
		return test_comm_btf(argc == 3 ? argv[2] : NULL);
	if (argc == 4 && !strcmp(argv[1], "real"))
		return test_real(argv[2], argv[3]);
	test_kaslr();
	test_kaslr_i386();
	test_orc();
	test_orc_two_copies();
	test_btf();
	if (fails)
		fprintf(stderr, "%d checks failed\n", fails);
	return fails ? 1 : 0;
}
