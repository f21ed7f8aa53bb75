/* btf.c - struct member offsets and per-CPU variables from a kernel's BTF,
 * over libbpf's BTF API (bpf/btf.h): libbpf parses and checks the section
 * (header, string and type sections, every type's length); this layer
 * looks names up and bounds what crafted input can make it do (depth and
 * step budgets on anonymous members, ids checked through btf__type_by_id). */
#include "btf.h"
#include "elffile.h"
#include "errmsg.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libbpf reports why a parse failed through its print callback (at debug
 * level): kept per thread for our message instead of going to stderr. */
static _Thread_local char libbpf_last[160];

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	(void)level;
	vsnprintf(libbpf_last, sizeof libbpf_last, fmt, ap);
	size_t n = strlen(libbpf_last);
	while (n && (libbpf_last[n - 1] == '\n' || libbpf_last[n - 1] == ' '))
		libbpf_last[--n] = 0;
	return 0;
}

static pthread_once_t print_once = PTHREAD_ONCE_INIT;

static void set_print(void)
{
	libbpf_set_print(libbpf_quiet);
}

struct btf *btf_from_bytes(const uint8_t *buf, size_t len, char *err,
			   size_t errlen)
{
	if (len < 24) {
		seterr(err, errlen, "btf: %zu bytes: too short", len);
		return NULL;
	}
	if (len > 0xffffffffu) {
		seterr(err, errlen, "btf: %zu bytes: too large", len);
		return NULL;
	}
	/* The type section must start 4-byte aligned: libbpf checks type_off
	 * but not hdr_len, and then reads struct btf_type at a misaligned
	 * address (found by fuzz_btf).  Kernels write hdr_len 24. */
	int le = buf[0] == 0x9f && buf[1] == 0xeb;
	uint32_t hdr_len = le ? (uint32_t)buf[4] | (uint32_t)buf[5] << 8 |
				(uint32_t)buf[6] << 16 | (uint32_t)buf[7] << 24 :
				(uint32_t)buf[7] | (uint32_t)buf[6] << 8 |
				(uint32_t)buf[5] << 16 | (uint32_t)buf[4] << 24;
	uint32_t type_off = le ? (uint32_t)buf[8] | (uint32_t)buf[9] << 8 |
				 (uint32_t)buf[10] << 16 | (uint32_t)buf[11] << 24 :
				 (uint32_t)buf[11] | (uint32_t)buf[10] << 8 |
				 (uint32_t)buf[9] << 16 | (uint32_t)buf[8] << 24;
	if ((hdr_len + type_off) & 3) {
		seterr(err, errlen, "btf: type section at offset %u: not 4-byte aligned",
		       hdr_len + type_off);
		return NULL;
	}
	pthread_once(&print_once, set_print);
	libbpf_last[0] = 0;
	errno = 0;
	struct btf *b = btf__new(buf, (uint32_t)len);   /* copies buf */
	if (!b) {
		int e = errno ? errno : EINVAL;
		if (libbpf_last[0])
			seterr(err, errlen, "btf: %s", libbpf_last);
		else
			seterr(err, errlen, "btf: not valid BTF (%s)",
			       strerror(e));
		return NULL;
	}
	return b;
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

/* The section bytes come through the Elf already open (the guest model's
 * one open of the vmlinux), not libbpf's btf__parse_elf, which would open
 * the file again. */
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
	btf__free(b);
}

uint32_t btf_count(const struct btf *b)
{
	return b ? btf__type_cnt(b) - 1 : 0;
}

static int is_comp(const struct btf_type *t)
{
	return t && (btf_is_struct(t) || btf_is_union(t));
}

/* typedef/const/volatile/restrict/type_tag stripped; 0 for void or an
 * unresolvable chain */
static uint32_t resolve(const struct btf *b, uint32_t id)
{
	int r = btf__resolve_type(b, id);
	return r > 0 ? (uint32_t)r : 0;
}

static uint64_t type_size(const struct btf *b, uint32_t id)
{
	long long s = btf__resolve_size(b, id);
	return s > 0 ? (uint64_t)s : 0;
}

