/*
 * walker_groups.c - group roots, persons by id, person fields
 * (walker_internal.h).
 *
 * /by-owner, /by-org and /by-filter list users, organizations and person
 * filters with the names of their links; persons by id come in ids=
 * batches of up to 100, filled with the ids that follow so a script
 * reading ids in order costs one request per 100; the person fields are
 * loaded once, with the user names when a field shows users.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "names.h"
#include "strbuf.h"
#include "tree.h"
#include "walker_internal.h"

#define IDS_PER_REQUEST 100

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
	double now = walker_now();
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
						 walker_now());
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
		walker_set_error(err, rc, "listing");
	return rc;
}

int walker_group_root_walk(struct walker *w, struct api_conn *conn, uint64_t key,
			   struct listing **out, struct api_error *err, struct job_state *js)
{
	double now = walker_now();
	struct listing *disk = walker_disk_copy(w, key, now);
	int rc;
	if (disk && walker_disk_copy_fresh(w, disk, now)) {
		*out = listing_ref(disk);
		js->save = false;
		walker_count(w, &w->stats.disk_loads);
		rc = 0;
	} else {
		rc = walk_group(w, conn, key, out, err);
	}
	if (rc && rc != -ECANCELED && disk)
		rc = walker_serve_disk_copy(w, key, disk, rc, err, out, js);
	listing_unref(disk);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Persons by id                                                        */

static bool key_listed(const uint64_t *keys, size_t n, uint64_t key)
{
	for (size_t i = 0; i < n; i++)
		if (keys[i] == key)
			return true;
	return false;
}

void walker_run_id_batch(struct walker *w, struct api_conn *conn, uint64_t first)
{
	uint64_t keys[IDS_PER_REQUEST];
	keys[0] = first;
	size_t asked = walker_take_queued_ids(w, keys, IDS_PER_REQUEST);
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
	person_set_init(&ps, w, conn, walker_names_valid_after(w, walker_now()));
	struct api_error err = { 0 };
	int rc = sb_failed(&list) ? -ENOMEM
				   : api_walk(conn, "/persons", &q, person_set_add_page, &ps, &err);
	sb_free(&list);
	if (rc == 0)
		person_set_finish_names(&ps);
	walker_count(w, &w->stats.id_batches);
	if (rc && rc != -ECANCELED)
		log_error("looking up persons by id failed: %s",
			  err.message[0] ? err.message : strerror(-rc));
	double now = walker_now();
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
		    !person_set_is_deleted(&ps, tree_id(keys[i])) &&
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
		walker_forget_deleted(w, &ps);
	person_set_free(&ps);
}

int walker_persons_by_ids(struct walker *w, struct api_conn *conn, const int64_t *ids, size_t n,
			  struct person ***out, size_t *count, struct api_error *err)
{
	struct person_set ps;
	person_set_init(&ps, w, conn, walker_names_valid_after(w, walker_now()));
	int rc = 0;
	for (size_t from = 0; from < n && rc == 0; from += IDS_PER_REQUEST) {
		size_t batch = n - from < IDS_PER_REQUEST ? n - from : IDS_PER_REQUEST;
		struct strbuf list = STRBUF_INIT;
		for (size_t i = 0; i < batch; i++)
			sb_printf(&list, "%s%" PRId64, i ? "," : "", ids[from + i]);
		struct list_query q = { .ids = list.data, .limit = IDS_PER_REQUEST,
					.custom_fields = w->custom_fields,
					.include_fields = w->include_fields };
		rc = sb_failed(&list) ? -ENOMEM
				       : api_walk(conn, "/persons", &q, person_set_add_page, &ps, err);
		sb_free(&list);
		walker_count(w, &w->stats.id_batches);
	}
	if (rc == 0) {
		person_set_finish_names(&ps);
		person_set_sort(&ps);
		/* An id the answers did not hold is deleted or never was. */
		for (size_t i = 0; i < n && rc == 0; i++)
			if (!person_set_contains(&ps, ids[i]) &&
			    !person_set_is_deleted(&ps, ids[i]) &&
			    !person_set_note_deleted(&ps, ids[i]))
				rc = -ENOMEM;
	}
	if (rc == 0) {
		walker_forget_deleted(w, &ps);
		*out = ps.items;
		*count = ps.count;
		ps.items = NULL;
		ps.count = ps.cap = 0;
	} else {
		walker_set_error(err, rc, "looking up persons by id");
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
