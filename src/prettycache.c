/*
 * prettycache.c - big persons' .json text, rendered once on a thread of its
 * own and kept up to a byte bound (see prettycache.h).
 */
#include "prettycache.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dlist.h"
#include "idtable.h"
#include "log.h"
#include "strbuf.h"

struct entry {
	struct dlist_node lru; /* on prettycache.lru, most recently used first */
	struct pretty_text *text;
};

struct job {
	struct job *next;
	struct person *person;
	struct pretty_waiter *waiters; /* newest first */
};

struct prettycache {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	size_t max_bytes;
	struct idtable entries; /* person id -> struct entry * */
	struct dlist lru;
	struct job *jobs, *jobs_tail;
	struct job *rendering; /* taken off the queue, still joinable */
	bool stopping;
	bool started;
	pthread_t thread;
	struct prettycache_stats stats;
};

struct pretty_text *pretty_text_ref(struct pretty_text *t)
{
	atomic_fetch_add(&t->refs, 1);
	return t;
}

void pretty_text_unref(struct pretty_text *t)
{
	if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	person_unref(t->person);
	free(t->data);
	free(t);
}

/* ---- texts held; lock held ---- */

static void entry_drop(struct prettycache *pc, struct entry *e)
{
	dlist_unlink(&pc->lru, &e->lru);
	idtable_remove(&pc->entries, (uint64_t)e->text->person->id);
	pc->stats.bytes -= e->text->len;
	pc->stats.texts--;
	pretty_text_unref(e->text);
	free(e);
}

static struct pretty_text *held_text(struct prettycache *pc, const struct person *p)
{
	struct idtable_entry *ie = idtable_find(&pc->entries, (uint64_t)p->id);
	struct entry *e = ie ? ie->value : NULL;
	if (!e || e->text->person != p)
		return NULL;
	dlist_move_front(&pc->lru, &e->lru);
	return pretty_text_ref(e->text);
}

/* Keep t (the cache takes a reference), replacing an older version's text
 * and evicting the least recently used texts past the bound. */
static void keep_text(struct prettycache *pc, struct pretty_text *t)
{
	struct idtable_entry *ie = idtable_find(&pc->entries, (uint64_t)t->person->id);
	if (ie)
		entry_drop(pc, ie->value);
	struct entry *e = calloc(1, sizeof(*e));
	if (!e)
		return; /* served once, not kept */
	e->text = pretty_text_ref(t);
	if (!idtable_insert(&pc->entries, (uint64_t)t->person->id, e)) {
		pretty_text_unref(e->text);
		free(e);
		return;
	}
	dlist_push_front(&pc->lru, &e->lru);
	pc->stats.bytes += t->len;
	pc->stats.texts++;
	while (pc->stats.bytes > pc->max_bytes && pc->lru.tail && pc->lru.tail != &e->lru)
		entry_drop(pc, dlist_entry(pc->lru.tail, struct entry, lru));
}

/* ---- rendering ---- */

static struct pretty_text *render(struct person *p)
{
	struct pretty_text *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	struct strbuf sb = STRBUF_INIT;
	if (sb_reserve(&sb, p->json_len + 1))
		person_json(p, &sb);
	t->data = sb_detach(&sb, &t->len);
	sb_free(&sb);
	if (!t->data) {
		free(t);
		return NULL;
	}
	atomic_init(&t->refs, 1);
	t->person = person_ref(p);
	return t;
}

static void answer(struct pretty_waiter *waiters, struct pretty_text *t, int err)
{
	/* Waiters were pushed newest first: answer the oldest first. */
	struct pretty_waiter *ordered = NULL;
	while (waiters) {
		struct pretty_waiter *next = waiters->next;
		waiters->next = ordered;
		ordered = waiters;
		waiters = next;
	}
	while (ordered) {
		struct pretty_waiter *next = ordered->next;
		ordered->done(ordered, t ? pretty_text_ref(t) : NULL, t ? 0 : err);
		ordered = next;
	}
}

