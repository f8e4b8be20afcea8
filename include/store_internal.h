/*
 * store_internal.h - what store.c and store_journal.c share: the store's
 * state and the error and statement helpers.  Not for other modules.
 */
#ifndef PDFS_STORE_INTERNAL_H
#define PDFS_STORE_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

struct store {
	char path[PATH_MAX];
	int lock_fd;              /* flock'ed for the life of the store */
	pthread_mutex_t rd_lock;  /* guards rd */
	sqlite3 *rd;              /* reads (query_only) */
	pthread_mutex_t wr_lock;  /* guards wr */
	sqlite3 *wr;              /* writes and transactions */
	atomic_bool disabled;     /* a fatal error turned the store off */
	atomic_uint_fast64_t dropped_rows;
};

/* True for errors after which the database cannot be trusted. */
bool store_is_fatal(int sqlite_rc);
/* Map an SQLite error to -errno; fatal errors turn the store off (one log
 * line), others are logged as warnings. */
int store_error(struct store *s, sqlite3 *db, int sqlite_rc, const char *what);
int store_exec(struct store *s, sqlite3 *db, const char *sql, const char *what);
int store_prepare(struct store *s, sqlite3 *db, const char *sql, sqlite3_stmt **st);

#endif
