#include "cache.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dlist.h"
#include "idtable.h"
#include "log.h"
#include "cache_internal.h"

/* ------------------------------------------------------------------ */
/* The cache                                                            */

struct cache *cache_new(double ttl, uint64_t max_bytes)
{
	struct cache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	if (!personmap_init(&c->persons) || !idtable_init(&c->slots)) {
		personmap_destroy(&c->persons, NULL);
		idtable_destroy(&c->slots, NULL);
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->ttl = ttl;
	c->max_bytes = max_bytes;
	c->max_listings = CACHE_DEFAULT_MAX_LISTINGS;
	c->next_generation = 1;
	c->expire_all_at = -INFINITY;
	return c;
}

static void free_slot_value(void *v)
{
	struct slot *s = v;
	listing_unref(s->current);
	if (s->growing)
		growing_finish(s->growing, NULL, ECANCELED);
	growing_unref(s->growing);
	free(s);
}

void cache_free(struct cache *c)
{
	if (!c)
		return;
	idtable_destroy(&c->slots, free_slot_value);
	personmap_destroy(&c->persons, person_unref);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

double cache_ttl(const struct cache *c) { return c->ttl; }

bool cache_lists_by_ids(struct cache *c)
{
	pthread_mutex_lock(&c->lock);
	bool by_ids = cache_by_ids(c);
	pthread_mutex_unlock(&c->lock);
	return by_ids;
}

void cache_set_max_listings(struct cache *c, size_t max_listings)
{
	pthread_mutex_lock(&c->lock);
	c->max_listings = max_listings ? max_listings : 1;
	pthread_mutex_unlock(&c->lock);
}

void cache_set_replace_hook(struct cache *c, cache_replace_fn fn, void *ctx)
{
	pthread_mutex_lock(&c->lock);
	c->on_replace = fn;
	c->on_replace_ctx = ctx;
	pthread_mutex_unlock(&c->lock);
}

void cache_set_remove_hook(struct cache *c, cache_remove_fn fn, void *ctx)
{
	pthread_mutex_lock(&c->lock);
	c->on_remove = fn;
	c->on_remove_ctx = ctx;
	pthread_mutex_unlock(&c->lock);
}

static bool slot_is_fresh(const struct cache *c, const struct slot *s, double now)
{
	return s->current && !s->expired_by_request && c->ttl > 0 && now - s->fetched_at < c->ttl;
}

static void slot_touch(struct cache *c, struct slot *s, double now)
{
	s->last_used = now;
	dlist_move_front(&c->lru, &s->lru);
}

struct slot *cache_slot_find(struct cache *c, uint64_t key)
{
	struct idtable_entry *e = idtable_find(&c->slots, key);
	return e ? e->value : NULL;
}

static struct slot *slot_get_or_create(struct cache *c, uint64_t key)
{
	struct slot *s = cache_slot_find(c, key);
	if (s)
		return s;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->key = key;
	if (!idtable_insert(&c->slots, key, s)) {
		free(s);
		return NULL;
	}
	dlist_push_front(&c->lru, &s->lru);
	return s;
}

enum cache_lookup cache_listing_lookup(struct cache *c, uint64_t key, double now,
				       struct listing **out, struct listing_waiter *w)
{
	enum cache_lookup result;
	pthread_mutex_lock(&c->lock);
	struct slot *s = slot_get_or_create(c, key);
	if (!s) {
		result = CACHE_FAILED;
	} else if (slot_is_fresh(c, s, now)) {
		slot_touch(c, s, now);
		*out = listing_ref(s->current);
		c->stats.hits++;
		result = CACHE_FRESH;
	} else {
		slot_touch(c, s, now);
		w->next = s->waiters;
		s->waiters = w;
		c->stats.misses++;
		result = s->fetching ? CACHE_JOINED : CACHE_START_FETCH;
		if (result == CACHE_START_FETCH) {
			s->fetching = true;
			s->expiries_at_fetch = s->expiries;
			c->stats.walks++;
		}
	}
	pthread_mutex_unlock(&c->lock);
	if (result == CACHE_FAILED) {
		log_error("out of memory for a directory listing");
		w->done(w, NULL, ENOMEM);
	}
	return result;
}

static struct person *load_person(void *cache, int64_t id)
{
	return cache_person_load(cache, id);
}

enum cache_lookup cache_listing_lookup_stream(struct cache *c, uint64_t key, double now,
					      struct listing **out, struct listing_waiter *w,
					      struct growing **g)
{
	*g = NULL;
	pthread_mutex_lock(&c->lock);
	struct slot *s = cache_slot_find(c, key);
	bool stream = !s || (!s->current && (s->growing || !s->fetching));
	if (stream && !s)
		s = slot_get_or_create(c, key);
	/* Listings by ids grow by ids too: a first walk holds no persons. */
	if (stream && s && !s->growing)
		s->growing = cache_by_ids(c) ? growing_new_by_ids(load_person, c) : growing_new();
	enum cache_lookup result;
	if (!stream || !s || !s->growing) {
		pthread_mutex_unlock(&c->lock);
		return cache_listing_lookup(c, key, now, out, w);
	}
	slot_touch(c, s, now);
	c->stats.misses++;
	*g = growing_ref(s->growing);
	result = s->fetching ? CACHE_STREAM_JOINED : CACHE_STREAM_START;
	if (result == CACHE_STREAM_START) {
		s->fetching = true;
		s->expiries_at_fetch = s->expiries;
		c->stats.walks++;
	}
	pthread_mutex_unlock(&c->lock);
	return result;
}

struct growing *cache_growing(struct cache *c, uint64_t key)
{
	pthread_mutex_lock(&c->lock);
	struct slot *s = cache_slot_find(c, key);
	struct growing *g = s && s->growing ? growing_ref(s->growing) : NULL;
	pthread_mutex_unlock(&c->lock);
	return g;
}

/* ---- the bounds: bytes of persons, number of listings ---- */

/* Let go of an evicted listing; when it was the last holder, its persons
 * that only the store still holds leave the store too (no pass over the
 * whole store).  Lock held. */
static void release_listing(struct cache *c, struct listing *l)
{
	if (l && l->persons && atomic_load(&l->refs) == 1) {
		for (size_t i = 0; i < l->count; i++) {
			struct person *p = l->persons[i];
			struct person **held = personmap_find(&c->persons, p->id);
			/* held by this listing and the store, nobody else */
			if (held && *held == p && atomic_load(&p->refs) == 2)
				cache_forget_person(c, p->id);
		}
	}
	listing_unref(l);
}

static uint64_t id_bytes_of(const struct listing *l)
{
	return l && l->person_ids ? l->count * sizeof(*l->person_ids) : 0;
}

void cache_slot_set_current(struct cache *c, struct slot *s, struct listing *l)
{
	c->listing_id_bytes -= id_bytes_of(s->current);
	c->listing_id_bytes += id_bytes_of(l);
	listing_unref(s->current);
	s->current = l;
}

static void slot_remove(struct cache *c, struct slot *s)
{
	dlist_unlink(&c->lru, &s->lru);
	idtable_remove(&c->slots, s->key);
	c->listing_id_bytes -= id_bytes_of(s->current);
	release_listing(c, s->current);
	growing_unref(s->growing); /* finished before a slot can go */
	free(s);
}

/* True if the slot must stay: someone still waits on it or fetches it. */
static bool waiters_kept(const struct slot *s)
{
	return s->waiters != NULL || s->fetching;
}

/* Evict least recently used slots, from the tail of the list, while
 * over_bound says so; `keep` and slots in use stay. */
static void evict_from_tail(struct cache *c, const struct slot *keep,
			    bool (*over_bound)(const struct cache *c, size_t target), size_t target)
{
	struct dlist_node *n = c->lru.tail;
	while (n && over_bound(c, target)) {
		struct dlist_node *prev = n->prev;
		struct slot *s = dlist_entry(n, struct slot, lru);
		if (s != keep && !waiters_kept(s)) {
			slot_remove(c, s);
			c->stats.evictions++;
		}
		n = prev;
	}
}

static bool over_bytes(const struct cache *c, size_t target)
{
	(void)target;
	return c->stats.person_bytes + c->listing_id_bytes > c->max_bytes;
}

/* The amortized pass over the person store for unused persons (see
 * enforce_bounds); true if it ran.  Lock held. */
static bool purge_when_grown(struct cache *c)
{
	bool purge = !c->stats.purge_passes ||
		     c->stats.person_bytes >= c->bytes_after_purge + c->max_bytes / 8;
	if (purge) {
		cache_purge_unused_persons(c);
		c->stats.purge_passes++;
	}
	return purge;
}

void cache_keep_person_bound(struct cache *c)
{
	if (c->max_bytes && cache_by_ids(c) &&
	    c->stats.person_bytes + c->listing_id_bytes > c->max_bytes && purge_when_grown(c))
		c->bytes_after_purge = c->stats.person_bytes;
}

static bool over_count(const struct cache *c, size_t target)
{
	return c->slots.count > target;
}

/* Stay under max_bytes (cache_max_mb) and max_listings.  Past the count
 * bound, a tenth of the slots go in one batch, so the walk from the tail is
 * paid once per many new slots.  Lock held. */
static void enforce_bounds(struct cache *c, const struct slot *keep)
{
	if (c->slots.count > c->max_listings)
		evict_from_tail(c, keep, over_count, c->max_listings - c->max_listings / 10);
	if (!c->max_bytes || !over_bytes(c, 0))
		return;
	/* A pass over the whole person store for unused persons costs
	 * milliseconds at a million persons, and when the light persons of the
	 * listings in use alone exceed the bound, every listing that finishes
	 * (a /by-id lookup fills in dozens) would pay it: 400 ms per /by-id read
	 * at 200,000 persons.  So a pass runs again only once the store has
	 * grown by an eighth of the bound since the last one ended; meanwhile
	 * eviction (which takes along the persons only the evicted listing
	 * held) keeps the bound, and unused persons overshoot it by at most
	 * that eighth. */
	bool purge = purge_when_grown(c);
	evict_from_tail(c, keep, over_bytes, 0);
	if (purge)
		c->bytes_after_purge = c->stats.person_bytes;
}

void cache_listing_finish(struct cache *c, uint64_t key, struct listing *fresh, int err,
			  double now)
{
	struct listing *serve = NULL;
	struct listing_waiter *waiters = NULL;
	/* Under cache_max_mb a listing keeps its persons' ids, not them: the
	 * persons stay in the store while the bound allows.  Copied before the
	 * lock is taken. */
	bool let_go_many = false;
	if (fresh && fresh->persons && cache_lists_by_ids(c)) {
		struct listing *by_ids = listing_by_ids(fresh);
		if (by_ids) {
			listing_unref(fresh);
			fresh = by_ids;
			let_go_many = fresh->count * PERSON_LIGHT_SIZE >= c->max_bytes / 8;
		}
	}
	pthread_mutex_lock(&c->lock);
	/* A big listing let go of its persons: the next bound check passes over
	 * the store whatever it grew by. */
	if (let_go_many)
		c->bytes_after_purge = 0;
	struct slot *s = fresh ? slot_get_or_create(c, key) : cache_slot_find(c, key);
	struct growing *growing = NULL;
	if (s) {
		waiters = s->waiters;
		s->waiters = NULL;
		s->fetching = false;
		growing = s->growing;
		s->growing = NULL;
	}
	if (fresh) {
		fresh->generation = c->next_generation++;
		if (s) {
			cache_slot_set_current(c, s, listing_ref(fresh));
			s->fetched_at = fresh->fetched_at != 0 && fresh->fetched_at < now
						? fresh->fetched_at
						: now;
			if (!s->last_used)
				s->last_used = now;
			/* Still expired if a refresh was asked for after this walk began. */
			s->expired_by_request = s->expiries != s->expiries_at_fetch;
			if (!s->expired_by_request)
				s->force_full_walk = false;
		}
		serve = fresh;
		enforce_bounds(c, s);
	} else if (s && s->current) {
		s->current->stale = true;
		serve = listing_ref(s->current);
		c->stats.stale_served++;
	} else if (s && !waiters_kept(s)) {
		/* A failed first walk leaves nothing worth a slot. */
		slot_remove(c, s);
	}
	pthread_mutex_unlock(&c->lock);

	/* Readers of the first walk's persons so far: the rest, or the error. */
	if (growing) {
		growing_finish(growing, fresh, fresh ? 0 : err > 0 ? err : EIO);
		growing_unref(growing);
	}
	if (!fresh && serve && waiters)
		log_warn("serving an expired copy of a directory (%zu entries) because the refresh "
			 "failed; it is refreshed again on the next listing", serve->count);
	/* Waiters were pushed in LIFO order; serve them oldest first. */
	struct listing_waiter *ordered = NULL;
	while (waiters) {
		struct listing_waiter *next = waiters->next;
		waiters->next = ordered;
		ordered = waiters;
		waiters = next;
	}
	while (ordered) {
		struct listing_waiter *next = ordered->next;
		if (serve)
			ordered->done(ordered, listing_ref(serve), 0);
		else
			ordered->done(ordered, NULL, err > 0 ? err : EIO);
		ordered = next;
	}
	listing_unref(serve);
}

bool cache_listing_unchanged_since_last_open(struct cache *c, uint64_t key, uint64_t generation)
{
	bool unchanged = false;
	pthread_mutex_lock(&c->lock);
	struct slot *s = cache_slot_find(c, key);
	if (s) {
		unchanged = s->last_opened_generation == generation;
		s->last_opened_generation = generation;
	}
	pthread_mutex_unlock(&c->lock);
	return unchanged;
}

void cache_listing_expire(struct cache *c, uint64_t key)
{
	pthread_mutex_lock(&c->lock);
	struct slot *s = cache_slot_find(c, key);
	if (s) {
		s->expired_by_request = true;
		s->expiries++;
	}
	pthread_mutex_unlock(&c->lock);
}

static void expire_slot(struct idtable_entry *e, void *ctx)
{
	(void)ctx;
	struct slot *s = e->value;
	s->expired_by_request = true;
	s->force_full_walk = true;
	s->expiries++;
}

void cache_expire_all(struct cache *c)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	pthread_mutex_lock(&c->lock);
	idtable_each(&c->slots, expire_slot, NULL);
	c->expire_all_count++;
	c->expire_all_at = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	pthread_mutex_unlock(&c->lock);
}

static void expire_slot_softly(struct idtable_entry *e, void *ctx)
{
	(void)ctx;
	struct slot *s = e->value;
	s->expired_by_request = true;
	s->expiries++;
}

void cache_expire_all_softly(struct cache *c)
{
	pthread_mutex_lock(&c->lock);
	idtable_each(&c->slots, expire_slot_softly, NULL);
	pthread_mutex_unlock(&c->lock);
}

struct claim_scan {
	const struct cache *c;
	double now;
	bool (*eligible)(uint64_t key, const struct listing *l, void *ctx);
	void *ctx;
	struct slot **found;
	size_t count, max;
};

static void collect_expired(struct idtable_entry *e, void *ctx)
{
	struct claim_scan *scan = ctx;
	struct slot *s = e->value;
	if (scan->count < scan->max && s->current && !s->fetching && !s->force_full_walk &&
	    !slot_is_fresh(scan->c, s, scan->now) && scan->eligible(s->key, s->current, scan->ctx))
		scan->found[scan->count++] = s;
}

size_t cache_claim_expired(struct cache *c, double now,
			   bool (*eligible)(uint64_t key, const struct listing *l, void *ctx),
			   void *ctx, uint64_t *keys, struct listing **lists, size_t max)
{
	struct slot **found = malloc((max ? max : 1) * sizeof(*found));
	if (!found)
		return 0;
	pthread_mutex_lock(&c->lock);
	struct claim_scan scan = { .c = c, .now = now, .eligible = eligible, .ctx = ctx,
				   .found = found, .max = max };
	idtable_each(&c->slots, collect_expired, &scan);
	for (size_t i = 0; i < scan.count; i++) {
		struct slot *s = found[i];
		s->fetching = true;
		s->expiries_at_fetch = s->expiries;
		keys[i] = s->key;
		lists[i] = listing_ref(s->current);
	}
	pthread_mutex_unlock(&c->lock);
	free(found);
	return scan.count;
}

bool cache_listing_held(struct cache *c, uint64_t key)
{
	pthread_mutex_lock(&c->lock);
	struct slot *s = cache_slot_find(c, key);
	bool held = s && s->current;
	pthread_mutex_unlock(&c->lock);
	return held;
}

bool cache_listing_busy(struct cache *c, uint64_t key)
{
	pthread_mutex_lock(&c->lock);
	struct slot *s = cache_slot_find(c, key);
	bool busy = s && (s->current || s->fetching);
	pthread_mutex_unlock(&c->lock);
	return busy;
}

double cache_expire_all_at(struct cache *c)
{
	pthread_mutex_lock(&c->lock);
	double at = c->expire_all_at;
	pthread_mutex_unlock(&c->lock);
	return at;
}

uint64_t cache_expire_all_count(struct cache *c)
{
	pthread_mutex_lock(&c->lock);
	uint64_t n = c->expire_all_count;
	pthread_mutex_unlock(&c->lock);
	return n;
}

struct listing *cache_listing_peek(struct cache *c, uint64_t key)
{
	struct listing *l = NULL;
	pthread_mutex_lock(&c->lock);
	struct slot *s = cache_slot_find(c, key);
	/* The flag stays until a walk succeeds: a failed full walk is retried. */
	if (s && !s->force_full_walk && s->current)
		l = listing_ref(s->current);
	pthread_mutex_unlock(&c->lock);
	return l;
}

struct listing *cache_listing_peek_fresh(struct cache *c, uint64_t key, double now)
{
	struct listing *l = NULL;
	pthread_mutex_lock(&c->lock);
	struct slot *s = cache_slot_find(c, key);
	if (s && slot_is_fresh(c, s, now))
		l = listing_ref(s->current);
	pthread_mutex_unlock(&c->lock);
	return l;
}

void cache_get_stats(struct cache *c, struct cache_stats *out)
{
	pthread_mutex_lock(&c->lock);
	*out = c->stats;
	out->listings = c->slots.count;
	pthread_mutex_unlock(&c->lock);
}
