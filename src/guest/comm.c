/* comm.c - compile --comm EXPR into what the sampler reads per sample.
 *
 * EXPR is a small C expression over the kernel's globals and the sampled
 * vCPU's registers: `.`, `->`, `[index]`, unary `*` and `&`, casts to named
 * types, integer constants, `+` and `-`; `$cpu`, `$gs_base`, `$fs_base`,
 * `$cr3` and the general registers are variables.  Types and offsets come
 * from the DWARF; the result must be a char array or a char *.  It is
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

#include <ctype.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
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

struct cty {            /* a type: ptr synthesized '*' levels over die */
	int ptr;
	int has;        /* die valid; 0 and ptr 0: an integer word */
	Dwarf_Die die;
};

struct val {
	int lv;         /* the program leaves the address of the value */
	struct cty t;
};

struct cc {
	const char *src;
	size_t pos;
	Dwarf *dw;
	struct symtab *syms;
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

static int ty_tag(const struct cty *t)
{
	if (t->ptr)
		return DW_TAG_pointer_type;
	return t->has ? dwarf_tag((Dwarf_Die *)&t->die) : 0;
}

/* A struct/union declared here and defined in another CU: the definition. */
static void complete(struct cc *c, struct cty *t)
{
	int tag = ty_tag(t);
	if (t->ptr || !t->has || (tag != DW_TAG_structure_type && tag != DW_TAG_union_type) ||
	    !dwarf_hasattr(&t->die, DW_AT_declaration))
		return;
	const char *n = dwarf_diename(&t->die);
	Dwarf_Die d;
	if (n && find_global(c->dw, tag, n, 1, &d) && !dwarf_hasattr(&d, DW_AT_declaration))
		t->die = d;
}

static void ty_from_die(struct cc *c, Dwarf_Die *die, struct cty *t)
{
	Dwarf_Die mem;
	Dwarf_Die *d = type_of(die, &mem);
	memset(t, 0, sizeof *t);
	if (d) {
		t->has = 1;
		t->die = *d;
		complete(c, t);
	}
}

static void ty_name(const struct cty *t, char *buf, size_t len)
{
	char inner[160] = "";
	if (!t->has) {
		snprintf(inner, sizeof inner, "an integer");
	} else {
		Dwarf_Die d = t->die;
		const char *n = dwarf_diename(&d);
		switch (dwarf_tag(&d)) {
		case DW_TAG_structure_type:
			snprintf(inner, sizeof inner, "struct %s", n ? n : "(anonymous)");
			break;
		case DW_TAG_union_type:
			snprintf(inner, sizeof inner, "union %s", n ? n : "(anonymous)");
			break;
		case DW_TAG_enumeration_type:
			snprintf(inner, sizeof inner, "enum %s", n ? n : "(anonymous)");
			break;
		case DW_TAG_pointer_type: {
			Dwarf_Die m;
			struct cty x = { 0, 0, d };
			Dwarf_Die *tt = type_of(&d, &m);
			if (tt) {
				x.has = 1;
				x.die = *tt;
				ty_name(&x, inner, sizeof inner - 2);
				strcat(inner, " *");
			} else {
				snprintf(inner, sizeof inner, "void *");
			}
			break;
		}
		case DW_TAG_array_type: {
			Dwarf_Die m;
			struct cty x = { 0, 0, d };
			Dwarf_Die *tt = type_of(&d, &m);
			if (tt) {
				x.has = 1;
				x.die = *tt;
				ty_name(&x, inner, sizeof inner - 3);
			}
			strcat(inner, " []");
			break;
		}
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

static int ty_size(struct cc *c, const struct cty *t, uint64_t *sz)
{
	Dwarf_Word w;
	int tag = ty_tag(t);
	if (!t->has || t->ptr || tag == DW_TAG_pointer_type) {
		*sz = (uint64_t)c->ws;
		return 0;
	}
	if (dwarf_aggregate_size((Dwarf_Die *)&t->die, &w) != 0)
		return -1;
	*sz = w;
	return 0;
}

/* Pointer or array -> the type pointed at / of an element; -1 for void. */
static int ty_target(struct cc *c, const struct cty *t, struct cty *out)
{
	if (t->ptr) {
		*out = *t;
		out->ptr--;
		return 0;
	}
	if (!t->has)
		return -1;
	Dwarf_Die d = t->die;
	Dwarf_Die mem;
	Dwarf_Die *tt = type_of(&d, &mem);
	if (!tt)
		return -1;
	memset(out, 0, sizeof *out);
	out->has = 1;
	out->die = *tt;
	complete(c, out);
	return 0;
}

static int is_char(const struct cty *t)
{
	if (t->ptr || !t->has || dwarf_tag((Dwarf_Die *)&t->die) != DW_TAG_base_type)
		return 0;
	Dwarf_Attribute a;
	Dwarf_Word w;
	if (!dwarf_attr((Dwarf_Die *)&t->die, DW_AT_byte_size, &a) ||
	    dwarf_formudata(&a, &w) != 0 || w != 1)
		return 0;
	return 1;
}

static int array_count(const struct cty *t)
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

/* Member name of struct/union s (also inside anonymous members). */
static int find_member(Dwarf_Die *s, const char *name, int64_t base,
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
			    find_member(t, name, base + mo, off, m_out, depth + 1))
				return 1;
		}
	} while (dwarf_siblingof(&m, &m) == 0);
	return 0;
}

static void list_members(Dwarf_Die *s, char *buf, size_t len, int depth)
{
	Dwarf_Die m;
	if (depth > 8 || dwarf_child(s, &m) != 0)
		return;
	do {
		if (dwarf_tag(&m) != DW_TAG_member)
			continue;
		const char *n = dwarf_diename(&m);
		if (!n) {
			Dwarf_Die tm;
			Dwarf_Die *t = type_of(&m, &tm);
			if (t)
				list_members(t, buf, len, depth + 1);
			continue;
		}
		size_t k = strlen(buf);
		if (k + strlen(n) + 8 >= len) {
			if (k + 5 < len && !strstr(buf, "..."))
				strcat(buf, ", ...");
			return;
		}
		snprintf(buf + k, len - k, "%s%s", k ? ", " : "", n);
	} while (dwarf_siblingof(&m, &m) == 0);
}

/* The value itself, not its address: arrays decay to a pointer. */
static int rval(struct cc *c, struct val *v, int col)
{
	if (!v->lv)
		return 0;
	int tag = ty_tag(&v->t);
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
		ty_name(&v->t, tn, sizeof tn);
		return fail(c, col, "%s is not a value here: pick a field with '.'", tn);
	}
	uint64_t sz;
	if (ty_size(c, &v->t, &sz) < 0 || (sz != 1 && sz != 2 && sz != 4 && sz != 8)) {
		char tn[160];
		ty_name(&v->t, tn, sizeof tn);
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
	char tn[160];
	if (arrow) {
		if (rval(c, v, col) < 0)
			return -1;
		struct cty t;
		if (ty_tag(&v->t) != DW_TAG_pointer_type) {
			ty_name(&v->t, tn, sizeof tn);
			return fail(c, col, "'->' needs a pointer to a struct, not %s", tn);
		}
		if (ty_target(c, &v->t, &t) < 0)
			return fail(c, col, "'->' through a void *: cast it first");
		v->t = t;
		v->lv = 1;
	} else if (!v->lv || ty_tag(&v->t) == DW_TAG_pointer_type) {
		ty_name(&v->t, tn, sizeof tn);
		return fail(c, col, "'.' needs a struct, not %s%s", tn,
			    ty_tag(&v->t) == DW_TAG_pointer_type ? " (use '->')" : "");
	}
	int tag = ty_tag(&v->t);
	ty_name(&v->t, tn, sizeof tn);
	if (tag != DW_TAG_structure_type && tag != DW_TAG_union_type)
		return fail(c, col, "%s has no fields", tn);
	if (dwarf_hasattr(&v->t.die, DW_AT_declaration))
		return fail(c, col, "%s has no definition in the DWARF", tn);
	int64_t off;
	Dwarf_Die m;
	if (!find_member(&v->t.die, c->id, 0, &off, &m, 0)) {
		char fl[240] = "";
		list_members(&v->t.die, fl, sizeof fl, 0);
		return fail(c, fcol, "%s has no field '%s' (fields: %s)", tn, c->id,
			    *fl ? fl : "none");
	}
	ty_from_die(c, &m, &v->t);
	v->lv = 1;
	if (emit(c, COMM_OP_ADDI, 0, off) < 0)
		return -1;
	return next(c);
}

static int expr(struct cc *c, struct val *v);
static int unary(struct cc *c, struct val *v);

static int find_type_die(struct cc *c, int tag, const char *name, Dwarf_Die *out)
{
	if (!c->dw)
		return 0;
	if (tag)
		return find_global(c->dw, tag, name, 1, out);
	return find_global(c->dw, DW_TAG_typedef, name, 0, out) ||
	       find_global(c->dw, DW_TAG_base_type, name, 0, out);
}

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
	Dwarf_Die d;
	if (!c->dw || find_global(c->dw, DW_TAG_variable, c->id, 0, &d))
		return 0;
	return find_global(c->dw, DW_TAG_typedef, c->id, 0, &d);
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
	} else if (!c->dw) {
		return fail(c, col, "casts need the kernel's DWARF (--kernel ELF with debug info)");
	} else {
		Dwarf_Die d, mem;
		if (!find_type_die(c, tag, name, &d))
			return fail(c, col, "no type '%s%s' in the DWARF",
				    tag == DW_TAG_structure_type ? "struct " :
				    tag == DW_TAG_union_type ? "union " :
				    tag == DW_TAG_enumeration_type ? "enum " : "", name);
		Dwarf_Die *s = strip(&d, &mem);
		t->has = s != NULL;
		if (s)
			t->die = *s;
		complete(c, t);
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
	Dwarf_Die var;
	int have_var = c->dw && find_global(c->dw, DW_TAG_variable, c->id, 1, &var);
	uint64_t addr = 0;
	if (sy) {
		addr = sy->addr;
	} else if (have_var) {
		Dwarf_Attribute a;
		Dwarf_Op *ops;
		size_t n;
		if (!dwarf_attr(&var, DW_AT_location, &a) ||
		    dwarf_getlocation(&a, &ops, &n) != 0 || n != 1 ||
		    ops[0].atom != DW_OP_addr)
			return fail(c, col, "'%s' has no fixed address", c->id);
		addr = ops[0].number;
	} else {
		return fail(c, col, "no variable or symbol '%s'", c->id);
	}
	if (have_var)
		ty_from_die(c, &var, &v->t);
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
			char tn[160];
			if (v->lv && ty_tag(&v->t) == DW_TAG_array_type) {
				if (ty_target(c, &v->t, &e) < 0)
					return fail(c, col, "array of unknown type");
			} else {
				if (rval(c, v, col) < 0)
					return -1;
				if (ty_tag(&v->t) != DW_TAG_pointer_type) {
					ty_name(&v->t, tn, sizeof tn);
					return fail(c, col, "'[' needs an array or a pointer, not %s", tn);
				}
				if (ty_target(c, &v->t, &e) < 0)
					return fail(c, col, "cannot index a void *");
			}
			uint64_t esz;
			if (ty_size(c, &e, &esz) < 0) {
				ty_name(&e, tn, sizeof tn);
				return fail(c, col, "size of %s unknown", tn);
			}
			struct val i;
			if (next(c) < 0 || expr(c, &i) < 0)
				return -1;
			if (rval(c, &i, col) < 0)
				return -1;
			if (ty_tag(&i.t) == DW_TAG_pointer_type)
				return fail(c, col, "the index is a pointer");
			if (!is_punct(c, ']'))
				return fail(c, c->col, "expected ']', not '%s'", tok_text(c));
			if (emit(c, COMM_OP_MULI, 0, (int64_t)esz) < 0 ||
			    emit(c, COMM_OP_ADD, 0, 0) < 0)
				return -1;
			v->t = e;
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
	char tn[160];
	if (is_punct(c, '*')) {
		if (next(c) < 0 || unary(c, v) < 0 || rval(c, v, col) < 0)
			return -1;
		if (ty_tag(&v->t) != DW_TAG_pointer_type) {
			ty_name(&v->t, tn, sizeof tn);
			return fail(c, col, "'*' needs a pointer, not %s (cast it first)", tn);
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
			int tag = ty_tag(&t);
			if (tag == DW_TAG_structure_type || tag == DW_TAG_union_type ||
			    tag == DW_TAG_array_type) {
				ty_name(&t, tn, sizeof tn);
				return fail(c, col, "cannot cast to %s (cast to a pointer)", tn);
			}
			v->t = t;
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
		if (ty_tag(&b.t) == DW_TAG_pointer_type)
			return fail(c, col, "pointer on the right of '%c': write it first", neg ? '-' : '+');
		uint64_t scale = 1;
		if (ty_tag(&v->t) == DW_TAG_pointer_type) {
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
	int tag = ty_tag(&v->t);
	char tn[160];
	ty_name(&v->t, tn, sizeof tn);
	if (tag == DW_TAG_pointer_type)
		return fail(c, 1, "the expression is %s, a pointer: --pid needs an "
			    "integer (the id's field, e.g. ->pid)", tn);
	int sext = 0;
	if (v->t.has && tag == DW_TAG_base_type) {
		Dwarf_Attribute a;
		Dwarf_Word enc = 0;
		if (dwarf_attr(&v->t.die, DW_AT_encoding, &a))
			dwarf_formudata(&a, &enc);
		if (enc == DW_ATE_float || enc == DW_ATE_complex_float)
			return fail(c, 1, "the expression is %s, not an integer", tn);
		sext = enc == DW_ATE_signed || enc == DW_ATE_signed_char;
	} else if (v->t.has && tag != DW_TAG_enumeration_type) {
		char fl[240] = "";
		if (tag == DW_TAG_structure_type || tag == DW_TAG_union_type)
			list_members(&v->t.die, fl, sizeof fl, 0);
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
	int tag = ty_tag(&v.t);
	struct cty e;
	char tn[160];
	int len = COMM_DEFAULT_LEN;
	if (v.lv && tag == DW_TAG_array_type && ty_target(c, &v.t, &e) == 0 && is_char(&e)) {
		len = array_count(&v.t);
		if (len <= 0 || len > (int)QP_COMM_BYTES)
			len = QP_COMM_BYTES;
	} else if (tag == DW_TAG_pointer_type && ty_target(c, &v.t, &e) == 0 && is_char(&e)) {
		if (rval(c, &v, 1) < 0)      /* the pointer's value */
			return -1;
	} else if (v.lv && !v.t.has && !v.t.ptr) {
		/* a symbol without a type: the bytes at its address */
	} else {
		ty_name(&v.t, tn, sizeof tn);
		char fl[240] = "";
		if (tag == DW_TAG_structure_type || tag == DW_TAG_union_type)
			list_members(&v.t.die, fl, sizeof fl, 0);
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
			.r = &out, .err = err, .errlen = errlen };
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
			.errlen = errlen, .pid = pid };
	char e2[200] = "";
	int fd = -1;
	if (f->kernel) {
		c.syms = f->kernel_elf
			? symtab_from_elf_handle(f->kernel_elf, f->kernel,
						 (uint64_t)bias, SYMTAB_ALL, e2,
						 sizeof e2)
			: symtab_from_elf_flags(f->kernel, (uint64_t)bias,
						SYMTAB_ALL, e2, sizeof e2);
		if (f->kernel_elf) {
			c.dw = dwarf_begin_elf(f->kernel_elf, DWARF_C_READ, NULL);
		} else {
			fd = open(f->kernel, O_RDONLY | O_CLOEXEC);
			if (fd >= 0)
				c.dw = dwarf_begin(fd, DWARF_C_READ);
		}
	}
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
