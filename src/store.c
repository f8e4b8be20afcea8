/*
 * store.c - the persistent cache in SQLite (see store.h).
 *
 * Sections: files and permissions, opening and checking a database,
 * statements and errors, persons, listings, maintenance.  The journal of
 * pending writes is in store_journal.c.
 */
#include "store.h"
#include "store_internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "strbuf.h"

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
/* Files and permissions                                                */

bool store_default_dir(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	int n;
	if (xdg && xdg[0] == '/')
		n = snprintf(buf, len, "%s/pipedrivefs", xdg);
	else if (home && home[0] == '/')
		n = snprintf(buf, len, "%s/.cache/pipedrivefs", home);
	else
		return false;
	return n > 0 && (size_t)n < len;
}

void store_name(char *buf, size_t len, const char *company, int64_t user_id)
{
	if (len == 0)
		return;
	snprintf(buf, len, "%s-%" PRId64, company && company[0] ? company : "api", user_id);
	for (char *p = buf; *p; p++) {
		unsigned char c = (unsigned char)tolower((unsigned char)*p);
		*p = (char)((isalnum(c) && c < 0x80) || c == '-' || c == '_' ? c : '_');
	}
}

/* An existing folder or file must be ours and closed to others. */
static int check_private(const char *path, const struct stat *st, bool dir, char *err,
			 size_t errlen)
{
	if (dir ? !S_ISDIR(st->st_mode) : !S_ISREG(st->st_mode)) {
		snprintf(err, errlen, "cache %s %s is not a %s; remove it or choose another "
				      "folder with -o cache_dir=", dir ? "folder" : "database", path,
			 dir ? "folder" : "regular file");
		return -EACCES;
	}
	if (st->st_uid != geteuid()) {
		snprintf(err, errlen, "cache %s %s belongs to another user; choose your own folder "
				      "with -o cache_dir=", dir ? "folder" : "database", path);
		return -EACCES;
	}
	if (st->st_mode & 077) {
		snprintf(err, errlen, "cache %s %s can be read by others (mode %03o) and holds "
				      "personal data: run chmod %s %s",
			 dir ? "folder" : "database", path, (unsigned)(st->st_mode & 0777),
			 dir ? "700" : "600", path);
		return -EACCES;
	}
	return 0;
}

/* mkdir -p with 0700 for what it creates; the last folder must be private. */
static int make_private_dir(const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path) || path[0] != '/') {
		snprintf(err, errlen, "cache folder %s: give an absolute path", dir);
		return -EINVAL;
	}
	for (char *p = path + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST) {
			snprintf(err, errlen, "cannot create cache folder %s: %s", path, strerror(errno));
			return -errno;
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
	struct stat st;
	if (lstat(dir, &st) != 0) {
		snprintf(err, errlen, "cache folder %s: %s", dir, strerror(errno));
		return -errno;
	}
	return check_private(dir, &st, true, err, errlen);
}

/* The database file: checked if it exists, else created 0600. */
static int make_private_file(const char *path, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(path, &st) == 0)
		return check_private(path, &st, false, err, errlen);
	if (errno != ENOENT) {
		snprintf(err, errlen, "cache database %s: %s", path, strerror(errno));
		return -errno;
	}
	int fd = open(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create cache database %s: %s", path, strerror(errno));
		return -errno;
	}
	close(fd);
	return 0;
}

/* SQLite's companions, if present, must be as private as the database. */
static int check_companions(const char *db_path, char *err, size_t errlen)
{
	static const char *const suffixes[] = { "-wal", "-shm" };
	for (size_t i = 0; i < 2; i++) {
		char path[PATH_MAX + 8];
		struct stat st;
		snprintf(path, sizeof(path), "%s%s", db_path, suffixes[i]);
		if (lstat(path, &st) == 0) {
			int rc = check_private(path, &st, false, err, errlen);
			if (rc)
				return rc;
		}
	}
	return 0;
}

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

static void move_aside(const char *path, struct store_open_report *rep)
{
	char stamp[32], dest[PATH_MAX + 64];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	snprintf(dest, sizeof(dest), "%s.broken-%s", path, stamp);
	if (rename(path, dest) != 0)
		unlink(path);
	else
		snprintf(rep->moved_aside, sizeof(rep->moved_aside), "%s", dest);
	static const char *const suffixes[] = { "-wal", "-shm" };
	for (size_t i = 0; i < 2; i++) {
		char side[PATH_MAX + 8], side_dest[PATH_MAX + 72];
		snprintf(side, sizeof(side), "%s%s", path, suffixes[i]);
		snprintf(side_dest, sizeof(side_dest), "%s%s", dest, suffixes[i]);
		if (rename(side, side_dest) != 0)
			unlink(side);
	}
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

/* Take the instance's lock file; -EBUSY if another mount holds it. */
static int lock_instance(const char *db_path, int *fd_out, char *err, size_t errlen)
{
	char path[PATH_MAX + 8];
	snprintf(path, sizeof(path), "%s.lock", db_path);
	struct stat st;
	if (lstat(path, &st) == 0) {
		int rc = check_private(path, &st, false, err, errlen);
		if (rc)
			return rc;
	}
	int fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		close(fd);
		if (e == EWOULDBLOCK)
			return -EBUSY;
		snprintf(err, errlen, "cannot lock %s: %s", path, strerror(e));
		return -e;
	}
	*fd_out = fd;
	return 0;
}

