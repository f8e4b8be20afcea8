/*
 * growing.c - a directory's listing while its first walk runs (growing.h).
 */
#include "growing.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "personmap.h"

struct growing {
	atomic_uint refs;
	pthread_mutex_t lock;
	struct person **persons;
	size_t count, cap;
	struct personmap ids; /* the persons above, by id */
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

struct growing *growing_ref(struct growing *g)
{
	atomic_fetch_add(&g->refs, 1);
	return g;
}

void growing_unref(struct growing *g)
{
	if (!g || atomic_fetch_sub(&g->refs, 1) != 1)
		return;
	for (size_t i = 0; i < g->count; i++)
		person_unref(g->persons[i]);
	free(g->persons);
	personmap_destroy(&g->ids, NULL);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

/* Lock held; false if out of memory (the person is then not shown until
 * the final listing, which the handle does not use: an honest EIO below). */
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
		for (size_t i = 0; l && l->persons && ok && i < l->count; i++)
			ok = append_one(g, l->persons[l->order ? l->order[i] : i]);
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
	pthread_mutex_lock(&g->lock);
	size_t n = 0;
	for (size_t i = from; i < g->count && n < max; i++)
		out[n++] = person_ref(g->persons[i]);
	pthread_mutex_unlock(&g->lock);
	return n;
}

struct person *growing_find(struct growing *g, int64_t id)
{
	pthread_mutex_lock(&g->lock);
	struct person **at = personmap_find(&g->ids, id);
	struct person *p = at ? person_ref(*at) : NULL;
	pthread_mutex_unlock(&g->lock);
	return p;
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
