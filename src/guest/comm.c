/* comm.c - compile --comm EXPR into what the sampler reads per sample.
 *
 * EXPR is a small C expression over the kernel's globals and the sampled
 * vCPU's registers: `.`, `->`, `[index]`, unary `*` and `&`, casts to named
 * types, integer constants, `+` and `-`; `$cpu`, `$gs_base`, `$fs_base`,
 * `$cr3` and the general registers are variables.  Types and offsets come
 * from the DWARF, or from the BTF when the kernel ELF has no DWARF (a
 * distribution's vmlinux; the type sources below); the result must be a
 * char array or a char *.  It is
 * compiled once into a stack program (struct comm_op, commprog.h) that the
 * sampler runs with the round's registers and memory.  "*SYMBOL+OFFSET" and
 * "SYMBOL+OFFSET" keep their meaning (symbols alone, no types).
 *
 * --pid EXPR (#15) is the same language with an integer result (any
 * integer or enum type, or an untyped symbol's word); a pointer, array or
 * struct is refused by name.  In memory: the recipe gives its address and
 * size; computed (a cast, a register): the program's value is the id. */
#include "unwind.h"
#include "errmsg.h"
#include "sample.h"
#include "symtab.h"
#include "commprog.h"
#include "btf.h"

#include <ctype.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <bpf/btf.h>
#include <libelf.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define COMM_DEFAULT_LEN 16   /* Linux TASK_COMM_LEN; the name is NUL-terminated */

/* All symbols (SYMTAB_ALL) of the kernel ELF, else of the --symbols text,
 * from the files already open when f has them. */
static struct symtab *all_syms(const struct comm_files *f, int64_t bias,
			       char *e2, size_t e2len)
{
	struct symtab *t = NULL;
	if (f->kernel)
		t = f->kernel_elf
			? symtab_from_elf_handle(f->kernel_elf, f->kernel,
						 (uint64_t)bias, SYMTAB_ALL, e2,
						 e2len)
			: symtab_from_elf_flags(f->kernel, (uint64_t)bias,
						SYMTAB_ALL, e2, e2len);
	if (!t && f->symbols)
		t = f->symbols_text
			? symtab_from_nm_buf(f->symbols, f->symbols_text,
					     f->symbols_len, (uint64_t)bias,
					     SYMTAB_ALL, e2, e2len)
			: symtab_from_nm_flags(f->symbols, (uint64_t)bias,
					       SYMTAB_ALL, e2, e2len);
	return t;
}

static int sym_addr(const char *name, const struct comm_files *f,
		    int64_t bias, uint64_t *addr, char *err, size_t errlen)
{
	char e2[200] = "";
	struct symtab *t = all_syms(f, bias, e2, sizeof e2);
	if (!t) {
		seterr(err, errlen, "--comm: no symbols (%s)",
		       *e2 ? e2 : "need --kernel or --symbols");
		return -1;
	}
	const struct sym *s = symtab_find(t, name);
	int rc = -1;
	if (s) {
		*addr = s->addr;
		rc = 0;
	} else {
		seterr(err, errlen, "--comm: symbol '%s' not found", name);
	}
	symtab_free(t);
	return rc;
}

/* Skip typedefs and qualifiers. */
static Dwarf_Die *strip(Dwarf_Die *die, Dwarf_Die *mem)
{
	for (int i = 0; i < 32 && die; i++) {
		int tag = dwarf_tag(die);
		if (tag != DW_TAG_typedef && tag != DW_TAG_const_type &&
		    tag != DW_TAG_volatile_type && tag != DW_TAG_restrict_type &&
		    tag != DW_TAG_atomic_type)
			return die;
		Dwarf_Attribute a;
		if (!dwarf_attr_integrate(die, DW_AT_type, &a) ||
		    !dwarf_formref_die(&a, mem))
			return NULL;
		die = mem;
	}
	return NULL;
}

static Dwarf_Die *type_of(Dwarf_Die *die, Dwarf_Die *mem)
{
	Dwarf_Attribute a;
	if (!dwarf_attr_integrate(die, DW_AT_type, &a) ||
	    !dwarf_formref_die(&a, mem))
		return NULL;
	return strip(mem, mem);
}

/* First top-level DIE of this tag and name in any CU; with want_def, skip
 * declarations. */
static int find_global(Dwarf *dw, int tag, const char *name, int want_def,
		       Dwarf_Die *out)
{
	Dwarf_Off off = 0, next;
	size_t hsize;
	int found = 0;
	while (dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		Dwarf_Die cu, child;
		if (dwarf_offdie(dw, off + hsize, &cu) &&
		    dwarf_child(&cu, &child) == 0) {
			do {
				if (dwarf_tag(&child) != tag)
					continue;
				const char *n = dwarf_diename(&child);
				if (!n || strcmp(n, name))
					continue;
				int decl = dwarf_hasattr(&child, DW_AT_declaration);
				if (!decl || !want_def) {
					*out = child;
					found = 1;
					if (!decl)
						return 1;
				}
			} while (dwarf_siblingof(&child, &child) == 0);
		}
		off = next;
	}
	return found;
}

static int member_offset(Dwarf_Die *m, int64_t *off)
{
	Dwarf_Attribute a;
	Dwarf_Word w;
	if (!dwarf_attr(m, DW_AT_data_member_location, &a)) {
		*off = 0;              /* union members */
		return 0;
	}
	if (dwarf_formudata(&a, &w) == 0) {
		*off = (int64_t)w;
		return 0;
	}
	Dwarf_Op *ops;
	size_t n;
	if (dwarf_getlocation(&a, &ops, &n) == 0 && n == 1 &&
	    ops[0].atom == DW_OP_plus_uconst) {
		*off = (int64_t)ops[0].number;
		return 0;
	}
	return -1;
}

static int parse_num(const char *s, int64_t *v)
{
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 0);
	if (errno || end == s || *end)
		return -1;
	*v = x;
	return 0;
}


/* ---- the expression compiler ---- */

enum { T_EOF, T_ID, T_NUM, T_REG, T_ARROW, T_PUNCT };

/* A type: ptr synthesized '*' levels over a type of the type source (a
 * DIE, or a BTF type id).  has 0 and ptr 0: an integer word. */
struct cty {
	int ptr;
	int has;
	Dwarf_Die die;          /* DWARF */
	uint32_t id;            /* BTF */
};

struct val {
	int lv;         /* the program leaves the address of the value */
	struct cty t;
	char sym[128];  /* a symbol without a type in the debug info */
};

struct cc;

/* Where types, members and globals come from: the kernel's DWARF (libdw)
 * or, without DWARF, its BTF (libbpf).  Kinds are told in DW_TAG_*
 * terms; a type handed out is without typedefs and qualifiers, and a
 * struct/union declared here and defined elsewhere is the definition. */
