/*
 * walker.c - worker threads that turn cache misses into API walks (walker.h).
 *
 * Sections: the job queue, organization names, building persons from pages,
 * directory queries, full and incremental walks of person directories, the
 * group roots (owners, organizations, filters), and id batches.
 */
#include "walker.h"

#include <errno.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "names.h"
#include "names_resolve.h"
#include "growing.h"
#include "persist.h"
#include "search_terms.h"
#include "strbuf.h"
#include "tree.h"
#include "walker_internal.h"

#define IDS_PER_REQUEST 100
#define SYNC_MARGIN_S 1 /* updated_since is inclusive; one second of overlap is cheap */

struct job {
	struct job *next;
	uint64_t key;
};

/* What one job leaves for the disk cache: the batch to write once the
 * waiters are answered, and how the job's own listing goes into it. */
struct job_state {
	struct persist_batch batch;
	bool save;        /* write the job's listing */
	bool persons_too; /* with every person it holds (a full walk) */
};

#define SHARED_MAX 64 /* listings one shared refresh brings up to date */
#define PROGRESS_SLOTS 16   /* walks shown in the status file at once */

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

static double now_monotonic(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void format_rfc3339(time_t t, char buf[32])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void count_stat(struct walker *w, uint64_t *counter)
{
	pthread_mutex_lock(&w->lock);
	(*counter)++;
	pthread_mutex_unlock(&w->lock);
}

static void set_error(struct api_error *err, int rc, const char *what)
{
	if (err->message[0])
		return;
	err->err = -rc;
	snprintf(err->message, sizeof(err->message), "%s: %s", what, strerror(-rc));
}

/* ------------------------------------------------------------------ */
/* Walks in progress (the status file)                                  */

static struct walk_progress *progress_begin(struct walker *w, uint64_t key)
{
	struct walk_progress *p = NULL;
	pthread_mutex_lock(&w->lock);
	for (size_t i = 0; i < PROGRESS_SLOTS && !p; i++)
		if (!w->progress[i].used)
			p = &w->progress[i];
	if (p) {
		p->used = true;
		p->key = key;
		p->started = now_monotonic();
		atomic_store(&p->pages, 0);
		atomic_store(&p->persons, 0);
		atomic_store(&p->in_flight, 1);
	}
	pthread_mutex_unlock(&w->lock);
	return p; /* NULL: more walks than slots; this one is not shown */
}

static void progress_end(struct walker *w, struct walk_progress *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&w->lock);
	p->used = false;
	pthread_mutex_unlock(&w->lock);
}

/* The slot of the walk of key this thread runs, or NULL. */
static struct walk_progress *progress_of(struct walker *w, uint64_t key)
{
	struct walk_progress *p = NULL;
	pthread_mutex_lock(&w->lock);
	for (size_t i = 0; i < PROGRESS_SLOTS && !p; i++)
		if (w->progress[i].used && w->progress[i].key == key)
			p = &w->progress[i];
	pthread_mutex_unlock(&w->lock);
	return p;
}

size_t walker_progress(struct walker *w, struct walker_progress *out, size_t max)
{
	size_t n = 0;
	double now = now_monotonic();
	pthread_mutex_lock(&w->lock);
	for (size_t i = 0; i < PROGRESS_SLOTS && n < max; i++) {
		const struct walk_progress *p = &w->progress[i];
		if (!p->used)
			continue;
		out[n++] = (struct walker_progress){
			.key = p->key, .elapsed_s = now - p->started,
			.pages = atomic_load(&p->pages), .persons = atomic_load(&p->persons),
			.in_flight = atomic_load(&p->in_flight),
		};
	}
	pthread_mutex_unlock(&w->lock);
	return n;
}

/* ------------------------------------------------------------------ */
/* Names and the SIGHUP epoch                                           */

/* Names (organizations, users, persons) fetched before this count as too
 * old: they live one full_refresh period, and a SIGHUP refresh (seen as a
 * new cache_expire_all count) drops them all. */
static double names_valid_after(struct walker *w, double walk_start)
{
	uint64_t epoch = cache_expire_all_count(w->cache);
	pthread_mutex_lock(&w->lock);
	bool refreshed = epoch != w->names_epoch;
	w->names_epoch = epoch;
	pthread_mutex_unlock(&w->lock);
	if (refreshed)
		meta_names_expire(w->meta, walk_start);
	return walk_start - w->cfg.full_refresh;
}

/* ------------------------------------------------------------------ */
/* Building persons from pages                                          */

