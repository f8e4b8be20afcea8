/*
 * walker_internal.h - what the files of the walker share.  walker.h is the
 * module's contract; only src/walker*.c include this.
 *
 *   walker.c          struct walker's life, the job queue and the worker
 *                     threads, the status file's walks in progress
 *   walker_pages.c    person sets: persons built from pages, the names they
 *                     show, the page pipeline
 *   walker_windows.c  directory queries and the full walk of a person
 *                     directory (parallel update_time windows, filter bounds)
 *   walker_refresh.c  incremental and shared refreshes, the disk's copy, the
 *                     walk of a person directory
 *   walker_groups.c   the group roots, persons by id, person fields
 *   walker_search.c   the walk of a search folder
 */
#ifndef PDFS_WALKER_INTERNAL_H
#define PDFS_WALKER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "names_resolve.h"
#include "persist.h"
#include "walker.h"

/* A search folder holds at most this many persons: a term that finds more
 * is refused (E2BIG) before any person is fetched - a search folder is for
 * finding people, and 10,000 persons already cost 20 search pages and 100
 * ids= batches. */
#define SEARCH_MAX_PERSONS 10000
#define SEARCH_PAGE_LIMIT 500

/* What one job leaves for the disk cache: the batch to write once the
 * waiters are answered, and how the job's own listing goes into it. */
struct job_state {
	struct persist_batch batch;
	bool save;        /* write the job's listing */
	bool persons_too; /* with every person it holds (a full walk) */
};

#define PROGRESS_SLOTS 16 /* walks shown in the status file at once */

/* A walk in progress, for the status file. */
struct walk_progress {
	bool used;
	uint64_t key;
	double started;
	atomic_uint_fast64_t pages, persons;
	atomic_int in_flight; /* cursor walks running side by side (windows) */
};

/* The spec is silent on whether updated_since / updated_until apply when
 * filter_id is set.  Found out once per mount from the answers. */
enum filter_bounds {
	FILTER_BOUNDS_UNKNOWN,
	FILTER_BOUNDS_APPLIED,
	FILTER_BOUNDS_IGNORED,
};

struct walker {
	struct walker_config cfg;
	struct person_style *style; /* cfg.render, shared with the persons built */
	char *custom_fields;
	char *include_fields;
	struct api_client *client;
	struct cache *cache;
	struct meta *meta;
	struct search_terms *terms; /* the search folders' terms */

	pthread_mutex_t lock; /* the queue and the stats */
	pthread_cond_t queue_changed;
	struct job *head, *tail;
	bool stopping;
	pthread_t *threads;
	int nthreads;
	struct walker_stats stats;
	uint64_t names_epoch;              /* cache_expire_all count names follow */
	enum filter_bounds filter_bounds;  /* what the server does with filter_id + updated_* */
	struct walk_progress progress[PROGRESS_SLOTS]; /* slots: under lock; counters: atomic */
};

/* The persons a walk gathers, and what it learned on the way. */
struct person_set {
	struct walker *w;
	struct api_conn *conn;
	double names_valid_after; /* see walker_names_valid_after() */
	char first_page_time[32]; /* the server's time at the first page, "" before */
	struct person **items;
	/* Under cache_max_mb (cache listings by ids) a big set keeps its
	 * persons' ids instead, in ids, and items stays NULL: the persons stay
	 * in the cache's store while the bound allows (person_set_by_ids). */
	int64_t *ids;
	bool by_ids;
	size_t count, cap;
	size_t skipped;
	int64_t newest_update;
	int64_t *deleted; /* ids the answers marked "is_deleted": true */
	size_t deleted_count, deleted_cap;
	/* The update-time window the answers asked for (0: open), and how many
	 * persons came from outside it (a server ignoring the bounds). */
	int64_t bound_since, bound_until;
	size_t out_of_bounds;
	struct names_pending names; /* person names to ask for at the end */
	struct growing *growing;    /* a first walk's persons so far, or NULL (borrowed) */
	struct walk_progress *progress; /* the status file's view of the walk, or NULL */
};

/* qsort order of int64_t values (ids, times). */
static inline int walker_cmp_int64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* ---- walker.c ---- */
double walker_now(void); /* CLOCK_MONOTONIC, in seconds */
void walker_format_rfc3339(time_t t, char buf[32]);
/* One more in a counter of w->stats, under w->lock. */
void walker_count(struct walker *w, uint64_t *counter);
/* err says what failed with -rc, unless it already holds a message. */
void walker_set_error(struct api_error *err, int rc, const char *what);
/* The time a walk that started now is complete up to, by the server's clock
 * (without a Date header: newest_seen); "" when neither is known. */
void walker_sync_point(struct api_conn *conn, int64_t newest_seen, char out[32]);
/* The status file's slot of the walk of key this thread runs, or NULL. */
struct walk_progress *walker_progress_of(struct walker *w, uint64_t key);
/* Take up to max-1 more queued by-id keys off the queue into keys[1..];
 * returns how many keys[] holds (keys[0] included). */
size_t walker_take_queued_ids(struct walker *w, uint64_t *keys, size_t max);

/* ---- walker_pages.c ---- */
/* When names count as too old for a walk that starts at walk_start (one
 * full_refresh period; a SIGHUP drops them all). */
double walker_names_valid_after(struct walker *w, double walk_start);
void person_set_init(struct person_set *ps, struct walker *w, struct api_conn *conn,
		     double names_valid_after);
