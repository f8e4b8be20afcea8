/*
 * growing.c - a directory's listing while its first walk runs (growing.h).
 */
#include "growing.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "idtable.h"
#include "personmap.h"

/* Ids (>= 1) in an open-addressing table: at most 3/4 full, 0 is empty. */
struct idset {
	int64_t *slots;
	size_t nslots; /* a power of two, or 0 */
	size_t count;
};

static bool idset_has(const struct idset *s, int64_t id)
{
	if (!s->nslots)
		return false;
	size_t mask = s->nslots - 1;
	for (size_t i = idtable_mix((uint64_t)id) & mask; s->slots[i]; i = (i + 1) & mask)
		if (s->slots[i] == id)
			return true;
	return false;
}

static void idset_put(int64_t *slots, size_t nslots, int64_t id)
{
	size_t mask = nslots - 1, i = idtable_mix((uint64_t)id) & mask;
	while (slots[i])
		i = (i + 1) & mask;
	slots[i] = id;
}

/* Add id (not in s); false when out of memory. */
static bool idset_add(struct idset *s, int64_t id)
{
	if ((s->count + 1) * 4 > s->nslots * 3) {
		size_t nslots = s->nslots ? s->nslots * 2 : 1024;
		int64_t *slots = calloc(nslots, sizeof(*slots));
		if (!slots)
			return false;
		for (size_t i = 0; i < s->nslots; i++)
			if (s->slots[i])
				idset_put(slots, nslots, s->slots[i]);
		free(s->slots);
		s->slots = slots;
		s->nslots = nslots;
	}
	idset_put(s->slots, s->nslots, id);
	s->count++;
	return true;
}

struct growing {
	atomic_uint refs;
	pthread_mutex_t lock;
	struct person **persons;
	size_t count, cap;
	struct personmap ids; /* the persons above, by id */
	/* By ids (growing_new_by_ids): the ids in order, a set of them, and how
	 * a person is had from its id; persons and ids stay empty. */
	int64_t *id_order;
	struct idset id_set;
	growing_resolve_fn resolve;
	void *resolve_ctx;
	bool done;
	int err;
	struct growing_waiter *waiters;
};

struct growing *growing_new(void)
{
	struct growing *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	if (!personmap_init(&g->ids)) {
		free(g);
		return NULL;
	}
	atomic_init(&g->refs, 1);
	pthread_mutex_init(&g->lock, NULL);
	return g;
}

struct growing *growing_new_by_ids(growing_resolve_fn resolve, void *ctx)
{
	struct growing *g = growing_new();
	if (g) {
		g->resolve = resolve;
		g->resolve_ctx = ctx;
	}
	return g;
}

struct growing *growing_ref(struct growing *g)
{
	atomic_fetch_add(&g->refs, 1);
	return g;
}

void growing_unref(struct growing *g)
{
	if (!g || atomic_fetch_sub(&g->refs, 1) != 1)
		return;
	for (size_t i = 0; g->persons && i < g->count; i++)
		person_unref(g->persons[i]);
	free(g->persons);
	free(g->id_order);
	free(g->id_set.slots);
	personmap_destroy(&g->ids, NULL);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

/* Lock held; false if out of memory (the person is then not shown until
 * the final listing, which the handle does not use: an honest EIO below). */
static bool append_id(struct growing *g, int64_t id)
{
	if (idset_has(&g->id_set, id))
		return true;
	if (g->count == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 512;
		int64_t *grown = realloc(g->id_order, cap * sizeof(*grown));
		if (!grown)
			return false;
		g->id_order = grown;
		g->cap = cap;
	}
	if (!idset_add(&g->id_set, id))
		return false;
	g->id_order[g->count++] = id;
	return true;
}

static bool append_one(struct growing *g, struct person *p)
{
	if (g->resolve)
		return append_id(g, p->id);
	if (personmap_find(&g->ids, p->id))
		return true;
	if (g->count == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 512;
		struct person **grown = realloc(g->persons, cap * sizeof(*grown));
		if (!grown)
			return false;
		g->persons = grown;
		g->cap = cap;
	}
	if (!personmap_insert(&g->ids, p))
		return false;
	g->persons[g->count++] = person_ref(p);
	return true;
}

static void wake(struct growing_waiter *list)
{
	while (list) {
		struct growing_waiter *next = list->next;
		list->ready(list);
		list = next;
	}
}

void growing_append(struct growing *g, struct person *const *persons, size_t n)
{
	pthread_mutex_lock(&g->lock);
	size_t before = g->count;
	bool ok = true;
	for (size_t i = 0; i < n && ok && !g->done; i++)
		ok = append_one(g, persons[i]);
	if (!ok && !g->done) {
		g->done = true; /* a reader must not see a listing with holes */
		g->err = ENOMEM;
	}
	struct growing_waiter *list = NULL;
	if (g->count != before || g->done) {
		list = g->waiters;
		g->waiters = NULL;
	}
	pthread_mutex_unlock(&g->lock);
	wake(list);
}

void growing_finish(struct growing *g, const struct listing *l, int err)
{
	pthread_mutex_lock(&g->lock);
	if (!g->done) {
		bool ok = true;
		for (size_t i = 0; l && listing_of_persons(l) && ok && i < l->count; i++) {
			size_t at = l->order ? l->order[i] : i;
			if (l->persons && !g->resolve)
				ok = append_one(g, l->persons[at]);
			else if (g->resolve)
				ok = append_id(g, listing_id_at(l, at));
			else
				ok = false; /* a listing by ids for a growing of persons: a bug */
		}
		g->done = true;
		g->err = !l ? (err > 0 ? err : EIO) : ok ? 0 : ENOMEM;
	}
	struct growing_waiter *list = g->waiters;
	g->waiters = NULL;
	pthread_mutex_unlock(&g->lock);
	wake(list);
}

size_t growing_count(struct growing *g, bool *done, int *err)
{
	pthread_mutex_lock(&g->lock);
	size_t n = g->count;
	*done = g->done;
	*err = g->err;
	pthread_mutex_unlock(&g->lock);
	return n;
}

size_t growing_slice(struct growing *g, size_t from, size_t max, struct person **out)
{
	int64_t *ids = g->resolve ? malloc((max ? max : 1) * sizeof(*ids)) : NULL;
	if (g->resolve && !ids)
		return 0;
	pthread_mutex_lock(&g->lock);
	size_t n = 0;
	for (size_t i = from; i < g->count && n < max; i++, n++) {
		if (ids)
			ids[n] = g->id_order[i];
		else
			out[n] = person_ref(g->persons[i]);
	}
	pthread_mutex_unlock(&g->lock);
	for (size_t i = 0; ids && i < n; i++) /* without the lock: maybe the disk */
		out[i] = g->resolve(g->resolve_ctx, ids[i]);
	free(ids);
	return n;
}

struct person *growing_find(struct growing *g, int64_t id)
{
	pthread_mutex_lock(&g->lock);
	struct person **at = g->resolve ? NULL : personmap_find(&g->ids, id);
	struct person *p = at ? person_ref(*at) : NULL;
	bool listed = g->resolve && idset_has(&g->id_set, id);
	pthread_mutex_unlock(&g->lock);
	return listed ? g->resolve(g->resolve_ctx, id) : p;
}

bool growing_wait(struct growing *g, size_t have, struct growing_waiter *w)
{
	pthread_mutex_lock(&g->lock);
	bool wait = !g->done && g->count <= have;
	if (wait) {
		w->next = g->waiters;
		g->waiters = w;
	}
	pthread_mutex_unlock(&g->lock);
	return wait;
}