/* Render a job's person, keep the text, answer its waiters.  Lock not held. */
static void run_job(struct prettycache *pc, struct job *job)
{
	struct pretty_text *t = render(job->person);
	if (!t)
		log_error("out of memory rendering the .json file of person %lld (%zu bytes); "
			  "reading it fails with ENOMEM until memory is freed",
			  (long long)job->person->id, job->person->json_len);
	pthread_mutex_lock(&pc->lock);
	struct pretty_waiter *waiters = job->waiters;
	job->waiters = NULL;
	if (pc->rendering == job)
		pc->rendering = NULL;
	if (t) {
		keep_text(pc, t);
		pc->stats.renders++;
	}
	pthread_mutex_unlock(&pc->lock);
	answer(waiters, t, ENOMEM);
	pretty_text_unref(t);
	person_unref(job->person);
	free(job);
}

static void *render_main(void *arg)
{
	struct prettycache *pc = arg;
	pthread_mutex_lock(&pc->lock);
	for (;;) {
		while (!pc->stopping && !pc->jobs)
			pthread_cond_wait(&pc->wake, &pc->lock);
		if (pc->stopping)
			break;
		struct job *job = pc->jobs;
		pc->jobs = job->next;
		if (!pc->jobs)
			pc->jobs_tail = NULL;
		pc->rendering = job;
		pthread_mutex_unlock(&pc->lock);
		run_job(pc, job);
		pthread_mutex_lock(&pc->lock);
	}
	pthread_mutex_unlock(&pc->lock);
	return NULL;
}

/* ---- the interface ---- */

struct prettycache *prettycache_new(size_t max_bytes)
{
	struct prettycache *pc = calloc(1, sizeof(*pc));
	if (!pc)
		return NULL;
	if (!idtable_init(&pc->entries)) {
		free(pc);
		return NULL;
	}
	pthread_mutex_init(&pc->lock, NULL);
	pthread_cond_init(&pc->wake, NULL);
	pc->max_bytes = max_bytes;
	return pc;
}

int prettycache_start(struct prettycache *pc)
{
	int rc = pthread_create(&pc->thread, NULL, render_main, pc);
	if (rc)
		return -rc;
	pc->started = true;
	return 0;
}

void prettycache_free(struct prettycache *pc)
{
	if (!pc)
		return;
	pthread_mutex_lock(&pc->lock);
	pc->stopping = true;
	pthread_cond_broadcast(&pc->wake);
	pthread_mutex_unlock(&pc->lock);
	if (pc->started)
		pthread_join(pc->thread, NULL);
	while (pc->jobs) {
		struct job *job = pc->jobs;
		pc->jobs = job->next;
		answer(job->waiters, NULL, ECANCELED);
		person_unref(job->person);
		free(job);
	}
	while (pc->lru.head)
		entry_drop(pc, dlist_entry(pc->lru.head, struct entry, lru));
	idtable_destroy(&pc->entries, NULL);
	pthread_mutex_destroy(&pc->lock);
	pthread_cond_destroy(&pc->wake);
	free(pc);
}

struct pretty_text *prettycache_get(struct prettycache *pc, const struct person *p)
{
	pthread_mutex_lock(&pc->lock);
	struct pretty_text *t = held_text(pc, p);
	pthread_mutex_unlock(&pc->lock);
	return t;
}

void prettycache_wait(struct prettycache *pc, struct person *p, struct pretty_waiter *w)
{
	pthread_mutex_lock(&pc->lock);
	struct pretty_text *t = held_text(pc, p);
	struct job *job = NULL;
	bool queued = false, run_here = false;
	if (!t) {
		job = pc->rendering && pc->rendering->person == p ? pc->rendering : pc->jobs;
		while (job && job->person != p)
			job = job->next;
		if (!job && (job = calloc(1, sizeof(*job)))) {
			job->person = person_ref(p);
			run_here = !pc->started; /* no thread (yet): render on this one */
			if (!run_here) {
				if (pc->jobs_tail)
					pc->jobs_tail->next = job;
				else
					pc->jobs = job;
				pc->jobs_tail = job;
				pthread_cond_signal(&pc->wake);
			}
		}
		if (job) {
			w->next = job->waiters;
			job->waiters = w;
			queued = true;
		}
	}
	pthread_mutex_unlock(&pc->lock);
	if (t)
		w->done(w, t, 0);
	else if (!queued)
		w->done(w, NULL, ENOMEM);
	else if (run_here)
		run_job(pc, job);
}

void prettycache_get_stats(struct prettycache *pc, struct prettycache_stats *out)
{
	pthread_mutex_lock(&pc->lock);
	*out = pc->stats;
	pthread_mutex_unlock(&pc->lock);
}
