/*
 * personmap.h - persons by id (the cache's person store, a first walk's
 * growing listing): an open-addressing hash table of person pointers, keyed
 * by each person's own id.  One pointer per slot and no allocation per
 * person: 11 to 21 bytes per person, where a chained table (idtable.h)
 * takes 40 to 48.  No locking (callers hold their own lock); the map never
 * owns or counts references.
 */
#ifndef PDFS_PERSONMAP_H
#define PDFS_PERSONMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct person;

struct personmap {
	struct person **slots; /* NULL: empty */
	size_t nslots;         /* a power of two, or 0 after a failed init */
	size_t count;
};

/* False when out of memory; the map is then empty but safe to use (finds
 * nothing, inserts fail) and to destroy. */
bool personmap_init(struct personmap *m);
/* The slot holding the person of id, or NULL.  Valid until the next insert
 * or remove; storing another person of the same id through it is allowed. */
struct person **personmap_find(const struct personmap *m, int64_t id);
/* Insert p, whose id is not in the map.  False when out of memory. */
bool personmap_insert(struct personmap *m, struct person *p);
/* Remove the person of id and return it, or NULL. */
struct person *personmap_remove(struct personmap *m, int64_t id);
/* Call fn for every person; fn must not change the map. */
void personmap_each(const struct personmap *m, void (*fn)(struct person *p, void *ctx), void *ctx);
/* Hand every person to free_person (may be NULL) and free the slots. */
void personmap_destroy(struct personmap *m, void (*free_person)(struct person *p));

#endif
