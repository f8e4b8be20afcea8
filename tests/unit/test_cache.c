/* Cache rules with an injected clock: TTL, shared walks, stale-if-error,
 * shared person objects. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "check.h"

static const struct person_render render = { .version = VCARD_V30, .company = "acme" };
static struct person_style *style; /* made from render in main */

static struct person *make_person(int64_t id, const char *name, const char *updated)
{
	char json[256];
	snprintf(json, sizeof(json), "{\"id\":%lld,\"name\":\"%s\",\"update_time\":\"%s\"}",
		 (long long)id, name, updated);
	int err;
	return person_from_text(json, strlen(json), style, &err);
}

struct recorder {
	struct listing_waiter w;
	int calls;
	struct listing *got;
	int err;
};

static void record(struct listing_waiter *w, struct listing *l, int err)
{
	struct recorder *r = (struct recorder *)w;
	r->calls++;
	listing_unref(r->got);
	r->got = l;
	r->err = err;
}

static struct recorder recorder(void)
{
	struct recorder r = { .w = { .done = record } };
	return r;
}

static struct listing *listing_of(struct cache *c, int n)
{
	struct listing *l = listing_new_persons((size_t)n);
	for (int i = 0; i < n; i++)
		l->persons[i] = cache_person_put(c, make_person(n - i, "P", "2024-01-01T00:00:00Z"));
	listing_sort(l);
	return l;
}

static void test_ttl_and_sharing(void)
{
	struct cache *c = cache_new(60, 0);
	struct listing *l = NULL;
	struct recorder a = recorder(), b = recorder(), d = recorder();
	CHECK(cache_listing_lookup(c, 7, 100.0, &l, &a.w) == CACHE_START_FETCH);
	CHECK(cache_listing_lookup(c, 7, 100.5, &l, &b.w) == CACHE_JOINED);
	/* Another directory is independent. */
	CHECK(cache_listing_lookup(c, 8, 100.5, &l, &d.w) == CACHE_START_FETCH);
	cache_listing_finish(c, 7, listing_of(c, 3), 0, 101.0);
	CHECK(a.calls == 1 && b.calls == 1 && a.got && a.got == b.got && a.got->count == 3);
	CHECK(d.calls == 0);

	struct recorder e = recorder();
	CHECK(cache_listing_lookup(c, 7, 160.9, &l, &e.w) == CACHE_FRESH);
	CHECK(l == a.got && e.calls == 0);
	listing_unref(l);
	CHECK(cache_listing_lookup(c, 7, 161.1, &l, &e.w) == CACHE_START_FETCH);

	/* The refresh fails: the waiter gets the expired copy, marked stale. */
	cache_listing_finish(c, 7, NULL, EIO, 162.0);
	CHECK(e.calls == 1 && e.got == a.got && e.err == 0 && e.got->stale);

	/* A failed first walk has nothing stale to give: the error. */
	cache_listing_finish(c, 8, NULL, EACCES, 163.0);
	CHECK(d.calls == 1 && d.got == NULL && d.err == EACCES);

	struct cache_stats st;
	cache_get_stats(c, &st);
	CHECK(st.stale_served == 1 && st.walks == 3 && st.hits == 1);
	listing_unref(a.got);
	listing_unref(b.got);
	listing_unref(e.got);
	cache_free(c);
}

static void test_ttl_zero_never_serves_cached(void)
{
	struct cache *c = cache_new(0, 0);
	struct listing *l = NULL;
	struct recorder a = recorder(), b = recorder();
	CHECK(cache_listing_lookup(c, 1, 10.0, &l, &a.w) == CACHE_START_FETCH);
	cache_listing_finish(c, 1, listing_of(c, 1), 0, 10.0);
	CHECK(cache_listing_lookup(c, 1, 10.0, &l, &b.w) == CACHE_START_FETCH);
	cache_listing_finish(c, 1, listing_of(c, 2), 0, 10.0);
	CHECK(b.got && b.got->count == 2);
	listing_unref(a.got);
	listing_unref(b.got);
	cache_free(c);
}

