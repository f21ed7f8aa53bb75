/* btf.c - minimal BTF reader (struct member offsets, per-CPU variables). */
#include "btf.h"
#include "elffile.h"
#include "errmsg.h"

#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	K_INT = 1, K_PTR, K_ARRAY, K_STRUCT, K_UNION, K_ENUM, K_FWD, K_TYPEDEF,
	K_VOLATILE, K_CONST, K_RESTRICT, K_FUNC, K_FUNC_PROTO, K_VAR,
	K_DATASEC, K_FLOAT, K_DECL_TAG, K_TYPE_TAG, K_ENUM64,
};

struct btf {
	uint8_t *data;
	size_t len;
	const uint8_t *types;    /* type section */
	uint32_t types_len;
	const char *strs;
	uint32_t strs_len;
	uint32_t *off;           /* off[id] = offset of type id in types; id 0 = void */
	uint32_t n;              /* types 1..n */
	int swap;                /* big-endian BTF (never for x86, but checked) */
};

static uint32_t rd32(const struct btf *b, const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return b->swap ? __builtin_bswap32(v) : v;
}

static const char *str_at(const struct btf *b, uint32_t off)
{
	if (off >= b->strs_len)
		return NULL;
	if (!memchr(b->strs + off, 0, b->strs_len - off))
		return NULL;
	return b->strs + off;
}

struct ty {
	uint32_t name_off, info, size_type;
	const uint8_t *extra;   /* kind-specific data after the 12 bytes */
	int kind, kflag;
	uint32_t vlen;
};

static int get_ty(const struct btf *b, uint32_t id, struct ty *t)
{
	if (id == 0 || id > b->n)
		return -1;
	const uint8_t *p = b->types + b->off[id];
	t->name_off = rd32(b, p);
	t->info = rd32(b, p + 4);
	t->size_type = rd32(b, p + 8);
	t->extra = p + 12;
	t->vlen = t->info & 0xffff;
	t->kind = (t->info >> 24) & 0x1f;
	t->kflag = t->info >> 31;
	return 0;
}

/* Bytes of kind-specific data after the common 12 bytes, or -1. */
static long extra_len(int kind, uint32_t vlen)
{
	switch (kind) {
	case K_INT: return 4;
	case K_PTR: case K_FWD: case K_TYPEDEF: case K_VOLATILE: case K_CONST:
	case K_RESTRICT: case K_FUNC: case K_FLOAT: case K_TYPE_TAG: return 0;
	case K_ARRAY: return 12;
	case K_STRUCT: case K_UNION: return 12L * vlen;
	case K_ENUM: return 8L * vlen;
	case K_FUNC_PROTO: return 8L * vlen;
	case K_VAR: return 4;
	case K_DATASEC: return 12L * vlen;
	case K_DECL_TAG: return 4;
	case K_ENUM64: return 12L * vlen;
	default: return -1;
	}
}

struct btf *btf_from_bytes(const uint8_t *buf, size_t len, char *err,
			   size_t errlen)
{
	if (len < 24) {
		seterr(err, errlen, "btf: %zu bytes: too short", len);
		return NULL;
	}
	struct btf *b = calloc(1, sizeof *b);
	if (!b || !(b->data = malloc(len))) {
		free(b);
		seterr(err, errlen, "btf: out of memory");
		return NULL;
	}
	memcpy(b->data, buf, len);
	b->len = len;
	const uint8_t *d = b->data;
	if (d[0] == 0x9f && d[1] == 0xeb)
		b->swap = 0;
	else if (d[0] == 0xeb && d[1] == 0x9f)
		b->swap = 1;
	else {
		seterr(err, errlen, "btf: bad magic %02x%02x", d[0], d[1]);
		goto fail;
	}
	if (d[2] != 1) {
		seterr(err, errlen, "btf: version %u unsupported", d[2]);
		goto fail;
	}
	uint32_t hdr_len = rd32(b, d + 4), type_off = rd32(b, d + 8),
		 type_len = rd32(b, d + 12), str_off = rd32(b, d + 16),
		 str_len = rd32(b, d + 20);
	if (hdr_len < 24 || hdr_len > len ||
	    (uint64_t)hdr_len + type_off + type_len > len ||
	    (uint64_t)hdr_len + str_off + str_len > len) {
		seterr(err, errlen, "btf: header sections outside the %zu bytes",
		       len);
		goto fail;
	}
	b->types = d + hdr_len + type_off;
	b->types_len = type_len;
	b->strs = (const char *)d + hdr_len + str_off;
	b->strs_len = str_len;
	/* count, then index */
	uint32_t cap = 1024, n = 0;
	b->off = malloc(cap * sizeof *b->off);
	if (!b->off) {
		seterr(err, errlen, "btf: out of memory");
		goto fail;
	}
	b->off[0] = 0;
	uint64_t pos = 0;
	while (pos < type_len) {
		if (type_len - pos < 12) {
			seterr(err, errlen, "btf: truncated type at %llu",
			       (unsigned long long)pos);
			goto fail;
		}
		uint32_t info = rd32(b, b->types + pos + 4);
		long x = extra_len((info >> 24) & 0x1f, info & 0xffff);
		if (x < 0) {
			seterr(err, errlen, "btf: unknown kind %u of type %u",
			       (info >> 24) & 0x1f, n + 1);
			goto fail;
		}
		if ((uint64_t)x > type_len - pos - 12) {
			seterr(err, errlen, "btf: type %u runs past the type "
			       "section", n + 1);
			goto fail;
		}
		if (n + 1 >= cap) {
			uint32_t *o = realloc(b->off, 2u * cap * sizeof *o);
			if (!o) {
				seterr(err, errlen, "btf: out of memory");
				goto fail;
			}
			b->off = o;
			cap *= 2;
		}
		b->off[++n] = (uint32_t)pos;
		pos += 12 + (uint64_t)x;
	}
	b->n = n;
	return b;
fail:
	btf_free(b);
	return NULL;
}

