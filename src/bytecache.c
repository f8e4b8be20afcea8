/*
 * bytecache.c - persons' bytes within a bound, the rest on disk (see
 * bytecache.h).
 */
#include "bytecache.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dlist.h"
#include "idtable.h"
#include "log.h"
#include "person_store.h"

struct entry {
	struct dlist_node lru; /* most recently used first */
	struct person *person;
	bool dirty;
};

struct bytecache {
	pthread_mutex_t lock;
	struct store *store;
	uint64_t max_bytes;
	struct idtable entries; /* id -> struct entry * */
	struct dlist lru;
	struct bytecache_stats stats;
	pthread_mutex_t flush_lock; /* one writer at a time, in order */
};

static uint64_t bytes_of(const struct person *p)
{
	return p->compact_len + p->vcf_len + p->base_len + sizeof(*p);
}

struct bytecache *bytecache_new(struct store *store, uint64_t max_bytes)
{
	struct bytecache *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	if (!idtable_init(&b->entries)) {
		free(b);
		return NULL;
	}
	pthread_mutex_init(&b->lock, NULL);
	pthread_mutex_init(&b->flush_lock, NULL);
	b->store = store;
	b->max_bytes = max_bytes;
	return b;
}

static void drop_entry(struct bytecache *b, struct entry *e)
{
	dlist_unlink(&b->lru, &e->lru);
	idtable_remove(&b->entries, (uint64_t)e->person->id);
	b->stats.persons--;
	b->stats.bytes -= bytes_of(e->person);
	if (e->dirty)
		b->stats.dirty--;
	person_unref(e->person);
	free(e);
}

/* Past the bound, the least recently used clean persons go - never the
 * most recent one, so a person bigger than the bound is read slice by slice
 * from memory, not from the disk per READ.  Lock held. */
static void evict(struct bytecache *b)
{
	struct dlist_node *n = b->lru.tail;
	while (n && n != b->lru.head && b->stats.bytes > b->max_bytes) {
		struct dlist_node *prev = n->prev;
		struct entry *e = dlist_entry(n, struct entry, lru);
		if (!e->dirty)
			drop_entry(b, e);
		n = prev;
	}
}

static void free_entry_value(void *v)
{
	struct entry *e = v;
	person_unref(e->person);
	free(e);
}

void bytecache_free(struct bytecache *b)
{
	if (!b)
		return;
	bytecache_flush(b);
	idtable_destroy(&b->entries, free_entry_value);
	pthread_mutex_destroy(&b->lock);
	pthread_mutex_destroy(&b->flush_lock);
	free(b);
}

/* Insert or replace; lock held.  Returns whether p is now held. */
static bool insert(struct bytecache *b, struct person *p, bool dirty)
{
	struct idtable_entry *ie = idtable_find(&b->entries, (uint64_t)p->id);
	if (ie) {
		struct entry *e = ie->value;
		if (e->person == p) {
			dlist_move_front(&b->lru, &e->lru);
			return true;
		}
		/* A newer version replaces it; an older dirty one need not be
		 * written any more (the newer one will be). */
		drop_entry(b, e);
	}
	struct entry *e = calloc(1, sizeof(*e));
	if (!e || !idtable_insert(&b->entries, (uint64_t)p->id, e)) {
		free(e);
		return false;
	}
	e->person = person_ref(p);
	e->dirty = dirty;
	dlist_push_front(&b->lru, &e->lru);
	b->stats.persons++;
	b->stats.bytes += bytes_of(p);
	if (dirty)
		b->stats.dirty++;
	return true;
}

void bytecache_put(struct bytecache *b, struct person *p, bool dirty)
{
	pthread_mutex_lock(&b->lock);
	bool held = insert(b, p, dirty);
	bool flush = b->stats.dirty >= BYTECACHE_BATCH;
	evict(b);
	pthread_mutex_unlock(&b->lock);
	if (!held && dirty && person_storable(p)) {
		/* No memory to keep it: write it now, or it would be lost. */
		struct store_person_row row = person_store_row(p);
		if (store_save(b->store, NULL, 0, &row, 1) != 0)
			log_warn("person %lld could not be kept in memory nor on disk; it is "
				 "fetched again when read", (long long)p->id);
	}
	if (flush)
		bytecache_flush(b);
}

/* The person of id in memory (a new reference), any version when `any`,
 * else only the one with this digest; NULL if not there.  Lock held. */
static struct person *held_version(struct bytecache *b, int64_t id, bool any, uint64_t digest)
{
	struct idtable_entry *ie = idtable_find(&b->entries, (uint64_t)id);
	if (!ie)
		return NULL;
	struct entry *e = ie->value;
	if (!any && e->person->digest != digest)
		return NULL;
	dlist_move_front(&b->lru, &e->lru);
	return person_ref(e->person);
}