static void test_expire_on_demand_and_generations(void)
{
	struct cache *c = cache_new(60, 0);
	struct listing *l = NULL;
	struct recorder a = recorder(), b = recorder();
	cache_listing_lookup(c, 5, 0.0, &l, &a.w);
	cache_listing_finish(c, 5, listing_of(c, 1), 0, 0.0);
	uint64_t g1 = a.got->generation;
	CHECK(!cache_listing_unchanged_since_last_open(c, 5, g1)); /* first open */
	CHECK(cache_listing_unchanged_since_last_open(c, 5, g1));
	cache_listing_expire(c, 5);
	CHECK(cache_listing_lookup(c, 5, 1.0, &l, &b.w) == CACHE_START_FETCH);
	cache_listing_finish(c, 5, listing_of(c, 1), 0, 1.0);
	CHECK(b.got->generation != g1);
	CHECK(!cache_listing_unchanged_since_last_open(c, 5, b.got->generation));
	listing_unref(a.got);
	listing_unref(b.got);
	cache_free(c);
}

static void test_person_sharing(void)
{
	struct cache *c = cache_new(60, 0);
	struct person *p1 = cache_person_put(c, make_person(9, "Ann", "2024-01-01T00:00:00Z"));
	struct person *p2 = cache_person_put(c, make_person(9, "Ann", "2024-01-01T00:00:00Z"));
	CHECK(p1 == p2);
	struct person *p3 = cache_person_put(c, make_person(9, "Anna", "2024-01-02T00:00:00Z"));
	CHECK(p3 != p1);
	struct person *got = cache_person_get(c, 9);
	CHECK(got == p3 && got->update_time == 1704153600);
	CHECK(cache_person_get(c, 10) == NULL);
	person_unref(got);
	person_unref(p1);
	person_unref(p2);
	person_unref(p3);
	cache_free(c);
}

static void test_listing_sort_dedupes(void)
{
	struct cache *c = cache_new(60, 0);
	struct listing *l = listing_new_persons(4);
	l->persons[0] = make_person(3, "C", "2024-01-01T00:00:00Z");
	l->persons[1] = make_person(1, "A", "2024-01-01T00:00:00Z");
	l->persons[2] = make_person(3, "C2", "2024-02-01T00:00:00Z");
	l->persons[3] = make_person(2, "B", "2024-01-01T00:00:00Z");
	listing_sort(l);
	CHECK(l->count == 3);
	CHECK(l->persons[0]->id == 1 && l->persons[1]->id == 2 && l->persons[2]->id == 3);
	CHECK(l->persons[2]->update_time > 1704067200); /* the newer copy of id 3 */
	CHECK(listing_find(l, 2) == 1 && listing_find(l, 4) == -1);
	listing_unref(l);

	struct listing *ids = listing_new_ids(3, false);
	ids->ids[0] = 5;
	ids->ids[1] = 5;
	ids->ids[2] = 1;
	listing_sort(ids);
	CHECK(ids->count == 2 && ids->ids[0] == 1 && ids->ids[1] == 5);
	listing_unref(ids);
	cache_free(c);
}

static int replaced_calls;
static int64_t replaced_id;

static void on_replace(void *ctx, int64_t id)
{
	(void)ctx;
	replaced_calls++;
	replaced_id = id;
}

static void test_replace_hook(void)
{
	struct cache *c = cache_new(60, 0);
	cache_set_replace_hook(c, on_replace, NULL);
	person_unref(cache_person_put(c, make_person(4, "Ann", "2024-01-01T00:00:00Z")));
	person_unref(cache_person_put(c, make_person(4, "Ann", "2024-01-01T00:00:00Z")));
	CHECK(replaced_calls == 0);
	person_unref(cache_person_put(c, make_person(4, "Bob", "2024-01-02T00:00:00Z")));
	CHECK(replaced_calls == 1 && replaced_id == 4);
	cache_free(c);
}

