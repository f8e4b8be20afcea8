/*
 * idtable.h - a hash table from 64-bit ids to pointers.  Chained, grows by
 * doubling, no locking (callers hold their own lock).  The table never owns
 * the values; idtable_destroy hands each to a callback.
 */
#ifndef PDFS_IDTABLE_H
#define PDFS_IDTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The mix of an id's bits that tables of ids index by (its low bits pick a
 * bucket or a slot; personmap.h uses it too). */
static inline uint64_t idtable_mix(uint64_t k)
{
	k ^= k >> 33;
	k *= UINT64_C(0xff51afd7ed558ccd);
	k ^= k >> 33;
	return k;
}

struct idtable_entry {
	struct idtable_entry *next;
	uint64_t key;
	void *value;
};

struct idtable {
	struct idtable_entry **buckets;
	size_t nbuckets; /* power of two */
	size_t count;
};

/* False when out of memory; the table is then empty but safe to use (finds
 * nothing, inserts fail until memory is back) and to destroy. */
bool idtable_init(struct idtable *t);
/* The entry for key, or NULL. */
struct idtable_entry *idtable_find(const struct idtable *t, uint64_t key);
/* Insert a key that is not present; NULL on ENOMEM. */
struct idtable_entry *idtable_insert(struct idtable *t, uint64_t key, void *value);
/* Remove key; returns its value or NULL. */
void *idtable_remove(struct idtable *t, uint64_t key);
void idtable_destroy(struct idtable *t, void (*free_value)(void *));
/* Call fn for every entry; fn must not change the table. */
void idtable_each(const struct idtable *t, void (*fn)(struct idtable_entry *e, void *ctx),
		  void *ctx);

#endif
