#include "status.h"

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

	put_u64(out, "walks_full", in->walks.full_walks);
	put_u64(out, "walks_incremental", in->walks.incremental_walks);
	put_u64(out, "walks_failed", in->walks.failed_walks);
	put_u64(out, "id_batches", in->walks.id_batches);

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
