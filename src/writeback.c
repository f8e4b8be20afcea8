/*
 * writeback.c - the writeback thread: changes computed, journaled, shown and
 * delivered in order (writeback.h; the parts: writeback_internal.h).
 *
 * Locking: wb->lock guards the incoming list, the queue, the conflict files
 * (wb_conflicts.c) and the counters.  The thread computes and delivers without it; callbacks
 * (done, on_changed) always run without it.  Only the thread removes
 * entries from the queue, so the entry it is delivering stays valid.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "strbuf.h"
#include "writeback_internal.h"

#define RETRY_MAX_S 300.0
/* Test-only: the longest wait between two attempts (tests cannot wait minutes). */
#define RETRY_MAX_ENV "PDFS_TEST_WRITE_RETRY_MAX_S"

static double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double retry_delay(int attempts)
{
	const char *text = getenv(RETRY_MAX_ENV);
	double cap = text && atof(text) > 0 ? atof(text) : RETRY_MAX_S;
	double d = (double)(1u << (attempts < 9 ? attempts : 9)) / 2.0; /* 1, 2, 4 ... s */
	return d < cap ? d : cap;
}

/* ---- answers, outside the lock ---- */

struct answer {
	wb_done_fn done;
	void *ctx;
	int err;
	int64_t person_id;
	int64_t changed; /* a person whose shown version changed, or 0 */
};

struct answers {
	struct answer items[8];
	size_t n;
};

/* Take e's waiter into a (the lock is held). */
static void take_waiter(struct answers *a, struct wb_entry *e, int err, int64_t person_id)
{
	if (e->done && a->n < sizeof(a->items) / sizeof(a->items[0])) {
		a->items[a->n++] = (struct answer){ e->done, e->ctx, err, person_id, 0 };
		e->done = NULL;
	}
}

static void give_answers(struct writeback *wb, struct answers *a, const char *message)
{
	for (size_t i = 0; i < a->n; i++)
		a->items[i].done(a->items[i].ctx, a->items[i].err, a->items[i].person_id,
				 a->items[i].err ? message : NULL);
	a->n = 0;
	(void)wb;
}

static void changed(struct writeback *wb, int64_t person_id)
{
	pthread_mutex_lock(&wb->lock);
	wb_changed_fn fn = wb->on_changed;
	void *ctx = wb->on_changed_ctx;
	pthread_mutex_unlock(&wb->lock);
	if (person_id > 0 && fn)
		fn(ctx, person_id);
}

void writeback_set_changed_hook(struct writeback *wb, wb_changed_fn fn, void *ctx)
{
	pthread_mutex_lock(&wb->lock);
	wb->on_changed = fn;
	wb->on_changed_ctx = ctx;
	pthread_mutex_unlock(&wb->lock);
}

/* ---- the queue ---- */

/* Lock held: unlink the head (the entry just delivered or dropped). */
static void queue_pop(struct writeback *wb)
{
	struct wb_entry *e = wb->queue;
	wb->queue = e->next;
	if (!wb->queue)
		wb->queue_tail = &wb->queue;
	wb->queued--;
}

struct person *writeback_pending(struct writeback *wb, int64_t id, bool *deleted)
{
	struct person *shown = NULL;
	*deleted = false;
	pthread_mutex_lock(&wb->lock);
	for (struct wb_entry *e = wb->queue; e; e = e->next) {
		if (e->person_id != id || e->op == WB_CREATE)
			continue;
		*deleted = e->op == WB_DELETE;
		shown = *deleted ? NULL : e->shown;
	}
	if (shown)
		person_ref(shown);
	pthread_mutex_unlock(&wb->lock);
	return shown;
}

void writeback_get_stats(struct writeback *wb, struct writeback_stats *out)
{
	pthread_mutex_lock(&wb->lock);
	out->pending = wb->queued;
	out->delivered = wb->delivered;
	out->conflicts = wb->nconflicts;
	pthread_mutex_unlock(&wb->lock);
}

