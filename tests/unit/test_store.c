/* The persistent store: files and modes, round trips, all-or-nothing saves
 * (a child killed in the middle of one), bad databases moved aside,
 * scribbled rows refused, one owner per database, the journal. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "log.h"
#include "store.h"

static char root[] = "/tmp/pdfs-store-test.XXXXXX";

static void path_of(char *buf, size_t len, const char *rel)
{
	snprintf(buf, len, "%s/%s", root, rel);
}

static struct store *open_store(const char *dir_rel, const char *name, struct store_open_report *rep,
				int *rc_out)
{
	char dir[512], err[512] = "";
	path_of(dir, sizeof(dir), dir_rel);
	struct store_config cfg = { .dir = dir, .name = name };
	struct store *s = NULL;
	struct store_open_report local;
	int rc = store_open(&cfg, &s, rep ? rep : &local, err, sizeof(err));
	if (rc_out)
		*rc_out = rc;
	else if (rc)
		fprintf(stderr, "store_open: %s\n", err);
	return s;
}

static const char vcf_text[] = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\nEND:VCARD\r\n";

/* A person row with text in buf (kept by the caller). */
static struct store_person_row make_row(int64_t id, char *buf, size_t len, int64_t updated)
{
	int n = snprintf(buf, len, "Person %" PRId64 " (%" PRId64 ")", id, id);
	int m = snprintf(buf + n + 1, len - (size_t)n - 1, "{\"id\":%" PRId64 ",\"u\":%" PRId64 "}",
			 id, updated);
	struct store_person_row r = {
		.id = id, .owner_id = 7, .org_id = id % 3, .update_time = updated,
		.base = buf, .base_len = (size_t)n, .json = buf + n + 1, .json_len = (size_t)m,
		.pretty_len = (size_t)m + 4, .vcf = vcf_text, .vcf_len = sizeof(vcf_text) - 1,
	};
	return r;
}

static void test_modes_and_round_trip(void)
{
	struct store_open_report rep;
	struct store *s = open_store("cache/nested", "acme-1", &rep, NULL);
	CHECK(s != NULL && rep.instance == 1 && rep.moved_aside[0] == '\0');
	if (!s)
		return;
	char path[512];
	struct stat st;
	path_of(path, sizeof(path), "cache/nested");
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0700);
	path_of(path, sizeof(path), "cache");
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0700);
	CHECK(stat(rep.path, &st) == 0 && (st.st_mode & 0777) == 0600);

	char bufs[3][128];
	struct store_person_row rows[3];
	for (int i = 0; i < 3; i++)
		rows[i] = make_row(10 + i, bufs[i], sizeof(bufs[i]), 1700000000 + i);
	int64_t ids[] = { 10, 11, 12 };
	struct store_listing l = { .key = (UINT64_C(1) << 56) | 7, .count = 3, .ids = ids,
				   .synced_to = "2026-11-28T08:00:00Z", .fetched_at = 1800000000,
				   .full_walk_at = 1799999000 };
	CHECK(store_save(s, &l, 1, rows, 3) == 0);

	struct store_listing back;
	CHECK(store_get_listing(s, l.key, &back) == 0);
	CHECK(back.count == 3 && back.ids && back.ids[2] == 12 && back.names == NULL &&
	      strcmp(back.synced_to, "2026-11-28T08:00:00Z") == 0 && back.fetched_at == 1800000000 &&
	      back.full_walk_at == 1799999000);
	store_listing_clear(&back);
	CHECK(store_get_listing(s, 99, &back) == -ENOENT);

	struct store_person_row p;
	void *mem;
	CHECK(store_get_person(s, 11, &p, &mem) == 0);
	CHECK(p.id == 11 && p.owner_id == 7 && p.org_id == 2 && p.update_time == 1700000001 &&
	      p.base_len == rows[1].base_len && memcmp(p.base, rows[1].base, p.base_len) == 0 &&
	      p.json_len == rows[1].json_len && memcmp(p.json, rows[1].json, p.json_len) == 0 &&
	      p.vcf_len == rows[1].vcf_len && p.pretty_len == rows[1].pretty_len);
	free(mem);
	CHECK(store_get_person(s, 99, &p, &mem) == -ENOENT && mem == NULL);

	/* Group listings keep their names. */
	char *names[] = { "Jane Doe", NULL };
	int64_t gids[] = { 1, 2 };
	struct store_listing g = { .key = 2, .count = 2, .ids = gids, .names = names };
	CHECK(store_save(s, &g, 1, NULL, 0) == 0);
	CHECK(store_get_listing(s, 2, &back) == 0);
	CHECK(back.names && strcmp(back.names[0], "Jane Doe") == 0 && back.names[1] == NULL);
	store_listing_clear(&back);

	uint64_t *keys;
	size_t nkeys;
	CHECK(store_listing_keys(s, &keys, &nkeys) == 0 && nkeys == 2 && keys[0] == 2);
	free(keys);

	/* Meta. */
	char *v;
	CHECK(store_meta_get(s, "company", &v) == -ENOENT);
	CHECK(store_meta_put(s, "company", "acme") == 0);
	CHECK(store_meta_get(s, "company", &v) == 0 && strcmp(v, "acme") == 0);
	free(v);

	/* Garbage: a person no listing refers to. */
	char extra_buf[128];
	struct store_person_row extra = make_row(50, extra_buf, sizeof(extra_buf), 1);
	CHECK(store_save(s, NULL, 0, &extra, 1) == 0);
	size_t removed = 0;
	CHECK(store_collect_garbage(s, &removed) == 0 && removed == 1);
	CHECK(store_get_person(s, 50, &p, &mem) == -ENOENT);
	CHECK(store_get_person(s, 10, &p, &mem) == 0);
	free(mem);

	struct store_stats stats;
	store_get_stats(s, &stats);
	CHECK(stats.usable && stats.persons == 3 && stats.listings == 2 && stats.file_bytes > 0);
	store_close(s);

	/* Reopened: everything is still there. */
	s = open_store("cache/nested", "acme-1", &rep, NULL);
	CHECK(s && rep.moved_aside[0] == '\0');
	CHECK(s && store_get_listing(s, l.key, &back) == 0 && back.count == 3);
	store_listing_clear(&back);
	store_close(s);
}

