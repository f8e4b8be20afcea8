/*
 * walker_pages.c - person sets: the persons a walk gathers (walker_internal.h).
 *
 * A page's elements become persons (person_build), stored in the person
 * store and shown at once to readers of a first walk; the names they refer
 * to are resolved through names_resolve.h, those still missing asked for at
 * the end of the walk.  A long cursor walk builds its pages on a second
 * thread (the page pipeline) while the next one is fetched.  Also: ids the
 * server marked deleted, and moving, sorting and searching sets.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "growing.h"
#include "log.h"
#include "walker_internal.h"

/* ------------------------------------------------------------------ */
/* Names and the SIGHUP epoch                                           */

/* Names (organizations, users, persons) fetched before this count as too
 * old: they live one full_refresh period, and a SIGHUP refresh (seen as a
 * new cache_expire_all count) drops them all. */
double walker_names_valid_after(struct walker *w, double walk_start)
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

void person_set_init(struct person_set *ps, struct walker *w, struct api_conn *conn,
		     double names_valid_after)
{
	memset(ps, 0, sizeof(*ps));
	ps->w = w;
	ps->conn = conn;
	ps->names_valid_after = names_valid_after;
}

/* Append id to a growing array of ids; false without memory. */
static bool push_id(int64_t **ids, size_t *count, size_t *cap, int64_t id)
{
	if (*count == *cap) {
		size_t grown_cap = *cap ? *cap * 2 : 512;
		int64_t *grown = realloc(*ids, grown_cap * sizeof(*grown));
		if (!grown)
			return false;
		*ids = grown;
		*cap = grown_cap;
	}
	(*ids)[(*count)++] = id;
	return true;
}

bool person_set_note_deleted(struct person_set *ps, int64_t id)
{
	return push_id(&ps->deleted, &ps->deleted_count, &ps->deleted_cap, id);
}

static bool outside_bounds(const struct person_set *ps, const struct person *p)
{
	return p->update_time > 0 &&
	       ((ps->bound_since && p->update_time < ps->bound_since) ||
		(ps->bound_until && p->update_time >= ps->bound_until));
}

