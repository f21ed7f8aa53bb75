/* orc.h - Linux x86_64 ORC unwinder (the Linux 6.1 table layout).
 *
 * Tables come from the vmlinux ELF's .orc_unwind_ip (sorted int32, each
 * relative to its own address) and .orc_unwind (6-byte entries: s16
 * sp_offset, s16 bp_offset, u16 flags: sp_reg bits 0-3, bp_reg 4-7, type
 * 8-9 = CALL 0 / REGS 1 / REGS_PARTIAL 2, bit 10 = end).  Verified on
 * Debian 12's 6.1; 6.2/6.3 are untested (6.3 added a signal bit).  A
 * vmlinux with an .orc_header section (6.4+: type is 3 bits with
 * UNDEFINED/END_OF_STACK types) or tables of inconsistent sizes is refused
 * with a message.
 *
 * The walk follows arch/x86/kernel/unwind_orc.c of 6.1: CALL frames, pt_regs
 * crossings (REGS: full pt_regs at the frame's sp; REGS_PARTIAL: the iret
 * frame), registers taken from the last pt_regs (r10, r13, di, dx, bp), and
 * stops at a pt_regs whose CS is a user selector, handing back the user
 * ip/sp/bp.  Every delivered frame after frame 0 is inside the table's
 * range (the vmlinux's text) or in the module area; a step that produces
 * anything else ends the walk (ORC_END_BAD) without delivering it.
 * Stack words are read only through the caller's accessor (the sample's
 * stack copy); a read it refuses ends the walk as truncated.
 * Addresses are runtime (slid) ones; the table is searched unslid.
 * Thread-safe for concurrent walks on one table (read only after load).
 */
#ifndef QTOP_ORC_H
#define QTOP_ORC_H

#include <stddef.h>
#include <stdint.h>

enum orc_reg {
	ORC_REG_UNDEFINED = 0, ORC_REG_PREV_SP = 1, ORC_REG_DX = 2,
	ORC_REG_DI = 3, ORC_REG_BP = 4, ORC_REG_SP = 5, ORC_REG_R10 = 6,
	ORC_REG_R13 = 7, ORC_REG_BP_INDIRECT = 8, ORC_REG_SP_INDIRECT = 9,
};
enum orc_type { ORC_TYPE_CALL = 0, ORC_TYPE_REGS = 1, ORC_TYPE_REGS_PARTIAL = 2 };

struct orc_entry {
	int16_t sp_offset, bp_offset;
	uint8_t sp_reg, bp_reg, type, end;
};

struct orc_table;

/* From a vmlinux ELF (the one extracted from the bzImage is enough: it keeps
 * the ORC sections).  NULL with a message when the file has no ORC tables or
 * an unsupported layout. */
struct orc_table *orc_from_elf(const char *path, char *err, size_t errlen);
/* The same over an ELF already open (the guest's kernel image); path only
 * names it in messages. */
struct Elf;
struct orc_table *orc_from_elf_handle(struct Elf *e, const char *path,
				      char *err, size_t errlen);
/* From raw section contents (tests, fuzzing): ip_bytes at ip_addr (unslid
 * address of .orc_unwind_ip), entries 6 bytes each; n entries.  The bytes
 * are copied. */
struct orc_table *orc_from_bytes(const uint8_t *ip_bytes, uint64_t ip_addr,
				 const uint8_t *entry_bytes, size_t n,
				 char *err, size_t errlen);
void orc_free(struct orc_table *t);
size_t orc_count(const struct orc_table *t);
/* Unslid ip range the table covers [lo, hi] (first/last entry ip). */
void orc_range(const struct orc_table *t, uint64_t *lo, uint64_t *hi);

/* The entry covering unslid ip (rightmost entry with entry ip <= ip).
 * 0, or -1 when ip is below the table or the table is empty. */
int orc_lookup(const struct orc_table *t, uint64_t ip, struct orc_entry *e);

/* Where rsp may be when ip is a block start read from a running TCG vCPU
 * (rsp written back further into the block than rip): for each SP-based
 * CALL entry in (ip, ip + window), in address order, the change of its
 * sp_offset against ip's entry, i.e. how much to add to the read rsp to
 * get ip's rsp if the vCPU was there.  Distinct non-zero values, at most
 * max; stops at the first entry of another kind (entry code, a frame
 * pointer based frame).  Returns the count (0 when ip has no SP entry). */
int orc_sp_deltas(const struct orc_table *t, uint64_t ip, uint64_t window,
		  int64_t *out, int max);
/* Reads one 8-byte little-endian word of guest memory.  0 or -1. */
typedef int (*orc_read_fn)(void *ctx, uint64_t addr, uint64_t *val);

/* Register order of orc_state.gpr: as enum qp_gpr (sample.h, HMP order). */
#define ORC_NGPR 16

struct orc_state {
	uint64_t ip, sp, bp;
	uint64_t gpr[ORC_NGPR];  /* full set, when gpr_valid */
	int gpr_valid;
};

enum orc_end {
	ORC_END_USER,       /* reached a pt_regs from user mode: user_* set */
	ORC_END_KTHREAD,    /* an "end" entry: top of a kernel thread / idle */
	ORC_END_DEPTH,      /* depth cap */
	ORC_END_NOTABLE,    /* an ip outside the vmlinux's table (module, BPF) */
	ORC_END_READ,       /* a stack word outside the accessor's memory */
	ORC_END_BAD,        /* inconsistent step (sp going down, bad reg) */
};

struct orc_frame {
	uint64_t ip;        /* runtime address; exact for frame 0 and after a
			       pt_regs crossing, a return address otherwise */
	uint64_t sp;
	uint8_t signal;     /* 1: ip is exact (look up ip, not ip - 1) */
};

struct orc_result {
	int n;
	enum orc_end end;
	uint64_t user_ip, user_sp, user_bp;   /* when end == ORC_END_USER */
	uint64_t regs_addr;                   /* that pt_regs (runtime VA) */
	uint64_t fail_addr; /* ORC_END_READ: the word the accessor refused
			       (e.g. on the task stack behind an IRQ stack:
			       read more and walk again) */
};

/* Unwinds from st (frame 0: exact ip) with slide added to table ips, up to
 * max frames into out (leaf first). Always fills res. */
void orc_unwind(const struct orc_table *t, int64_t slide,
		const struct orc_state *st, orc_read_fn read, void *ctx,
		struct orc_frame *out, int max, struct orc_result *res);

/* A ready-made accessor over one memory copy. */
struct orc_mem {
	uint64_t addr;
	const uint8_t *buf;
	size_t len;
};
int orc_mem_read(void *ctx /* struct orc_mem * */, uint64_t addr,
		 uint64_t *val);

#endif