struct type_source {
	const char *name;                       /* "DWARF", "BTF": messages */
	int (*tag)(struct cc *c, const struct cty *t);
	const char *(*tname)(struct cc *c, const struct cty *t);   /* or NULL */
	int (*size)(struct cc *c, const struct cty *t, uint64_t *sz);
	/* pointer/array -> the type pointed at / of an element; -1 void */
	int (*target)(struct cc *c, const struct cty *t, struct cty *out);
	int (*count)(struct cc *c, const struct cty *t);    /* array, or -1 */
	int (*is_decl)(struct cc *c, const struct cty *t);  /* no definition */
	/* field of a struct/union (anonymous members looked into): 1 with its
	 * byte offset and type, 0 none, -1 a bitfield */
	int (*member)(struct cc *c, const struct cty *t, const char *name,
		      int64_t *off, struct cty *mt);
	void (*members)(struct cc *c, const struct cty *t, char *buf, size_t len);
	/* tag struct/union/enum, or 0: a typedef or base type; 1 found */
	int (*find_type)(struct cc *c, int tag, const char *name, struct cty *t);
	int (*is_typedef)(struct cc *c, const char *name);  /* and no variable */
	/* a global variable: 1 with its type, and its address when the
	 * debug info has one (*has_addr) */
	int (*var)(struct cc *c, const char *name, struct cty *t, int *has_addr,
		   uint64_t *addr);
	/* a base type's encoding as DWARF's DW_ATE_* (0: not known) */
	int (*encoding)(struct cc *c, const struct cty *t);
};

struct cc {
	const char *src;
	size_t pos;
	const struct type_source *ts;   /* NULL: symbols only */
	Dwarf *dw;
	const struct btf *btf;
	struct symtab *syms;
	int64_t bias;   /* the kernel's slide, already in syms' addresses */
	int ws;
	struct comm_recipe *r;
	char *err;
	size_t errlen;
	int failed;
	int tok;
	char id[128];
	uint64_t num;
	int col;        /* of the current token, 1-based */
	int pid;        /* --pid: an integer result, not a name */
};

/* -- DWARF -- */

/* A struct/union declared here and defined in another CU: the definition. */
static void dw_complete(struct cc *c, struct cty *t)
{
	if (t->ptr || !t->has)
		return;
	int tag = dwarf_tag(&t->die);
	if ((tag != DW_TAG_structure_type && tag != DW_TAG_union_type) ||
	    !dwarf_hasattr(&t->die, DW_AT_declaration))
		return;
	const char *n = dwarf_diename(&t->die);
	Dwarf_Die d;
	if (n && find_global(c->dw, tag, n, 1, &d) && !dwarf_hasattr(&d, DW_AT_declaration))
		t->die = d;
}

/* The type of die (DW_AT_type), stripped and completed; has 0: void. */
static void dw_type_of(struct cc *c, Dwarf_Die *die, struct cty *t)
{
	Dwarf_Die mem;
	Dwarf_Die *d = type_of(die, &mem);
	memset(t, 0, sizeof *t);
	if (d) {
		t->has = 1;
		t->die = *d;
		dw_complete(c, t);
	}
}

static int dw_tag(struct cc *c, const struct cty *t)
{
	return dwarf_tag((Dwarf_Die *)&t->die);
}

static const char *dw_tname(struct cc *c, const struct cty *t)
{
	return dwarf_diename((Dwarf_Die *)&t->die);
}

static int dw_size(struct cc *c, const struct cty *t, uint64_t *sz)
{
	Dwarf_Word w;
	if (dwarf_aggregate_size((Dwarf_Die *)&t->die, &w) != 0)
		return -1;
	*sz = w;
	return 0;
}

static int dw_target(struct cc *c, const struct cty *t, struct cty *out)
{
	Dwarf_Die d = t->die;
	dw_type_of(c, &d, out);
	return out->has ? 0 : -1;
}

static int dw_count(struct cc *c, const struct cty *t)
{
	Dwarf_Die sub;
	if (dwarf_child((Dwarf_Die *)&t->die, &sub) != 0 ||
	    dwarf_tag(&sub) != DW_TAG_subrange_type)
		return -1;
	Dwarf_Attribute a;
	Dwarf_Word w;
	if (dwarf_attr(&sub, DW_AT_count, &a) && dwarf_formudata(&a, &w) == 0)
		return (int)w;
	if (dwarf_attr(&sub, DW_AT_upper_bound, &a) && dwarf_formudata(&a, &w) == 0)
		return (int)w + 1;
	return -1;
}

static int dw_is_decl(struct cc *c, const struct cty *t)
{
	return dwarf_hasattr((Dwarf_Die *)&t->die, DW_AT_declaration);
}

/* Member name of struct/union s (also inside anonymous members). */
static int dw_find_member(Dwarf_Die *s, const char *name, int64_t base,
			  int64_t *off, Dwarf_Die *m_out, int depth)
{
	Dwarf_Die m;
	if (depth > 8 || dwarf_child(s, &m) != 0)
		return 0;
	do {
		if (dwarf_tag(&m) != DW_TAG_member)
			continue;
		const char *n = dwarf_diename(&m);
		int64_t mo;
		if (member_offset(&m, &mo) < 0)
			continue;
		if (n && !strcmp(n, name)) {
			*off = base + mo;
			*m_out = m;
			return 1;
		}
		if (!n) {
			Dwarf_Die tm;
			Dwarf_Die *t = type_of(&m, &tm);
			if (t && (dwarf_tag(t) == DW_TAG_structure_type ||
				  dwarf_tag(t) == DW_TAG_union_type) &&
			    dw_find_member(t, name, base + mo, off, m_out, depth + 1))
				return 1;
		}
	} while (dwarf_siblingof(&m, &m) == 0);
	return 0;
}

static int dw_member(struct cc *c, const struct cty *t, const char *name,
		     int64_t *off, struct cty *mt)
{
	Dwarf_Die s = t->die, m;
	if (!dw_find_member(&s, name, 0, off, &m, 0))
		return 0;
	dw_type_of(c, &m, mt);
	return 1;
}

/* "a, b, c" into buf; ", ..." when it does not fit */
static int add_name(char *buf, size_t len, const char *n)
{
	size_t k = strlen(buf);
	if (k + strlen(n) + 8 >= len) {
		if (k + 5 < len && !strstr(buf, "..."))
			strcat(buf, ", ...");
		return -1;
	}
	snprintf(buf + k, len - k, "%s%s", k ? ", " : "", n);
	return 0;
}

static int dw_list(Dwarf_Die *s, char *buf, size_t len, int depth)
{
	Dwarf_Die m;
	if (depth > 8 || dwarf_child(s, &m) != 0)
		return 0;
	do {
		if (dwarf_tag(&m) != DW_TAG_member)
			continue;
		const char *n = dwarf_diename(&m);
		if (!n) {
			Dwarf_Die tm;
			Dwarf_Die *t = type_of(&m, &tm);
			if (t && dw_list(t, buf, len, depth + 1) < 0)
				return -1;
			continue;
		}
		if (add_name(buf, len, n) < 0)
			return -1;
	} while (dwarf_siblingof(&m, &m) == 0);
	return 0;
}

