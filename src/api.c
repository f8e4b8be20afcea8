/*
 * api.c - the Pipedrive HTTP client (see api.h for the contract).
 *
 * Layout: client and connection (curl setup), one request attempt (curl +
 * the body: json-c for api_get, or kept whole and scanned once with
 * jsonscan for api_get_page), classification of an attempt's outcome
 * (rate-limit signals are read by ratelimit.c, which also holds the gate),
 * and the retry loop.  The cursor walk over pages is api_walk.c.
 */
#include "api.h"

#include <ctype.h>
#include <limits.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "api_internal.h"
#include "log.h"
#include "ratelimit.h"
#include "strbuf.h"

#define LATENCY_WEIGHT 0.3 /* of the newest page in the smoothed latency */
/* Test-only: the budget-probe interval in seconds (tests cannot wait 5 minutes). */
#define PROBE_INTERVAL_ENV "PDFS_TEST_BUDGET_PROBE_S"

void api_client_cancel(struct api_client *c)
{
	atomic_store(&c->cancelled, true);
	rl_gate_cancel(&c->gate);
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
		"GET /api/v2/personFields",  "other",
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

struct api_conn *api_conn_new(struct api_client *client)
{
	struct api_conn *conn = calloc(1, sizeof(*conn));
	if (!conn)
		return NULL;
	conn->client = client;
	conn->jitter_seed = (unsigned int)time(NULL) ^ (unsigned int)(uintptr_t)conn;
	conn->curl = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
	if (h)
		conn->headers = curl_slist_append(h, client->token_header);
	if (!conn->curl || !h || !conn->headers) {
		if (!conn->headers)
			curl_slist_free_all(h);
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
	for (struct curl_slist *h = conn->headers; h; h = h->next)
		explicit_bzero(h->data, strlen(h->data)); /* one holds the token */
	curl_slist_free_all(conn->headers);
	sb_free(&conn->body);
	free(conn);
}

static enum api_endpoint classify_endpoint(enum api_base base, const char *path)
{
	size_t n = strcspn(path, "?");
	if (base == API_V1) {
		if (n == 9 && strncmp(path, "/users/me", 9) == 0)
			return API_EP_USERS_ME;
		if (n == 6 && strncmp(path, "/users", 6) == 0)
			return API_EP_USERS;
		if (n == 8 && strncmp(path, "/filters", 8) == 0)
			return API_EP_FILTERS;
		return API_EP_OTHER;
	}
	if (n == 8 && strncmp(path, "/persons", 8) == 0)
		return API_EP_PERSONS;
	if (n > 9 && strncmp(path, "/persons/", 9) == 0)
		return API_EP_PERSON;
	if (strncmp(path, "/organizations", 14) == 0)
		return API_EP_ORGANIZATIONS;
	if (strncmp(path, "/personFields", 13) == 0)
		return API_EP_PERSON_FIELDS;
	return API_EP_OTHER;
}

/* ------------------------------------------------------------------ */
/* Requests                                                             */

static void count_request(struct api_client *c, enum api_endpoint ep, bool retry)
{
	pthread_mutex_lock(&c->counters_lock);
	c->counters.requests[ep]++;
	if (retry)
		c->counters.retries++;
	pthread_mutex_unlock(&c->counters_lock);
}

static double backoff_seconds(struct api_conn *conn, int attempt_no)
{
	double base = 0.5 * (double)(1 << (attempt_no < 5 ? attempt_no : 5));
	unsigned int r = rand_r(&conn->jitter_seed);
	return base + (double)(r % 250) / 1000.0;
}

/* The outcome of a blocked gate's probe: any answer that is neither rate
 * limited nor a server failure lifts the block. */
static void probe_done(struct api_client *c, CURLcode code, const struct attempt *a)
{
	bool lifted = code == CURLE_OK && a->status != 429 && a->status < 500 &&
		      !(a->status == 403 && a->html);
	rl_gate_probe_done(&c->gate, lifted);
	if (lifted)
		log_info("Pipedrive answers again (HTTP %ld): requests resume", a->status);
}

/* Smooth the duration of a persons page into the client's latency: the
 * transfer itself, without connection set-up (pages reuse the connection). */
static void measure_latency(struct api_conn *conn)
{
	curl_off_t total = 0, pretransfer = 0;
	if (curl_easy_getinfo(conn->curl, CURLINFO_TOTAL_TIME_T, &total) != CURLE_OK ||
	    curl_easy_getinfo(conn->curl, CURLINFO_PRETRANSFER_TIME_T, &pretransfer) != CURLE_OK ||
	    total <= pretransfer)
		return;
	double seconds = (double)(total - pretransfer) / 1e6;
	struct api_client *c = conn->client;
	pthread_mutex_lock(&c->counters_lock);
	c->page_latency_s = c->page_latency_s > 0
				    ? (1 - LATENCY_WEIGHT) * c->page_latency_s + LATENCY_WEIGHT * seconds
				    : seconds;
	pthread_mutex_unlock(&c->counters_lock);
}

void api_client_link(struct api_client *c, struct api_link *out)
{
	out->rate_per_s = rl_gate_rate(&c->gate);
	pthread_mutex_lock(&c->counters_lock);
	out->page_latency_s = c->page_latency_s;
	pthread_mutex_unlock(&c->counters_lock);
}

/* GET with retries: the answer's object in *obj (json-c, api_get) or page
 * (scanned, api_get_page). */
static int request(struct api_conn *conn, enum api_base base, const char *path_and_query,
		   struct json_object **obj, struct api_page *page, struct api_error *err)
{
	struct api_client *c = conn->client;
	enum api_endpoint ep = classify_endpoint(base, path_and_query);
	struct strbuf url = STRBUF_INIT;
	sb_puts(&url, base == API_V1 ? c->base_v1 : c->base_v2);
	sb_puts(&url, path_and_query);
	memset(err, 0, sizeof(*err));
	if (sb_failed(&url)) {
		err->err = ENOMEM;
		snprintf(err->message, sizeof(err->message), "out of memory");
		return -ENOMEM;
	}
	int rc = -EIO;
	for (int attempt_no = 0;; attempt_no++) {
		bool probe;
		rc = rl_gate_acquire(&c->gate, &probe, err->message, sizeof(err->message));
		if (rc) {
			err->err = -rc;
			break;
		}
		struct attempt a;
		attempt_init(&a, conn->curl);
		if (page) {
			sb_truncate(&conn->body, 0); /* a failed attempt's bytes */
			conn->body.failed = false;
			a.body = &conn->body;
			a.page = page;
		}
		curl_easy_setopt(conn->curl, CURLOPT_URL, url.data);
		curl_easy_setopt(conn->curl, CURLOPT_WRITEFUNCTION, attempt_on_body);
		curl_easy_setopt(conn->curl, CURLOPT_WRITEDATA, &a);
		curl_easy_setopt(conn->curl, CURLOPT_HEADERFUNCTION, attempt_on_header);
		curl_easy_setopt(conn->curl, CURLOPT_HEADERDATA, &a);
		conn->curl_error[0] = '\0';
		count_request(c, ep, attempt_no > 0);
		double started = rl_now();
		CURLcode code = curl_easy_perform(conn->curl);
		if (log_get_level() >= LOG_LEVEL_DEBUG) {
			long status = 0;
			curl_easy_getinfo(conn->curl, CURLINFO_RESPONSE_CODE, &status);
			log_debug("GET %s -> %ld%s%s (%.0f ms, %zu bytes)", url.data, status,
				  code == CURLE_OK ? "" : ", ", code == CURLE_OK ? "" : curl_easy_strerror(code),
				  (rl_now() - started) * 1000.0, a.received);
		}
		if (!a.checked_type && code == CURLE_OK)
			attempt_check_type(&a);
		if (code == CURLE_OK && a.json_body && a.page)
			attempt_scan(&a);
		else if (code == CURLE_OK && a.json_body && !a.obj && !a.parse_failed)
			a.parse_failed = true; /* body ended before the JSON value did */
		if (a.date)
			conn->server_date = a.date;
		enum outcome o = attempt_classify(conn, code, &a, err);
		if (probe)
			probe_done(c, code, &a);
		if (o == OUTCOME_OK && ep == API_EP_PERSONS)
			measure_latency(conn);
		if (o == OUTCOME_OK) {
			if (obj) {
				*obj = a.obj;
				a.obj = NULL;
			} else {
				/* The body goes with the page: a callback may make other
				 * requests on this connection before it is done with it. */
				page->body_cap = conn->body.cap;
				page->body = sb_detach(&conn->body, &page->body_len);
				a.page = NULL; /* the caller's now */
			}
			attempt_free(&a);
			rc = 0;
			break;
		}
		double wait = o == OUTCOME_RETRY_BURST ? attempt_burst_wait_s(conn, &a)
						       : backoff_seconds(conn, attempt_no);
		attempt_free(&a);
		rc = -err->err;
		/* Every burst 429 holds every thread back, the last one too. */
		if (o == OUTCOME_RETRY_BURST)
			rl_gate_pause(&c->gate, wait);
		/* A probe is one request: never retried. */
		if (o == OUTCOME_FAIL || probe || attempt_no >= c->max_retries) {
			if (o == OUTCOME_RETRY_BURST && !probe)
				snprintf(err->message, sizeof(err->message),
					 "Pipedrive's burst rate limit was hit (HTTP 429) %d times in a "
					 "row; giving up on this request; try again in a few seconds",
					 attempt_no + 1);
			break;
		}
		log_warn("%s; retrying in %.1f s (attempt %d of %d)", err->message, wait,
			 attempt_no + 2, c->max_retries + 1);
		if (o != OUTCOME_RETRY_BURST && !rl_gate_sleep(&c->gate, wait)) {
			rc = -ECANCELED;
			err->err = ECANCELED;
			snprintf(err->message, sizeof(err->message), "the filesystem is shutting down");
			break;
		}
	}
	if (page && rc) { /* the memory goes back to the spares */
		page->body_cap = conn->body.cap;
		page->body = conn->body.data;
		sb_init(&conn->body);
		api_page_release(page);
	}
	sb_free(&conn->body);
	sb_free(&url);
	return rc;
}

int api_get(struct api_conn *conn, enum api_base base, const char *path_and_query,
	    struct json_object **out, struct api_error *err)
{
	*out = NULL;
	return request(conn, base, path_and_query, out, NULL, err);
}

/* ------------------------------------------------------------------ */
/* Page memory                                                          */

/* A page's body buffer and arena go back to the client for the next page:
 * a walk reuses the same memory page after page instead of growing and
 * shrinking the heap (page faults) for every one. */
static void take_spare(struct api_conn *conn, struct api_page *page)
{
	struct api_client *c = conn->client;
	page->owner = c;
	pthread_mutex_lock(&c->spares_lock);
	if (c->spare_count > 0) {
		struct page_spare *s = &c->spares[--c->spare_count];
		sb_free(&conn->body);
		conn->body = (struct strbuf){ .data = s->body, .len = 0, .cap = s->cap };
		conn->body.data[0] = '\0';
		page->arena = s->arena;
	}
	pthread_mutex_unlock(&c->spares_lock);
}

int api_get_page(struct api_conn *conn, enum api_base base, const char *path_and_query,
		 struct api_page *page, struct api_error *err)
{
	memset(page, 0, sizeof(*page));
	take_spare(conn, page);
	return request(conn, base, path_and_query, NULL, page, err);
}

void api_page_release(struct api_page *page)
{
	struct api_client *c = page->owner;
	bool kept = false;
	if (c && page->body && page->body_cap > 0 && page->body_cap <= PAGE_SPARE_MAX) {
		arena_reset(&page->arena);
		pthread_mutex_lock(&c->spares_lock);
		if (c->spare_count < PAGE_SPARES) {
			c->spares[c->spare_count++] = (struct page_spare){
				.body = page->body, .cap = page->body_cap, .arena = page->arena };
			kept = true;
		}
		pthread_mutex_unlock(&c->spares_lock);
	}
	if (!kept) {
		arena_free(&page->arena);
		free(page->body);
	}
	memset(page, 0, sizeof(*page));
}

void api_client_trim(struct api_client *c)
{
	pthread_mutex_lock(&c->spares_lock);
	while (c->spare_count > 0) {
		struct page_spare *s = &c->spares[--c->spare_count];
		arena_free(&s->arena);
		free(s->body);
	}
	pthread_mutex_unlock(&c->spares_lock);
}

time_t api_conn_server_date(const struct api_conn *conn)
{
	return conn->server_date;
}