/* A new change: computed, journaled, queued; answered now when it must
 * wait behind changes kept for later. */
static void take_incoming(struct writeback *wb, struct wb_incoming *in)
{
	char msg[320] = "";
	struct wb_entry *e = NULL;
	int rc = wb_entry_from_change(wb, &in->change, &e, msg, sizeof(msg));
	const char *where = in->change.where;
	if (rc) {
		log_warn("%s: not saved: %s; the file keeps its old content", where, msg);
	}
	if (rc || !e) {
		wb_change_clear(&in->change);
		in->done(in->ctx, -rc, 0, rc ? msg : NULL);
		free(in);
		return;
	}
	wb_change_clear(&in->change);
	char *record = wb_entry_record(e);
	if (wb->cfg.store && (!record ||
			      store_journal_append(wb->cfg.store, wb_op_name(e->op), e->person_id, record,
						   &e->seq) != 0))
		log_error("%s: the change could not be written to the journal; it is sent now "
			  "and kept nowhere if that fails (check the cache folder)", e->where);
	free(record);
	e->done = in->done;
	e->ctx = in->ctx;
	e->next_try = now_mono();
	free(in);
	struct answers a = { .n = 0 };
	pthread_mutex_lock(&wb->lock);
	bool behind = wb->queue != NULL;
	*wb->queue_tail = e;
	wb->queue_tail = &e->next;
	wb->queued++;
	if (behind && e->seq)
		take_waiter(&a, e, 0, e->person_id); /* kept: it goes out in its turn */
	pthread_mutex_unlock(&wb->lock);
	if (e->op == WB_DELETE) /* its files leave the folders now */
		cache_persons_remove(wb->cache, &e->person_id, 1);
	changed(wb, e->person_id);
	give_answers(wb, &a, NULL);
}

/* Deliver the head of the queue once; what follows from the outcome. */
static void deliver_head(struct writeback *wb, struct wb_entry *e)
{
	int64_t person_id = 0;
	int err = 0;
	char msg[400];
	bool waited = e->done != NULL;
	enum wb_result r = wb_deliver(wb, e, waited ? 0 : -1, &person_id, &err, msg, sizeof(msg));
	struct answers a = { .n = 0 };
	if (r == WB_TRANSIENT && e->seq) {
		e->attempts++;
		store_journal_note_failure(wb->cfg.store, e->seq, msg);
		double delay = retry_delay(e->attempts);
		log_warn("%s: Pipedrive could not be reached (%s); the change is kept in the journal "
			 "and sent again in %.0f s", e->where, msg, delay);
		pthread_mutex_lock(&wb->lock);
		e->next_try = now_mono() + delay;
		pthread_mutex_unlock(&wb->lock);
		/* it and every journaled change behind it are kept: their closes return */
		do {
			pthread_mutex_lock(&wb->lock);
			for (struct wb_entry *w = e; w; w = w->next)
				if (w->seq)
					take_waiter(&a, w, 0, w->person_id);
			pthread_mutex_unlock(&wb->lock);
			size_t n = a.n;
			give_answers(wb, &a, NULL);
			if (n < sizeof(a.items) / sizeof(a.items[0]))
				break;
		} while (true);
		return;
	}
	if (r == WB_DELIVERED) {
		if (e->attempts)
			log_info("%s: delivered to Pipedrive after %d attempt(s)", e->where, e->attempts + 1);
	} else if (r == WB_CONFLICT) {
		wb_keep_conflict(wb, e, msg);
	} else if (r == WB_REJECTED) {
		char why[480];
		snprintf(why, sizeof(why), "Pipedrive did not take the change (%s)", msg);
		wb_keep_conflict(wb, e, why);
	} else {
		char why[480];
		err = EIO;
		snprintf(why, sizeof(why), "could not be sent (%s) and there is no journal to keep it "
					   "for later (disk_cache=no)", msg);
		wb_keep_conflict(wb, e, why);
	}
	if (e->seq)
		store_journal_remove(wb->cfg.store, e->seq);
	pthread_mutex_lock(&wb->lock);
	queue_pop(wb);
	take_waiter(&a, e, r == WB_DELIVERED ? 0 : err, person_id);
	pthread_mutex_unlock(&wb->lock);
	changed(wb, e->person_id);
	give_answers(wb, &a, msg);
	wb_entry_free(e);
}