uint32_t btf_find_struct(const struct btf *b, const char *name, int kind)
{
	/* the first definition with members (not a forward, not an empty
	 * one): btf__find_by_name_kind gives the first of that name and
	 * kind, the scan goes on only when that one has no members */
	int kinds[2] = { kind ? kind : BTF_KIND_STRUCT,
			 kind ? 0 : BTF_KIND_UNION };
	uint32_t empty = 0;
	for (int k = 0; k < 2 && kinds[k]; k++) {
		int id = btf__find_by_name_kind(b, name, (uint32_t)kinds[k]);
		if (id <= 0)
			continue;
		const struct btf_type *t = btf__type_by_id(b, (uint32_t)id);
		if (t && btf_vlen(t))
			return (uint32_t)id;
		if (!empty)
			empty = (uint32_t)id;
	}
	uint32_t n = btf__type_cnt(b);
	for (uint32_t i = 1; i < n; i++) {
		const struct btf_type *t = btf__type_by_id(b, i);
		if (!is_comp(t) || !btf_vlen(t) ||
		    (kind && (int)btf_kind(t) != kind))
			continue;
		const char *s = btf__name_by_offset(b, t->name_off);
		if (s && !strcmp(s, name))
			return i;
	}
	return empty;
}

/* 1 found, 0 not found, -1 bitfield */
static int member_in(const struct btf *b, uint32_t id, const char *member,
		     uint64_t base, uint64_t *off, uint32_t *mtype, int depth,
		     long *budget)
{
	const struct btf_type *t = btf__type_by_id(b, id);
	/* the budget bounds crafted nests of anonymous members that would
	 * otherwise take vlen^depth steps */
	if (depth > 8 || --*budget < 0 || !is_comp(t))
		return 0;
	const struct btf_member *m = btf_members(t);
	for (uint32_t i = 0; i < btf_vlen(t); i++, m++) {
		uint32_t bitoff = btf_member_bit_offset(t, i);
		uint32_t bitsz = btf_member_bitfield_size(t, i);
		const char *s = btf__name_by_offset(b, m->name_off);
		if (s && *s) {
			if (strcmp(s, member))
				continue;
			if (bitsz || bitoff % 8)
				return -1;
			*off = base + bitoff / 8;
			*mtype = m->type;
			return 1;
		}
		/* anonymous struct/union: look inside */
		if (--*budget < 0)
			return 0;
		int r = member_in(b, resolve(b, m->type), member,
				  base + bitoff / 8, off, mtype, depth + 1,
				  budget);
		if (r)
			return r;
	}
	return 0;
}

int btf_find_member(const struct btf *b, uint32_t id, const char *member,
		    uint64_t *offset, uint32_t *mtype)
{
	long budget = 1L << 20;
	uint64_t o = 0;
	uint32_t ty = 0;
	int r = member_in(b, id, member, 0, &o, &ty, 0, &budget);
	if (r > 0) {
		*offset = o;
		*mtype = ty;
	}
	return r;
}

int btf_member(const struct btf *b, const char *type, const char *member,
	       uint64_t *offset, uint64_t *size, char *err, size_t errlen)
{
	uint32_t id = btf_find_struct(b, type, 0);
	const struct btf_type *t = id ? btf__type_by_id(b, id) : NULL;
	if (!t || !btf_vlen(t)) {
		seterr(err, errlen, "btf: no struct %s", type);
		return -1;
	}
	uint64_t o = 0;
	uint32_t mt = 0;
	int r = btf_find_member(b, id, member, &o, &mt);
	if (r <= 0) {
		seterr(err, errlen, r < 0 ? "btf: %s.%s is a bitfield"
				       : "btf: struct %s has no member %s",
		       type, member);
		return -1;
	}
	*offset = o;
	if (size)
		*size = type_size(b, mt);
	return 0;
}

int btf_datasec_var(const struct btf *b, const char *sec, const char *var,
		    uint64_t *offset, uint64_t *size, char *err, size_t errlen)
{
	int id = btf__find_by_name_kind(b, sec, BTF_KIND_DATASEC);
	const struct btf_type *t = id > 0 ? btf__type_by_id(b, (uint32_t)id)
					  : NULL;
	if (!t) {
		seterr(err, errlen, "btf: no DATASEC %s", sec);
		return -1;
	}
	const struct btf_var_secinfo *v = btf_var_secinfos(t);
	for (uint32_t i = 0; i < btf_vlen(t); i++, v++) {
		const struct btf_type *vt = btf__type_by_id(b, v->type);
		if (!vt || !btf_is_var(vt))
			continue;
		const char *s = btf__name_by_offset(b, vt->name_off);
		if (s && !strcmp(s, var)) {
			*offset = v->offset;
			if (size)
				*size = v->size;
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