void person_set_free(struct person_set *ps);
/* Keep ids from now on if the cache lists persons by ids (before any person
 * is added, or converting those there are); false without memory. */
bool person_set_by_ids(struct person_set *ps);
/* The id of the set's person k. */
static inline int64_t person_set_id(const struct person_set *ps, size_t k)
{
	return ps->by_ids ? ps->ids[k] : ps->items[k]->id;
}
/* Note id as deleted on the server; false without memory. */
bool person_set_note_deleted(struct person_set *ps, int64_t id);
/* Move src's deleted ids to dst; false without memory. */
bool person_set_take_deleted(struct person_set *dst, struct person_set *src);
/* Move every person and deleted id of src into dst (src is left empty). */
int person_set_take(struct person_set *dst, struct person_set *src);
/* Sort the set by id so person_set_contains can bisect. */
void person_set_sort(struct person_set *ps);
bool person_set_contains(const struct person_set *ps, int64_t id); /* sorted set */
bool person_set_is_deleted(struct person_set *ps, int64_t id);
/* api_page_fn (ctx: a person_set): the page's names resolved, its persons
 * built and stored; the first page notes the server's time. */
int person_set_add_page(void *ctx, struct api_page *page);
/* The rest of a cursor walk from cursor into set, each page built on a
 * second thread while the next is fetched.  0 or -errno (err set). */
int person_set_walk_pipelined(struct person_set *set, struct api_conn *conn,
			      const struct list_query *q, const char *cursor, struct api_error *err);
/* The person names the walk still lacks, and its persons that lacked them
 * built again. */
void person_set_finish_names(struct person_set *ps);
/* Move the set into a new listing sorted by id; NULL without memory. */
struct listing *person_set_to_listing(struct person_set *ps);
/* Persons the server marked deleted leave every cached listing at once. */
void walker_forget_deleted(struct walker *w, const struct person_set *ps);

/* ---- walker_windows.c ---- */
/* The query of directory key's listing: by id, its owner, org or filter;
 * /recent: updated since recent_days ago (since holds the time), newest
 * first. */
void walker_dir_query(const struct walker *w, uint64_t key, struct list_query *q,
		      char since[32]);
/* What the server does with filter_id and updated_since/_until, as found. */
enum filter_bounds walker_filter_bounds(struct walker *w);
void walker_filter_bounds_found(struct walker *w, enum filter_bounds found);
/* The full walk of person directory key (in update_time windows side by
 * side where that pays): a new listing in *out, synced to the walk's start.
 * 0, or -errno with err set. */
int walker_full_walk(struct walker *w, struct api_conn *conn, uint64_t key, struct listing **out,
		     struct api_error *err);

/* ---- walker_refresh.c ---- */
/* The listing of person directory key: the disk's copy while fresh, else
 * the changes since it was synced (sharing the request with every other
 * expired listing) when its full walk is not due, else a full walk; a failed
 * walk serves the disk's copy marked stale.  js: what goes to the disk. */
int walker_person_dir_walk(struct walker *w, struct api_conn *conn, uint64_t key,
			   struct listing **out, struct api_error *err, struct job_state *js);
/* Persons changed since the walk started, merged in: closes the gap a person
 * updated mid-walk could fall through (it moved to another window). */
int walker_close_window_gap(struct walker *w, struct api_conn *conn, uint64_t key,
			    struct listing **l, const char *walk_start, struct api_error *err);
/* The disk's copy of key when the cache holds none (after a restart), or
 * NULL. */
struct listing *walker_disk_copy(struct walker *w, uint64_t key, double now);
/* A disk copy young enough to serve as it is (no request). */
bool walker_disk_copy_fresh(struct walker *w, const struct listing *disk, double now);
/* The walk failed with rc but the disk has a copy: *out is that copy, marked
 * stale (the slot stays expired, so the next listing tries again); 0. */
int walker_serve_disk_copy(struct walker *w, uint64_t key, struct listing *disk, int rc,
			   const struct api_error *err, struct listing **out,
			   struct job_state *js);

/* ---- walker_groups.c ---- */
/* The listing of /by-owner, /by-org or /by-filter: the ids with their link
 * names (the disk's copy as for a person directory).  0, or -errno. */
int walker_group_root_walk(struct walker *w, struct api_conn *conn, uint64_t key,
			   struct listing **out, struct api_error *err, struct job_state *js);
/* Answer by-id key first, the by-id keys queued behind it and the ids that
 * follow it with one ids= request; finishes their cache slots. */
void walker_run_id_batch(struct walker *w, struct api_conn *conn, uint64_t first);
/* The persons with ids[0..n) in ids= batches of up to 100, names resolved,
 * each stored in the person store: new references, in no particular order,
 * in *out (malloc'd) and *count.  Ids the answers leave out or mark deleted
 * leave every cached listing.  0, or -errno with err set. */
int walker_persons_by_ids(struct walker *w, struct api_conn *conn, const int64_t *ids, size_t n,
			  struct person ***out, size_t *count, struct api_error *err);

/* ---- walker_search.c ---- */
/* The listing of search folder key (NODE_SEARCH_DIR): the persons the
 * search finds, sorted by id, with the search's order as display order.
 * 0, or -errno with err set: ESTALE if the term was forgotten, E2BIG past
 * SEARCH_MAX_PERSONS. */
int walker_search_walk(struct walker *w, struct api_conn *conn, uint64_t key,
		       struct listing **out, struct api_error *err);

#endif
