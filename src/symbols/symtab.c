/* symtab.c - sorted function symbols from ELF or nm-style text. */
#include "symtab.h"
#include "errmsg.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libiberty/demangle.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Names live in an arena of blocks that never move, so struct sym can point
 * into it. */
struct arena_blk {
	struct arena_blk *next;
	size_t used, cap;
	char data[];
};

/* How far the last sizeless symbol of an nm file extends (ELF symbols stop
 * at their section end). */
#define LAST_LABEL_SPAN 0x10000u

struct cand {
	uint64_t addr, size, end;  /* end: section end for sizeless, else 0 */
	const char *name;
	uint8_t rank;              /* GLOBAL 2 > WEAK 1 > LOCAL 0 */
	uint8_t text;
};

struct symtab {
	struct sym *syms;      /* unique addresses, sorted */
	uint64_t *addrs;       /* syms[i].addr, dense for the search */
	uint64_t *ends;        /* exclusive end of syms[i] */
	size_t n;
	struct sym *byname;    /* every kept candidate incl. aliases, by name */
	size_t nbyname;
	uint64_t lo, hi;
	struct arena_blk *arena;
	/* build state */
	struct cand *c;
	size_t nc, capc;
};

static const char *arena_dup(struct symtab *t, const char *s, size_t len)
{
	struct arena_blk *b = t->arena;
	if (!b || b->cap - b->used < len + 1) {
		size_t cap = len + 1 > 65536 ? len + 1 : 65536;
		b = malloc(sizeof *b + cap);
		if (!b)
			return NULL;
		b->next = t->arena;
		b->used = 0;
		b->cap = cap;
		t->arena = b;
	}
	char *p = b->data + b->used;
	memcpy(p, s, len);
	p[len] = 0;
	b->used += len + 1;
	return p;
}

char *sym_demangle(const char *name)
{
	if (!name || name[0] != '_' || (name[1] != 'Z' && name[1] != 'R'))
		return NULL;
	return cplus_demangle(name, DMGL_PARAMS | DMGL_ANSI);
}

static int add_cand(struct symtab *t, uint64_t addr, uint64_t size,
		    uint64_t end, const char *name, size_t namelen, int rank,
		    int text)
{
	if (t->nc == t->capc) {
		size_t nc = t->capc ? t->capc * 2 : 1024;
		struct cand *c = realloc(t->c, nc * sizeof *c);
		if (!c)
			return -1;
		t->c = c;
		t->capc = nc;
	}
	const char *stored;
	char tmp[512];
	char *dm = NULL;
	if (namelen < sizeof tmp) {
		memcpy(tmp, name, namelen);
		tmp[namelen] = 0;
		dm = sym_demangle(tmp);
	}
	stored = dm ? arena_dup(t, dm, strlen(dm)) : arena_dup(t, name, namelen);
	free(dm);
	if (!stored)
		return -1;
	t->c[t->nc++] = (struct cand){ addr, size, end, stored, (uint8_t)rank,
				       (uint8_t)text };
	return 0;
}

static int cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* best alias first: sized, then binding, then name for stability */
	int xs = x->size != 0, ys = y->size != 0;
	if (xs != ys)
		return ys - xs;
	if (x->rank != y->rank)
		return (int)y->rank - (int)x->rank;
	return strcmp(x->name, y->name);
}

