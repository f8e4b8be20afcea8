/*
 * store.c - the persistent cache in SQLite (see store.h): opening a database
 * (checked, moved aside and made anew if bad, one instance per owner),
 * the error and statement helpers, settings (meta), and maintenance (clear,
 * garbage collection, stats).
 *
 * Elsewhere: the files and their privacy in store_files.c, persons and
 * listings in store_rows.c, the journal of pending writes in
 * store_journal.c, blob layouts in store_codec.c.
 */
#include "store.h"
#include "store_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define APPLICATION_ID 0x50444653 /* "PDFS" */
#define MAX_INSTANCES 8
#define BUSY_TIMEOUT_MS 5000
#define PAGE_CACHE_KIB 2048

static const char *const schema_sql =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS persons("
	" id INTEGER PRIMARY KEY, owner_id INTEGER NOT NULL, org_id INTEGER NOT NULL,"
	" update_time INTEGER NOT NULL, deleted INTEGER NOT NULL, base TEXT NOT NULL,"
	" pretty_len INTEGER NOT NULL, json BLOB NOT NULL, vcf BLOB NOT NULL);"
	"CREATE TABLE IF NOT EXISTS listings("
	" key INTEGER PRIMARY KEY, synced_to TEXT NOT NULL, fetched_at INTEGER NOT NULL,"
	" full_walk_at INTEGER NOT NULL, count INTEGER NOT NULL, ids BLOB NOT NULL, names BLOB);"
	"CREATE TABLE IF NOT EXISTS journal("
	" seq INTEGER PRIMARY KEY AUTOINCREMENT, created INTEGER NOT NULL, kind TEXT NOT NULL,"
	" person_id INTEGER NOT NULL, payload TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
	" last_error TEXT);";

/* ------------------------------------------------------------------ */
/* Statements and errors                                                */

bool store_is_fatal(int rc)
{
	int primary = rc & 0xff;
	return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB || primary == SQLITE_IOERR ||
	       primary == SQLITE_FULL || primary == SQLITE_CANTOPEN || primary == SQLITE_READONLY;
}

int store_error(struct store *s, sqlite3 *db, int rc, const char *what)
{
	if ((rc & 0xff) == SQLITE_NOMEM)
		return -ENOMEM;
	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
		return -EBUSY;
	if (store_is_fatal(rc) && !atomic_exchange(&s->disabled, true))
		log_error("the cache database %s failed while %s (%s); pipedrivefs continues "
			  "without it and rebuilds it at the next mount", s->path, what,
			  db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	else if (!store_is_fatal(rc))
		log_warn("the cache database %s: %s failed: %s", s->path, what,
			 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	return -EIO;
}

int store_exec(struct store *s, sqlite3 *db, const char *sql, const char *what)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : store_error(s, db, rc, what);
}

int store_prepare(struct store *s, sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v3(db, sql, -1, 0, st, NULL);
	return rc == SQLITE_OK ? 0 : store_error(s, db, rc, "preparing a statement");
}

/* ------------------------------------------------------------------ */
/* Opening and checking a database                                      */

/* A single integer from a pragma; sets *rc. */
static int64_t pragma_int(sqlite3 *db, const char *sql, int *rc)
{
	sqlite3_stmt *st = NULL;
	int64_t v = 0;
	*rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (*rc == SQLITE_OK) {
		*rc = sqlite3_step(st);
		if (*rc == SQLITE_ROW) {
			v = sqlite3_column_int64(st, 0);
			*rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(st);
	return v;
}

/* "" if the database passes quick_check, else the first complaint. */
static int quick_check(sqlite3 *db, char *why, size_t len)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st, NULL);
	why[0] = '\0';
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(st, 0);
		if (!text || strcmp(text, "ok") != 0)
			snprintf(why, len, "integrity check: %s", text ? text : "no answer");
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK)
		snprintf(why, len, "%s", sqlite3_errstr(rc));
	return rc;
}

static sqlite3 *open_connection(const char *path, int *rc)
{
	sqlite3 *db = NULL;
	*rc = sqlite3_open_v2(path, &db,
			      SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW, NULL);
	if (*rc != SQLITE_OK) {
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(db, 1);
	return db;
}

/* Why this file is not a usable database of ours, in why ("" if it is);
 * a new (empty) file gets the schema. */
static int check_or_init(sqlite3 *db, char *why, size_t len)
{
	int rc;
	why[0] = '\0';
	int64_t pages = pragma_int(db, "PRAGMA page_count", &rc);
	if (rc != SQLITE_OK) {
		snprintf(why, len, "unreadable (%s)", sqlite3_errstr(rc));
		return 0;
	}
	if (pages == 0) {
		char sql[256];
		snprintf(sql, sizeof(sql), "PRAGMA application_id=%d; PRAGMA user_version=%d;",
			 APPLICATION_ID, STORE_SCHEMA_VERSION);
		if (sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(db, schema_sql, NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
			snprintf(why, len, "cannot create the schema (%s)", sqlite3_errmsg(db));
			return -EIO;
		}
		return 0;
	}
	int64_t app = pragma_int(db, "PRAGMA application_id", &rc);
	if (rc == SQLITE_OK && app != APPLICATION_ID) {
		snprintf(why, len, "not a pipedrivefs cache (application id %" PRId64 ")", app);
		return 0;
	}
	int64_t version = rc == SQLITE_OK ? pragma_int(db, "PRAGMA user_version", &rc) : 0;
	if (rc == SQLITE_OK && version != STORE_SCHEMA_VERSION) {
		snprintf(why, len, "schema version %" PRId64 ", this pipedrivefs uses %d", version,
			 STORE_SCHEMA_VERSION);
		return 0;
	}
	if (rc != SQLITE_OK) {
		snprintf(why, len, "unreadable (%s)", sqlite3_errstr(rc));
		return 0;
	}
	quick_check(db, why, len);
	return 0;
}

static int configure(sqlite3 *db, bool reader)
{
	char sql[160];
	snprintf(sql, sizeof(sql),
		 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-%d;"
		 "PRAGMA mmap_size=0; PRAGMA query_only=%d;",
		 PAGE_CACHE_KIB, reader ? 1 : 0);
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

/* Open one instance's file: checked, moved aside and made anew if bad. */
static int open_instance(struct store *s, struct store_open_report *rep, char *err, size_t errlen)
{
	int rc = store_make_private_file(s->path, err, errlen);
	if (rc == 0)
		rc = store_check_companions(s->path, err, errlen);
	if (rc)
		return rc;
	for (int attempt = 0; attempt < 2; attempt++) {
		int src;
		char why[200];
		sqlite3 *db = open_connection(s->path, &src);
		if (!db) {
			snprintf(why, sizeof(why), "cannot be opened (%s)", sqlite3_errstr(src));
		} else if (check_or_init(db, why, sizeof(why)) != 0) {
			sqlite3_close(db);
			snprintf(err, errlen, "cache database %s: %s", s->path, why);
			return -EIO;
		}
		if (db && !why[0]) {
			s->wr = db;
			if (configure(s->wr, false) != 0 || !(s->rd = open_connection(s->path, &src)) ||
			    configure(s->rd, true) != 0) {
				snprintf(err, errlen, "cache database %s: cannot configure it (%s)", s->path,
					 sqlite3_errmsg(s->rd ? s->rd : s->wr));
				return -EIO;
			}
			return 0;
		}
		sqlite3_close(db);
		if (attempt == 0) {
			snprintf(rep->moved_why, sizeof(rep->moved_why), "%s", why);
			store_move_aside(s->path, rep);
			rc = store_make_private_file(s->path, err, errlen);
			if (rc)
				return rc;
		}
	}
	snprintf(err, errlen, "cache database %s cannot be made anew", s->path);
	return -EIO;
}

int store_open(const struct store_config *cfg, struct store **out, struct store_open_report *rep,
	       char *err, size_t errlen)
{
	*out = NULL;
	memset(rep, 0, sizeof(*rep));
	char dir[PATH_MAX];
	if (cfg->dir)
		snprintf(dir, sizeof(dir), "%s", cfg->dir);
	else if (!store_default_dir(dir, sizeof(dir))) {
		snprintf(err, errlen, "no cache folder: set HOME or XDG_CACHE_HOME, or give "
				      "-o cache_dir=, or -o disk_cache=no");
		return -EINVAL;
	}
	int rc = store_make_private_dir(dir, err, errlen);
	if (rc)
		return rc;
	struct store *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->lock_fd = -1;
	pthread_mutex_init(&s->rd_lock, NULL);
	pthread_mutex_init(&s->wr_lock, NULL);
	rc = -EBUSY;
	for (int instance = 1; instance <= MAX_INSTANCES && rc == -EBUSY; instance++) {
		int n = instance == 1 ? snprintf(s->path, sizeof(s->path), "%s/%s.db", dir, cfg->name)
				      : snprintf(s->path, sizeof(s->path), "%s/%s.%d.db", dir, cfg->name,
						 instance);
		if (n < 0 || (size_t)n >= sizeof(s->path)) {
			snprintf(err, errlen, "cache folder path too long: %s", dir);
			rc = -ENAMETOOLONG;
			break;
		}
		rc = store_lock_instance(s->path, &s->lock_fd, err, errlen);
		if (rc == 0)
			rep->instance = instance;
	}
	if (rc == -EBUSY)
		snprintf(err, errlen, "%d other mounts of this company already use the cache in %s; "
				      "unmount one or use -o disk_cache=no", MAX_INSTANCES, dir);
	if (rc == 0)
		rc = open_instance(s, rep, err, errlen);
	if (rc) {
		store_close(s);
		return rc;
	}
	snprintf(rep->path, sizeof(rep->path), "%s", s->path);
	*out = s;
	return 0;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	sqlite3_close(s->rd);
	sqlite3_close(s->wr);
	if (s->lock_fd >= 0)
		close(s->lock_fd); /* releases the flock */
	pthread_mutex_destroy(&s->rd_lock);
	pthread_mutex_destroy(&s->wr_lock);
	free(s);
}

const char *store_path(const struct store *s)
{
	return s->path;
}

bool store_usable(struct store *s)
{
	return s && !atomic_load(&s->disabled);
}

/* ------------------------------------------------------------------ */
/* Meta                                                                 */

int store_meta_get(struct store *s, const char *key, char **value)
{
	*value = NULL;
	if (!store_usable(s))
		return -EIO;
	pthread_mutex_lock(&s->rd_lock);
	sqlite3_stmt *st = NULL;
	int rc = store_prepare(s, s->rd, "SELECT value FROM meta WHERE key=?", &st);
	if (rc == 0) {
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		int step = sqlite3_step(st);
		if (step == SQLITE_ROW) {
			const char *text = (const char *)sqlite3_column_text(st, 0);
			rc = text && (*value = strdup(text)) ? 0 : -ENOMEM;
		} else {
			rc = step == SQLITE_DONE ? -ENOENT : store_error(s, s->rd, step, "reading settings");
		}
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->rd_lock);
	return rc;
}

int store_meta_put(struct store *s, const char *key, const char *value)
{
	if (!store_usable(s))
		return -EIO;
	pthread_mutex_lock(&s->wr_lock);
	sqlite3_stmt *st = NULL;
	int rc = store_prepare(s, s->wr, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", &st);
	if (rc == 0) {
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
		int step = sqlite3_step(st);
		rc = step == SQLITE_DONE ? 0 : store_error(s, s->wr, step, "saving settings");
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->wr_lock);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Maintenance                                                          */

int store_clear(struct store *s)
{
	if (!store_usable(s))
		return -EIO;
	pthread_mutex_lock(&s->wr_lock);
	int rc = store_exec(s, s->wr, "BEGIN IMMEDIATE; DELETE FROM listings; DELETE FROM persons; "
				      "COMMIT;", "clearing the cache");
	if (rc)
		sqlite3_exec(s->wr, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_unlock(&s->wr_lock);
	return rc;
}

int store_collect_garbage(struct store *s, size_t *removed)
{
	if (removed)
		*removed = 0;
	if (!store_usable(s))
		return -EIO;
	uint64_t *keys = NULL;
	size_t nkeys = 0;
	int rc = store_listing_keys(s, &keys, &nkeys);
	if (rc)
		return rc;
	pthread_mutex_lock(&s->wr_lock);
	sqlite3_stmt *keep = NULL;
	rc = store_exec(s, s->wr,
			"CREATE TEMP TABLE IF NOT EXISTS keep(id INTEGER PRIMARY KEY);"
			"DELETE FROM temp.keep; BEGIN IMMEDIATE;", "collecting garbage");
	if (rc == 0)
		rc = store_prepare(s, s->wr, "INSERT OR IGNORE INTO temp.keep(id) VALUES(?)", &keep);
	for (size_t k = 0; rc == 0 && k < nkeys; k++) {
		struct store_listing l; /* read through the reader connection */
		int got = store_get_listing(s, keys[k], &l);
		if (got == -EINVAL || got == -ENOENT)
			continue;
		if (got) {
			rc = got;
			break;
		}
		for (size_t i = 0; rc == 0 && !l.names && i < l.count; i++) {
			sqlite3_reset(keep);
			sqlite3_bind_int64(keep, 1, l.ids[i]);
			int step = sqlite3_step(keep);
			if (step != SQLITE_DONE)
				rc = store_error(s, s->wr, step, "collecting garbage");
		}
		store_listing_clear(&l);
	}
	sqlite3_finalize(keep);
	if (rc == 0)
		rc = store_exec(s, s->wr, "DELETE FROM persons WHERE id NOT IN (SELECT id FROM temp.keep)",
				"collecting garbage");
	if (rc == 0 && removed)
		*removed = (size_t)sqlite3_changes(s->wr);
	if (rc == 0)
		rc = store_exec(s, s->wr, "COMMIT", "collecting garbage");
	if (rc)
		sqlite3_exec(s->wr, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_unlock(&s->wr_lock);
	free(keys);
	return rc;
}

static uint64_t file_size(const char *path, const char *suffix)
{
	char full[PATH_MAX + 8];
	struct stat st;
	snprintf(full, sizeof(full), "%s%s", path, suffix);
	return stat(full, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static uint64_t count_rows(struct store *s, const char *sql)
{
	int rc;
	pthread_mutex_lock(&s->rd_lock);
	int64_t n = pragma_int(s->rd, sql, &rc);
	pthread_mutex_unlock(&s->rd_lock);
	return rc == SQLITE_OK && n > 0 ? (uint64_t)n : 0;
}

void store_get_stats(struct store *s, struct store_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!s)
		return;
	out->usable = store_usable(s);
	out->dropped_rows = atomic_load(&s->dropped_rows);
	out->file_bytes = file_size(s->path, "") + file_size(s->path, "-wal");
	if (!out->usable)
		return;
	out->persons = count_rows(s, "SELECT count(*) FROM persons");
	out->listings = count_rows(s, "SELECT count(*) FROM listings");
	out->journal = count_rows(s, "SELECT count(*) FROM journal");
}
