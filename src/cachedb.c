/*
 * cachedb.c - choosing a mount's cache database, online and offline (see
 * cachedb.h).
 */
#include "cachedb.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sha1.h"

#define SALT_BYTES 16
#define STEM_MAX 200

static void hex(const unsigned char *bytes, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 15];
	}
	out[2 * n] = '\0';
}

static void token_check(const char *salt_hex, const unsigned char token_sha1[SHA1_DIGEST_LEN],
			char out[2 * SHA1_DIGEST_LEN + 1])
{
	struct sha1_ctx ctx;
	unsigned char digest[SHA1_DIGEST_LEN];
	sha1_init(&ctx);
	sha1_update(&ctx, salt_hex, strlen(salt_hex));
	sha1_update(&ctx, token_sha1, SHA1_DIGEST_LEN);
	sha1_final(&ctx, digest);
	hex(digest, sizeof(digest), out);
	explicit_bzero(&ctx, sizeof(ctx));
}

static bool resolve_dir(const char *dir, char *buf, size_t len)
{
	if (dir) {
		int n = snprintf(buf, len, "%s", dir);
		return n > 0 && (size_t)n < len;
	}
	return store_default_dir(buf, len);
}

/* dir/last-<16 hex of sha1(base_url)> */
static bool pointer_path(const char *dir, const char *base_url, char *buf, size_t len)
{
	unsigned char digest[SHA1_DIGEST_LEN];
	char h[2 * SHA1_DIGEST_LEN + 1];
	sha1(base_url, strlen(base_url), digest);
	hex(digest, 8, h);
	int n = snprintf(buf, len, "%s/last-%s", dir, h);
	return n > 0 && (size_t)n < len;
}

static bool stem_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > STEM_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		      s[i] == '_'))
			return false;
	return true;
}

/* Write the stem into the pointer file, private, replacing it atomically. */
static int write_pointer(const char *path, const char *stem)
{
	char tmp[PATH_MAX + 8];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	int fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	size_t n = strlen(stem);
	bool ok = write(fd, stem, n) == (ssize_t)n && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
	close(fd);
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return -EIO;
	}
	return 0;
}

static int read_pointer(const char *path, char *stem, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	struct stat st;
	ssize_t got = -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
	    !(st.st_mode & 077))
		got = read(fd, stem, len - 1);
	close(fd);
	if (got <= 0)
		return -EINVAL;
	stem[got] = '\0';
	stem[strcspn(stem, "\n")] = '\0';
	return stem_ok(stem) ? 0 : -EINVAL;
}

int cachedb_open_online(const char *dir, const char *base_url, const char *company,
			int64_t user_id, const unsigned char token_sha1[SHA1_DIGEST_LEN], struct store **out,
			struct store_open_report *rep, char *err, size_t errlen)
{
	char folder[PATH_MAX], stem[STEM_MAX + 1], pointer[PATH_MAX + 32];
	*out = NULL;
	if (!resolve_dir(dir, folder, sizeof(folder))) {
		snprintf(err, errlen, "no cache folder: set HOME or XDG_CACHE_HOME, or give "
				      "-o cache_dir=, or -o disk_cache=no");
		return -EINVAL;
	}
	store_name(stem, sizeof(stem), company, user_id);
	struct store_config cfg = { .dir = folder, .name = stem };
	struct store *s;
	int rc = store_open(&cfg, &s, rep, err, errlen);
	if (rc)
		return rc;
	char *salt = NULL, *check = NULL;
	char fresh_salt[2 * SALT_BYTES + 1], expected[2 * SHA1_DIGEST_LEN + 1];
	if (store_meta_get(s, "token_salt", &salt) != 0) {
		unsigned char bytes[SALT_BYTES];
		if (getrandom(bytes, sizeof(bytes), 0) != (ssize_t)sizeof(bytes)) {
			store_close(s);
			snprintf(err, errlen, "cannot get random bytes: %s", strerror(errno));
			return -EIO;
		}
		hex(bytes, sizeof(bytes), fresh_salt);
		rc = store_meta_put(s, "token_salt", fresh_salt);
	}
	token_check(salt ? salt : fresh_salt, token_sha1, expected);
	if (rc == 0 && (store_meta_get(s, "token_check", &check) != 0 || strcmp(check, expected) != 0))
		rc = store_meta_put(s, "token_check", expected);
	free(salt);
	free(check);
	if (rc == 0 && rep->instance == 1 && pointer_path(folder, base_url, pointer, sizeof(pointer)))
		rc = write_pointer(pointer, stem);
	if (rc) {
		store_close(s);
		snprintf(err, errlen, "cannot record the cache database in %s: %s", folder, strerror(-rc));
		return rc;
	}
	*out = s;
	return 0;
}

int cachedb_open_offline(const char *dir, const char *base_url,
			 const unsigned char token_sha1[SHA1_DIGEST_LEN],
			 struct store **out, struct store_open_report *rep, char *err,
			 size_t errlen)
{
	char folder[PATH_MAX], stem[STEM_MAX + 2], pointer[PATH_MAX + 32];
	*out = NULL;
	memset(rep, 0, sizeof(*rep));
	if (!resolve_dir(dir, folder, sizeof(folder)) ||
	    !pointer_path(folder, base_url, pointer, sizeof(pointer)) ||
	    read_pointer(pointer, stem, sizeof(stem)) != 0) {
		snprintf(err, errlen, "no cache of %s on this machine", base_url);
		return -ENOENT;
	}
	struct store_config cfg = { .dir = folder, .name = stem };
	struct store *s;
	int rc = store_open(&cfg, &s, rep, err, errlen);
	if (rc)
		return rc;
	if (rep->instance != 1 || rep->moved_aside[0]) {
		store_close(s);
		snprintf(err, errlen, rep->instance != 1 ? "the cache of %s is in use by another mount"
							 : "the cache of %s was damaged and has been "
							   "moved aside",
			 base_url);
		return rep->instance != 1 ? -EBUSY : -ENOENT;
	}
	char *salt = NULL, *check = NULL, expected[2 * SHA1_DIGEST_LEN + 1];
	rc = store_meta_get(s, "token_salt", &salt);
	if (rc == 0)
		rc = store_meta_get(s, "token_check", &check);
	if (rc == 0) {
		token_check(salt, token_sha1, expected);
		if (strcmp(check, expected) != 0)
			rc = -EPERM;
	}
	free(salt);
	free(check);
	if (rc) {
		store_close(s);
		snprintf(err, errlen, rc == -EPERM ? "the cache of %s was made with another API token"
						   : "the cache of %s has no token record",
			 base_url);
		return rc == -EPERM ? -EPERM : -ENOENT;
	}
	*out = s;
	return 0;
}
