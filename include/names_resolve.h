/*
 * names_resolve.h - fetch the names a page of persons needs before its
 * vCards are rendered, so a card never shows a bare id.
 *
 *  - organizations (each person's org_id and org custom fields):
 *    GET /api/v2/organizations?ids= with at most 100 ids per request;
 *  - users (user custom fields): GET /api/v1/users, the whole list, once per
 *    mount (user names do not expire);
 *  - persons (people custom fields): the page itself or the person store;
 *    the rest wait for the end of the walk (names_resolve_finish), when the
 *    walk has stored its own persons, and are then asked for with
 *    GET /api/v2/persons?ids= (at most 100 ids per request); the persons
 *    that referred to them are rebuilt with the names.
 *
 * Names live in meta.  A name counts as known when it was stored at or after
 * the resolver's valid_after (monotonic seconds): the walker passes the start
 * of its walk minus full_refresh, so a name is asked again only by walks more
 * than one full_refresh period later (and after SIGHUP, meta_names_expire).
 * An incremental refresh therefore asks only for the names of changed
 * persons that are not known yet.  A failed request only costs the names
 * (one warning); the listing does not fail for it.
 *
 * Knows Pipedrive (through api.h), meta and the cache; not FUSE.
 */
#ifndef PDFS_NAMES_RESOLVE_H
#define PDFS_NAMES_RESOLVE_H

#include "api.h"
#include "cache.h"
#include "meta.h"

struct names_resolver {
	struct meta *meta;
	struct cache *cache;
	double valid_after;
	/* Passed on when persons are asked for by id (as every persons request
	 * of the mount does), or NULL. */
	const char *custom_fields;
	const char *include_fields;
};

/* Person names a walk still lacks, and the persons built without them. */
struct names_pending {
	int64_t *missing;
	size_t missing_count, missing_cap;
	int64_t *waiting;
	size_t waiting_count, waiting_cap;
	/* Under cache_max_mb, the person names meta may forget (the store has
	 * them) that the page being resolved needs, held until it is built. */
	struct names_hold {
		struct names_held {
			int64_t id;
			struct meta_name *name;
		} *items;
		size_t count, cap;
		struct meta *meta;
	} hold;
};

void names_pending_free(struct names_pending *p);
/* The names held for the page just resolved, taken out of p to go with the
 * page to the thread that builds it. */
struct names_hold names_take_held(struct names_pending *p);
/* Let go of them once the page is built (meta may forget them then). */
void names_hold_release(struct names_hold *h);

/* meta_person_name_fn (ctx: the cache): the name of a person the cache
 * holds, in memory or on disk (under cache_max_mb meta forgets such names;
 * after the store failed, the persons stay in memory); else 0. */
int names_stored_person_name(void *ctx, int64_t id, char **out, size_t *len);
/* Move src's ids to dst; false when out of memory (those names are then
 * just not shown). */
bool names_pending_take(struct names_pending *dst, struct names_pending *src);

/* Make sure meta knows the organization and user names the persons of a
 * page refer to, and the person names at hand (the page's own persons, the
 * store); the other person names are noted in pending.  Requests go through
 * conn.  Under cache_max_mb the person names at hand are held in pending
 * until the page is built: names_take_held, then names_hold_release. */
void names_resolve_page(const struct names_resolver *r, struct api_conn *conn,
			const struct api_page *page, struct names_pending *pending);

/* Builds person p again (names may have changed); a new reference, or NULL
 * to keep p. */
typedef struct person *(*names_rebuild_fn)(void *ctx, struct person *p);

/* At the end of a walk: the pending person names - from the store, else by
 * id - and every person of items[0..count) that waited for one rebuilt (the
 * new reference replaces the old one in items).  Clears pending. */
void names_resolve_finish(const struct names_resolver *r, struct api_conn *conn,
			  struct names_pending *pending, struct person **items, size_t count,
			  names_rebuild_fn rebuild, void *ctx);

/* GET /api/v1/users into meta (done once at start-up when a user field
 * exists; names_resolve_page does it if that failed).  0 or -errno. */
int names_load_users(struct meta *meta, struct api_conn *conn, struct api_error *err);

#endif
