/*
 * store.h - the persistent cache: persons, listings and the journal of
 * pending writes, in one SQLite database per company and user.
 *
 * Knows nothing of HTTP or FUSE; cache.c decides what to keep (the policy),
 * this module only keeps it.
 *
 * Files.  The database lives in a folder of its own (by default
 * $XDG_CACHE_HOME/pipedrivefs, else ~/.cache/pipedrivefs) as "<name>.db",
 * with SQLite's -wal and -shm files beside it and a "<name>.lock" file.  A
 * folder it creates is 0700 and a database 0600, created that way (never
 * chmod'ed after).  An existing folder or database that group or others can
 * read, or that another user owns, is refused with a message saying how to
 * fix it.  The API token is never written here.
 *
 * Integrity.  Opening checks the file: SQLite's own header, our application
 * id and schema version, and PRAGMA quick_check.  A corrupted, truncated or
 * foreign database is moved aside ("<name>.db.broken-<time>") and a new one is
 * made; store_open reports it, so the caller logs one line.  Every value read
 * back is checked again (store_codec.h) before anyone uses it: a row that
 * fails is dropped and reported as -EINVAL, never served.  An I/O or
 * corruption error while mounted turns the store off for the rest of the
 * mount (every call then answers -EIO at once) with one log line.
 *
 * Crash safety.  WAL mode, synchronous=FULL: a transaction is on disk when
 * its call returns, and a SIGKILL leaves the last committed state.
 * store_save() writes listings and their persons in one transaction: a
 * listing is stored whole or not at all.
 *
 * Sharing.  One daemon owns a database at a time (an flock on the lock
 * file).  A second mount of the same company and user gets the next free
 * instance ("<name>.2.db", ...): its own database.
 *
 * Threads.  Any thread may call any function.  Two connections: reads (the
 * FUSE dispatch thread's on-demand loads) and writes (walks, journal), each
 * behind its own lock, so a long save never blocks a read (WAL).
 */
#ifndef PDFS_STORE_H
#define PDFS_STORE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store_codec.h"

#define STORE_SCHEMA_VERSION 1

struct store;

struct store_config {
	const char *dir;  /* the folder; NULL: the default one */
	const char *name; /* file name stem, e.g. "acme-7" (store_name builds it) */
};

struct store_open_report {
	char path[PATH_MAX];        /* the database in use */
	char moved_aside[PATH_MAX]; /* where a bad database went, or "" */
	char moved_why[160];        /* why it was moved */
	int instance;               /* 1, or 2.. when another mount owns the first */
};

/* The default folder into buf; false if neither XDG_CACHE_HOME nor HOME is
 * set (or the path does not fit). */
bool store_default_dir(char *buf, size_t len);
/* "<company>-<user id>" with anything but [a-z0-9_-] replaced by "_". */
void store_name(char *buf, size_t len, const char *company, int64_t user_id);

/* Open (creating what is missing).  0, or -errno with a message for the user
 * in err: -EACCES for a folder or database others can read or another user
 * owns (the message says how to fix it), -EBUSY when every instance is owned
 * by other mounts, -EIO/-ENOMEM otherwise. */
int store_open(const struct store_config *cfg, struct store **out, struct store_open_report *rep,
	       char *err, size_t errlen);
void store_close(struct store *s);
/* The database file in use. */
const char *store_path(const struct store *s);
/* False once the store turned itself off after an error. */
bool store_usable(struct store *s);

/* Small settings of the company kept across mounts (company domain, person
 * fields, render fingerprint ...).  -ENOENT if absent. */
int store_meta_get(struct store *s, const char *key, char **value);
int store_meta_put(struct store *s, const char *key, const char *value);

/* One person: *mem is one malloc'd block that every pointer of *row points
 * into (free it with free()).  0, -ENOENT, -EINVAL (the row failed its
 * checks and was dropped), -EIO. */
int store_get_person(struct store *s, int64_t id, struct store_person_row *row, void **mem);

/* Call fn with each person of ids[0..n) in turn (the row's pointers are
 * valid during the call only).  Stops at the first id that is missing
 * (-ENOENT), fails its checks (-EINVAL), or whose fn returns non-zero (that
 * value).  For loading a whole listing with one statement. */
int store_each_person(struct store *s, const int64_t *ids, size_t n,
		      int (*fn)(void *ctx, const struct store_person_row *row), void *ctx);

/* A directory's listing as stored.  Wall-clock times, Unix seconds. */
struct store_listing {
	uint64_t key;          /* the directory's cache key */
	size_t count;
	int64_t *ids;          /* ascending; malloc'd, or borrowed */
	bool ids_borrowed;     /* ids belong to the caller: store_listing_clear leaves them */
	char **names;          /* group roots: a link name per id (NULL: none), else NULL */
	char synced_to[32];    /* server time the listing is complete up to, or "" */
	int64_t fetched_at;    /* when it was last walked or refreshed */
	int64_t full_walk_at;  /* when its last full walk ended */
};
void store_listing_clear(struct store_listing *l);

/* 0, -ENOENT, -EINVAL (dropped: it failed its checks), -EIO.  The persons
 * of a stored listing are stored too. */
int store_get_listing(struct store *s, uint64_t key, struct store_listing *out);
/* True if a listing of key is stored (a cheap look, nothing decoded). */
bool store_has_listing(struct store *s, uint64_t key);
/* Every stored listing's key (malloc'd array). */
int store_listing_keys(struct store *s, uint64_t **keys, size_t *count);
/* Save listings and persons in ONE transaction (all or nothing).  A person
 * whose bytes are unchanged is not rewritten. */
int store_save(struct store *s, const struct store_listing *listings, size_t nlistings,
	       const struct store_person_row *persons, size_t npersons);
int store_drop_listing(struct store *s, uint64_t key);
/* Forget persons deleted on the server (in one transaction); 0 or -errno. */
int store_drop_persons(struct store *s, const int64_t *ids, size_t n);
/* Drop every listing and person (the render settings changed). */
int store_clear(struct store *s);
/* Remove persons no stored listing refers to; *removed (may be NULL). */
int store_collect_garbage(struct store *s, size_t *removed);

/* The journal of writes not yet delivered, oldest first. */
struct store_journal_entry {
	int64_t seq;
	int64_t created;   /* Unix seconds */
	char *kind;        /* e.g. "patch", "create", "delete" */
	int64_t person_id; /* 0 for a create */
	char *payload;     /* what to send and what it was based on (caller's format) */
	int attempts;
	char *last_error;  /* or NULL */
};
/* Append durably (on disk when it returns); *seq gets its number. */
int store_journal_append(struct store *s, const char *kind, int64_t person_id,
			 const char *payload, int64_t *seq);
int store_journal_list(struct store *s, struct store_journal_entry **entries, size_t *count);
void store_journal_free(struct store_journal_entry *entries, size_t count);
int store_journal_remove(struct store *s, int64_t seq);
int store_journal_note_failure(struct store *s, int64_t seq, const char *error);

struct store_stats {
	uint64_t file_bytes; /* database + WAL */
	uint64_t persons;
	uint64_t listings;
	uint64_t journal;
	uint64_t dropped_rows; /* rows that failed their checks */
	bool usable;
};
void store_get_stats(struct store *s, struct store_stats *out);

#endif
