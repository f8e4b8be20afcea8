/*
 * walker.c - worker threads that turn cache misses into API walks (walker.h).
 *
 * The walker's life (walker_new, walker_start, walker_free), the job queue
 * and the worker threads, and a job: a person directory (walker_refresh.c),
 * a group root or a batch of persons by id (walker_groups.c) or a search
 * folder (walker_search.c), its listing into the cache and then onto the
 * disk.  Also the walks in progress for the status file, the counters, and
 * the clock and error helpers the walker's files share (walker_internal.h).
 */
#include "walker.h"

#include <errno.h>
#include <stdatomic.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "persist.h"
#include "search_terms.h"
#include "tree.h"
#include "walker_internal.h"

#define SYNC_MARGIN_S 1 /* updated_since is inclusive; one second of overlap is cheap */

struct job {
	struct job *next;
	uint64_t key;
};

/* ------------------------------------------------------------------ */
/* Clocks, counters, errors (for every file of the walker)              */

double walker_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void walker_format_rfc3339(time_t t, char buf[32])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void walker_count(struct walker *w, uint64_t *counter)
{
	pthread_mutex_lock(&w->lock);
	(*counter)++;
	pthread_mutex_unlock(&w->lock);
}

void walker_set_error(struct api_error *err, int rc, const char *what)
{
	if (err->message[0])
		return;
	err->err = -rc;
	snprintf(err->message, sizeof(err->message), "%s: %s", what, strerror(-rc));
}

/* The time a walk that started now is complete up to, by the server's clock. */
void walker_sync_point(struct api_conn *conn, int64_t newest_seen, char out[32])
{
	time_t t = api_conn_server_date(conn);
	if (t > 0)
		t -= SYNC_MARGIN_S;
	else
		t = (time_t)newest_seen; /* no Date header: the newest change we saw */
	if (t > 0)
		walker_format_rfc3339(t, out);
	else
		out[0] = '\0';
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
		p->started = walker_now();
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
struct walk_progress *walker_progress_of(struct walker *w, uint64_t key)
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
	double now = walker_now();
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
/* The queue                                                            */

/* Take up to max-1 more queued by-id keys off the queue into keys[1..]. */
size_t walker_take_queued_ids(struct walker *w, uint64_t *keys, size_t max)
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

/* ------------------------------------------------------------------ */
/* Threads                                                              */

static void run_job(struct walker *w, struct api_conn *conn, uint64_t key)
{
	if (!conn) {
		cache_listing_finish(w->cache, key, NULL, ENOMEM, walker_now());
		return;
	}
	if (tree_kind(key) == NODE_BY_ID_PERSON) {
		walker_run_id_batch(w, conn, key);
		return;
	}
	struct listing *l = NULL;
	struct api_error err = { 0 };
	struct job_state js = { .save = true };
	struct walk_progress *progress = progress_begin(w, key);
	bool search = tree_kind(key) == NODE_SEARCH_DIR;
	int rc = tree_is_group_root(key) ? walker_group_root_walk(w, conn, key, &l, &err, &js)
		 : search                ? walker_search_walk(w, conn, key, &l, &err)
					 : walker_person_dir_walk(w, conn, key, &l, &err, &js);
	if (rc == 0 && search)
		walker_count(w, &w->stats.search_walks);
	if (rc) {
		char where[64];
		tree_describe(key, where, sizeof(where));
		walker_set_error(&err, rc, "listing");
		if (rc != -ECANCELED) {
			log_error("listing %s failed: %s", where, err.message);
			walker_count(w, &w->stats.failed_walks);
		}
	}
	progress_end(w, progress);
	bool big = l && l->count > 1000;
	double now = walker_now();
	if (rc == 0 && l && js.save && w->cfg.store && persist_keeps(key))
		persist_add_listing(&js.batch, key, l, js.persons_too, now);
	cache_listing_finish(w->cache, key, l, rc ? -rc : 0, now);
	/* On disk once the waiters have their answer: the persons first (a
	 * listing never points at persons the disk lacks). */
	if (w->cfg.store && (js.batch.row_count == 0 || cache_flush_bytes(w->cache) == 0))
		persist_commit(w->cfg.store, &js.batch);
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
		cache_listing_finish(w->cache, key, NULL, ENOMEM, walker_now());
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
	if ((cfg->custom_fields && !w->custom_fields) || (cfg->include_fields && !w->include_fields)) {
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
	w->terms = search_terms_new(0);
	if (!w->terms) {
		free(w->custom_fields);
		free(w->include_fields);
		person_style_unref(w->style);
		free(w);
		return NULL;
	}
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
	out->person_names = meta_person_names(w->meta);
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
		cache_listing_finish(w->cache, j->key, NULL, ECANCELED, walker_now());
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
