/* fuzz_folded.c - libFuzzer target for folded_load.
 *
 * Besides "no crash, no leak, no UB" it checks what users rely on: the
 * loaded tree is consistent (total == self + children), and writing it out
 * and loading that again gives the same tree and the same text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "folded.h"
#include "profile.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static int same_tree(const struct profile *a, uint32_t na,
		     const struct profile *b, uint32_t nb)
{
	const struct prof_node *x = &a->nodes[na], *y = &b->nodes[nb];
	if (x->self != y->self || x->total != y->total || x->kind != y->kind ||
	    x->flags != y->flags)
		return 0;
	for (uint32_t c = x->first_child; c; c = a->nodes[c].next_sibling) {
		uint32_t d = profile_child(b, nb, profile_node_name(a, c),
					   a->nodes[c].kind);
		if (!d || !same_tree(a, c, b, d))
			return 0;
	}
	return 1;
}

static char *write_str(const struct profile *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		abort();
	if (folded_write(p, 0, 0, f) < 0)
		abort();
	fclose(f);
	return buf;
}

static struct profile *load_buf(const void *data, size_t size,
				struct folded_diag *d)
{
	struct profile *p = profile_new();
	FILE *f = fmemopen((void *)data, size, "r");
	if (!p || !f)
		abort();
	if (folded_load(p, f, d) != 0)
		abort();
	fclose(f);
	return p;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	if (size == 0 || size > (1u << 22))
		return 0;
	struct folded_diag d;
	struct profile *p = load_buf(data, size, &d);

	long lines = 1;
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	if (d.lines_ok + d.lines_bad > lines || d.lines_ok < 0 || d.lines_bad < 0)
		abort();
	if ((d.lines_bad > 0) != (d.first_bad_line > 0))
		abort();
	for (uint32_t i = 0; i < p->nnodes; i++) {
		uint64_t sum = p->nodes[i].self;
		for (uint32_t c = p->nodes[i].first_child; c; c = p->nodes[c].next_sibling)
			sum += p->nodes[c].total;
		if (sum != p->nodes[i].total || (i && !p->nodes[i].total))
			abort();
	}
	if (p->samples != p->nodes[0].total)
		abort();

	char *text = write_str(p);
	struct folded_diag d2;
	struct profile *q = load_buf(text, strlen(text), &d2);
	if (d2.lines_bad || q->nnodes != p->nnodes || !same_tree(p, 0, q, 0))
		abort();
	char *text2 = write_str(q);
	if (strcmp(text, text2))
		abort();
	free(text2);
	free(text);
	profile_free(q);
	profile_free(p);
	return 0;
}