struct person_set {
	struct walker *w;
	struct api_conn *conn;
	double names_valid_after; /* see names_valid_after() */
	char first_page_time[32]; /* the server's time at the first page, "" before */
	struct person **items;
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

static void person_set_init(struct person_set *ps, struct walker *w, struct api_conn *conn,
			    double names_valid_after)
{
	memset(ps, 0, sizeof(*ps));
	ps->w = w;
	ps->conn = conn;
	ps->names_valid_after = names_valid_after;
}

static bool person_set_note_deleted(struct person_set *ps, int64_t id)
{
	if (ps->deleted_count == ps->deleted_cap) {
		size_t cap = ps->deleted_cap ? ps->deleted_cap * 2 : 16;
		int64_t *ids = realloc(ps->deleted, cap * sizeof(*ids));
		if (!ids)
			return false;
		ps->deleted = ids;
		ps->deleted_cap = cap;
	}
	ps->deleted[ps->deleted_count++] = id;
	return true;
}

static bool outside_bounds(const struct person_set *ps, const struct person *p)
{
	return p->update_time > 0 &&
	       ((ps->bound_since && p->update_time < ps->bound_since) ||
		(ps->bound_until && p->update_time >= ps->bound_until));
}

static bool person_set_push(struct person_set *ps, struct person *p)
{
	if (ps->count == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 512;
		struct person **items = realloc(ps->items, cap * sizeof(*items));
		if (!items)
			return false;
		ps->items = items;
		ps->cap = cap;
	}
	ps->items[ps->count++] = p;
	if (p->update_time > ps->newest_update)
		ps->newest_update = p->update_time;
	return true;
}

static void person_set_free(struct person_set *ps)
{
	for (size_t i = 0; i < ps->count; i++)
		person_unref(ps->items[i]);
	free(ps->items);
	ps->items = NULL;
	ps->count = ps->cap = 0;
	free(ps->deleted);
	ps->deleted = NULL;
	ps->deleted_count = ps->deleted_cap = 0;
	names_pending_free(&ps->names);
}

/* Persons the server marked deleted leave every cached listing at once
 * (and their files their directories in the kernel, see fs.c). */
static void forget_deleted(struct walker *w, const struct person_set *ps)
{
	size_t changed = ps->deleted_count
				 ? cache_persons_remove(w->cache, ps->deleted, ps->deleted_count)
				 : 0;
	if (changed)
		log_info("persons deleted on the server left %zu cached listing(s)", changed);
}

/* Turn a page's elements into persons (the names they show already known to
 * meta, see names_resolve.h); each keeps its element's text exactly as sent. */
static int build_page(struct person_set *ps, const struct api_page *page)
{
	struct walker *w = ps->w;
	size_t first_new = ps->count;
	const struct jsonscan_doc *d = &page->scan.doc;
	struct person_scratch scratch;
	person_scratch_init(&scratch);
	int rc = 0;
	for (size_t i = 0; i < page->scan.count; i++) {
		uint32_t item = page->scan.elements[i].token;
		int err;
		struct person *p = person_build(d, item, w->style, &scratch, &err);
		if (!p && err == -ENOENT) { /* marked deleted */
			if (!person_set_note_deleted(ps, person_scan_id(d, item))) {
				rc = -ENOMEM;
				break;
			}
			continue;
		}
		if (!p) {
			if (err == -ENOMEM) {
				rc = -ENOMEM;
				break;
			}
			ps->skipped++;
			continue;
		}
		if (outside_bounds(ps, p))
			ps->out_of_bounds++;
		p = cache_person_put(w->cache, p);
		if (!person_set_push(ps, p)) {
			person_unref(p);
			rc = -ENOMEM;
			break;
		}
	}
	person_scratch_free(&scratch);
	if (ps->progress) {
		atomic_fetch_add(&ps->progress->pages, 1);
		atomic_fetch_add(&ps->progress->persons, ps->count - first_new);
	}
	/* Readers of a first walk see this page's persons now. */
	if (ps->growing && ps->count > first_new)
		growing_append(ps->growing, ps->items + first_new, ps->count - first_new);
	return rc;
}

static void sync_point(struct api_conn *conn, int64_t newest_seen, char out[32]);

static struct names_resolver resolver_of(const struct person_set *ps)
{
	return (struct names_resolver){ .meta = ps->w->meta, .cache = ps->w->cache,
					.valid_after = ps->names_valid_after,
					.custom_fields = ps->w->custom_fields,
					.include_fields = ps->w->include_fields };
}

static void resolve_names(struct person_set *ps, const struct api_page *page)
{
	struct names_resolver r = resolver_of(ps);
	names_resolve_page(&r, ps->conn, page, &ps->names);
}

/* A stored person built again from its JSON (the names it refers to may be
 * known now); NULL keeps it. */
static struct person *rebuild_person(void *ctx, struct person *light_or_full)
{
	struct walker *w = ctx;
	struct person *p = cache_person_bytes(w->cache, light_or_full);
	if (!p)
		return NULL; /* keep it as it is */
	/* with the walker's style: a person read back from the disk has none */
	int err;
	struct person *fresh = person_from_text(p->compact, p->compact_len, w->style, &err);
	person_unref(p);
	return fresh ? cache_person_put(w->cache, fresh) : NULL;
}

/* The person names the walk still lacks, and its persons that lacked them
 * built again. */
static void finish_names(struct person_set *ps)
{
	struct names_resolver r = resolver_of(ps);
	names_resolve_finish(&r, ps->conn, &ps->names, ps->items, ps->count, rebuild_person, ps->w);
}

static int add_page(void *ctx, struct api_page *page)
{
	struct person_set *ps = ctx;
	if (!ps->first_page_time[0]) /* before any other request on conn */
		sync_point(ps->conn, 0, ps->first_page_time);
	resolve_names(ps, page);
	return build_page(ps, page);
}

/*
 * A page pipeline: while the walking thread fetches (and parses, as it
 * streams in) the next page, a builder thread turns the previous one into
 * persons - two cores instead of one on a long cursor walk.
 */
#define PIPELINE_DEPTH 4

struct page_pipeline {
	struct person_set *set; /* only the builder touches it until finish */
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct api_page pages[PIPELINE_DEPTH];
	size_t head, count;
	bool closing;
	int rc;
	pthread_t thread;
	bool started;
};

static void *pipeline_builder(void *arg)
{
	struct page_pipeline *pp = arg;
	pthread_mutex_lock(&pp->lock);
	for (;;) {
		while (pp->count == 0 && !pp->closing)
			pthread_cond_wait(&pp->changed, &pp->lock);
		if (pp->count == 0)
			break;
		struct api_page page = pp->pages[pp->head];
		pp->head = (pp->head + 1) % PIPELINE_DEPTH;
		pp->count--;
		pthread_cond_broadcast(&pp->changed);
		bool failed = pp->rc != 0;
		pthread_mutex_unlock(&pp->lock);
		int rc = failed ? 0 : build_page(pp->set, &page);
		api_page_release(&page);
		pthread_mutex_lock(&pp->lock);
		if (rc && !pp->rc)
			pp->rc = rc;
	}
	pthread_mutex_unlock(&pp->lock);
	return NULL;
}

static void pipeline_start(struct page_pipeline *pp, struct person_set *set)
{
	memset(pp, 0, sizeof(*pp));
	pp->set = set;
	pthread_mutex_init(&pp->lock, NULL);
	pthread_cond_init(&pp->changed, NULL);
	pp->started = pthread_create(&pp->thread, NULL, pipeline_builder, pp) == 0;
}

/* api_page_fn: resolve names here, build on the other thread. */
static int pipeline_push(void *ctx, struct api_page *page)
{
	struct page_pipeline *pp = ctx;
	resolve_names(pp->set, page); /* names: only this thread */
	if (!pp->started)
		return build_page(pp->set, page); /* no thread: build here */
	pthread_mutex_lock(&pp->lock);
	while (pp->count == PIPELINE_DEPTH && !pp->rc)
		pthread_cond_wait(&pp->changed, &pp->lock);
	int rc = pp->rc;
	if (!rc) {
		pp->pages[(pp->head + pp->count) % PIPELINE_DEPTH] = *page;
		memset(page, 0, sizeof(*page)); /* the builder owns it now */
		pp->count++;
		pthread_cond_broadcast(&pp->changed);
	}
	pthread_mutex_unlock(&pp->lock);
	return rc;
}

/* Wait for the builder to finish every queued page; its result. */
static int pipeline_finish(struct page_pipeline *pp)
{
	if (pp->started) {
		pthread_mutex_lock(&pp->lock);
		pp->closing = true;
		pthread_cond_broadcast(&pp->changed);
		pthread_mutex_unlock(&pp->lock);
		pthread_join(pp->thread, NULL);
	}
	pthread_mutex_destroy(&pp->lock);
	pthread_cond_destroy(&pp->changed);
	return pp->rc;
}

/* Move the set into a new listing sorted by id. */
static struct listing *listing_from_set(struct person_set *ps)
{
	struct listing *l = listing_new_persons(ps->count);
	if (!l)
		return NULL;
	if (ps->count)
		memcpy(l->persons, ps->items, ps->count * sizeof(*ps->items));
	ps->count = 0;
	if (!listing_sort(l)) {
		listing_unref(l);
		return NULL;
	}
	return l;
}

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

/* ------------------------------------------------------------------ */
/* Person directories                                                   */

static void dir_query(const struct walker *w, uint64_t key, struct list_query *q,
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
			format_rfc3339(time(NULL) - (time_t)w->cfg.recent_days * 86400, since);
			q->updated_since = since;
			q->sort_by = "update_time";
			q->sort_direction = "desc";
		}
		break;
	}
}