/* Open one instance's file: checked, moved aside and made anew if bad. */
static int open_instance(struct store *s, struct store_open_report *rep, char *err, size_t errlen)
{
	int rc = make_private_file(s->path, err, errlen);
	if (rc == 0)
		rc = check_companions(s->path, err, errlen);
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
			move_aside(s->path, rep);
			rc = make_private_file(s->path, err, errlen);
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
	int rc = make_private_dir(dir, err, errlen);
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
		rc = lock_instance(s->path, &s->lock_fd, err, errlen);
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
/* Persons                                                              */

static size_t column_bytes(sqlite3_stmt *st, int col, const void **data)
{
	*data = sqlite3_column_blob(st, col);
	int n = sqlite3_column_bytes(st, col);
	return n > 0 && *data ? (size_t)n : 0;
}

int store_get_person(struct store *s, int64_t id, struct store_person_row *row, void **mem)
{
	*mem = NULL;
	memset(row, 0, sizeof(*row));
	if (!store_usable(s))
		return -EIO;
	pthread_mutex_lock(&s->rd_lock);
	sqlite3_stmt *st = NULL;
	int rc = store_prepare(s, s->rd,
			       "SELECT owner_id, org_id, update_time, deleted, base, pretty_len, json, vcf "
			       "FROM persons WHERE id=?", &st);
	if (rc == 0) {
		sqlite3_bind_int64(st, 1, id);
		int step = sqlite3_step(st);
		if (step == SQLITE_ROW) {
			const void *base, *json, *vcf;
			size_t base_len = column_bytes(st, 4, &base);
			size_t json_len = column_bytes(st, 6, &json);
			size_t vcf_len = column_bytes(st, 7, &vcf);
			char *block = malloc(base_len + json_len + vcf_len + 3);
			if (!block) {
				rc = -ENOMEM;
			} else {
				char *p = block;
				row->id = id;
				row->owner_id = sqlite3_column_int64(st, 0);
				row->org_id = sqlite3_column_int64(st, 1);
				row->update_time = sqlite3_column_int64(st, 2);
				row->deleted = sqlite3_column_int64(st, 3) != 0;
				int64_t pretty = sqlite3_column_int64(st, 5);
				row->pretty_len = pretty > 0 ? (size_t)pretty : 0;
				row->base = memcpy(p, base_len ? base : "", base_len);
				row->base_len = base_len;
				p[base_len] = '\0';
				p += base_len + 1;
				row->json = memcpy(p, json_len ? json : "", json_len);
				row->json_len = json_len;
				p[json_len] = '\0';
				p += json_len + 1;
				row->vcf = memcpy(p, vcf_len ? vcf : "", vcf_len);
				row->vcf_len = vcf_len;
				p[vcf_len] = '\0';
				*mem = block;
			}
		} else {
			rc = step == SQLITE_DONE ? -ENOENT : store_error(s, s->rd, step, "reading a person");
		}
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->rd_lock);
	if (rc == 0 && store_check_person_row(row, NULL) != 0) {
		atomic_fetch_add(&s->dropped_rows, 1);
		free(*mem);
		*mem = NULL;
		memset(row, 0, sizeof(*row));
		rc = -EINVAL;
	}
	return rc;
}

int store_each_person(struct store *s, const int64_t *ids, size_t n,
		      int (*fn)(void *ctx, const struct store_person_row *row), void *ctx)
{
	if (!store_usable(s))
		return -EIO;
	pthread_mutex_lock(&s->rd_lock);
	sqlite3_stmt *st = NULL;
	int rc = store_prepare(s, s->rd,
			       "SELECT owner_id, org_id, update_time, deleted, base, pretty_len, json, vcf "
			       "FROM persons WHERE id=?", &st);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, ids[i]);
		int step = sqlite3_step(st);
		if (step != SQLITE_ROW) {
			rc = step == SQLITE_DONE ? -ENOENT : store_error(s, s->rd, step, "reading a person");
			break;
		}
		const void *base, *json, *vcf;
		struct store_person_row row = {
			.id = ids[i],
			.owner_id = sqlite3_column_int64(st, 0),
			.org_id = sqlite3_column_int64(st, 1),
			.update_time = sqlite3_column_int64(st, 2),
			.deleted = sqlite3_column_int64(st, 3) != 0,
		};
		int64_t pretty = sqlite3_column_int64(st, 5);
		row.pretty_len = pretty > 0 ? (size_t)pretty : 0;
		row.base_len = column_bytes(st, 4, &base);
		row.json_len = column_bytes(st, 6, &json);
		row.vcf_len = column_bytes(st, 7, &vcf);
		row.base = base;
		row.json = json;
		row.vcf = vcf;
		if (store_check_person_row(&row, NULL) != 0) {
			atomic_fetch_add(&s->dropped_rows, 1);
			rc = -EINVAL;
			break;
		}
		rc = fn(ctx, &row);
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->rd_lock);
	return rc;
}

