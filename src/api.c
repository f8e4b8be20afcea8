/*
 * api.c - the Pipedrive HTTP client's requests (see api.h for the contract).
 *
 * Layout: the retry loop (api_send, api_get, api_get_page) around one
 * attempt at a time (api_attempt.c: curl, the body - json-c for api_send,
 * kept whole and scanned once with jsonscan for api_get_page - and what
 * the outcome means), the rate gates (ratelimit.c), the offline state, and
 * page memory reused from page to page.  The client and its connections:
 * api_conn.c; the cursor walk over pages: api_walk.c.
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

static enum api_endpoint classify_endpoint(const char *method, enum api_base base,
					   const char *path)
{
	size_t n = strcspn(path, "?");
	if (strcmp(method, "GET") != 0)
		return base == API_V2 && strncmp(path, "/persons", 8) == 0 ? API_EP_PERSON_WRITES
									   : API_EP_OTHER;
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
	if (n == 15 && strncmp(path, "/persons/search", 15) == 0)
		return API_EP_SEARCH;
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

static void offline_error(struct api_client *c, struct api_error *err)
{
	char since[32] = "";
	pthread_mutex_lock(&c->counters_lock);
	struct tm tm;
	if (gmtime_r(&c->offline_since, &tm))
		strftime(since, sizeof(since), "%H:%M UTC", &tm);
	err->err = EIO;
	snprintf(err->message, sizeof(err->message),
		 "Pipedrive has been unreachable since %s (%s); serving the disk cache and "
		 "retrying in the background", since, c->offline_reason);
	pthread_mutex_unlock(&c->counters_lock);
}

void api_client_set_offline(struct api_client *c, bool offline, const char *reason)
{
	pthread_mutex_lock(&c->counters_lock);
	if (offline && !atomic_load(&c->offline)) {
		c->offline_since = time(NULL);
		snprintf(c->offline_reason, sizeof(c->offline_reason), "%s", reason ? reason : "");
	}
	atomic_store(&c->offline, offline);
	pthread_mutex_unlock(&c->counters_lock);
}

bool api_client_offline(struct api_client *c)
{
	return atomic_load(&c->offline);
}

int api_probe(struct api_conn *conn, struct api_error *err)
{
	struct json_object *resp = NULL;
	conn->bypass_offline = true;
	int rc = api_get(conn, API_V1, "/users/me", &resp, err);
	conn->bypass_offline = false;
	json_object_put(resp);
	return rc;
}

/* A slot for one request at the shared gate; a search first takes one at
 * its own gate, and holds search_sending until its answer is in
 * (release_slot): one search at a time, so the search gate's last slot is
 * its own and can be moved to the answer's arrival - the Search API's window
 * then counts it from a moment after the server did, however slow the link
 * (searches are few; ten per 2 s is the most they may be anyway). */
static int acquire_slot(struct api_client *c, enum api_endpoint ep, bool *probe, char *msg,
			size_t msglen)
{
	if (ep != API_EP_SEARCH)
		return rl_gate_acquire(&c->gate, probe, msg, msglen);
	pthread_mutex_lock(&c->search_sending);
	bool never_a_probe; /* the search gate is never blocked */
	int rc = rl_gate_acquire(&c->search_gate, &never_a_probe, msg, msglen);
	if (rc == 0)
		rc = rl_gate_acquire(&c->gate, probe, msg, msglen);
	if (rc)
		pthread_mutex_unlock(&c->search_sending);
	return rc;
}

/* After the answer of a request acquire_slot let through. */
static void release_slot(struct api_client *c, enum api_endpoint ep)
{
	if (ep != API_EP_SEARCH)
		return;
	rl_gate_restamp(&c->search_gate);
	pthread_mutex_unlock(&c->search_sending);
}

/* Point the connection's handle at one request: method, headers, body. */
static void set_method(struct api_conn *conn, const struct api_request *rq)
{
	CURL *e = conn->curl;
	bool is_get = strcmp(rq->method, "GET") == 0;
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, rq->body ? conn->write_headers : conn->headers);
	if (rq->body) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, rq->body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(rq->body));
	} else {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	}
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST,
			 is_get || (rq->body && strcmp(rq->method, "POST") == 0) ? NULL : rq->method);
}

/* A failed attempt of a POST changed nothing only if it never reached the
 * server (no connection) or was refused by the rate limiter. */
static bool provably_unsent(CURLcode code, const struct attempt *a)
{
	if (code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST ||
	    code == CURLE_COULDNT_RESOLVE_PROXY)
		return true;
	return code == CURLE_OK && a->status == 429;
}

/* A request with retries: the answer's object in *obj (json-c: api_send,
 * api_get; the body stays on conn for api_conn_take_body) or page (kept
 * whole and scanned: api_get_page). */
