/*
 * store_files.c - the store's files on disk (see store.h, "Files"): where the
 * database lives, that its folder, file, companions and lock file are ours
 * and private, the lock that gives each instance one owner, and moving a
 * broken database aside.  No SQLite here.
 */
#include "store.h"
#include "store_internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
int store_make_private_dir(const char *dir, char *err, size_t errlen)
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
int store_make_private_file(const char *path, char *err, size_t errlen)
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
int store_check_companions(const char *db_path, char *err, size_t errlen)
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

/* Take the instance's lock file; -EBUSY if another mount holds it. */
int store_lock_instance(const char *db_path, int *fd_out, char *err, size_t errlen)
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

/* Rename the database and its companions to "<path>.broken-<time>" (removed
 * if they cannot be renamed); rep->moved_aside names the new path. */
void store_move_aside(const char *path, struct store_open_report *rep)
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
