/* Choosing the cache database: online records the token check and the
 * pointer file; offline finds it again, only with the same token. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cachedb.h"
#include "check.h"
#include "log.h"

static char root[] = "/tmp/pdfs-cachedb-test.XXXXXX";

int main(void)
{
	log_set_level(LOG_LEVEL_ERROR);
	if (!mkdtemp(root))
		return 1;
	char dir[256], err[512];
	snprintf(dir, sizeof(dir), "%s/cache", root);
	const char *base = "https://acme.pipedrive.com/api/v2";
	const char *token_text = "0123456789abcdef0123456789abcdef01234567";
	unsigned char token[SHA1_DIGEST_LEN], other[SHA1_DIGEST_LEN], fresh[SHA1_DIGEST_LEN];
	sha1(token_text, strlen(token_text), token);
	sha1("another-token", 13, other);
	sha1("new-token", 9, fresh);
	struct store *s = NULL;
	struct store_open_report rep;

	CHECK(cachedb_open_offline(dir, base, token, &s, &rep, err, sizeof(err)) == -ENOENT && !s);

	CHECK(cachedb_open_online(dir, base, "acme", 7, token, &s, &rep, err, sizeof(err)) == 0);
	CHECK(s && strstr(rep.path, "/acme-7.db"));
	char *check = NULL;
	CHECK(s && store_meta_get(s, "token_check", &check) == 0 && check && strlen(check) == 40 &&
	      strstr(check, token_text) == NULL);
	free(check);
	CHECK(store_meta_put(s, "marker", "online") == 0);
	store_close(s);

	/* The pointer file is private and names the database. */
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "test $(stat -c %%a %s/last-*) = 600", dir);
	CHECK(system(cmd) == 0);
	snprintf(cmd, sizeof(cmd), "grep -qx acme-7 %s/last-*", dir);
	CHECK(system(cmd) == 0);
	/* The token is nowhere in the folder. */
	snprintf(cmd, sizeof(cmd), "! grep -r -q %s %s", token_text, dir);
	CHECK(system(cmd) == 0);

	CHECK(cachedb_open_offline(dir, base, token, &s, &rep, err, sizeof(err)) == 0);
	char *marker = NULL;
	CHECK(s && store_meta_get(s, "marker", &marker) == 0 && strcmp(marker, "online") == 0);
	free(marker);

	/* While this mount owns it, an offline start elsewhere does not use it. */
	struct store *t = NULL;
	CHECK(cachedb_open_offline(dir, base, token, &t, &rep, err, sizeof(err)) == -EBUSY && !t);
	store_close(s);

	CHECK(cachedb_open_offline(dir, base, other, &s, &rep, err, sizeof(err)) == -EPERM);
	CHECK(strstr(err, "another API token") != NULL);
	CHECK(cachedb_open_offline(dir, "https://other.pipedrive.com/api/v2", token, &s, &rep, err,
				   sizeof(err)) == -ENOENT);

	/* A new token for the same user: recorded, the old one no longer matches. */
	CHECK(cachedb_open_online(dir, base, "acme", 7, fresh, &s, &rep, err, sizeof(err)) == 0);
	store_close(s);
	CHECK(cachedb_open_offline(dir, base, token, &s, &rep, err, sizeof(err)) == -EPERM);
	CHECK(cachedb_open_offline(dir, base, fresh, &s, &rep, err, sizeof(err)) == 0);
	store_close(s);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
	return check_finish("cachedb");
}
