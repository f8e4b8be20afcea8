/*
 * cache_persons.c - the cache's person store: one canonical object per id,
 * persons deleted on the server leaving every listing, and (with a disk
 * cache and cache_max_mb) persons' bytes kept within the bound.  See cache.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache_internal.h"
#include "log.h"

uint64_t cache_person_bytes_held(const struct person *p)
{
	return person_mem_bytes(p);
}

struct unused_persons {
	int64_t *ids;
	size_t count, cap;
};

static void collect_unused(struct person *p, void *ctx)
{
	struct unused_persons *u = ctx;
	if (atomic_load(&p->refs) != 1 || u->count == u->cap)
		return;
	u->ids[u->count++] = p->id;
}

void cache_forget_person(struct cache *c, int64_t id)
{
	struct person *p = personmap_remove(&c->persons, id);
	if (p) {
		c->stats.persons--;
		c->stats.person_bytes -= cache_person_bytes_held(p);
		person_unref(p);
	}
}

/* Drop persons only the store holds (one pass over the store). Lock held. */
void cache_purge_unused_persons(struct cache *c)
{
	struct unused_persons u = { .cap = c->persons.count };
	u.ids = malloc((u.cap ? u.cap : 1) * sizeof(*u.ids));
	if (!u.ids)
		return;
	personmap_each(&c->persons, collect_unused, &u);
	for (size_t i = 0; i < u.count; i++)
		cache_forget_person(c, u.ids[i]);
	free(u.ids);
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
	struct person **olds; /* gone[i]'s person as last known (listings by ids), or NULL */
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
	if (!l || !listing_of_persons(l))
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
		struct person *old = at < 0 ? NULL : l->persons ? l->persons[at]
					   : rs->olds ? rs->olds[i] : NULL;
		if (old)
			note_removal(rs, s->key, old);
	}
	copy->generation = rs->c->next_generation++;
	cache_slot_set_current(rs->c, s, copy);
	rs->listings_changed++;
}

static int cmp_int64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Sort ids[0..n) and drop repeats; returns how many are left. */
static size_t unique_sorted(int64_t *ids, size_t n)
{
	qsort(ids, n, sizeof(*ids), cmp_int64);
	size_t unique = 0;
	for (size_t i = 0; i < n; i++)
		if (!unique || ids[unique - 1] != ids[i])
			ids[unique++] = ids[i];
	return unique;
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
	/* Listings by ids hold persons the store may not: an id counts if the
	 * bytecache or the disk knows it (a listing only holds ids stored
	 * there; an id never seen costs no pass over the listings), and its
	 * name (for the kernel's entries) is read back first. */
	bool by_ids = cache_may_hold_ids(c);
	if (by_ids) {
		memcpy(gone, ids, n * sizeof(*gone));
		size_t unique = unique_sorted(gone, n);
		rs.olds = calloc(unique ? unique : 1, sizeof(*rs.olds));
		for (size_t i = 0; i < unique; i++) {
			struct person *old = rs.olds ? cache_person_load(c, gone[i]) : NULL;
			if (old || !rs.olds) {
				if (rs.olds)
					rs.olds[rs.ngone] = old;
				gone[rs.ngone++] = gone[i];
			}
		}
	}
	pthread_mutex_lock(&c->lock);
	if (!by_ids) {
		for (size_t i = 0; i < n; i++)
			if (personmap_find(&c->persons, ids[i]))
				gone[rs.ngone++] = ids[i];
		rs.ngone = unique_sorted(gone, rs.ngone);
	}
	if (rs.ngone)
		idtable_each(&c->slots, remove_from_slot, &rs);
	for (size_t i = 0; i < rs.ngone; i++) {
		struct person *p = personmap_remove(&c->persons, gone[i]);
		if (p) {
			c->stats.persons--;
			c->stats.person_bytes -= cache_person_bytes_held(p);
			person_unref(p);
		}
	}
	cache_remove_fn hook = c->on_remove;
	void *hook_ctx = c->on_remove_ctx;
	pthread_mutex_unlock(&c->lock);
	/* Nothing reads a deleted person back (GETATTR of an inode the kernel
	 * still knows answers as for any unknown person). */
	if (by_ids && rs.ngone && bytecache_forget(c->bytes, gone, rs.ngone) != 0)
		log_warn("persons deleted on the server could not be dropped from the disk cache; "
			 "a file the kernel still knows may show them until it is looked up again");
	if (rs.out_of_memory)
		log_error("out of memory removing deleted persons from the listings; they leave "
			  "them at the next full refresh");
	for (size_t i = 0; i < rs.done_count; i++) {
		if (hook)
			hook(hook_ctx, rs.done[i].key, rs.done[i].person);
		person_unref(rs.done[i].person);
	}
	free(rs.done);
	for (size_t i = 0; rs.olds && i < rs.ngone; i++)
		person_unref(rs.olds[i]);
	free(rs.olds);
	free(gone);
	return rs.listings_changed;
}

