/*
 * walkguard.h - decides whether a cursor walk may go on.
 *
 * A cursor-paged list ends when the server says so (next_cursor null).  A
 * buggy or hostile server can keep a walk going forever: cursors that cycle
 * (A, B, A, ...), pages that bring nothing new under ever new cursors, or
 * endless pages of new items.  The walk feeds the guard every page - the
 * identities of its items and the next cursor - and the guard says continue,
 * done, or stop with a reason:
 *
 *  - a cursor this walk has already been given (any earlier page, not only
 *    the last one) is a cycle;
 *  - max_idle_pages pages in a row without a new item is a broken server.
 *    In an ascending walk (sort_by=id&sort_direction=asc, keys = ids) a page
 *    is new when it brings an id above every id seen so far; otherwise when
 *    it brings a key the walk has not seen;
 *  - every walk is capped in items, pages, duration and cursor length.
 *
 * The defaults never stop a legitimate walk of a 1,000,000-person company:
 * at page_limit=500 that is 2,000 pages, and even at 30 s a page (the default
 * request timeout) it ends in under 17 hours.  Cursors are remembered as
 * 64-bit hashes (SHA-1 prefix), so the guard costs 16 bytes per page and, in
 * a walk that is not ascending, 16 bytes per item.
 *
 * Pure: no I/O, time is passed in (monotonic seconds).  Not thread-safe (one
 * guard per walk).
 */
#ifndef PDFS_WALKGUARD_H
#define PDFS_WALKGUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum walkguard_verdict {
	WALKGUARD_CONTINUE,        /* ask for the next cursor */
	WALKGUARD_DONE,            /* no next cursor: the walk is complete */
	WALKGUARD_CURSOR_REPEATED, /* the server gave a cursor a second time */
	WALKGUARD_NO_PROGRESS,     /* max_idle_pages pages in a row brought nothing new */
	WALKGUARD_TOO_MANY_ITEMS,
	WALKGUARD_TOO_MANY_PAGES,
	WALKGUARD_TOO_LONG,        /* the walk has run longer than max_seconds */
	WALKGUARD_CURSOR_TOO_LONG,
	WALKGUARD_OUT_OF_MEMORY,
};

struct walkguard_limits {
	uint64_t max_items;      /* items over the whole walk */
	uint64_t max_pages;
	double max_seconds;      /* from walkguard_init to the last page */
	unsigned max_idle_pages; /* pages in a row without anything new */
	size_t max_cursor_len;   /* bytes */
};

/* 2,000,000 items (twice the largest company pipedrivefs is built for),
 * 1,000,000 pages (page_limit=1 on a 1,000,000-person company), 24 hours,
 * 10 idle pages, 4 KiB cursors (Pipedrive's are about 100 bytes). */
#define WALKGUARD_DEFAULT_MAX_ITEMS 2000000u
#define WALKGUARD_DEFAULT_MAX_PAGES 1000000u
#define WALKGUARD_DEFAULT_MAX_SECONDS (24 * 3600.0)
#define WALKGUARD_DEFAULT_MAX_IDLE_PAGES 10u
#define WALKGUARD_DEFAULT_MAX_CURSOR_LEN 4096u

/* A set of 64-bit keys (open addressing). */
struct walkguard_set {
	uint64_t *slots; /* 0 = empty; key 0 is kept in has_zero */
	size_t cap;      /* a power of two, or 0 */
	size_t count;
	bool has_zero;
};

struct walkguard {
	struct walkguard_limits limits;
	bool ascending;
	double started;
	uint64_t items;
	uint64_t pages;
	unsigned idle_pages;
	uint64_t max_key;      /* ascending: the highest key seen */
	bool any_key;
	struct walkguard_set keys;    /* not ascending: every key seen */
	struct walkguard_set cursors; /* hashes of every cursor seen */
};

void walkguard_default_limits(struct walkguard_limits *out);
/* limits NULL: the defaults.  ascending: keys are ids in ascending order. */
void walkguard_init(struct walkguard *g, const struct walkguard_limits *limits, bool ascending,
		    double now);
void walkguard_free(struct walkguard *g);

/* The cursor the walk starts from (a walk that continues after a page it
 * fetched itself): a page that hands it back is a cycle.  CONTINUE, or why
 * not (too long, out of memory). */
enum walkguard_verdict walkguard_start_cursor(struct walkguard *g, const char *cursor, size_t len);

/* One page: item_count elements, whose identities are keys[0..nkeys) (ids;
 * elements without one may be left out or given another stable key), and
 * the next cursor (NULL on the last page).  DONE on the last page, CONTINUE
 * if the walk may ask for `next`, otherwise why it must stop; once stopped,
 * the walk must not ask again. */
enum walkguard_verdict walkguard_page(struct walkguard *g, const uint64_t *keys, size_t nkeys,
				      size_t item_count, const char *next, size_t next_len,
				      double now);

/* What went wrong, for a log line ("" for CONTINUE and DONE). */
const char *walkguard_reason(enum walkguard_verdict v);

#endif
