#include "cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* ------------------------------------------------------------------ */
/* Listings                                                             */

static struct listing *listing_alloc(size_t count, bool persons)
{
	struct listing *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	atomic_init(&l->refs, 1);
	l->count = count;
	size_t n = count ? count : 1;
	if (persons)
		l->persons = calloc(n, sizeof(*l->persons));
	else
		l->ids = calloc(n, sizeof(*l->ids));
	if (!l->persons && !l->ids) {
		free(l);
		return NULL;
	}
	return l;
}

struct listing *listing_new_persons(size_t count) { return listing_alloc(count, true); }
struct listing *listing_new_ids(size_t count) { return listing_alloc(count, false); }

struct listing *listing_ref(struct listing *l)
{
	atomic_fetch_add(&l->refs, 1);
	return l;
}

void listing_unref(struct listing *l)
{
	if (!l || atomic_fetch_sub(&l->refs, 1) != 1)
		return;
	if (l->persons)
		for (size_t i = 0; i < l->count; i++)
			person_unref(l->persons[i]);
	free(l->persons);
	free(l->ids);
	free(l);
}

static int64_t listing_id_at(const struct listing *l, size_t i)
{
	return l->persons ? l->persons[i]->id : l->ids[i];
}

static int cmp_person(const void *a, const void *b)
{
	const struct person *pa = *(struct person *const *)a, *pb = *(struct person *const *)b;
	return (pa->id > pb->id) - (pa->id < pb->id);
}

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

void listing_sort(struct listing *l)
{
	if (l->count < 2)
		return;
	/* qsort is not stable: for duplicate persons keep the later copy by
	 * sorting first and then, for each run of one id, the last element of
	 * the original order - approximated by keeping the newest update_time. */
	if (l->persons)
		qsort(l->persons, l->count, sizeof(*l->persons), cmp_person);
	else
		qsort(l->ids, l->count, sizeof(*l->ids), cmp_id);
	size_t out = 0;
	for (size_t i = 0; i < l->count; i++) {
		if (out > 0 && listing_id_at(l, out - 1) == listing_id_at(l, i)) {
			if (l->persons) {
				struct person **keep = &l->persons[out - 1];
				struct person *other = l->persons[i];
				if (other->update_time >= (*keep)->update_time) {
					person_unref(*keep);
					*keep = other;
				} else {
					person_unref(other);
				}
			}
			continue;
		}
		if (l->persons)
			l->persons[out++] = l->persons[i];
		else
			l->ids[out++] = l->ids[i];
	}
	l->count = out;
}