struct btf *btf_from_elf(const char *path, char *err, size_t errlen)
{
	int fd;
	Elf *e = elffile_open(path, &fd, err, errlen);

	if (!e)
		return NULL;
	struct btf *b = btf_from_elf_handle(e, path, err, errlen);
	elffile_close(e, fd);
	return b;
}

struct btf *btf_from_elf_handle(Elf *e, const char *path, char *err,
				size_t errlen)
{
	GElf_Shdr sh;
	struct btf *b = NULL;
	Elf_Scn *scn;
	Elf_Data *d;

	scn = elffile_section(e, ".BTF", &sh);
	if (!scn)
		seterr(err, errlen, "%s: no .BTF section (kernel built without "
		       "CONFIG_DEBUG_INFO_BTF?)", path);
	else if (!(d = elf_rawdata(scn, NULL)) || d->d_size < sh.sh_size)
		seterr(err, errlen, "%s: cannot read .BTF", path);
	else
		b = btf_from_bytes(d->d_buf, sh.sh_size, err, errlen);
	return b;
}

void btf_free(struct btf *b)
{
	if (!b)
		return;
	free(b->off);
	free(b->data);
	free(b);
}

uint32_t btf_count(const struct btf *b)
{
	return b ? b->n : 0;
}

/* Strips typedef/const/volatile/restrict/type_tag.  Returns the id or 0. */
static uint32_t resolve(const struct btf *b, uint32_t id)
{
	struct ty t;
	for (int i = 0; i < 32 && get_ty(b, id, &t) == 0; i++) {
		if (t.kind == K_TYPEDEF || t.kind == K_VOLATILE ||
		    t.kind == K_CONST || t.kind == K_RESTRICT ||
		    t.kind == K_TYPE_TAG)
			id = t.size_type;
		else
			return id;
	}
	return 0;
}

static uint64_t type_size(const struct btf *b, uint32_t id, int depth)
{
	struct ty t;
	if (depth > 16 || get_ty(b, id = resolve(b, id), &t) < 0)
		return 0;
	switch (t.kind) {
	case K_INT: case K_STRUCT: case K_UNION: case K_ENUM: case K_ENUM64:
	case K_FLOAT: case K_DATASEC:
		return t.size_type;
	case K_PTR:
		return 8;
	case K_ARRAY: {
		uint32_t elem = rd32(b, t.extra), nel = rd32(b, t.extra + 8);
		return (uint64_t)nel * type_size(b, elem, depth + 1);
	}
	default:
		return 0;
	}
}

static int find_named(const struct btf *b, int kind1, int kind2,
		      const char *name, uint32_t *out)
{
	struct ty t;
	for (uint32_t id = 1; id <= b->n; id++) {
		if (get_ty(b, id, &t) < 0 ||
		    (t.kind != kind1 && t.kind != kind2))
			continue;
		const char *s = str_at(b, t.name_off);
		if (s && !strcmp(s, name)) {
			*out = id;
			return 0;
		}
	}
	return -1;
}

