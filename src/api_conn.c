/*
 * api_conn.c - the Pipedrive client and its connections: configuration, the
 * token's one copy, counters, one curl handle per worker with its headers
 * (api.h; requests are api.c's).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api_internal.h"

/* Test-only: the budget-probe interval in seconds (tests cannot wait 5 minutes). */
#define PROBE_INTERVAL_ENV "PDFS_TEST_BUDGET_PROBE_S"

void api_client_cancel(struct api_client *c)
{
	atomic_store(&c->cancelled, true);
	rl_gate_cancel(&c->gate);
	rl_gate_cancel(&c->search_gate);
}

/* ------------------------------------------------------------------ */
/* Client and connection                                               */

/* The budget-probe interval: RL_BUDGET_PROBE_S, or the test-only override. */
static double probe_interval(void)
{
	const char *text = getenv(PROBE_INTERVAL_ENV);
	char *end;
	double v = text ? strtod(text, &end) : 0;
	return text && end != text && v > 0 ? v : RL_BUDGET_PROBE_S;
}

struct api_client *api_client_new(const struct api_config *cfg)
{
	struct api_client *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	rl_gate_init(&c->gate, probe_interval());
	rl_gate_init(&c->search_gate, 0);
	rl_gate_set_limit(&c->search_gate, RL_SEARCH_LIMIT);
	pthread_mutex_init(&c->search_sending, NULL);
	pthread_mutex_init(&c->counters_lock, NULL);
	pthread_mutex_init(&c->spares_lock, NULL);
	c->counters.last_limit = c->counters.last_remaining = -1;
	c->counters.last_reset = c->counters.last_daily_remaining = -1;
	c->base_v2 = strdup(cfg->base_v2);
	c->base_v1 = strdup(cfg->base_v1);
	c->ca_file = cfg->ca_file ? strdup(cfg->ca_file) : NULL;
	if (asprintf(&c->token_header, "x-api-token: %s", cfg->token) < 0)
		c->token_header = NULL;
	if (!c->base_v2 || !c->base_v1 || !c->token_header || (cfg->ca_file && !c->ca_file)) {
		api_client_free(c);
		return NULL;
	}
	c->plain_http = strncasecmp(c->base_v2, "http://", 7) == 0;
	c->timeout_s = cfg->timeout_s > 0 ? cfg->timeout_s : 30;
	c->connect_timeout_s = cfg->connect_timeout_s > 0 ? cfg->connect_timeout_s : 10;
	c->max_retries = cfg->max_retries >= 0 ? cfg->max_retries : 3;
	return c;
}

void api_client_free(struct api_client *c)
{
	if (!c)
		return;
	if (c->token_header) {
		explicit_bzero(c->token_header, strlen(c->token_header));
		free(c->token_header);
	}
	free(c->base_v2);
	free(c->base_v1);
	free(c->ca_file);
	rl_gate_destroy(&c->gate);
	rl_gate_destroy(&c->search_gate);
	pthread_mutex_destroy(&c->search_sending);
	pthread_mutex_destroy(&c->counters_lock);
	api_client_trim(c);
	pthread_mutex_destroy(&c->spares_lock);
	free(c);
}

void api_client_counters(struct api_client *c, struct api_counters *out)
{
	pthread_mutex_lock(&c->counters_lock);
	*out = c->counters;
	pthread_mutex_unlock(&c->counters_lock);
}

const char *api_endpoint_name(enum api_endpoint ep)
{
	static const char *const names[API_EP_COUNT] = {
		"GET /api/v2/persons",       "GET /api/v2/persons/{id}",
		"GET /api/v2/organizations", "GET /api/v1/users",
		"GET /api/v1/users/me",      "GET /api/v1/filters",
		"GET /api/v2/personFields",  "GET /api/v2/persons/search",
		"POST/PATCH/DELETE /api/v2/persons",
		"other",
	};
	return ep < API_EP_COUNT ? names[ep] : "other";
}

/* Abort a transfer in flight when the filesystem shuts down. */
static int on_progress(void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	(void)dltotal; (void)dlnow; (void)ultotal; (void)ulnow;
	struct api_client *c = clientp;
	return atomic_load(&c->cancelled) ? 1 : 0;
}

/* Accept and the token; with a body also its type, and no "Expect:
 * 100-continue" round trip. */
static struct curl_slist *token_headers(const struct api_client *client, bool with_body)
{
	const char *lines[] = { "Accept: application/json", client->token_header,
				"Content-Type: application/json", "Expect:" };
	struct curl_slist *list = NULL;
	for (size_t i = 0; i < (with_body ? 4u : 2u); i++) {
		struct curl_slist *grown = curl_slist_append(list, lines[i]);
		if (!grown) {
			curl_slist_free_all(list);
			return NULL;
		}
		list = grown;
	}
	return list;
}

static void wipe_headers(struct curl_slist *list)
{
	for (struct curl_slist *h = list; h; h = h->next)
		explicit_bzero(h->data, strlen(h->data)); /* one holds the token */
	curl_slist_free_all(list);
}

struct api_conn *api_conn_new(struct api_client *client)
{
	struct api_conn *conn = calloc(1, sizeof(*conn));
	if (!conn)
		return NULL;
	conn->client = client;
	conn->jitter_seed = (unsigned int)time(NULL) ^ (unsigned int)(uintptr_t)conn;
	conn->curl = curl_easy_init();
	conn->headers = token_headers(client, false);
	conn->write_headers = token_headers(client, true);
	if (!conn->curl || !conn->headers || !conn->write_headers) {
		api_conn_free(conn);
		return NULL;
	}
	CURL *e = conn->curl;
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, conn->headers);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "pipedrivefs/" PDFS_VERSION);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	/* pages are hundreds of KB: fewer, bigger reads and write callbacks */
	curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 256L << 10);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (client->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, client->ca_file);
	/* A proxy would see plain http, the token included: never use one then.
	 * For https, libcurl honours https_proxy, all_proxy and no_proxy (the
	 * token travels inside the CONNECT tunnel's TLS). */
	if (client->plain_http)
		curl_easy_setopt(e, CURLOPT_PROXY, "");
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, client->connect_timeout_s);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, client->timeout_s);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, conn->curl_error);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, client);
	return conn;
}

void api_conn_free(struct api_conn *conn)
{
	if (!conn)
		return;
	if (conn->curl)
		curl_easy_cleanup(conn->curl);
	wipe_headers(conn->headers);
	wipe_headers(conn->write_headers);
	sb_free(&conn->body);
	free(conn);
}
