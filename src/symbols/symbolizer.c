/* symbolizer.c - raw sample -> named stack (process; user...; kernel...).
 *
 * Binaries (the kernel, sysroot programs) are loaded once; a program's
 * symbols and Dwfl are built on its first match.  Address spaces (CR3) are
 * matched to programs by the code bytes at the user pc and cached.  Per-pc
 * results (name, file:line, inline chain) are cached, so a repeated stack
 * costs the walk plus a few hash probes. */
#include "symbolizer.h"
#include "errmsg.h"
#include "elffile.h"
#include "guest.h"
#include "linux_guest.h"
#include "progmatch.h"
#include "frameless.h"
#include "chainroot.h"
#include "symtab.h"
#include "unwind.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PCCACHE_BITS 16
#define PCCACHE_SIZE (1u << PCCACHE_BITS)
#define MAX_PROGRAMS 4096
#define SP_AHEAD_WINDOW 96  /* bytes past a block-start rip whose rsp a running read may show */
#define RA_SCAN 512         /* how far from a running read's rsp a return address into rip's function is looked for */
#define STACK_VOTE_BYTES 512  /* user stack words looked at to tell programs with shared code apart */
#define TRAP_NEAR 1024      /* entry stub frame: at most this far below the trap frame */

struct range { uint64_t lo, hi; };
struct seg { uint64_t vaddr, filesz, off; };

struct bin {
	char *path;
	char *name;             /* module name: "kernel" or the file name */
	int cls;                /* ELFCLASS32 / ELFCLASS64, 0 unknown */
	int64_t bias;
	int loaded;             /* symbols/Dwfl attempted */
	struct symtab *syms;
	struct uw_dwfl *dw;
	Dwfl_Module *mod;
	int has_cfi;            /* .eh_frame or .debug_frame: walk with libdwfl */
	struct range *text;
	int ntext;
	const uint8_t *file;    /* mmap of the ELF, for code matching */
	size_t filelen;
	struct elffile *ef;     /* the file (file, filelen are its map) */
	int ef_borrowed;        /* the guest's file (kernel image, program):
				 * not ours to close */
	struct seg *segs;
	int nsegs;
	/* Linux: call sites that alternatives patch into another call at
	 * boot (sorted by site; bias applied) */
	struct alt_call { uint64_t site, target; } *alts;
	size_t nalts;
};

/* A process name: the comm bytes, and with --pid "/ID" after them (#15) */
#define PNAME_LEN (QP_COMM_BYTES + 24)

struct aspace {
	uint64_t cr3;
	int prog;               /* index in progs, -1 unknown */
	int has_comm;
	char comm[PNAME_LEN];
	/* The last name seen per vCPU too: an address space shared by several
	 * tasks (a kernel's) runs different ones on different vCPUs at once,
	 * so a name probed on one vCPU is a poor guess for another. */
	uint64_t cpu_has;                       /* bit per vCPU < 64 */
	char (*cpu_comm)[PNAME_LEN];    /* [64], allocated on first use */
	char (*cpu_pending)[PNAME_LEN]; /* [64]: a new name seen once */
	char asname[32];
	int pm_known;           /* #15: progmatch's decision applied */
	int pm_idx;             /* its sample.h prog (1 + index) */
};

struct arena_blk {
	struct arena_blk *next;
	size_t used, cap;
	char data[];
};

struct inl {                    /* one inline frame, root -> leaf order */
	const char *name;
	const char *src;
};

struct pcinfo {
	const struct bin *bin;
	uint64_t pc;
	uint8_t isact, used;
	uint16_t ninl;
	const char *name;
	const char *src;
	const struct inl *inl;
};

struct tctx {                   /* is_text / is_entry context */
	const struct bin *b;    /* NULL: unknown binary */
	int kernel;
	int ws;
	uint64_t leaf;          /* the sample pc */
};

/* Without the binary, a return address must at least lie near the sample
 * pc (same program image): that keeps stale stack words out. */
#define UNKNOWN_SPAN (256ull << 20)

struct symbolizer {
	char warnings[2048];     /* addline(): one line each */
	struct symbolizer_config cfg;
	struct linux_kernel *lk; /* a Linux vmlinux with ORC: kernel walks by ORC */
	int lk_borrowed;         /* lk is the guest's (cfg.guest) */
	struct bin kernel;
	int have_kernel;        /* symbols or ELF for the kernel */
	int kws;                /* kernel word size, 0 = from samples */
	struct bin *progs;
	int nprogs;
	struct progmatch *pm;   /* #15: address space -> program by pages */
	struct guest *own_guest; /* the sysroot's programs without cfg.guest */
	struct aspace *as;
	int nas, capas, lastas;
	struct pcinfo *cache;
	unsigned ncache;
	struct arena_blk *arena;
	/* per call */
	struct uw_frame *kf, *uf, *tmpf;   /* tmpf: a trial walk */
	int fmax;
	struct prof_frame *out;
	size_t outcap;
	char (*hex)[24];
	int nhex, caphex;
	struct symbolizer_stats st;
	char kname[8];
};

static void *arena_alloc(struct symbolizer *s, size_t len)
{
	len = (len + 7) & ~(size_t)7;
	struct arena_blk *b = s->arena;
	if (!b || b->cap - b->used < len) {
		size_t cap = len > 65536 ? len : 65536;
		b = malloc(sizeof *b + cap);
		if (!b)
			return NULL;
		b->next = s->arena;
		b->used = 0;
		b->cap = cap;
		s->arena = b;
	}
	void *p = b->data + b->used;
	b->used += len;
	return p;
}

static const char *arena_str(struct symbolizer *s, const char *str)
{
	size_t n = strlen(str);
	char *p = arena_alloc(s, n + 1);
	if (p)
		memcpy(p, str, n + 1);
	return p;
}

static void arena_free(struct symbolizer *s)
{
	while (s->arena) {
		struct arena_blk *b = s->arena;
		s->arena = b->next;
		free(b);
	}
}

/* ---- binaries ---- */

