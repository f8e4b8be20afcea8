/*
 * growing.c - a directory's listing while its first walk runs (growing.h).
 */
#include "growing.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "idorder.h"
#include "idset.h"
#include "personmap.h"

struct growing {
	atomic_uint refs;
	pthread_mutex_t lock;
	struct person **persons;
	size_t count, cap;
	struct personmap ids; /* the persons above, by id */
	/* By ids (growing_new_by_ids): the ids in order, a set of them, and how
	 * a person is had from its id; persons and ids stay empty.  About 4 to
	 * 7 bytes per id in all, against 24 to 40 as an array and a hash table. */
	struct idorder id_order;
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
	idorder_clear(&g->id_order);
	idset_clear(&g->id_set);
	personmap_destroy(&g->ids, NULL);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

/* Lock held: append those of ids[0..n) not there yet, in their order.
 * False if out of memory (then a reader must not go on: see the callers). */
static bool append_ids(struct growing *g, int64_t *ids, size_t n)
{
	size_t fresh = 0;
	for (size_t i = 0; i < n; i++) {
		int added = idset_add(&g->id_set, ids[i]);
		if (added < 0)
			return false;
		if (added)
			ids[fresh++] = ids[i];
	}
	if (!idorder_append(&g->id_order, ids, fresh))
		return false;
	g->count += fresh;
	return true;
}

static bool append_one(struct growing *g, struct person *p)
{
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
	int64_t *ids = g->resolve ? malloc((n ? n : 1) * sizeof(*ids)) : NULL;
	for (size_t i = 0; ids && i < n; i++)
		ids[i] = persons[i]->id;
	pthread_mutex_lock(&g->lock);
	size_t before = g->count;
	bool ok = !g->resolve || ids;
	if (ids && !g->done)
		ok = append_ids(g, ids, n);
	for (size_t i = 0; !g->resolve && i < n && ok && !g->done; i++)
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
	free(ids);
	wake(list);
}

void growing_finish(struct growing *g, const struct listing *l, int err)
{
	pthread_mutex_lock(&g->lock);
	if (!g->done) {
		bool ok = true;
		int64_t batch[IDORDER_RUN];
		size_t batched = 0;
		for (size_t i = 0; l && listing_of_persons(l) && ok && i < l->count; i++) {
			size_t at = l->order ? l->order[i] : i;
			if (l->persons && !g->resolve)
				ok = append_one(g, l->persons[at]);
			else if (g->resolve)
				batch[batched++] = listing_id_at(l, at);
			else
				ok = false; /* a listing by ids for a growing of persons: a bug */
			if (batched == IDORDER_RUN || (batched && i + 1 == l->count)) {
				ok = append_ids(g, batch, batched);
				batched = 0;
			}
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
	if (ids)
		n = idorder_get(&g->id_order, from, max, ids);
	for (size_t i = from; !ids && i < g->count && n < max; i++, n++)
		out[n] = person_ref(g->persons[i]);
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