static void test_size_bound_evicts_least_recently_used(void)
{
	/* Each person here costs a few hundred bytes; allow about two listings. */
	struct person *probe = make_person(1, "P", "2024-01-01T00:00:00Z");
	uint64_t one = person_mem_bytes(probe);
	person_unref(probe);
	struct cache *c = cache_new(60, one * 2 + one / 2);
	struct listing *l = NULL;
	for (uint64_t key = 1; key <= 3; key++) {
		struct recorder r = recorder();
		CHECK(cache_listing_lookup(c, key, (double)key, &l, &r.w) == CACHE_START_FETCH);
		struct listing *fresh = listing_new_persons(1);
		fresh->persons[0] = cache_person_put(c, make_person((int64_t)key, "P",
								   "2024-01-01T00:00:00Z"));
		cache_listing_finish(c, key, fresh, 0, (double)key);
		listing_unref(r.got);
	}
	struct cache_stats st;
	cache_get_stats(c, &st);
	CHECK(st.evictions == 1 && st.person_bytes <= one * 2 + one / 2);
	struct recorder r = recorder();
	CHECK(cache_listing_lookup(c, 1, 4.0, &l, &r.w) == CACHE_START_FETCH); /* evicted */
	cache_listing_finish(c, 1, NULL, EIO, 4.0);
	CHECK(r.got == NULL && r.err == EIO); /* nothing stale kept after eviction */
	CHECK(cache_listing_lookup(c, 3, 4.0, &l, &r.w) == CACHE_FRESH);
	listing_unref(l);
	CHECK(cache_person_get(c, 1) == NULL); /* its person went with it */
	cache_free(c);
}

/* A listing in use whose persons alone exceed the bound: each other listing
 * that finishes must not pay a pass over the whole person store. */
static void test_purge_passes_are_amortized(void)
{
	struct person *probe = make_person(1, "P", "2024-01-01T00:00:00Z");
	uint64_t one = person_mem_bytes(probe);
	person_unref(probe);
	enum { BIG = 2000, SMALL = 400 };
	struct cache *c = cache_new(60, one * 100);
	struct listing *big = listing_new_persons(BIG);
	for (size_t i = 0; i < BIG; i++)
		big->persons[i] = cache_person_put(c, make_person((int64_t)i + 1, "P",
								  "2024-01-01T00:00:00Z"));
	cache_listing_finish(c, 1, listing_ref(big), 0, 1.0); /* big stays held here */
	for (uint64_t key = 2; key < 2 + SMALL; key++) {
		struct listing *small = listing_new_persons(1);
		small->persons[0] = cache_person_put(c, make_person(100000 + (int64_t)key, "Q",
								    "2024-01-01T00:00:00Z"));
		cache_listing_finish(c, key, small, 0, (double)key);
	}
	struct cache_stats st;
	cache_get_stats(c, &st);
	/* One pass per eighth of the bound grown (12.5 persons here), not one per finish. */
	CHECK(st.purge_passes >= 1 && st.purge_passes <= SMALL / 12 + 2);
	CHECK(st.evictions >= SMALL - 1); /* the bound is still kept by eviction */
	CHECK(st.person_bytes <= (BIG + 1 + 13) * (one + 8)); /* longer ids, longer names */
	listing_unref(big);
	cache_free(c);
}

static void test_expire_all_forces_full_walk(void)
{
	struct cache *c = cache_new(60, 0);
	struct listing *l = NULL;
	/* A listing fetched ahead of use gets a slot of its own. */
	cache_listing_finish(c, 9, listing_of(c, 1), 0, 0.0);
	CHECK(cache_listing_lookup(c, 9, 1.0, &l, NULL) == CACHE_FRESH);
	listing_unref(l);
	struct listing *peek = cache_listing_peek(c, 9);
	CHECK(peek != NULL);
	listing_unref(peek);
	cache_expire_all(c);
	/* A full walk is due until one succeeds: a failed one does not cancel it. */
	CHECK(cache_listing_peek(c, 9) == NULL);
	struct recorder r = recorder();
	CHECK(cache_listing_lookup(c, 9, 2.0, &l, &r.w) == CACHE_START_FETCH);
	cache_listing_finish(c, 9, NULL, ECANCELED, 2.0);
	CHECK(r.got && r.got->stale); /* stale-if-error meanwhile */
	listing_unref(r.got);
	CHECK(cache_listing_peek(c, 9) == NULL);
	struct recorder r2 = recorder();
	CHECK(cache_listing_lookup(c, 9, 3.0, &l, &r2.w) == CACHE_START_FETCH);
	cache_listing_finish(c, 9, listing_of(c, 2), 0, 3.0);
	listing_unref(r2.got);
	peek = cache_listing_peek(c, 9);
	CHECK(peek != NULL && peek->count == 2);
	listing_unref(peek);
	cache_free(c);
}