/* The time a walk that started now is complete up to, by the server's clock. */
static void sync_point(struct api_conn *conn, int64_t newest_seen, char out[32])
{
	time_t t = api_conn_server_date(conn);
	if (t > 0)
		t -= SYNC_MARGIN_S;
	else
		t = (time_t)newest_seen; /* no Date header: the newest change we saw */
	if (t > 0)
		format_rfc3339(t, out);
	else
		out[0] = '\0';
}

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

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
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
	qsort(times, n, sizeof(*times), cmp_i64);
	int count = 0;
	for (int k = 1; k < windows && n > 0; k++) {
		int64_t b = times[n * (size_t)k / (size_t)windows];
		if (count == 0 || b > bounds[count - 1])
			bounds[count++] = b;
	}
	free(times);
	return count;
}

/* Move src's deleted ids to dst. */
static bool person_set_take_deleted(struct person_set *dst, struct person_set *src)
{
	for (size_t i = 0; i < src->deleted_count; i++)
		if (!person_set_note_deleted(dst, src->deleted[i]))
			return false;
	src->deleted_count = 0;
	return true;
}

/* Move every person and deleted id of src into dst (src is left empty). */
static int person_set_take(struct person_set *dst, struct person_set *src)
{
	int rc = 0;
	for (size_t k = 0; k < src->count && rc == 0; k++) {
		if (!person_set_push(dst, person_ref(src->items[k]))) {
			person_unref(src->items[k]);
			rc = -ENOMEM;
		}
	}
	if (rc == 0 && !person_set_take_deleted(dst, src))
		rc = -ENOMEM;
	if (rc == 0 && !names_pending_take(&dst->names, &src->names))
		log_warn("out of memory resolving names; some vCards show fewer fields");
	person_set_free(src);
	return rc;
}

/* ---- what the server does with filter_id and updated_since/_until ---- */

static enum filter_bounds filter_bounds_state(struct walker *w)
{
	pthread_mutex_lock(&w->lock);
	enum filter_bounds state = w->filter_bounds;
	pthread_mutex_unlock(&w->lock);
	return state;
}

static void filter_bounds_found(struct walker *w, enum filter_bounds found)
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
	dir_query(win->w, win->key, &q, unused);
	q.updated_since = win->since[0] ? win->since : NULL;
	q.updated_until = win->until[0] ? win->until : NULL;
	win->set.conn = conn;
	if (!win->resumed)
		win->rc = api_walk(conn, "/persons", &q, add_page, &win->set, &win->err);
	else if (win->resume_cursor)
		win->rc = api_walk_from(conn, "/persons", &q, win->resume_cursor, add_page,
					&win->set, &win->err);
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
			format_rfc3339((time_t)plan->bounds[i - 1], wins[i].since);
		if (i < plan->nbounds)
			format_rfc3339((time_t)plan->bounds[i], wins[i].until);
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
	enum filter_bounds state = filter_bounds_state(w);
	if (state == FILTER_BOUNDS_IGNORED)
		plan->nbounds = 0;
	if (state != FILTER_BOUNDS_UNKNOWN)
		return 0;
	char unused[32], until[32];
	struct list_query q;
	dir_query(w, key, &q, unused);
	format_rfc3339((time_t)plan->bounds[0], until);
	q.updated_until = until;
	head->bound_until = plan->bounds[0];
	struct api_page page;
	int rc = api_list_page(conn, "/persons", &q, NULL, &page, head_next, err);
	if (rc == 0) {
		rc = add_page(head, &page);
		api_page_release(&page);
	}
	if (rc)
		return rc;
	if (head->out_of_bounds) {
		filter_bounds_found(w, FILTER_BOUNDS_IGNORED);
		plan->nbounds = 0;
	} else {
		filter_bounds_found(w, FILTER_BOUNDS_APPLIED);
		plan->head = head;
		plan->head_next = *head_next;
	}
	return 0;
}

