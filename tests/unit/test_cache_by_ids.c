/* Listings by ids (a disk cache and cache_max_mb): a finished listing keeps
 * its persons' ids, the person store lets unused persons go, and a person is
 * read back from the bytecache or the disk with the same bytes; deleted and
 * written persons leave and join such listings with their old names handed
 * to the remove hook; the ids count against the bound. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytecache.h"
#include "cache.h"
#include "check.h"
#include "log.h"
#include "store.h"

static const struct person_render render = { .version = VCARD_V40, .company = "acme",
					     .keep_vcf = true };
static struct person_style *style;
static char root[] = "/tmp/pdfs-byids-test.XXXXXX";

static struct person *make_person(int64_t id, const char *name, int owner)
{
	char json[256];
	snprintf(json, sizeof(json),
		 "{\"id\":%lld,\"name\":\"%s\",\"owner_id\":%d,"
		 "\"update_time\":\"2024-01-01T00:00:00Z\"}",
		 (long long)id, name, owner);
	int err;
	return person_from_text(json, strlen(json), style, &err);
}

/* A finished walk of key: persons ids[0..n) (names "P<id>"). */
static void walk(struct cache *c, uint64_t key, const int64_t *ids, size_t n, double now)
{
	struct listing *l = listing_new_persons(n);
	for (size_t i = 0; i < n; i++) {
		char name[32];
		snprintf(name, sizeof(name), "P%lld", (long long)ids[i]);
		l->persons[i] = cache_person_put(c, make_person(ids[i], name, 1));
	}
	CHECK(listing_sort(l));
	struct listing *got = NULL;
	cache_listing_finish(c, key, l, 0, now);
	got = cache_listing_peek(c, key);
	CHECK(got && got->person_ids && !got->persons && got->count == n);
	listing_unref(got);
	CHECK(cache_flush_bytes(c) == 0);
}

struct removed {
	int calls;
	uint64_t keys[8];
	char names[8][32];
};

static void on_remove(void *ctx, uint64_t key, const struct person *p)
{
	struct removed *r = ctx;
	if (r->calls < 8) {
		r->keys[r->calls] = key;
		snprintf(r->names[r->calls], sizeof(r->names[0]), "%.*s", (int)p->base_len, p->base);
	}
	r->calls++;
}

static struct store *open_store(const char *name)
{
	char dir[256], err[512];
	snprintf(dir, sizeof(dir), "%s/cache", root);
	struct store_config cfg = { .dir = dir, .name = name };
	struct store_open_report rep;
	struct store *s = NULL;
	CHECK(store_open(&cfg, &s, &rep, err, sizeof(err)) == 0);
	return s;
}

/* A cache listing by ids over a bytecache over a store of its own. */
struct bounded {
	struct store *store;
	struct bytecache *bytes;
	struct cache *cache;
};

static struct bounded bounded_open(const char *name, uint64_t cache_bytes, uint64_t byte_bytes)
{
	struct bounded bd = { .store = open_store(name) };
	bd.cache = cache_new(60, cache_bytes);
	bd.bytes = bytecache_new(bd.store, byte_bytes);
	cache_use_bytecache(bd.cache, bd.bytes);
	return bd;
}

static void bounded_close(struct bounded *bd)
{
	cache_free(bd->cache);
	bytecache_free(bd->bytes);
	store_close(bd->store);
}

static void test_pure_listing_by_ids(void)
{
	struct listing *l = listing_new_person_ids(5);
	int64_t ids[] = { 9, 3, 7, 3, 1 };
	memcpy(l->person_ids, ids, sizeof(ids));
	CHECK(listing_of_persons(l));
	CHECK(listing_sort(l) && l->count == 4); /* the repeated 3 once */
	CHECK(listing_id_at(l, 0) == 1 && listing_id_at(l, 3) == 9);
	CHECK(listing_find(l, 7) == 2 && listing_find(l, 4) < 0);
	struct listing *less = listing_without(l, (int64_t[]){ 3, 9 }, 2);
	CHECK(less && less->person_ids && less->count == 2 && less->person_ids[0] == 1 &&
	      less->person_ids[1] == 7);
	struct person *p = make_person(5, "Five", 1);
	struct listing *more = listing_with(less, p);
	CHECK(more && more->person_ids && more->count == 3 && more->person_ids[1] == 5);
	person_unref(p);
	listing_unref(more);
	listing_unref(less);
	listing_unref(l);
}

static void test_read_back_after_purge(void)
{
	/* 16 KiB for listings: 300 light persons (about 33 KiB) do not stay */
	struct bounded bd = bounded_open("readback", 16 << 10, 64 << 10);
	struct cache *c = bd.cache;
	CHECK(cache_lists_by_ids(c));
	int64_t ids[300];
	for (int i = 0; i < 300; i++)
		ids[i] = 1000 + i;
	walk(c, 1, ids, 300, 100.0);
	struct cache_stats st;
	cache_get_stats(c, &st);
	CHECK(st.person_bytes <= (16 << 10) + (16 << 10) / 8);
	CHECK(st.persons < 300 && st.purge_passes > 0); /* unused persons went */
	struct listing *l = cache_listing_peek(c, 1);
	for (size_t i = 0; i < l->count; i++) {
		struct person *p = cache_listing_person(c, l, i);
		CHECK(p && p->id == ids[i]);
		char want[32];
		snprintf(want, sizeof(want), "P%lld (%lld)", (long long)ids[i], (long long)ids[i]);
		CHECK(p && p->base_len == strlen(want) && memcmp(p->base, want, p->base_len) == 0);
		struct person *full = p ? cache_person_bytes(c, p) : NULL;
		CHECK(full && full->vcf_len == p->vcf_len && strstr(full->compact, want + 1) == NULL);
		CHECK(full && strstr(full->compact, "\"name\":\"P") != NULL);
		person_unref(full);
		person_unref(p);
	}
	cache_get_stats(c, &st);
	CHECK(st.person_bytes <= (16 << 10) + (16 << 10) / 8);
	/* an id nowhere: NULL (the caller answers EIO), never a made-up person */
	struct listing *ghost = listing_new_person_ids(1);
	ghost->person_ids[0] = 424242;
	CHECK(cache_listing_person(c, ghost, 0) == NULL); /* logs one line */
	listing_unref(ghost);
	listing_unref(l);
	bounded_close(&bd);
}