long listing_find(const struct listing *l, int64_t id)
{
	size_t lo = 0, hi = l->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int64_t v = listing_id_at(l, mid);
		if (v == id)
			return (long)mid;
		if (v < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* ------------------------------------------------------------------ */
/* A small chained hash table keyed by 64-bit integers                  */

struct entry {
	struct entry *next;
	uint64_t key;
	void *value;
};

struct table {
	struct entry **buckets;
	size_t nbuckets; /* power of two */
	size_t count;
};

static size_t hash_key(uint64_t k, size_t nbuckets)
{
	k ^= k >> 33;
	k *= UINT64_C(0xff51afd7ed558ccd);
	k ^= k >> 33;
	return (size_t)k & (nbuckets - 1);
}

static bool table_init(struct table *t)
{
	t->nbuckets = 1024;
	t->count = 0;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	return t->buckets != NULL;
}

static struct entry *table_find(const struct table *t, uint64_t key)
{
	for (struct entry *e = t->buckets[hash_key(key, t->nbuckets)]; e; e = e->next)
		if (e->key == key)
			return e;
	return NULL;
}

static void table_grow(struct table *t)
{
	size_t n = t->nbuckets * 2;
	struct entry **b = calloc(n, sizeof(*b));
	if (!b)
		return; /* keep working with longer chains */
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct entry *e = t->buckets[i];
		while (e) {
			struct entry *next = e->next;
			size_t h = hash_key(e->key, n);
			e->next = b[h];
			b[h] = e;
			e = next;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
}

/* Insert a new key (must not exist); NULL on ENOMEM. */
static struct entry *table_insert(struct table *t, uint64_t key, void *value)
{
	if (t->count >= t->nbuckets)
		table_grow(t);
	struct entry *e = malloc(sizeof(*e));
	if (!e)
		return NULL;
	size_t h = hash_key(key, t->nbuckets);
	e->key = key;
	e->value = value;
	e->next = t->buckets[h];
	t->buckets[h] = e;
	t->count++;
	return e;
}

static void table_destroy(struct table *t, void (*free_value)(void *))
{
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct entry *e = t->buckets[i];
		while (e) {
			struct entry *next = e->next;
			free_value(e->value);
			free(e);
			e = next;
		}
	}
	free(t->buckets);
}

/* ------------------------------------------------------------------ */
/* The cache                                                            */

struct slot {
	struct listing *current;
	double fetched_at;
	bool fetching;
	bool expired_by_request;
	struct listing_waiter *waiters;
	uint64_t last_opened_generation;
};

struct cache {
	pthread_mutex_t lock;
	double ttl;
	struct table persons; /* id -> struct person * */
	struct table slots;   /* key -> struct slot * */
	uint64_t next_generation;
	struct cache_stats stats;
};

struct cache *cache_new(double ttl)
{
	struct cache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	if (!table_init(&c->persons) || !table_init(&c->slots)) {
		free(c->persons.buckets);
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->ttl = ttl;
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
	table_destroy(&c->persons, free_person_value);
	table_destroy(&c->slots, free_slot_value);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

double cache_ttl(const struct cache *c) { return c->ttl; }

static bool slot_is_fresh(const struct cache *c, const struct slot *s, double now)
{
	return s->current && !s->expired_by_request && c->ttl > 0 && now - s->fetched_at < c->ttl;
}

static struct slot *slot_get_or_create(struct cache *c, uint64_t key)
{
	struct entry *e = table_find(&c->slots, key);
	if (e)
		return e->value;
	struct slot *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	if (!table_insert(&c->slots, key, s)) {
		free(s);
		return NULL;
	}
	return s;
}

enum cache_lookup cache_listing_lookup(struct cache *c, uint64_t key, double now,
				       struct listing **out, struct listing_waiter *w)
{
	enum cache_lookup result;
	pthread_mutex_lock(&c->lock);
	struct slot *s = slot_get_or_create(c, key);
	if (s && slot_is_fresh(c, s, now)) {
		*out = listing_ref(s->current);
		c->stats.hits++;
		result = CACHE_FRESH;
	} else if (!s) {
		/* Out of memory for the slot: fetch without coalescing. */
		*out = NULL;
		result = CACHE_START_FETCH;
		w->next = NULL;
	} else {
		w->next = s->waiters;
		s->waiters = w;
		c->stats.misses++;
		result = s->fetching ? CACHE_JOINED : CACHE_START_FETCH;
		if (result == CACHE_START_FETCH) {
			s->fetching = true;
			c->stats.walks++;
		}
	}
	pthread_mutex_unlock(&c->lock);
	if (!s && result == CACHE_START_FETCH)
		log_warn("out of memory for a cache slot; listing without sharing the walk");
	return result;
}

void cache_listing_finish(struct cache *c, uint64_t key, struct listing *fresh, int err,
			  double now)
{
	struct listing *serve = NULL;
	struct listing_waiter *waiters = NULL;
	pthread_mutex_lock(&c->lock);
	struct entry *e = table_find(&c->slots, key);
	struct slot *s = e ? e->value : NULL;
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
			s->expired_by_request = false;
		}
		serve = fresh;
	} else if (s && s->current) {
		s->current->stale = true;
		serve = listing_ref(s->current);
		c->stats.stale_served++;
	}
	pthread_mutex_unlock(&c->lock);

	if (!fresh && serve)
		log_warn("serving an expired copy of a directory (%zu entries) because the refresh "
			 "failed; it refreshes again on the next listing", serve->count);
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
	struct entry *e = table_find(&c->slots, key);
	if (e) {
		struct slot *s = e->value;
		unchanged = s->last_opened_generation == generation;
		s->last_opened_generation = generation;
	}
	pthread_mutex_unlock(&c->lock);
	return unchanged;
}

void cache_listing_expire(struct cache *c, uint64_t key)
{
	pthread_mutex_lock(&c->lock);
	struct entry *e = table_find(&c->slots, key);
	if (e)
		((struct slot *)e->value)->expired_by_request = true;
	pthread_mutex_unlock(&c->lock);
}

static bool same_person(const struct person *a, const struct person *b)
{
	return a->json_len == b->json_len && a->vcf_len == b->vcf_len &&
	       memcmp(a->json, b->json, a->json_len) == 0;
}

struct person *cache_person_put(struct cache *c, struct person *p)
{
	struct person *result = p;
	pthread_mutex_lock(&c->lock);
	struct entry *e = table_find(&c->persons, (uint64_t)p->id);
	if (e) {
		struct person *old = e->value;
		if (same_person(old, p)) {
			result = person_ref(old);
			person_unref(p);
		} else {
			c->stats.person_bytes -= old->json_len + old->base_len;
			c->stats.person_bytes += p->json_len + p->base_len;
			e->value = person_ref(p);
			person_unref(old);
		}
	} else if (table_insert(&c->persons, (uint64_t)p->id, p)) {
		person_ref(p);
		c->stats.persons++;
		c->stats.person_bytes += p->json_len + p->base_len;
	}
	pthread_mutex_unlock(&c->lock);
	return result;
}

struct person *cache_person_get(struct cache *c, int64_t id)
{
	struct person *p = NULL;
	pthread_mutex_lock(&c->lock);
	struct entry *e = table_find(&c->persons, (uint64_t)id);
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