static void test_refuses_open_modes(void)
{
	char dir[512], db[600];
	int rc;
	path_of(dir, sizeof(dir), "shared");
	mkdir(dir, 0755);
	chmod(dir, 0755);
	CHECK(open_store("shared", "acme-1", NULL, &rc) == NULL && rc == -EACCES);
	chmod(dir, 0700);
	snprintf(db, sizeof(db), "%s/acme-1.db", dir);
	int fd = open(db, O_CREAT | O_WRONLY, 0644);
	close(fd);
	chmod(db, 0644);
	CHECK(open_store("shared", "acme-1", NULL, &rc) == NULL && rc == -EACCES);
	chmod(db, 0600);
	struct store *s = open_store("shared", "acme-1", NULL, &rc);
	CHECK(s != NULL); /* an empty private file becomes a database */
	store_close(s);
}

static void write_bytes(const char *path, const char *bytes, size_t n, off_t at, bool truncate)
{
	int fd = open(path, O_WRONLY | (truncate ? O_TRUNC : 0));
	if (fd < 0)
		return;
	if (pwrite(fd, bytes, n, at) != (ssize_t)n)
		fprintf(stderr, "short write to %s\n", path);
	close(fd);
}

/* Save one listing of n persons; notify_fd (if >= 0) gets a byte just
 * before the save starts. */
static void fill_store_notify(const char *dir_rel, const char *name, int n, int notify_fd)
{
	struct store *s = open_store(dir_rel, name, NULL, NULL);
	if (!s)
		return;
	int64_t *ids = calloc((size_t)n, sizeof(*ids));
	struct store_person_row *rows = calloc((size_t)n, sizeof(*rows));
	char (*bufs)[128] = calloc((size_t)n, sizeof(*bufs));
	for (int i = 0; i < n; i++) {
		ids[i] = i + 1;
		rows[i] = make_row(i + 1, bufs[i], sizeof(bufs[i]), 1700000000 + i);
	}
	struct store_listing l = { .key = 77, .count = (size_t)n, .ids = ids };
	if (notify_fd >= 0 && write(notify_fd, "s", 1) != 1)
		fprintf(stderr, "cannot notify the parent\n");
	CHECK(store_save(s, &l, 1, rows, (size_t)n) == 0);
	store_close(s);
	free(ids);
	free(rows);
	free(bufs);
}

