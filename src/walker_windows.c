/*
 * walker_windows.c - the full walk of a person directory (walker_internal.h).
 *
 * A directory's query (owner_id / org_id / filter_id, or /recent's
 * updated_since), then its whole cursor walk.  When the first page shows
 * more follow, the rest is split into disjoint update_time windows at the
 * quantiles of the first page's update times, walked side by side on
 * connections of their own and closed with the changes since the walk
 * started (walker_close_window_gap).  Filter directories first find out,
 * once per mount, whether the server applies time bounds with filter_id.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "growing.h"
#include "log.h"
#include "tree.h"
#include "walker_internal.h"

/* ------------------------------------------------------------------ */
/* Directory queries                                                    */

void walker_dir_query(const struct walker *w, uint64_t key, struct list_query *q,
		      char since[32])
{
	memset(q, 0, sizeof(*q));
	q->sort_by = "id";
	q->sort_direction = "asc";
	q->limit = w->cfg.page_limit;
	q->custom_fields = w->custom_fields;
	q->include_fields = w->include_fields;
	switch (tree_kind(key)) {
	case NODE_OWNER_DIR:
		q->owner_id = tree_id(key);
		break;
	case NODE_ORG_DIR:
		q->org_id = tree_id(key);
		break;
	case NODE_FILTER_DIR:
		q->filter_id = tree_id(key);
		break;
	default:
		if (key == INO_RECENT) {
			walker_format_rfc3339(time(NULL) - (time_t)w->cfg.recent_days * 86400,
					      since);
			q->updated_since = since;
			q->sort_by = "update_time";
			q->sort_direction = "desc";
		}
		break;
	}
}

/* ------------------------------------------------------------------ */
/* Update-time windows                                                  */

static bool window_kind_ok(uint64_t key)
{
	enum node_kind k = tree_kind(key);
	return k == NODE_OWNER_DIR || k == NODE_ORG_DIR || k == NODE_FILTER_DIR || key == INO_BY_ID;
}

/* How many windows to walk side by side (as configured, or automatic): by
 * Little's law, the requests the link can have in flight are the allowed
 * rate times a page's latency, so a slow link gets more windows and loopback
 * few; at least 1, at most 8.  The walk's first page has been measured. */
static int window_count(const struct walker *w)
{
	if (w->cfg.walk_windows > 0)
		return w->cfg.walk_windows;
	struct api_link link;
	api_client_link(w->client, &link);
	double in_flight = link.rate_per_s * link.page_latency_s;
	if (!(in_flight > 1))
		return 1;
	if (in_flight >= 8)
		return 8;
	int n = (int)in_flight;
	return n < in_flight ? n + 1 : n; /* rounded up */
}

/* Window boundaries at the quantiles of the sample's update times; returns
 * how many distinct boundaries (windows - 1) it found. */
static int window_bounds(const struct person_set *sample, int windows, int64_t *bounds)
{
	int64_t *times = malloc((sample->count ? sample->count : 1) * sizeof(*times));
	if (!times)
		return 0;
	size_t n = 0;
	for (size_t i = 0; i < sample->count; i++)
		if (sample->items[i]->update_time > 0)
			times[n++] = sample->items[i]->update_time;
	qsort(times, n, sizeof(*times), walker_cmp_int64);
	int count = 0;
	for (int k = 1; k < windows && n > 0; k++) {
		int64_t b = times[n * (size_t)k / (size_t)windows];
		if (count == 0 || b > bounds[count - 1])
			bounds[count++] = b;
	}
	free(times);
	return count;
}

/* ---- what the server does with filter_id and updated_since/_until ---- */

enum filter_bounds walker_filter_bounds(struct walker *w)
{
	pthread_mutex_lock(&w->lock);
	enum filter_bounds state = w->filter_bounds;
	pthread_mutex_unlock(&w->lock);
	return state;
}

