#include "status.h"

#include <inttypes.h>

#include "tree.h"

#include <inttypes.h>

/* Names of the request counters, as the status file shows them. */
static const char *const endpoint_keys[API_EP_COUNT] = {
	[API_EP_PERSONS] = "requests_persons",
	[API_EP_PERSON] = "requests_person",
	[API_EP_ORGANIZATIONS] = "requests_organizations",
	[API_EP_USERS] = "requests_users",
	[API_EP_USERS_ME] = "requests_users_me",
	[API_EP_FILTERS] = "requests_filters",
	[API_EP_PERSON_FIELDS] = "requests_person_fields",
	[API_EP_SEARCH] = "requests_search",
	[API_EP_PERSON_WRITES] = "requests_person_writes",
	[API_EP_OTHER] = "requests_other",
};

static void put_u64(struct strbuf *out, const char *key, uint64_t v)
{
	sb_printf(out, "%s: %" PRIu64 "\n", key, v);
}

static void put_header(struct strbuf *out, long v, const char *key)
{
	if (v < 0)
		sb_printf(out, "%s: none\n", key);
	else
		sb_printf(out, "%s: %ld\n", key, v);
}

void status_render(struct strbuf *out, const struct status_input *in)
{
	sb_printf(out, "version: %s\n", in->version);
	sb_printf(out, "uptime_seconds: %ld\n", in->uptime_s);
	sb_printf(out, "pipedrive: %s\n", in->offline ? "offline" : "online");
	if (in->config_text)
		sb_puts(out, in->config_text);

	const struct cache_stats *c = &in->cache;
	put_u64(out, "cache_persons", c->persons);
	put_u64(out, "cache_bytes", c->person_bytes);
	put_u64(out, "cache_listings", c->listings);
	put_u64(out, "cache_hits", c->hits);
	put_u64(out, "cache_misses", c->misses);
	uint64_t lookups = c->hits + c->misses;
	sb_printf(out, "cache_hit_rate: %.3f\n", lookups ? (double)c->hits / (double)lookups : 0.0);
	put_u64(out, "cache_stale_served", c->stale_served);
	put_u64(out, "cache_evictions", c->evictions);
	put_u64(out, "json_renders", in->pretty.renders);
	put_u64(out, "json_render_bytes", in->pretty.bytes);
	put_u64(out, "requests_interrupted", in->interrupted);
	put_u64(out, "readahead_files", in->readahead_files);

	if (in->disk_cache) {
		sb_printf(out, "disk_cache_path: %s\n", in->disk_cache_path ? in->disk_cache_path : "");
		sb_printf(out, "disk_cache_state: %s\n", in->store.usable ? "ok" : "failed");
		put_u64(out, "disk_cache_bytes", in->store.file_bytes);
		put_u64(out, "disk_cache_persons", in->store.persons);
		put_u64(out, "disk_cache_listings", in->store.listings);
		put_u64(out, "disk_cache_dropped_rows", in->store.dropped_rows);
	}
	if (in->bounded) {
		put_u64(out, "memory_persons", in->bytes.persons);
		put_u64(out, "memory_person_bytes", in->bytes.bytes);
		put_u64(out, "memory_unwritten", in->bytes.dirty);
		put_u64(out, "memory_loads", in->bytes.loads);
	}
	put_u64(out, "person_names_known", in->walks.person_names);

	for (size_t i = 0; i < in->in_progress_count; i++) {
		const struct walker_progress *p = &in->in_progress[i];
		char where[64];
		tree_describe(p->key, where, sizeof(where));
		sb_printf(out, "walk_in_progress: %s pages=%" PRIu64 " persons=%" PRIu64
			  " in_flight=%d elapsed_s=%.1f\n", where, p->pages, p->persons, p->in_flight,
			  p->elapsed_s);
	}
	put_u64(out, "walks_full", in->walks.full_walks);
	put_u64(out, "walks_incremental", in->walks.incremental_walks);
	put_u64(out, "walks_shared", in->walks.shared_listings);
	put_u64(out, "disk_loads", in->walks.disk_loads);
	put_u64(out, "disk_served_stale", in->walks.disk_served_stale);
	put_u64(out, "walks_failed", in->walks.failed_walks);
	put_u64(out, "id_batches", in->walks.id_batches);
	put_u64(out, "walks_search", in->walks.search_walks);
	put_u64(out, "pending_writes", in->writes.pending);
	put_u64(out, "writes_delivered", in->writes.delivered);
	put_u64(out, "conflict_files", in->writes.conflicts);

	uint64_t total = 0;
	for (int i = 0; i < API_EP_COUNT; i++) {
		put_u64(out, endpoint_keys[i], in->api.requests[i]);
		total += in->api.requests[i];
	}
	put_u64(out, "requests_total", total);
	put_u64(out, "retries", in->api.retries);
	put_u64(out, "rate_limited", in->api.rate_limited);
	put_header(out, in->api.last_limit, "ratelimit_limit");
	put_header(out, in->api.last_remaining, "ratelimit_remaining");
	put_header(out, in->api.last_reset, "ratelimit_reset");
	put_header(out, in->api.last_daily_remaining, "daily_tokens_remaining");
}