/* ---- the thread ---- */

static void *writeback_main(void *arg)
{
	struct writeback *wb = arg;
	pthread_mutex_lock(&wb->lock);
	for (;;) {
		if (wb->stopping)
			break;
		if (wb->incoming) {
			struct wb_incoming *in = wb->incoming;
			wb->incoming = in->next;
			if (!wb->incoming)
				wb->incoming_tail = &wb->incoming;
			pthread_mutex_unlock(&wb->lock);
			take_incoming(wb, in);
			pthread_mutex_lock(&wb->lock);
			continue;
		}
		struct wb_entry *head = wb->queue;
		double now = now_mono();
		if (head && (head->next_try <= now || wb->kicked)) {
			wb->kicked = false;
			pthread_mutex_unlock(&wb->lock);
			deliver_head(wb, head);
			pthread_mutex_lock(&wb->lock);
			continue;
		}
		if (head) {
			struct timespec until;
			clock_gettime(CLOCK_MONOTONIC, &until);
			double wait = head->next_try - now;
			until.tv_sec += (time_t)wait;
			until.tv_nsec += (long)((wait - (double)(time_t)wait) * 1e9);
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&wb->wake, &wb->lock, &until);
		} else {
			pthread_cond_wait(&wb->wake, &wb->lock);
		}
	}
	pthread_mutex_unlock(&wb->lock);
	return NULL;
}

void writeback_submit(struct writeback *wb, struct wb_change *change, wb_done_fn done, void *ctx)
{
	struct wb_incoming *in = calloc(1, sizeof(*in));
	if (!in) {
		wb_change_clear(change);
		done(ctx, ENOMEM, 0, "out of memory");
		return;
	}
	in->change = *change;
	memset(change, 0, sizeof(*change));
	in->done = done;
	in->ctx = ctx;
	pthread_mutex_lock(&wb->lock);
	*wb->incoming_tail = in;
	wb->incoming_tail = &in->next;
	pthread_cond_signal(&wb->wake);
	pthread_mutex_unlock(&wb->lock);
}

void writeback_kick(struct writeback *wb)
{
	pthread_mutex_lock(&wb->lock);
	wb->kicked = true;
	pthread_cond_signal(&wb->wake);
	pthread_mutex_unlock(&wb->lock);
}

/* ---- lifecycle ---- */

static void load_conflict(struct writeback *wb, const struct store_journal_entry *j)
{
	struct json_object *r = json_tokener_parse(j->payload), *name, *text;
	if (json_object_object_get_ex(r, "name", &name) && json_object_object_get_ex(r, "text", &text) &&
	    json_object_is_type(name, json_type_string) && json_object_is_type(text, json_type_string)) {
		size_t len = (size_t)json_object_get_string_len(text);
		char *copy = malloc(len + 1), *n = strdup(json_object_get_string(name));
		if (copy && n) {
			memcpy(copy, json_object_get_string(text), len + 1);
			wb_conflict_add(wb, j->seq, n, copy, len, (time_t)j->created);
			n = copy = NULL;
		}
		free(copy);
		free(n);
	} else {
		log_warn("conflict file %" PRId64 " in the journal cannot be read; it is left there",
			 j->seq);
	}
	json_object_put(r);
}