static void fill_store(const char *dir_rel, const char *name, int n)
{
	fill_store_notify(dir_rel, name, n, -1);
}

/* Garbage, a truncated file, another program's database, another schema
 * version: moved aside, a new database in its place, no crash. */
static void test_bad_databases_moved_aside(void)
{
	char db[600];
	struct store_open_report rep;
	struct store *s;
	struct store_listing back;

	fill_store("bad1", "acme-1", 10);
	path_of(db, sizeof(db), "bad1/acme-1.db");
	write_bytes(db, "garbage garbage garbage garbage", 31, 0, false);
	s = open_store("bad1", "acme-1", &rep, NULL);
	CHECK(s && rep.moved_aside[0] && rep.moved_why[0]);
	CHECK(s && store_get_listing(s, 77, &back) == -ENOENT);
	store_close(s);
	struct stat st;
	CHECK(stat(rep.moved_aside, &st) == 0);

	fill_store("bad2", "acme-1", 2000);
	path_of(db, sizeof(db), "bad2/acme-1.db");
	CHECK(stat(db, &st) == 0 && st.st_size > 8192);
	CHECK(truncate(db, st.st_size / 2) == 0);
	s = open_store("bad2", "acme-1", &rep, NULL);
	CHECK(s && rep.moved_aside[0]);
	CHECK(s && store_get_listing(s, 77, &back) == -ENOENT);
	store_close(s);

	path_of(db, sizeof(db), "bad3");
	mkdir(db, 0700);
	path_of(db, sizeof(db), "bad3/acme-1.db");
	sqlite3 *other;
	CHECK(sqlite3_open(db, &other) == SQLITE_OK);
	sqlite3_exec(other, "CREATE TABLE t(x); INSERT INTO t VALUES(1);", NULL, NULL, NULL);
	sqlite3_close(other);
	chmod(db, 0600);
	s = open_store("bad3", "acme-1", &rep, NULL);
	CHECK(s && rep.moved_aside[0] && strstr(rep.moved_why, "not a pipedrivefs cache"));
	store_close(s);

	fill_store("bad4", "acme-1", 3);
	path_of(db, sizeof(db), "bad4/acme-1.db");
	CHECK(sqlite3_open(db, &other) == SQLITE_OK);
	sqlite3_exec(other, "PRAGMA user_version=99", NULL, NULL, NULL);
	sqlite3_close(other);
	s = open_store("bad4", "acme-1", &rep, NULL);
	CHECK(s && rep.moved_aside[0] && strstr(rep.moved_why, "schema version 99"));
	store_close(s);
}

/* A row changed behind our back fails its checks and is never served. */
static void test_scribbled_rows(void)
{
	fill_store("scribble", "acme-1", 5);
	char db[600];
	path_of(db, sizeof(db), "scribble/acme-1.db");
	sqlite3 *other;
	CHECK(sqlite3_open(db, &other) == SQLITE_OK);
	sqlite3_exec(other,
		     "UPDATE persons SET base='../../etc/passwd (2)' WHERE id=2;"
		     "UPDATE persons SET json=x'7b226964' WHERE id=3;"
		     "UPDATE listings SET ids=x'0100000000000000' WHERE key=77;",
		     NULL, NULL, NULL);
	sqlite3_close(other);
	struct store *s = open_store("scribble", "acme-1", NULL, NULL);
	struct store_person_row p;
	void *mem;
	struct store_listing back;
	CHECK(s && store_get_person(s, 1, &p, &mem) == 0);
	free(mem);
	CHECK(s && store_get_person(s, 2, &p, &mem) == -EINVAL && mem == NULL);
	CHECK(s && store_get_person(s, 3, &p, &mem) == -EINVAL);
	CHECK(s && store_get_listing(s, 77, &back) == -EINVAL && back.ids == NULL);
	struct store_stats stats;
	store_get_stats(s, &stats);
	CHECK(stats.dropped_rows == 3 && stats.usable);
	store_close(s);
}

/* A save is all or nothing: a child killed in the middle of a big one
 * leaves the previous listing, whole. */
