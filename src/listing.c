#include "listing.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct listing *listing_alloc(size_t count)
{
	struct listing *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	atomic_init(&l->refs, 1);
	l->count = count;
	return l;
}

struct listing *listing_new_persons(size_t count)
{
	struct listing *l = listing_alloc(count);
	if (l && !(l->persons = calloc(count ? count : 1, sizeof(*l->persons)))) {
		free(l);
		return NULL;
	}
	return l;
}

struct listing *listing_adopt_persons(struct person **persons, size_t count)
{
	struct listing *l = listing_alloc(count);
	if (l)
		l->persons = persons;
	return l;
}

struct listing *listing_new_person_ids(size_t count)
{
	struct listing *l = listing_alloc(count);
	if (l && !(l->person_ids = calloc(count ? count : 1, sizeof(*l->person_ids)))) {
		free(l);
		return NULL;
	}
	return l;
}

struct listing *listing_adopt_person_ids(int64_t *ids, size_t count)
{
	struct listing *l = listing_alloc(count);
	if (l)
		l->person_ids = ids;
	return l;
}

struct listing *listing_new_ids(size_t count, bool with_names)
{
	struct listing *l = listing_alloc(count);
	if (!l)
		return NULL;
	l->ids = calloc(count ? count : 1, sizeof(*l->ids));
	if (with_names)
		l->names = calloc(count ? count : 1, sizeof(*l->names));
	if (!l->ids || (with_names && !l->names)) {
		free(l->ids);
		free(l->names);
		free(l);
		return NULL;
	}
	return l;
}

struct listing *listing_ref(struct listing *l)
{
	atomic_fetch_add(&l->refs, 1);
	return l;
}

void listing_unref(struct listing *l)
{
	if (!l || atomic_fetch_sub(&l->refs, 1) != 1)
		return;
	for (size_t i = 0; i < l->count; i++) {
		if (l->persons)
			person_unref(l->persons[i]);
		if (l->names)
			free(l->names[i]);
	}
	free(l->persons);
	free(l->person_ids);
	free(l->ids);
	free(l->names);
	free(l->order);
	free(l);
}

int64_t listing_id_at(const struct listing *l, size_t i)
{
	return l->persons ? l->persons[i]->id : l->person_ids ? l->person_ids[i] : l->ids[i];
}

/* The array of ids a listing holds: its person_ids or its ids. */
static int64_t **id_array(struct listing *l)
{
	return l->person_ids ? &l->person_ids : l->ids ? &l->ids : NULL;
}

struct id_slot {
	int64_t id;
	size_t index; /* original position: ties keep the later copy */
};

static int cmp_id_slot(const void *a, const void *b)
{
	const struct id_slot *x = a, *y = b;
	if (x->id != y->id)
		return (x->id > y->id) - (x->id < y->id);
	return (x->index > y->index) - (x->index < y->index);
}

