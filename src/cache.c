#include "cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dlist.h"
#include "idtable.h"
#include "log.h"

/* ------------------------------------------------------------------ */
/* The cache                                                            */

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
	uint64_t last_opened_generation;
};

struct cache {
	pthread_mutex_t lock;
	double ttl;
	uint64_t max_bytes;
	struct idtable persons; /* id -> struct person * */
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
};

static uint64_t person_bytes(const struct person *p)
{
	return person_mem_bytes(p);
}

struct cache *cache_new(double ttl, uint64_t max_bytes)
{
	struct cache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	if (!idtable_init(&c->persons) || !idtable_init(&c->slots)) {
		idtable_destroy(&c->persons, NULL);
		idtable_destroy(&c->slots, NULL);
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->ttl = ttl;
	c->max_bytes = max_bytes;
	c->max_listings = CACHE_DEFAULT_MAX_LISTINGS;
	c->next_generation = 1;
	return c;
}

static void free_person_value(void *v) { person_unref(v); }

static void free_slot_value(void *v)
{
	struct slot *s = v;
	listing_unref(s->current);
	free(s);
}

void cache_free(struct cache *c)
{
	if (!c)
		return;
	idtable_destroy(&c->slots, free_slot_value);
	idtable_destroy(&c->persons, free_person_value);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

double cache_ttl(const struct cache *c) { return c->ttl; }

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

static struct slot *slot_find(struct cache *c, uint64_t key)
{
	struct idtable_entry *e = idtable_find(&c->slots, key);
	return e ? e->value : NULL;
}

static struct slot *slot_get_or_create(struct cache *c, uint64_t key)
{
	struct slot *s = slot_find(c, key);
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

/* ---- the bounds: bytes of persons, number of listings ---- */

struct unused_persons {
	int64_t *ids;
	size_t count, cap;
};

static void collect_unused(struct idtable_entry *e, void *ctx)
{
	struct unused_persons *u = ctx;
	struct person *p = e->value;
	if (atomic_load(&p->refs) != 1 || u->count == u->cap)
		return;
	u->ids[u->count++] = p->id;
}

static void forget_person(struct cache *c, int64_t id)
{
	struct person *p = idtable_remove(&c->persons, (uint64_t)id);
	if (p) {
		c->stats.persons--;
		c->stats.person_bytes -= person_bytes(p);
		person_unref(p);
	}
}

/* Drop persons only the store holds (one pass over the store). Lock held. */
static void purge_unused_persons(struct cache *c)
{
	struct unused_persons u = { .cap = c->persons.count };
	u.ids = malloc((u.cap ? u.cap : 1) * sizeof(*u.ids));
	if (!u.ids)
		return;
	idtable_each(&c->persons, collect_unused, &u);
	for (size_t i = 0; i < u.count; i++)
		forget_person(c, u.ids[i]);
	free(u.ids);
}

/* Let go of an evicted listing; when it was the last holder, its persons
 * that only the store still holds leave the store too (no pass over the
 * whole store).  Lock held. */
static void release_listing(struct cache *c, struct listing *l)
{
	if (l && l->persons && atomic_load(&l->refs) == 1) {
		for (size_t i = 0; i < l->count; i++) {
			struct person *p = l->persons[i];
			struct idtable_entry *e = idtable_find(&c->persons, (uint64_t)p->id);
			/* held by this listing and the store, nobody else */
			if (e && e->value == p && atomic_load(&p->refs) == 2)
				forget_person(c, p->id);
		}
	}
	listing_unref(l);
}

static void slot_remove(struct cache *c, struct slot *s)
{
	dlist_unlink(&c->lru, &s->lru);
	idtable_remove(&c->slots, s->key);
	release_listing(c, s->current);
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
	return c->stats.person_bytes > c->max_bytes;
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
	if (!c->max_bytes || c->stats.person_bytes <= c->max_bytes)
		return;
	purge_unused_persons(c);
	evict_from_tail(c, keep, over_bytes, 0);
}

void cache_listing_finish(struct cache *c, uint64_t key, struct listing *fresh, int err,
			  double now)
{
	struct listing *serve = NULL;
	struct listing_waiter *waiters = NULL;
	pthread_mutex_lock(&c->lock);
	struct slot *s = fresh ? slot_get_or_create(c, key) : slot_find(c, key);
	if (s) {
		waiters = s->waiters;
		s->waiters = NULL;
		s->fetching = false;
	}
	if (fresh) {
		fresh->generation = c->next_generation++;
		if (s) {
			listing_unref(s->current);
			s->current = listing_ref(fresh);
			s->fetched_at = now;
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
	struct slot *s = slot_find(c, key);
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
	struct slot *s = slot_find(c, key);
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
	pthread_mutex_lock(&c->lock);
	idtable_each(&c->slots, expire_slot, NULL);
	c->expire_all_count++;
	pthread_mutex_unlock(&c->lock);
}

uint64_t cache_expire_all_count(struct cache *c)
{
	pthread_mutex_lock(&c->lock);
	uint64_t n = c->expire_all_count;
	pthread_mutex_unlock(&c->lock);
	return n;
}

/* ---- removing deleted persons ---- */

struct removal {
	uint64_t key;
	struct person *person;
};

struct removal_scan {
	struct cache *c;
	const int64_t *gone;
	size_t ngone;
	struct removal *done; /* (listing, person) pairs for the hook */
	size_t done_count, done_cap;
	size_t listings_changed;
	bool out_of_memory;
};

static void note_removal(struct removal_scan *rs, uint64_t key, struct person *p)
{
	if (rs->done_count == rs->done_cap) {
		size_t cap = rs->done_cap ? rs->done_cap * 2 : 16;
		struct removal *done = realloc(rs->done, cap * sizeof(*done));
		if (!done) {
			rs->out_of_memory = true;
			return;
		}
		rs->done = done;
		rs->done_cap = cap;
	}
	rs->done[rs->done_count++] = (struct removal){ key, person_ref(p) };
}

static void remove_from_slot(struct idtable_entry *e, void *ctx)
{
	struct removal_scan *rs = ctx;
	struct slot *s = e->value;
	struct listing *l = s->current;
	if (!l || !l->persons)
		return;
	size_t removed = 0;
	for (size_t i = 0; i < rs->ngone; i++)
		removed += listing_find(l, rs->gone[i]) >= 0;
	if (!removed)
		return;
	struct listing *copy = listing_without(l, rs->gone, rs->ngone);
	if (!copy) {
		rs->out_of_memory = true;
		return;
	}
	for (size_t i = 0; i < rs->ngone; i++) {
		long at = listing_find(l, rs->gone[i]);
		if (at >= 0)
			note_removal(rs, s->key, l->persons[at]);
	}
	copy->generation = rs->c->next_generation++;
	s->current = copy;
	listing_unref(l);
	rs->listings_changed++;
}

static int cmp_int64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

size_t cache_persons_remove(struct cache *c, const int64_t *ids, size_t n)
{
	int64_t *gone = malloc((n ? n : 1) * sizeof(*gone));
	if (!gone) {
		log_error("out of memory removing deleted persons from the listings; they leave "
			  "them at the next full refresh");
		return 0;
	}
	struct removal_scan rs = { .c = c, .gone = gone };
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < n; i++)
		if (idtable_find(&c->persons, (uint64_t)ids[i]))
			gone[rs.ngone++] = ids[i];
	qsort(gone, rs.ngone, sizeof(*gone), cmp_int64);
	size_t unique = 0;
	for (size_t i = 0; i < rs.ngone; i++)
		if (!unique || gone[unique - 1] != gone[i])
			gone[unique++] = gone[i];
	rs.ngone = unique;
	if (rs.ngone)
		idtable_each(&c->slots, remove_from_slot, &rs);
	for (size_t i = 0; i < rs.ngone; i++) {
		struct person *p = idtable_remove(&c->persons, (uint64_t)gone[i]);
		if (p) {
			c->stats.persons--;
			c->stats.person_bytes -= person_bytes(p);
			person_unref(p);
		}
	}
	cache_remove_fn hook = c->on_remove;
	void *hook_ctx = c->on_remove_ctx;
	pthread_mutex_unlock(&c->lock);
	if (rs.out_of_memory)
		log_error("out of memory removing deleted persons from the listings; they leave "
			  "them at the next full refresh");
	for (size_t i = 0; i < rs.done_count; i++) {
		if (hook)
			hook(hook_ctx, rs.done[i].key, rs.done[i].person);
		person_unref(rs.done[i].person);
	}
	free(rs.done);
	free(gone);
	return rs.listings_changed;
}

struct listing *cache_listing_peek(struct cache *c, uint64_t key)
{
	struct listing *l = NULL;
	pthread_mutex_lock(&c->lock);
	struct slot *s = slot_find(c, key);
	/* The flag stays until a walk succeeds: a failed full walk is retried. */
	if (s && !s->force_full_walk && s->current)
		l = listing_ref(s->current);
	pthread_mutex_unlock(&c->lock);
	return l;
}

struct person *cache_person_put(struct cache *c, struct person *p)
{
	struct person *result = p;
	bool replaced = false;
	pthread_mutex_lock(&c->lock);
	struct idtable_entry *e = idtable_find(&c->persons, (uint64_t)p->id);
	if (e) {
		struct person *old = e->value;
		if (person_same(old, p)) {
			result = person_ref(old);
			person_unref(p);
		} else {
			c->stats.person_bytes -= person_bytes(old);
			c->stats.person_bytes += person_bytes(p);
			e->value = person_ref(p);
			person_unref(old);
			replaced = true;
		}
	} else if (idtable_insert(&c->persons, (uint64_t)p->id, p)) {
		person_ref(p);
		c->stats.persons++;
		c->stats.person_bytes += person_bytes(p);
	}
	cache_replace_fn hook = c->on_replace;
	void *hook_ctx = c->on_replace_ctx;
	pthread_mutex_unlock(&c->lock);
	if (replaced && hook)
		hook(hook_ctx, result->id);
	return result;
}

struct person *cache_person_get(struct cache *c, int64_t id)
{
	struct person *p = NULL;
	pthread_mutex_lock(&c->lock);
	struct idtable_entry *e = idtable_find(&c->persons, (uint64_t)id);
	if (e)
		p = person_ref(e->value);
	pthread_mutex_unlock(&c->lock);
	return p;
}

void cache_get_stats(struct cache *c, struct cache_stats *out)
{
	pthread_mutex_lock(&c->lock);
	*out = c->stats;
	out->listings = c->slots.count;
	pthread_mutex_unlock(&c->lock);
}
