/*
 * startup_cache.h - the disk cache at mount time: open it (online, or
 * offline when Pipedrive cannot be reached), make sure what it holds was
 * rendered with this mount's settings, and keep what an offline start needs
 * (the company domain, the person fields).  Knows the store and the mount's
 * options; not HTTP, not FUSE.
 */
#ifndef PDFS_STARTUP_CACHE_H
#define PDFS_STARTUP_CACHE_H

#include <stdint.h>

#include "options.h"
#include "sha1.h"
#include "store.h"

/* Online: the database of company/user (NULL in *out with disk_cache=no,
 * or - with one log line - when it cannot be used).  0, or -EACCES with a
 * message (a cache folder or database others can read stops the mount). */
int startup_cache_online(const struct options *opts, const char *base, const char *company,
			 int64_t user_id, const unsigned char token_sha1[SHA1_DIGEST_LEN],
			 struct store **out, char *err, size_t errlen);

/* Offline: the database the last online mount of base used, if it was made
 * with this token; its company domain in *company (malloc'd).  0, or -errno
 * with what happened in err (no cache: -ENOENT). */
int startup_cache_offline(const struct options *opts, const char *base,
			  const unsigned char token_sha1[SHA1_DIGEST_LEN], struct store **out,
			  char **company, char *err, size_t errlen);

/* What the rendered vCards depend on besides the persons (vCard version,
 * company, custom_fields, include_fields): when it differs from what the
 * store's persons were rendered with, the store is emptied (one log line). */
void startup_cache_check_render(struct store *s, const char *fingerprint);

/* Remember the company domain and the person fields (JSON text) for an
 * offline start; read them back.  Failures only cost the offline start. */
void startup_cache_remember(struct store *s, const char *company, const char *person_fields);
char *startup_cache_person_fields(struct store *s);

#endif
