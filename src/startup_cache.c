/*
 * startup_cache.c - the disk cache at mount time (see startup_cache.h).
 */
#include "startup_cache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cachedb.h"
#include "log.h"

#define META_COMPANY "company_domain"
#define META_PERSON_FIELDS "person_fields"
#define META_RENDER "render"

static void report_open(const struct store_open_report *rep)
{
	if (rep->moved_aside[0])
		log_warn("the cache database was unusable (%s) and was moved to %s; it is rebuilt "
			 "from Pipedrive as folders are listed", rep->moved_why, rep->moved_aside);
	if (rep->instance > 1)
		log_info("another mount uses this company's cache; this one uses its own: %s",
			 rep->path);
	log_debug("disk cache: %s", rep->path);
}

int startup_cache_online(const struct options *opts, const char *base, const char *company,
			 int64_t user_id, const unsigned char token_sha1[SHA1_DIGEST_LEN],
			 struct store **out, char *err, size_t errlen)
{
	*out = NULL;
	if (!opts->use_disk_cache)
		return 0;
	struct store_open_report rep;
	char why[512];
	int rc = cachedb_open_online(opts->cache_dir, base, company, user_id, token_sha1, out, &rep,
				     why, sizeof(why));
	if (rc == -EACCES) {
		snprintf(err, errlen, "%s", why);
		return rc;
	}
	if (rc) {
		log_warn("the disk cache cannot be used (%s); this mount keeps its cache in memory "
			 "only (-o disk_cache=no silences this)", why);
		return 0;
	}
	report_open(&rep);
	return 0;
}

int startup_cache_offline(const struct options *opts, const char *base,
			  const unsigned char token_sha1[SHA1_DIGEST_LEN], struct store **out,
			  char **company, char *err, size_t errlen)
{
	*out = NULL;
	*company = NULL;
	if (!opts->use_disk_cache) {
		snprintf(err, errlen, "there is no disk cache to serve (disk_cache=no)");
		return -ENOENT;
	}
	struct store_open_report rep;
	int rc = cachedb_open_offline(opts->cache_dir, base, token_sha1, out, &rep, err, errlen);
	if (rc)
		return rc;
	report_open(&rep);
	if (store_meta_get(*out, META_COMPANY, company) != 0) {
		store_close(*out);
		*out = NULL;
		snprintf(err, errlen, "the disk cache of %s does not know its company", base);
		return -ENOENT;
	}
	return 0;
}

void startup_cache_check_render(struct store *s, const char *fingerprint)
{
	if (!s)
		return;
	char *stored = NULL;
	int rc = store_meta_get(s, META_RENDER, &stored);
	if (rc == 0 && strcmp(stored, fingerprint) == 0) {
		free(stored);
		return;
	}
	if (rc == 0)
		log_info("the settings the cached vCards were made with changed; the disk cache "
			 "starts empty");
	free(stored);
	if (store_clear(s) == 0)
		store_meta_put(s, META_RENDER, fingerprint);
}

void startup_cache_remember(struct store *s, const char *company, const char *person_fields)
{
	if (!s)
		return;
	if (company)
		store_meta_put(s, META_COMPANY, company);
	if (person_fields)
		store_meta_put(s, META_PERSON_FIELDS, person_fields);
}

char *startup_cache_person_fields(struct store *s)
{
	char *text = NULL;
	return s && store_meta_get(s, META_PERSON_FIELDS, &text) == 0 ? text : NULL;
}