static int request(struct api_conn *conn, const struct api_request *rq, struct json_object **obj,
		   struct api_page *page, struct api_error *err)
{
	struct api_client *c = conn->client;
	enum api_endpoint ep = classify_endpoint(rq->method, rq->base, rq->path);
	int max_retries = rq->max_retries >= 0 ? rq->max_retries : c->max_retries;
	struct strbuf url = STRBUF_INIT;
	sb_puts(&url, rq->base == API_V1 ? c->base_v1 : c->base_v2);
	sb_puts(&url, rq->path);
	memset(err, 0, sizeof(*err));
	if (sb_failed(&url)) {
		err->err = ENOMEM;
		snprintf(err->message, sizeof(err->message), "out of memory");
		if (page)
			api_page_release(page);
		return -ENOMEM;
	}
	int rc = -EIO;
	if (atomic_load(&c->offline) && !conn->bypass_offline) {
		offline_error(c, err);
		sb_free(&url);
		if (page)
			api_page_release(page);
		return -EIO;
	}
	for (int attempt_no = 0;; attempt_no++) {
		bool probe;
		rc = acquire_slot(c, ep, &probe, err->message, sizeof(err->message));
		if (rc) {
			err->err = -rc;
			break;
		}
		struct attempt a;
		attempt_init(&a, conn->curl);
		a.ep = ep;
		a.write = strcmp(rq->method, "GET") != 0;
		if (page) {
			sb_truncate(&conn->body, 0); /* a failed attempt's bytes */
			conn->body.failed = false;
			a.page = page;
		} else {
			sb_free(&conn->body); /* a failed attempt's bytes */
		}
		a.body = &conn->body;
		curl_easy_setopt(conn->curl, CURLOPT_URL, url.data);
		set_method(conn, rq);
		curl_easy_setopt(conn->curl, CURLOPT_WRITEFUNCTION, attempt_on_body);
		curl_easy_setopt(conn->curl, CURLOPT_WRITEDATA, &a);
		curl_easy_setopt(conn->curl, CURLOPT_HEADERFUNCTION, attempt_on_header);
		curl_easy_setopt(conn->curl, CURLOPT_HEADERDATA, &a);
		conn->curl_error[0] = '\0';
		count_request(c, ep, attempt_no > 0);
		double started = rl_now();
		CURLcode code = curl_easy_perform(conn->curl);
		release_slot(c, ep);
		if (log_get_level() >= LOG_LEVEL_DEBUG) {
			long status = 0;
			curl_easy_getinfo(conn->curl, CURLINFO_RESPONSE_CODE, &status);
			log_debug("%s %s -> %ld%s%s (%.0f ms, %zu bytes)", rq->method, url.data, status,
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
		if (rq->retry == API_RETRY_UNSENT && o != OUTCOME_FAIL && !provably_unsent(code, &a)) {
			o = OUTCOME_FAIL; /* it may have been applied: sending it again could repeat it */
			err->maybe_applied = true;
		} else if (rq->retry == API_RETRY_UNSENT && o == OUTCOME_FAIL && err->err == ECANCELED) {
			err->maybe_applied = code == CURLE_ABORTED_BY_CALLBACK;
		}
		double wait = o == OUTCOME_RETRY_BURST ? attempt_burst_wait_s(conn, &a)
						       : backoff_seconds(conn, attempt_no);
		/* Every burst 429 holds every thread back, the last one too. */
		if (o == OUTCOME_RETRY_BURST)
			attempt_pause_after_burst(c, &a, wait);
		attempt_free(&a);
		rc = -err->err;
		/* A probe is one request: never retried. */
		if (o == OUTCOME_FAIL || probe || attempt_no >= max_retries) {
			if (o == OUTCOME_RETRY_BURST && !probe)
				snprintf(err->message, sizeof(err->message),
					 "Pipedrive's burst rate limit was hit (HTTP 429) %d times in a "
					 "row; giving up on this request; try again in a few seconds",
					 attempt_no + 1);
			break;
		}
		log_warn("%s; retrying in %.1f s (attempt %d of %d)", err->message, wait,
			 attempt_no + 2, max_retries + 1);
		if (o != OUTCOME_RETRY_BURST && !rl_gate_sleep(&c->gate, wait)) {
			rc = -ECANCELED;
			err->err = ECANCELED;
			snprintf(err->message, sizeof(err->message), "the filesystem is shutting down");
			break;
		}
	}
	if (page) {
		if (rc) { /* the memory goes back to the spares */
			page->body_cap = conn->body.cap;
			page->body = conn->body.data;
			sb_init(&conn->body);
			api_page_release(page);
		}
		sb_free(&conn->body);
	}
	sb_free(&url);
	return rc;
}

int api_get(struct api_conn *conn, enum api_base base, const char *path_and_query,
	    struct json_object **out, struct api_error *err)
{
	struct api_request rq = { .method = "GET", .base = base, .path = path_and_query,
				  .retry = API_RETRY_SAFE, .max_retries = -1 };
	return api_send(conn, &rq, out, err);
}

int api_send(struct api_conn *conn, const struct api_request *rq, struct json_object **out,
	     struct api_error *err)
{
	*out = NULL;
	return request(conn, rq, out, NULL, err);
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
	struct api_request rq = { .method = "GET", .base = base, .path = path_and_query,
				  .retry = API_RETRY_SAFE, .max_retries = -1 };
	return request(conn, &rq, NULL, page, err);
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

char *api_conn_take_body(struct api_conn *conn, size_t *len)
{
	return sb_detach(&conn->body, len);
}

const char *api_next_cursor(struct json_object *response)
{
	struct json_object *extra, *cursor;
	if (!json_object_object_get_ex(response, "additional_data", &extra) ||
	    !json_object_object_get_ex(extra, "next_cursor", &cursor) ||
	    !json_object_is_type(cursor, json_type_string))
		return NULL;
	return json_object_get_string(cursor);
}
