/*
 * walker_refresh.c - refreshing a person directory (walker_internal.h).
 *
 * The walk of a person directory: the disk's copy while it is fresh (after
 * a restart), else, when the listing merely expired, the company-wide
 * changes since it was synced merged into it - one request that also
 * brings every other expired listing in memory and on disk up to date (the
 * shared refresh) - else a full walk (walker_windows.c).  A walk that fails
 * serves the disk's copy marked stale.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "persist.h"
#include "tree.h"
#include "walker_internal.h"

#define SHARED_MAX 64 /* listings one shared refresh brings up to date */

/* ------------------------------------------------------------------ */
/* Incremental walks                                                    */

static bool person_matches_dir(const struct person *p, uint64_t key)
{
	switch (tree_kind(key)) {
	case NODE_OWNER_DIR:
		return p->owner_id == tree_id(key);
	case NODE_ORG_DIR:
		return p->org_id == tree_id(key);
	default:
		return true; /* /by-id: every person */
	}
}

/* Append person p (or its id, to a listing by ids) to l at n. */
static void merged_put(struct listing *l, size_t *n, struct person *p)
{
	if (l->person_ids)
		l->person_ids[(*n)++] = p->id;
	else
		l->persons[(*n)++] = person_ref(p);
}

/* prev's persons, minus every changed or deleted one, plus the changed ones
 * that belong; held as prev holds them (persons, or ids).  Sorts both sets. */
static struct listing *merge_changes(const struct listing *prev, struct person_set *changed,
				     struct person_set *filter_matches, uint64_t key)
{
	person_set_sort(changed);
	if (filter_matches)
		person_set_sort(filter_matches);
	size_t most = prev->count + changed->count + (filter_matches ? filter_matches->count : 0);
	struct listing *l = prev->person_ids ? listing_new_person_ids(most)
					     : listing_new_persons(most);
	if (!l)
		return NULL;
	size_t n = 0;
	for (size_t i = 0; i < prev->count; i++) {
		int64_t id = listing_id_at(prev, i);
		if (person_set_contains(changed, id) || person_set_is_deleted(changed, id) ||
		    (filter_matches && (person_set_contains(filter_matches, id) ||
					person_set_is_deleted(filter_matches, id))))
			continue;
		if (l->person_ids)
			l->person_ids[n++] = id;
		else
			l->persons[n++] = person_ref(prev->persons[i]);
	}
	for (size_t i = 0; i < changed->count; i++) {
		struct person *p = changed->items[i];
		if (!filter_matches && person_matches_dir(p, key))
			merged_put(l, &n, p);
	}
	if (filter_matches)
		for (size_t i = 0; i < filter_matches->count; i++)
			merged_put(l, &n, filter_matches->items[i]);
	l->count = n;
	if (!listing_sort(l)) {
		listing_unref(l);
		return NULL;
	}
	return l;
}

/* A listing synced to `synced_to` whose last full walk ended at
 * full_walk_at may be refreshed with the changes since: its full walk is
 * not due (full_refresh, SIGHUP). */
static bool sync_allows_incremental_at(const struct walker *w, const char *synced_to,
				       double full_walk_at, double expire_all_at)
{
	return synced_to[0] && walker_now() - full_walk_at < w->cfg.full_refresh &&
	       full_walk_at >= expire_all_at;
}

static bool sync_allows_incremental(struct walker *w, const char *synced_to, double full_walk_at)
{
	return sync_allows_incremental_at(w, synced_to, full_walk_at,
					  cache_expire_all_at(w->cache));
}

static bool incremental_kind(uint64_t key)
{
	enum node_kind k = tree_kind(key);
	return k == NODE_OWNER_DIR || k == NODE_ORG_DIR || k == NODE_FILTER_DIR || key == INO_BY_ID;
}

static bool can_refresh_incrementally(struct walker *w, uint64_t key, const struct listing *prev)
{
	return incremental_kind(key) && prev && listing_of_persons(prev) &&
	       sync_allows_incremental(w, prev->synced_to, prev->full_walk_at);
}

struct shared_refresh;
static void apply_shared(struct walker *w, struct shared_refresh *sh, struct person_set *changed,
			 const char *synced, double now);