/* Persons changed since the walk started, merged in: closes the gap a person
 * updated mid-walk could fall through (it moved to another window). */
static int close_window_gap(struct walker *w, struct api_conn *conn, uint64_t key,
			    struct listing **l, const char *walk_start, struct api_error *err);

static int walk_full(struct walker *w, struct api_conn *conn, uint64_t key, struct listing **out,
		     struct api_error *err)
{
	char since[32];
	char synced[32] = "";
	struct list_query q;
	dir_query(w, key, &q, since);
	double valid_after = names_valid_after(w, now_monotonic());
	struct person_set first, all, head;
	person_set_init(&first, w, conn, valid_after);
	person_set_init(&all, w, conn, valid_after);
	person_set_init(&head, w, conn, valid_after);
	/* A first walk streams its persons to the readers waiting for them. */
	struct growing *growing = cache_growing(w->cache, key);
	first.growing = all.growing = head.growing = growing;
	struct walk_progress *progress = progress_of(w, key);
	first.progress = all.progress = head.progress = progress;
	struct api_page page;
	char *next = NULL, *head_next = NULL;
	bool windowed = false;
	int rc = api_list_page(conn, "/persons", &q, NULL, &page, &next, err);
	if (rc == 0) {
		sync_point(conn, 0, synced);
		rc = add_page(&first, &page);
		api_page_release(&page);
	}
	int windows = rc == 0 && next && window_kind_ok(key) ? window_count(w) : 1;
	int64_t bounds[8];
	bool filter = tree_kind(key) == NODE_FILTER_DIR;
	struct window_plan plan = { .bounds = bounds, .check_bounds = filter,
				    .names_valid_after = valid_after, .growing = growing,
				    .progress = progress };
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
			filter_bounds_found(w, FILTER_BOUNDS_IGNORED);
			person_set_free(&all);
		}
	}
	if (rc == 0 && !windowed) {
		all = first; /* one cursor walk: continue after the first page */
		person_set_init(&first, w, conn, valid_after);
		if (next) {
			struct page_pipeline pp;
			pipeline_start(&pp, &all);
			rc = api_walk_from(conn, "/persons", &q, next, pipeline_push, &pp, err);
			int built = pipeline_finish(&pp);
			if (!rc)
				rc = built;
		}
	}
	free(next);
	free(head_next);
	person_set_free(&head);
	if (rc == 0 && !person_set_take_deleted(&all, &first))
		rc = -ENOMEM;
	person_set_free(&first);
	if (rc == 0 && !synced[0])
		sync_point(conn, all.newest_update, synced);
	if (rc == 0)
		finish_names(&all);
	struct listing *l = NULL;
	if (rc == 0 && !(l = listing_from_set(&all)))
		rc = -ENOMEM;
	if (rc == 0 && windowed && synced[0])
		rc = close_window_gap(w, conn, key, &l, synced, err);
	if (rc == 0) {
		if (!l->synced_to[0])
			snprintf(l->synced_to, sizeof(l->synced_to), "%s", synced);
		l->full_walk_at = now_monotonic();
		if (key == INO_RECENT)
			order_newest_first(l);
		*out = l;
		forget_deleted(w, &all);
	} else {
		listing_unref(l);
	}
	if (all.skipped || first.skipped)
		log_warn("skipped %zu persons without a valid id in one listing",
			 all.skipped + first.skipped);
	person_set_free(&all);
	growing_unref(growing);
	if (rc)
		set_error(err, rc, "listing persons");
	else
		count_stat(w, &w->stats.full_walks);
	return rc;
}

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

static int cmp_person_id(const void *a, const void *b)
{
	const struct person *x = *(struct person *const *)a, *y = *(struct person *const *)b;
	return (x->id > y->id) - (x->id < y->id);
}

/* Sort the set by id so set_contains can bisect. */
static void person_set_sort(struct person_set *ps)
{
	if (ps->count > 1)
		qsort(ps->items, ps->count, sizeof(*ps->items), cmp_person_id);
}