static void test_kill_during_save(void)
{
	fill_store("crash", "acme-1", 100);
	for (int round = 0; round < 3; round++) {
		int pipefd[2];
		if (pipe(pipefd) != 0)
			return;
		pid_t pid = fork();
		if (pid == 0) {
			close(pipefd[0]);
			fill_store_notify("crash", "acme-1", 400000, pipefd[1]);
			_exit(0);
		}
		close(pipefd[1]);
		char byte;
		CHECK(read(pipefd[0], &byte, 1) == 1); /* the save has begun */
		close(pipefd[0]);
		usleep(20000 + 40000 * round);
		kill(pid, SIGKILL);
		int status;
		waitpid(pid, &status, 0);
		CHECK(WIFSIGNALED(status)); /* killed before it could finish */
		struct store_open_report rep;
		struct store *s = open_store("crash", "acme-1", &rep, NULL);
		struct store_listing back;
		CHECK(s && rep.moved_aside[0] == '\0');
		int rc = s ? store_get_listing(s, 77, &back) : -1;
		CHECK(rc == 0 && (back.count == 100 || back.count == 200000));
		if (rc == 0 && back.count == 200000)
			round = 3; /* the child finished: nothing more to learn */
		store_listing_clear(&back);
		store_close(s);
	}
}

static void test_second_owner_gets_own_instance(void)
{
	struct store_open_report a, b;
	struct store *s1 = open_store("shared2", "acme-1", &a, NULL);
	struct store *s2 = open_store("shared2", "acme-1", &b, NULL);
	CHECK(s1 && s2 && a.instance == 1 && b.instance == 2 && strcmp(a.path, b.path) != 0);
	store_close(s2);
	store_close(s1);
	s1 = open_store("shared2", "acme-1", &a, NULL);
	CHECK(s1 && a.instance == 1); /* released on close */
	store_close(s1);
}

static void test_journal(void)
{
	struct store *s = open_store("journal", "acme-1", NULL, NULL);
	int64_t a, b;
	CHECK(s && store_journal_append(s, "patch", 42, "{\"name\":\"x\"}", &a) == 0);
	CHECK(s && store_journal_append(s, "create", 0, "{\"name\":\"y\"}", &b) == 0 && b > a);
	CHECK(store_journal_note_failure(s, a, "HTTP 503") == 0);
	store_close(s);
	s = open_store("journal", "acme-1", NULL, NULL);
	struct store_journal_entry *e;
	size_t n;
	CHECK(s && store_journal_list(s, &e, &n) == 0 && n == 2);
	if (n == 2) {
		CHECK(e[0].seq == a && strcmp(e[0].kind, "patch") == 0 && e[0].person_id == 42 &&
		      e[0].attempts == 1 && e[0].last_error && strcmp(e[0].last_error, "HTTP 503") == 0);
		CHECK(e[1].seq == b && e[1].attempts == 0 && e[1].last_error == NULL);
	}
	store_journal_free(e, n);
	CHECK(store_journal_remove(s, a) == 0);
	CHECK(store_journal_remove(s, a) == -ENOENT);
	CHECK(store_journal_list(s, &e, &n) == 0 && n == 1);
	store_journal_free(e, n);
	store_close(s);
}

static void test_names_and_default_dir(void)
{
	char buf[64];
	store_name(buf, sizeof(buf), "Acme Corp/../x", 7);
	CHECK(strcmp(buf, "acme_corp____x-7") == 0);
	setenv("XDG_CACHE_HOME", "/tmp/xdg", 1);
	CHECK(store_default_dir(buf, sizeof(buf)) && strcmp(buf, "/tmp/xdg/pipedrivefs") == 0);
	setenv("XDG_CACHE_HOME", "relative", 1);
	setenv("HOME", "/home/u", 1);
	CHECK(store_default_dir(buf, sizeof(buf)) && strcmp(buf, "/home/u/.cache/pipedrivefs") == 0);
}

int main(void)
{
	log_set_level(LOG_LEVEL_ERROR);
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	test_modes_and_round_trip();
	test_refuses_open_modes();
	test_bad_databases_moved_aside();
	test_scribbled_rows();
	test_kill_during_save();
	test_second_owner_gets_own_instance();
	test_journal();
	test_names_and_default_dir();
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
	return check_finish("store");
}