static int name_cmp(const void *a, const void *b)
{
	const struct sym *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Sort candidates, keep the best per address, compute ends. */
static int finish(struct symtab *t, char *err, size_t errlen)
{
	if (t->nc)   /* qsort(NULL, 0, ...) is undefined behaviour */
		qsort(t->c, t->nc, sizeof *t->c, cand_cmp);
	t->syms = malloc((t->nc + 1) * sizeof *t->syms);
	t->addrs = malloc((t->nc + 1) * sizeof *t->addrs);
	t->ends = malloc((t->nc + 1) * sizeof *t->ends);
	t->byname = malloc((t->nc + 1) * sizeof *t->byname);
	if (!t->syms || !t->addrs || !t->ends || !t->byname) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	size_t n = 0;
	uint64_t *secend = malloc((t->nc + 1) * sizeof *secend);
	uint8_t *text = malloc(t->nc + 1);
	if (!secend || !text) {
		free(secend);
		free(text);
		seterr(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < t->nc; i++) {
		const struct cand *c = &t->c[i];
		t->byname[i] = (struct sym){ c->addr, c->size, c->name };
		if (n && t->addrs[n - 1] == c->addr)
			continue;       /* a worse alias */
		t->syms[n] = (struct sym){ c->addr, c->size, c->name };
		t->addrs[n] = c->addr;
		secend[n] = c->end;
		text[n] = c->text;
		n++;
	}
	t->nbyname = t->nc;
	qsort(t->byname, t->nbyname, sizeof *t->byname, name_cmp);
	t->lo = UINT64_MAX;
	t->hi = 0;
	for (size_t i = 0; i < n; i++) {
		if (t->syms[i].size) {
			t->ends[i] = t->syms[i].addr + t->syms[i].size;
		} else {
			/* a label runs to the next symbol, its section end, or
			 * (last of a text file) a bounded span */
			uint64_t e = i + 1 < n ? t->addrs[i + 1] :
				     t->syms[i].addr + LAST_LABEL_SPAN;
			if (e < t->syms[i].addr)
				e = UINT64_MAX;
			if (secend[i] && secend[i] < e)
				e = secend[i];
			t->ends[i] = e;
		}
		if (text[i]) {
			if (t->syms[i].addr < t->lo)
				t->lo = t->syms[i].addr;
			if (t->ends[i] > t->hi)
				t->hi = t->ends[i];
		}
	}
	free(text);
	free(secend);
	t->n = n;
	if (t->lo == UINT64_MAX)
		t->lo = t->hi = 0;
	free(t->c);
	t->c = NULL;
	t->nc = t->capc = 0;
	return 0;
}

void symtab_free(struct symtab *t)
{
	if (!t)
		return;
	free(t->syms);
	free(t->addrs);
	free(t->ends);
	free(t->byname);
	free(t->c);
	while (t->arena) {
		struct arena_blk *b = t->arena;
		t->arena = b->next;
		free(b);
	}
	free(t);
}

static int bind_rank(int bind)
{
	return bind == STB_GLOBAL ? 2 : bind == STB_WEAK ? 1 : 0;
}

static int load_elf_syms(struct symtab *t, Elf *elf, uint64_t bias,
			 unsigned flags, char *err, size_t errlen)
{
	size_t shnum;
	if (elf_getshdrnum(elf, &shnum) != 0) {
		seterr(err, errlen, "bad section table: %s", elf_errmsg(-1));
		return -1;
	}
	Elf_Scn *symscn = NULL;
	for (int want = SHT_SYMTAB; want && !symscn;
	     want = want == SHT_SYMTAB ? SHT_DYNSYM : 0) {
		Elf_Scn *scn = NULL;
		while ((scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;
			if (gelf_getshdr(scn, &sh) && sh.sh_type == (GElf_Word)want) {
				symscn = scn;
				break;
			}
		}
	}
	if (!symscn) {
		seterr(err, errlen, "no .symtab or .dynsym");
		return -1;
	}
	GElf_Shdr symsh;
	gelf_getshdr(symscn, &symsh);
	Elf_Data *data = elf_getdata(symscn, NULL);
	if (!data || !symsh.sh_entsize) {
		seterr(err, errlen, "unreadable symbol table");
		return -1;
	}
	size_t nsyms = symsh.sh_size / symsh.sh_entsize;
	if (nsyms > data->d_size / symsh.sh_entsize)
		nsyms = data->d_size / symsh.sh_entsize;
	for (size_t i = 1; i < nsyms; i++) {
		GElf_Sym s;
		if (!gelf_getsym(data, (int)i, &s))
			continue;
		int type = GELF_ST_TYPE(s.st_info);
		int isfunc = type == STT_FUNC || type == STT_NOTYPE ||
			     type == STT_GNU_IFUNC;
		int isobj = type == STT_OBJECT || type == STT_TLS;
		if (!isfunc && !(isobj && (flags & SYMTAB_ALL)))
			continue;
		if (s.st_shndx == SHN_UNDEF || s.st_shndx >= SHN_LORESERVE ||
		    s.st_shndx >= shnum)
			continue;
		GElf_Shdr sh;
		Elf_Scn *sec = elf_getscn(elf, s.st_shndx);
		if (!sec || !gelf_getshdr(sec, &sh) || !(sh.sh_flags & SHF_ALLOC))
			continue;
		int text = isfunc && (sh.sh_flags & SHF_EXECINSTR);
		if (!text && !(flags & SYMTAB_ALL))
			continue;
		const char *name = elf_strptr(elf, symsh.sh_link, s.st_name);
		if (!name || !*name)
			continue;
		/* ARM-style mapping symbols and local labels carry no function */
		if (name[0] == '$' || (name[0] == '.' && name[1] == 'L'))
			continue;
		uint64_t end = sh.sh_addr + sh.sh_size + bias;
		if (add_cand(t, s.st_value + bias, s.st_size, end, name,
			     strlen(name), bind_rank(GELF_ST_BIND(s.st_info)),
			     text) < 0) {
			seterr(err, errlen, "out of memory");
			return -1;
		}
	}
	return 0;
}

struct symtab *symtab_from_elf_flags(const char *path, uint64_t bias,
				     unsigned flags, char *err, size_t errlen)
{
	elf_version(EV_CURRENT);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		seterr(err, errlen, "%s: not an ELF file", path);
		if (elf)
			elf_end(elf);
		close(fd);
		return NULL;
	}
	struct symtab *t = symtab_from_elf_handle(elf, path, bias, flags, err,
						  errlen);
	elf_end(elf);
	close(fd);
	return t;
}

struct symtab *symtab_from_elf_handle(Elf *elf, const char *path,
				      uint64_t bias, unsigned flags,
				      char *err, size_t errlen)
{
	struct symtab *t = calloc(1, sizeof *t);
	int rc = -1;
	if (!t)
		seterr(err, errlen, "out of memory");
	else if (load_elf_syms(t, elf, bias, flags, err, errlen) == 0)
		rc = finish(t, err, errlen);
	if (rc < 0 && t) {
		/* prefix the file name to the message */
		char tmp[256];
		snprintf(tmp, sizeof tmp, "%s", err ? err : "");
		seterr(err, errlen, "%s: %s", path, tmp);
	}
	if (rc < 0) {
		symtab_free(t);
		return NULL;
	}
	return t;
}

struct symtab *symtab_from_elf(const char *path, uint64_t bias, char *err,
			       size_t errlen)
{
	return symtab_from_elf_flags(path, bias, 0, err, errlen);
}

static int is_hex(const char *s, size_t n)
{
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

static uint64_t parse_hex(const char *s, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n && i < 16; i++) {
		int c = (unsigned char)s[i];
		v = v << 4 | (uint64_t)(isdigit(c) ? c - '0' : (tolower(c) - 'a' + 10));
	}
	return v;
}

struct symtab *symtab_from_nm_text(const char *text, size_t len,
				   uint64_t bias, unsigned flags, char *err,
				   size_t errlen)
{
	struct symtab *t = calloc(1, sizeof *t);
	if (!t) {
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	uint64_t stext = 0, etext = 0;
	int have_stext = 0, have_etext = 0, nonzero = 0;
	size_t lines = 0, parsed = 0;
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		lines++;
		const char *tok[5];
		size_t tl[5];
		int nt = 0;
		const char *q = p;
		while (q < le && nt < 5) {
			while (q < le && (*q == ' ' || *q == '\t' || *q == '\r'))
				q++;
			if (q >= le)
				break;
			tok[nt] = q;
			while (q < le && *q != ' ' && *q != '\t' && *q != '\r')
				q++;
			tl[nt] = (size_t)(q - tok[nt]);
			nt++;
		}
		p = nl ? nl + 1 : end;
		/* "ADDR TYPE NAME [mod]" or "ADDR SIZE TYPE NAME" (nm -S) */
		if (nt < 3 || !is_hex(tok[0], tl[0]) || tl[0] > 16)
			continue;
		int ti = 1;
		uint64_t size = 0;
		if (tl[1] != 1 && nt >= 4 && is_hex(tok[1], tl[1]) && tl[2] == 1) {
			size = parse_hex(tok[1], tl[1]);
			ti = 2;
		}
		if (tl[ti] != 1)
			continue;
		char type = tok[ti][0];
		const char *name = tok[ti + 1];
		size_t nlen = tl[ti + 1];
		uint64_t addr = parse_hex(tok[0], tl[0]);
		parsed++;
		if (addr)
			nonzero = 1;
		if (nlen == 6 && !memcmp(name, "_stext", 6)) {
			stext = addr;
			have_stext = 1;
		} else if (nlen == 5 && !memcmp(name, "_text", 5) && !have_stext) {
			stext = addr;
			have_stext = 1;
		} else if (nlen == 6 && !memcmp(name, "_etext", 6)) {
			etext = addr;
			have_etext = 1;
		}
		int istext = strchr("tTwWiI", type) != NULL;
		int isdata = strchr("dDbBrRvVgGsS", type) != NULL;
		if (!istext && !(isdata && (flags & SYMTAB_ALL)))
			continue;
		if (!addr)
			continue;
		int rank = isupper((unsigned char)type) ? 2 : 0;
		if (type == 'W' || type == 'w' || type == 'V' || type == 'v')
			rank = 1;
		if (add_cand(t, addr + bias, size, 0, name, nlen, rank, istext) < 0) {
			seterr(err, errlen, "out of memory");
			symtab_free(t);
			return NULL;
		}
	}
	if (!parsed) {
		seterr(err, errlen, "no symbol lines (expected \"ADDR TYPE NAME\")");
		symtab_free(t);
		return NULL;
	}
	if (!nonzero) {
		seterr(err, errlen, "all symbol addresses are zero (kptr_restrict?)");
		symtab_free(t);
		return NULL;
	}
	/* kallsyms lists per-CPU variables as small offsets: keep text only
	 * from the kernel text start up (modules live above _etext). */
	if (have_stext) {
		size_t k = 0;
		for (size_t i = 0; i < t->nc; i++)
			if (t->c[i].addr >= stext + bias || !t->c[i].text)
				t->c[k++] = t->c[i];
		t->nc = k;
	}
	(void)have_etext;
	(void)etext;
	if (finish(t, err, errlen) < 0) {
		symtab_free(t);
		return NULL;
	}
	return t;
}

char *symtab_read_text(const char *path, size_t *lenp, char *err,
		       size_t errlen)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	char *buf = NULL;
	size_t len = 0, cap = 0;
	char chunk[65536];
	size_t r;
	while ((r = fread(chunk, 1, sizeof chunk, f)) > 0) {
		if (len + r + 1 > cap) {
			size_t nc = (len + r + 1) * 2;
			char *nb = realloc(buf, nc);
			if (!nb) {
				free(buf);
				fclose(f);
				seterr(err, errlen, "out of memory");
				return NULL;
			}
			buf = nb;
			cap = nc;
		}
		memcpy(buf + len, chunk, r);
		len += r;
	}
	int ioerr = ferror(f);
	fclose(f);
	if (ioerr) {
		free(buf);
		seterr(err, errlen, "%s: read error", path);
		return NULL;
	}
	if (!buf && !(buf = malloc(1))) {
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	buf[len] = 0;
	*lenp = len;
	return buf;
}

struct symtab *symtab_from_nm_buf(const char *path, const char *text,
				  size_t len, uint64_t bias, unsigned flags,
				  char *err, size_t errlen)
{
	char e2[200] = "";
	struct symtab *t = symtab_from_nm_text(text, len, bias, flags,
					       e2, sizeof e2);
	if (!t)
		seterr(err, errlen, "%s: %s", path, e2);
	return t;
}

struct symtab *symtab_from_nm_flags(const char *path, uint64_t bias,
				    unsigned flags, char *err, size_t errlen)
{
	size_t len = 0;
	char *buf = symtab_read_text(path, &len, err, errlen);
	if (!buf)
		return NULL;
	struct symtab *t = symtab_from_nm_buf(path, buf, len, bias, flags,
					      err, errlen);
	free(buf);
	return t;
}

struct symtab *symtab_from_nm(const char *path, uint64_t bias, char *err,
			      size_t errlen)
{
	return symtab_from_nm_flags(path, bias, 0, err, errlen);
}

const struct sym *symtab_lookup(const struct symtab *t, uint64_t addr)
{
	if (!t || !t->n || addr < t->addrs[0])
		return NULL;
	size_t lo = 0, hi = t->n;       /* last index with addrs[i] <= addr */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->addrs[mid] <= addr)
			lo = mid;
		else
			hi = mid;
	}
	return addr < t->ends[lo] ? &t->syms[lo] : NULL;
}

uint64_t symtab_end(const struct symtab *t, const struct sym *s)
{
	return t->ends[s - t->syms];
}

const struct sym *symtab_find(const struct symtab *t, const char *name)
{
	if (!t || !name)
		return NULL;
	size_t lo = 0, hi = t->nbyname;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(t->byname[mid].name, name);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < t->nbyname && !strcmp(t->byname[lo].name, name))
		return &t->byname[lo];
	return NULL;
}

size_t symtab_count(const struct symtab *t)
{
	return t ? t->n : 0;
}

void symtab_range(const struct symtab *t, uint64_t *lo, uint64_t *hi)
{
	if (lo)
		*lo = t ? t->lo : 0;
	if (hi)
		*hi = t ? t->hi : 0;
}