static bool set_contains(const struct person_set *ps, int64_t id)
{
	size_t lo = 0, hi = ps->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int64_t v = ps->items[mid]->id;
		if (v == id)
			return true;
		if (v < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static bool set_deleted(struct person_set *ps, int64_t id)
{
	for (size_t i = 0; i < ps->deleted_count; i++)
		if (ps->deleted[i] == id)
			return true;
	return false;
}

/* prev's persons, minus every changed or deleted one, plus the changed ones
 * that belong.  Sorts both sets. */
static struct listing *merge_changes(const struct listing *prev, struct person_set *changed,
				     struct person_set *filter_matches, uint64_t key)
{
	person_set_sort(changed);
	if (filter_matches)
		person_set_sort(filter_matches);
	size_t most = prev->count + changed->count + (filter_matches ? filter_matches->count : 0);
	struct listing *l = listing_new_persons(most);
	if (!l)
		return NULL;
	size_t n = 0;
	for (size_t i = 0; i < prev->count; i++) {
		int64_t id = prev->persons[i]->id;
		if (!set_contains(changed, id) && !set_deleted(changed, id) &&
		    !(filter_matches && (set_contains(filter_matches, id) ||
					 set_deleted(filter_matches, id))))
			l->persons[n++] = person_ref(prev->persons[i]);
	}
	for (size_t i = 0; i < changed->count; i++) {
		struct person *p = changed->items[i];
		if (!filter_matches && person_matches_dir(p, key))
			l->persons[n++] = person_ref(p);
	}
	if (filter_matches)
		for (size_t i = 0; i < filter_matches->count; i++)
			l->persons[n++] = person_ref(filter_matches->items[i]);
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
	return synced_to[0] && now_monotonic() - full_walk_at < w->cfg.full_refresh &&
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
	return incremental_kind(key) && prev && prev->persons &&
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
	dir_query(w, key, &q, since);
	q.owner_id = q.org_id = q.filter_id = 0; /* company-wide: catches moves out */
	q.updated_since = since_time;
	double valid_after = names_valid_after(w, now_monotonic());
	struct person_set changed, matches;
	person_set_init(&changed, w, conn, valid_after);
	person_set_init(&matches, w, conn, valid_after);
	bool is_filter = tree_kind(key) == NODE_FILTER_DIR;
	bool whole_filter = false;
	int rc = api_walk(conn, "/persons", &q, add_page, &changed, err);
	if (rc == 0)
		snprintf(synced, sizeof(synced), "%s", changed.first_page_time);
	if (rc == 0 && is_filter && changed.count > 0) {
		q.filter_id = tree_id(key);
		matches.bound_since = person_parse_time(since_time);
		rc = api_walk(conn, "/persons", &q, add_page, &matches, err);
		/* A server that ignores updated_since with filter_id answered with
		 * the whole filter: that is the new listing, no need to merge. */
		if (rc == 0 && matches.out_of_bounds)
			filter_bounds_found(w, FILTER_BOUNDS_IGNORED);
		whole_filter = rc == 0 && filter_bounds_state(w) == FILTER_BOUNDS_IGNORED;
	}
	if (rc == 0) {
		finish_names(&changed);
		finish_names(&matches);
		struct listing *l = whole_filter ? listing_from_set(&matches)
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
				apply_shared(w, sh, &changed, l->synced_to, now_monotonic());
			forget_deleted(w, &changed);
			forget_deleted(w, &matches);
		}
	}
	person_set_free(&changed);
	person_set_free(&matches);
	if (rc)
		set_error(err, rc, "refreshing persons");
	return rc;
}

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
	return shared_kind(key) && l->persons &&
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

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
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
		if (!set_contains(changed, row->ids[i]) && !set_deleted(changed, row->ids[i]))
			ids[n++] = row->ids[i];
	for (size_t i = 0; i < changed->count; i++)
		if (person_matches_dir(changed->items[i], row->key))
			ids[n++] = changed->items[i]->id;
	qsort(ids, n, sizeof(*ids), cmp_id);
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
	double now = now_monotonic();
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
		count_stat(w, &w->stats.incremental_walks);
	if (sh)
		release_shared(w, sh, rc, now_monotonic());
	free(sh);
	return rc;
}