static void test_removed_and_replaced(void)
{
	struct bounded bd = bounded_open("changes", 1 << 20, 1 << 20);
	struct cache *c = bd.cache;
	struct removed seen = { 0 };
	cache_set_remove_hook(c, on_remove, &seen);
	walk(c, 1, (int64_t[]){ 1, 2, 3 }, 3, 100.0);
	walk(c, 2, (int64_t[]){ 3, 4 }, 2, 100.0);
	/* 3 deleted on the server: leaves both, its name handed over twice */
	CHECK(cache_persons_remove(c, (int64_t[]){ 3 }, 1) == 2);
	CHECK(seen.calls == 2 && strcmp(seen.names[0], "P3 (3)") == 0 &&
	      strcmp(seen.names[1], "P3 (3)") == 0);
	struct listing *l1 = cache_listing_peek(c, 1), *l2 = cache_listing_peek(c, 2);
	CHECK(l1->count == 2 && listing_find(l1, 3) < 0 && l1->person_ids);
	CHECK(l2->count == 1 && l2->person_ids[0] == 4);
	/* nothing reads it back any more (an inode the kernel still knows) */
	CHECK(cache_person_load(c, 3) == NULL);
	/* an id nobody stored costs nothing and changes nothing */
	seen.calls = 0;
	CHECK(cache_persons_remove(c, (int64_t[]){ 77777 }, 1) == 0 && seen.calls == 0);
	listing_unref(l1);
	listing_unref(l2);
	/* 2 renamed and moved from 1 to 2: its old name leaves 1 */
	seen.calls = 0;
	struct person *moved = make_person(2, "Renamed", 2);
	CHECK(cache_person_replace(c, moved, (uint64_t[]){ 2 }, 1, (uint64_t[]){ 1 }, 1) == 2);
	CHECK(seen.calls == 1 && seen.keys[0] == 1 && strcmp(seen.names[0], "P2 (2)") == 0);
	l1 = cache_listing_peek(c, 1);
	l2 = cache_listing_peek(c, 2);
	CHECK(l1->count == 1 && l1->person_ids[0] == 1);
	CHECK(l2->count == 2 && l2->person_ids[0] == 2 && l2->person_ids[1] == 4);
	struct person *now = cache_listing_person(c, l2, 0);
	CHECK(now && strncmp(now->base, "Renamed (2)", now->base_len) == 0);
	person_unref(now);
	listing_unref(l1);
	listing_unref(l2);
	bounded_close(&bd);
}

static void test_ids_count_against_the_bound(void)
{
	/* 8 KiB for listings: two folders of 400 ids (3.2 KiB each) fit, a
	 * third evicts the least recently used */
	struct bounded bd = bounded_open("bound", 8 << 10, 1 << 20);
	struct cache *c = bd.cache;
	int64_t ids[400];
	for (uint64_t key = 1; key <= 3; key++) {
		for (int i = 0; i < 400; i++)
			ids[i] = (int64_t)key * 1000 + i;
		walk(c, key, ids, 400, 100.0 + (double)key);
	}
	CHECK(!cache_listing_held(c, 1));
	CHECK(cache_listing_held(c, 3));
	struct cache_stats st;
	cache_get_stats(c, &st);
	CHECK(st.evictions >= 1);
	bounded_close(&bd);
}

/* An older version read back from the disk (an edit's base, a reader of
 * an old listing) never replaces a newer one waiting to be written: that
 * one would be lost from the disk cache and its file answer EIO. */
static void test_old_version_keeps_the_newer_dirty_one(void)
{
	struct store *s = open_store("versions");
	struct bytecache *b = bytecache_new(s, 1 << 20);
	struct person *a = make_person(7, "Old", 1), *n = make_person(7, "New", 1);
	person_set_digest(a);
	person_set_digest(n);
	bytecache_put(b, a, true);
	CHECK(bytecache_flush(b) == 0); /* a is on disk */
	bytecache_put(b, n, true);      /* n is newer, not yet written */
	struct person *got = bytecache_get(b, 7, a->digest);
	CHECK(got && got->digest == a->digest);
	person_unref(got);
	got = bytecache_get(b, 7, n->digest);
	CHECK(got && got->digest == n->digest);
	person_unref(got);
	got = bytecache_get_current(b, 7);
	CHECK(got && got->digest == n->digest);
	person_unref(got);
	CHECK(bytecache_flush(b) == 0);
	bytecache_free(b);
	b = bytecache_new(s, 1 << 20); /* memory empty: the disk has n */
	got = bytecache_get_current(b, 7);
	CHECK(got && got->digest == n->digest);
	person_unref(got);
	person_unref(a);
	person_unref(n);
	bytecache_free(b);
	store_close(s);
}

int main(void)
{
	log_set_level(LOG_LEVEL_ERROR);
	if (!mkdtemp(root))
		return 1;
	style = person_style_new(&render);
	test_pure_listing_by_ids();
	test_read_back_after_purge();
	test_removed_and_replaced();
	test_ids_count_against_the_bound();
	test_old_version_keeps_the_newer_dirty_one();
	person_style_unref(style);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
	return check_finish("cache_by_ids");
}
