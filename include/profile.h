/* profile.h - the aggregated profile: a call tree of samples, root -> leaf.
 *
 * Owned by one thread (the consumer/UI thread).  Plain arrays and indices, no
 * pointers between nodes, so a clone is a few memcpys (freeze) and views
 * refer to nodes by index or by path, never by pointer (live updates append
 * nodes and may realloc).
 *
 * Shape: node 0 is the root ("all").  Its children are processes / address
 * spaces (PK_PROC).  Below a process come frames root -> leaf: user frames
 * (PK_USER), then kernel frames (PK_KERNEL) when the sample was in the kernel
 * on the task's behalf.  PK_MARK frames are synthetic ("[truncated]",
 * "[unknown]", "[idle]").
 */
#ifndef QTOP_PROFILE_H
#define QTOP_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#define PROF_MAX_CPUS 64
/* cpu argument of profile_add when the cpu is not known (loaded files):
 * counted in the totals, not in any per-cpu array. */
#define PROF_CPU_UNKNOWN UINT32_MAX

enum prof_kind { PK_ROOT, PK_PROC, PK_USER, PK_KERNEL, PK_MARK };
enum { PF_INLINE = 1u << 0 };   /* prof_frame/prof_node flags */

/* One frame of a stack given to profile_add.  Strings are copied (interned). */
struct prof_frame {
	const char *name;    /* function name, demangled; never NULL */
	const char *module;  /* "kernel", program name, or NULL */
	const char *src;     /* "file.c:123" or NULL */
	uint8_t kind;        /* enum prof_kind */
	uint8_t flags;       /* PF_* */
	uint64_t addr;       /* guest pc of the frame (return address for callers),
				0 when unknown; not kept in the tree (see samplelog.h) */
};

struct prof_node {
	uint32_t parent;       /* root's parent is 0 */
	uint32_t first_child;  /* 0 = none */
	uint32_t next_sibling; /* 0 = none */
	uint32_t name;         /* string ids: profile_str_get() */
	uint32_t module;       /* 0 = "" */
	uint32_t src;          /* 0 = "" */
	uint8_t kind, flags;
	uint16_t depth;        /* root 0, processes 1 */
	uint64_t total;        /* samples with this node on their stack */
	uint64_t self;         /* samples whose leaf is this node */
};

struct prof_proc {              /* per process/address space (a PK_PROC node) */
	uint32_t node;
	uint64_t samples;
	uint64_t kernel;        /* samples whose leaf is PK_KERNEL */
	uint64_t user;          /* samples whose leaf is PK_USER */
	uint64_t cpu[PROF_MAX_CPUS];
};

struct prof_strtab;             /* interned strings, private */

#define PROF_MAX_STACK 65000    /* frames per stack incl. the process (depth is 16 bits) */

struct profile {
	struct prof_node *nodes;   /* nodes[0] is the root */
	uint32_t nnodes, capnodes;
	struct prof_proc *procs;
	uint32_t nprocs, capprocs;
	uint64_t samples;          /* == nodes[0].total */
	uint64_t cpu_samples[PROF_MAX_CPUS];
	uint32_t ncpus;            /* highest cpu seen + 1 */
	struct prof_strtab *strs;
	void *index;               /* private: (parent,name,kind) -> child lookup */
};

struct profile *profile_new(void);
void profile_free(struct profile *p);      /* NULL ok */
void profile_reset(struct profile *p);     /* drop all samples, keep nothing */
/* Deep copy (for freeze).  NULL on allocation failure. */
struct profile *profile_clone(const struct profile *p);

/* Add count samples of one stack.  frames[0] is the process (PK_PROC),
 * frames[n-1] the leaf.  n >= 1.  Returns the leaf node index, or 0 on
 * allocation failure (the profile is unchanged then).
 * frames[0] is always stored as PK_PROC whatever its kind.  count == 0,
 * n == 0 or n > PROF_MAX_STACK also return 0 and change nothing.  cpu >=
 * PROF_MAX_CPUS (e.g. PROF_CPU_UNKNOWN) is counted everywhere except the
 * per-cpu arrays. */
uint32_t profile_add(struct profile *p, const struct prof_frame *frames,
		     size_t n, uint32_t cpu, uint64_t count);

/* Multiply all counts by factor (0..1), rounding down, and drop nodes that
 * reach zero (decaying window).  Node indices change.
 * Self counts are scaled; totals are then recomputed as self + children so
 * that children never outweigh their parent (flame tiling relies on it).
 * Per-process kernel/user are recomputed exactly from the tree; per-cpu
 * counts are scaled independently and may drift from the totals by rounding. */
void profile_decay(struct profile *p, double factor);

/* Intern; 0 on OOM (and for "", which is always id 0). */
uint32_t profile_str(struct profile *p, const char *s);
/* The string, "" for 0 or an unknown id.  The pointer stays valid until the
 * next call that adds strings (profile_add, profile_str) or profile_reset. */
const char *profile_str_get(const struct profile *p, uint32_t id);
/* Number of interned strings: every string id is below it. */
uint32_t profile_nstrings(const struct profile *p);
static inline const char *profile_node_name(const struct profile *p, uint32_t n)
{ return profile_str_get(p, p->nodes[n].name); }

/* The child of parent with this name and kind, or 0. */
uint32_t profile_child(const struct profile *p, uint32_t parent,
		       const char *name, int kind);
/* The node reached from the root by following names (kinds ignored), or 0.
 * Used to keep zoom/selection across live updates and freeze/unfreeze. */
uint32_t profile_lookup_path(const struct profile *p, const char *const *names,
			     size_t n);
/* Names of the nodes from the root's child down to node; returns depth
 * written (<= max). */
size_t profile_path(const struct profile *p, uint32_t node,
		    const char **names, size_t max);
/* The same with kinds: a user "read" and a kernel "read" under one parent
 * stay apart.  kinds[i] is the enum prof_kind of names[i]; NULL kinds means
 * "ignore kinds" (profile_lookup_path).  profile_path_kinds fills both
 * arrays (kinds may be NULL) like profile_path. */
uint32_t profile_lookup_path_kinds(const struct profile *p,
				   const char *const *names,
				   const uint8_t *kinds, size_t n);
size_t profile_path_kinds(const struct profile *p, uint32_t node,
			  const char **names, uint8_t *kinds, size_t max);
/* The prof_proc for a PK_PROC node, or NULL. */
const struct prof_proc *profile_proc(const struct profile *p, uint32_t node);

/* Children of node in a stable display order: by name (strcmp), then kind,
 * then index, so views do not jump on live updates.  *buf is grown with
 * realloc as needed (*cap its capacity in elements; start with NULL, 0; the
 * caller frees it).  Returns the number of children or -ENOMEM. */
long profile_children_sorted(const struct profile *p, uint32_t node,
			     uint32_t **buf, size_t *cap);

#endif
