/* comm.c - resolve --comm EXPR into what the sampler reads per address
 * space: "SYMBOL->field" / "SYMBOL.field" from the kernel's DWARF, and
 * "*SYMBOL+OFFSET" / "SYMBOL+OFFSET" from symbols alone. */
#include "unwind.h"
#include "errmsg.h"
#include "sample.h"
#include "symtab.h"

#include <ctype.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define COMM_DEFAULT_LEN 16   /* Linux TASK_COMM_LEN; the name is NUL-terminated */

static int sym_addr(const char *name, const char *kernel, const char *symbols,
		    int64_t bias, uint64_t *addr, char *err, size_t errlen)
{
	char e2[200] = "";
	struct symtab *t = NULL;
	if (kernel)
		t = symtab_from_elf_flags(kernel, (uint64_t)bias, SYMTAB_ALL, e2,
					  sizeof e2);
	if (!t && symbols)
		t = symtab_from_nm_flags(symbols, (uint64_t)bias, SYMTAB_ALL, e2,
					 sizeof e2);
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

static int dwarf_recipe(const char *kernel, const char *var,
			const char *field, int arrow, uint64_t base,
			struct comm_recipe *r, char *err, size_t errlen)
{
	int fd = open(kernel, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		seterr(err, errlen, "--comm: %s: %s", kernel, strerror(errno));
		return -1;
	}
	Dwarf *dw = dwarf_begin(fd, DWARF_C_READ);
	int rc = -1;
	Dwarf_Die vd, tmem, smem, fmem, *t;
	if (!dw) {
		seterr(err, errlen, "--comm: %s has no DWARF (use *SYMBOL+OFFSET)",
		       kernel);
		goto out;
	}
	if (!find_global(dw, DW_TAG_variable, var, 1, &vd)) {
		seterr(err, errlen, "--comm: no variable '%s' in the DWARF", var);
		goto out;
	}
	t = type_of(&vd, &tmem);
	if (arrow) {
		if (!t || dwarf_tag(t) != DW_TAG_pointer_type) {
			seterr(err, errlen, "--comm: '%s' is not a pointer", var);
			goto out;
		}
		t = type_of(t, &tmem);
	}
	if (!t || (dwarf_tag(t) != DW_TAG_structure_type &&
		   dwarf_tag(t) != DW_TAG_union_type)) {
		seterr(err, errlen, "--comm: '%s' does not lead to a struct", var);
		goto out;
	}
	if (dwarf_hasattr(t, DW_AT_declaration)) {
		/* opaque here: the definition lives in another CU */
		const char *sn = dwarf_diename(t);
		if (!sn || !find_global(dw, dwarf_tag(t), sn, 1, &smem) ||
		    dwarf_hasattr(&smem, DW_AT_declaration)) {
			seterr(err, errlen, "--comm: struct of '%s' has no definition",
			       var);
			goto out;
		}
		t = &smem;
	}
	Dwarf_Die m;
	int found = 0;
	if (dwarf_child(t, &m) == 0) {
		do {
			const char *n = dwarf_diename(&m);
			if (dwarf_tag(&m) == DW_TAG_member && n &&
			    !strcmp(n, field)) {
				found = 1;
				break;
			}
		} while (dwarf_siblingof(&m, &m) == 0);
	}
	int64_t moff;
	if (!found || member_offset(&m, &moff) < 0) {
		seterr(err, errlen, "--comm: no member '%s' in the struct of '%s'",
		       field, var);
		goto out;
	}
	memset(r, 0, sizeof *r);
	r->addr = base;
	if (arrow) {
		r->nderef = 1;
		r->off[0] = moff;
	} else {
		r->addr = base + (uint64_t)moff;
	}
	Dwarf_Die *ft = type_of(&m, &fmem);
	int len = COMM_DEFAULT_LEN;
	if (ft && dwarf_tag(ft) == DW_TAG_array_type) {
		Dwarf_Die sub;
		if (dwarf_child(ft, &sub) == 0 &&
		    dwarf_tag(&sub) == DW_TAG_subrange_type) {
			Dwarf_Attribute a;
			Dwarf_Word w;
			if (dwarf_attr(&sub, DW_AT_count, &a) &&
			    dwarf_formudata(&a, &w) == 0)
				len = (int)w;
			else if (dwarf_attr(&sub, DW_AT_upper_bound, &a) &&
				 dwarf_formudata(&a, &w) == 0)
				len = (int)w + 1;
		}
	} else if (ft && dwarf_tag(ft) == DW_TAG_pointer_type) {
		/* char *name: one more dereference */
		r->off[r->nderef++] = 0;
	}
	if (len <= 0 || len > (int)QP_COMM_BYTES)
		len = QP_COMM_BYTES;
	r->len = (uint8_t)len;
	rc = 0;
out:
	if (dw)
		dwarf_end(dw);
	close(fd);
	return rc;
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

int comm_resolve(const char *expr, const char *kernel, const char *symbols,
		 int64_t bias, int wordsize, struct comm_recipe *r,
		 char *err, size_t errlen)
{
	char buf[256];
	if (!expr || !*expr || strlen(expr) >= sizeof buf) {
		seterr(err, errlen, "--comm: empty or too long expression");
		return -1;
	}
	/* drop spaces */
	size_t k = 0;
	for (const char *p = expr; *p; p++)
		if (!isspace((unsigned char)*p))
			buf[k++] = *p;
	buf[k] = 0;
	struct comm_recipe out;
	memset(&out, 0, sizeof out);
	out.wordsize = (uint8_t)wordsize;
	char *arrow = strstr(buf, "->");
	char *dot = strchr(buf, '.');
	if (buf[0] != '*' && (arrow || dot)) {
		char *sym = buf, *field;
		if (arrow && (!dot || arrow < dot)) {
			*arrow = 0;
			field = arrow + 2;
		} else {
			*dot = 0;
			field = dot + 1;
		}
		if (!*sym || !*field || strstr(field, "->") || strchr(field, '.')) {
			seterr(err, errlen,
			       "--comm: expected SYMBOL->field or SYMBOL.field");
			return -1;
		}
		if (!kernel) {
			seterr(err, errlen,
			       "--comm %s needs --kernel with DWARF (or use *SYMBOL+OFFSET)",
			       expr);
			return -1;
		}
		uint64_t a;
		if (sym_addr(sym, kernel, symbols, bias, &a, err, errlen) < 0)
			return -1;
		if (dwarf_recipe(kernel, sym, field, arrow != NULL, a, &out, err,
				 errlen) < 0)
			return -1;
		out.wordsize = (uint8_t)wordsize;
	} else {
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
				seterr(err, errlen, "--comm: bad offset '%s'", plus);
				return -1;
			}
			*plus = 0;
		}
		if (!*sym) {
			seterr(err, errlen, "--comm: missing symbol");
			return -1;
		}
		uint64_t a;
		if (sym_addr(sym, kernel, symbols, bias, &a, err, errlen) < 0)
			return -1;
		if (deref) {
			out.addr = a;
			out.nderef = 1;
			out.off[0] = off;
		} else {
			out.addr = a + (uint64_t)off;
		}
		out.len = COMM_DEFAULT_LEN;
	}
	out.valid = 1;
	*r = out;
	return 0;
}
