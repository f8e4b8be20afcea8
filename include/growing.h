/*
 * growing.h - a directory's listing while its first walk is still running.
 *
 * The walker appends the persons of each page as they are built; readers
 * (open directory handles, lookups) see every person appended so far, in
 * the order they arrived, and wait for more.  Positions never change: the
 * persons are only ever appended, each id once, so an open handle's offsets
 * stay valid.  When the walk ends, growing_finish appends the persons of the
 * final listing that did not arrive through pages (a person changed during
 * the walk, or one the walker held back until the names its card shows were
 * known) and marks it complete - or failed, and then a reader past the
 * persons it has is told the error (never a silent end of the listing).
 *
 * Knows persons and listings, not FUSE or HTTP.  Reference counted and
 * thread-safe; waiters are called without the lock, from the appending or
 * finishing thread, exactly once each.
 */
#ifndef PDFS_GROWING_H
#define PDFS_GROWING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "listing.h"
#include "person.h"

struct growing;

struct growing_waiter {
	struct growing_waiter *next;
	void (*ready)(struct growing_waiter *w);
};

struct growing *growing_new(void);
/* A growing listing that keeps ids, not persons (a cache that lists by ids),
 * in about 4 to 7 bytes each (idorder.h, idset.h): growing_slice and growing_find
 * get each person from resolve (a new reference, or NULL when it can be had
 * nowhere: an entry the reader must answer with EIO). */
typedef struct person *(*growing_resolve_fn)(void *ctx, int64_t id);
struct growing *growing_new_by_ids(growing_resolve_fn resolve, void *ctx);
struct growing *growing_ref(struct growing *g);
void growing_unref(struct growing *g);

/* Append persons (taking new references); an id already there is skipped.
 * Wakes the waiters when anything was added. */
void growing_append(struct growing *g, struct person *const *persons, size_t n);
/* The walk ended: with its listing (err 0), or failed (err > 0). */
void growing_finish(struct growing *g, const struct listing *l, int err);

/* How many persons there are; *done when the walk ended, *err its error. */
size_t growing_count(struct growing *g, bool *done, int *err);
/* Persons from position `from`, at most max, into out (new references;
 * by ids, an entry may be NULL: see growing_new_by_ids); returns how many. */
size_t growing_slice(struct growing *g, size_t from, size_t max, struct person **out);
/* The person with this id (a new reference), or NULL if not (yet) there. */
struct person *growing_find(struct growing *g, int64_t id);
/* Wait for more than `have` persons or the end: false (w not queued) if
 * that is already so; else w->ready runs once, later. */
bool growing_wait(struct growing *g, size_t have, struct growing_waiter *w);

#endif
