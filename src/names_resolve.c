/*
 * names_resolve.c - the organization, user and person names a page of
 * persons refers to (names_resolve.h).
 */
#include "names_resolve.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "names.h"
#include "person.h"
#include "strbuf.h"

#define IDS_PER_REQUEST 100

static double now_monotonic(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- id lists ---- */

static bool push_id(int64_t **ids, size_t *count, size_t *cap, int64_t id)
{
	if (*count == *cap) {
		size_t n = *cap ? *cap * 2 : 16;
		int64_t *grown = realloc(*ids, n * sizeof(*grown));
		if (!grown)
			return false;
		*ids = grown;
		*cap = n;
	}
	(*ids)[(*count)++] = id;
	return true;
}

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Sort and drop duplicates. */
static void sort_unique(int64_t *ids, size_t *count)
{
	qsort(ids, *count, sizeof(*ids), cmp_id);
	size_t kept = 0;
	for (size_t i = 0; i < *count; i++)
		if (!kept || ids[kept - 1] != ids[i])
			ids[kept++] = ids[i];
	*count = kept;
}

static bool sorted_has(const int64_t *ids, size_t n, int64_t id)
{
	return bsearch(&id, ids, n, sizeof(*ids), cmp_id) != NULL;
}

struct names_hold names_take_held(struct names_pending *p)
{
	struct names_hold h = p->hold;
	memset(&p->hold, 0, sizeof(p->hold));
	return h;
}

void names_hold_release(struct names_hold *h)
{
	for (size_t i = 0; i < h->count; i++)
		meta_name_release(h->meta, META_PERSON, h->items[i].id, h->items[i].name);
	free(h->items);
	memset(h, 0, sizeof(*h));
}

void names_pending_free(struct names_pending *p)
{
	names_hold_release(&p->hold);
	free(p->missing);
	free(p->waiting);
	memset(p, 0, sizeof(*p));
}

/* Room to hold one more name; false without memory. */
static bool held_room(struct names_pending *p)
{
	struct names_hold *h = &p->hold;
	if (h->count < h->cap)
		return true;
	size_t cap = h->cap ? h->cap * 2 : 64;
	struct names_held *grown = realloc(h->items, cap * sizeof(*grown));
	if (!grown)
		return false;
	h->items = grown;
	h->cap = cap;
	return true;
}

static void keep_held(struct names_pending *p, struct meta *m, int64_t id, struct meta_name *n)
{
	p->hold.meta = m;
	p->hold.items[p->hold.count++] = (struct names_held){ id, n };
}

bool names_pending_take(struct names_pending *dst, struct names_pending *src)
{
	bool ok = true;
	for (size_t i = 0; i < src->missing_count && ok; i++)
		ok = push_id(&dst->missing, &dst->missing_count, &dst->missing_cap, src->missing[i]);
	for (size_t i = 0; i < src->waiting_count && ok; i++)
		ok = push_id(&dst->waiting, &dst->waiting_count, &dst->waiting_cap, src->waiting[i]);
	names_pending_free(src); /* what it held was for pages built already */
	return ok;
}

/* ---- requests ---- */

/* One request's worth of ids of one kind. */
struct batch {
	enum meta_kind kind;
	int64_t ids[IDS_PER_REQUEST];
	bool seen[IDS_PER_REQUEST];
	size_t count;
};

struct batch_answer {
	struct meta *meta;
	struct batch *batch;
	double now;
};

static void mark_seen(struct batch *b, int64_t id)
{
	for (size_t k = 0; k < b->count; k++)
		if (b->ids[k] == id)
			b->seen[k] = true;
}

/* Store a person's name (text[0..len) if named, else none): held in hold
 * when given (a name to be had again without a request: meta may forget it
 * once the page is built), for good otherwise or without room to hold it. */
static void store_person_name_text(struct meta *meta, int64_t id, bool named, const char *text,
				   size_t len, double now, struct names_pending *hold)
{
	const char *name = named ? text : NULL;
	if (hold && held_room(hold)) {
		struct meta_name *n = meta_name_store_held(meta, META_PERSON, id, name, len, now);
		if (n)
			keep_held(hold, meta, id, n);
	} else {
		meta_name_store_n(meta, META_PERSON, id, name, len, now);
	}
}

static void store_person_name(struct meta *meta, int64_t id, const struct jsonscan_doc *d,
			      uint32_t person, double now, struct names_pending *hold)
{
	struct strbuf name = STRBUF_INIT;
	bool named = person_scan_name(d, person, &name);
	if (!sb_failed(&name))
		store_person_name_text(meta, id, named, name.data, name.len, now, hold);
	sb_free(&name);
}

static int store_answer(void *ctx, struct api_page *page)
{
	struct batch_answer *a = ctx;
	const struct jsonscan_doc *d = &page->scan.doc;
	for (size_t i = 0; i < page->scan.count; i++) {
		uint32_t item = page->scan.elements[i].token;
		int64_t id = person_scan_id(d, item);
		if (!id)
			continue;
		if (a->batch->kind == META_ORG)
			meta_org_store(a->meta, d, item, a->now);
		else
			store_person_name(a->meta, id, d, item, a->now, NULL);
		mark_seen(a->batch, id);
	}
	return 0;
}

/* Ask for the names of the batch's ids; ids not returned are noted as
 * having none.  A failure only costs the names (logged). */
static void fetch_batch(const struct names_resolver *r, struct api_conn *conn, struct batch *b)
{
	if (b->count == 0)
		return;
	struct strbuf list = STRBUF_INIT;
	for (size_t i = 0; i < b->count; i++)
		sb_printf(&list, "%s%" PRId64, i ? "," : "", b->ids[i]);
	struct batch_answer a = { .meta = r->meta, .batch = b, .now = now_monotonic() };
	struct list_query q = { .ids = list.data, .limit = IDS_PER_REQUEST };
	if (b->kind == META_PERSON) {
		q.custom_fields = r->custom_fields;
		q.include_fields = r->include_fields;
	}
	struct api_error err = { 0 };
	const char *path = b->kind == META_ORG ? "/organizations" : "/persons";
	int rc = sb_failed(&list) ? -ENOMEM : api_walk(conn, path, &q, store_answer, &a, &err);
	if (rc == 0) {
		for (size_t i = 0; i < b->count; i++)
			if (!b->seen[i])
				meta_name_store(r->meta, b->kind, b->ids[i], NULL, a.now);
	} else if (rc != -ECANCELED) {
		log_warn("cannot resolve %s names (%s); vCards of this listing show no %s until "
			 "the next refresh",
			 b->kind == META_ORG ? "organization" : "person",
			 err.message[0] ? err.message : strerror(-rc),
			 b->kind == META_ORG ? "ORG line or organization fields" : "person fields");
	}
	sb_free(&list);
	b->count = 0;
	memset(b->seen, 0, sizeof(b->seen));
}

static void want(const struct names_resolver *r, struct api_conn *conn, struct batch *b,
		 int64_t id)
{
	for (size_t k = 0; k < b->count; k++)
		if (b->ids[k] == id)
			return;
	b->ids[b->count++] = id;
	if (b->count == IDS_PER_REQUEST)
		fetch_batch(r, conn, b);
}

int names_load_users(struct meta *meta, struct api_conn *conn, struct api_error *err)
{
	struct api_page page;
	int rc = api_get_page(conn, API_V1, "/users", &page, err);
	if (rc == 0)
		meta_users_store(meta, &page.scan.doc, page.scan.data, now_monotonic());
	api_page_release(&page);
	return rc;
}

static void load_users(struct meta *meta, struct api_conn *conn)
{
	struct api_error err = { 0 };
	int rc = names_load_users(meta, conn, &err);
	if (rc && rc != -ECANCELED)
		log_warn("cannot load the user names (%s); user fields are left out of the vCards "
			 "until the next refresh", err.message[0] ? err.message : strerror(-rc));
}

static bool known(const struct names_resolver *r, enum meta_kind kind, int64_t id)
{
	char unused[8];
	return meta_name(r->meta, kind, id, r->valid_after, unused, sizeof(unused)) !=
	       META_NAME_UNKNOWN;
}

/* Under cache_max_mb the person names meta learns from the store and from
 * pages are held while a page needs them, then forgotten: the store has
 * them (names_stored_person_name), and meta stays small. */
static struct names_pending *hold_in(const struct names_resolver *r, struct names_pending *p)
{
	return r->cache && cache_lists_by_ids(r->cache) ? p : NULL;
}

/* The stored person's name into *name (named or not); false if the store
 * does not hold it.  Under cache_max_mb maybe from the disk: a name there
 * costs no request. */
static bool read_stored_name(struct cache *c, int64_t id, struct strbuf *name, bool *named)
{
	struct person *held = cache_person_load(c, id);
	struct person *p = held ? cache_person_bytes(c, held) : NULL;
	person_unref(held);
	if (!p)
		return false;
	*named = person_name(p, name);
	person_unref(p);
	return true;
}

/* The name of a stored person into meta (held in hold, if given); false if
 * the store does not hold it.  Stored persons are the newest version seen,
 * so their name wins over an older one in meta. */
static bool stored_person_name(const struct names_resolver *r, int64_t id,
			       struct names_pending *hold)
{
	struct strbuf name = STRBUF_INIT;
	bool named = false;
	if (!read_stored_name(r->cache, id, &name, &named)) {
		sb_free(&name);
		return false;
	}
	if (!sb_failed(&name))
		store_person_name_text(r->meta, id, named, name.data, name.len, now_monotonic(),
				       hold);
	sb_free(&name);
	return true;
}

int names_stored_person_name(void *ctx, int64_t id, char **out, size_t *len)
{
	struct cache *c = ctx;
	*out = NULL;
	*len = 0;
	struct strbuf name = STRBUF_INIT;
	bool named = false;
	int rc = read_stored_name(c, id, &name, &named) ? 1 : 0;
	if (rc && sb_failed(&name))
		rc = -1;
	if (rc == 1 && named)
		*out = sb_detach(&name, len);
	sb_free(&name);
	return rc == 1 && !*out ? 0 : rc;
}

/* A person name meta knows (held in hold, if given: one forgotten meanwhile
 * counts as unknown). */
static bool known_person_name(const struct names_resolver *r, int64_t id,
			      struct names_pending *hold)
{
	if (!known(r, META_PERSON, id))
		return false;
	if (!hold)
		return true;
	if (!held_room(hold))
		return false; /* asked again: a request, never a card without its name */
	struct meta_name *n = meta_name_hold(r->meta, META_PERSON, id);
	if (n)
		keep_held(hold, r->meta, id, n);
	return n != NULL;
}

/* ---- one page ---- */

/* A page's persons by id, to find the ones people fields name. */
struct page_person {
	int64_t id;
	uint32_t token;
};

/* What one element of the page refers to (members read once). */
struct element {
	int64_t id;       /* 0: no valid id */
	uint32_t org_id;  /* the member tokens */
	uint32_t custom_fields;
	bool deleted;
};

struct page_refs {
	const struct names_resolver *r;
	struct api_conn *conn;
	const struct api_page *page;
	struct page_person *by_id; /* the page's live persons, sorted by id */
	size_t persons;
	struct element *elements; /* the page's elements, in order */
	struct names_pending *pending;
	struct batch orgs;
	bool users_wanted;
	bool person_waits; /* the person being looked at lacks a name */
	/* the references of one person, gathered under meta's lock */
	struct reference {
		enum meta_kind kind;
		int64_t id;
	} *refs;
	size_t ref_count, ref_cap;
	bool out_of_memory;
};

static void add_reference(void *ctx, enum meta_kind kind, int64_t id)
{
	struct page_refs *pr = ctx;
	if (pr->ref_count == pr->ref_cap) {
		size_t cap = pr->ref_cap ? pr->ref_cap * 2 : 16;
		struct reference *refs = realloc(pr->refs, cap * sizeof(*refs));
		if (!refs) {
			pr->out_of_memory = true;
			return;
		}
		pr->refs = refs;
		pr->ref_cap = cap;
	}
	pr->refs[pr->ref_count++] = (struct reference){ kind, id };
}

static int cmp_page_person(const void *a, const void *b)
{
	const struct page_person *x = a, *y = b;
	if (x->id != y->id)
		return (x->id > y->id) - (x->id < y->id);
	return (x->token > y->token) - (x->token < y->token);
}

/* The page's persons that are not deleted, by id (the first of an id wins,
 * as a search from the start of the page finds it). */
static bool index_page(struct page_refs *pr)
{
	static const struct jsonscan_key keys[] = {
		JSONSCAN_KEY("id"), JSONSCAN_KEY("org_id"), JSONSCAN_KEY("custom_fields"),
		JSONSCAN_KEY("is_deleted"),
	};
	const struct jsonscan_doc *d = &pr->page->scan.doc;
	size_t n = pr->page->scan.count;
	pr->by_id = malloc((n ? n : 1) * sizeof(*pr->by_id));
	pr->elements = malloc((n ? n : 1) * sizeof(*pr->elements));
	if (!pr->by_id || !pr->elements)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint32_t item = pr->page->scan.elements[i].token, v[4];
		jsonscan_get_many(d, item, keys, 4, v);
		int64_t id;
		if (jsonscan_int64(d, v[0], &id) != 0 || id <= 0 || id > NAMES_MAX_ID)
			id = 0;
		pr->elements[i] = (struct element){ .id = id, .org_id = v[1], .custom_fields = v[2],
						    .deleted = jsonscan_is_true(d, v[3]) };
		if (id && !pr->elements[i].deleted)
			pr->by_id[pr->persons++] = (struct page_person){ id, item };
	}
	qsort(pr->by_id, pr->persons, sizeof(*pr->by_id), cmp_page_person);
	return true;
}