static int32_t rel32_at(const uint8_t *p)
{
	return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 |
			 (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

static int cmp_alt(const void *x, const void *y)
{
	const struct alt_call *a = x, *b = y;
	return a->site < b->site ? -1 : a->site > b->site;
}

/* A Linux vmlinux's .altinstructions: where a replacement is a call, the
 * site runs that call after boot whatever the file's bytes are there
 * (copy_user_generic -> copy_user_enhanced_fast_string, rep stosb ->
 * clear_user_erms).  Entries are {s32 site, s32 repl, u16|u32 feature,
 * u8 len, u8 repl_len}: 12 bytes up to 6.2, 14 after; the size that
 * lands every sample entry's replacement inside .altinstr_replacement
 * is taken. */
static void load_alternatives(struct bin *b, Elf *e)
{
	size_t shstr;
	Elf_Scn *scn = NULL, *alt = NULL, *rep = NULL;
	GElf_Shdr sh, ash = { 0 }, rsh = { 0 };

	if (elf_getshdrstrndx(e, &shstr) != 0)
		return;
	while ((scn = elf_nextscn(e, scn)) && gelf_getshdr(scn, &sh)) {
		const char *n = elf_strptr(e, shstr, sh.sh_name);
		if (n && !strcmp(n, ".altinstructions")) {
			alt = scn;
			ash = sh;
		} else if (n && !strcmp(n, ".altinstr_replacement")) {
			rep = scn;
			rsh = sh;
		}
	}
	if (!alt || !rep || ash.sh_type == SHT_NOBITS || rsh.sh_type == SHT_NOBITS ||
	    ash.sh_offset + ash.sh_size > b->filelen ||
	    rsh.sh_offset + rsh.sh_size > b->filelen)
		return;
	const uint8_t *a = b->file + ash.sh_offset, *r = b->file + rsh.sh_offset;
	size_t esz = 0;
	for (size_t try = 12; try <= 14 && !esz; try += 2) {
		size_t n = ash.sh_size / try, ok = 0, k;
		if (!n || ash.sh_size % try)
			continue;
		for (k = 0; k < n && k < 64; k++) {
			uint64_t at = ash.sh_addr + k * try + 4;
			uint64_t ra = at + (uint64_t)(int64_t)rel32_at(a + k * try + 4);
			ok += ra >= rsh.sh_addr && ra <= rsh.sh_addr + rsh.sh_size;
		}
		if (ok == k)
			esz = try;
	}
	if (!esz)
		return;
	size_t n = ash.sh_size / esz, cnt = 0;
	b->alts = calloc(n ? n : 1, sizeof *b->alts);
	if (!b->alts)
		return;
	for (size_t k = 0; k < n; k++) {
		const uint8_t *ent = a + k * esz;
		uint64_t at = ash.sh_addr + k * esz;
		uint64_t site = at + (uint64_t)(int64_t)rel32_at(ent);
		uint64_t repl = at + 4 + (uint64_t)(int64_t)rel32_at(ent + 4);
		uint8_t rlen = ent[esz - 1];
		if (rlen < 5 || repl < rsh.sh_addr || repl + 5 > rsh.sh_addr + rsh.sh_size)
			continue;
		const uint8_t *rb = r + (repl - rsh.sh_addr);
		if (rb[0] != 0xe8)
			continue;
		uint64_t tgt = repl + 5 + (uint64_t)(int64_t)rel32_at(rb + 1);
		b->alts[cnt++] = (struct alt_call){ site + (uint64_t)b->bias,
						    tgt + (uint64_t)b->bias };
	}
	b->nalts = cnt;
	qsort(b->alts, cnt, sizeof *b->alts, cmp_alt);
}

static int bin_open(struct bin *b, const char *path, const char *name,
		    int64_t bias, const struct elffile *shared, char *err,
		    size_t errlen)
{
	memset(b, 0, sizeof *b);
	b->bias = bias;
	b->path = strdup(path);
	b->name = strdup(name);
	if (!b->path || !b->name) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	if (shared) {
		b->ef = (struct elffile *)shared;
		b->ef_borrowed = 1;
	} else {
		b->ef = elffile_map(path, err, errlen);
		if (!b->ef)
			return -1;
		/* no fd kept (libdwfl opens the path itself, bin_load) */
		close(b->ef->fd);
		b->ef->fd = -1;
	}
	b->file = b->ef->map;
	b->filelen = b->ef->len;
	elf_version(EV_CURRENT);
	Elf *e = elf_memory((char *)b->file, b->filelen);
	GElf_Ehdr eh;
	size_t np = 0;
	if (!e || !gelf_getehdr(e, &eh) || elf_getphdrnum(e, &np) != 0) {
		if (e)
			elf_end(e);
		seterr(err, errlen, "%s: not an ELF file", path);
		return -1;
	}
	/* A cut file still has valid headers: check that what they describe
	 * is there, so the user hears "truncated" and not "no symbols". */
	{
		uint64_t need = eh.e_shoff + (uint64_t)eh.e_shnum * eh.e_shentsize;
		Elf_Scn *scn = NULL;
		GElf_Shdr sh;
		while ((scn = elf_nextscn(e, scn)) && gelf_getshdr(scn, &sh))
			if (sh.sh_type != SHT_NOBITS && sh.sh_offset + sh.sh_size > need)
				need = sh.sh_offset + sh.sh_size;
		if (need > (uint64_t)b->filelen) {
			elf_end(e);
			seterr(err, errlen, "%s: truncated ELF file (%lld bytes, its headers describe %llu)",
			       path, (long long)b->filelen, (unsigned long long)need);
			return -1;
		}
	}
	if (eh.e_machine != EM_X86_64 && eh.e_machine != EM_386) {
		elf_end(e);
		seterr(err, errlen, "%s: not an x86 ELF (e_machine %u): qtop-prof profiles x86_64 and i386 guests",
		       path, (unsigned)eh.e_machine);
		return -1;
	}
	b->cls = eh.e_ident[EI_CLASS];
	b->segs = calloc(np + 1, sizeof *b->segs);
	b->text = calloc(np + 1, sizeof *b->text);
	if (!b->segs || !b->text) {
		elf_end(e);
		seterr(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < np; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (ph.p_offset > b->filelen || b->filelen - ph.p_offset < ph.p_filesz)
			continue;
		b->segs[b->nsegs++] = (struct seg){ ph.p_vaddr + (uint64_t)bias,
						    ph.p_filesz, ph.p_offset };
		if (ph.p_flags & PF_X)
			b->text[b->ntext++] = (struct range){
				ph.p_vaddr + (uint64_t)bias,
				ph.p_vaddr + (uint64_t)bias + ph.p_memsz };
	}
	load_alternatives(b, e);
	elf_end(e);
	if (!b->nsegs) {
		seterr(err, errlen, "%s: no loadable segments", path);
		return -1;
	}
	return 0;
}

/* Symbols and Dwfl on first use; failures leave frames named by address
 * (no symbols) or walked by frame pointers (no Dwfl). */
static void bin_load(struct bin *b)
{
	if (b->loaded)
		return;
	b->loaded = 1;
	char err[256];
	if (!b->syms)
		b->syms = !b->ef || !b->ef->elf ? NULL :
			symtab_from_elf_handle(b->ef->elf, b->path,
						 (uint64_t)b->bias, 0, err,
						 sizeof err);
	/* the guest's kernel image keeps its fd: libdwfl gets a dup */
	b->dw = b->ef && b->ef->fd >= 0
		? uw_dwfl_new_file(b->ef, b->name, b->bias, err, sizeof err)
		: uw_dwfl_new(b->path, b->name, b->bias, err, sizeof err);
	b->mod = b->dw ? uw_dwfl_module(b->dw) : NULL;
	Dwarf_Addr cbias;
	/* without any CFI libdwfl would only run its frame-pointer fallback
	 * (broken on i386): our own walker is faster and validates */
	b->has_cfi = b->mod && (dwfl_module_eh_cfi(b->mod, &cbias) ||
				dwfl_module_dwarf_cfi(b->mod, &cbias));
}

static void bin_free(struct bin *b)
{
	if (!b)
		return;
	uw_dwfl_free(b->dw);
	symtab_free(b->syms);
	if (!b->ef_borrowed)
		elffile_unmap(b->ef);
	free(b->segs);
	free(b->text);
	free(b->alts);
	free(b->path);
	free(b->name);
	memset(b, 0, sizeof *b);
}

/* Bytes of the file image at vaddr match code? (enough overlap required) */
static int bin_code_matches(const struct bin *b, uint64_t addr,
			    const uint8_t *code, size_t len)
{
	for (int i = 0; i < b->nsegs; i++) {
		const struct seg *sg = &b->segs[i];
		if (addr < sg->vaddr || addr - sg->vaddr >= sg->filesz)
			continue;
		uint64_t off = addr - sg->vaddr;
		size_t n = len;
		if (sg->filesz - off < n)
			n = (size_t)(sg->filesz - off);
		if (n < len && n < 16)
			return 0;
		return memcmp(b->file + sg->off + off, code, n) == 0;
	}
	return 0;
}

static int is_text_cb(void *ctx, uint64_t pc)
{
	const struct tctx *t = ctx;
	if (!pc)
		return 0;
	if (!t->b) {
		/* unknown binary: the canonical half of its mode, near the pc */
		uint64_t d = pc > t->leaf ? pc - t->leaf : t->leaf - pc;
		if (d >= UNKNOWN_SPAN)
			return 0;
		if (t->ws == 4)
			return 1;
		return t->kernel ? pc >= 0xffff800000000000ull
				 : pc < 0x0000800000000000ull;
	}
	for (int i = 0; i < t->b->ntext; i++)
		if (pc >= t->b->text[i].lo && pc < t->b->text[i].hi)
			return 1;
	return 0;
}

static int is_entry_cb(void *ctx, uint64_t pc)
{
	const struct tctx *t = ctx;
	if (!t->b || !t->b->syms)
		return 0;
	const struct sym *sy = symtab_lookup(t->b->syms, pc);
	return sy && sy->addr == pc;
}

/* ---- sysroot ---- */

/* An ET_EXEC (little-endian) by its header bytes. */
static int is_elf_exec(const struct elffile *f)
{
	const unsigned char *h = f->map;
	if (f->len < 20 || memcmp(h, ELFMAG, SELFMAG))
		return 0;
	int type = h[EI_DATA] == ELFDATA2LSB ? h[16] | h[17] << 8 : 0;
	return type == ET_EXEC;   /* PIE programs would need a load bias */
}


const char *symbolizer_warnings(const struct symbolizer *s)
{
	return s->warnings;
}

/* The programs among the guest's sysroot ELFs (scanned and mapped once,
 * guest.h): static x86 ELFs, not an upper-half kernel image; its warnings
 * are ours. */
static void add_progs(struct symbolizer *s, const struct guest *g)
{
	for (const char *w = guest_sysroot_warnings(g), *nl; *w; w = nl + 1) {
		nl = strchr(w, '\n');
		if (!nl)
			break;
		addline(s->warnings, sizeof s->warnings, "%.*s", (int)(nl - w), w);
	}
	for (int i = 0; i < guest_nprogs(g) && s->nprogs < MAX_PROGRAMS; i++) {
		const struct guest_prog *gp = guest_prog(g, i);
		if (!is_elf_exec(gp->file))
			continue;
		struct bin *nb = realloc(s->progs, (size_t)(s->nprogs + 1) * sizeof *nb);
		if (!nb)
			break;
		s->progs = nb;
		char err[256];
		if (bin_open(&s->progs[s->nprogs], gp->path, gp->name, 0,
			     gp->file, err, sizeof err) < 0) {
			bin_free(&s->progs[s->nprogs]);
			continue;
		}
		/* kernel images in the sysroot live in the upper half */
		if (s->progs[s->nprogs].segs[0].vaddr >= 0xc0000000ull &&
		    !strcmp(gp->name, "kernel")) {
			bin_free(&s->progs[s->nprogs]);
			continue;
		}
		s->nprogs++;
	}
}

static int prog_cmp(const void *a, const void *b)
{
	return strcmp(((const struct bin *)a)->path, ((const struct bin *)b)->path);
}

/* ---- construction ---- */

struct symbolizer *symbolizer_new(const struct symbolizer_config *cfg,
				  char *err, size_t errlen)
{
	struct symbolizer *s = calloc(1, sizeof *s);
	if (!s) {
		linux_kernel_free(cfg->linux_kernel);
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	s->cfg = *cfg;
	s->lk = cfg->linux_kernel;   /* ours now; freed with s */
	if (!s->lk && cfg->guest && guest_linux(cfg->guest)) {
		s->lk = guest_linux(cfg->guest);   /* the guest's: borrowed */
		s->lk_borrowed = 1;
	}
	if (s->cfg.max_depth <= 0)
		s->cfg.max_depth = 128;
	s->fmax = s->cfg.max_depth;
	s->lastas = -1;
	strcpy(s->kname, "kernel");
	if (cfg->kernel) {
		/* the guest's kernel image, read once for everyone */
		const struct elffile *kf = NULL;
		if (cfg->guest && !(kf = guest_kernel(cfg->guest, err, errlen)))
			goto fail;
		if (bin_open(&s->kernel, cfg->kernel, "kernel", cfg->kernel_offset,
			     kf, err, errlen) < 0)
			goto fail;
		s->kws = s->kernel.cls == ELFCLASS32 ? 4 : 8;
		s->have_kernel = 1;
		/* a Linux vmlinux (ORC tables): its kernel stacks are walked
		 * by ORC; anything else keeps CFI / frame pointers */
		if (!s->lk && cfg->symbols)   /* its names: the retpoline thunks */
			s->lk = cfg->guest ? guest_linux_open(cfg->guest, 1, NULL, 0)
					   : linux_kernel_open(cfg->kernel, cfg->symbols, NULL, 0);
		if (!s->lk)
			s->lk = cfg->guest ? guest_linux_open(cfg->guest, 0, NULL, 0)
					   : linux_kernel_open(cfg->kernel, NULL, NULL, 0);
	}
	if (cfg->symbols) {
		if (!s->kernel.path) {
			s->kernel.name = strdup("kernel");
			s->kernel.cls = 0;
		}
		/* the text file names the kernel when the ELF is stripped */
		char e2[256];
		struct symtab *t = NULL;
		if (cfg->guest) {
			size_t len;
			const char *text = guest_symbols_text(cfg->guest, &len,
							      e2, sizeof e2);
			if (text)
				t = symtab_from_nm_buf(cfg->symbols, text, len,
					(uint64_t)cfg->kernel_offset, 0, e2,
					sizeof e2);
		} else {
			t = symtab_from_nm(cfg->symbols,
					   (uint64_t)cfg->kernel_offset,
					   e2, sizeof e2);
		}
		if (!t) {
			seterr(err, errlen, "--symbols %s", e2);
			goto fail;
		}
		if (cfg->kernel) {
			char e3[256];
			struct symtab *et = s->kernel.ef && s->kernel.ef->elf
				? symtab_from_elf_handle(s->kernel.ef->elf,
					cfg->kernel, (uint64_t)cfg->kernel_offset,
					0, e3, sizeof e3)
				: symtab_from_elf(cfg->kernel,
					(uint64_t)cfg->kernel_offset, e3, sizeof e3);
			if (et && symtab_count(et)) {
				symtab_free(t);
				t = et;
			} else {
				symtab_free(et);
			}
		}
		s->kernel.syms = t;
		if (!cfg->kernel) {
			uint64_t lo, hi;
			symtab_range(t, &lo, &hi);
			s->kernel.text = calloc(1, sizeof *s->kernel.text);
			if (!s->kernel.text) {
				seterr(err, errlen, "out of memory");
				goto fail;
			}
			s->kernel.text[0] = (struct range){ lo, hi };
			s->kernel.ntext = 1;
			s->kernel.loaded = 1;   /* nothing more to load */
			s->kws = hi > 0xffffffffull ? 8 : 4;
		}
		s->have_kernel = 1;
	}
	if (s->have_kernel)
		bin_load(&s->kernel);
	if (cfg->kernel && !s->kernel.syms)   /* still unwinds (CFI, frame pointers) */
		addline(s->warnings, sizeof s->warnings, "%s: no symbols: kernel frames are shown as addresses (give --symbols FILE)",
		     cfg->kernel);
	if (cfg->sysroot) {
		struct stat st;
		if (stat(cfg->sysroot, &st) < 0 || !S_ISDIR(st.st_mode)) {
			seterr(err, errlen, "--sysroot %s: not a directory",
			       cfg->sysroot);
			goto fail;
		}
		/* the guest's programs, or our own scan of the sysroot */
		const struct guest *g = cfg->guest;
		if (!g || !guest_sysroot_path(g) ||
		    strcmp(guest_sysroot_path(g), cfg->sysroot)) {
			s->own_guest = guest_open_sysroot(cfg->sysroot,
							  cfg->kernel, err,
							  errlen);
			if (!s->own_guest)
				goto fail;
			g = s->own_guest;
		}
		add_progs(s, g);
		qsort(s->progs, (size_t)s->nprogs, sizeof *s->progs, prog_cmp);
		s->pm = progmatch_new(g);   /* #15 */
	}
	s->caphex = 2 * s->fmax + 8;
	s->hex = calloc((size_t)s->caphex, sizeof *s->hex);
	s->cache = calloc(PCCACHE_SIZE, sizeof *s->cache);
	s->kf = calloc((size_t)s->fmax + 1, sizeof *s->kf);
	s->uf = calloc((size_t)s->fmax + 1, sizeof *s->uf);
	s->tmpf = calloc((size_t)s->fmax + 1, sizeof *s->tmpf);
	if (!s->cache || !s->kf || !s->uf || !s->tmpf || !s->hex) {
		seterr(err, errlen, "out of memory");
		goto fail;
	}
	return s;
fail:
	symbolizer_free(s);
	return NULL;
}

void symbolizer_free(struct symbolizer *s)
{
	if (!s)
		return;
	if (!s->lk_borrowed)
		linux_kernel_free(s->lk);
	bin_free(&s->kernel);
	for (int i = 0; i < s->nprogs; i++)
		bin_free(&s->progs[i]);
	free(s->progs);
	progmatch_free(s->pm);
	guest_close(s->own_guest);   /* after the programs, which borrow it */
	for (int i = 0; i < s->nas; i++) {
		free(s->as[i].cpu_comm);
		free(s->as[i].cpu_pending);
	}
	free(s->as);
	free(s->cache);
	arena_free(s);
	free(s->kf);
	free(s->uf);
	free(s->tmpf);
	free(s->out);
	free(s->hex);
	free(s);
}

int symbolizer_wants_code(const struct symbolizer *s)
{
	return s && s->nprogs > 0;
}

int symbolizer_has_kernel_symbols(const struct symbolizer *s)
{
	return s && s->have_kernel && s->kernel.syms &&
	       symtab_count(s->kernel.syms) > 0;
}

/* --comm reads the kernel files already open: the kernel image (mapped
 * by bin_open) and the guest's --symbols text. */
static void comm_files_of(const struct symbolizer *s, struct comm_files *f)
{
	memset(f, 0, sizeof *f);
	f->kernel = s->cfg.kernel;
	f->kernel_elf = s->kernel.ef ? s->kernel.ef->elf : NULL;
	f->symbols = s->cfg.symbols;
	if (s->cfg.symbols && s->cfg.guest)
		f->symbols_text = guest_symbols_text(s->cfg.guest,
						     &f->symbols_len, NULL, 0);
}

int symbolizer_comm_recipe(struct symbolizer *s, struct comm_recipe *r,
			   char *err, size_t errlen)
{
	if (!s->cfg.comm_expr)
		return 1;
	int ws = s->kws ? s->kws : 8;
	struct comm_files f;
	comm_files_of(s, &f);
	return comm_resolve_files(s->cfg.comm_expr, &f, s->cfg.kernel_offset,
				  ws, r, err, errlen) < 0 ? -1 : 0;
}

void symbolizer_each_module(const struct symbolizer *s,
			    void (*fn)(void *ctx, const char *name, const char *path),
			    void *ctx)
{
	if (s->have_kernel && s->kernel.path)
		fn(ctx, s->kname, s->kernel.path);
	for (int i = 0; i < s->nprogs; i++)
		if (s->progs[i].path && s->progs[i].name)
			fn(ctx, s->progs[i].name, s->progs[i].path);
}

void symbolizer_get_stats(const struct symbolizer *s,
			  struct symbolizer_stats *st)
{
	*st = s->st;
}

/* ---- per-pc names, lines, inline chains ---- */

static const char *base_name(const char *p)
{
	const char *b = strrchr(p, '/');
	return b ? b + 1 : p;
}

static const char *fmt_src(struct symbolizer *s, const char *file, int line)
{
	if (!file || line <= 0)
		return NULL;
	char buf[512];
	snprintf(buf, sizeof buf, "%s:%d", base_name(file), line);
	return arena_str(s, buf);
}

static const char *pc_line(struct symbolizer *s, Dwfl_Module *mod, uint64_t a)
{
	Dwfl_Line *l = dwfl_module_getsrc(mod, a);
	int line = 0;
	const char *f = l ? dwfl_lineinfo(l, NULL, &line, NULL, NULL, NULL)
			  : NULL;
	return fmt_src(s, f, line);
}

static void inline_chain(struct symbolizer *s, struct pcinfo *pi,
			 Dwfl_Module *mod, uint64_t a)
{
	Dwarf_Addr bias;
	Dwarf_Die *cu = dwfl_module_addrdie(mod, a, &bias);
	if (!cu)
		return;
	Dwarf_Die *scopes = NULL;
	int n = dwarf_getscopes(cu, a - bias, &scopes);
	if (n <= 0) {
		free(scopes);
		return;
	}
	int k = 0;                      /* inlined scopes, innermost first */
	while (k < n && dwarf_tag(&scopes[k]) != DW_TAG_subprogram)
		k++;
	int ninl = 0;
	for (int i = 0; i < k; i++)
		if (dwarf_tag(&scopes[i]) == DW_TAG_inlined_subroutine)
			ninl++;
	if (!ninl || ninl > 64) {
		free(scopes);
		return;
	}
	struct inl *v = arena_alloc(s, (size_t)ninl * sizeof *v);
	Dwarf_Files *files = NULL;
	size_t nfiles = 0;
	if (dwarf_getsrcfiles(cu, &files, &nfiles) != 0)
		files = NULL;
	/* v[] root -> leaf: v[ninl-1] is the innermost; each frame's src is
	 * the call site of the next inner one, the innermost gets the pc line */
	const char *callsrc_outer = NULL;
	int j = ninl;
	const char *inner_src = pi->src;
	for (int i = 0; i < k && v; i++) {
		Dwarf_Die *d = &scopes[i];
		if (dwarf_tag(d) != DW_TAG_inlined_subroutine)
			continue;
		j--;
		const char *nm = dwarf_diename(d);
		v[j].name = nm ? arena_str(s, nm) : "[inline]";
		v[j].src = inner_src;
		Dwarf_Attribute at;
		Dwarf_Word cf = 0, cl = 0;
		const char *cfile = NULL;
		if (dwarf_attr(d, DW_AT_call_file, &at) &&
		    dwarf_formudata(&at, &cf) == 0 && files)
			cfile = dwarf_filesrc(files, cf, NULL, NULL);
		if (dwarf_attr(d, DW_AT_call_line, &at))
			dwarf_formudata(&at, &cl);
		inner_src = fmt_src(s, cfile, (int)cl);
		callsrc_outer = inner_src;
	}
	free(scopes);
	if (!v)
		return;
	pi->inl = v;
	pi->ninl = (uint16_t)ninl;
	pi->src = callsrc_outer;        /* the function frame: outermost call site */
}

static const struct pcinfo *pc_info(struct symbolizer *s, const struct bin *b,
				    uint64_t pc, int isact)
{
	uint64_t h = (pc ^ (uint64_t)(uintptr_t)b ^ (uint64_t)isact) *
		     0x9e3779b97f4a7c15ull;
	unsigned i = (unsigned)(h >> (64 - PCCACHE_BITS));
	for (;;) {
		struct pcinfo *p = &s->cache[i];
		if (!p->used)
			break;
		if (p->pc == pc && p->bin == b && p->isact == isact)
			return p;
		i = (i + 1) & (PCCACHE_SIZE - 1);
	}
	struct pcinfo *p = &s->cache[i];
	memset(p, 0, sizeof *p);
	p->used = 1;
	p->bin = b;
	p->pc = pc;
	p->isact = (uint8_t)isact;
	s->ncache++;
	uint64_t a = isact ? pc : pc - 1;   /* inside the call, not after it */
	const struct sym *sy = b->syms ? symtab_lookup(b->syms, a) : NULL;
	if (sy) {
		p->name = sy->name;
	} else {
		char buf[24];
		snprintf(buf, sizeof buf, "0x%llx", (unsigned long long)pc);
		p->name = arena_str(s, buf);
		if (!p->name)
			p->name = "[unknown]";
	}
	if (b->mod) {
		p->src = pc_line(s, b->mod, a);
		if (s->cfg.inline_frames)
			inline_chain(s, p, b->mod, a);
	}
	return p;
}

/* ---- address spaces ---- */

static struct aspace *as_get(struct symbolizer *s, uint64_t cr3)
{
	if (s->lastas >= 0 && s->as[s->lastas].cr3 == cr3)
		return &s->as[s->lastas];
	for (int i = 0; i < s->nas; i++)
		if (s->as[i].cr3 == cr3) {
			s->lastas = i;
			return &s->as[i];
		}
	if (s->nas == s->capas) {
		int nc = s->capas ? s->capas * 2 : 16;
		struct aspace *na = realloc(s->as, (size_t)nc * sizeof *na);
		if (!na)
			return NULL;
		s->as = na;
		s->capas = nc;
	}
	struct aspace *a = &s->as[s->nas];
	memset(a, 0, sizeof *a);
	a->cr3 = cr3;
	a->prog = -1;
	snprintf(a->asname, sizeof a->asname, "as-%llx", (unsigned long long)cr3);
	s->lastas = s->nas++;
	return a;
}

static const uint8_t *code_at(const struct bin *b, uint64_t a, size_t n);

/* Among the programs whose code at the pc is the sample's (several: shared
 * code), the one for which the most words of the sample's user stack are
 * return addresses, i.e. follow a direct call (e8 rel32) in that program's
 * own bytes.  Its index, or -1 when no program leads (a tie, or none). */
static int stack_vote(struct symbolizer *s, const struct qp_sample *smp,
		      const uint8_t *code, size_t len)
{
	const uint8_t *st;
	uint64_t base, n;
	if (smp->regs.cpl == 3) {
		st = qp_sample_stack_c(smp);
		base = smp->stack_addr;
		n = smp->flags & QP_SF_STACK_FAILED ? 0 : smp->stack_len;
	} else {
		st = qp_sample_ustack(smp);
		base = smp->ustack_addr;
		n = smp->flags & QP_SF_USTACK_FAILED ? 0 : smp->ustack_len;
	}
	if (n > STACK_VOTE_BYTES)
		n = STACK_VOTE_BYTES;
	int best = -1, best_n = 0, second_n = 0;
	for (int i = 0; i < s->nprogs; i++) {
		const struct bin *b = &s->progs[i];
		if (!bin_code_matches(b, smp->code_addr, code, len))
			continue;
		int ws = b->cls == ELFCLASS32 ? 4 : 8, votes = 0;
		for (uint64_t o = (base & (uint64_t)(ws - 1)) ? (uint64_t)ws - (base & (uint64_t)(ws - 1)) : 0;
		     o + (uint64_t)ws <= n; o += (uint64_t)ws) {
			uint64_t w = 0;
			memcpy(&w, st + o, (size_t)ws);
			const uint8_t *c = w >= 5 ? code_at(b, w - 5, 5) : NULL;
			if (c && c[0] == 0xe8)
				votes++;
		}
		if (votes > best_n) {
			second_n = best_n;
			best_n = votes;
			best = i;
		} else if (votes > second_n) {
			second_n = votes;
		}
	}
	return best_n > second_n ? best : -1;
}

/* Whether some program's file holds bytes at addr.  Code bytes where none
 * does (Linux i386: the vDSO's landing pad, the user pc of most syscall
 * samples) say nothing about who owns the address space; progmatch_probe
 * decides the same.  Read as "changed hands", they dropped a decided
 * program until the next probe in it (a second later), and its chains
 * were cut at the vDSO meanwhile. */
static int any_prog_covers(const struct symbolizer *s, uint64_t addr)
{
	/* programs at their link address: a PIE placed for one address
	 * space says nothing of another's (its range may hold their vDSO) */
	for (int i = 0; i < s->nprogs; i++)
		for (int j = 0; j < s->progs[i].nsegs && !s->progs[i].bias; j++) {
			const struct seg *sg = &s->progs[i].segs[j];
			if (addr >= sg->vaddr && addr - sg->vaddr < sg->filesz)
				return 1;
		}
	return 0;
}

static void as_match(struct symbolizer *s, struct aspace *a,
		     const struct qp_sample *smp)
{
	const uint8_t *code = qp_sample_code(smp);
	size_t len = smp->code_len;
	if (!len || !s->nprogs)
		return;
	if (a->prog >= 0 &&
	    (bin_code_matches(&s->progs[a->prog], smp->code_addr, code, len) ||
	     !any_prog_covers(s, smp->code_addr)))
		return;
	/* new or changed hands: find the programs with these bytes there */
	int first = -1, count = 0;
	for (int i = 0; i < s->nprogs; i++)
		if (bin_code_matches(&s->progs[i], smp->code_addr, code, len)) {
			if (first < 0)
				first = i;
			count++;
		}
	/* code shared by programs (a library at the same address): the
	 * return addresses on the sample's user stack may tell them apart */
	if (count > 1)
		first = stack_vote(s, smp, code, len), count = first >= 0;
	int old = a->prog;
	/* ambiguous bytes (code shared by programs) do not settle it */
	a->prog = count == 1 ? first : -1;
	if (old >= 0 && a->prog != old) {
		a->has_comm = 0;        /* the name belonged to the old owner */
		a->cpu_has = 0;
	}
}

static void vcache_clear(void);

/* The sysroot program whose realpath is real, opened at a load bias (a PIE
 * or static-pie the page matcher placed there; programs linked where they
 * run are opened at 0 up front).  Its index in s->progs, or -1. */
static int add_prog_at(struct symbolizer *s, const char *real, int64_t bias)
{
	const struct guest *g = s->cfg.guest ? s->cfg.guest : s->own_guest;
	char err[256];

	for (int i = 0; i < guest_nprogs(g) && s->nprogs < MAX_PROGRAMS; i++) {
		const struct guest_prog *gp = guest_prog(g, i);
		if (!gp->real || strcmp(gp->real, real))
			continue;
		struct bin *nb = realloc(s->progs, (size_t)(s->nprogs + 1) * sizeof *nb);
		if (!nb)
			return -1;
		s->progs = nb;
		if (bin_open(&s->progs[s->nprogs], gp->path, gp->name, bias, gp->file,
			     err, sizeof err) < 0) {
			bin_free(&s->progs[s->nprogs]);
			return -1;
		}
		/* the caches are keyed by the bins' addresses, which the
		 * realloc may have moved */
		memset(s->cache, 0, PCCACHE_SIZE * sizeof *s->cache);
		s->ncache = 0;
		vcache_clear();
		return s->nprogs++;
	}
	return -1;
}

/* ---- #15: the program decided by whole pages (progmatch.c) ----
 * Applies progmatch's decision for the address space; 1 when it settled
 * the program, 0 to fall back to the code bytes at the pc (no decision, or
 * these code bytes say the address space changed hands). */
static int pm_apply(struct symbolizer *s, struct aspace *a,
		    const struct qp_sample *smp)
{
	/* the sampler's decision as of this sample (sample.h: prog), so a
	 * replay decides at the same samples as the live run did; a sample
	 * that carries none keeps what the address space had */
	if (!smp->prog) {
		if (!a->pm_known)
			return 0;
	} else if (!a->pm_known || a->pm_idx != (int)smp->prog) {
		const char *path = progmatch_prog_path(s->pm, (int)smp->prog - 1);
		/* a PIE's load bias: the matcher's, when its decision for
		 * this address space is still the sample's */
		int64_t bias = 0;
		int pidx;
		if (progmatch_lookup_index(s->pm, a->cr3, &pidx, &bias) != 1 ||
		    pidx != (int)smp->prog - 1)
			bias = 0;
		int idx = -1;
		for (int i = 0; path && i < s->nprogs && idx < 0; i++) {
			char real[PATH_MAX];
			if (s->progs[i].path && realpath(s->progs[i].path, real) &&
			    !strcmp(real, path) && s->progs[i].bias == bias)
				idx = i;
		}
		/* (a replay has no matcher's bias: a PIE stays unnamed) */
		if (idx < 0 && path && bias)
			idx = add_prog_at(s, path, bias);
		if (idx < 0)
			return 0;       /* not a program of this sysroot */
		if (a->prog >= 0 && a->prog != idx) {
			a->has_comm = 0;
			a->cpu_has = 0;
		}
		a->prog = idx;
		a->pm_known = 1;
		a->pm_idx = (int)smp->prog;
	}
	if ((smp->flags & QP_SF_HAS_CODE) && smp->code_len &&
	    !bin_code_matches(&s->progs[a->prog], smp->code_addr,
			      qp_sample_code(smp), smp->code_len) &&
	    any_prog_covers(s, smp->code_addr)) {
		progmatch_forget(s->pm, a->cr3);   /* exec'd another program? */
		a->pm_known = 0;
		return 0;
	}
	return 1;
}

struct progmatch *symbolizer_progmatch(struct symbolizer *s)
{
	return s ? s->pm : NULL;
}

int symbolizer_match_report(struct symbolizer *s, FILE *f)
{
	return s ? progmatch_report(s->pm, f, "qtop-prof: ") : 0;
}

/* ---- output ---- */

static int out_push(struct symbolizer *s, size_t *n, const char *name,
		    const char *module, const char *src, int kind, int flags,
		    uint64_t addr)
{
	if (*n >= s->outcap) {
		size_t nc = s->outcap ? s->outcap * 2 : 256;
		struct prof_frame *o = realloc(s->out, nc * sizeof *o);
		if (!o)
			return -1;
		s->out = o;
		s->outcap = nc;
	}
	s->out[(*n)++] = (struct prof_frame){ name, module, src, (uint8_t)kind,
					      (uint8_t)flags, addr };
	return 0;
}

/* Address names live in a buffer sized at creation for the most frames a
 * call can produce: never reallocated, so names handed out stay put. */
static const char *hexname(struct symbolizer *s, uint64_t pc)
{
	if (s->nhex >= s->caphex)
		return "[unknown]";
	snprintf(s->hex[s->nhex], 24, "0x%llx", (unsigned long long)pc);
	return s->hex[s->nhex++];
}

/* ---- vouching for chains read from a running guest (QP_SF_RUNNING) ----
 *
 * The registers and the stack copy are a few microseconds apart and the
 * guest runs on between them, so a stack word the unwinder takes for a
 * return address may already belong to another call.  A return address is
 * kept only when the instruction before it is a call that can lead to the
 * frame below: a direct call to the callee's function (or to a thunk /
 * trampoline, or to a function that tail-jumps to the callee), or an
 * indirect call (target unknown).  The bytes come from the ELF file, as
 * compiled: runtime patching (alternatives, static calls) keeps call sites
 * calls. */

static const uint8_t *code_at(const struct bin *b, uint64_t a, size_t n)
{
	for (int i = 0; i < b->nsegs; i++) {
		const struct seg *sg = &b->segs[i];
		if (a >= sg->vaddr && a - sg->vaddr + n <= sg->filesz)
			return b->file + sg->off + (a - sg->vaddr);
	}
	return NULL;
}

/* Does the function at fn jump (jmp rel32/rel8, jcc rel32) to dest?
 * A byte scan of the function's own bytes: a tail call. */
static int jumps_to(const struct bin *b, const struct sym *fn, uint64_t dest)
{
	uint64_t len = symtab_end(b->syms, fn) - fn->addr;
	if (len > 65536)
		len = 65536;
	const uint8_t *p = code_at(b, fn->addr, len);
	if (!p)
		return 0;
	for (uint64_t i = 0; i + 2 <= len; i++) {
		uint64_t at = fn->addr + i;
		if (p[i] == 0xe9 && i + 5 <= len &&
		    at + 5 + (uint64_t)(int64_t)rel32_at(p + i + 1) == dest)
			return 1;
		if (p[i] == 0xeb && at + 2 + (uint64_t)(int64_t)(int8_t)p[i + 1] == dest)
			return 1;
		if (p[i] == 0x0f && (p[i + 1] & 0xf0) == 0x80 && i + 6 <= len &&
		    at + 6 + (uint64_t)(int64_t)rel32_at(p + i + 2) == dest)
			return 1;
	}
	return 0;
}

static int name_is_thunk(const char *n)
{
	return !strncmp(n, "__x86_indirect_", 15) || !strncmp(n, "__SCT__", 7) ||
	       !strncmp(n, "__x86_return_thunk", 18) ||
	       !strncmp(n, "__fentry__", 10) || strstr(n, "_thunk") != NULL;
}

/* Same function, allowing gcc's split parts (foo.cold, foo.part.0). */
static int same_function(const struct sym *callee, const struct sym *tgt)
{
	if (callee == tgt || callee->addr == tgt->addr)
		return 1;
	const char *dot = strstr(callee->name, ".cold");
	if (!dot)
		dot = strstr(callee->name, ".part");
	return dot && strlen(tgt->name) == (size_t)(dot - callee->name) &&
	       !strncmp(tgt->name, callee->name, (size_t)(dot - callee->name));
}

/* Can a call whose return address is ra lead to the code at callee (a pc
 * inside the frame below)?  1 yes, 0 no. */
/* Does a call to tgt lead to the function cs: it is cs (or its split
 * part), a thunk, or a function that tail-jumps to cs, directly or
 * through one more function? */
static int call_leads_to(const struct bin *b, uint64_t tgt, const struct sym *cs)
{
	const struct sym *ts = symtab_lookup(b->syms, tgt);
	if (!ts)
		return 1;       /* unnamed code: cannot tell */
	if (same_function(cs, ts) || name_is_thunk(ts->name))
		return 1;
	if (ts->addr != tgt)
		return 0;       /* a call into the middle of something */
	if (jumps_to(b, ts, cs->addr))
		return 1;
	uint64_t len = symtab_end(b->syms, ts) - ts->addr;
	if (len > 65536)
		len = 65536;
	const uint8_t *q = code_at(b, ts->addr, len);
	for (uint64_t i = 0; q && i + 5 <= len; i++) {
		if (q[i] != 0xe9)
			continue;
		uint64_t d = ts->addr + i + 5 + (uint64_t)(int64_t)rel32_at(q + i + 1);
		const struct sym *m = symtab_lookup(b->syms, d);
		/* a tail call through a retpoline thunk (indirect: may
		 * lead anywhere), e.g. arch_cpu_idle -> x86_idle */
		if (m && m->addr == d && m != ts &&
		    (same_function(cs, m) || name_is_thunk(m->name) ||
		     jumps_to(b, m, cs->addr)))
			return 1;
	}
	return 0;
}

static int ret_vouched_uncached(const struct bin *b, uint64_t ra, uint64_t callee);

/* Verdicts are a function of (binary, return address, callee function):
 * cached, since the tail-call search reads whole functions. */
#define VCACHE_SIZE 4096
static struct { const struct bin *b; uint64_t ra, fn; int v; } vcache[VCACHE_SIZE];

static void vcache_clear(void)
{
	memset(vcache, 0, sizeof vcache);
}

static int ret_vouched(const struct bin *b, uint64_t ra, uint64_t callee)
{
	if (!b || !b->file)
		return 1;               /* no code to check against */
	const struct sym *cs = b->syms ? symtab_lookup(b->syms, callee) : NULL;
	uint64_t fn = cs ? cs->addr : callee;
	unsigned h = (unsigned)((ra * 0x9e3779b97f4a7c15ull ^ fn) >> 52) % VCACHE_SIZE;
	if (vcache[h].b == b && vcache[h].ra == ra && vcache[h].fn == fn)
		return vcache[h].v;
	int v = ret_vouched_uncached(b, ra, callee);
	vcache[h].b = b;
	vcache[h].ra = ra;
	vcache[h].fn = fn;
	vcache[h].v = v;
	return v;
}

static int ret_vouched_uncached(const struct bin *b, uint64_t ra, uint64_t callee)
{
	const uint8_t *p = code_at(b, ra - 7, 7);
	if (!p)
		return 0;
	const struct sym *cs = b->syms ? symtab_lookup(b->syms, callee) : NULL;
	/* Linux's boot entry pushes a return address for unwinders
	 * (.Lafter_lret) and far-returns into start_kernel/start_secondary:
	 * no call precedes it */
	const struct sym *rs = b->syms ? symtab_lookup(b->syms, ra - 1) : NULL;
	if (rs && !strncmp(rs->name, "secondary_startup_64", 20))
		return 1;
	/* patched at boot: a call the file does not show */
	if (b->nalts) {
		size_t lo = 0, hi = b->nalts;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (b->alts[mid].site < ra - 5)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (; lo < b->nalts && b->alts[lo].site == ra - 5; lo++)
			if (!cs || call_leads_to(b, b->alts[lo].target, cs))
				return 1;
	}
	/* paravirt: "call *pv_ops+X(%rip)" (6 bytes) patched into a direct
	 * 5-byte call */
	if (p[2] == 0xff && p[3] == 0x15)
		return 1;
	if (p[2] == 0xe8) {            /* call rel32 */
		uint64_t tgt = ra + (uint64_t)(int64_t)rel32_at(p + 3);
		return !cs || call_leads_to(b, tgt, cs);
	}
	/* call r/m (FF /2), by length: 2 (reg, [reg]), 3 ([reg+d8], [sib]),
	 * 4 ([sib+d8]), 6 ([reg+d32], [rip+d32]), 7 ([sib+d32]) */
	for (int len = 2; len <= 7; len++) {
		const uint8_t *c = p + 7 - len;
		if (c[0] != 0xff || (c[1] & 0x38) != 0x10)
			continue;
		int mod = c[1] >> 6, rm = c[1] & 7;
		int want = 2;
		if (mod == 3)
			want = 2;
		else if (mod == 0)
			want = rm == 4 ? 3 : rm == 5 ? 6 : 2;
		else if (mod == 1)
			want = rm == 4 ? 4 : 3;
		else
			want = rm == 4 ? 7 : 6;
		if (want == len)
			return 1;
	}
	return 0;
}

/* Stricter than ret_vouched, for placing a frame by a return address found
 * in the stack copy (not one a walk led to): the call before ra is a
 * direct one (in the file or patched in at boot) to the function holding
 * pc itself: no indirect call, thunk or tail call, which would vouch for
 * stale return addresses of unrelated calls. */
static int ret_calls_exactly(const struct bin *b, uint64_t ra, uint64_t pc)
{
	const struct sym *cs = b && b->syms ? symtab_lookup(b->syms, pc) : NULL;
	const uint8_t *p = cs ? code_at(b, ra - 5, 5) : NULL;
	if (!p)
		return 0;
	if (p[0] == 0xe8 && ra + (uint64_t)(int64_t)rel32_at(p + 1) == cs->addr)
		return 1;
	size_t lo = 0, hi = b->nalts;           /* sorted by site */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (b->alts[mid].site < ra - 5)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < b->nalts && b->alts[lo].site == ra - 5; lo++)
		if (b->alts[lo].target == cs->addr)
			return 1;
	return 0;
}

/* The first frame of a walk (leaf first) whose return address is not
 * vouched for, or 0 when all are.  Frames with an exact pc (isact: after
 * an interrupt or trap frame) start afresh. */
static int vouch_first_fail(const struct bin *b, const struct uw_frame *f, int n)
{
	for (int i = 1; i < n; i++)
		if (!f[i].isact &&
		    !ret_vouched(b, f[i].pc, f[i - 1].isact ? f[i - 1].pc : f[i - 1].pc - 1))
			return i;
	return 0;
}

/* Cut a walk (leaf first) at the first return address that is not vouched
 * for.  Frames with an exact pc (isact: after an interrupt or trap frame)
 * start afresh. */
static int vouch_walk(struct symbolizer *s, const struct bin *b,
		      struct uw_frame *f, struct uw_result *res)
{
	for (int i = 1; i < res->n; i++) {
		if (f[i].isact)
			continue;
		s->st.vouched++;
		uint64_t callee = f[i - 1].isact ? f[i - 1].pc : f[i - 1].pc - 1;
		if (!ret_vouched(b, f[i].pc, callee)) {
			if (getenv("QTOP_DEBUG_VOUCH") && b && b->syms) {
				const struct sym *x = symtab_lookup(b->syms, f[i].pc - 1);
				const struct sym *y = symtab_lookup(b->syms, callee);
				const uint8_t *p = b->file ? code_at(b, f[i].pc - 7, 7) : NULL;
				fprintf(stderr, "VOUCHFAIL %d ra %s+%#llx callee %s bytes %02x %02x %02x %02x %02x %02x %02x\n", i,
					x ? x->name : "?", x ? (unsigned long long)(f[i].pc - x->addr) : 0ull,
					y ? y->name : "?", p ? p[0] : 0, p ? p[1] : 0, p ? p[2] : 0, p ? p[3] : 0,
					p ? p[4] : 0, p ? p[5] : 0, p ? p[6] : 0);
			}
			s->st.vouch_cuts++;
			res->n = i;
			res->end = UW_END_FAIL;
			res->beyond_valid = 0;
			return 1;
		}
	}
	return 0;
}

/* Frames of one walk (leaf first in f) appended root -> leaf. */
static void emit(struct symbolizer *s, size_t *n, const struct bin *b,
		 const struct uw_frame *f, int nf, int kind)
{
	for (int i = nf - 1; i >= 0; i--) {
		if (!b) {
			out_push(s, n, hexname(s, f[i].pc),
				 kind == PK_KERNEL ? "kernel" : "?", NULL, kind, 0,
				 f[i].pc);
			continue;
		}
		const struct pcinfo *p = pc_info(s, b, f[i].pc, f[i].isact);
		out_push(s, n, p->name, b->name, p->src, kind, 0, f[i].pc);
		for (int k = 0; k < p->ninl; k++)
			out_push(s, n, p->inl[k].name, b->name, p->inl[k].src,
				 kind, PF_INLINE, f[i].pc);
	}
}

static void walk(struct symbolizer *s, struct bin *b, int ws, int kernel,
		 const struct uw_mem *mem, int nmem, const struct uw_state *st,
		 const uint64_t *regs, uint64_t stop_sp, struct uw_frame *out,
		 struct uw_result *res)
{
	struct tctx tc = { b, kernel, ws, st->pc };
	struct uw_walk w = { ws, mem, nmem, is_text_cb, is_entry_cb, &tc,
			     stop_sp };
	int dwcls = ws == 4 ? ELFCLASS32 : ELFCLASS64;
	if (b && b->dw && b->has_cfi && b->cls == dwcls)
		uw_dwfl_walk(b->dw, &w, st, regs, out, s->fmax, res);
	else
		uw_fp_walk(&w, st, out, s->fmax, res);
	s->st.cfi_steps += res->cfi_steps;
	s->st.fp_steps += res->fp_steps;
}

/* #15: a user chain that starts in a frameless leaf (a system-call stub
 * with no frame pointer and no CFI, see frameless.h): the leaf, then the
 * walk from the return address at sp by CFI or frame pointers.  Returns 0
 * when the pc is no such leaf (walk as usual). */
static int walk_frameless(struct symbolizer *s, struct bin *b, int ws,
			  const struct uw_mem *mem, const struct uw_state *st,
			  struct uw_frame *out, struct uw_result *res)
{
	if (!b || !b->syms || st->pc < 2)
		return 0;
	const struct sym *fn = symtab_lookup(b->syms, st->pc);
	const uint8_t *before = code_at(b, st->pc - 2, 2);
	const uint8_t *first = fn ? code_at(b, fn->addr, 1) : NULL;
	int cfi = b->dw ? frameless_cfi_covers(uw_dwfl_module(b->dw), st->pc) : 0;
	if (!frameless_leaf(st->pc, fn ? fn->addr : 0, first ? first[0] : -1,
			    before, before ? 2 : 0, cfi))
		return 0;
	struct tctx tc = { b, 0, ws, st->pc };
	struct uw_walk w = { ws, mem, 1, is_text_cb, is_entry_cb, &tc, 0 };
	struct uw_state caller;
	int r = frameless_step(&w, st, &caller);
	if (r < 0)
		return 0;
	out[0] = (struct uw_frame){ st->pc, st->sp, st->fp, 1 };
	if (r == 0) {
		memset(res, 0, sizeof *res);
		res->n = 1;
		res->end = UW_END_OK;
		return 1;
	}
	walk(s, b, ws, 0, mem, 1, &caller, NULL, 0, out + 1, res);
	if (res->n)
		out[1].isact = 0;       /* a return address: looked up at pc - 1 */
	res->n++;
	s->st.frameless_leaves++;
	return 1;
}

/* #15: did a walk that failed a step still end at a root (chainroot.h):
 * its outermost frame (f[n-1]) a program's entry point or a kernel root? */
static int ends_at_root(const struct bin *b, const struct uw_frame *f, int n,
			int kernel)
{
	if (!b || !b->syms || n <= 0)
		return 0;
	uint64_t pc = f[n - 1].isact ? f[n - 1].pc : f[n - 1].pc - 1;
	const struct sym *fn = symtab_lookup(b->syms, pc);
	if (!fn)
		return 0;
	uint64_t entry = chainroot_elf_entry(b->file, b->filelen);
	const struct sym *efn = entry ? symtab_lookup(b->syms, entry + (uint64_t)b->bias) : NULL;
	return chainroot_is_root(fn->name, fn->addr, efn ? efn->addr : 0, kernel);
}

/* A chain read running, walked in the copy made after the registers (a,
 * in fa) and in the one made before them (b, in fb); whole: walked to a
 * clean end with every return address vouched for.  The registers fall
 * between the copies, so where the stack changed, the copy in which the
 * chain is whole is the one that still showed it; where both are whole
 * and disagree, only their common part is known.  Leaves the choice in
 * fa/a.  Returns 0 (a kept), 1 (b taken), -1 (cut to what both agree
 * on, or the longer of two partial chains). */
static int reconcile(struct symbolizer *s, struct uw_frame *fa,
		     struct uw_result *a, int whole_a, const struct uw_frame *fb,
		     const struct uw_result *b, int whole_b)
{
	int same = a->n == b->n;
	for (int i = 0; same && i < a->n; i++)
		same = fa[i].pc == fb[i].pc;
	int k = 0;
	while (k < a->n && k < b->n && fa[k].pc == fb[k].pc)
		k++;
	/* both whole, one a prefix of the other: the shorter one ended on
	 * words not written yet when it was copied (zeros above a stack
	 * that grew); the longer one's extra frames are vouched for */
	if (whole_a && whole_b && (k == a->n || k == b->n)) {
		whole_a = a->n >= b->n;
		whole_b = !whole_a;
	}
	if (same || (whole_a && !whole_b))
		return 0;
	if (whole_b && !whole_a) {
		memcpy(fa, fb, (size_t)b->n * sizeof *fa);
		*a = *b;
		s->st.vouch_rescued++;
		return 1;
	}
	if (whole_a && whole_b) {
		a->n = k;
	} else if (b->n > a->n) {
		memcpy(fa, fb, (size_t)b->n * sizeof *fa);
		*a = *b;
	}
	a->end = UW_END_FAIL;
	a->beyond_valid = 0;
	return -1;
}

/* A running TCG read's rip can be behind rsp by whole calls: QEMU writes
 * eip back at indirect jumps, returns and exits, not at a direct call
 * chained in translated code, so the vCPU may be in a function that rip's
 * function called directly since (rsp is written back at every block).
 * The first return address above rsp that follows a direct call, from
 * which the walk is whole, vouched for and passes through rip's function,
 * gives the chain; the leaf is that call's target.
 * Failing that, rip is older still (measured on Linux 6.1 under QEMU 7.2:
 * rip at copy_user's rep movsb or load_new_mm_cr3 while rsp is deep in the
 * __schedule that followed): the stack alone then says where the vCPU is.
 * The first such return address from which the walk is whole and every
 * return address vouched for names the innermost function the stack
 * proves active (a stale return address left in a live frame does not
 * walk: ORC places the frame above it by the call site it names).  Its
 * callees below are not known: the sample's leaf is a mark, "[callee
 * unknown]", under it (res->leaf_below; counted in leaf_from_stack).
 * Returns lk_user (or the new one when taken: out, res, lus replaced). */
static int stale_rip_walk(struct symbolizer *s, const struct bin *kb,
			  const struct qp_sample *smp, const struct uw_mem *mem,
			  struct uw_frame *out, struct uw_result *res,
			  struct uw_state *lus, int lk_user)
{
	const struct sym *fn = symtab_lookup(kb->syms, smp->regs.ip);
	uint64_t rsp = smp->regs.gpr[QP_RSP];

	if (!fn || s->fmax < 3)
		return lk_user;
	/* One scan: the first walk through rip's function wins; the first
	 * that is only whole and vouched for waits in out until the scan ends
	 * without one (each candidate walked once). */
	int fallback = 0, u_fb = 0;
	for (uint64_t q = rsp & ~(uint64_t)7; q + 8 <= mem->addr + mem->len &&
	     q < rsp + RA_SCAN; q += 8) {
		uint64_t ra;
		if (q < mem->addr)
			continue;
		memcpy(&ra, mem->buf + (q - mem->addr), 8);
		const uint8_t *p = code_at(kb, ra - 5, 5);
		if (!p || p[0] != 0xe8)
			continue;
		uint64_t target = ra + (uint64_t)(int64_t)rel32_at(p + 1);
		const struct sym *t = symtab_lookup(kb->syms, target);
		if (!t || t->addr != target || t == fn)
			continue;   /* not a function's entry (thunks are not), or rip's own */
		struct uw_result r2;
		struct uw_state l2;
		int u2 = linux_kernel_walk_sample_from(s->lk, s->cfg.kernel_offset, smp, ra,
							q + 8, s->tmpf + 1, s->fmax - 1, &r2, &l2);
		if (r2.end != UW_END_OK || r2.n < 1)
			continue;
		int through = 0;
		for (int i = 0; i < r2.n && !through; i++)
			through = symtab_lookup(kb->syms, s->tmpf[1 + i].pc - 1) == fn;
		if (!through && fallback)
			continue;
		s->tmpf[0] = (struct uw_frame){ .pc = target, .sp = q, .fp = 0, .isact = 1 };
		if (vouch_first_fail(kb, s->tmpf, r2.n + 1) > 0)
			continue;
		memcpy(out, s->tmpf, (size_t)(r2.n + 1) * sizeof *out);
		*res = r2;
		res->n = r2.n + 1;
		res->leaf_below = !through;
		*lus = l2;
		if (through) {
			s->st.sp_adjusted++;
			return u2;
		}
		fallback = 1;
		u_fb = u2;
	}
	if (!fallback)
		return lk_user;
	s->st.sp_adjusted++;
	s->st.leaf_from_stack++;
	return u_fb;
}

/* The kernel part of a kernel-mode sample over one stack copy: by ORC for
 * a Linux vmlinux, else CFI / frame pointers; vouched for when the sample
 * was read running (*cut = 1 when that cut it).  Returns 1 with *lus set
 * when an ORC walk reached the user pt_regs. */
static int kernel_walk(struct symbolizer *s, struct bin *kb, int kws,
		       const struct qp_sample *smp, const struct uw_mem *mem,
		       const struct uw_state *st, uint64_t stop_sp,
		       struct uw_frame *out, struct uw_result *res,
		       struct uw_state *lus, int *cut)
{
	int lk_user = 0;

	if (s->lk && linux_kernel_orc(s->lk)) {   /* i386: no ORC, frame pointers */
		int copy0 = mem->buf != qp_sample_stack_c(smp);
		lk_user = linux_kernel_walk_sample_adj(s->lk, s->cfg.kernel_offset,
						       smp, copy0, 0, out, s->fmax,
						       res, lus);
		/* Read running (TCG), rsp may be ahead of the block-start rip
		 * by what the block did before its last write-back: try the
		 * rsp the ORC table gives for each instruction a little past
		 * rip, then a few plain pushes and pops; the first that walks
		 * whole with every return address vouched for wins. */
		int fail = res->end != UW_END_OK ||
			   vouch_first_fail(kb, out, res->n) > 0;
		if ((smp->flags & QP_SF_RUNNING) && fail) {
			int64_t adj[24];
			int nadj = orc_sp_deltas(linux_kernel_orc(s->lk),
						 smp->regs.ip - (uint64_t)s->cfg.kernel_offset,
						 SP_AHEAD_WINDOW, adj, 16);
			static const int64_t plain[] = { 8, -8, 16, -16, 24, -24, 32, -32 };
			for (size_t i = 0; i < sizeof plain / sizeof *plain; i++) {
				int seen = 0;
				for (int j = 0; j < nadj && !seen; j++)
					seen = adj[j] == plain[i];
				if (!seen)
					adj[nadj++] = plain[i];
			}
			/* rsp and rip are read one after the other while
			 * the vCPU runs, so rsp may belong to another moment
			 * altogether: a return address in the copy whose call
			 * leads to rip's function places the frame (nearest
			 * to the read rsp first) */
			struct orc_entry oe;
			uint64_t urip = smp->regs.ip - (uint64_t)s->cfg.kernel_offset;
			uint64_t rsp = smp->regs.gpr[QP_RSP];
			if (orc_lookup(linux_kernel_orc(s->lk), urip, &oe) == 0 &&
			    oe.sp_reg == ORC_REG_SP && oe.type == ORC_TYPE_CALL &&
			    kb && mem->len >= 8) {
				for (int64_t d = 8; d <= RA_SCAN && nadj < 24; d += 8) {
					for (int sgn = 1; sgn >= -1 && nadj < 24; sgn -= 2) {
						uint64_t q = rsp + (uint64_t)(sgn * d) +
							     (uint64_t)oe.sp_offset - 8;
						if (q < mem->addr || q + 8 > mem->addr + mem->len)
							continue;
						uint64_t ra;
						memcpy(&ra, mem->buf + (q - mem->addr), 8);
						if (ret_calls_exactly(kb, ra, smp->regs.ip)) {
							int seen = 0;
							for (int j = 0; j < nadj && !seen; j++)
								seen = adj[j] == sgn * d;
							if (!seen)
								adj[nadj++] = sgn * d;
						}
					}
				}
			}
			for (int i = 0; i < nadj; i++) {
				struct uw_result r2;
				struct uw_state l2;
				int u2 = linux_kernel_walk_sample_adj(s->lk, s->cfg.kernel_offset,
								      smp, copy0, adj[i], s->tmpf,
								      s->fmax, &r2, &l2);
				if (r2.end == UW_END_OK && r2.n > 1 &&
				    vouch_first_fail(kb, s->tmpf, r2.n) == 0) {
					memcpy(out, s->tmpf, (size_t)r2.n * sizeof *out);
					*res = r2;
					*lus = l2;
					lk_user = u2;
					s->st.sp_adjusted++;
					break;
				}
			}
		}
		if ((smp->flags & QP_SF_RUNNING) && !copy0 && kb && kb->syms &&
		    (res->end != UW_END_OK || vouch_first_fail(kb, out, res->n) > 0))
			lk_user = stale_rip_walk(s, kb, smp, mem, out, res, lus, lk_user);
	} else {
		walk(s, kb, kws, 1, mem, 1, st, smp->regs.gpr, stop_sp, out, res);
	}
	*cut = 0;
	if ((smp->flags & QP_SF_RUNNING) && vouch_walk(s, kb, out, res)) {
		*cut = 1;
		lk_user = 0;
	}
	return lk_user;
}

/* Linux i386: a syscall entered by sysenter (entry_SYSENTER_32, the last
 * kernel frame) returns to the vDSO's landing pad in __kernel_vsyscall,
 * which no program file holds; the kernel set pt_regs.ip there, and
 * __kernel_vsyscall's frame is fixed by the ABI the kernel relies on
 * (push %ecx; push %edx; push %ebp before sysenter; pop them and ret
 * after): the caller's ebp at sp, its return address at sp + 12.  The
 * user walk goes on from there.  1 when taken (s->uf, *res filled). */
static int vdso_landing(struct symbolizer *s, struct bin *prog,
			const struct bin *kb, int kn, int uws,
			const struct uw_mem *mem, const struct uw_state *us,
			struct uw_result *res)
{
	uint64_t ra, fp;
	if (!s->lk || uws != 4 || !prog || !kb || !kb->syms || code_at(prog, us->pc, 1))
		return 0;
	const struct sym *last = kn > 0 ? symtab_lookup(kb->syms, s->kf[kn - 1].pc - 1)
					: NULL;
	if (!last || !strstr(last->name, "SYSENTER") ||
	    uw_read_word(mem, 1, 4, us->sp, &fp) < 0 ||
	    uw_read_word(mem, 1, 4, us->sp + 12, &ra) < 0 ||
	    !code_at(prog, ra, 1))
		return 0;
	struct uw_state caller = { ra, us->sp + 16, fp };
	s->uf[0] = (struct uw_frame){ us->pc, us->sp, us->fp, 1 };
	walk(s, prog, 4, 0, mem, 1, &caller, NULL, 0, s->uf + 1, res);
	if (res->n)
		s->uf[1].isact = 0;     /* a return address: looked up at pc - 1 */
	res->n++;
	return 1;
}

/* A vCPU's name for an address space changes only when the same new name
 * is read twice in a row: a read that lands inside a task switch (the
 * kernel's "current" and CR3 are not updated at the same instant) gives a
 * wrong name once, and must not relabel the samples that follow. */
static void set_cpu_comm(struct aspace *a, uint32_t cpu, const char *name)
{
	uint64_t bit = 1ull << cpu;

	if (!(a->cpu_has & bit) || !strcmp(a->cpu_pending[cpu], name)) {
		snprintf(a->cpu_comm[cpu], sizeof a->cpu_comm[cpu], "%s", name);
		a->cpu_has |= bit;
		a->cpu_pending[cpu][0] = 0;
	} else if (!strcmp(a->cpu_comm[cpu], name)) {
		a->cpu_pending[cpu][0] = 0;
	} else {
		snprintf(a->cpu_pending[cpu], sizeof a->cpu_pending[cpu], "%s", name);
	}
}

int symbolizer_process(struct symbolizer *s, const struct qp_sample *smp,
		       struct prof_frame *frames, size_t max, size_t *n)
{
	const struct qp_regs *r = &smp->regs;
	if (!r->valid || !max)
		return -1;
	/* Real mode (CR0.PE clear; a CR0 of 0 means "not known"): firmware
	 * or a boot loader, never the ELF files given.  The CPU starts at
	 * F000:FFF0 with the CS base at 0xffff0000: the reset vector. */
	if (r->cr0 && !(r->cr0 & 1) && max >= 2) {
		int reset = r->cs == 0xf000 && r->ip == 0xfff0;
		frames[0] = (struct prof_frame){ .name = "[firmware]", .kind = PK_PROC };
		frames[1] = (struct prof_frame){
			.name = reset ? "[reset vector]" : "[real mode]", .module = "firmware",
			.kind = PK_KERNEL,
			.addr = reset ? 0xfffffff0ull : ((uint64_t)r->cs << 4) + (r->ip & 0xffff) };
		*n = 2;
		return 0;
	}
	s->nhex = 0;
	/* keep the cache bounded; strings from the last call are not in use
	 * any more once we are called again */
	if (s->ncache > PCCACHE_SIZE / 2) {
		memset(s->cache, 0, PCCACHE_SIZE * sizeof *s->cache);
		s->ncache = 0;
		arena_free(s);
	}
	uint64_t cr3 = qp_regs_as(r);   /* PAE: 32-byte PDPTs share pages */
	struct aspace *a = as_get(s, cr3);
	if (!a)
		return -1;
	char own_comm[PNAME_LEN] = "";
	if (smp->flags & QP_SF_HAS_COMM && smp->comm_len) {
		const uint8_t *c = qp_sample_comm(smp);
		size_t k = 0;
		char tmp[PNAME_LEN];
		while (k < smp->comm_len && k < QP_COMM_BYTES && c[k] &&
		       c[k] >= 0x20 && c[k] < 0x7f) {
			tmp[k] = (char)c[k];
			k++;
		}
		tmp[k] = 0;
		/* only a clean NUL-terminated name counts */
		int clean = k && (k == smp->comm_len || c[k] == 0);
		/* #15, --pid: "NAME/ID", so two tasks of one name are two
		 * processes (the id was read with the name) */
		if (clean && (smp->flags & QP_SF_HAS_PID))
			snprintf(tmp + k, sizeof tmp - k, "/%lld", (long long)smp->pid);
		size_t tl = strlen(tmp);
		if (clean && (smp->flags & QP_SF_COMM_NOT_AS)) {
			/* the sampled task's, inside a task switch: names
			 * this sample, not CR3's address space */
			memcpy(own_comm, tmp, tl + 1);
		} else if (clean) {
			/* read with the guest paused, or (Linux, kernel
			 * mode) checked against the task's stack: the task
			 * running at this very sample (inside a task switch,
			 * CR3 is already the next task's) */
			if ((smp->flags & QP_SF_STOPPED) || (s->lk && r->cpl == 0))
				memcpy(own_comm, tmp, tl + 1);
			memcpy(a->comm, tmp, tl + 1);
			a->has_comm = 1;
			if (smp->cpu < 64 && !a->cpu_comm) {
				a->cpu_comm = calloc(64, sizeof *a->cpu_comm);
				a->cpu_pending = calloc(64, sizeof *a->cpu_pending);
				if (!a->cpu_pending) {
					free(a->cpu_comm);
					a->cpu_comm = NULL;
				}
			}
			if (smp->cpu < 64 && a->cpu_comm)
				set_cpu_comm(a, smp->cpu, tmp);
		}
	}
	if (s->pm && pm_apply(s, a, smp))
		;                       /* #15: settled by whole pages */
	else if (smp->flags & QP_SF_HAS_CODE)
		as_match(s, a, smp);
	struct bin *prog = NULL;
	if (a->prog >= 0) {
		prog = &s->progs[a->prog];
		bin_load(prog);
	}
	int kernel_mode = r->cpl == 0;
	int kws = s->kws ? s->kws : qp_regs_wordsize(r);
	int truncated = 0;
	struct uw_result kres = { 0 }, ures = { 0 };
	int have_user = 0;
	/* read running: the copy made before the registers shadows the one
	 * made after: a word they disagree on vouches for nothing */
	struct uw_mem kmem = { .addr = smp->stack_addr, .buf = qp_sample_stack_c(smp),
			       .len = smp->flags & QP_SF_STACK_FAILED ? 0 : smp->stack_len };
	/* the trap frame: on the stack, or (Linux, on an IRQ stack) on the
	 * task stack behind it */
	struct uw_mem tmem[2] = { kmem, { .addr = smp->stack2_addr,
					  .buf = qp_sample_stack2(smp),
					  .len = smp->stack2_len } };
	struct bin *kb = s->have_kernel ? &s->kernel : NULL;
	uint64_t mask = kws == 4 ? 0xffffffffull : ~0ull;

	if (kernel_mode) {
		struct uw_state st = { r->ip & mask, r->gpr[QP_RSP] & mask,
				       r->gpr[QP_RBP] & mask };
		/* the front end's "wrong slide / wrong vmlinux" check: the
		 * leaf is enough (a wrong slide misses almost every pc) */
		uint64_t klo = 0;
		if (kb && kb->syms)
			symtab_range(kb->syms, &klo, NULL);
		/* a kernel in the upper half (Linux): a lower-half pc is
		 * firmware or the boot decompressor (a boot profile before
		 * the kernel runs), no sign of a wrong slide */
		if (!(klo >> 63) || (st.pc >> 63)) {
			s->st.kernel_samples++;
			if (!kb || !kb->syms || !symtab_lookup(kb->syms, st.pc))
				s->st.kernel_unnamed++;
		}
		uint64_t trap_ip = 0, trap_sp = 0, trap_cs = 0;
		int trap = 0;
		if (smp->flags & QP_SF_HAS_TRAP &&
		    uw_read_word(tmem, 2, kws, smp->trap_addr, &trap_ip) == 0 &&
		    uw_read_word(tmem, 2, kws, smp->trap_addr + (uint64_t)kws,
				 &trap_cs) == 0 &&
		    uw_read_word(tmem, 2, kws, smp->trap_addr + 3 * (uint64_t)kws,
				 &trap_sp) == 0 &&
		    (trap_cs & 3) == 3)
			trap = 1;
		struct uw_state lus;
		int cut = 0;
		int lk_user = kernel_walk(s, kb, kws, smp, &kmem, &st,
					  trap ? smp->trap_addr : 0, s->kf, &kres,
					  &lus, &cut);
		if ((smp->flags & QP_SF_RUNNING) && smp->stack0_len) {
			/* the copy made just before the registers: walked
			 * too, and the two reconciled (s->uf is free until
			 * the user walk) */
			struct uw_mem k0 = { .addr = smp->stack0_addr,
					     .buf = qp_sample_stack0(smp),
					     .len = smp->stack0_len };
			struct uw_result r0;
			struct uw_state lus0;
			int cut0 = 0;
			int lk0 = kernel_walk(s, kb, kws, smp, &k0, &st,
					      trap ? smp->trap_addr : 0, s->uf,
					      &r0, &lus0, &cut0);
			int pick = reconcile(s, s->kf, &kres, !cut && kres.end == UW_END_OK,
					     s->uf, &r0, !cut0 && r0.end == UW_END_OK);
			if (pick == 1) {
				lk_user = lk0;
				lus = lus0;
				cut = 0;
			} else if (pick < 0) {
				cut = 1;
				lk_user = 0;
			}
		}
		if (cut)
			trap = 0;      /* cut: the user part is not reached */
		if (lk_user) {
			/* the pt_regs the walk reached has the exact user
			 * ip/sp/bp */
			trap = 1;
			trap_ip = lus.pc;
			trap_sp = lus.sp;
			kres.beyond_valid = 1;
			kres.beyond = lus;
		}
		if (trap) {
			s->st.trap_crossings++;
			/* the kernel part is whole when it got to the entry
			 * stub, right below the trap frame */
			int reached = lk_user || kres.beyond_valid ||
				(kres.n && smp->trap_addr >= s->kf[kres.n - 1].sp &&
				 smp->trap_addr - s->kf[kres.n - 1].sp <= TRAP_NEAR);
			/* an ORC walk reaches the entry code's pt_regs itself
			 * or it was cut: ending somewhere below it says
			 * nothing (its frames are large) */
			if (s->lk && linux_kernel_orc(s->lk) && !lk_user &&
			    !kres.beyond_valid)
				reached = 0;
			if (!reached || kres.end == UW_END_DEPTH)
				truncated = 1;
			/* entry stubs leave the frame pointer alone: the last
			 * kernel frame's fp (or the stub CFI's) is the user's */
			uint64_t ufp = kres.n ? s->kf[kres.n - 1].fp : 0;
			if (kres.beyond_valid && kres.beyond.pc == trap_ip)
				ufp = kres.beyond.fp;
			/* i386 Linux: the entry code points ebp at its pt_regs
			 * (ENCODE_FRAME_POINTER); the user's ebp is pt_regs.bp,
			 * 7 words below the iret frame */
			else if (s->lk && kws == 4 && !lk_user &&
				 smp->trap_addr >= 28)
				uw_read_word(tmem, 2, 4, smp->trap_addr - 28, &ufp);
			int uws = prog && prog->cls == ELFCLASS32 ? 4 :
				  prog ? 8 : kws;
			uint64_t um = uws == 4 ? 0xffffffffull : ~0ull;
			struct uw_state us = { trap_ip & um, trap_sp & um, ufp & um };
			struct uw_mem umem = { .addr = smp->ustack_addr,
					       .buf = qp_sample_ustack(smp),
					       .len = smp->flags & QP_SF_USTACK_FAILED ? 0 :
						      smp->ustack_len };
			if (vdso_landing(s, prog, kb, kres.n, uws, &umem, &us, &ures))
				;
			else if (!walk_frameless(s, prog, uws, &umem, &us, s->uf, &ures))   /* #15 */
				walk(s, prog, uws, 0, &umem, 1, &us, NULL, 0, s->uf, &ures);
			if (smp->flags & QP_SF_RUNNING)
				vouch_walk(s, prog, s->uf, &ures);
			have_user = 1;
			if (!ures.n) {
				/* not even the user pc is plausible */
				truncated = 1;
			} else if (ures.end != UW_END_OK &&
				   !(ures.end == UW_END_FAIL &&   /* #15 */
				     ends_at_root(prog, s->uf, ures.n, 0))) {
				truncated = 1;
			}
		} else if (kres.end != UW_END_OK &&
			   !(kres.end == UW_END_FAIL && !cut &&   /* #15 */
			     ends_at_root(kb, s->kf, kres.n, 1))) {
			truncated = 1;
		}
		if (!kres.n)
			truncated = 1;
	} else {
		int uws = prog ? (prog->cls == ELFCLASS32 ? 4 : 8)
			       : qp_regs_wordsize(r);
		uint64_t um = uws == 4 ? 0xffffffffull : ~0ull;
		struct uw_state us = { r->ip & um, r->gpr[QP_RSP] & um,
				       r->gpr[QP_RBP] & um };
		if (!walk_frameless(s, prog, uws, &kmem, &us, s->uf, &ures))   /* #15 */
			walk(s, prog, uws, 0, &kmem, 1, &us, r->gpr, 0, s->uf, &ures);
		if (smp->flags & QP_SF_RUNNING) {
			int cutu = vouch_walk(s, prog, s->uf, &ures);
			if (smp->stack0_len) {
				/* and in the copy made before the registers
				 * (s->kf is free in user mode) */
				struct uw_mem m0 = { .addr = smp->stack0_addr,
						     .buf = qp_sample_stack0(smp),
						     .len = smp->stack0_len };
				struct uw_result r0;
				if (!walk_frameless(s, prog, uws, &m0, &us, s->kf, &r0))   /* #15 */
					walk(s, prog, uws, 0, &m0, 1, &us, r->gpr, 0, s->kf, &r0);
				int cut0 = vouch_walk(s, prog, s->kf, &r0);
				reconcile(s, s->uf, &ures, !cutu && ures.end == UW_END_OK,
					  s->kf, &r0, !cut0 && r0.end == UW_END_OK);
			}
		}
		have_user = 1;
		if ((ures.end != UW_END_OK || !ures.n) &&
		    !(ures.end == UW_END_FAIL &&   /* #15 */
		      ends_at_root(prog, s->uf, ures.n, 0)))
			truncated = 1;
	}

	size_t cnt = 0;
	const char *pname = a->asname;
	const char *own = own_comm[0] ? arena_str(s, own_comm) : NULL;
	if (own)
		pname = own;
	else if (smp->cpu < 64 && (a->cpu_has >> smp->cpu & 1))
		pname = a->cpu_comm[smp->cpu];
	else if (a->has_comm)
		pname = a->comm;
	else if (prog)
		pname = prog->name;
	out_push(s, &cnt, pname, NULL, NULL, PK_PROC, 0, 0);
	if (truncated)
		out_push(s, &cnt, "[truncated]", NULL, NULL, PK_MARK, 0, 0);
	if (have_user)
		emit(s, &cnt, prog, s->uf, ures.n, PK_USER);
	if (kernel_mode)
		emit(s, &cnt, kb, s->kf, kres.n, PK_KERNEL);
	/* the time is below that leaf, in callees not known: its own mark,
	 * so the leaf's self share stays its own */
	if (kernel_mode && kres.leaf_below && kres.n)
		out_push(s, &cnt, "[callee unknown]", NULL, NULL, PK_MARK, 0, 0);
	if (cnt == 1 + (size_t)truncated && !truncated) {
		out_push(s, &cnt, "[unknown]", NULL, NULL, PK_MARK, 0, 0);
	} else if (cnt == 1 + (size_t)truncated) {
		out_push(s, &cnt, hexname(s, r->ip), kernel_mode ? "kernel" : "?",
			 NULL, kernel_mode ? PK_KERNEL : PK_USER, 0, r->ip);
	}
	/* a halted vCPU: keep where it halted, but make idle time its own
	 * leaf so it is not counted as work of the halting function */
	if (smp->flags & QP_SF_IDLE)
		out_push(s, &cnt, "[idle]", NULL, NULL, PK_MARK, 0, 0);
	if (!s->out || cnt < 1)
		return -1;
	/* too deep for the caller: keep the leaf end, mark the cut */
	if (cnt > max) {
		size_t keep = max >= 2 ? max - 2 : 0;
		frames[0] = s->out[0];
		size_t k = 1;
		if (max >= 2)
			frames[k++] = (struct prof_frame){ "[truncated]", NULL, NULL,
							   PK_MARK, 0, 0 };
		memcpy(frames + k, s->out + cnt - keep, keep * sizeof *frames);
		*n = k + keep;
		truncated = 1;
	} else {
		memcpy(frames, s->out, cnt * sizeof *frames);
		*n = cnt;
	}
	s->st.samples++;
	s->st.frames += *n - 1;
	if (truncated)
		s->st.truncated++;
	return 0;
}

int symbolizer_resolve_comm(struct symbolizer *s, const char *expr,
			    struct comm_recipe *r, char *err, size_t errlen)
{
	int ws = s->kws ? s->kws : 8;
	struct comm_files f;
	comm_files_of(s, &f);
	return comm_resolve_files(expr, &f, s->cfg.kernel_offset, ws, r, err,
				  errlen) < 0 ? -1 : 0;
}

int symbolizer_resolve_pid(struct symbolizer *s, const char *expr,
			   struct comm_recipe *r, char *err, size_t errlen)
{
	int ws = s->kws ? s->kws : 8;
	struct comm_files f;
	comm_files_of(s, &f);
	return pid_resolve_files(expr, &f, s->cfg.kernel_offset, ws, r, err,
				 errlen) < 0 ? -1 : 0;
}
