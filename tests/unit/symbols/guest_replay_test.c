/* guest_replay_test.c - real samples of the test guest (recorded with
 * qtop-prof --record against tests/guest, smp 1) replayed through the
 * symbolizer with the guest ELFs saved next to them: the chains must be the
 * ones in the guest's ground truth, cut chains rare, and no frame a name
 * that is not a real symbol.  Also --comm against the guest kernel's DWARF.
 *   guest_replay_test DIR    (DIR: kernel, alpha, beta, samples.qrec,
 *                             expected.txt) */
#include "record.h"
#include "symbolizer.h"
#include "symtab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
#define CHECK(c, ...) do { if (!(c)) { failures++; \
	fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #c); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

#define MAXCH 32

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	unsetenv("DEBUGINFOD_URLS");
	const char *dir = argv[1];
	char kpath[1024], path[1024], err[256];
	snprintf(kpath, sizeof kpath, "%s/kernel", dir);

	/* expected chains and the pointer size */
	char chains[MAXCH][512];
	long seen[MAXCH] = { 0 };
	int nch = 0, psize = 8;
	snprintf(path, sizeof path, "%s/expected.txt", dir);
	FILE *f = fopen(path, "r");
	CHECK(f != NULL, "%s", path);
	if (!f)
		return 1;
	char line[512];
	while (fgets(line, sizeof line, f) && nch < MAXCH) {
		line[strcspn(line, "\n")] = 0;
		if (sscanf(line, "# pointer_size %d", &psize) == 1 || line[0] == '#' ||
		    !line[0])
			continue;
		snprintf(chains[nch++], sizeof chains[0], "%s", line);
	}
	fclose(f);

	struct symbolizer_config cfg = { .kernel = kpath, .sysroot = dir,
					 .comm_expr = "current_task->name" };
	struct symbolizer *s = symbolizer_new(&cfg, err, sizeof err);
	CHECK(s != NULL, "symbolizer_new: %s", err);
	if (!s)
		return 1;
	CHECK(symbolizer_wants_code(s), "sysroot programs found");

	/* --comm from the kernel's DWARF: current_task is a pointer to a
	 * struct whose name[16] is at offset 0 */
	struct symtab *kall = symtab_from_elf_flags(kpath, 0, SYMTAB_ALL, err,
						    sizeof err);
	const struct sym *ct = kall ? symtab_find(kall, "current_task") : NULL;
	struct comm_recipe r;
	CHECK(symbolizer_comm_recipe(s, &r, err, sizeof err) == 0, "%s", err);
	CHECK(ct && r.valid && r.addr == ct->addr && r.nderef == 1 &&
	      r.off[0] == 0 && r.len == 16 && r.wordsize == psize,
	      "recipe addr %llx nderef %d off %lld len %d ws %d",
	      (unsigned long long)r.addr, r.nderef, (long long)r.off[0], r.len,
	      r.wordsize);
	symtab_free(kall);

	struct symtab *ksyms = symtab_from_elf(kpath, 0, err, sizeof err);
	struct symtab *progs[2];
	const char *pnames[2] = { "alpha", "beta" };
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, pnames[i]);
		progs[i] = symtab_from_elf(path, 0, err, sizeof err);
		CHECK(progs[i] != NULL, "%s: %s", path, err);
	}

	snprintf(path, sizeof path, "%s/samples.qrec", dir);
	struct record_reader *rr = record_open(path, err, sizeof err);
	CHECK(rr != NULL, "%s", err);
	if (!rr)
		return 1;
	const struct qp_sample *smp;
	long total = 0, matched = 0, truncated = 0, bad_names = 0;
	struct prof_frame fr[256];
	size_t n;
	int rc;
	while ((rc = record_next(rr, &smp, err, sizeof err)) == 1) {
		total++;
		if (symbolizer_process(s, smp, fr, 256, &n) < 0) {
			CHECK(0, "sample %ld unusable", total);
			continue;
		}
		char got[2048];
		size_t k = 0;
		for (size_t i = 0; i < n; i++) {
			k += (size_t)snprintf(got + k, sizeof got - k, "%s%s%s",
					      i ? ";" : "", fr[i].name,
					      fr[i].kind == PK_KERNEL ? "_[k]" : "");
			if (fr[i].kind == PK_MARK && !strcmp(fr[i].name, "[truncated]"))
				truncated++;
			/* every function frame is a real symbol of its module */
			if (fr[i].kind == PK_KERNEL || fr[i].kind == PK_USER) {
				const struct symtab *t = NULL;
				if (fr[i].kind == PK_KERNEL)
					t = ksyms;
				else if (fr[i].module && !strcmp(fr[i].module, "alpha"))
					t = progs[0];
				else if (fr[i].module && !strcmp(fr[i].module, "beta"))
					t = progs[1];
				if (!t || !symtab_find(t, fr[i].name)) {
					bad_names++;
					fprintf(stderr, "not a symbol: %s (%s) in %s\n",
						fr[i].name, fr[i].module ? fr[i].module : "-",
						got);
				}
			}
		}
		int hit = 0;
		for (int c = 0; c < nch; c++)
			if (!strcmp(got, chains[c])) {
				seen[c]++;
				hit = 1;
			}
		matched += hit;
		if (!hit)
			fprintf(stderr, "outside the truth chains: %s\n", got);
	}
	CHECK(rc == 0, "record: %s", err);
	record_reader_close(rr);
	printf("%ld samples, %ld on truth chains, %ld truncated\n", total,
	       matched, truncated);
	CHECK(total >= 100, "too few samples: %ld", total);
	/* truth.json allows 3 pp outside the leaves; irq entries land there */
	CHECK(matched * 100 >= total * 95, "only %ld of %ld samples on truth chains",
	      matched, total);
	CHECK(truncated * 100 <= total * 2, "%ld of %ld truncated", truncated, total);
	CHECK(bad_names == 0, "%ld frames are not symbols", bad_names);
	for (int c = 0; c < nch; c++)
		CHECK(seen[c] > 0, "chain never seen: %s", chains[c]);
	struct symbolizer_stats st;
	symbolizer_get_stats(s, &st);
	CHECK(st.trap_crossings > 0, "no kernel->user crossing");
	symtab_free(ksyms);
	for (int i = 0; i < 2; i++)
		symtab_free(progs[i]);
	symbolizer_free(s);
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