/* The name of person id from the page itself; false if it is not there. */
static bool page_person_name(struct page_refs *pr, int64_t id)
{
	size_t lo = 0, hi = pr->persons;
	while (lo < hi) { /* the first entry of id */
		size_t mid = lo + (hi - lo) / 2;
		if (pr->by_id[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == pr->persons || pr->by_id[lo].id != id)
		return false;
	store_person_name(pr->r->meta, id, &pr->page->scan.doc, pr->by_id[lo].token,
			  now_monotonic(), hold_in(pr->r, pr->pending));
	return true;
}

static void resolve_reference(struct page_refs *pr, const struct reference *ref)
{
	switch (ref->kind) {
	case META_ORG:
		if (!known(pr->r, META_ORG, ref->id))
			want(pr->r, pr->conn, &pr->orgs, ref->id);
		break;
	case META_USER:
		pr->users_wanted = true;
		break;
	case META_PERSON:
		if (page_person_name(pr, ref->id) ||
		    stored_person_name(pr->r, ref->id, hold_in(pr->r, pr->pending)) ||
		    known_person_name(pr->r, ref->id, hold_in(pr->r, pr->pending)))
			break;
		if (!push_id(&pr->pending->missing, &pr->pending->missing_count,
			     &pr->pending->missing_cap, ref->id))
			pr->out_of_memory = true;
		pr->person_waits = true;
		break;
	}
}

void names_resolve_page(const struct names_resolver *r, struct api_conn *conn,
			const struct api_page *page, struct names_pending *pending)
{
	struct page_refs pr = { .r = r, .conn = conn, .page = page, .pending = pending };
	pr.orgs.kind = META_ORG;
	const struct jsonscan_doc *d = &page->scan.doc;
	const struct meta_fields *fields = meta_fields_current(r->meta);
	struct arena scratch;
	arena_init(&scratch, 4096);
	if (!index_page(&pr))
		pr.out_of_memory = true;
	for (size_t i = 0; i < page->scan.count && pr.elements; i++) {
		const struct element *el = &pr.elements[i];
		if (el->deleted)
			continue; /* never shown */
		pr.ref_count = 0;
		pr.person_waits = false;
		int64_t org;
		if (jsonscan_int64(d, el->org_id, &org) == 0 && org > 0)
			add_reference(&pr, META_ORG, org);
		if (!meta_each_reference(fields, d, el->custom_fields, add_reference, &pr, &scratch))
			pr.out_of_memory = true;
		arena_reset(&scratch);
		for (size_t k = 0; k < pr.ref_count; k++)
			resolve_reference(&pr, &pr.refs[k]);
		if (pr.person_waits && !push_id(&pending->waiting, &pending->waiting_count,
						&pending->waiting_cap, el->id))
			pr.out_of_memory = true;
	}
	if (pr.out_of_memory)
		log_warn("out of memory resolving names; some vCards show fewer fields");
	fetch_batch(r, conn, &pr.orgs);
	if (pr.users_wanted && !meta_users_loaded(r->meta))
		load_users(r->meta, conn);
	arena_free(&scratch);
	free(pr.refs);
	free(pr.by_id);
	free(pr.elements);
}

/* ---- the end of a walk ---- */

void names_resolve_finish(const struct names_resolver *r, struct api_conn *conn,
			  struct names_pending *pending, struct person **items, size_t count,
			  names_rebuild_fn rebuild, void *ctx)
{
	if (pending->missing_count) {
		sort_unique(pending->missing, &pending->missing_count);
		struct batch persons = { .kind = META_PERSON };
		for (size_t i = 0; i < pending->missing_count; i++) {
			int64_t id = pending->missing[i];
			if (!stored_person_name(r, id, hold_in(r, pending)) &&
			    !known_person_name(r, id, hold_in(r, pending)))
				want(r, conn, &persons, id);
		}
		fetch_batch(r, conn, &persons);
	}
	if (pending->waiting_count) {
		sort_unique(pending->waiting, &pending->waiting_count);
		for (size_t i = 0; i < count; i++) {
			if (!sorted_has(pending->waiting, pending->waiting_count, items[i]->id))
				continue;
			struct person *fresh = rebuild(ctx, items[i]);
			if (fresh) {
				person_unref(items[i]);
				items[i] = fresh;
			}
		}
	}
	names_pending_free(pending);
}
