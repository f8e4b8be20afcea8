/*
 * bytecache.h - persons' bytes within a bound, the rest on disk.
 *
 * With a disk cache and cache_max_mb, the cache keeps persons "light" in its
 * listings (attributes only: person_light) and their bytes (compact JSON,
 * vCard) here: the most recently used full persons up to max_bytes, and any
 * other read back from the store on demand.  A full person not yet written
 * to the store is "dirty": it stays until written, and dirty persons are
 * written in batches (one transaction per BYTECACHE_BATCH persons, or at
 * bytecache_flush) on the thread that adds them.
 *
 * Versions: a person read back from the store is used only if its digest is
 * the one asked for (person_digest), so bytes and attributes always come from
 * the same version; otherwise the caller fetches it again.
 *
 * Knows the store and persons; not HTTP, not FUSE.  Thread-safe.
 */
#ifndef PDFS_BYTECACHE_H
#define PDFS_BYTECACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "person.h"
#include "store.h"

#define BYTECACHE_BATCH 500

struct bytecache;

struct bytecache_stats {
	uint64_t persons;    /* full persons held */
	uint64_t bytes;      /* what they hold */
	uint64_t dirty;      /* of them not yet written */
	uint64_t loads;      /* read back from the store */
	uint64_t load_misses; /* not there, or another version */
};

struct bytecache *bytecache_new(struct store *store, uint64_t max_bytes);
/* Writes what is dirty, then frees. */
void bytecache_free(struct bytecache *b);
/* Keep full person p (takes a new reference); dirty: not in the store yet. */
void bytecache_put(struct bytecache *b, struct person *p, bool dirty);
/* The full person of id whose digest is `digest` (a new reference), from
 * memory or the store; NULL if neither has that version. */
struct person *bytecache_get(struct bytecache *b, int64_t id, uint64_t digest);
/* The newest version of id this cache has (memory, else the store), a new
 * reference; NULL if neither has one.  What a listing by ids shows. */
struct person *bytecache_get_current(struct bytecache *b, int64_t id);
/* Persons deleted on the server: out of memory and off the disk, so that
 * nothing reads them back.  0 or -errno (logged by the store). */
int bytecache_forget(struct bytecache *b, const int64_t *ids, size_t n);
/* False once the store turned itself off: persons let go would be lost. */
bool bytecache_usable(struct bytecache *b);
/* Write every dirty person now: 0 or -errno (the store logged why). */
int bytecache_flush(struct bytecache *b);
void bytecache_get_stats(struct bytecache *b, struct bytecache_stats *out);

#endif