/* The changes and conflict files an earlier mount left in the journal. */
static void load_journal(struct writeback *wb)
{
	struct store_journal_entry *entries = NULL;
	size_t count = 0;
	int rc = store_journal_list(wb->cfg.store, &entries, &count);
	if (rc) {
		log_error("the journal of changes cannot be read (%s); changes it holds are not sent "
			  "(they stay in the cache database)", strerror(-rc));
		return;
	}
	for (size_t i = 0; i < count; i++) {
		const struct store_journal_entry *j = &entries[i];
		if (strcmp(j->kind, "conflict") == 0) {
			load_conflict(wb, j);
			continue;
		}
		char msg[200] = "";
		struct wb_entry *e = wb_entry_from_record(j, msg, sizeof(msg));
		if (!e) {
			log_error("%s; it is left in the journal", msg);
			continue;
		}
		if (e->op == WB_EDIT || e->op == WB_MOVE)
			e->shown = wb_person_with(wb, e->base, e->body);
		*wb->queue_tail = e;
		wb->queue_tail = &e->next;
		wb->queued++;
	}
	store_journal_free(entries, count);
	if (wb->queued)
		log_info("%zu change(s) from an earlier mount wait in the journal; they are sent now",
			 wb->queued);
}

struct writeback *writeback_new(const struct writeback_config *cfg, struct api_client *client,
				struct cache *cache, struct meta *meta)
{
	struct writeback *wb = calloc(1, sizeof(*wb));
	if (!wb)
		return NULL;
	wb->cfg = *cfg;
	wb->client = client;
	wb->cache = cache;
	wb->meta = meta;
	/* with a disk cache every card's text is kept (person_store.h) */
	struct person_render render = cfg->render;
	render.keep_vcf = render.keep_vcf || cfg->store != NULL;
	if (!(wb->style = person_style_new(&render))) {
		free(wb);
		return NULL;
	}
	wb->query = (struct api_person_query){ .custom_fields = cfg->custom_fields,
					       .include_fields = cfg->include_fields };
	edit_resolver_init(&wb->resolver, meta);
	pthread_mutex_init(&wb->lock, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&wb->wake, &attr);
	pthread_condattr_destroy(&attr);
	wb->incoming_tail = &wb->incoming;
	wb->queue_tail = &wb->queue;
	wb->conflicts_tail = &wb->conflicts;
	wb->next_conflict_id = UINT64_C(1) << 40; /* apart from journal rows */
	if (cfg->store)
		load_journal(wb);
	return wb;
}

int writeback_start(struct writeback *wb)
{
	int rc = pthread_create(&wb->thread, NULL, writeback_main, wb);
	if (rc) {
		log_error("cannot start the thread that sends changes to Pipedrive: %s", strerror(rc));
		return -rc;
	}
	wb->started = true;
	return 0;
}

void writeback_free(struct writeback *wb)
{
	if (!wb)
		return;
	pthread_mutex_lock(&wb->lock);
	wb->stopping = true;
	pthread_cond_signal(&wb->wake);
	pthread_mutex_unlock(&wb->lock);
	if (wb->started)
		pthread_join(wb->thread, NULL);
	while (wb->incoming) {
		struct wb_incoming *in = wb->incoming;
		wb->incoming = in->next;
		log_error("%s: not saved: the filesystem is shutting down", in->change.where);
		wb_change_clear(&in->change);
		in->done(in->ctx, EIO, 0, "the filesystem is shutting down");
		free(in);
	}
	while (wb->queue) {
		struct wb_entry *e = wb->queue;
		wb->queue = e->next;
		if (e->done)
			e->done(e->ctx, e->seq ? 0 : EIO, e->person_id, NULL);
		wb_entry_free(e);
	}
	while (wb->conflicts) {
		struct wb_conflict *c = wb->conflicts;
		wb->conflicts = c->next;
		free(c->name);
		free(c->text);
		free(c);
	}
	api_conn_free(wb->conn);
	person_style_unref(wb->style);
	pthread_cond_destroy(&wb->wake);
	pthread_mutex_destroy(&wb->lock);
	free(wb);
}
