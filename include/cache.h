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
 * With a bytecache (a disk cache and cache_max_mb) listings of persons are
 * kept by ids (listing.person_ids) and the store holds persons only while
 * they are used or the bound allows; cache_listing_person reads one back.
 *
 * Listings: one slot per directory key.  A listing younger than the TTL is
 * served as it is (no request).  Otherwise the first caller is told to fetch
 * it (CACHE_START_FETCH) and later callers join as waiters (CACHE_JOINED):
 * concurrent listings of one directory share one walk.  When the walk ends,
 * cache_listing_finish() wakes every waiter with the new listing, or - if the
 * walk failed and an expired listing exists - with that stale copy
 * (stale-if-error), or with the error.  Waiters are called without the lock.
 *
 * Bounds: at most max_listings slots (default CACHE_DEFAULT_MAX_LISTINGS),
 * so lookups of ever new ids (anyone may look up /by-id/<n>.json) cannot
 * grow the daemon without end; and, with max_bytes, the bytes persons hold.
 * Slots sit on a list in order of use; past a bound the least recently used
 * go from its tail (a tenth of max_listings in one batch), never one that a
 * walk or a waiter still uses.  An evicted listing takes along the persons
 * only it and the store held.
 */
#ifndef PDFS_CACHE_H
#define PDFS_CACHE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "listing.h"
#include "bytecache.h"
#include "person.h"

struct listing_waiter {
	struct listing_waiter *next;
	/* l is a new reference (caller unrefs) or NULL with err > 0. */
	void (*done)(struct listing_waiter *w, struct listing *l, int err);
};

enum cache_lookup {
	CACHE_FRESH,       /* *out holds a reference; w untouched */
	CACHE_START_FETCH, /* w queued; the caller must fetch and call finish */
	CACHE_JOINED,      /* w queued; a fetch is already running */
	CACHE_FAILED,      /* out of memory: w was already answered with ENOMEM */
	CACHE_STREAM_START,  /* no listing yet: *g grows as the walk the caller must start goes */
	CACHE_STREAM_JOINED, /* no listing yet: *g grows as the walk in flight goes */
};

struct cache_stats {
	uint64_t persons;
	uint64_t person_bytes;   /* JSON + vCard + names held for persons */
	uint64_t evictions;      /* listings dropped to stay under a bound */
	uint64_t listings;
	uint64_t hits;
	uint64_t misses;
	uint64_t stale_served;
	uint64_t walks;
	uint64_t purge_passes;   /* passes over the person store for unused persons */
};

struct cache;

/* ttl in seconds; 0 disables caching (every lookup fetches, but concurrent
 * lookups still share one walk).  max_bytes bounds what persons hold (0 = no
 * bound): past it, the least recently used listings are dropped, and with
 * them the persons no listing uses any more. */
struct cache *cache_new(double ttl, uint64_t max_bytes);
/* True when listings of persons are kept by ids (cache_use_bytecache). */
bool cache_lists_by_ids(struct cache *c);
/* 10,000 listings: every directory of a big company's daily use, and each
 * about 300 bytes when empty. */
#define CACHE_DEFAULT_MAX_LISTINGS 10000u
void cache_set_max_listings(struct cache *c, size_t max_listings);
void cache_free(struct cache *c);
double cache_ttl(const struct cache *c);

enum cache_lookup cache_listing_lookup(struct cache *c, uint64_t key, double now,
				       struct listing **out, struct listing_waiter *w);
/* Like cache_listing_lookup, but a directory with no listing at all (its
 * first walk) is not waited for: *g (a new reference) holds its persons as
 * the walk brings them, and w is not queued.  With a listing (fresh or
 * expired) it is cache_listing_lookup. */
struct growing;
enum cache_lookup cache_listing_lookup_stream(struct cache *c, uint64_t key, double now,
					      struct listing **out, struct listing_waiter *w,
					      struct growing **g);
/* The growing listing of key's first walk, or NULL (the walker appends to it). */
struct growing *cache_growing(struct cache *c, uint64_t key);

/* Takes ownership of `fresh` (may be NULL when err != 0).  A key nobody
 * looked up yet gets a slot too (listings fetched ahead of use). */
void cache_listing_finish(struct cache *c, uint64_t key, struct listing *fresh, int err,
			  double now);
/* True if the kernel may keep what it cached of this directory: the listing
 * handed out now has the same generation as the last one handed out. */
bool cache_listing_unchanged_since_last_open(struct cache *c, uint64_t key, uint64_t generation);
/* Forget a listing so the next lookup fetches (the on-demand refresh). */
void cache_listing_expire(struct cache *c, uint64_t key);
/* Mark every listing expired and due for a full walk (SIGHUP, refresh file). */
void cache_expire_all(struct cache *c);
/* The current listing of key even if expired (for incremental refresh), or
 * NULL - also while a full walk is due (SIGHUP), until one succeeds. */
struct listing *cache_listing_peek(struct cache *c, uint64_t key);

/* The listing of key if it is fresh - served without a request - else
 * NULL.  Not a use: no hit counted, the order of use unchanged. */