static void dw_members(struct cc *c, const struct cty *t, char *buf, size_t len)
{
	Dwarf_Die s = t->die;
	dw_list(&s, buf, len, 0);
}

static int dw_find_type(struct cc *c, int tag, const char *name, struct cty *t)
{
	Dwarf_Die d, mem;
	int found = tag ? find_global(c->dw, tag, name, 1, &d)
			: find_global(c->dw, DW_TAG_typedef, name, 0, &d) ||
			  find_global(c->dw, DW_TAG_base_type, name, 0, &d);
	if (!found)
		return 0;
	Dwarf_Die *s = strip(&d, &mem);
	memset(t, 0, sizeof *t);
	t->has = s != NULL;
	if (s)
		t->die = *s;
	dw_complete(c, t);
	return 1;
}

static int dw_is_typedef(struct cc *c, const char *name)
{
	Dwarf_Die d;
	if (find_global(c->dw, DW_TAG_variable, name, 0, &d))
		return 0;
	return find_global(c->dw, DW_TAG_typedef, name, 0, &d);
}

static int dw_var(struct cc *c, const char *name, struct cty *t, int *has_addr,
		  uint64_t *addr)
{
	Dwarf_Die var;
	if (!find_global(c->dw, DW_TAG_variable, name, 1, &var))
		return 0;
	Dwarf_Attribute a;
	Dwarf_Op *ops = NULL;
	size_t n = 0;
	*has_addr = dwarf_attr(&var, DW_AT_location, &a) &&
		    dwarf_getlocation(&a, &ops, &n) == 0 && n == 1 &&
		    ops[0].atom == DW_OP_addr;
	if (*has_addr)
		*addr = ops[0].number;
	dw_type_of(c, &var, t);
	return 1;
}

static int dw_encoding(struct cc *c, const struct cty *t)
{
	Dwarf_Attribute a;
	Dwarf_Word enc = 0;
	if (dwarf_attr((Dwarf_Die *)&t->die, DW_AT_encoding, &a))
		dwarf_formudata(&a, &enc);
	return (int)enc;
}

static const struct type_source dwarf_source = {
	"DWARF", dw_tag, dw_tname, dw_size, dw_target, dw_count, dw_is_decl,
	dw_member, dw_members, dw_find_type, dw_is_typedef, dw_var, dw_encoding,
};

/* -- BTF -- */

static const struct btf_type *bt(struct cc *c, const struct cty *t)
{
	return btf__type_by_id(c->btf, t->id);
}

/* Type id -> a type without typedefs and qualifiers, a forward replaced by
 * its definition; has 0: void (or a chain that does not resolve). */
static void bt_norm(struct cc *c, uint32_t id, struct cty *t)
{
	memset(t, 0, sizeof *t);
	int r = btf__resolve_type(c->btf, id);
	const struct btf_type *bty = r > 0 ? btf__type_by_id(c->btf, (uint32_t)r) : NULL;
	if (!bty)
		return;
	t->has = 1;
	t->id = (uint32_t)r;
	if (btf_is_fwd(bty)) {
		const char *n = btf__name_by_offset(c->btf, bty->name_off);
		uint32_t d = n && *n ? btf_find_struct(c->btf, n, btf_kflag(bty)
						       ? BTF_KIND_UNION : BTF_KIND_STRUCT) : 0;
		const struct btf_type *dt = d ? btf__type_by_id(c->btf, d) : NULL;
		if (dt && btf_vlen(dt))
			t->id = d;
	}
}

static int bt_tag(struct cc *c, const struct cty *t)
{
	const struct btf_type *x = bt(c, t);
	if (!x)
		return 0;
	switch (btf_kind(x)) {
	case BTF_KIND_STRUCT: return DW_TAG_structure_type;
	case BTF_KIND_UNION: return DW_TAG_union_type;
	case BTF_KIND_FWD: return btf_kflag(x) ? DW_TAG_union_type : DW_TAG_structure_type;
	case BTF_KIND_ENUM: case BTF_KIND_ENUM64: return DW_TAG_enumeration_type;
	case BTF_KIND_PTR: return DW_TAG_pointer_type;
	case BTF_KIND_ARRAY: return DW_TAG_array_type;
	case BTF_KIND_FUNC: case BTF_KIND_FUNC_PROTO: return DW_TAG_subroutine_type;
	case BTF_KIND_INT: case BTF_KIND_FLOAT: return DW_TAG_base_type;
	default: return 0;
	}
}

static const char *bt_tname(struct cc *c, const struct cty *t)
{
	const struct btf_type *x = bt(c, t);
	const char *n = x ? btf__name_by_offset(c->btf, x->name_off) : NULL;
	return n && *n ? n : NULL;
}

static int bt_size(struct cc *c, const struct cty *t, uint64_t *sz)
{
	long long s = btf__resolve_size(c->btf, t->id);
	if (s < 0)
		return -1;
	*sz = (uint64_t)s;
	return 0;
}

static int bt_target(struct cc *c, const struct cty *t, struct cty *out)
{
	const struct btf_type *x = bt(c, t);
	if (!x || (!btf_is_ptr(x) && !btf_is_array(x)))
		return -1;
	bt_norm(c, btf_is_ptr(x) ? x->type : btf_array(x)->type, out);
	return out->has ? 0 : -1;
}

static int bt_count(struct cc *c, const struct cty *t)
{
	const struct btf_type *x = bt(c, t);
	if (!x || !btf_is_array(x) || btf_array(x)->nelems > 0x7fffffff)
		return -1;
	return (int)btf_array(x)->nelems;
}

static int bt_is_decl(struct cc *c, const struct cty *t)
{
	const struct btf_type *x = bt(c, t);
	return !x || btf_is_fwd(x);
}

static int bt_member(struct cc *c, const struct cty *t, const char *name,
		     int64_t *off, struct cty *mt)
{
	uint64_t o;
	uint32_t ty;
	int r = btf_find_member(c->btf, t->id, name, &o, &ty);
	if (r <= 0)
		return r;
	*off = (int64_t)o;
	bt_norm(c, ty, mt);
	return 1;
}

static int bt_list(struct cc *c, uint32_t id, char *buf, size_t len, int depth,
		   long *budget)
{
	const struct btf_type *x = btf__type_by_id(c->btf, id);
	if (depth > 8 || !x || !btf_is_composite(x))
		return 0;
	const struct btf_member *m = btf_members(x);
	for (uint32_t i = 0; i < btf_vlen(x); i++, m++) {
		if (--*budget < 0)
			return -1;
		const char *n = btf__name_by_offset(c->btf, m->name_off);
		if (!n || !*n) {
			struct cty mt;
			bt_norm(c, m->type, &mt);
			if (mt.has && bt_list(c, mt.id, buf, len, depth + 1, budget) < 0)
				return -1;
			continue;
		}
		if (add_name(buf, len, n) < 0)
			return -1;
	}
	return 0;
}