bool listing_sort(struct listing *l)
{
	size_t n = l->count;
	size_t ascending = 1;
	while (ascending < n && listing_id_at(l, ascending - 1) < listing_id_at(l, ascending))
		ascending++;
	if (ascending >= n)
		return true; /* a walk by id: nothing to sort, nothing to allocate */
	struct id_slot *perm = malloc(n * sizeof(*perm));
	struct person **persons = l->persons ? malloc(n * sizeof(*persons)) : NULL;
	int64_t **old_ids = id_array(l);
	int64_t *ids = old_ids ? malloc(n * sizeof(*ids)) : NULL;
	char **names = l->names ? malloc(n * sizeof(*names)) : NULL;
	if (!perm || (l->persons && !persons) || (old_ids && !ids) || (l->names && !names)) {
		free(perm);
		free(persons);
		free(ids);
		free(names);
		return false; /* nothing changed */
	}
	for (size_t i = 0; i < n; i++) {
		perm[i].id = listing_id_at(l, i);
		perm[i].index = i;
	}
	qsort(perm, n, sizeof(*perm), cmp_id_slot);
	/* Of duplicate ids (a person seen twice across pages) keep the last copy. */
	size_t kept = 0;
	for (size_t i = 0; i < n; i++) {
		size_t from = perm[i].index;
		if (i + 1 < n && perm[i + 1].id == perm[i].id) {
			if (l->persons)
				person_unref(l->persons[from]);
			if (l->names)
				free(l->names[from]);
			continue;
		}
		if (persons)
			persons[kept] = l->persons[from];
		if (ids)
			ids[kept] = (*old_ids)[from];
		if (names)
			names[kept] = l->names[from];
		kept++;
	}
	if (persons) {
		free(l->persons);
		l->persons = persons;
	}
	if (ids) {
		free(*old_ids);
		*old_ids = ids;
	}
	if (names) {
		free(l->names);
		l->names = names;
	}
	l->count = kept;
	free(perm);
	return true;
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

/* An empty listing of count persons held the way l holds them. */
static struct listing *listing_new_like(const struct listing *l, size_t count)
{
	return l->person_ids ? listing_new_person_ids(count) : listing_new_persons(count);
}

/* Entry i of l becomes entry n of copy (held the same way). */
static void copy_entry(struct listing *copy, size_t n, const struct listing *l, size_t i)
{
	if (copy->person_ids)
		copy->person_ids[n] = l->person_ids[i];
	else
		copy->persons[n] = person_ref(l->persons[i]);
}

static void copy_state(struct listing *copy, const struct listing *l)
{
	copy->stale = l->stale;
	copy->full_walk_at = l->full_walk_at;
	memcpy(copy->synced_to, l->synced_to, sizeof(copy->synced_to));
}

static bool ids_contain(const int64_t *ids, size_t n, int64_t id)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ids[mid] == id)
			return true;
		if (ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

struct listing *listing_without(const struct listing *l, const int64_t *gone, size_t ngone)
{
	size_t removed = 0;
	for (size_t i = 0; i < l->count; i++)
		removed += ids_contain(gone, ngone, listing_id_at(l, i));
	struct listing *copy = listing_new_like(l, l->count - removed);
	size_t *new_index = malloc((l->count ? l->count : 1) * sizeof(*new_index));
	if (!copy || !new_index || (l->order && !(copy->order = malloc(
						    (copy->count ? copy->count : 1) *
						    sizeof(*copy->order))))) {
		free(new_index);
		listing_unref(copy);
		return NULL;
	}
	size_t n = 0;
	for (size_t i = 0; i < l->count; i++) {
		new_index[i] = SIZE_MAX;
		if (!ids_contain(gone, ngone, listing_id_at(l, i))) {
			new_index[i] = n;
			copy_entry(copy, n++, l, i);
		}
	}
	for (size_t i = 0, k = 0; l->order && i < l->count; i++)
		if (new_index[l->order[i]] != SIZE_MAX)
			copy->order[k++] = new_index[l->order[i]];
	free(new_index);
	copy->count = n;
	copy_state(copy, l);
	return copy;
}


struct listing *listing_with(const struct listing *l, struct person *p)
{
	long at = listing_find(l, p->id);
	size_t count = l->count + (at < 0);
	struct listing *copy = listing_new_like(l, count);
	if (!copy || (l->order && !(copy->order = malloc(count * sizeof(*copy->order))))) {
		listing_unref(copy);
		return NULL;
	}
	size_t n = 0, placed = SIZE_MAX;
	for (size_t i = 0; i <= l->count; i++) {
		bool here = at < 0 ? placed == SIZE_MAX &&
					     (i == l->count || listing_id_at(l, i) > p->id)
				   : (long)i == at;
		if (here) {
			placed = n;
			if (copy->person_ids)
				copy->person_ids[n++] = p->id;
			else
				copy->persons[n++] = person_ref(p);
		}
		if (i < l->count && (long)i != at)
			copy_entry(copy, n++, l, i);
	}
	/* the display order: a new person first (the newest), others kept */
	for (size_t i = 0, k = 0; l->order && i < l->count; i++) {
		if (i == 0 && at < 0)
			copy->order[k++] = placed;
		size_t old = l->order[i];
		copy->order[k++] = at < 0 && old >= placed ? old + 1 : old;
	}
	if (l->order && l->count == 0)
		copy->order[0] = 0;
	copy_state(copy, l);
	return copy;
}

struct listing *listing_by_ids(const struct listing *l)
{
	struct listing *copy = listing_new_person_ids(l->count);
	if (!copy || (l->order && !(copy->order = malloc((l->count ? l->count : 1) *
							  sizeof(*copy->order))))) {
		listing_unref(copy);
		return NULL;
	}
	for (size_t i = 0; i < l->count; i++)
		copy->person_ids[i] = listing_id_at(l, i);
	if (l->order)
		memcpy(copy->order, l->order, l->count * sizeof(*copy->order));
	copy_state(copy, l);
	copy->fetched_at = l->fetched_at;
	copy->generation = l->generation;
	return copy;
}