/* peek_fresh: the listing only while it is fresh, and without counting a
 * use (hits, order of use). */
static void test_peek_fresh(void)
{
	struct cache *c = cache_new(60, 0);
	CHECK(cache_listing_peek_fresh(c, 5, 0.0) == NULL); /* never fetched */
	cache_listing_finish(c, 5, listing_of(c, 3), 0, 10.0);
	struct listing *l = cache_listing_peek_fresh(c, 5, 69.0);
	CHECK(l && l->count == 3);
	listing_unref(l);
	CHECK(cache_listing_peek_fresh(c, 5, 70.0) == NULL); /* expired */
	l = cache_listing_peek(c, 5);                        /* still held */
	CHECK(l != NULL);
	listing_unref(l);
	struct cache_stats st;
	cache_get_stats(c, &st);
	CHECK(st.hits == 0 && st.misses == 0);
	cache_listing_expire(c, 5);
	CHECK(cache_listing_peek_fresh(c, 5, 11.0) == NULL); /* expired on request */
	cache_free(c);
	struct cache *off = cache_new(0, 0);                  /* cache_ttl=0: never fresh */
	cache_listing_finish(off, 5, listing_of(off, 1), 0, 10.0);
	CHECK(cache_listing_peek_fresh(off, 5, 10.0) == NULL);
	cache_free(off);
}

static void test_expiry_during_a_walk_keeps_it_expired(void)
{
	struct cache *c = cache_new(60, 0);
	struct listing *l = NULL;
	struct recorder a = recorder(), b = recorder();
	CHECK(cache_listing_lookup(c, 4, 0.0, &l, &a.w) == CACHE_START_FETCH);
	cache_listing_expire(c, 4); /* SIGHUP while the walk is in flight */
	cache_listing_finish(c, 4, listing_of(c, 1), 0, 1.0);
	CHECK(a.got && a.got->count == 1); /* the waiter is served */
	/* but the listing is not fresh: the walk began before the request */
	CHECK(cache_listing_lookup(c, 4, 2.0, &l, &b.w) == CACHE_START_FETCH);
	cache_listing_finish(c, 4, listing_of(c, 1), 0, 2.0);
	CHECK(cache_listing_lookup(c, 4, 3.0, &l, NULL) == CACHE_FRESH);
	listing_unref(l);
	listing_unref(a.got);
	listing_unref(b.got);
	cache_free(c);
}

static void test_failed_first_walk_leaves_no_slot(void)
{
	struct cache *c = cache_new(60, 0);
	struct listing *l = NULL;
	struct recorder a = recorder();
	CHECK(cache_listing_lookup(c, 5, 0.0, &l, &a.w) == CACHE_START_FETCH);
	cache_listing_finish(c, 5, NULL, EIO, 0.0);
	CHECK(a.got == NULL && a.err == EIO);
	struct cache_stats st;
	cache_get_stats(c, &st);
	CHECK(st.listings == 0);
	cache_free(c);
}

/* A by-id style listing of one person, stored without a lookup (fill-in). */
static void store_one(struct cache *c, uint64_t key, int64_t id, double now)
{
	struct listing *l = listing_new_persons(1);
	l->persons[0] = cache_person_put(c, make_person(id, "P", "2024-01-01T00:00:00Z"));
	cache_listing_finish(c, key, l, 0, now);
}

static uint64_t listings_held(struct cache *c)
{
	struct cache_stats st;
	cache_get_stats(c, &st);
	return st.listings;
}