static struct person *get_version(struct bytecache *b, int64_t id, bool any, uint64_t digest)
{
	pthread_mutex_lock(&b->lock);
	struct person *p = held_version(b, id, any, digest);
	pthread_mutex_unlock(&b->lock);
	if (p)
		return p;
	struct store_person_row row;
	void *mem = NULL;
	if (store_get_person(b->store, id, &row, &mem) == 0)
		p = person_from_store_row(&row);
	free(mem);
	pthread_mutex_lock(&b->lock);
	if (p && !any && p->digest != digest) {
		person_unref(p);
		p = NULL;
	}
	/* A version in memory (put meanwhile, or another one asked for) is
	 * newer than the disk's: the disk's never replaces it - a dirty one
	 * would then never be written. */
	bool held_other = idtable_find(&b->entries, (uint64_t)id) != NULL;
	struct person *newer = any && p && held_other ? held_version(b, id, true, 0) : NULL;
	if (newer) {
		person_unref(p);
		p = newer;
	} else if (p) {
		b->stats.loads++;
		if (!held_other) {
			insert(b, p, false);
			evict(b);
		}
	} else {
		b->stats.load_misses++;
	}
	pthread_mutex_unlock(&b->lock);
	return p;
}

int bytecache_forget(struct bytecache *b, const int64_t *ids, size_t n)
{
	pthread_mutex_lock(&b->flush_lock); /* no batch writes one back meanwhile */
	pthread_mutex_lock(&b->lock);
	for (size_t i = 0; i < n; i++) {
		struct idtable_entry *ie = idtable_find(&b->entries, (uint64_t)ids[i]);
		if (ie)
			drop_entry(b, ie->value);
	}
	pthread_mutex_unlock(&b->lock);
	int rc = n ? store_drop_persons(b->store, ids, n) : 0;
	pthread_mutex_unlock(&b->flush_lock);
	return rc;
}

bool bytecache_usable(struct bytecache *b)
{
	return store_usable(b->store);
}

struct person *bytecache_get(struct bytecache *b, int64_t id, uint64_t digest)
{
	return get_version(b, id, false, digest);
}

struct person *bytecache_get_current(struct bytecache *b, int64_t id)
{
	return get_version(b, id, true, 0);
}

struct dirty_scan {
	struct person **persons;
	size_t count, cap;
};

static void collect_dirty(struct idtable_entry *ie, void *ctx)
{
	struct dirty_scan *d = ctx;
	struct entry *e = ie->value;
	if (e->dirty && d->count < d->cap && person_storable(e->person))
		d->persons[d->count++] = person_ref(e->person);
}

int bytecache_flush(struct bytecache *b)
{
	pthread_mutex_lock(&b->flush_lock);
	pthread_mutex_lock(&b->lock);
	struct dirty_scan d = { .cap = b->stats.dirty };
	d.persons = malloc((d.cap ? d.cap : 1) * sizeof(*d.persons));
	if (d.persons)
		idtable_each(&b->entries, collect_dirty, &d);
	pthread_mutex_unlock(&b->lock);
	int rc = d.persons ? 0 : -ENOMEM;
	struct store_person_row *rows = d.count ? malloc(d.count * sizeof(*rows)) : NULL;
	if (d.count && !rows)
		rc = -ENOMEM;
	if (rows) {
		for (size_t i = 0; i < d.count; i++)
			rows[i] = person_store_row(d.persons[i]);
		rc = store_save(b->store, NULL, 0, rows, d.count);
	}
	/* A store that turned itself off will not take them: keep them no
	 * longer than memory allows (a read then fetches the person again). */
	bool give_up = rc != 0 && !store_usable(b->store);
	pthread_mutex_lock(&b->lock);
	for (size_t i = 0; i < d.count; i++) {
		struct idtable_entry *ie = idtable_find(&b->entries, (uint64_t)d.persons[i]->id);
		struct entry *e = ie ? ie->value : NULL;
		/* Written: clean now, unless a newer version replaced it meanwhile. */
		if ((rc == 0 || give_up) && e && e->person == d.persons[i] && e->dirty) {
			e->dirty = false;
			b->stats.dirty--;
		}
		person_unref(d.persons[i]);
	}
	evict(b);
	pthread_mutex_unlock(&b->lock);
	pthread_mutex_unlock(&b->flush_lock);
	free(rows);
	free(d.persons);
	return rc;
}

void bytecache_get_stats(struct bytecache *b, struct bytecache_stats *out)
{
	pthread_mutex_lock(&b->lock);
	*out = b->stats;
	pthread_mutex_unlock(&b->lock);
}
