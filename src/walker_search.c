/*
 * walker_search.c - the walk of a search folder (walker_internal.h).
 *
 * GET /persons/search?term=<term>&limit=500 page by page (the search
 * family's own rate gate paces these, api.c), gathering the ids of the
 * persons found in the search's order; then the full persons the usual way,
 * in ids= batches of up to 100 (a search item carries only a few fields).
 * The listing holds the persons sorted by id, like every person directory,
 * with the search's order as display order (readdir).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idtable.h"
#include "log.h"
#include "names.h"
#include "ratelimit.h"
#include "search_terms.h"
#include "strbuf.h"
#include "tree.h"
#include "walker_internal.h"
#include "walkguard.h"

/* The ids a search found, best first, each once. */
struct ranking {
	int64_t *ids;
	size_t count, cap;
	struct idtable seen;
	uint64_t *keys; /* the walk guard's keys of the page at hand */
	size_t keys_cap;
};

static bool ranking_add(struct ranking *r, int64_t id)
{
	if (idtable_find(&r->seen, (uint64_t)id))
		return true; /* found again on a later page: its first rank stays */
	if (r->count == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 128;
		int64_t *ids = realloc(r->ids, cap * sizeof(*ids));
		if (!ids)
			return false;
		r->ids = ids;
		r->cap = cap;
	}
	if (!idtable_insert(&r->seen, (uint64_t)id, r))
		return false;
	r->ids[r->count++] = id;
	return true;
}

static void ranking_free(struct ranking *r)
{
	free(r->ids);
	free(r->keys);
	idtable_destroy(&r->seen, NULL);
}

static int fail(struct api_error *err, int e, const char *message)
{
	err->err = e;
	snprintf(err->message, sizeof(err->message), "%s", message);
	return -e;
}

/* The items of one answer ({"data":{"items":[{"item":{"id":..}}, ...]}})
 * into the ranking; their ids into r->keys for the walk guard.  Items
 * without a valid id are skipped. */
static int take_page(struct ranking *r, struct json_object *resp, size_t *items, size_t *nkeys,
		     struct api_error *err)
{
	struct json_object *data = NULL, *list = NULL;
	*items = *nkeys = 0;
	if (!json_object_object_get_ex(resp, "data", &data) || json_object_is_type(data, json_type_null))
		return 0;
	if (!json_object_is_type(data, json_type_object) ||
	    (json_object_object_get_ex(data, "items", &list) &&
	     !json_object_is_type(list, json_type_array) && !json_object_is_type(list, json_type_null)))
		return fail(err, EIO, "Pipedrive sent a search answer whose data is not a list of items");
	size_t n = json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;
	if (n > r->keys_cap) {
		uint64_t *keys = realloc(r->keys, n * sizeof(*keys));
		if (!keys)
			return fail(err, ENOMEM, "out of memory");
		r->keys = keys;
		r->keys_cap = n;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *entry = json_object_array_get_idx(list, i), *item, *id;
		if (!json_object_object_get_ex(entry, "item", &item) ||
		    !json_object_object_get_ex(item, "id", &id) || !json_object_is_type(id, json_type_int))
			continue;
		int64_t v = json_object_get_int64(id);
		if (v <= 0 || v > NAMES_MAX_ID)
			continue;
		r->keys[(*nkeys)++] = (uint64_t)v;
		if (!ranking_add(r, v))
			return fail(err, ENOMEM, "out of memory");
	}
	*items = n;
	return 0;
}