/* Add p (its reference is taken; a set by ids keeps its id and lets it go). */
static bool person_set_push(struct person_set *ps, struct person *p)
{
	if (ps->by_ids) {
		if (!push_id(&ps->ids, &ps->count, &ps->cap, p->id))
			return false;
		if (p->update_time > ps->newest_update)
			ps->newest_update = p->update_time;
		person_unref(p);
		return true;
	}
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

bool person_set_by_ids(struct person_set *ps)
{
	if (ps->by_ids || !cache_lists_by_ids(ps->w->cache))
		return true;
	int64_t *ids = malloc((ps->count ? ps->count : 1) * sizeof(*ids));
	if (!ids)
		return false;
	for (size_t i = 0; i < ps->count; i++) {
		ids[i] = ps->items[i]->id;
		person_unref(ps->items[i]);
	}
	free(ps->items);
	ps->items = NULL;
	ps->ids = ids;
	ps->cap = ps->count ? ps->count : 1;
	ps->by_ids = true;
	return true;
}

void person_set_free(struct person_set *ps)
{
	for (size_t i = 0; ps->items && i < ps->count; i++)
		person_unref(ps->items[i]);
	free(ps->items);
	free(ps->ids);
	ps->items = NULL;
	ps->ids = NULL;
	ps->count = ps->cap = 0;
	free(ps->deleted);
	ps->deleted = NULL;
	ps->deleted_count = ps->deleted_cap = 0;
	names_pending_free(&ps->names);
}

/* Persons the server marked deleted leave every cached listing at once
 * (and their files their directories in the kernel, see fs.c). */
void walker_forget_deleted(struct walker *w, const struct person_set *ps)
{
	size_t changed = ps->deleted_count
				 ? cache_persons_remove(w->cache, ps->deleted, ps->deleted_count)
				 : 0;
	if (changed)
		log_info("persons deleted on the server left %zu cached listing(s)", changed);
}

static bool id_among(int64_t id, const int64_t *ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* Readers of a first walk see a page's persons as soon as they are built,
 * except those whose card waits for a person's name (held): they come with
 * the final listing (growing_finish), built with the name, so no reader
 * sees a card that changes when the walk ends. */
static void show_to_readers(struct growing *g, struct person *const *persons, size_t n,
			    const int64_t *held, size_t nheld)
{
	struct person **ready = nheld ? malloc(n * sizeof(*ready)) : NULL;
	if (!ready) { /* nothing held, or out of memory: show them all now */
		growing_append(g, persons, n);
		return;
	}
	size_t count = 0;
	for (size_t i = 0; i < n; i++)
		if (!id_among(persons[i]->id, held, nheld))
			ready[count++] = persons[i];
	if (count)
		growing_append(g, ready, count);
	free(ready);
}

/* Turn a page's elements into persons (the names they show already known to
 * meta, see names_resolve.h); each keeps its element's text exactly as sent.
 * held: the ids of the page's persons whose card waits for a person's name. */
static int build_page(struct person_set *ps, const struct api_page *page, const int64_t *held,
		      size_t nheld)
{
	struct walker *w = ps->w;
	size_t first_new = ps->count;
	const struct jsonscan_doc *d = &page->scan.doc;
	struct person_scratch scratch;
	person_scratch_init(&scratch);
	int rc = 0;
	/* A set by ids keeps no persons: the page's are shown to readers from
	 * here (without memory for that, when the walk ends). */
	struct person **shown = ps->by_ids && ps->growing && page->scan.count
					? malloc(page->scan.count * sizeof(*shown))
					: NULL;
	size_t nshown = 0;
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
		if (shown)
			shown[nshown++] = person_ref(p);
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
	if (ps->growing && ps->items && ps->count > first_new)
		show_to_readers(ps->growing, ps->items + first_new, ps->count - first_new, held,
				nheld);
	if (nshown)
		show_to_readers(ps->growing, shown, nshown, held, nheld);
	for (size_t i = 0; i < nshown; i++)
		person_unref(shown[i]);
	free(shown);
	return rc;
}

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
void person_set_finish_names(struct person_set *ps)
{
	struct names_resolver r = resolver_of(ps);
	if (!ps->by_ids) {
		names_resolve_finish(&r, ps->conn, &ps->names, ps->items, ps->count,
				     rebuild_person, ps->w);
		return;
	}
	/* By ids: the persons waiting for names, from the store; those built
	 * again replace them there (rebuild_person stores them). */
	size_t n = 0, waiting = ps->names.waiting_count;
	struct person **items = malloc((waiting ? waiting : 1) * sizeof(*items));
	for (size_t i = 0; items && i < waiting; i++) {
		struct person *p = cache_person_load(ps->w->cache, ps->names.waiting[i]);
		if (p)
			items[n++] = p;
	}
	if (!items)
		log_warn("out of memory resolving names; some vCards show fewer fields");
	names_resolve_finish(&r, ps->conn, &ps->names, items, n, rebuild_person, ps->w);
	for (size_t i = 0; i < n; i++)
		person_unref(items[i]);
	free(items);
}

int person_set_add_page(void *ctx, struct api_page *page)
{
	struct person_set *ps = ctx;
	if (!ps->first_page_time[0]) /* before any other request on conn */
		walker_sync_point(ps->conn, 0, ps->first_page_time);
	size_t waiting_before = ps->names.waiting_count;
	resolve_names(ps, page);
	struct names_hold shown = names_take_held(&ps->names);
	int rc = build_page(ps, page, ps->names.waiting + waiting_before,
			    ps->names.waiting_count - waiting_before);
	names_hold_release(&shown); /* the page's cards show them now */
	return rc;
}

/* ------------------------------------------------------------------ */
/* The page pipeline                                                    */

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
	int64_t *held[PIPELINE_DEPTH]; /* each page's persons waiting for names */
	size_t nheld[PIPELINE_DEPTH];
	struct names_hold shown[PIPELINE_DEPTH]; /* the names each page's cards show */
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
		int64_t *held = pp->held[pp->head];
		size_t nheld = pp->nheld[pp->head];
		struct names_hold shown = pp->shown[pp->head];
		pp->head = (pp->head + 1) % PIPELINE_DEPTH;
		pp->count--;
		pthread_cond_broadcast(&pp->changed);
		bool failed = pp->rc != 0;
		pthread_mutex_unlock(&pp->lock);
		int rc = failed ? 0 : build_page(pp->set, &page, held, nheld);
		names_hold_release(&shown);
		api_page_release(&page);
		free(held);
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
	struct names_pending *names = &pp->set->names; /* names: only this thread */
	size_t waiting_before = names->waiting_count;
	resolve_names(pp->set, page);
	size_t nheld = names->waiting_count - waiting_before;
	struct names_hold shown = names_take_held(names);
	if (!pp->started) { /* no thread: build here */
		int rc = build_page(pp->set, page, names->waiting + waiting_before, nheld);
		names_hold_release(&shown);
		return rc;
	}
	int64_t *held = nheld ? malloc(nheld * sizeof(*held)) : NULL;
	if (held)
		memcpy(held, names->waiting + waiting_before, nheld * sizeof(*held));
	else
		nheld = 0; /* out of memory: those cards are shown before their names */
	pthread_mutex_lock(&pp->lock);
	while (pp->count == PIPELINE_DEPTH && !pp->rc)
		pthread_cond_wait(&pp->changed, &pp->lock);
	int rc = pp->rc;
	if (!rc) {
		size_t slot = (pp->head + pp->count) % PIPELINE_DEPTH;
		pp->pages[slot] = *page;
		memset(page, 0, sizeof(*page)); /* the builder owns it now */
		pp->held[slot] = held;
		pp->nheld[slot] = nheld;
		pp->shown[slot] = shown;
		memset(&shown, 0, sizeof(shown));
		held = NULL;
		pp->count++;
		pthread_cond_broadcast(&pp->changed);
	}
	pthread_mutex_unlock(&pp->lock);
	free(held);
	names_hold_release(&shown); /* not queued: the walk ends */
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

int person_set_walk_pipelined(struct person_set *set, struct api_conn *conn,
			      const struct list_query *q, const char *cursor, struct api_error *err)
{
	struct page_pipeline pp;
	pipeline_start(&pp, set);
	int rc = api_walk_from(conn, "/persons", q, cursor, pipeline_push, &pp, err);
	int built = pipeline_finish(&pp);
	if (!rc)
		rc = built;
	return rc;
}

/* ------------------------------------------------------------------ */
/* Moving, sorting and searching sets                                   */

/* Move the set into a new listing sorted by id. */
struct listing *person_set_to_listing(struct person_set *ps)
{
	struct listing *l;
	if (ps->count && ps->by_ids) {
		if (!(l = listing_adopt_person_ids(ps->ids, ps->count)))
			return NULL;
		ps->ids = NULL;
		ps->cap = 0;
	} else if (ps->count) {
		/* The set's array becomes the listing's: a million persons are
		 * not copied. */
		if (!(l = listing_adopt_persons(ps->items, ps->count)))
			return NULL;
		ps->items = NULL;
		ps->cap = 0;
	} else if (!(l = ps->by_ids ? listing_new_person_ids(0) : listing_new_persons(0))) {
		return NULL;
	}
	ps->count = 0;
	if (!listing_sort(l)) {
		listing_unref(l);
		return NULL;
	}
	return l;
}

/* Move src's deleted ids to dst. */
bool person_set_take_deleted(struct person_set *dst, struct person_set *src)
{
	for (size_t i = 0; i < src->deleted_count; i++)
		if (!person_set_note_deleted(dst, src->deleted[i]))
			return false;
	src->deleted_count = 0;
	return true;
}

/* Move every person and deleted id of src into dst (src is left empty). */
int person_set_take(struct person_set *dst, struct person_set *src)
{
	int rc = 0;
	if (src->by_ids && !person_set_by_ids(dst))
		rc = -ENOMEM;
	for (size_t k = 0; k < src->count && rc == 0; k++) {
		if (src->by_ids) { /* dst is by ids too */
			if (!push_id(&dst->ids, &dst->count, &dst->cap, src->ids[k]))
				rc = -ENOMEM;
		} else if (!person_set_push(dst, person_ref(src->items[k]))) {
			person_unref(src->items[k]);
			rc = -ENOMEM;
		}
	}
	if (rc == 0 && src->newest_update > dst->newest_update)
		dst->newest_update = src->newest_update;
	if (rc == 0 && !person_set_take_deleted(dst, src))
		rc = -ENOMEM;
	if (rc == 0 && !names_pending_take(&dst->names, &src->names))
		log_warn("out of memory resolving names; some vCards show fewer fields");
	person_set_free(src);
	return rc;
}

static int cmp_person_id(const void *a, const void *b)
{
	const struct person *x = *(struct person *const *)a, *y = *(struct person *const *)b;
	return (x->id > y->id) - (x->id < y->id);
}

/* Sort the set by id so person_set_contains can bisect. */
void person_set_sort(struct person_set *ps)
{
	if (ps->count > 1 && ps->by_ids)
		qsort(ps->ids, ps->count, sizeof(*ps->ids), walker_cmp_int64);
	else if (ps->count > 1)
		qsort(ps->items, ps->count, sizeof(*ps->items), cmp_person_id);
}

bool person_set_contains(const struct person_set *ps, int64_t id)
{
	size_t lo = 0, hi = ps->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int64_t v = person_set_id(ps, mid);
		if (v == id)
			return true;
		if (v < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

bool person_set_is_deleted(struct person_set *ps, int64_t id)
{
	for (size_t i = 0; i < ps->deleted_count; i++)
		if (ps->deleted[i] == id)
			return true;
	return false;
}