static void bt_members(struct cc *c, const struct cty *t, char *buf, size_t len)
{
	long budget = 1L << 16;
	bt_list(c, t->id, buf, len, 0, &budget);
}

static int bt_find_type(struct cc *c, int tag, const char *name, struct cty *t)
{
	int id = 0;
	if (tag == DW_TAG_structure_type || tag == DW_TAG_union_type) {
		id = (int)btf_find_struct(c->btf, name, tag == DW_TAG_union_type
					  ? BTF_KIND_UNION : BTF_KIND_STRUCT);
		if (id <= 0)   /* only declared: "has no definition" later */
			id = btf__find_by_name_kind(c->btf, name, BTF_KIND_FWD);
	} else if (tag == DW_TAG_enumeration_type) {
		id = btf__find_by_name_kind(c->btf, name, BTF_KIND_ENUM);
		if (id <= 0)
			id = btf__find_by_name_kind(c->btf, name, BTF_KIND_ENUM64);
	} else {
		static const int kinds[] = { BTF_KIND_TYPEDEF, BTF_KIND_INT,
					     BTF_KIND_FLOAT };
		for (size_t i = 0; i < 3 && id <= 0; i++)
			id = btf__find_by_name_kind(c->btf, name, (uint32_t)kinds[i]);
	}
	if (id <= 0)
		return 0;
	bt_norm(c, (uint32_t)id, t);
	return 1;
}

static int bt_is_typedef(struct cc *c, const char *name)
{
	return btf__find_by_name_kind(c->btf, name, BTF_KIND_VAR) <= 0 &&
	       btf__find_by_name_kind(c->btf, name, BTF_KIND_TYPEDEF) > 0;
}

/* BTF has VARs (per-CPU variables in .data..percpu) but no addresses:
 * those come from the symbols. */
static int bt_var(struct cc *c, const char *name, struct cty *t, int *has_addr,
		  uint64_t *addr)
{
	int id = btf__find_by_name_kind(c->btf, name, BTF_KIND_VAR);
	const struct btf_type *x = id > 0 ? btf__type_by_id(c->btf, (uint32_t)id) : NULL;
	if (!x)
		return 0;
	*has_addr = 0;
	bt_norm(c, x->type, t);
	return 1;
}

static int bt_encoding(struct cc *c, const struct cty *t)
{
	const struct btf_type *x = bt(c, t);
	if (!x)
		return 0;
	if (btf_kind(x) == BTF_KIND_FLOAT)
		return DW_ATE_float;
	if (btf_kind(x) != BTF_KIND_INT)
		return 0;
	uint8_t e = btf_int_encoding(x);
	if (e & BTF_INT_BOOL)
		return DW_ATE_boolean;
	if (e & BTF_INT_CHAR)
		return e & BTF_INT_SIGNED ? DW_ATE_signed_char : DW_ATE_unsigned_char;
	return e & BTF_INT_SIGNED ? DW_ATE_signed : DW_ATE_unsigned;
}

static const struct type_source btf_source = {
	"BTF", bt_tag, bt_tname, bt_size, bt_target, bt_count, bt_is_decl,
	bt_member, bt_members, bt_find_type, bt_is_typedef, bt_var, bt_encoding,
};

/* -- the compiler, over c->ts -- */

__attribute__((format(printf, 3, 4)))
static int fail(struct cc *c, int col, const char *fmt, ...)
{
	if (c->failed)
		return -1;
	c->failed = 1;
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	seterr(c->err, c->errlen, "column %d: %s", col, msg);
	return -1;
}

static int next(struct cc *c)
{
	const char *s = c->src;
	while (s[c->pos] == ' ' || s[c->pos] == '\t')
		c->pos++;
	c->col = (int)c->pos + 1;
	char ch = s[c->pos];
	if (!ch) {
		c->tok = T_EOF;
		return 0;
	}
	if (isalpha((unsigned char)ch) || ch == '_' || ch == '$') {
		size_t k = 0, p = c->pos + (ch == '$');
		if (ch == '$' && !isalpha((unsigned char)s[p]) && s[p] != '_')
			return fail(c, c->col, "expected a register name after '$'");
		while (isalnum((unsigned char)s[p]) || s[p] == '_') {
			if (k + 1 >= sizeof c->id)
				return fail(c, c->col, "name too long");
			c->id[k++] = s[p++];
		}
		c->id[k] = 0;
		c->tok = ch == '$' ? T_REG : T_ID;
		c->pos = p;
		return 0;
	}
	if (isdigit((unsigned char)ch)) {
		char *end;
		errno = 0;
		c->num = strtoull(s + c->pos, &end, 0);
		if (errno || isalnum((unsigned char)*end) || *end == '_')
			return fail(c, c->col, "bad number");
		c->pos = (size_t)(end - s);
		c->tok = T_NUM;
		return 0;
	}
	if (ch == '-' && s[c->pos + 1] == '>') {
		c->tok = T_ARROW;
		c->pos += 2;
		return 0;
	}
	if (strchr(".[]()*&+-", ch)) {
		c->tok = T_PUNCT;
		c->id[0] = ch;
		c->id[1] = 0;
		c->pos++;
		return 0;
	}
	return fail(c, c->col, "unexpected character '%c'", isprint((unsigned char)ch) ? ch : '?');
}

static int is_punct(const struct cc *c, char ch)
{
	return c->tok == T_PUNCT && c->id[0] == ch;
}

static const char *tok_text(const struct cc *c)
{
	switch (c->tok) {
	case T_EOF: return "end of expression";
	case T_ARROW: return "->";
	case T_NUM: return "number";
	default: return c->id;
	}
}

static int emit(struct cc *c, int op, int arg, int64_t imm)
{
	struct comm_recipe *r = c->r;
	if (r->nops >= COMM_MAX_OPS)
		return fail(c, c->col, "expression too long for the sampler (more than %d steps)",
			    COMM_MAX_OPS);
	r->ops[r->nops++] = (struct comm_op){ (uint8_t)op, (uint8_t)arg, imm };
	uint8_t keep = r->fixed;
	comm_optimize(r);       /* folds constants as we go */
	r->fixed = keep;
	return 0;
}

static int ty_tag(struct cc *c, const struct cty *t)
{
	if (t->ptr)
		return DW_TAG_pointer_type;
	return t->has && c->ts ? c->ts->tag(c, t) : 0;
}

