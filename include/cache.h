/*
 * cache.h - the in-memory cache: persons and directory listings.
 *
 * Knows neither FUSE nor HTTP.  Time is passed in by the caller (monotonic
 * seconds), so the rules can be tested with an injected clock.
 *
 * Persons: one store maps id -> person; a listing that brings a person whose
 * JSON is byte-identical to the stored one reuses the stored object, so one
 * object is shared by every directory it appears in.
 *
 * Listings: one slot per directory key.  A listing younger than the TTL is
 * served as it is (no request).  Otherwise the first caller is told to fetch
 * it (CACHE_START_FETCH) and later callers join as waiters (CACHE_JOINED):
 * concurrent listings of one directory share one walk.  When the walk ends,
 * cache_listing_finish() wakes every waiter with the new listing, or - if the
 * walk failed and an expired listing exists - with that stale copy
 * (stale-if-error), or with the error.  Waiters are called without the lock.
 */
#ifndef PDFS_CACHE_H
#define PDFS_CACHE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "person.h"

/* An immutable snapshot of one directory; reference counted. */
struct listing {
	atomic_uint refs;
	size_t count;
	struct person **persons; /* person directories: sorted by id, or NULL */
	int64_t *ids;            /* directories of ids (owners, orgs): sorted, or NULL */
	uint64_t generation;     /* set by the cache when stored */
	bool stale;              /* served after a failed refresh */
};

struct listing *listing_new_persons(size_t count);
struct listing *listing_new_ids(size_t count);
struct listing *listing_ref(struct listing *l);
void listing_unref(struct listing *l);
/* Sort by id and drop duplicate ids (a person seen twice across pages keeps its
 * last copy).  Call before handing the listing to the cache. */
void listing_sort(struct listing *l);
/* Index of id, or -1. */
long listing_find(const struct listing *l, int64_t id);

struct listing_waiter {
	struct listing_waiter *next;
	/* l is a new reference (caller unrefs) or NULL with err > 0. */
	void (*done)(struct listing_waiter *w, struct listing *l, int err);
};

enum cache_lookup {
	CACHE_FRESH,       /* *out holds a reference; w untouched */
	CACHE_START_FETCH, /* w queued; the caller must fetch and call finish */
	CACHE_JOINED,      /* w queued; a fetch is already running */
};

struct cache_stats {
	uint64_t persons;
	uint64_t person_bytes;
	uint64_t listings;
	uint64_t hits;
	uint64_t misses;
	uint64_t stale_served;
	uint64_t walks;
};

struct cache;

/* ttl in seconds; 0 disables caching (every lookup fetches, but concurrent
 * lookups still share one walk). */
struct cache *cache_new(double ttl);
void cache_free(struct cache *c);
double cache_ttl(const struct cache *c);

enum cache_lookup cache_listing_lookup(struct cache *c, uint64_t key, double now,
				       struct listing **out, struct listing_waiter *w);
/* Takes ownership of `fresh` (may be NULL when err != 0). */
void cache_listing_finish(struct cache *c, uint64_t key, struct listing *fresh, int err,
			  double now);
/* True if the kernel may keep what it cached of this directory: the listing
 * handed out now has the same generation as the last one handed out. */
bool cache_listing_unchanged_since_last_open(struct cache *c, uint64_t key, uint64_t generation);
/* Forget a listing so the next lookup fetches (the on-demand refresh). */
void cache_listing_expire(struct cache *c, uint64_t key);

/* Store a person (takes the reference); returns a reference to the canonical
 * object for its id - the stored one if the JSON is identical. */
struct person *cache_person_put(struct cache *c, struct person *p);
/* A new reference, or NULL if the id is unknown. */
struct person *cache_person_get(struct cache *c, int64_t id);

void cache_get_stats(struct cache *c, struct cache_stats *out);

#endif