struct listing *cache_listing_peek_fresh(struct cache *c, uint64_t key, double now);

/* Called (without the cache lock) when a stored person is replaced by one with
 * different bytes, so the kernel's copies can be dropped. */
typedef void (*cache_replace_fn)(void *ctx, int64_t person_id);
void cache_set_replace_hook(struct cache *c, cache_replace_fn fn, void *ctx);

/* Called (without the cache lock) for each listing a removed person was
 * taken out of: key is the listing's key, p the person as it held it. */
typedef void (*cache_remove_fn)(void *ctx, uint64_t key, const struct person *p);
void cache_set_remove_hook(struct cache *c, cache_remove_fn fn, void *ctx);

/* Persons that no longer exist (deleted on the server) leave every stored
 * listing at once - each listing that held one is replaced by a new
 * generation without it - and the person store.  Ids the store does not
 * hold cost nothing (a listing only holds stored persons).  Returns how many
 * listings changed. */
size_t cache_persons_remove(struct cache *c, const int64_t *ids, size_t n);

/* Mark every listing expired, without asking for full walks (Pipedrive is
 * reachable again after an offline start). */
void cache_expire_all_softly(struct cache *c);

/* The shared refresh: claim up to max listings that are stored, expired,
 * not being fetched and not due for a full walk, and that eligible() accepts.
 * Each claimed slot is marked as fetching (later lookups join its waiters)
 * and MUST be finished with cache_listing_finish.  keys[i] and a reference
 * to each current listing (lists[i], caller unrefs) are filled; returns how
 * many were claimed.  eligible() runs under the cache's lock: it must not
 * call the cache. */
size_t cache_claim_expired(struct cache *c, double now,
			   bool (*eligible)(uint64_t key, const struct listing *l, void *ctx),
			   void *ctx, uint64_t *keys, struct listing **lists, size_t max);
/* True if the cache holds a listing of key (fresh or not). */
bool cache_listing_held(struct cache *c, uint64_t key);
/* True if it holds one or is fetching one. */
bool cache_listing_busy(struct cache *c, uint64_t key);
/* When cache_expire_all last ran (monotonic seconds; -INFINITY if never):
 * what a listing's full walk must be newer than, for listings read back
 * from disk too. */
double cache_expire_all_at(struct cache *c);

/* How many times cache_expire_all ran, so that what others cache can follow
 * a SIGHUP refresh. */
uint64_t cache_expire_all_count(struct cache *c);

/* Store a person (takes the reference); returns a reference to the canonical
 * object for its id - the stored one if the JSON is identical.  With a
 * bytecache (cache_use_bytecache) the canonical object is light (attributes
 * only) and the bytes go to the bytecache. */
struct person *cache_person_put(struct cache *c, struct person *p);
/* The same for a person read back from the disk cache (not written again). */
struct person *cache_person_put_stored(struct cache *c, struct person *p);
/* Keep persons light, their bytes in b (a disk cache and cache_max_mb). */
struct bytecache;
void cache_use_bytecache(struct cache *c, struct bytecache *b);
/* The full version of p (its bytes: compact JSON, vCard) - p itself when it
 * is full, else from the bytecache or the disk; NULL if neither has that
 * version any more (fetch it again).  A new reference. */
struct person *cache_person_bytes(struct cache *c, const struct person *p);
/* The full version of person id whose digest is `digest` (a new reference)
 * from the bytecache or the disk; NULL if neither has it (or no bytecache). */
struct person *cache_person_version(struct cache *c, int64_t id, uint64_t digest);
/* Write the bytecache's persons not yet on disk (before a listing that
 * holds them is written).  0 or -errno. */
int cache_flush_bytes(struct cache *c);
/* The bytecache's counters; false when there is none. */
bool cache_bytes_stats(struct cache *c, struct bytecache_stats *out);
/* A new reference, or NULL if the id is unknown. */
struct person *cache_person_get(struct cache *c, int64_t id);
/* The same, but a person the store let go is read back from the bytecache
 * or the disk (light, stored again): NULL only if neither has it. */
struct person *cache_person_load(struct cache *c, int64_t id);
/* Person i of listing l (of persons), a new reference: the one it holds,
 * or, for a listing by ids, the stored version of its id (cache_person_load).
 * NULL (logged) if that person can be had nowhere: answer EIO. */
struct person *cache_listing_person(struct cache *c, const struct listing *l, size_t i);

/*
 * After a write to Pipedrive: p (its reference is taken) becomes the stored
 * version of its id, and every stored listing follows at once without a
 * walk - each one holding the id gets p in its place, those whose key is in
 * out[] lose it (a move to another owner or organization), those in in[]
 * that are stored and lack it gain it (a new person, a move).  Each listing
 * changed is a new generation; listings never fetched are left alone.  The
 * remove hook gets the old person for each listing it left or in which its
 * file name changed (its old names go), the replace hook the id.  Returns
 * how many listings changed.
 */
size_t cache_person_replace(struct cache *c, struct person *p, const uint64_t *in, size_t nin,
			    const uint64_t *out, size_t nout);

void cache_get_stats(struct cache *c, struct cache_stats *out);

#endif
