/*
 * listing.h - one directory's listing: an immutable, reference-counted
 * snapshot of its persons (person directories) or ids and names (owners,
 * organizations, filters), sorted by id.  The cache (cache.h) stores one per
 * directory; readers keep the snapshot they were given.  Knows neither FUSE
 * nor HTTP.
 */
#ifndef PDFS_LISTING_H
#define PDFS_LISTING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "person.h"

/* An immutable snapshot of one directory; reference counted. */
struct listing {
	atomic_uint refs;
	size_t count;
	struct person **persons; /* person directories: sorted by id, or NULL */
	/* Person directories under cache_max_mb: their ids sorted, the persons
	 * themselves taken from the cache (cache_listing_person) - 8 bytes per
	 * listed person instead of a person object each.  Or NULL. */
	int64_t *person_ids;
	int64_t *ids;            /* directories of ids (owners, orgs): sorted, or NULL */
	char **names;            /* with ids: a safe, unique name per id, or NULL entries */
	size_t *order;           /* optional display order (indexes), e.g. newest first */
	uint64_t generation;     /* set by the cache when stored */
	bool stale;              /* served after a failed refresh */
	/* Incremental refresh: the server time the listing is complete up to
	 * (whole-second RFC 3339, "" if unknown) and when the last full walk
	 * ended (monotonic seconds). */
	char synced_to[32];
	double full_walk_at;
	/* When its data was fetched (monotonic seconds); 0 means "now" when the
	 * cache stores it.  A listing read back from the disk cache is as old
	 * as its last walk, so it expires on time. */
	double fetched_at;
};

struct listing *listing_new_persons(size_t count);
/* A listing of persons by id (person_ids, entries start 0). */
struct listing *listing_new_person_ids(size_t count);
/* The same taking over ids[0..count) (malloc'd, not empty); NULL (the array
 * still the caller's) when out of memory. */
struct listing *listing_adopt_person_ids(int64_t *ids, size_t count);
/* A listing of persons, whether it holds them or their ids. */
static inline bool listing_of_persons(const struct listing *l)
{
	return l->persons != NULL || l->person_ids != NULL;
}
/* The id at position i (of a person, or of an id directory). */
int64_t listing_id_at(const struct listing *l, size_t i);
/* A copy of l (of persons) that keeps their ids only (sync state, display
 * order and stale flag too); NULL when out of memory. */
struct listing *listing_by_ids(const struct listing *l);
/* A listing of persons[0..count) that takes over the array (malloc'd, not
 * empty) and the references in it; NULL (the array still the caller's) when
 * out of memory. */
struct listing *listing_adopt_persons(struct person **persons, size_t count);
/* with_names: allocate the names array (entries start NULL). */
struct listing *listing_new_ids(size_t count, bool with_names);
struct listing *listing_ref(struct listing *l);
void listing_unref(struct listing *l);
/* Sort by id and drop duplicate ids (a person seen twice across pages keeps its
 * last copy).  Call before handing the listing to the cache.  False (and the
 * listing unchanged) when out of memory. */
bool listing_sort(struct listing *l);
/* Index of id, or -1. */
long listing_find(const struct listing *l, int64_t id);

/* A new listing like l (sync state, display order, stale flag) without the
 * persons whose ids are in gone[0..ngone) (sorted); NULL when out of memory. */
struct listing *listing_without(const struct listing *l, const int64_t *gone, size_t ngone);

/* A new listing like l (of persons) with p in the place of the person of
 * its id, or added in id order (and first in a display order); NULL when
 * out of memory.  Takes a new reference to p (a listing by ids: its id). */
struct listing *listing_with(const struct listing *l, struct person *p);

#endif