static void test_listing_count_is_bounded(void)
{
	struct cache *c = cache_new(60, 0);
	cache_set_max_listings(c, 100);
	for (uint64_t key = 1; key <= 1000; key++) {
		store_one(c, key, (int64_t)key, (double)key);
		CHECK(listings_held(c) <= 100);
	}
	struct cache_stats st;
	cache_get_stats(c, &st);
	/* Evicted in batches of a tenth: 1000 = 100 + 9 * 100 ... */
	CHECK(st.listings >= 90 && st.evictions >= 900);
	/* ... and the persons of evicted listings left the store with them. */
	CHECK(st.persons == st.listings);
	/* The newest stayed, the oldest went. */
	struct listing *l = NULL;
	struct recorder a = recorder(), b = recorder();
	CHECK(cache_listing_lookup(c, 1000, 1000.5, &l, &a.w) == CACHE_FRESH);
	listing_unref(l);
	CHECK(cache_listing_lookup(c, 1, 1000.5, &l, &b.w) == CACHE_START_FETCH);
	cache_listing_finish(c, 1, NULL, ECANCELED, 1000.6);
	CHECK(b.calls == 1 && b.err == ECANCELED);
	cache_free(c);
}

static void test_one_batch_per_overflow(void)
{
	struct cache *c = cache_new(60, 0);
	cache_set_max_listings(c, 100);
	for (uint64_t key = 1; key <= 100; key++)
		store_one(c, key, (int64_t)key, (double)key);
	CHECK(listings_held(c) == 100);
	store_one(c, 101, 101, 101.0);
	CHECK(listings_held(c) == 90); /* ten went at once, not one */
	for (uint64_t key = 102; key <= 110; key++)
		store_one(c, key, (int64_t)key, (double)key);
	CHECK(listings_held(c) == 99); /* no eviction until the bound is passed again */
	cache_free(c);
}

static void test_bound_spares_used_and_busy_slots(void)
{
	struct cache *c = cache_new(1e9, 0);
	cache_set_max_listings(c, 10);
	struct listing *l = NULL;
	/* Key 1 is used again and again: it stays. */
	store_one(c, 1, 1, 0.0);
	/* Key 2 has a walk in flight and a waiter: it stays. */
	struct recorder busy = recorder();
	CHECK(cache_listing_lookup(c, 2, 0.0, &l, &busy.w) == CACHE_START_FETCH);
	/* A person held elsewhere (an open file) stays in the store. */
	store_one(c, 3, 3, 0.0);
	struct person *held = cache_person_get(c, 3);
	for (uint64_t key = 10; key < 200; key++) {
		store_one(c, key, (int64_t)key, (double)key);
		struct recorder r = recorder();
		CHECK(cache_listing_lookup(c, 1, (double)key, &l, &r.w) == CACHE_FRESH);
		listing_unref(l);
	}
	CHECK(listings_held(c) <= 10);
	CHECK(busy.calls == 0);
	cache_listing_finish(c, 2, listing_of(c, 2), 0, 300.0);
	CHECK(busy.calls == 1 && busy.got && busy.got->count == 2);
	struct person *again = cache_person_get(c, 3);
	CHECK(again == held);
	person_unref(again);
	person_unref(held);
	listing_unref(busy.got);
	cache_free(c);
}

struct removed {
	uint64_t keys[8];
	int64_t ids[8];
	int calls;
};

static void on_remove(void *ctx, uint64_t key, const struct person *p)
{
	struct removed *r = ctx;
	if (r->calls < 8) {
		r->keys[r->calls] = key;
		r->ids[r->calls] = p->id;
	}
	r->calls++;
}

/* Store a fresh listing of ids for key (all persons stored). */
static void store_listing(struct cache *c, uint64_t key, const int64_t *ids, size_t n,
			  double now)
{
	struct listing *l = listing_new_persons(n);
	for (size_t i = 0; i < n; i++)
		l->persons[i] = cache_person_put(c, make_person(ids[i], "P", "2024-01-01T00:00:00Z"));
	listing_sort(l);
	cache_listing_finish(c, key, l, 0, now);
}

static struct listing *fresh_listing(struct cache *c, uint64_t key, double now)
{
	struct listing *l = NULL;
	struct recorder r = recorder();
	CHECK(cache_listing_lookup(c, key, now, &l, &r.w) == CACHE_FRESH);
	return l;
}