void cache_use_bytecache(struct cache *c, struct bytecache *b)
{
	pthread_mutex_lock(&c->lock);
	c->bytes = b;
	pthread_mutex_unlock(&c->lock);
}

/* With a bytecache, the store holds a light copy and the bytecache the
 * bytes (written to disk in batches); p is given up.  Without memory for
 * the copy, p itself (full) is stored. */
static struct person *make_light(struct cache *c, struct person *p, bool on_disk)
{
	struct person *light = person_light(p);
	if (!light)
		return p;
	bytecache_put(c->bytes, p, !on_disk);
	person_unref(p);
	return light;
}

static struct person *put_person(struct cache *c, struct person *p, bool on_disk)
{
	if (!p->digest)
		person_set_digest(p); /* p is still the caller's alone */
	struct bytecache *bytes = c->bytes;
	if (bytes && !person_is_light(p)) {
		struct person *held = cache_person_get(c, p->id);
		if (held && person_same(held, p)) {
			person_unref(p);
			return held;
		}
		person_unref(held);
		p = make_light(c, p, on_disk);
	}
	struct person *result = p;
	bool replaced = false;
	pthread_mutex_lock(&c->lock);
	struct person **held = personmap_find(&c->persons, p->id);
	if (held) {
		struct person *old = *held;
		if (person_same(old, p)) {
			result = person_ref(old);
			person_unref(p);
		} else {
			c->stats.person_bytes -= cache_person_bytes_held(old);
			c->stats.person_bytes += cache_person_bytes_held(p);
			*held = person_ref(p);
			person_unref(old);
			replaced = true;
		}
	} else if (personmap_insert(&c->persons, p)) {
		person_ref(p);
		c->stats.persons++;
		c->stats.person_bytes += cache_person_bytes_held(p);
	}
	cache_keep_person_bound(c);
	cache_replace_fn hook = c->on_replace;
	void *hook_ctx = c->on_replace_ctx;
	pthread_mutex_unlock(&c->lock);
	if (replaced && hook)
		hook(hook_ctx, result->id);
	return result;
}

struct person *cache_person_put(struct cache *c, struct person *p)
{
	return put_person(c, p, false);
}

struct person *cache_person_put_stored(struct cache *c, struct person *p)
{
	return put_person(c, p, true);
}

struct person *cache_person_bytes(struct cache *c, const struct person *p)
{
	if (!person_is_light(p))
		return person_ref((struct person *)p);
	return c->bytes ? bytecache_get(c->bytes, p->id, p->digest) : NULL;
}

struct person *cache_person_version(struct cache *c, int64_t id, uint64_t digest)
{
	return c->bytes ? bytecache_get(c->bytes, id, digest) : NULL;
}

bool cache_bytes_stats(struct cache *c, struct bytecache_stats *out)
{
	if (!c->bytes)
		return false;
	bytecache_get_stats(c->bytes, out);
	return true;
}

int cache_flush_bytes(struct cache *c)
{
	return c->bytes ? bytecache_flush(c->bytes) : 0;
}

struct person *cache_person_get(struct cache *c, int64_t id)
{
	struct person *p = NULL;
	pthread_mutex_lock(&c->lock);
	struct person **held = personmap_find(&c->persons, id);
	if (held)
		p = person_ref(*held);
	pthread_mutex_unlock(&c->lock);
	return p;
}

struct person *cache_person_load(struct cache *c, int64_t id)
{
	struct person *p = cache_person_get(c, id);
	if (p || !c->bytes)
		return p;
	struct person *full = bytecache_get_current(c->bytes, id);
	struct person *light = full ? person_light(full) : NULL;
	person_unref(full);
	if (!light)
		return NULL;
	pthread_mutex_lock(&c->lock);
	struct person **held = personmap_find(&c->persons, id);
	if (held) { /* stored meanwhile: that version is at least as new */
		p = person_ref(*held);
		person_unref(light);
	} else {
		p = light;
		if (personmap_insert(&c->persons, light)) {
			person_ref(light);
			c->stats.persons++;
			c->stats.person_bytes += cache_person_bytes_held(light);
			cache_keep_person_bound(c);
		}
	}
	pthread_mutex_unlock(&c->lock);
	return p;
}

