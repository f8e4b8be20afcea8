/*
 * cache_internal.h - what cache.c (listings, slots, bounds) and
 * cache_persons.c (the person store, deleted persons, persons' bytes) share.
 * Not for other modules: cache.h is the contract.
 */
#ifndef PDFS_CACHE_INTERNAL_H
#define PDFS_CACHE_INTERNAL_H

#include <pthread.h>

#include "cache.h"
#include "dlist.h"
#include "bytecache.h"
#include "growing.h"
#include "idtable.h"
#include "personmap.h"

struct slot {
	struct dlist_node lru; /* on cache.lru, most recently used first */
	uint64_t key;
	struct listing *current;
	double fetched_at;
	double last_used;
	bool fetching;
	bool expired_by_request;
	bool force_full_walk;
	/* Expiry requests are counted; a walk that began before the last one
	 * does not make the listing fresh again. */
	uint64_t expiries;
	uint64_t expiries_at_fetch;
	struct listing_waiter *waiters;
	struct growing *growing; /* the first walk's persons so far (streamed readdir) */
	uint64_t last_opened_generation;
};

struct cache {
	pthread_mutex_t lock;
	double ttl;
	uint64_t max_bytes;
	struct personmap persons;
	struct idtable slots;   /* key -> struct slot * */
	struct dlist lru;       /* every slot, in order of use */
	size_t max_listings;
	uint64_t next_generation;
	struct cache_stats stats;
	cache_replace_fn on_replace;
	void *on_replace_ctx;
	cache_remove_fn on_remove;
	void *on_remove_ctx;
	uint64_t expire_all_count;
	struct bytecache *bytes; /* with a disk cache and a bound: persons are light */
	double expire_all_at; /* monotonic time of the last cache_expire_all, or -inf */
	uint64_t bytes_after_purge; /* person_bytes when the last purge pass ended */
	/* With a bytecache, listings hold persons by id (listing.person_ids):
	 * the bytes those ids take, which cache_max_mb bounds too. */
	uint64_t listing_id_bytes;
};

/* Bytes a person holds (what cache_max_mb bounds). */
uint64_t cache_person_bytes_held(const struct person *p);
/* Drop a person from the store; lock held. */
void cache_forget_person(struct cache *c, int64_t id);
/* Drop persons only the store holds (one pass over the store); lock held. */
void cache_purge_unused_persons(struct cache *c);
struct slot *cache_slot_find(struct cache *c, uint64_t key);
/* s's listing becomes l (the slot takes the reference), the old one is let
 * go; lock held. */
void cache_slot_set_current(struct cache *c, struct slot *s, struct listing *l);
/* Listings by ids hold no persons: the store's unused ones go once it has
 * grown past the bound (amortized like enforce_bounds); lock held. */
void cache_keep_person_bound(struct cache *c);
/* True when new listings hold persons by id and the store lets unused
 * persons go (a disk cache and cache_max_mb, while the disk takes writes:
 * a store that turned itself off would leave their persons nowhere). */
static inline bool cache_by_ids(const struct cache *c)
{
	return c->bytes != NULL && bytecache_usable(c->bytes);
}
/* True when some listings may hold persons by id (made while the store
 * took writes). */
static inline bool cache_may_hold_ids(const struct cache *c) { return c->bytes != NULL; }

#endif