static int walk_changes_since(struct walker *w, struct api_conn *conn, uint64_t key,
			      const struct listing *prev, const char *since_time,
			      struct listing **out, struct api_error *err,
			      struct shared_refresh *sh)
{
	char since[32];
	char synced[32] = "";
	struct list_query q;
	walker_dir_query(w, key, &q, since);
	q.owner_id = q.org_id = q.filter_id = 0; /* company-wide: catches moves out */
	q.updated_since = since_time;
	double valid_after = walker_names_valid_after(w, walker_now());
	struct person_set changed, matches;
	person_set_init(&changed, w, conn, valid_after);
	person_set_init(&matches, w, conn, valid_after);
	bool is_filter = tree_kind(key) == NODE_FILTER_DIR;
	bool whole_filter = false;
	int rc = api_walk(conn, "/persons", &q, person_set_add_page, &changed, err);
	if (rc == 0)
		snprintf(synced, sizeof(synced), "%s", changed.first_page_time);
	if (rc == 0 && is_filter && changed.count > 0) {
		q.filter_id = tree_id(key);
		matches.bound_since = person_parse_time(since_time);
		rc = api_walk(conn, "/persons", &q, person_set_add_page, &matches, err);
		/* A server that ignores updated_since with filter_id answered with
		 * the whole filter: that is the new listing, no need to merge. */
		if (rc == 0 && matches.out_of_bounds)
			walker_filter_bounds_found(w, FILTER_BOUNDS_IGNORED);
		whole_filter = rc == 0 && walker_filter_bounds(w) == FILTER_BOUNDS_IGNORED;
	}
	if (rc == 0) {
		person_set_finish_names(&changed);
		person_set_finish_names(&matches);
		struct listing *l = whole_filter ? person_set_to_listing(&matches)
						 : merge_changes(prev, &changed,
								 is_filter ? &matches : NULL, key);
		if (!l) {
			rc = -ENOMEM;
		} else {
			snprintf(l->synced_to, sizeof(l->synced_to), "%s",
				 synced[0] ? synced : since_time);
			l->full_walk_at = prev->full_walk_at;
			*out = l;
			if (sh)
				apply_shared(w, sh, &changed, l->synced_to, walker_now());
			walker_forget_deleted(w, &changed);
			walker_forget_deleted(w, &matches);
		}
	}
	person_set_free(&changed);
	person_set_free(&matches);
	if (rc)
		walker_set_error(err, rc, "refreshing persons");
	return rc;
}

/* ------------------------------------------------------------------ */
/* The shared refresh                                                   */

/*
 * The shared refresh: the one company-wide updated_since request an expired
 * listing costs also brings every other expired listing up to date - those
 * in memory (claimed from the cache, so nobody walks them meanwhile) and
 * those only on disk (merged on their ids) - so N expired directories cost
 * one request.  Filter directories take part only as the listing asked for:
 * only the server can tell who matches a filter.
 */
struct shared_refresh {
	struct persist_batch *batch;
	size_t claimed;
	uint64_t keys[SHARED_MAX];
	struct listing *lists[SHARED_MAX];
	size_t row_count;
	struct store_listing rows[SHARED_MAX];
};

static bool shared_kind(uint64_t key)
{
	enum node_kind k = tree_kind(key);
	return k == NODE_OWNER_DIR || k == NODE_ORG_DIR || key == INO_BY_ID;
}

struct shared_check {
	const struct walker *w;
	double expire_all_at;
};

/* Called under the cache's lock: must not call the cache. */
static bool shared_eligible(uint64_t key, const struct listing *l, void *ctx)
{
	const struct shared_check *check = ctx;
	return shared_kind(key) && listing_of_persons(l) &&
	       sync_allows_incremental_at(check->w, l->synced_to, l->full_walk_at,
					  check->expire_all_at);
}

