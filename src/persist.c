/*
 * persist.c - listings and persons to and from the disk cache (persist.h).
 */
#include "persist.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "person_store.h"
#include "tree.h"

bool persist_keeps(uint64_t key)
{
	enum node_kind k = tree_kind(key);
	return k == NODE_OWNER_DIR || k == NODE_ORG_DIR || k == NODE_FILTER_DIR || key == INO_BY_ID ||
	       tree_is_group_root(key);
}

/* Whole seconds on disk: read back as up to a second older than they were,
 * never younger (a copy must not look newer than a SIGHUP that came after). */
double persist_mono_of(int64_t wall, double now_mono)
{
	return now_mono - (double)((int64_t)time(NULL) - wall) - 1.0;
}

int64_t persist_wall_of(double mono, double now_mono)
{
	return (int64_t)time(NULL) - (int64_t)(now_mono - mono);
}

/* ------------------------------------------------------------------ */
/* Reading back                                                         */

struct load_ctx {
	struct cache *cache;
	struct listing *l;
	size_t n;
};

static int take_row(void *ctx, const struct store_person_row *row)
{
	struct load_ctx *lc = ctx;
	/* A version this mount already holds is newer than the disk's. */
	struct person *p = cache_person_get(lc->cache, row->id);
	if (!p) {
		p = person_from_store_row(row);
		if (!p)
			return -ENOMEM;
		p = cache_person_put_stored(lc->cache, p);
	}
	lc->l->persons[lc->n++] = p;
	return 0;
}

/* A listing by ids (cache_max_mb) only checks that each row is there and
 * sound: its persons are read when used. */
static int check_row(void *ctx, const struct store_person_row *row)
{
	(void)row;
	struct load_ctx *lc = ctx;
	lc->n++;
	return 0;
}

static void log_unusable(uint64_t key, int rc)
{
	char where[64];
	tree_describe(key, where, sizeof(where));
	log_warn("the disk cache's copy of %s cannot be used (%s); it is walked again",
		 where, rc == -EINVAL  ? "damaged"
			: rc == -ENOENT ? "incomplete"
					: strerror(-rc));
}

static struct listing *listing_of_row(struct store *s, struct cache *c, struct store_listing *row)
{
	struct listing *l;
	if (tree_is_group_root(row->key)) {
		l = listing_new_ids(row->count, row->names != NULL);
		if (l && row->count) {
			memcpy(l->ids, row->ids, row->count * sizeof(*row->ids));
			if (row->names) {
				memcpy(l->names, row->names, row->count * sizeof(*row->names));
				memset(row->names, 0, row->count * sizeof(*row->names)); /* moved */
			}
		}
		return l;
	}
	struct load_ctx lc = { .cache = c };
	if (cache_lists_by_ids(c)) {
		int rc = store_each_person(s, row->ids, row->count, check_row, &lc);
		if (rc) {
			if (rc != -ENOMEM)
				log_unusable(row->key, rc);
			return NULL;
		}
		if (!row->count)
			return listing_new_person_ids(0);
		if ((l = listing_adopt_person_ids(row->ids, row->count)))
			row->ids = NULL; /* the listing's now: no second copy */
		return l;
	}
	if (!(l = lc.l = listing_new_persons(row->count)))
		return NULL;
	int rc = store_each_person(s, row->ids, row->count, take_row, &lc);
	l->count = lc.n;
	if (rc) {
		listing_unref(l);
		if (rc != -ENOMEM)
			log_unusable(row->key, rc);
		return NULL;
	}
	return l;
}

struct listing *persist_load(struct store *s, struct cache *c, uint64_t key, double now_mono)
{
	struct store_listing row;
	int rc = store_get_listing(s, key, &row);
	if (rc) {
		if (rc != -ENOENT && rc != -EIO)
			log_unusable(key, rc);
		return NULL;
	}
	struct listing *l = listing_of_row(s, c, &row);
	if (l) {
		snprintf(l->synced_to, sizeof(l->synced_to), "%s", row.synced_to);
		l->full_walk_at = persist_mono_of(row.full_walk_at, now_mono);
		l->fetched_at = persist_mono_of(row.fetched_at, now_mono);
		if (l->fetched_at == 0) /* 0 means "now" to the cache */
			l->fetched_at = -1;
	}
	store_listing_clear(&row);
	return l;
}

int persist_load_row(struct store *s, uint64_t key, struct store_listing *row)
{
	return store_get_listing(s, key, row);
}

