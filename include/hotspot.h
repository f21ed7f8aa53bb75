/* hotspot.h - the top-style function table derived from a profile.
 * Pure: (profile, subtree, filter) -> rows. */
#ifndef QTOP_HOTSPOT_H
#define QTOP_HOTSPOT_H

#include "profile.h"

struct hot_row {
	uint32_t name;     /* profile string ids */
	uint32_t module;
	uint32_t src;
	uint8_t kind;      /* PK_USER / PK_KERNEL / PK_MARK */
	uint64_t self;     /* samples with this function as leaf */
	uint64_t total;    /* samples with it anywhere on the stack, counted once per stack */
};

enum hot_sort { HOT_SORT_SELF, HOT_SORT_TOTAL, HOT_SORT_NAME, HOT_SORT_MODULE };

/* Rows for the samples below node `under` (0: all), one per (name, module,
 * kind).  *rows is malloc'd (caller frees).  Returns row count or -ENOMEM.
 * `under` itself is included; root and process frames get no row.  Rows are
 * in no particular order (hotspot_sort).  -EINVAL for a bad `under`. */
long hotspot_build(const struct profile *p, uint32_t under,
		   struct hot_row **rows);
/* Counts sort biggest first, name/module A..Z; reverse flips that.  Ties
 * are broken by a full order so equal rows keep their places. */
void hotspot_sort(const struct profile *p, struct hot_row *rows, size_t n,
		  enum hot_sort key, int reverse);

#endif