static void ty_name_d(struct cc *c, const struct cty *t, char *buf, size_t len,
		      int depth)
{
	char inner[160] = "";
	if (!t->has || !c->ts) {
		snprintf(inner, sizeof inner, "an integer");
	} else {
		struct cty base = *t, x;
		base.ptr = 0;
		const char *n = c->ts->tname(c, &base);
		switch (c->ts->tag(c, &base)) {
		case DW_TAG_structure_type:
			snprintf(inner, sizeof inner, "struct %s", n ? n : "(anonymous)");
			break;
		case DW_TAG_union_type:
			snprintf(inner, sizeof inner, "union %s", n ? n : "(anonymous)");
			break;
		case DW_TAG_enumeration_type:
			snprintf(inner, sizeof inner, "enum %s", n ? n : "(anonymous)");
			break;
		case DW_TAG_pointer_type:
			if (depth < 8 && c->ts->target(c, &base, &x) == 0) {
				ty_name_d(c, &x, inner, sizeof inner - 2, depth + 1);
				strcat(inner, " *");
			} else {
				snprintf(inner, sizeof inner, "%s", depth < 8 ? "void *" : "...");
			}
			break;
		case DW_TAG_array_type:
			if (depth < 8 && c->ts->target(c, &base, &x) == 0)
				ty_name_d(c, &x, inner, sizeof inner - 3, depth + 1);
			strcat(inner, " []");
			break;
		case DW_TAG_subroutine_type:
			snprintf(inner, sizeof inner, "a function");
			break;
		default:
			snprintf(inner, sizeof inner, "%s", n ? n : "?");
		}
	}
	snprintf(buf, len, "%s", inner);
	for (int i = 0; i < t->ptr && strlen(buf) + 2 < len; i++)
		strcat(buf, i ? "*" : " *");
}

static void ty_name(struct cc *c, const struct cty *t, char *buf, size_t len)
{
	ty_name_d(c, t, buf, len, 0);
}

static int ty_size(struct cc *c, const struct cty *t, uint64_t *sz)
{
	int tag = ty_tag(c, t);
	if (!t->has || t->ptr || tag == DW_TAG_pointer_type) {
		*sz = (uint64_t)c->ws;
		return 0;
	}
	return c->ts->size(c, t, sz);
}

/* Pointer or array -> the type pointed at / of an element; -1 for void. */
static int ty_target(struct cc *c, const struct cty *t, struct cty *out)
{
	if (t->ptr) {
		*out = *t;
		out->ptr--;
		return 0;
	}
	if (!t->has || !c->ts)
		return -1;
	return c->ts->target(c, t, out);
}

static int is_char(struct cc *c, const struct cty *t)
{
	uint64_t sz;
	return !t->ptr && t->has && ty_tag(c, t) == DW_TAG_base_type &&
	       c->ts->size(c, t, &sz) == 0 && sz == 1;
}

/* After a failed use of v: a symbol with no type of its own needs a cast. */
static const char *untyped(struct cc *c, const struct val *v, char *buf,
			   size_t len)
{
	if (v->t.has || !v->sym[0])
		return "";
	snprintf(buf, len, "; '%.80s' is a symbol with no type in the %s (no variable "
		 "entry): cast its address, e.g. ((struct T *)&%.80s)", v->sym,
		 c->ts ? c->ts->name : "debug info", v->sym);
	return buf;
}

/* The value itself, not its address: arrays decay to a pointer. */
static int rval(struct cc *c, struct val *v, int col)
{
	if (!v->lv)
		return 0;
	int tag = ty_tag(c, &v->t);
	if (tag == DW_TAG_array_type) {
		struct cty e;
		if (ty_target(c, &v->t, &e) < 0)
			return fail(c, col, "array of unknown type");
		v->t = e;
		v->t.ptr++;
		v->lv = 0;
		return 0;
	}
	if (tag == DW_TAG_structure_type || tag == DW_TAG_union_type) {
		char tn[160];
		ty_name(c, &v->t, tn, sizeof tn);
		return fail(c, col, "%s is not a value here: pick a field with '.'", tn);
	}
	uint64_t sz;
	if (ty_size(c, &v->t, &sz) < 0 || (sz != 1 && sz != 2 && sz != 4 && sz != 8)) {
		char tn[160];
		ty_name(c, &v->t, tn, sizeof tn);
		return fail(c, col, "cannot load a value of type %s", tn);
	}
	v->lv = 0;
	return emit(c, COMM_OP_LOAD, (int)sz, 0);
}

static int member(struct cc *c, struct val *v, int col, int arrow)
{
	if (next(c) < 0)
		return -1;
	if (c->tok != T_ID)
		return fail(c, c->col, "expected a field name after '%s'", arrow ? "->" : ".");
	int fcol = c->col;
	char tn[160], hint[400];
	if (arrow) {
		if (rval(c, v, col) < 0)
			return -1;
		struct cty t;
		if (ty_tag(c, &v->t) != DW_TAG_pointer_type) {
			ty_name(c, &v->t, tn, sizeof tn);
			return fail(c, col, "'->' needs a pointer to a struct, not %s%s", tn,
				    untyped(c, v, hint, sizeof hint));
		}
		if (ty_target(c, &v->t, &t) < 0)
			return fail(c, col, "'->' through a void *: cast it first");
		v->t = t;
		v->lv = 1;
	} else if (!v->lv || ty_tag(c, &v->t) == DW_TAG_pointer_type) {
		ty_name(c, &v->t, tn, sizeof tn);
		return fail(c, col, "'.' needs a struct, not %s%s%s", tn,
			    ty_tag(c, &v->t) == DW_TAG_pointer_type ? " (use '->')" : "",
			    untyped(c, v, hint, sizeof hint));
	}
	int tag = ty_tag(c, &v->t);
	ty_name(c, &v->t, tn, sizeof tn);
	if (tag != DW_TAG_structure_type && tag != DW_TAG_union_type)
		return fail(c, col, "%s has no fields%s", tn,
			    untyped(c, v, hint, sizeof hint));
	if (c->ts->is_decl(c, &v->t))
		return fail(c, col, "%s has no definition in the %s", tn, c->ts->name);
	int64_t off;
	struct cty mt;
	int found = c->ts->member(c, &v->t, c->id, &off, &mt);
	if (found < 0)
		return fail(c, fcol, "%s.%s is a bitfield: not readable here", tn, c->id);
	if (!found) {
		char fl[240] = "";
		c->ts->members(c, &v->t, fl, sizeof fl);
		return fail(c, fcol, "%s has no field '%s' (fields: %s)", tn, c->id,
			    *fl ? fl : "none");
	}
	v->t = mt;
	v->sym[0] = 0;
	v->lv = 1;
	if (emit(c, COMM_OP_ADDI, 0, off) < 0)
		return -1;
	return next(c);
}

static int expr(struct cc *c, struct val *v);
static int unary(struct cc *c, struct val *v);

static const char *const base_words[] = { "unsigned", "signed", "char", "short",
					  "int", "long", NULL };
static int is_base_word(const char *w)
{
	for (int i = 0; base_words[i]; i++)
		if (!strcmp(w, base_words[i]))
			return 1;
	return 0;
}