/* ------------------------------------------------------------------ */
/* Writing                                                              */

static bool grow(void **items, size_t *cap, size_t count, size_t size)
{
	if (count < *cap)
		return true;
	size_t ncap = *cap ? *cap * 2 : 64;
	void *grown = realloc(*items, ncap * size);
	if (!grown)
		return false;
	*items = grown;
	*cap = ncap;
	return true;
}

void persist_add_person(struct persist_batch *b, struct person *p)
{
	if (b->failed)
		return;
	if (!grow((void **)&b->persons, &b->person_cap, b->person_count, sizeof(*b->persons))) {
		b->failed = true;
		return;
	}
	b->persons[b->person_count++] = person_ref(p);
}

void persist_add_row(struct persist_batch *b, struct store_listing *row)
{
	if (!b->failed &&
	    !grow((void **)&b->rows, &b->row_cap, b->row_count, sizeof(*b->rows)))
		b->failed = true;
	if (b->failed) {
		store_listing_clear(row);
		return;
	}
	b->rows[b->row_count++] = *row;
	memset(row, 0, sizeof(*row));
}

void persist_add_listing(struct persist_batch *b, uint64_t key, const struct listing *l,
			 bool persons_too, double now_mono)
{
	struct store_listing row = {
		.key = key,
		.count = l->count,
		.fetched_at = persist_wall_of(l->fetched_at ? l->fetched_at : now_mono, now_mono),
		.full_walk_at = persist_wall_of(l->full_walk_at, now_mono),
	};
	snprintf(row.synced_to, sizeof(row.synced_to), "%s", l->synced_to);
	if (row.full_walk_at < 0)
		row.full_walk_at = 0;
	if (row.fetched_at < 0)
		row.fetched_at = 0;
	if (l->person_ids && !b->failed) {
		/* The listing is immutable: its ids are written as they are, a
		 * million of them without a copy. */
		if (!grow((void **)&b->held, &b->held_cap, b->held_count, sizeof(*b->held))) {
			b->failed = true;
			return;
		}
		b->held[b->held_count++] = listing_ref((struct listing *)l);
		row.ids = l->person_ids;
		row.ids_borrowed = true;
	} else if (!(row.ids = malloc((l->count ? l->count : 1) * sizeof(*row.ids)))) {
		b->failed = true;
		return;
	}
	for (size_t i = 0; !row.ids_borrowed && i < l->count; i++) {
		row.ids[i] = listing_id_at(l, i);
		/* Light persons are written by the cache's bytecache. */
		if (persons_too && l->persons && person_storable(l->persons[i]))
			persist_add_person(b, l->persons[i]);
	}
	if (l->names) {
		row.names = calloc(l->count ? l->count : 1, sizeof(*row.names));
		for (size_t i = 0; row.names && i < l->count; i++)
			if (l->names[i] && !(row.names[i] = strdup(l->names[i])))
				b->failed = true;
		if (!row.names)
			b->failed = true;
	}
	persist_add_row(b, &row);
}

void persist_batch_free(struct persist_batch *b)
{
	for (size_t i = 0; i < b->person_count; i++)
		person_unref(b->persons[i]);
	for (size_t i = 0; i < b->row_count; i++)
		store_listing_clear(&b->rows[i]);
	for (size_t i = 0; i < b->held_count; i++)
		listing_unref(b->held[i]);
	free(b->persons);
	free(b->rows);
	free(b->held);
	memset(b, 0, sizeof(*b));
}

int persist_commit(struct store *s, struct persist_batch *b)
{
	int rc = 0;
	if (b->failed) {
		rc = -ENOMEM;
	} else if (b->row_count || b->person_count) {
		struct store_person_row *rows =
			malloc((b->person_count ? b->person_count : 1) * sizeof(*rows));
		if (!rows) {
			rc = -ENOMEM;
		} else {
			/* Light persons are written by the cache's bytecache. */
			size_t n = 0;
			for (size_t i = 0; i < b->person_count; i++)
				if (person_storable(b->persons[i]))
					rows[n++] = person_store_row(b->persons[i]);
			rc = store_save(s, b->rows, b->row_count, rows, n);
			free(rows);
		}
	}
	if (rc == -ENOMEM)
		log_warn("out of memory writing to the disk cache; it catches up at the next walk");
	persist_batch_free(b);
	return rc;
}