void walker_filter_bounds_found(struct walker *w, enum filter_bounds found)
{
	pthread_mutex_lock(&w->lock);
	bool news = w->filter_bounds != found;
	w->filter_bounds = found;
	pthread_mutex_unlock(&w->lock);
	if (news && found == FILTER_BOUNDS_IGNORED)
		log_info("the server ignores updated_since/updated_until together with filter_id: "
			 "filter directories are walked in one cursor walk and refreshed from the "
			 "whole filter");
	else if (news)
		log_debug("the server applies updated_since/updated_until together with filter_id");
}

struct window_plan {
	const int64_t *bounds; /* window boundaries (update times) */
	int nbounds;           /* windows - 1; 0: no windows */
	struct person_set *head; /* window 0's first page, already fetched, or NULL */
	const char *head_next;   /* where window 0 goes on after head (NULL: done) */
	bool check_bounds;       /* count persons from outside each window */
	double names_valid_after;
	struct growing *growing; /* readers of a first walk (borrowed), or NULL */
	struct walk_progress *progress;
	bool by_ids; /* the windows keep ids (person_set_by_ids) */
};

struct window {
	struct walker *w;
	uint64_t key;
	char since[32], until[32];
	struct person_set set;
	bool resumed;              /* set holds the first page already */
	const char *resume_cursor; /* ... and this is where the walk goes on */
	struct api_error err;
	int rc;
	pthread_t thread;
	bool started;
};

static void walk_window(struct window *win, struct api_conn *conn)
{
	char unused[32];
	struct list_query q;
	walker_dir_query(win->w, win->key, &q, unused);
	q.updated_since = win->since[0] ? win->since : NULL;
	q.updated_until = win->until[0] ? win->until : NULL;
	win->set.conn = conn;
	if (!win->resumed)
		win->rc = api_walk(conn, "/persons", &q, person_set_add_page, &win->set, &win->err);
	else if (win->resume_cursor)
		win->rc = api_walk_from(conn, "/persons", &q, win->resume_cursor,
					person_set_add_page, &win->set, &win->err);
}

static void *window_thread(void *arg)
{
	struct window *win = arg;
	struct api_conn *conn = api_conn_new(win->w->client);
	if (!conn) {
		win->rc = -ENOMEM;
		return NULL;
	}
	walk_window(win, conn);
	api_conn_free(conn);
	return NULL;
}

/* Walk the windows side by side (the first on this thread) and gather
 * every person into `all`; *outside counts the persons that came from
 * outside their window (with plan->check_bounds). */
static int walk_windows(struct walker *w, struct api_conn *conn, uint64_t key,
			const struct window_plan *plan, struct person_set *all, size_t *outside,
			struct api_error *err)
{
	int n = plan->nbounds + 1;
	struct window *wins = calloc((size_t)n, sizeof(*wins));
	if (!wins)
		return -ENOMEM;
	if (plan->progress)
		atomic_store(&plan->progress->in_flight, n);
	for (int i = 0; i < n; i++) {
		wins[i].w = w;
		wins[i].key = key;
		person_set_init(&wins[i].set, w, NULL, plan->names_valid_after);
		wins[i].set.growing = plan->growing;
		wins[i].set.progress = plan->progress;
		if (i > 0)
			walker_format_rfc3339((time_t)plan->bounds[i - 1], wins[i].since);
		if (i < plan->nbounds)
			walker_format_rfc3339((time_t)plan->bounds[i], wins[i].until);
		if (plan->check_bounds) {
			wins[i].set.bound_since = i > 0 ? plan->bounds[i - 1] : 0;
			wins[i].set.bound_until = i < plan->nbounds ? plan->bounds[i] : 0;
		}
	}
	if (plan->head) {
		wins[0].set = *plan->head; /* moved: window 0 goes on from there */
		memset(plan->head, 0, sizeof(*plan->head));
		wins[0].resumed = true;
		wins[0].resume_cursor = plan->head_next;
	}
	for (int i = 0; i < n; i++)
		if (plan->by_ids && !person_set_by_ids(&wins[i].set)) {
			for (int k = 0; k < n; k++)
				person_set_free(&wins[k].set);
			free(wins);
			return -ENOMEM;
		}
	for (int i = 1; i < n; i++)
		wins[i].started = pthread_create(&wins[i].thread, NULL, window_thread, &wins[i]) == 0;
	walk_window(&wins[0], conn);
	int rc = 0;
	for (int i = 0; i < n; i++) {
		if (i > 0 && wins[i].started)
			pthread_join(wins[i].thread, NULL);
		else if (i > 0)
			walk_window(&wins[i], conn); /* no thread: walk it here */
		if (wins[i].rc && !rc) {
			rc = wins[i].rc;
			*err = wins[i].err;
		}
		*outside += wins[i].set.out_of_bounds;
		int moved = rc ? 0 : person_set_take(all, &wins[i].set);
		if (moved && !rc)
			rc = moved;
		person_set_free(&wins[i].set);
	}
	free(wins);
	if (plan->progress)
		atomic_store(&plan->progress->in_flight, 1);
	return rc;
}