/* Upsert one person; lock held, inside a transaction. */
static int put_person(struct store *s, sqlite3_stmt *st, const struct store_person_row *p)
{
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, p->id);
	sqlite3_bind_int64(st, 2, p->owner_id);
	sqlite3_bind_int64(st, 3, p->org_id);
	sqlite3_bind_int64(st, 4, p->update_time);
	sqlite3_bind_int(st, 5, p->deleted ? 1 : 0);
	sqlite3_bind_text(st, 6, p->base, (int)p->base_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, (int64_t)p->pretty_len);
	sqlite3_bind_blob(st, 8, p->json, (int)p->json_len, SQLITE_STATIC);
	sqlite3_bind_blob(st, 9, p->vcf, (int)p->vcf_len, SQLITE_STATIC);
	int step = sqlite3_step(st);
	return step == SQLITE_DONE ? 0 : store_error(s, s->wr, step, "saving a person");
}

/* ------------------------------------------------------------------ */
/* Listings                                                             */

void store_listing_clear(struct store_listing *l)
{
	free(l->ids);
	store_free_names(l->names, l->count);
	memset(l, 0, sizeof(*l));
}

int store_get_listing(struct store *s, uint64_t key, struct store_listing *out)
{
	memset(out, 0, sizeof(*out));
	if (!store_usable(s))
		return -EIO;
	pthread_mutex_lock(&s->rd_lock);
	sqlite3_stmt *st = NULL;
	int rc = store_prepare(s, s->rd,
			       "SELECT synced_to, fetched_at, full_walk_at, count, ids, names "
			       "FROM listings WHERE key=?", &st);
	bool bad = false;
	if (rc == 0) {
		sqlite3_bind_int64(st, 1, (int64_t)key);
		int step = sqlite3_step(st);
		if (step == SQLITE_ROW) {
			const void *ids, *names;
			const char *synced = (const char *)sqlite3_column_text(st, 0);
			size_t synced_len = synced ? (size_t)sqlite3_column_bytes(st, 0) : 0;
			int64_t count = sqlite3_column_int64(st, 3);
			size_t ids_len = column_bytes(st, 4, &ids);
			bool has_names = sqlite3_column_type(st, 5) != SQLITE_NULL;
			size_t names_len = column_bytes(st, 5, &names);
			out->key = key;
			out->fetched_at = sqlite3_column_int64(st, 1);
			out->full_walk_at = sqlite3_column_int64(st, 2);
			bad = count < 0 || out->fetched_at < 0 || out->full_walk_at < 0 ||
			      synced_len >= sizeof(out->synced_to) ||
			      !store_check_sync_time(synced ? synced : "", synced_len);
			if (!bad) {
				memcpy(out->synced_to, synced ? synced : "", synced_len);
				out->count = (size_t)count;
				rc = store_decode_ids(ids, ids_len, out->count, &out->ids);
				if (rc == 0 && has_names)
					rc = store_decode_names(names, names_len, out->count, &out->names);
				bad = rc == -EINVAL;
			}
		} else {
			rc = step == SQLITE_DONE ? -ENOENT : store_error(s, s->rd, step, "reading a listing");
		}
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->rd_lock);
	if (bad) {
		atomic_fetch_add(&s->dropped_rows, 1);
		rc = -EINVAL;
	}
	if (rc)
		store_listing_clear(out);
	return rc;
}

bool store_has_listing(struct store *s, uint64_t key)
{
	if (!store_usable(s))
		return false;
	pthread_mutex_lock(&s->rd_lock);
	sqlite3_stmt *st = NULL;
	bool has = false;
	if (store_prepare(s, s->rd, "SELECT 1 FROM listings WHERE key=?", &st) == 0) {
		sqlite3_bind_int64(st, 1, (int64_t)key);
		has = sqlite3_step(st) == SQLITE_ROW;
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->rd_lock);
	return has;
}