struct person *cache_listing_person(struct cache *c, const struct listing *l, size_t i)
{
	if (l->persons)
		return person_ref(l->persons[i]);
	if (!l->person_ids)
		return NULL;
	struct person *p = cache_person_load(c, l->person_ids[i]);
	if (!p)
		log_error("person %lld of a folder is neither in memory nor in the disk cache; "
			  "the folder answers EIO until it is walked again (kill -HUP the daemon "
			  "to refresh now)",
			  (long long)l->person_ids[i]);
	return p;
}

/* ---- one person after a write ---- */

struct replacement {
	struct removal_scan rs; /* notes (key, old person) for the remove hook */
	struct person *p;
	struct person *prior; /* p's version before, for listings by ids; or NULL */
	const uint64_t *in, *out;
	size_t nin, nout;
};

static bool key_in(const uint64_t *keys, size_t n, uint64_t key)
{
	for (size_t i = 0; i < n; i++)
		if (keys[i] == key)
			return true;
	return false;
}

static void replace_in_slot(struct idtable_entry *e, void *ctx)
{
	struct replacement *r = ctx;
	struct slot *s = e->value;
	struct listing *l = s->current;
	if (!l || !listing_of_persons(l))
		return;
	long at = listing_find(l, r->p->id);
	bool leave = key_in(r->out, r->nout, s->key);
	if (at < 0 && (leave || !key_in(r->in, r->nin, s->key)))
		return;
	struct listing *copy = leave ? listing_without(l, &r->p->id, 1) : listing_with(l, r->p);
	if (!copy) {
		r->rs.out_of_memory = true;
		return;
	}
	struct person *old = at < 0 ? NULL : l->persons ? l->persons[at] : r->prior;
	if (old && (leave || old->base_len != r->p->base_len ||
		    memcmp(old->base, r->p->base, old->base_len) != 0))
		note_removal(&r->rs, s->key, old); /* its old names go */
	copy->generation = r->rs.c->next_generation++;
	cache_slot_set_current(r->rs.c, s, copy);
	r->rs.listings_changed++;
}

size_t cache_person_replace(struct cache *c, struct person *p, const uint64_t *in, size_t nin,
			    const uint64_t *out, size_t nout)
{
	if (!p->digest)
		person_set_digest(p);
	/* Listings by ids: the version they showed, before the new one is kept. */
	struct person *prior = cache_may_hold_ids(c) ? cache_person_load(c, p->id) : NULL;
	if (c->bytes && !person_is_light(p))
		p = make_light(c, p, false); /* its bytes to the bytecache */
	struct replacement r = { .rs = { .c = c }, .p = p, .prior = prior, .in = in, .nin = nin,
				 .out = out, .nout = nout };
	pthread_mutex_lock(&c->lock);
	struct person **held = personmap_find(&c->persons, p->id);
	if (held) {
		struct person *old = *held;
		c->stats.person_bytes += cache_person_bytes_held(p) - cache_person_bytes_held(old);
		*held = person_ref(p);
		person_unref(old);
	} else if (personmap_insert(&c->persons, p)) {
		person_ref(p);
		c->stats.persons++;
		c->stats.person_bytes += cache_person_bytes_held(p);
	}
	idtable_each(&c->slots, replace_in_slot, &r);
	cache_replace_fn on_replace = c->on_replace;
	void *replace_ctx = c->on_replace_ctx;
	cache_remove_fn on_remove = c->on_remove;
	void *remove_ctx = c->on_remove_ctx;
	pthread_mutex_unlock(&c->lock);
	if (r.rs.out_of_memory)
		log_error("out of memory updating the listings of person %lld after a write; "
			  "they show it at their next refresh", (long long)p->id);
	for (size_t i = 0; i < r.rs.done_count; i++) {
		if (on_remove)
			on_remove(remove_ctx, r.rs.done[i].key, r.rs.done[i].person);
		person_unref(r.rs.done[i].person);
	}
	free(r.rs.done);
	if (on_replace)
		on_replace(replace_ctx, p->id);
	person_unref(p);
	person_unref(prior);
	return r.rs.listings_changed;
}

