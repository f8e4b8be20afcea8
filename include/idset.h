/*
 * idset.h - a set of positive ids in little memory.
 *
 * Ids are grouped by their high bits into blocks of 65,536; a block keeps
 * its members as a sorted array of their low 16 bits (2 bytes each, the
 * array growing by doubling) up to 4,096 members, and as a bitmap of 8 KiB
 * past that.  A set of ids that are near each other (Pipedrive numbers a
 * company's persons one after the other) costs 2 to 4 bytes per id, and an
 * eighth of a byte when they are dense, against 8 for an array of int64 and
 * 12 to 24 for a hash table.  Ids scattered one per block cost 60 to 80
 * bytes each (a block and its smallest array).
 *
 * Pure and not thread-safe: the owner locks.  An idset starts zeroed
 * (IDSET_INIT) and is freed with idset_clear.
 */
#ifndef PDFS_IDSET_H
#define PDFS_IDSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct idset_block;

struct idset {
	struct idset_block *blocks; /* ascending by their high bits */
	size_t nblocks, cap;
	size_t count;               /* ids in the set */
};

#define IDSET_INIT {0}

/* Add id: 1 if added, 0 if it was there already, -EINVAL for an id below
 * 1, -ENOMEM (the set unchanged). */
int idset_add(struct idset *s, int64_t id);
bool idset_has(const struct idset *s, int64_t id);
static inline size_t idset_count(const struct idset *s)
{
	return s->count;
}
/* The bytes the set holds on the heap. */
size_t idset_bytes(const struct idset *s);
/* Free everything; the set is empty (and usable) again. */
void idset_clear(struct idset *s);

#endif