static void test_persons_remove_from_every_listing(void)
{
	struct cache *c = cache_new(60, 0);
	struct removed seen = { .calls = 0 };
	cache_set_remove_hook(c, on_remove, &seen);
	store_listing(c, 1, (int64_t[]){ 1, 2, 3, 4 }, 4, 100.0);
	store_listing(c, 2, (int64_t[]){ 3, 5 }, 2, 100.0);
	store_listing(c, 3, (int64_t[]){ 6 }, 1, 100.0);
	struct listing *before = fresh_listing(c, 1, 101.0);
	uint64_t generation = before->generation;
	struct listing *with_order = listing_new_persons(3);
	for (int i = 0; i < 3; i++)
		with_order->persons[i] = cache_person_put(
			c, make_person(7 + i, "P", "2024-01-01T00:00:00Z"));
	with_order->order = malloc(3 * sizeof(*with_order->order));
	with_order->order[0] = 2, with_order->order[1] = 1, with_order->order[2] = 0;
	snprintf(with_order->synced_to, sizeof(with_order->synced_to), "2024-01-01T00:00:00Z");
	cache_listing_finish(c, 4, with_order, 0, 100.0);

	/* 3 is in two listings, 8 in the ordered one; 99 is unknown (free) */
	size_t changed = cache_persons_remove(c, (int64_t[]){ 3, 99, 8, 3 }, 4);
	CHECK(changed == 3);
	CHECK(seen.calls == 3);
	struct listing *l1 = fresh_listing(c, 1, 102.0);
	CHECK(l1->count == 3 && listing_find(l1, 3) < 0 && listing_find(l1, 4) >= 0);
	CHECK(l1->generation != generation);
	CHECK(before->count == 4); /* a snapshot in use is not changed */
	struct listing *l2 = fresh_listing(c, 2, 102.0);
	CHECK(l2->count == 1 && l2->persons[0]->id == 5);
	struct listing *l3 = fresh_listing(c, 3, 102.0);
	CHECK(l3->count == 1); /* untouched */
	struct listing *l4 = fresh_listing(c, 4, 102.0);
	CHECK(l4->count == 2 && l4->order && l4->persons[l4->order[0]]->id == 9 &&
	      l4->persons[l4->order[1]]->id == 7);
	CHECK(strcmp(l4->synced_to, "2024-01-01T00:00:00Z") == 0);
	struct person *gone = cache_person_get(c, 3);
	CHECK(gone == NULL);
	person_unref(gone);
	struct cache_stats st;
	cache_get_stats(c, &st);
	CHECK(st.persons == 7); /* 1 2 4 5 6 7 9 */
	CHECK(cache_persons_remove(c, (int64_t[]){ 3 }, 1) == 0);
	CHECK(seen.calls == 3);
	listing_unref(before);
	listing_unref(l1);
	listing_unref(l2);
	listing_unref(l3);
	listing_unref(l4);
	cache_free(c);
}

/* After a write: one person replaced in place, moved between listings,
 * added to a new folder, its old names handed to the remove hook. */