/* Listings on disk only that may share this refresh. */
static void gather_stored(struct walker *w, uint64_t key, struct shared_refresh *sh, double now)
{
	uint64_t *keys = NULL;
	size_t count = 0;
	if (!w->cfg.store || store_listing_keys(w->cfg.store, &keys, &count) != 0)
		return;
	for (size_t i = 0; i < count && sh->claimed + sh->row_count < SHARED_MAX; i++) {
		uint64_t k = keys[i];
		if (k == key || !shared_kind(k) || cache_listing_busy(w->cache, k))
			continue;
		struct store_listing *row = &sh->rows[sh->row_count];
		if (persist_load_row(w->cfg.store, k, row) != 0)
			continue;
		if (sync_allows_incremental(w, row->synced_to, persist_mono_of(row->full_walk_at, now)))
			sh->row_count++;
		else
			store_listing_clear(row);
	}
	free(keys);
}

static void gather_shared(struct walker *w, uint64_t key, struct shared_refresh *sh, double now)
{
	struct shared_check check = { .w = w, .expire_all_at = cache_expire_all_at(w->cache) };
	sh->claimed = cache_claim_expired(w->cache, now, shared_eligible, &check, sh->keys,
					  sh->lists, SHARED_MAX);
	gather_stored(w, key, sh, now);
}

/* The earliest time any of them is synced to: changes since then cover all. */
static const char *earliest_sync(const struct listing *prev, const struct shared_refresh *sh)
{
	const char *since = prev->synced_to;
	for (size_t i = 0; sh && i < sh->claimed; i++)
		if (strcmp(sh->lists[i]->synced_to, since) < 0)
			since = sh->lists[i]->synced_to;
	for (size_t i = 0; sh && i < sh->row_count; i++)
		if (strcmp(sh->rows[i].synced_to, since) < 0)
			since = sh->rows[i].synced_to;
	return since;
}

/* A stored row's ids minus the changed and deleted ones, plus the changed
 * ones that belong (changed is sorted). */
static bool merge_row(struct store_listing *row, struct person_set *changed)
{
	int64_t *ids = malloc((row->count + changed->count + 1) * sizeof(*ids));
	if (!ids)
		return false;
	size_t n = 0;
	for (size_t i = 0; i < row->count; i++)
		if (!person_set_contains(changed, row->ids[i]) &&
		    !person_set_is_deleted(changed, row->ids[i]))
			ids[n++] = row->ids[i];
	for (size_t i = 0; i < changed->count; i++)
		if (person_matches_dir(changed->items[i], row->key))
			ids[n++] = changed->items[i]->id;
	qsort(ids, n, sizeof(*ids), walker_cmp_int64);
	free(row->ids);
	row->ids = ids;
	row->count = n;
	return true;
}

static void apply_shared(struct walker *w, struct shared_refresh *sh, struct person_set *changed,
			 const char *synced, double now)
{
	for (size_t i = 0; i < changed->count; i++)
		persist_add_person(sh->batch, changed->items[i]);
	for (size_t i = 0; i < sh->claimed; i++) {
		struct listing *merged = merge_changes(sh->lists[i], changed, NULL, sh->keys[i]);
		if (merged) {
			snprintf(merged->synced_to, sizeof(merged->synced_to), "%s", synced);
			merged->full_walk_at = sh->lists[i]->full_walk_at;
			persist_add_listing(sh->batch, sh->keys[i], merged, false, now);
		}
		/* Without memory for the merge the waiters get the expired copy. */
		cache_listing_finish(w->cache, sh->keys[i], merged, merged ? 0 : ENOMEM, now);
		listing_unref(sh->lists[i]);
	}
	for (size_t i = 0; i < sh->row_count; i++) {
		struct store_listing *row = &sh->rows[i];
		if (!merge_row(row, changed)) {
			store_listing_clear(row);
			continue;
		}
		snprintf(row->synced_to, sizeof(row->synced_to), "%s", synced);
		row->fetched_at = persist_wall_of(now, now);
		persist_add_row(sh->batch, row);
	}
	pthread_mutex_lock(&w->lock);
	w->stats.shared_listings += sh->claimed + sh->row_count;
	pthread_mutex_unlock(&w->lock);
	sh->claimed = sh->row_count = 0;
}

/* What a failed (or unused) shared refresh leaves: claimed listings are
 * finished with the error (their waiters get the expired copy). */
static void release_shared(struct walker *w, struct shared_refresh *sh, int rc, double now)
{
	for (size_t i = 0; i < sh->claimed; i++) {
		cache_listing_finish(w->cache, sh->keys[i], NULL, rc ? -rc : EIO, now);
		listing_unref(sh->lists[i]);
	}
	for (size_t i = 0; i < sh->row_count; i++)
		store_listing_clear(&sh->rows[i]);
	sh->claimed = sh->row_count = 0;
}

