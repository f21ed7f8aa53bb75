/* progmatch.h - which program ELF runs in an address space, decided by
 * whole pages that shared code cannot fool.
 *
 * Programs of a real OS often share code at identical offsets and are
 * linked at the same address (xv6: every program at 0 with ulib first), so
 * the first text page, or the bytes at a pc inside the shared part, are the
 * same in several programs.  For each address space (CR3) this module reads
 * the page at a user pc, takes every (ELF, load bias) whose text has those
 * bytes there as a candidate (static ET_EXEC at its link address; PIE /
 * ET_DYN at any page-aligned bias that puts one of its text pages there),
 * then reads the pages that tell the candidates apart: each candidate's own
 * text pages, comparing only the bytes where it differs from another
 * candidate or from a static program of the sysroot (shared byte ranges are
 * left out).  The candidate whose distinguishing pages all match wins.
 *
 * Threads: the sampler thread probes (progmatch_wants, progmatch_probe:
 * reads through its callback), the consumer reads the decisions
 * (progmatch_lookup) and the report; a mutex guards the per-CR3 table.  The
 * ELF images are the guest's mappings of the sysroot programs (guest.h),
 * read-only, borrowed: the guest outlives the progmatch.
 */
#ifndef QTOP_PROGMATCH_H
#define QTOP_PROGMATCH_H

#include <stdint.h>
#include <stdio.h>

#define PROGMATCH_PAGE 4096u

struct progmatch;
struct guest;

/* Every ELF of the guest's sysroot (guest_prog) that is ET_EXEC or ET_DYN
 * with an executable PT_LOAD, except an upper-half kernel image.  NULL
 * when there is none, or out of memory. */
struct progmatch *progmatch_new(const struct guest *g);
void progmatch_free(struct progmatch *pm);       /* NULL ok */
int progmatch_nprogs(const struct progmatch *pm);

/* Reads len bytes at the user address addr of the probed address space:
 * the bytes read (a prefix; 0 unmapped) or negative on failure. */
typedef long (*progmatch_read_fn)(void *ctx, uint64_t addr, void *buf,
				  uint32_t len);

/* cr3 everywhere: the address-space key, qp_regs_as() (sample.h).
 * Sampler thread: should the address space cr3 be probed now?  (Not
 * decided yet, and the last attempt long enough ago.) */
int progmatch_wants(struct progmatch *pm, uint64_t cr3, uint64_t now_ns);

/* Sampler thread: probe cr3 from a user pc (page reads through rd).
 * 0 when no program of the sysroot covers the pc (it decided nothing:
 * another pc of the address space may), else 1. */
int progmatch_probe(struct progmatch *pm, uint64_t cr3, uint64_t user_ip,
		     uint64_t now_ns, progmatch_read_fn rd, void *ctx);

/* Consumer: 1 and the program's path (its realpath) and load bias when
 * cr3 was matched, -1 when it matched no program, 0 not decided (yet). */
int progmatch_lookup(struct progmatch *pm, uint64_t cr3, const char **path,
		     int64_t *bias);

/* The same decision as an index into the list (progmatch_prog_path):
 * 1 with *idx and *bias set, -1 matched none, 0 not decided. */
int progmatch_lookup_index(struct progmatch *pm, uint64_t cr3, int *idx,
			   int64_t *bias);

/* The address space changed hands (its code no longer is the matched
 * program's): probe it again. */
void progmatch_forget(struct progmatch *pm, uint64_t cr3);

/* One line per address space probed, e.g.
 * "as-1f000: beta (1/1 distinguishing pages)" or
 * "as-1f000: matched no program (2 candidates, none whole)".
 * Returns the number of lines written. */
int progmatch_report(struct progmatch *pm, FILE *f, const char *prefix);

/* Pure, for tests: match the pages given by rd (no table, no lock).
 * Returns the program index (or -1) and fills bias, the distinguishing
 * pages matched and compared, and the candidate count. */
int progmatch_match(const struct progmatch *pm, uint64_t user_ip,
		    progmatch_read_fn rd, void *ctx, int64_t *bias,
		    int *matched, int *compared, int *ncand);
const char *progmatch_prog_path(const struct progmatch *pm, int i);
const char *progmatch_prog_name(const struct progmatch *pm, int i);

#endif
