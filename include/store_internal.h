/*
 * store_internal.h - what the store's files share (store.c, store_files.c,
 * store_rows.c, store_journal.c): the store's state, the error and statement
 * helpers, and the file checks store_open uses.  Not for other modules.
 */
#ifndef PDFS_STORE_INTERNAL_H
#define PDFS_STORE_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
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

/* Files (store_files.c).  Each returns 0 or -errno with a message in err
 * that says what to do. */
struct store_open_report;
/* mkdir -p with 0700 for what it creates; the last folder must be private. */
int store_make_private_dir(const char *dir, char *err, size_t errlen);
/* The database file: checked if it exists, else created 0600. */
int store_make_private_file(const char *path, char *err, size_t errlen);
/* SQLite's -wal and -shm files, if present, must be as private as the database. */
int store_check_companions(const char *db_path, char *err, size_t errlen);
/* Take "<db_path>.lock" (private, flock'ed) into *fd_out; -EBUSY if another
 * mount holds it. */
int store_lock_instance(const char *db_path, int *fd_out, char *err, size_t errlen);
/* Rename a broken database and its companions to "<path>.broken-<time>"
 * (removed if that fails); rep->moved_aside names the new path. */
void store_move_aside(const char *path, struct store_open_report *rep);

#endif