/*
 * Before walking a filter directory in windows: does the server apply the
 * time bounds with filter_id?  If it ignores them, every window would bring
 * the whole filter.  Asked once per mount: window 0's first page (updated
 * before the first boundary) - the first page by id holds persons updated
 * at and after that boundary, so a server ignoring it answers with some.
 * If the bounds hold, the page stays window 0's first page.
 */
static int plan_filter_windows(struct walker *w, struct api_conn *conn, uint64_t key,
			       struct window_plan *plan, struct person_set *head, char **head_next,
			       struct api_error *err)
{
	enum filter_bounds state = walker_filter_bounds(w);
	if (state == FILTER_BOUNDS_IGNORED)
		plan->nbounds = 0;
	if (state != FILTER_BOUNDS_UNKNOWN)
		return 0;
	char unused[32], until[32];
	struct list_query q;
	walker_dir_query(w, key, &q, unused);
	walker_format_rfc3339((time_t)plan->bounds[0], until);
	q.updated_until = until;
	head->bound_until = plan->bounds[0];
	struct api_page page;
	int rc = api_list_page(conn, "/persons", &q, NULL, &page, head_next, err);
	if (rc == 0) {
		rc = person_set_add_page(head, &page);
		api_page_release(&page);
	}
	if (rc)
		return rc;
	if (head->out_of_bounds) {
		walker_filter_bounds_found(w, FILTER_BOUNDS_IGNORED);
		plan->nbounds = 0;
	} else {
		walker_filter_bounds_found(w, FILTER_BOUNDS_APPLIED);
		plan->head = head;
		plan->head_next = *head_next;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* The full walk                                                        */

static int cmp_newest_first(const void *a, const void *b, void *ctx)
{
	const struct listing *l = ctx;
	const struct person *x = l->persons[*(const size_t *)a], *y = l->persons[*(const size_t *)b];
	if (x->update_time != y->update_time)
		return x->update_time < y->update_time ? 1 : -1;
	return (x->id < y->id) - (x->id > y->id);
}

/* /recent shows the newest first (ls -U, find, and readdir order). */
static void order_newest_first(struct listing *l)
{
	l->order = malloc((l->count ? l->count : 1) * sizeof(*l->order));
	if (!l->order)
		return; /* id order is still a correct listing */
	for (size_t i = 0; i < l->count; i++)
		l->order[i] = i;
	qsort_r(l->order, l->count, sizeof(*l->order), cmp_newest_first, l);
}

int walker_full_walk(struct walker *w, struct api_conn *conn, uint64_t key, struct listing **out,
		     struct api_error *err)
{
	char since[32];
	char synced[32] = "";
	struct list_query q;
	walker_dir_query(w, key, &q, since);
	double valid_after = walker_names_valid_after(w, walker_now());
	struct person_set first, all, head;
	person_set_init(&first, w, conn, valid_after);
	person_set_init(&all, w, conn, valid_after);
	person_set_init(&head, w, conn, valid_after);
	/* A first walk streams its persons to the readers waiting for them. */
	struct growing *growing = cache_growing(w->cache, key);
	first.growing = all.growing = head.growing = growing;
	struct walk_progress *progress = walker_progress_of(w, key);
	first.progress = all.progress = head.progress = progress;
	struct api_page page;
	char *next = NULL, *head_next = NULL;
	bool windowed = false;
	int rc = api_list_page(conn, "/persons", &q, NULL, &page, &next, err);
	if (rc == 0) {
		walker_sync_point(conn, 0, synced);
		rc = person_set_add_page(&first, &page);
		api_page_release(&page);
	}
	int windows = rc == 0 && next && window_kind_ok(key) ? window_count(w) : 1;
	int64_t bounds[8];
	bool filter = tree_kind(key) == NODE_FILTER_DIR;
	/* Under cache_max_mb the walk keeps ids, not persons (but /recent,
	 * whose order is by update time). */
	bool by_ids = key != INO_RECENT && cache_lists_by_ids(w->cache);
	struct window_plan plan = { .bounds = bounds, .check_bounds = filter,
				    .names_valid_after = valid_after, .growing = growing,
				    .progress = progress, .by_ids = by_ids };
	if (rc == 0 && by_ids && !person_set_by_ids(&all))
		rc = -ENOMEM;
	plan.nbounds = windows > 1 ? window_bounds(&first, windows, bounds) : 0;
	if (rc == 0 && plan.nbounds > 0 && filter)
		rc = plan_filter_windows(w, conn, key, &plan, &head, &head_next, err);
	if (rc == 0 && log_get_level() >= LOG_LEVEL_DEBUG) {
		char where[64];
		tree_describe(key, where, sizeof(where));
		log_debug("full walk of %s: %s", where,
			  !next ? "one page" : plan.nbounds ? "parallel update_time windows"
							    : "one cursor walk");
	}
	if (rc == 0 && plan.nbounds > 0) {
		size_t outside = 0;
		rc = walk_windows(w, conn, key, &plan, &all, &outside, err);
		windowed = rc == 0 && !outside;
		if (rc == 0 && outside) { /* the bounds stopped holding: start over */
			walker_filter_bounds_found(w, FILTER_BOUNDS_IGNORED);
			person_set_free(&all);
		}
	}
	if (rc == 0 && !windowed) {
		person_set_free(&all); /* empty, maybe an id array */
		all = first; /* one cursor walk: continue after the first page */
		person_set_init(&first, w, conn, valid_after);
		if (by_ids && !person_set_by_ids(&all))
			rc = -ENOMEM;
		if (rc == 0 && next)
			rc = person_set_walk_pipelined(&all, conn, &q, next, err);
	}
	free(next);
	free(head_next);
	person_set_free(&head);
	if (rc == 0 && !person_set_take_deleted(&all, &first))
		rc = -ENOMEM;
	person_set_free(&first);
	if (rc == 0 && !synced[0])
		walker_sync_point(conn, all.newest_update, synced);
	if (rc == 0)
		person_set_finish_names(&all);
	struct listing *l = NULL;
	if (rc == 0 && !(l = person_set_to_listing(&all)))
		rc = -ENOMEM;
	if (rc == 0 && windowed && synced[0])
		rc = walker_close_window_gap(w, conn, key, &l, synced, err);
	if (rc == 0) {
		if (!l->synced_to[0])
			snprintf(l->synced_to, sizeof(l->synced_to), "%s", synced);
		l->full_walk_at = walker_now();
		if (key == INO_RECENT)
			order_newest_first(l);
		*out = l;
		walker_forget_deleted(w, &all);
	} else {
		listing_unref(l);
	}
	if (all.skipped || first.skipped)
		log_warn("skipped %zu persons without a valid id in one listing",
			 all.skipped + first.skipped);
	person_set_free(&all);
	growing_unref(growing);
	if (rc)
		walker_set_error(err, rc, "listing persons");
	else
		walker_count(w, &w->stats.full_walks);
	return rc;
}