/* After '(' with c->tok at the first word: a type name? */
static int looks_like_type(struct cc *c)
{
	if (c->tok != T_ID)
		return 0;
	if (!strcmp(c->id, "struct") || !strcmp(c->id, "union") ||
	    !strcmp(c->id, "enum") || is_base_word(c->id) || !strcmp(c->id, "void"))
		return 1;
	return c->ts && c->ts->is_typedef(c, c->id);
}

/* Type name up to ')' (consumed). */
static int type_name(struct cc *c, struct cty *t)
{
	int col = c->col, tag = 0;
	char name[160] = "";
	memset(t, 0, sizeof *t);
	if (!strcmp(c->id, "struct") || !strcmp(c->id, "union") || !strcmp(c->id, "enum")) {
		tag = c->id[0] == 's' ? DW_TAG_structure_type :
		      c->id[0] == 'u' ? DW_TAG_union_type : DW_TAG_enumeration_type;
		if (next(c) < 0)
			return -1;
		if (c->tok != T_ID)
			return fail(c, c->col, "expected a name after the struct/union keyword");
		snprintf(name, sizeof name, "%s", c->id);
		if (next(c) < 0)
			return -1;
	} else if (!strcmp(c->id, "void")) {
		snprintf(name, sizeof name, "void");
		if (next(c) < 0)
			return -1;
	} else {
		/* one typedef name, or base type words ("unsigned long") */
		int base = is_base_word(c->id);
		snprintf(name, sizeof name, "%s", c->id);
		if (next(c) < 0)
			return -1;
		while (base && c->tok == T_ID && is_base_word(c->id)) {
			size_t k = strlen(name);
			snprintf(name + k, sizeof name - k, " %s", c->id);
			if (next(c) < 0)
				return -1;
		}
	}
	if (!strcmp(name, "void")) {
		t->has = 0;
	} else if (!c->ts) {
		return fail(c, col, "casts need the kernel's DWARF or BTF (--kernel ELF with "
			    "debug info or a .BTF section)");
	} else if (!c->ts->find_type(c, tag, name, t)) {
		return fail(c, col, "no type '%s%s' in the %s",
			    tag == DW_TAG_structure_type ? "struct " :
			    tag == DW_TAG_union_type ? "union " :
			    tag == DW_TAG_enumeration_type ? "enum " : "", name,
			    c->ts->name);
	}
	int is_void = !strcmp(name, "void");
	while (is_punct(c, '*')) {
		t->ptr++;
		if (next(c) < 0)
			return -1;
	}
	if (is_void && !t->ptr)
		return fail(c, col, "cannot cast to void");
	/* void *: a pointer to a word (has 0) */
	if (!is_punct(c, ')'))
		return fail(c, c->col, "expected ')' after the type, not '%s'", tok_text(c));
	return next(c);
}

/* A Linux x86_64 per-CPU symbol (below __per_cpu_end in a zero-based
 * per-CPU section: __per_cpu_end is a small number before the slide) is an
 * offset from the per-CPU base, which KASLR does not move: the slide the
 * symbol table added comes off again.  (__per_cpu_start, at 0, is not in
 * the table.) */
static uint64_t percpu_unslid(struct cc *c, uint64_t addr)
{
	if (!c->bias || !c->syms)
		return addr;
	const struct sym *e = symtab_find(c->syms, "__per_cpu_end");
	uint64_t end = e ? e->addr - (uint64_t)c->bias : 0;
	if (e && end < 0x10000000u && addr - (uint64_t)c->bias < end)
		return addr - (uint64_t)c->bias;
	return addr;
}

static int primary(struct cc *c, struct val *v)
{
	int col = c->col;
	memset(v, 0, sizeof *v);
	if (c->tok == T_NUM) {
		if (emit(c, COMM_OP_PUSH, 0, (int64_t)c->num) < 0)
			return -1;
		return next(c);
	}
	if (c->tok == T_REG) {
		int reg = comm_reg_by_name(c->id);
		if (reg < 0)
			return fail(c, col, "unknown register '$%s' (known: $cpu $gs_base $fs_base $cr3 "
				    "$rax..$r15 $eax..$esp $rip)", c->id);
		if (emit(c, COMM_OP_REG, reg, 0) < 0)
			return -1;
		return next(c);
	}
	if (is_punct(c, '(')) {
		if (next(c) < 0 || expr(c, v) < 0)
			return -1;
		if (!is_punct(c, ')'))
			return fail(c, c->col, "expected ')', not '%s'", tok_text(c));
		return next(c);
	}
	if (c->tok != T_ID)
		return fail(c, col, "expected a name, a number, a register or '(', not '%s'",
			    tok_text(c));
	const struct sym *sy = c->syms ? symtab_find(c->syms, c->id) : NULL;
	struct cty vt;
	int has_addr = 0;
	uint64_t addr = 0, vaddr = 0;
	int have_var = c->ts && c->ts->var(c, c->id, &vt, &has_addr, &vaddr);
	if (sy) {
		addr = percpu_unslid(c, sy->addr);
	} else if (have_var && has_addr) {
		addr = vaddr;
	} else if (have_var) {
		return fail(c, col, c->ts == &btf_source
			    ? "'%s' is in the BTF but not in the symbols (its address "
			      "comes from --symbols or the ELF's symbol table)"
			    : "'%s' has no fixed address", c->id);
	} else {
		return fail(c, col, "no variable or symbol '%s'", c->id);
	}
	if (have_var)
		v->t = vt;
	else
		snprintf(v->sym, sizeof v->sym, "%s", c->id);
	v->lv = 1;
	if (emit(c, COMM_OP_PUSH, 0, (int64_t)addr) < 0)
		return -1;
	return next(c);
}

static int postfix(struct cc *c, struct val *v)
{
	if (primary(c, v) < 0)
		return -1;
	for (;;) {
		int col = c->col;
		if (is_punct(c, '.') || c->tok == T_ARROW) {
			if (member(c, v, col, c->tok == T_ARROW) < 0)
				return -1;
		} else if (is_punct(c, '[')) {
			struct cty e;
			char tn[160], hint[400];
			if (v->lv && ty_tag(c, &v->t) == DW_TAG_array_type) {
				if (ty_target(c, &v->t, &e) < 0)
					return fail(c, col, "array of unknown type");
			} else {
				if (rval(c, v, col) < 0)
					return -1;
				if (ty_tag(c, &v->t) != DW_TAG_pointer_type) {
					ty_name(c, &v->t, tn, sizeof tn);
					return fail(c, col, "'[' needs an array or a pointer, not %s%s",
						    tn, untyped(c, v, hint, sizeof hint));
				}
				if (ty_target(c, &v->t, &e) < 0)
					return fail(c, col, "cannot index a void *");
			}
			uint64_t esz;
			if (ty_size(c, &e, &esz) < 0) {
				ty_name(c, &e, tn, sizeof tn);
				return fail(c, col, "size of %s unknown", tn);
			}
			struct val i;
			if (next(c) < 0 || expr(c, &i) < 0)
				return -1;
			if (rval(c, &i, col) < 0)
				return -1;
			if (ty_tag(c, &i.t) == DW_TAG_pointer_type)
				return fail(c, col, "the index is a pointer");
			if (!is_punct(c, ']'))
				return fail(c, c->col, "expected ']', not '%s'", tok_text(c));
			if (emit(c, COMM_OP_MULI, 0, (int64_t)esz) < 0 ||
			    emit(c, COMM_OP_ADD, 0, 0) < 0)
				return -1;
			v->t = e;
			v->sym[0] = 0;
			v->lv = 1;
			if (next(c) < 0)
				return -1;
		} else {
			return 0;
		}
	}
}

