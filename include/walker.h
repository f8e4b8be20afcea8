/*
 * walker.h - the worker threads that fetch listings from Pipedrive.
 *
 * Knows Pipedrive (through api.h) and the cache, not FUSE.  When the cache
 * answers CACHE_START_FETCH for a key (a directory inode, or a by-id person
 * key), the caller hands the key to walker_fetch(); a worker walks the API and
 * ends with cache_listing_finish(), which wakes everyone waiting.
 *
 * What a walk asks for:
 *  - /by-owner, /by-org, /by-filter: GET /api/v1/users, GET /organizations
 *    (cursor-paged), GET /api/v1/filters?type=people.
 *  - a person directory, cold or after a full_refresh period: the whole cursor
 *    walk (owner_id / org_id / filter_id, sort_by=id asc, limit=page_limit).
 *    When the first page shows more pages follow and the announced burst
 *    limit leaves room, the rest is split into disjoint update_time windows
 *    (updated_since inclusive, updated_until exclusive; boundaries at the
 *    quantiles of the first page's update times) walked side by side on
 *    their own connections, merged by id, and closed with one
 *    updated_since=<walk start> request so a person changed mid-walk (and so
 *    moved to another window) is not lost.
 *    Filter directories first ask once per mount whether the server applies
 *    the time bounds with filter_id (window 0's first page); if it does not,
 *    they are walked as one cursor walk.
 *  - a person directory whose listing merely expired: one company-wide
 *    updated_since=<the time the listing is synced to> walk, merged locally
 *    (persons that changed owner or org leave the directory); filter
 *    directories add the same query with filter_id, as only the server can
 *    evaluate a filter - and take its answer as the whole filter when the
 *    server ignores the bound.
 *  - /recent: updated_since = now - recent_days, newest first.
 *  - /search/<term>: GET /persons/search?term=<term>&limit=500, cursor-paged
 *    (at most SEARCH_MAX_PERSONS results, else E2BIG), then the persons
 *    found in ids= batches of up to 100; listed in the search's order
 *    (walker_search.c).  The terms are the walker's table (search_terms.h).
 *  - persons by id: ids= batches of up to 100, filled with the following ids
 *    so that a script reading ids in order costs one request per 100.
 *  - names a page refers to (names_resolve.h): organizations, users, persons;
 *    kept until the full refresh (full_refresh seconds, or SIGHUP).
 *  - persons an answer marks "is_deleted" (or an ids= answer leaves out)
 *    leave every cached listing at once (cache_persons_remove).
 */
#ifndef PDFS_WALKER_H
#define PDFS_WALKER_H

#include <stdint.h>

#include "api.h"
#include "cache.h"
#include "meta.h"
#include "store.h"
#include "person.h"
#include "store.h"

struct walker_config {
	int page_limit;
	int workers;
	int recent_days;
	double full_refresh;        /* seconds between full walks of a directory */
	int walk_windows;           /* 0: rate x page latency (api_client_link); 1: one cursor walk */
	const char *custom_fields;  /* passed through, or NULL */
	const char *include_fields; /* passed through, or NULL */
	struct store *store;        /* the disk cache, or NULL (memory only) */
	struct person_render render;
};

struct walker_stats {
	uint64_t full_walks;
	uint64_t incremental_walks;
	uint64_t id_batches;
	uint64_t failed_walks;
	uint64_t shared_listings;   /* listings refreshed by another listing's request */
	uint64_t disk_loads;        /* listings served from the disk cache, no request */
	uint64_t disk_served_stale; /* disk copies served because a refresh failed */
	uint64_t search_walks; /* searches answered (each: pages of /persons/search + ids=) */
	uint64_t person_names; /* person names meta holds (a card's "Referred by") */
};

struct walker;

struct walker *walker_new(const struct walker_config *cfg, struct api_client *client,
			  struct cache *cache, struct meta *meta);
/* Start the threads (after fuse_daemonize: threads do not survive fork). */
int walker_start(struct walker *w);
/* Queue a fetch for key; the cache must have said CACHE_START_FETCH. */
void walker_fetch(struct walker *w, uint64_t key);
void walker_get_stats(struct walker *w, struct walker_stats *out);

/* A walk in progress, as the status file shows it. */
struct walker_progress {
	uint64_t key;       /* the directory */
	double elapsed_s;
	uint64_t pages;     /* pages built so far */
	uint64_t persons;   /* persons they held */
	int in_flight;      /* cursor walks running side by side */
};
#define WALKER_PROGRESS_MAX 16
/* The walks in progress, at most max; returns how many. */
size_t walker_progress(struct walker *w, struct walker_progress *out, size_t max);
/* The terms of the search folders (search_terms.h): the filesystem gives
 * each term looked up in /search its number there, a search walk reads it. */
struct search_terms *walker_search_terms(struct walker *w);
/* Cancel requests in flight, finish queued keys with ECANCELED, join, free. */
void walker_free(struct walker *w);

/* Load /personFields into meta (labels, custom field names); 0 or -errno. */
/* ... and, with text, the fields as JSON text (malloc'd; NULL if out of
 * memory) for the disk cache, so an offline start has them. */
int walker_load_person_fields(struct api_conn *conn, struct meta *meta, char **text,
			      struct api_error *err);

#endif
