/*
 * Start-up under memory exhaustion: every constructor the daemon calls
 * before it mounts either works or returns NULL (main.c then says "out of
 * memory" and exits 1) - never a crash, never a leak (ASan checks the
 * latter in the sanitizer build).
 *
 * Allocations are counted through the linker's --wrap (see meson.build): the
 * n-th one fails ("one"), or every one from the n-th on ("from"), for every
 * n until a run needs no more than n-1 allocations.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "cache.h"
#include "check.h"
#include "fs.h"
#include "idtable.h"
#include "meta.h"
#include "prettycache.h"
#include "walker.h"

static long alloc_calls;
static long fail_at = -1; /* -1: never */
static int fail_from;     /* every allocation from fail_at on fails */

static int should_fail(void)
{
	alloc_calls++;
	return fail_at > 0 && (alloc_calls == fail_at || (fail_from && alloc_calls > fail_at));
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);

void *__wrap_malloc(size_t n) { return should_fail() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t size) { return should_fail() ? NULL : __real_calloc(n, size); }
void *__wrap_realloc(void *p, size_t n) { return should_fail() ? NULL : __real_realloc(p, n); }
char *__wrap_strdup(const char *s) { return should_fail() ? NULL : __real_strdup(s); }

int __wrap_asprintf(char **out, const char *fmt, ...)
{
	if (should_fail()) {
		*out = NULL;
		return -1;
	}
	va_list ap;
	va_start(ap, fmt);
	int rc = vasprintf(out, fmt, ap);
	va_end(ap);
	return rc;
}

static const struct api_config api_cfg = {
	.base_v2 = "https://acme.pipedrive.com/api/v2",
	.base_v1 = "https://acme.pipedrive.com/api/v1",
	.token = "secret",
	.ca_file = "/etc/ssl/certs/ca-certificates.crt",
	.timeout_s = 30,
	.max_retries = 3,
};

/* Build and free one thing; true if it was built. */
typedef bool (*build_fn)(void);

static bool build_idtable(void)
{
	struct idtable t;
	bool ok = idtable_init(&t);
	/* a table whose init failed is safe to use and to destroy */
	CHECK(idtable_find(&t, 7) == NULL);
	CHECK(idtable_remove(&t, 7) == NULL);
	static int value;
	struct idtable_entry *e = idtable_insert(&t, 7, &value);
	CHECK(!e || idtable_find(&t, 7) == e);
	idtable_destroy(&t, NULL);
	return ok && e;
}

static bool build_cache(void)
{
	struct cache *c = cache_new(60, 1 << 20);
	cache_free(c);
	return c != NULL;
}

static bool build_meta(void)
{
	struct meta *m = meta_new();
	meta_free(m);
	return m != NULL;
}

static bool build_client(void)
{
	struct api_client *c = api_client_new(&api_cfg);
	api_client_free(c);
	return c != NULL;
}

static bool build_prettycache(void)
{
	struct prettycache *pc = prettycache_new(1 << 20);
	prettycache_free(pc);
	return pc != NULL;
}

/* What main.c builds after the token check, in its order. */
static bool build_daemon_parts(void)
{
	long saved = fail_at;
	fail_at = -1; /* the parts below are built for real first */
	struct api_client *client = api_client_new(&api_cfg);
	struct cache *cache = cache_new(60, 0);
	struct meta *meta = meta_new();
	fail_at = saved;
	alloc_calls = 0;
	struct walker_config wcfg = { .page_limit = 500, .workers = 2, .custom_fields = "abc",
				      .include_fields = "notes_count" };
	struct walker *walker = walker_new(&wcfg, client, cache, meta);
	struct fs_config fcfg = { .ttl = 60, .config_text = "cache_ttl: 60\n" };
	struct fs *fs = walker ? fs_new(&fcfg, client, cache, walker) : NULL;
	bool ok = walker && fs;
	long used = alloc_calls;
	fail_at = -1;
	fs_free(fs);
	walker_free(walker);
	meta_free(meta);
	cache_free(cache);
	api_client_free(client);
	alloc_calls = used;
	return ok;
}

static void exhaust(const char *what, build_fn build)
{
	fail_at = -1;
	alloc_calls = 0;
	CHECK(build()); /* works with memory */
	for (fail_from = 0; fail_from <= 1; fail_from++) {
		int failures = 0;
		for (long n = 1;; n++) {
			alloc_calls = 0;
			fail_at = n;
			bool built = build();
			long used = alloc_calls;
			fail_at = -1;
			if (!built)
				failures++;
			if (used < n)
				break; /* no allocation failed: every one was tried */
			if (n > 10000) {
				fprintf(stderr, "%s: more than 10000 allocations?\n", what);
				CHECK(0);
				break;
			}
		}
		CHECK(failures > 0); /* the injection reached it */
	}
	printf("%s: survived every allocation failure\n", what);
}

int main(void)
{
	exhaust("idtable", build_idtable);
	exhaust("cache_new", build_cache);
	exhaust("meta_new", build_meta);
	exhaust("api_client_new", build_client);
	exhaust("prettycache_new", build_prettycache);
	exhaust("walker_new + fs_new", build_daemon_parts);
	return check_finish("startup_oom");
}