static int unary(struct cc *c, struct val *v)
{
	int col = c->col;
	char tn[160], hint[400];
	if (is_punct(c, '*')) {
		if (next(c) < 0 || unary(c, v) < 0 || rval(c, v, col) < 0)
			return -1;
		if (ty_tag(c, &v->t) != DW_TAG_pointer_type) {
			ty_name(c, &v->t, tn, sizeof tn);
			return fail(c, col, "'*' needs a pointer, not %s (cast it first)%s", tn,
				    untyped(c, v, hint, sizeof hint));
		}
		struct cty t;
		if (ty_target(c, &v->t, &t) < 0)
			return fail(c, col, "'*' of a void *: cast it first");
		v->t = t;
		v->lv = 1;
		return 0;
	}
	if (is_punct(c, '&')) {
		if (next(c) < 0 || unary(c, v) < 0)
			return -1;
		if (!v->lv)
			return fail(c, col, "'&' needs something with an address");
		v->lv = 0;
		v->t.ptr++;
		return 0;
	}
	if (is_punct(c, '(')) {
		size_t save = c->pos;
		if (next(c) < 0)
			return -1;
		if (looks_like_type(c)) {
			struct cty t;
			if (type_name(c, &t) < 0 || unary(c, v) < 0 || rval(c, v, col) < 0)
				return -1;
			int tag = ty_tag(c, &t);
			if (tag == DW_TAG_structure_type || tag == DW_TAG_union_type ||
			    tag == DW_TAG_array_type) {
				ty_name(c, &t, tn, sizeof tn);
				return fail(c, col, "cannot cast to %s (cast to a pointer)", tn);
			}
			v->t = t;
			v->sym[0] = 0;
			v->lv = 0;
			return 0;
		}
		c->pos = save;          /* a parenthesised expression */
		c->tok = T_PUNCT;
		c->id[0] = '(';
		c->id[1] = 0;
		c->col = col;
	}
	return postfix(c, v);
}

static int expr(struct cc *c, struct val *v)
{
	if (unary(c, v) < 0)
		return -1;
	while (is_punct(c, '+') || is_punct(c, '-')) {
		int col = c->col, neg = c->id[0] == '-';
		if (rval(c, v, col) < 0)
			return -1;
		struct val b;
		if (next(c) < 0 || unary(c, &b) < 0 || rval(c, &b, col) < 0)
			return -1;
		if (ty_tag(c, &b.t) == DW_TAG_pointer_type)
			return fail(c, col, "pointer on the right of '%c': write it first", neg ? '-' : '+');
		uint64_t scale = 1;
		if (ty_tag(c, &v->t) == DW_TAG_pointer_type) {
			struct cty e;
			if (ty_target(c, &v->t, &e) < 0 || ty_size(c, &e, &scale) < 0)
				scale = 1;     /* void *: bytes */
		} else {
			memset(&v->t, 0, sizeof v->t);
		}
		if (scale != 1 || neg)
			if (emit(c, COMM_OP_MULI, 0, neg ? -(int64_t)scale : (int64_t)scale) < 0)
				return -1;
		if (emit(c, COMM_OP_ADD, 0, 0) < 0)
			return -1;
	}
	return 0;
}

/* --pid: the result must be an integer (base type other than a float, an
 * enum, or an untyped word).  In memory: read its bytes there; computed:
 * the program's value is the id. */
static int compile_pid(struct cc *c, struct val *v, struct comm_recipe *out)
{
	int tag = ty_tag(c, &v->t);
	char tn[160];
	ty_name(c, &v->t, tn, sizeof tn);
	if (tag == DW_TAG_pointer_type)
		return fail(c, 1, "the expression is %s, a pointer: --pid needs an "
			    "integer (the id's field, e.g. ->pid)", tn);
	int sext = 0;
	if (v->t.has && tag == DW_TAG_base_type) {
		int enc = c->ts->encoding(c, &v->t);
		if (enc == DW_ATE_float || enc == DW_ATE_complex_float)
			return fail(c, 1, "the expression is %s, not an integer", tn);
		sext = enc == DW_ATE_signed || enc == DW_ATE_signed_char;
	} else if (v->t.has && tag != DW_TAG_enumeration_type) {
		char fl[240] = "";
		if (tag == DW_TAG_structure_type || tag == DW_TAG_union_type)
			c->ts->members(c, &v->t, fl, sizeof fl);
		return fail(c, 1, "the expression is %s, not an integer%s%s%s", tn,
			    *fl ? " (fields: " : "", fl, *fl ? ")" : "");
	}
	uint64_t sz;
	if (ty_size(c, &v->t, &sz) < 0 || (sz != 1 && sz != 2 && sz != 4 && sz != 8))
		return fail(c, 1, "the expression is %s, not a 1, 2, 4 or 8 byte integer", tn);
	out->len = (uint8_t)sz;
	out->sext = (uint8_t)sext;
	out->value = !v->lv;
	return 0;
}

static int compile(struct cc *c, struct comm_recipe *out)
{
	struct val v;
	if (next(c) < 0 || expr(c, &v) < 0)
		return -1;
	if (c->tok != T_EOF)
		return fail(c, c->col, "unexpected '%s'", tok_text(c));
	if (c->pid)
		return compile_pid(c, &v, out);
	int tag = ty_tag(c, &v.t);
	struct cty e;
	char tn[160];
	int len = COMM_DEFAULT_LEN;
	if (v.lv && tag == DW_TAG_array_type && ty_target(c, &v.t, &e) == 0 && is_char(c, &e)) {
		len = c->ts->count(c, &v.t);
		if (len <= 0 || len > (int)QP_COMM_BYTES)
			len = QP_COMM_BYTES;
	} else if (tag == DW_TAG_pointer_type && ty_target(c, &v.t, &e) == 0 && is_char(c, &e)) {
		if (rval(c, &v, 1) < 0)      /* the pointer's value */
			return -1;
	} else if (v.lv && !v.t.has && !v.t.ptr) {
		/* a symbol without a type: the bytes at its address */
	} else {
		ty_name(c, &v.t, tn, sizeof tn);
		char fl[240] = "";
		if (tag == DW_TAG_structure_type || tag == DW_TAG_union_type)
			c->ts->members(c, &v.t, fl, sizeof fl);
		return fail(c, 1, "the expression is %s, not a char array or char *%s%s%s",
			    tn, *fl ? " (fields: " : "", fl, *fl ? ")" : "");
	}
	out->len = (uint8_t)len;
	return 0;
}