/* 1 found, 0 not found, -1 bitfield */
static int member_in(const struct btf *b, uint32_t id, const char *member,
		     uint64_t base, uint64_t *off, uint64_t *size, int depth,
		     long *budget)
{
	struct ty t;
	/* the budget bounds crafted nests of anonymous members that would
	 * otherwise take vlen^depth steps */
	if (depth > 8 || --*budget < 0 || get_ty(b, id, &t) < 0 ||
	    (t.kind != K_STRUCT && t.kind != K_UNION))
		return 0;
	for (uint32_t i = 0; i < t.vlen; i++) {
		const uint8_t *m = t.extra + 12u * i;
		uint32_t mname = rd32(b, m), mtype = rd32(b, m + 4),
			 moff = rd32(b, m + 8);
		uint32_t bitsz = t.kflag ? moff >> 24 : 0;
		uint32_t bitoff = t.kflag ? moff & 0xffffff : moff;
		const char *s = str_at(b, mname);
		if (s && *s) {
			if (strcmp(s, member))
				continue;
			if (bitsz || bitoff % 8)
				return -1;
			*off = base + bitoff / 8;
			*size = type_size(b, mtype, 0);
			return 1;
		}
		/* anonymous struct/union: look inside */
		if (--*budget < 0)
			return 0;
		int r = member_in(b, resolve(b, mtype), member,
				  base + bitoff / 8, off, size, depth + 1,
				  budget);
		if (r)
			return r;
	}
	return 0;
}

int btf_member(const struct btf *b, const char *type, const char *member,
	       uint64_t *offset, uint64_t *size, char *err, size_t errlen)
{
	/* the first definition with members (not a forward) */
	struct ty t;
	uint32_t id = 0;
	for (uint32_t i = 1; i <= b->n; i++) {
		if (get_ty(b, i, &t) < 0 ||
		    (t.kind != K_STRUCT && t.kind != K_UNION) || !t.vlen)
			continue;
		const char *s = str_at(b, t.name_off);
		if (s && !strcmp(s, type)) {
			id = i;
			break;
		}
	}
	if (!id) {
		seterr(err, errlen, "btf: no struct %s", type);
		return -1;
	}
	uint64_t o = 0, sz = 0;
	long budget = 1L << 20;
	int r = member_in(b, id, member, 0, &o, &sz, 0, &budget);
	if (r <= 0) {
		seterr(err, errlen, r < 0 ? "btf: %s.%s is a bitfield"
				       : "btf: struct %s has no member %s",
		       type, member);
		return -1;
	}
	*offset = o;
	if (size)
		*size = sz;
	return 0;
}

int btf_datasec_var(const struct btf *b, const char *sec, const char *var,
		    uint64_t *offset, uint64_t *size, char *err, size_t errlen)
{
	uint32_t id;
	if (find_named(b, K_DATASEC, K_DATASEC, sec, &id) < 0) {
		seterr(err, errlen, "btf: no DATASEC %s", sec);
		return -1;
	}
	struct ty t;
	if (get_ty(b, id, &t) < 0) {
		seterr(err, errlen, "btf: DATASEC %s is malformed", sec);
		return -1;
	}
	for (uint32_t i = 0; i < t.vlen; i++) {
		const uint8_t *v = t.extra + 12u * i;
		struct ty vt;
		if (get_ty(b, rd32(b, v), &vt) < 0 || vt.kind != K_VAR)
			continue;
		const char *s = str_at(b, vt.name_off);
		if (s && !strcmp(s, var)) {
			*offset = rd32(b, v + 4);
			if (size)
				*size = rd32(b, v + 8);
			return 0;
		}
	}
	seterr(err, errlen, "btf: %s has no variable %s", sec, var);
	return -1;
}

int btf_linux_task_layout(const struct btf *b, struct linux_task_layout *l,
			  char *err, size_t errlen)
{
	struct linux_task_layout r;
	uint64_t sz;
	if (btf_member(b, "task_struct", "comm", &r.comm_off, &r.comm_size,
		       err, errlen) < 0 ||
	    btf_member(b, "task_struct", "pid", &r.pid_off, &sz, err,
		       errlen) < 0)
		return -1;
	if (btf_member(b, "task_struct", "mm", &r.mm_off, &sz, NULL, 0) < 0)
		r.mm_off = (uint64_t)-1;
	if (btf_member(b, "task_struct", "stack", &r.stack_off, &sz, NULL, 0) < 0)
		r.stack_off = (uint64_t)-1;
	if (btf_datasec_var(b, ".data..percpu", "current_task",
			    &r.current_task_off, &sz, NULL, 0) < 0) {
		/* 6.2+: struct pcpu_hot pcpu_hot { current_task, ... } */
		uint64_t hot, m;
		if (btf_datasec_var(b, ".data..percpu", "pcpu_hot", &hot, &sz,
				    err, errlen) < 0 ||
		    btf_member(b, "pcpu_hot", "current_task", &m, &sz, err,
			       errlen) < 0) {
			seterr(err, errlen, "btf: no per-CPU current_task or "
			       "pcpu_hot.current_task");
			return -1;
		}
		r.current_task_off = hot + m;
	}
	*l = r;
	return 0;
}
