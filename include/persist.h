/*
 * persist.h - the walker's side of the disk cache: which listings are kept
 * on disk, reading one back as a listing of persons, and writing what a walk
 * brought in one transaction.  Knows the store (store.h), the cache and the
 * person model; not HTTP, not FUSE.
 *
 * Kept: the person directories of owners, organizations and filters, /by-id
 * (every person), and the group roots /by-owner, /by-org, /by-filter.  Not
 * kept: /recent (relative to now), single persons looked up by id (any
 * number of them) and anything else.
 *
 * Times on disk are wall-clock seconds (a mount's monotonic clock means
 * nothing to the next one); listings in memory use monotonic seconds, and
 * this module converts between the two.
 *
 * A stored listing is used only whole: if any of its persons is missing or
 * fails the store's checks, the listing is dropped and walked again, never
 * served partly.
 */
#ifndef PDFS_PERSIST_H
#define PDFS_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache.h"
#include "listing.h"
#include "store.h"

bool persist_keeps(uint64_t key);

double persist_mono_of(int64_t wall, double now_mono);
int64_t persist_wall_of(double mono, double now_mono);

/* The stored listing of key, its persons read from the store and put into
 * the cache's person store (a version already in memory wins), with its
 * sync state, full_walk_at and fetched_at in monotonic time; NULL if none
 * is stored or it cannot be used (logged). */
struct listing *persist_load(struct store *s, struct cache *c, uint64_t key, double now_mono);

/* A stored person directory's ids and sync state, without its persons (for
 * the shared refresh of listings that are on disk only). */
int persist_load_row(struct store *s, uint64_t key, struct store_listing *row);

/* What a walk brought: persons to write and listings to replace, written in
 * ONE transaction by persist_commit (a listing whole or not at all).  The
 * batch holds references to what it is given. */
struct persist_batch {
	struct person **persons;
	size_t person_count, person_cap;
	struct store_listing *rows;
	size_t row_count, row_cap;
	/* Listings by ids whose ids rows borrow (a reference each). */
	struct listing **held;
	size_t held_count, held_cap;
	bool failed; /* out of memory: commit writes nothing */
};

void persist_add_person(struct persist_batch *b, struct person *p);
/* The listing's row (and, with persons_too, every person it holds). */
void persist_add_listing(struct persist_batch *b, uint64_t key, const struct listing *l,
			 bool persons_too, double now_mono);
/* A listing row made elsewhere (the batch takes its ids and names). */
void persist_add_row(struct persist_batch *b, struct store_listing *row);
/* Write and empty the batch; 0 or -errno (logged by the store). */
int persist_commit(struct store *s, struct persist_batch *b);
void persist_batch_free(struct persist_batch *b);

#endif