int store_listing_keys(struct store *s, uint64_t **keys, size_t *count)
{
	*keys = NULL;
	*count = 0;
	if (!store_usable(s))
		return -EIO;
	pthread_mutex_lock(&s->rd_lock);
	sqlite3_stmt *st = NULL;
	int rc = store_prepare(s, s->rd, "SELECT key FROM listings ORDER BY key", &st);
	size_t cap = 0;
	int step = SQLITE_DONE;
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
		if (*count == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			uint64_t *grown = realloc(*keys, ncap * sizeof(**keys));
			if (!grown) {
				rc = -ENOMEM;
				break;
			}
			*keys = grown;
			cap = ncap;
		}
		(*keys)[(*count)++] = (uint64_t)sqlite3_column_int64(st, 0);
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = store_error(s, s->rd, step, "listing the stored directories");
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->rd_lock);
	if (rc) {
		free(*keys);
		*keys = NULL;
		*count = 0;
	}
	return rc;
}

static int put_listing(struct store *s, sqlite3_stmt *st, const struct store_listing *l)
{
	struct strbuf ids = STRBUF_INIT, names = STRBUF_INIT;
	store_encode_ids(&ids, l->ids, l->count);
	if (l->names)
		store_encode_names(&names, l->names, l->count);
	int rc = 0;
	if (sb_failed(&ids) || sb_failed(&names) || ids.len > INT32_MAX || names.len > INT32_MAX) {
		rc = -ENOMEM;
	} else {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, (int64_t)l->key);
		sqlite3_bind_text(st, 2, l->synced_to, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, l->fetched_at);
		sqlite3_bind_int64(st, 4, l->full_walk_at);
		sqlite3_bind_int64(st, 5, (int64_t)l->count);
		sqlite3_bind_blob(st, 6, ids.data ? ids.data : "", (int)ids.len, SQLITE_STATIC);
		if (l->names)
			sqlite3_bind_blob(st, 7, names.data ? names.data : "", (int)names.len,
					  SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 7);
		int step = sqlite3_step(st);
		rc = step == SQLITE_DONE ? 0 : store_error(s, s->wr, step, "saving a listing");
	}
	sb_free(&ids);
	sb_free(&names);
	return rc;
}

int store_save(struct store *s, const struct store_listing *listings, size_t nlistings,
	       const struct store_person_row *persons, size_t npersons)
{
	if (!store_usable(s))
		return -EIO;
	pthread_mutex_lock(&s->wr_lock);
	sqlite3_stmt *person_st = NULL, *listing_st = NULL;
	int rc = store_exec(s, s->wr, "BEGIN IMMEDIATE", "starting a transaction");
	if (rc == 0)
		rc = store_prepare(s, s->wr,
				   "INSERT INTO persons(id, owner_id, org_id, update_time, deleted, base, "
				   "pretty_len, json, vcf) VALUES(?,?,?,?,?,?,?,?,?) "
				   "ON CONFLICT(id) DO UPDATE SET owner_id=excluded.owner_id, "
				   "org_id=excluded.org_id, update_time=excluded.update_time, "
				   "deleted=excluded.deleted, base=excluded.base, "
				   "pretty_len=excluded.pretty_len, json=excluded.json, vcf=excluded.vcf "
				   "WHERE persons.json IS NOT excluded.json OR persons.vcf IS NOT "
				   "excluded.vcf OR persons.base IS NOT excluded.base OR persons.deleted "
				   "IS NOT excluded.deleted",
				   &person_st);
	if (rc == 0)
		rc = store_prepare(s, s->wr,
				   "INSERT OR REPLACE INTO listings(key, synced_to, fetched_at, "
				   "full_walk_at, count, ids, names) VALUES(?,?,?,?,?,?,?)",
				   &listing_st);
	for (size_t i = 0; rc == 0 && i < npersons; i++)
		rc = put_person(s, person_st, &persons[i]);
	for (size_t i = 0; rc == 0 && i < nlistings; i++)
		rc = put_listing(s, listing_st, &listings[i]);
	sqlite3_finalize(person_st);
	sqlite3_finalize(listing_st);
	if (rc == 0)
		rc = store_exec(s, s->wr, "COMMIT", "committing");
	if (rc)
		sqlite3_exec(s->wr, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_unlock(&s->wr_lock);
	return rc;
}

int store_drop_listing(struct store *s, uint64_t key)
{
	if (!store_usable(s))
		return -EIO;
	pthread_mutex_lock(&s->wr_lock);
	sqlite3_stmt *st = NULL;
	int rc = store_prepare(s, s->wr, "DELETE FROM listings WHERE key=?", &st);
	if (rc == 0) {
		sqlite3_bind_int64(st, 1, (int64_t)key);
		int step = sqlite3_step(st);
		rc = step == SQLITE_DONE ? 0 : store_error(s, s->wr, step, "dropping a listing");
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