static void test_person_replace_after_a_write(void)
{
	struct cache *c = cache_new(60, 0);
	struct removed seen = { .calls = 0 };
	cache_set_remove_hook(c, on_remove, &seen);
	replaced_calls = 0;
	cache_set_replace_hook(c, on_replace, NULL);
	store_listing(c, 1, (int64_t[]){ 1, 2, 3 }, 3, 100.0); /* owner 1 */
	store_listing(c, 2, (int64_t[]){ 5 }, 1, 100.0);       /* owner 2 */
	store_listing(c, 3, (int64_t[]){ 2 }, 1, 100.0);       /* an org */
	struct listing *recent = listing_new_persons(2);
	recent->persons[0] = cache_person_put(c, make_person(1, "P", "2024-01-01T00:00:00Z"));
	recent->persons[1] = cache_person_put(c, make_person(3, "P", "2024-01-02T00:00:00Z"));
	recent->order = malloc(2 * sizeof(*recent->order));
	recent->order[0] = 1, recent->order[1] = 0; /* newest first: 3, 1 */
	cache_listing_finish(c, 4, recent, 0, 100.0);
	replaced_calls = 0;

	/* same name, new bytes: replaced where it is, no names go */
	struct person *p2 = make_person(2, "P", "2024-02-01T00:00:00Z");
	CHECK(cache_person_replace(c, p2, NULL, 0, NULL, 0) == 2);
	CHECK(seen.calls == 0 && replaced_calls == 1 && replaced_id == 2);
	struct person *got = cache_person_get(c, 2);
	CHECK(got && got->update_time > 1700000000 && strcmp(got->base, "P (2)") == 0);
	struct listing *l3 = fresh_listing(c, 3, 101.0);
	CHECK(got && l3->count == 1 && l3->persons[0] == got);
	person_unref(got);

	/* moved from owner 1 to owner 2 and renamed: leaves 1, joins 2 */
	struct person *moved = make_person(2, "Q", "2024-03-01T00:00:00Z");
	CHECK(cache_person_replace(c, moved, (uint64_t[]){ 2 }, 1, (uint64_t[]){ 1 }, 1) == 3);
	struct listing *l1 = fresh_listing(c, 1, 101.0);
	struct listing *l2 = fresh_listing(c, 2, 101.0);
	struct listing *l3b = fresh_listing(c, 3, 101.0);
	CHECK(l1->count == 2 && listing_find(l1, 2) < 0);
	CHECK(l2->count == 2 && l2->persons[0]->id == 2 && l2->persons[1]->id == 5);
	CHECK(strcmp(l3b->persons[0]->base, "Q (2)") == 0);
	/* the old names left owner 1 and the org (renamed there) */
	CHECK(seen.calls == 2 && seen.ids[0] == 2 && seen.ids[1] == 2);
	CHECK((seen.keys[0] == 1 && seen.keys[1] == 3) || (seen.keys[0] == 3 && seen.keys[1] == 1));

	/* a new person: joins its folder and /recent first; unknown keys stay unfetched */
	struct person *fresh = make_person(4, "New", "2024-04-01T00:00:00Z");
	CHECK(cache_person_replace(c, fresh, (uint64_t[]){ 1, 4, 77 }, 3, NULL, 0) == 2);
	struct listing *l1b = fresh_listing(c, 1, 102.0);
	CHECK(l1b->count == 3 && l1b->persons[2]->id == 4);
	struct listing *l4 = fresh_listing(c, 4, 102.0);
	CHECK(l4->count == 3 && l4->persons[l4->order[0]]->id == 4 &&
	      l4->persons[l4->order[1]]->id == 3 && l4->persons[l4->order[2]]->id == 1);
	struct recorder r = recorder();
	struct listing *none = NULL;
	CHECK(cache_listing_lookup(c, 77, 102.0, &none, &r.w) == CACHE_START_FETCH);
	cache_listing_finish(c, 77, NULL, ECANCELED, 102.0);
	listing_unref(r.got);
	struct cache_stats st;
	cache_get_stats(c, &st);
	CHECK(st.persons == 5);
	listing_unref(l1);
	listing_unref(l1b);
	listing_unref(l2);
	listing_unref(l3);
	listing_unref(l3b);
	listing_unref(l4);
	cache_free(c);
	replaced_calls = 0;
}

int main(void)
{
	style = person_style_new(&render);
	test_person_replace_after_a_write();
	test_listing_count_is_bounded();
	test_one_batch_per_overflow();
	test_bound_spares_used_and_busy_slots();
	test_persons_remove_from_every_listing();
	test_replace_hook();
	test_size_bound_evicts_least_recently_used();
	test_purge_passes_are_amortized();
	test_expire_all_forces_full_walk();
	test_peek_fresh();
	test_expiry_during_a_walk_keeps_it_expired();
	test_failed_first_walk_leaves_no_slot();
	test_ttl_and_sharing();
	test_ttl_zero_never_serves_cached();
	test_expire_on_demand_and_generations();
	test_person_sharing();
	test_listing_sort_dedupes();
	person_style_unref(style);
	return check_finish("cache");
}