/* Every page of the search for term, into r. */
static int search_pages(struct api_conn *conn, const char *term, struct ranking *r,
			struct api_error *err)
{
	struct walkguard guard;
	walkguard_init(&guard, NULL, false, rl_now());
	char *cursor = NULL;
	int rc = 0;
	for (;;) {
		struct strbuf path = STRBUF_INIT;
		sb_puts(&path, "/persons/search");
		url_search_query(&path, term, SEARCH_PAGE_LIMIT, cursor);
		struct json_object *resp = NULL;
		rc = sb_failed(&path) ? fail(err, ENOMEM, "out of memory")
				      : api_get(conn, API_V2, path.data, &resp, err);
		sb_free(&path);
		size_t items = 0, nkeys = 0;
		if (rc == 0)
			rc = take_page(r, resp, &items, &nkeys, err);
		const char *next = rc == 0 ? api_next_cursor(resp) : NULL;
		enum walkguard_verdict v = WALKGUARD_DONE;
		if (rc == 0)
			v = walkguard_page(&guard, r->keys, nkeys, items, next, next ? strlen(next) : 0,
					   rl_now());
		if (rc == 0 && r->count > SEARCH_MAX_PERSONS) {
			snprintf(err->message, sizeof(err->message),
				 "the search finds more than %d persons, more than a search folder "
				 "holds; search for a longer or more specific term", SEARCH_MAX_PERSONS);
			err->err = E2BIG;
			rc = -E2BIG;
		} else if (rc == 0 && v != WALKGUARD_CONTINUE && v != WALKGUARD_DONE) {
			snprintf(err->message, sizeof(err->message),
				 "Pipedrive's person search did not end properly: %s (after %llu "
				 "pages, %llu items); stopped it; try again later, and report it if "
				 "it persists", walkguard_reason(v), (unsigned long long)guard.pages,
				 (unsigned long long)guard.items);
			err->err = v == WALKGUARD_OUT_OF_MEMORY ? ENOMEM : EIO;
			rc = -err->err;
		}
		free(cursor);
		cursor = rc == 0 && v == WALKGUARD_CONTINUE && next ? strdup(next) : NULL;
		json_object_put(resp);
		if (rc == 0 && v == WALKGUARD_CONTINUE && !cursor)
			rc = fail(err, ENOMEM, "out of memory");
		if (rc || v != WALKGUARD_CONTINUE)
			break;
	}
	free(cursor);
	walkguard_free(&guard);
	return rc;
}

/* The listing of the persons found: sorted by id, displayed in the order
 * of the ranking.  Takes the references persons[0..count); a person the
 * answers brought without being asked for is not listed. */
static struct listing *ranked_listing(struct person **persons, size_t count,
				      const struct ranking *r)
{
	size_t asked = 0;
	for (size_t i = 0; i < count; i++) {
		if (idtable_find(&r->seen, (uint64_t)persons[i]->id))
			persons[asked++] = persons[i];
		else
			person_unref(persons[i]);
	}
	count = asked;
	struct listing *l = listing_new_persons(count);
	if (!l) {
		for (size_t i = 0; i < count; i++)
			person_unref(persons[i]);
		return NULL;
	}
	if (count)
		memcpy(l->persons, persons, count * sizeof(*persons));
	l->order = malloc((count ? count : 1) * sizeof(*l->order));
	if (!l->order || !listing_sort(l)) {
		listing_unref(l);
		return NULL;
	}
	/* Every listed person is in the ranking, once: each gets its place. */
	size_t shown = 0;
	for (size_t i = 0; i < r->count && shown < l->count; i++) {
		long at = listing_find(l, r->ids[i]);
		if (at >= 0)
			l->order[shown++] = (size_t)at;
	}
	return l;
}

int walker_search_walk(struct walker *w, struct api_conn *conn, uint64_t key,
		       struct listing **out, struct api_error *err)
{
	struct strbuf term = STRBUF_INIT;
	if (!search_terms_text(walker_search_terms(w), tree_id(key), &term)) {
		sb_free(&term);
		return fail(err, ESTALE, "this search folder was forgotten (more than a thousand "
					 "other terms were looked up since): open it again by its name");
	}
	if (sb_failed(&term)) {
		sb_free(&term);
		return fail(err, ENOMEM, "out of memory");
	}
	struct ranking r = { 0 };
	int rc = idtable_init(&r.seen) ? 0 : fail(err, ENOMEM, "out of memory");
	if (rc == 0) {
		log_debug("searching Pipedrive's persons for \"%s\" (term #%lld)", term.data,
			  (long long)tree_id(key));
		rc = search_pages(conn, term.data, &r, err);
	}
	struct person **persons = NULL;
	size_t count = 0;
	if (rc == 0)
		rc = walker_persons_by_ids(w, conn, r.ids, r.count, &persons, &count, err);
	if (rc == 0 && !(*out = ranked_listing(persons, count, &r)))
		rc = fail(err, ENOMEM, "out of memory");
	free(persons);
	ranking_free(&r);
	sb_free(&term);
	return rc;
}