static int close_window_gap(struct walker *w, struct api_conn *conn, uint64_t key,
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

/* The disk's copy of key when the cache holds none (after a restart), or
 * NULL. */
static struct listing *disk_copy(struct walker *w, uint64_t key, double now)
{
	if (!w->cfg.store || !persist_keeps(key) || cache_listing_held(w->cache, key))
		return NULL;
	return persist_load(w->cfg.store, w->cache, key, now);
}

/* A disk copy young enough to serve as it is (no request). */
static bool disk_copy_fresh(struct walker *w, const struct listing *disk, double now)
{
	double ttl = cache_ttl(w->cache);
	return ttl > 0 && now - disk->fetched_at < ttl &&
	       disk->fetched_at >= cache_expire_all_at(w->cache);
}

/* The walk failed but the disk has a copy: serve it, marked stale (the slot
 * stays expired, so the next listing tries again). */
static int serve_disk_copy(struct walker *w, uint64_t key, struct listing *disk, int rc,
			   const struct api_error *err, struct listing **out,
			   struct job_state *js)
{
	char where[64];
	tree_describe(key, where, sizeof(where));
	log_warn("%s: serving the disk cache's copy (%.0f minutes old) because the refresh failed: %s",
		 where, (now_monotonic() - disk->fetched_at) / 60.0,
		 err->message[0] ? err->message : strerror(-rc));
	disk->stale = true;
	*out = listing_ref(disk);
	js->save = false;
	count_stat(w, &w->stats.disk_served_stale);
	return 0;
}

static int walk_person_dir(struct walker *w, struct api_conn *conn, uint64_t key,
			   struct listing **out, struct api_error *err, struct job_state *js)
{
	double now = now_monotonic();
	struct listing *prev = cache_listing_peek(w->cache, key);
	struct listing *disk = prev ? NULL : disk_copy(w, key, now);
	int rc;
	if (disk && disk_copy_fresh(w, disk, now)) {
		*out = listing_ref(disk);
		js->save = false;
		count_stat(w, &w->stats.disk_loads);
		rc = 0;
	} else if (can_refresh_incrementally(w, key, prev ? prev : disk)) {
		rc = walk_incremental(w, conn, key, prev ? prev : disk, out, err, js);
	} else {
		rc = walk_full(w, conn, key, out, err);
		js->persons_too = true;
	}
	if (rc && rc != -ECANCELED && disk)
		rc = serve_disk_copy(w, key, disk, rc, err, out, js);
	listing_unref(prev);
	listing_unref(disk);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Owners, organizations, filters                                       */

struct group_set {
	struct walker *w;
	bool store_org_names;
	int64_t *ids;
	char **names;
	size_t count, cap;
};

static int add_group_items(void *ctx, struct api_page *page)
{
	struct group_set *gs = ctx;
	const struct jsonscan_doc *d = &page->scan.doc;
	double now = now_monotonic();
	struct arena scratch;
	arena_init(&scratch, 4096);
	for (size_t i = 0; i < page->scan.count; i++) {
		uint32_t item = page->scan.elements[i].token;
		int64_t v;
		if (jsonscan_int64(d, jsonscan_get(d, item, "id"), &v) != 0 || v <= 0 ||
		    v > NAMES_MAX_ID)
			continue;
		if (gs->store_org_names)
			meta_org_store(gs->w->meta, d, item, now);
		if (gs->count == gs->cap) {
			size_t cap = gs->cap ? gs->cap * 2 : 256;
			int64_t *ids = realloc(gs->ids, cap * sizeof(*ids));
			char **names = ids ? realloc(gs->names, cap * sizeof(*names)) : NULL;
			if (ids)
				gs->ids = ids;
			if (!names) {
				arena_free(&scratch);
				return -ENOMEM;
			}
			gs->names = names;
			gs->cap = cap;
		}
		struct strbuf link = STRBUF_INIT;
		size_t n;
		const char *name = jsonscan_str(d, jsonscan_get(d, item, "name"), &scratch, &n);
		bool named = name && names_group_link(&link, name, n);
		gs->ids[gs->count] = v;
		gs->names[gs->count] = named ? sb_detach(&link, NULL) : NULL;
		sb_free(&link);
		gs->count++;
		arena_reset(&scratch);
	}
	arena_free(&scratch);
	return 0;
}

static int cmp_name_index(const void *a, const void *b, void *ctx)
{
	char **names = ctx;
	return strcmp(names[*(const size_t *)a], names[*(const size_t *)b]);
}

/* Names shared by two or more ids get no link: a link must be unambiguous. */
static void drop_ambiguous_names(struct listing *l)
{
	size_t n = 0;
	size_t *idx = malloc((l->count ? l->count : 1) * sizeof(*idx));
	if (!idx)
		return;
	for (size_t i = 0; i < l->count; i++)
		if (l->names[i])
			idx[n++] = i;
	qsort_r(idx, n, sizeof(*idx), cmp_name_index, l->names);
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		while (j < n && strcmp(l->names[idx[i]], l->names[idx[j]]) == 0)
			j++;
		if (j - i > 1)
			for (size_t k = i; k < j; k++) {
				free(l->names[idx[k]]);
				l->names[idx[k]] = NULL;
			}
		i = j;
	}
	free(idx);
}

static int walk_group(struct walker *w, struct api_conn *conn, uint64_t key, struct listing **out,
		      struct api_error *err)
{
	struct group_set gs = { .w = w, .store_org_names = key == INO_BY_ORG };
	int rc;
	if (key == INO_BY_ORG) {
		struct list_query q = { .limit = w->cfg.page_limit };
		rc = api_walk(conn, "/organizations", &q, add_group_items, &gs, err);
	} else {
		struct api_page page;
		rc = api_get_page(conn, API_V1,
				  key == INO_BY_OWNER ? "/users" : "/filters?type=people", &page, err);
		if (rc == 0 && jsonscan_type(&page.scan.doc, page.scan.data) == JSONSCAN_ARRAY) {
			rc = add_group_items(&gs, &page);
			if (key == INO_BY_OWNER) /* the names of user fields, for free */
				meta_users_store(w->meta, &page.scan.doc, page.scan.data,
						 now_monotonic());
		}
		api_page_release(&page);
	}
	if (rc == 0) {
		struct listing *l = listing_new_ids(gs.count, true);
		if (!l) {
			rc = -ENOMEM;
		} else {
			if (gs.count) {
				memcpy(l->ids, gs.ids, gs.count * sizeof(*gs.ids));
				memcpy(l->names, gs.names, gs.count * sizeof(*gs.names));
			}
			gs.count = 0; /* names moved */
			if (listing_sort(l)) {
				drop_ambiguous_names(l);
				*out = l;
			} else {
				listing_unref(l);
				rc = -ENOMEM;
			}
		}
	}
	for (size_t i = 0; i < gs.count; i++)
		free(gs.names[i]);
	free(gs.ids);
	free(gs.names);
	if (rc)
		set_error(err, rc, "listing");
	return rc;
}

static int walk_group_root(struct walker *w, struct api_conn *conn, uint64_t key,
			   struct listing **out, struct api_error *err, struct job_state *js)
{
	double now = now_monotonic();
	struct listing *disk = disk_copy(w, key, now);
	int rc;
	if (disk && disk_copy_fresh(w, disk, now)) {
		*out = listing_ref(disk);
		js->save = false;
		count_stat(w, &w->stats.disk_loads);
		rc = 0;
	} else {
		rc = walk_group(w, conn, key, out, err);
	}
	if (rc && rc != -ECANCELED && disk)
		rc = serve_disk_copy(w, key, disk, rc, err, out, js);
	listing_unref(disk);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Persons by id                                                        */

/* Take up to max-1 more queued by-id keys off the queue into keys[1..]. */
static size_t take_queued_ids(struct walker *w, uint64_t *keys, size_t max)
{
	size_t n = 1;
	pthread_mutex_lock(&w->lock);
	struct job **link = &w->head;
	w->tail = NULL;
	while (*link) {
		struct job *j = *link;
		if (n < max && tree_kind(j->key) == NODE_BY_ID_PERSON) {
			keys[n++] = j->key;
			*link = j->next;
			free(j);
			continue;
		}
		w->tail = j;
		link = &j->next;
	}
	pthread_mutex_unlock(&w->lock);
	return n;
}

static bool key_listed(const uint64_t *keys, size_t n, uint64_t key)
{
	for (size_t i = 0; i < n; i++)
		if (keys[i] == key)
			return true;
	return false;
}

static void run_id_batch(struct walker *w, struct api_conn *conn, uint64_t first)
{
	uint64_t keys[IDS_PER_REQUEST];
	keys[0] = first;
	size_t asked = take_queued_ids(w, keys, IDS_PER_REQUEST);
	size_t n = asked;
	/* Fill the request with the ids that follow: scripts read in order. */
	for (int64_t next = tree_id(first) + 1; n < IDS_PER_REQUEST && next <= NAMES_MAX_ID; next++)
		if (!key_listed(keys, n, tree_ino(NODE_BY_ID_PERSON, next)))
			keys[n++] = tree_ino(NODE_BY_ID_PERSON, next);

	struct strbuf list = STRBUF_INIT;
	for (size_t i = 0; i < n; i++)
		sb_printf(&list, "%s%" PRId64, i ? "," : "", tree_id(keys[i]));
	struct list_query q = { .ids = list.data, .limit = IDS_PER_REQUEST,
				.custom_fields = w->custom_fields,
				.include_fields = w->include_fields };
	struct person_set ps;
	person_set_init(&ps, w, conn, names_valid_after(w, now_monotonic()));
	struct api_error err = { 0 };
	int rc = sb_failed(&list) ? -ENOMEM : api_walk(conn, "/persons", &q, add_page, &ps, &err);
	sb_free(&list);
	if (rc == 0)
		finish_names(&ps);
	count_stat(w, &w->stats.id_batches);
	if (rc && rc != -ECANCELED)
		log_error("looking up persons by id failed: %s",
			  err.message[0] ? err.message : strerror(-rc));
	double now = now_monotonic();
	/* Store the fill-in ids first: answering a requested id wakes a script
	 * whose next lookup must find its neighbour already cached. */
	for (size_t i = n; i-- > 0;) {
		struct listing *l = NULL;
		if (rc == 0) {
			struct person *found = NULL;
			for (size_t k = 0; k < ps.count && !found; k++)
				if (ps.items[k]->id == tree_id(keys[i]))
					found = ps.items[k];
			l = listing_new_persons(found ? 1 : 0);
			if (l && found)
				l->persons[0] = person_ref(found);
			else if (l)
				l->count = 0;
		}
		/* An id the answer did not hold is deleted or never was: if a
		 * listing still shows it, it leaves (below). */
		if (rc == 0 && l && l->count == 0 &&
		    !set_deleted(&ps, tree_id(keys[i])) &&
		    !person_set_note_deleted(&ps, tree_id(keys[i])))
			log_warn("out of memory noting a person that no longer exists");
		/* Speculative neighbours are only stored when they were found. */
		if (i >= asked && (!l || l->count == 0)) {
			listing_unref(l);
			continue;
		}
		cache_listing_finish(w->cache, keys[i], l, l ? 0 : (rc ? -rc : ENOMEM), now);
	}
	if (rc == 0)
		forget_deleted(w, &ps);
	person_set_free(&ps);
}

int walker_persons_by_ids(struct walker *w, struct api_conn *conn, const int64_t *ids, size_t n,
			  struct person ***out, size_t *count, struct api_error *err)
{
	struct person_set ps;
	person_set_init(&ps, w, conn, names_valid_after(w, now_monotonic()));
	int rc = 0;
	for (size_t from = 0; from < n && rc == 0; from += IDS_PER_REQUEST) {
		size_t batch = n - from < IDS_PER_REQUEST ? n - from : IDS_PER_REQUEST;
		struct strbuf list = STRBUF_INIT;
		for (size_t i = 0; i < batch; i++)
			sb_printf(&list, "%s%" PRId64, i ? "," : "", ids[from + i]);
		struct list_query q = { .ids = list.data, .limit = IDS_PER_REQUEST,
					.custom_fields = w->custom_fields,
					.include_fields = w->include_fields };
		rc = sb_failed(&list) ? -ENOMEM : api_walk(conn, "/persons", &q, add_page, &ps, err);
		sb_free(&list);
		count_stat(w, &w->stats.id_batches);
	}
	if (rc == 0) {
		finish_names(&ps);
		person_set_sort(&ps);
		/* An id the answers did not hold is deleted or never was. */
		for (size_t i = 0; i < n && rc == 0; i++)
			if (!set_contains(&ps, ids[i]) && !set_deleted(&ps, ids[i]) &&
			    !person_set_note_deleted(&ps, ids[i]))
				rc = -ENOMEM;
	}
	if (rc == 0) {
		forget_deleted(w, &ps);
		*out = ps.items;
		*count = ps.count;
		ps.items = NULL;
		ps.count = ps.cap = 0;
	} else {
		set_error(err, rc, "looking up persons by id");
	}
	person_set_free(&ps);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Person fields                                                        */

struct person_fields_load {
	struct meta_fields *fields;
	struct strbuf *text; /* "[" and every element's text, or NULL */
};

static int add_person_fields(void *ctx, struct api_page *page)
{
	struct person_fields_load *load = ctx;
	if (!meta_fields_add(load->fields, &page->scan.doc, page->scan.data))
		return -ENOMEM;
	for (size_t i = 0; load->text && i < page->scan.count; i++) {
		if (load->text->len > 1)
			sb_putc(load->text, ',');
		sb_append(load->text, page->body + page->scan.elements[i].start,
			  page->scan.elements[i].len);
	}
	return 0;
}

int walker_load_person_fields(struct api_conn *conn, struct meta *meta, char **text,
			      struct api_error *err)
{
	struct strbuf all = STRBUF_INIT;
	struct person_fields_load load = { .fields = meta_fields_new(), .text = text ? &all : NULL };
	if (text) {
		*text = NULL;
		sb_putc(&all, '[');
	}
	if (!load.fields) {
		sb_free(&all);
		return -ENOMEM;
	}
	struct list_query q = { .limit = 500 };
	int rc = api_walk(conn, "/personFields", &q, add_person_fields, &load, err);
	if (rc == 0)
		meta_person_fields_install(meta, load.fields);
	else
		meta_fields_free(load.fields);
	if (rc == 0 && text) {
		sb_putc(&all, ']');
		*text = sb_failed(&all) ? NULL : sb_detach(&all, NULL);
	}
	sb_free(&all);
	/* User fields show user names: load them once, now. */
	struct api_error users_err = { 0 };
	int users_rc = rc == 0 && meta_has_field_type(meta, FIELDTEXT_USER)
			       ? names_load_users(meta, conn, &users_err)
			       : 0;
	if (users_rc)
		log_warn("cannot load the user names (%s); they are asked for again when a "
			 "listing needs them", users_err.message[0] ? users_err.message
								 : strerror(-users_rc));
	return rc;
}

/* ------------------------------------------------------------------ */
/* Threads                                                              */

static void run_job(struct walker *w, struct api_conn *conn, uint64_t key)
{
	if (!conn) {
		cache_listing_finish(w->cache, key, NULL, ENOMEM, now_monotonic());
		return;
	}
	if (tree_kind(key) == NODE_BY_ID_PERSON) {
		run_id_batch(w, conn, key);
		return;
	}
	struct listing *l = NULL;
	struct api_error err = { 0 };
	struct job_state js = { .save = true };
	struct walk_progress *progress = progress_begin(w, key);
	bool search = tree_kind(key) == NODE_SEARCH_DIR;
	int rc = tree_is_group_root(key) ? walk_group_root(w, conn, key, &l, &err, &js)
		 : search                ? walker_search_walk(w, conn, key, &l, &err)
					 : walk_person_dir(w, conn, key, &l, &err, &js);
	if (rc == 0 && search)
		count_stat(w, &w->stats.search_walks);
	if (rc) {
		char where[64];
		tree_describe(key, where, sizeof(where));
		set_error(&err, rc, "listing");
		if (rc != -ECANCELED) {
			log_error("listing %s failed: %s", where, err.message);
			count_stat(w, &w->stats.failed_walks);
		}
	}
	progress_end(w, progress);
	bool big = l && l->count > 1000;
	double now = now_monotonic();
	if (rc == 0 && l && js.save && w->cfg.store && persist_keeps(key))
		persist_add_listing(&js.batch, key, l, js.persons_too, now);
	cache_listing_finish(w->cache, key, l, rc ? -rc : 0, now);
	/* On disk once the waiters have their answer: the persons first (a
	 * listing never points at persons the disk lacks). */
	if (w->cfg.store && (js.batch.row_count == 0 || cache_flush_bytes(w->cache) == 0))
		persist_commit(w->cfg.store, &js.batch);
	else if (w->cfg.store)
		persist_batch_free(&js.batch);
	else
		persist_batch_free(&js.batch);
	/* A big walk parsed megabytes of pages that are free now: give them
	 * back to the system instead of keeping them as heap. */
	if (big) {
		api_client_trim(w->client);
		malloc_trim(0);
	}
}

static void *worker_main(void *arg)
{
	struct walker *w = arg;
	struct api_conn *conn = api_conn_new(w->client);
	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->stopping && !w->head)
			pthread_cond_wait(&w->queue_changed, &w->lock);
		struct job *job = w->head;
		if (!job)
			break; /* stopping, and the queue is drained */
		w->head = job->next;
		if (!w->head)
			w->tail = NULL;
		pthread_mutex_unlock(&w->lock);
		/* Made per job when missing: one failure is not for ever. */
		if (!conn && !(conn = api_conn_new(w->client)))
			log_error("out of memory creating an HTTP connection; this listing fails, "
				  "the next one tries again");
		run_job(w, conn, job->key);
		free(job);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	api_conn_free(conn);
	return NULL;
}

void walker_fetch(struct walker *w, uint64_t key)
{
	struct job *job = malloc(sizeof(*job));
	if (!job) {
		log_error("out of memory queueing a listing");
		cache_listing_finish(w->cache, key, NULL, ENOMEM, now_monotonic());
		return;
	}
	job->key = key;
	job->next = NULL;
	pthread_mutex_lock(&w->lock);
	if (w->tail)
		w->tail->next = job;
	else
		w->head = job;
	w->tail = job;
	pthread_cond_signal(&w->queue_changed);
	pthread_mutex_unlock(&w->lock);
}

struct walker *walker_new(const struct walker_config *cfg, struct api_client *client,
			  struct cache *cache, struct meta *meta)
{
	struct walker *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->cfg = *cfg;
	/* The disk cache stores every card's text: render it once, when built. */
	if (cfg->store)
		w->cfg.render.keep_vcf = true;
	if (!(w->style = person_style_new(&w->cfg.render))) {
		free(w);
		return NULL;
	}
	w->custom_fields = cfg->custom_fields ? strdup(cfg->custom_fields) : NULL;
	w->include_fields = cfg->include_fields ? strdup(cfg->include_fields) : NULL;
	w->terms = search_terms_new(0);
	if ((cfg->custom_fields && !w->custom_fields) ||
	    (cfg->include_fields && !w->include_fields) || !w->terms) {
		search_terms_free(w->terms);
		free(w->custom_fields);
		free(w->include_fields);
		person_style_unref(w->style);
		free(w);
		return NULL;
	}
	w->cfg.custom_fields = w->custom_fields;
	w->cfg.include_fields = w->include_fields;
	w->client = client;
	w->cache = cache;
	w->meta = meta;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->queue_changed, NULL);
	return w;
}

int walker_start(struct walker *w)
{
	int n = w->cfg.workers > 0 ? w->cfg.workers : 4;
	w->threads = calloc((size_t)n, sizeof(*w->threads));
	if (!w->threads)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		int rc = pthread_create(&w->threads[i], NULL, worker_main, w);
		if (rc) {
			log_error("cannot start a worker thread: %s", strerror(rc));
			return -rc;
		}
		w->nthreads++;
	}
	return 0;
}

struct search_terms *walker_search_terms(struct walker *w) { return w->terms; }

void walker_get_stats(struct walker *w, struct walker_stats *out)
{
	pthread_mutex_lock(&w->lock);
	*out = w->stats;
	pthread_mutex_unlock(&w->lock);
}

void walker_free(struct walker *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_broadcast(&w->queue_changed);
	pthread_mutex_unlock(&w->lock);
	api_client_cancel(w->client);
	for (int i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
	/* Without threads (start failed), finish what is queued. */
	while (w->head) {
		struct job *j = w->head;
		w->head = j->next;
		cache_listing_finish(w->cache, j->key, NULL, ECANCELED, now_monotonic());
		free(j);
	}
	free(w->threads);
	search_terms_free(w->terms);
	free(w->custom_fields);
	free(w->include_fields);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->queue_changed);
	person_style_unref(w->style);
	free(w);
}
