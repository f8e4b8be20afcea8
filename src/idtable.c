#include "idtable.h"

#include <stdlib.h>

static size_t bucket_of(uint64_t k, size_t nbuckets)
{
	return (size_t)idtable_mix(k) & (nbuckets - 1);
}

#define INITIAL_BUCKETS 256

bool idtable_init(struct idtable *t)
{
	t->count = 0;
	t->buckets = calloc(INITIAL_BUCKETS, sizeof(*t->buckets));
	t->nbuckets = t->buckets ? INITIAL_BUCKETS : 0;
	return t->buckets != NULL;
}

struct idtable_entry *idtable_find(const struct idtable *t, uint64_t key)
{
	if (!t->nbuckets)
		return NULL;
	for (struct idtable_entry *e = t->buckets[bucket_of(key, t->nbuckets)]; e; e = e->next)
		if (e->key == key)
			return e;
	return NULL;
}

static void grow(struct idtable *t)
{
	size_t n = t->nbuckets ? t->nbuckets * 2 : INITIAL_BUCKETS;
	struct idtable_entry **b = calloc(n, sizeof(*b));
	if (!b)
		return; /* keep working with longer chains */
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct idtable_entry *e = t->buckets[i];
		while (e) {
			struct idtable_entry *next = e->next;
			size_t h = bucket_of(e->key, n);
			e->next = b[h];
			b[h] = e;
			e = next;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
}

struct idtable_entry *idtable_insert(struct idtable *t, uint64_t key, void *value)
{
	if (t->count >= t->nbuckets)
		grow(t);
	if (!t->nbuckets)
		return NULL; /* never had buckets, and still cannot get any */
	struct idtable_entry *e = malloc(sizeof(*e));
	if (!e)
		return NULL;
	size_t h = bucket_of(key, t->nbuckets);
	e->key = key;
	e->value = value;
	e->next = t->buckets[h];
	t->buckets[h] = e;
	t->count++;
	return e;
}

void *idtable_remove(struct idtable *t, uint64_t key)
{
	if (!t->nbuckets)
		return NULL;
	struct idtable_entry **link = &t->buckets[bucket_of(key, t->nbuckets)];
	for (; *link; link = &(*link)->next) {
		struct idtable_entry *e = *link;
		if (e->key == key) {
			void *value = e->value;
			*link = e->next;
			free(e);
			t->count--;
			return value;
		}
	}
	return NULL;
}

void idtable_destroy(struct idtable *t, void (*free_value)(void *))
{
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct idtable_entry *e = t->buckets[i];
		while (e) {
			struct idtable_entry *next = e->next;
			if (free_value)
				free_value(e->value);
			free(e);
			e = next;
		}
	}
	free(t->buckets);
	t->buckets = NULL;
	t->nbuckets = 0;
	t->count = 0;
}

void idtable_each(const struct idtable *t, void (*fn)(struct idtable_entry *e, void *ctx),
		  void *ctx)
{
	for (size_t i = 0; i < t->nbuckets; i++)
		for (struct idtable_entry *e = t->buckets[i]; e; e = e->next)
			fn(e, ctx);
}
