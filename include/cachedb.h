/*
 * cachedb.h - which cache database a mount uses, and whether a mount that
 * cannot reach Pipedrive may use one.
 *
 * Online, the database is chosen by company and user (from /users/me) and
 * two things are recorded: in the database, a salted SHA-1 of the API token
 * (it identifies the token without storing it: a token's 160 random bits
 * make a search for it hopeless; callers pass the SHA-1 of the token, so the
 * token itself can be wiped early), and in the cache folder a small pointer
 * file "last-<hash of the base URL>" naming that database.  Offline, the
 * pointer file of the same base URL leads to the database, which is used
 * only if the token matches - a cache is never shown to another token's
 * mount.  Knows the store and files, not HTTP or FUSE.
 */
#ifndef PDFS_CACHEDB_H
#define PDFS_CACHEDB_H

#include <stdint.h>

#include "sha1.h"
#include "store.h"

/* Open (or create) the database of company/user_id in dir (NULL: the
 * default folder) and record the token and the pointer file.  0 or -errno
 * with a message in err (see store_open). */
int cachedb_open_online(const char *dir, const char *base_url, const char *company,
			int64_t user_id, const unsigned char token_sha1[SHA1_DIGEST_LEN], struct store **out,
			struct store_open_report *rep, char *err, size_t errlen);

/* Open the database the last online mount of base_url used.  0; -ENOENT
 * (no cache for this base URL: nothing to serve); -EPERM (made with another
 * token); other -errno.  err says what happened in every case. */
int cachedb_open_offline(const char *dir, const char *base_url,
			 const unsigned char token_sha1[SHA1_DIGEST_LEN],
			 struct store **out, struct store_open_report *rep, char *err,
			 size_t errlen);

#endif