static int walk_incremental(struct walker *w, struct api_conn *conn, uint64_t key,
			    const struct listing *prev, struct listing **out,
			    struct api_error *err, struct job_state *js)
{
	double now = walker_now();
	struct shared_refresh *sh = calloc(1, sizeof(*sh));
	if (sh) {
		sh->batch = &js->batch;
		gather_shared(w, key, sh, now);
	}
	const char *since = earliest_sync(prev, sh);
	if (log_get_level() >= LOG_LEVEL_DEBUG) {
		char where[64];
		tree_describe(key, where, sizeof(where));
		log_debug("refreshing %s with the changes since %s (and %zu other listings)", where,
			  since, sh ? sh->claimed + sh->row_count : 0);
	}
	int rc = walk_changes_since(w, conn, key, prev, since, out, err, sh);
	if (rc == 0)
		walker_count(w, &w->stats.incremental_walks);
	if (sh)
		release_shared(w, sh, rc, walker_now());
	free(sh);
	return rc;
}

int walker_close_window_gap(struct walker *w, struct api_conn *conn, uint64_t key,
			    struct listing **l, const char *walk_start, struct api_error *err)
{
	struct listing *merged = NULL;
	int rc = walk_changes_since(w, conn, key, *l, walk_start, &merged, err, NULL);
	if (rc == 0) {
		listing_unref(*l);
		*l = merged;
	}
	return rc;
}

/* ------------------------------------------------------------------ */
/* The disk's copy and the walk of a person directory                   */

/* The disk's copy of key when the cache holds none (after a restart), or
 * NULL. */
struct listing *walker_disk_copy(struct walker *w, uint64_t key, double now)
{
	if (!w->cfg.store || !persist_keeps(key) || cache_listing_held(w->cache, key))
		return NULL;
	return persist_load(w->cfg.store, w->cache, key, now);
}

/* A disk copy young enough to serve as it is (no request). */
bool walker_disk_copy_fresh(struct walker *w, const struct listing *disk, double now)
{
	double ttl = cache_ttl(w->cache);
	return ttl > 0 && now - disk->fetched_at < ttl &&
	       disk->fetched_at >= cache_expire_all_at(w->cache);
}

/* The walk failed but the disk has a copy: serve it, marked stale (the slot
 * stays expired, so the next listing tries again). */
int walker_serve_disk_copy(struct walker *w, uint64_t key, struct listing *disk, int rc,
			   const struct api_error *err, struct listing **out,
			   struct job_state *js)
{
	char where[64];
	tree_describe(key, where, sizeof(where));
	log_warn("%s: serving the disk cache's copy (%.0f minutes old) because the refresh failed: %s",
		 where, (walker_now() - disk->fetched_at) / 60.0,
		 err->message[0] ? err->message : strerror(-rc));
	disk->stale = true;
	*out = listing_ref(disk);
	js->save = false;
	walker_count(w, &w->stats.disk_served_stale);
	return 0;
}

int walker_person_dir_walk(struct walker *w, struct api_conn *conn, uint64_t key,
			   struct listing **out, struct api_error *err, struct job_state *js)
{
	double now = walker_now();
	struct listing *prev = cache_listing_peek(w->cache, key);
	struct listing *disk = prev ? NULL : walker_disk_copy(w, key, now);
	int rc;
	if (disk && walker_disk_copy_fresh(w, disk, now)) {
		*out = listing_ref(disk);
		js->save = false;
		walker_count(w, &w->stats.disk_loads);
		rc = 0;
	} else if (can_refresh_incrementally(w, key, prev ? prev : disk)) {
		rc = walk_incremental(w, conn, key, prev ? prev : disk, out, err, js);
	} else {
		rc = walker_full_walk(w, conn, key, out, err);
		js->persons_too = true;
	}
	if (rc && rc != -ECANCELED && disk)
		rc = walker_serve_disk_copy(w, key, disk, rc, err, out, js);
	listing_unref(prev);
	listing_unref(disk);
	return rc;
}