int comm_compile(const char *expr_s, void *dwarf, struct symtab *syms,
		 int wordsize, struct comm_recipe *r, char *err, size_t errlen)
{
	struct comm_recipe out;
	memset(&out, 0, sizeof out);
	out.wordsize = (uint8_t)wordsize;
	if (!expr_s || strlen(expr_s) >= 256) {
		seterr(err, errlen, "empty or too long expression");
		return -1;
	}
	struct cc c = { .src = expr_s, .dw = dwarf, .syms = syms, .ws = wordsize,
			.r = &out, .err = err, .errlen = errlen,
			.ts = dwarf ? &dwarf_source : NULL };
	if (compile(&c, &out) < 0)
		return -1;
	comm_optimize(&out);
	out.valid = 1;
	*r = out;
	return 0;
}

/* "*SYMBOL+OFFSET", "SYMBOL+OFFSET", "SYMBOL": the forms of old. */
static int legacy_form(const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '*')
		s++;
	while (isspace((unsigned char)*s))
		s++;
	if (!isalpha((unsigned char)*s) && *s != '_')
		return 0;
	while (isalnum((unsigned char)*s) || *s == '_')
		s++;
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '+' || *s == '-') {
		s++;
		while (isspace((unsigned char)*s))
			s++;
		if (!isdigit((unsigned char)*s))
			return 0;
		while (isalnum((unsigned char)*s))
			s++;
		while (isspace((unsigned char)*s))
			s++;
	}
	return *s == 0;
}

int comm_resolve(const char *expr_s, const char *kernel, const char *symbols,
		 int64_t bias, int wordsize, struct comm_recipe *r,
		 char *err, size_t errlen)
{
	struct comm_files f = { .kernel = kernel, .symbols = symbols };
	return comm_resolve_files(expr_s, &f, bias, wordsize, r, err, errlen);
}

static int resolve(const char *expr_s, const struct comm_files *f,
		   int64_t bias, int wordsize, int pid, struct comm_recipe *r,
		   char *err, size_t errlen)
{
	if (!expr_s || !*expr_s || strlen(expr_s) >= 256) {
		seterr(err, errlen, "empty or too long expression");
		return -1;
	}
	struct comm_recipe out;
	memset(&out, 0, sizeof out);
	out.wordsize = (uint8_t)wordsize;
	if (!pid && legacy_form(expr_s)) {
		char buf[256];
		size_t k = 0;
		for (const char *p = expr_s; *p; p++)
			if (!isspace((unsigned char)*p))
				buf[k++] = *p;
		buf[k] = 0;
		char *sym = buf;
		int deref = 0;
		if (*sym == '*') {
			deref = 1;
			sym++;
		}
		int64_t off = 0;
		char *plus = strpbrk(sym, "+-");
		if (plus) {
			if (parse_num(plus, &off) < 0) {
				seterr(err, errlen, "bad offset '%s'", plus);
				return -1;
			}
			*plus = 0;
		}
		uint64_t a;
		if (sym_addr(sym, f, bias, &a, err, errlen) < 0)
			return -1;
		if (deref) {
			out.addr = a;
			out.nderef = 1;
			out.off[0] = off;
		} else {
			out.addr = a + (uint64_t)off;
		}
		out.len = COMM_DEFAULT_LEN;
		out.fixed = 1;
		out.valid = 1;
		*r = out;
		return 0;
	}
	struct cc c = { .src = expr_s, .ws = wordsize, .r = &out, .err = err,
			.errlen = errlen, .pid = pid, .bias = bias };
	char e2[200] = "";
	int fd = -1;
	Elf *own = NULL;
	struct btf *btf = NULL;
	if (f->kernel) {
		Elf *e = f->kernel_elf;
		if (!e && (fd = open(f->kernel, O_RDONLY | O_CLOEXEC)) >= 0) {
			elf_version(EV_CURRENT);
			e = own = elf_begin(fd, ELF_C_READ_MMAP, NULL);
		}
		c.syms = e ? symtab_from_elf_handle(e, f->kernel, (uint64_t)bias,
						    SYMTAB_ALL, e2, sizeof e2)
			   : symtab_from_elf_flags(f->kernel, (uint64_t)bias,
						   SYMTAB_ALL, e2, sizeof e2);
		if (e)
			c.dw = dwarf_begin_elf(e, DWARF_C_READ, NULL);
		/* no DWARF (a distribution's vmlinux): the types from its BTF */
		if (e && !c.dw && (btf = btf_from_elf_handle(e, f->kernel, NULL, 0)))
			c.btf = btf;
	}
	c.ts = c.dw ? &dwarf_source : c.btf ? &btf_source : NULL;
	if (!c.syms && f->symbols)
		c.syms = f->symbols_text
			? symtab_from_nm_buf(f->symbols, f->symbols_text,
					     f->symbols_len, (uint64_t)bias,
					     SYMTAB_ALL, e2, sizeof e2)
			: symtab_from_nm_flags(f->symbols, (uint64_t)bias,
					       SYMTAB_ALL, e2, sizeof e2);
	int rc = -1;
	if (!c.syms && !c.dw) {
		seterr(err, errlen, "no symbols (%s)", *e2 ? e2 : "need --kernel or --symbols");
	} else if (compile(&c, &out) == 0) {
		/* DWARF addresses are the file's: slide them like the symbols */
		if (!c.syms && bias)
			for (int i = 0; i < out.nops; i++)
				if (out.ops[i].op == COMM_OP_PUSH && i == 0)
					out.ops[i].imm += bias;
		comm_optimize(&out);
		out.valid = 1;
		*r = out;
		rc = 0;
	}
	if (c.dw)
		dwarf_end(c.dw);
	btf_free(btf);
	if (own)
		elf_end(own);
	if (fd >= 0)
		close(fd);
	symtab_free(c.syms);
	return rc;
}

int comm_resolve_files(const char *expr_s, const struct comm_files *f,
		       int64_t bias, int wordsize, struct comm_recipe *r,
		       char *err, size_t errlen)
{
	return resolve(expr_s, f, bias, wordsize, 0, r, err, errlen);
}

int pid_resolve_files(const char *expr_s, const struct comm_files *f,
		      int64_t bias, int wordsize, struct comm_recipe *r,
		      char *err, size_t errlen)
{
	return resolve(expr_s, f, bias, wordsize, 1, r, err, errlen);
}
