/*
 * api.c - the Pipedrive HTTP client (see api.h for the contract).
 *
 * Layout: one request attempt (curl + streaming JSON parse), classification
 * of an attempt's outcome (rate-limit signals are read by ratelimit.c, which
 * also holds the gate), the retry loop (api_send, api_get), and the cursor
 * walk (api_walk).  The client and its connections: api_conn.c.
 */
#include "api.h"
#include "api_internal.h"

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

#include "log.h"
#include "ratelimit.h"
#include "strbuf.h"
#include "walkguard.h"

#define CDN_BLOCK_S (15 * 60.0)
#define ERROR_BODY_CAP 65536
/* A page is a few MB; 128 MiB holds four persons at the largest size served
 * (fs.c: 32 MiB files).  A bigger answer is refused, never retried. */
#define RESPONSE_CAP (128u << 20)
#define RESPONSE_CAP_TEXT "128 MiB"
#define LATENCY_WEIGHT 0.3 /* of the newest page in the smoothed latency */

/* ------------------------------------------------------------------ */
/* One attempt                                                          */

struct attempt {
	CURL *curl;
	enum api_endpoint ep;
	long status;
	bool checked_type;
	bool json_body;          /* 2xx with a JSON content type: parse as it streams */
	bool html;
	json_tokener *tok;
	struct json_object *obj;
	bool parse_failed;
	size_t received;
	bool over_cap;           /* the body passed RESPONSE_CAP: aborted */
	bool write;              /* a POST, PATCH or DELETE: a 400 refuses a change */
	struct strbuf error_body; /* first bytes of a non-JSON or error body */
	struct strbuf *body;      /* the whole JSON body, kept for the caller */
	char retry_after[64];     /* the Retry-After value as sent, "" = absent */
	time_t date;              /* the Date header, 0 = absent */
	long long rl_reset;       /* x-ratelimit-reset as sent, -1 = absent */
	struct rl_signals sig;    /* the rate-limit signals, read by attempt_signals() */
};

static void attempt_init(struct attempt *a, CURL *curl)
{
	memset(a, 0, sizeof(*a));
	a->curl = curl;
	a->rl_reset = -1;
	a->sig.limit = a->sig.remaining = a->sig.daily_remaining = -1;
	sb_init(&a->error_body);
}

static void attempt_free(struct attempt *a)
{
	if (a->tok)
		json_tokener_free(a->tok);
	if (a->obj)
		json_object_put(a->obj);
	sb_free(&a->error_body);
}

static void attempt_check_type(struct attempt *a)
{
	char *ctype = NULL;
	a->checked_type = true;
	curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &a->status);
	curl_easy_getinfo(a->curl, CURLINFO_CONTENT_TYPE, &ctype);
	a->html = ctype && strcasestr(ctype, "text/html");
	bool json_type = !ctype || strcasestr(ctype, "json");
	if (a->status >= 200 && a->status < 300 && json_type) {
		a->tok = json_tokener_new();
		a->json_body = a->tok != NULL;
		/* Pipedrive sends strict JSON; json-c's extensions (single quotes,
		 * comments) would make the kept element text unreadable as JSON. */
		if (a->tok)
			json_tokener_set_flags(a->tok, JSON_TOKENER_STRICT);
		a->parse_failed = a->tok == NULL;
	}
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct attempt *a = userdata;
	size_t n = size * nmemb;
	if (!a->checked_type)
		attempt_check_type(a);
	a->received += n;
	if (a->received > RESPONSE_CAP) {
		a->over_cap = true;
		return 0; /* abort: CURLE_WRITE_ERROR */
	}
	if (!a->json_body) {
		if (a->error_body.len < ERROR_BODY_CAP)
			sb_append(&a->error_body, data, n);
		return n;
	}
	if (a->obj || a->parse_failed)
		return n; /* trailing bytes after a complete value, or already broken */
	if (a->body)
		sb_append(a->body, data, n);
	a->obj = json_tokener_parse_ex(a->tok, data, (int)n);
	enum json_tokener_error jerr = json_tokener_get_error(a->tok);
	if (!a->obj && jerr != json_tokener_continue)
		a->parse_failed = true;
	return n;
}

static long long header_number(const char *value)
{
	char *end;
	long long v = strtoll(value, &end, 10);
	return end == value ? -1 : v;
}

static long header_long(const char *value)
{
	long long v = header_number(value);
	return v > LONG_MAX ? LONG_MAX : v < -1 ? -1 : (long)v;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct attempt *a = userdata;
	size_t n = size * nmemb;
	char line[256];
	size_t len = n < sizeof(line) - 1 ? n : sizeof(line) - 1;
	memcpy(line, data, len);
	line[len] = '\0';
	char *colon = strchr(line, ':');
	if (!colon)
		return n;
	*colon = '\0';
	char *value = colon + 1;
	while (*value == ' ' || *value == '\t')
		value++;
	if (strcasecmp(line, "retry-after") == 0) {
		snprintf(a->retry_after, sizeof(a->retry_after), "%s", value);
	} else if (strcasecmp(line, "x-ratelimit-limit") == 0) {
		a->sig.limit = header_long(value);
	} else if (strcasecmp(line, "x-ratelimit-remaining") == 0) {
		a->sig.remaining = header_long(value);
	} else if (strcasecmp(line, "x-ratelimit-reset") == 0) {
		a->rl_reset = header_number(value);
	} else if (strcasecmp(line, "x-daily-ratelimit-token-remaining") == 0) {
		a->sig.daily_remaining = header_long(value);
	} else if (strcasecmp(line, "date") == 0) {
		struct tm tm;
		memset(&tm, 0, sizeof(tm));
		if (strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm))
			a->date = timegm(&tm);
	}
	return n;
}

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
/* Outcome of an attempt                                               */

enum outcome {
	OUTCOME_OK,
	OUTCOME_RETRY,       /* transient: retry after a backoff */
	OUTCOME_RETRY_BURST, /* burst 429: everyone waits, then retry */
	OUTCOME_FAIL,        /* final */
};

/* The "error" string of a JSON error body, or "" */
static void error_text(const struct attempt *a, char *buf, size_t len)
{
	buf[0] = '\0';
	struct json_object *body = a->obj;
	struct json_object *parsed = NULL;
	if (!body && a->error_body.len && !a->html) {
		parsed = json_tokener_parse(a->error_body.data);
		body = parsed;
	}
	struct json_object *msg;
	if (body && json_object_object_get_ex(body, "error", &msg) &&
	    json_object_is_type(msg, json_type_string))
		snprintf(buf, len, "%s", json_object_get_string(msg));
	if (parsed)
		json_object_put(parsed);
	/* Keep the message printable: the body came from the network. */
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
}

/* Read the attempt's rate-limit signals, against the server's clock when it
 * sent one (a moment in x-ratelimit-reset or Retry-After is its time). */
static void attempt_signals(struct attempt *a, const char *error_message)
{
	time_t now = a->date ? a->date : time(NULL);
	a->sig.status = a->status;
	a->sig.reset_s = rl_reset_seconds(a->rl_reset, now);
	a->sig.retry_after_s = a->retry_after[0] ? rl_retry_after_seconds(a->retry_after, now) : -1;
	a->sig.says_daily = strcasestr(error_message, "daily") != NULL;
}

/* Whether a search answer's x-ratelimit-* describe the Search API's own
 * window (the spec leaves open which window they describe): an announced
 * limit within the search limit can only be that one; a higher one is the
 * shared window's. */
static bool search_window_signals(const struct attempt *a)
{
	return a->ep == API_EP_SEARCH && a->sig.limit > 0 && a->sig.limit <= RL_SEARCH_LIMIT;
}

static void record_rate_headers(struct api_client *c, const struct attempt *a)
{
	const struct rl_signals *sig = &a->sig;
	bool search_window = search_window_signals(a);
	pthread_mutex_lock(&c->counters_lock);
	if (!search_window) { /* the status shows the shared window */
		if (sig->limit >= 0)
			c->counters.last_limit = sig->limit;
		if (sig->remaining >= 0)
			c->counters.last_remaining = sig->remaining;
		if (a->rl_reset >= 0)
			c->counters.last_reset = a->rl_reset > LONG_MAX ? LONG_MAX : (long)a->rl_reset;
	}
	if (sig->daily_remaining >= 0)
		c->counters.last_daily_remaining = sig->daily_remaining;
	if (a->status == 429)
		c->counters.rate_limited++;
	pthread_mutex_unlock(&c->counters_lock);
	struct rl_gate *gate = search_window ? &c->search_gate : &c->gate;
	if (sig->limit > 0)
		rl_gate_set_limit(gate, sig->limit);
	rl_gate_pause(gate, rl_pause_after_answer_s(sig));
}

/* After a burst 429: a search holds other searches back, and everything
 * else too unless the answer says it was the Search API's window. */
static void pause_after_burst(struct api_client *c, const struct attempt *a, double wait)
{
	if (a->ep == API_EP_SEARCH)
		rl_gate_pause(&c->search_gate, wait);
	if (!search_window_signals(a))
		rl_gate_pause(&c->gate, wait);
}

/* The burst pause with up to half a second of jitter, never past the cap. */
static double burst_wait_seconds(struct api_conn *conn, const struct attempt *a)
{
	unsigned int r = rand_r(&conn->jitter_seed);
	double wait = rl_burst_pause_s(&a->sig) + (double)(r % 500) / 1000.0;
	return wait > RL_PAUSE_CAP_S ? RL_PAUSE_CAP_S : wait;
}

/* A budget 429: block every request until the budget resets, but for one
 * probe per probe interval. */
static void block_for_budget(struct api_client *c, const struct attempt *a, struct api_error *e)
{
	double wait = rl_budget_block_s(&a->sig);
	const char *reason = a->sig.daily_remaining == 0 || a->sig.says_daily
				     ? "the company's daily Pipedrive API budget is used up (HTTP 429)"
				     : "Pipedrive asked to wait long after an HTTP 429: the company's "
				       "daily API budget is used up";
	rl_gate_block(&c->gate, wait, EAGAIN, reason, "it resets", true);
	e->err = EAGAIN;
	rl_block_message(reason, "it resets", wait, e->message, sizeof(e->message));
}

/* An answer over RESPONSE_CAP: the same request would bring it again. */
static enum outcome refuse_over_cap(struct api_error *e)
{
	e->err = EFBIG;
	snprintf(e->message, sizeof(e->message),
		 "Pipedrive sent an answer larger than " RESPONSE_CAP_TEXT ", more than pipedrivefs "
		 "accepts; not retried (a smaller page_limit helps if single persons are this big)");
	return OUTCOME_FAIL;
}

static enum outcome classify(struct api_conn *conn, CURLcode code, struct attempt *a,
			     struct api_error *e)
{
	struct api_client *c = conn->client;
	char text[200];
	e->status = a->status;
	if (a->over_cap)
		return refuse_over_cap(e);
	if (code == CURLE_ABORTED_BY_CALLBACK) {
		e->err = ECANCELED;
		snprintf(e->message, sizeof(e->message), "the filesystem is shutting down");
		return OUTCOME_FAIL;
	}
	if (code != CURLE_OK) {
		e->err = EIO;
		snprintf(e->message, sizeof(e->message),
			 "network error talking to Pipedrive: %s; check the connection and base_url",
			 conn->curl_error[0] ? conn->curl_error : curl_easy_strerror(code));
		return code == CURLE_URL_MALFORMAT || code == CURLE_UNSUPPORTED_PROTOCOL ||
		       code == CURLE_SSL_CACERT_BADFILE || code == CURLE_PEER_FAILED_VERIFICATION
			       ? OUTCOME_FAIL : OUTCOME_RETRY;
	}
	error_text(a, text, sizeof(text));
	attempt_signals(a, text);
	record_rate_headers(c, a);
	long s = a->status;
	if (s >= 200 && s < 300) {
		struct json_object *ok;
		if (!a->obj || !json_object_is_type(a->obj, json_type_object)) {
			e->err = EIO;
			snprintf(e->message, sizeof(e->message),
				 "Pipedrive sent a malformed or cut response (HTTP %ld)", s);
			return OUTCOME_RETRY;
		}
		if (!json_object_object_get_ex(a->obj, "success", &ok) ||
		    !json_object_get_boolean(ok)) {
			e->err = EIO;
			snprintf(e->message, sizeof(e->message),
				 "Pipedrive answered success:false (%s)", text[0] ? text : "no reason given");
			return OUTCOME_RETRY;
		}
		return OUTCOME_OK;
	}
	if (s == 401) {
		e->err = EACCES;
		snprintf(e->message, sizeof(e->message),
			 "the API token was rejected (HTTP 401): check PIPEDRIVE_API_TOKEN or the "
			 "token file (Pipedrive: Personal preferences > API)");
		return OUTCOME_FAIL;
	}
	if (s == 403 && a->html) {
		const char *reason = "Pipedrive's CDN blocked this token after rate limiting "
				     "(HTML 403)";
		rl_gate_block(&c->gate, CDN_BLOCK_S, EIO, reason, "the block ends", false);
		e->err = EIO;
		rl_block_message(reason, "the block ends", CDN_BLOCK_S, e->message,
				 sizeof(e->message));
		return OUTCOME_FAIL;
	}
	if (s == 403) {
		e->err = EACCES;
		snprintf(e->message, sizeof(e->message),
			 "Pipedrive refused access (HTTP 403: %s); the token's user may lack "
			 "permission for this data", text[0] ? text : "forbidden");
		return OUTCOME_FAIL;
	}
	if (s == 404) {
		e->err = ENOENT;
		snprintf(e->message, sizeof(e->message), "not found (HTTP 404: %s)",
			 text[0] ? text : "no such item");
		return OUTCOME_FAIL;
	}
	if (s == 429 && rl_classify_429(&a->sig) == RL_BUDGET) {
		block_for_budget(c, a, e);
		return OUTCOME_FAIL;
	}
	if (s == 429) {
		e->err = EAGAIN;
		snprintf(e->message, sizeof(e->message),
			 "Pipedrive's burst rate limit was hit (HTTP 429)");
		return OUTCOME_RETRY_BURST;
	}
	if (s == 400) {
		e->err = EINVAL;
		snprintf(e->message, sizeof(e->message),
			 a->write ? "Pipedrive refused the change as invalid (HTTP 400: %s)"
				  : "Pipedrive rejected the request (HTTP 400: %s); this is a pipedrivefs "
				    "bug or a bad option value", text[0] ? text : "bad request");
		return OUTCOME_FAIL;
	}
	e->err = EIO;
	snprintf(e->message, sizeof(e->message), "Pipedrive answered HTTP %ld%s%s", s,
		 text[0] ? ": " : "", text);
	return s >= 500 ? OUTCOME_RETRY : OUTCOME_FAIL;
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
	struct api_client *c = conn->client;
	enum api_endpoint ep = classify_endpoint(rq->method, rq->base, rq->path);
	int max_retries = rq->max_retries >= 0 ? rq->max_retries : c->max_retries;
	struct strbuf url = STRBUF_INIT;
	sb_puts(&url, rq->base == API_V1 ? c->base_v1 : c->base_v2);
	sb_puts(&url, rq->path);
	*out = NULL;
	memset(err, 0, sizeof(*err));
	if (sb_failed(&url)) {
		err->err = ENOMEM;
		snprintf(err->message, sizeof(err->message), "out of memory");
		return -ENOMEM;
	}
	int rc = -EIO;
	if (atomic_load(&c->offline) && !conn->bypass_offline) {
		offline_error(c, err);
		sb_free(&url);
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
		sb_free(&conn->body); /* a failed attempt's bytes */
		a.body = &conn->body;
		a.write = strcmp(rq->method, "GET") != 0;
		curl_easy_setopt(conn->curl, CURLOPT_URL, url.data);
		set_method(conn, rq);
		curl_easy_setopt(conn->curl, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(conn->curl, CURLOPT_WRITEDATA, &a);
		curl_easy_setopt(conn->curl, CURLOPT_HEADERFUNCTION, on_header);
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
		if (code == CURLE_OK && a.json_body && !a.obj && !a.parse_failed)
			a.parse_failed = true; /* body ended before the JSON value did */
		if (a.date)
			conn->server_date = a.date;
		enum outcome o = classify(conn, code, &a, err);
		if (probe)
			probe_done(c, code, &a);
		if (o == OUTCOME_OK && ep == API_EP_PERSONS)
			measure_latency(conn);
		if (o == OUTCOME_OK) {
			*out = a.obj;
			a.obj = NULL;
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
		double wait = o == OUTCOME_RETRY_BURST ? burst_wait_seconds(conn, &a)
						       : backoff_seconds(conn, attempt_no);
		/* Every burst 429 holds every thread back, the last one too. */
		if (o == OUTCOME_RETRY_BURST)
			pause_after_burst(c, &a, wait);
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
	sb_free(&url);
	return rc;
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

int api_list_page(struct api_conn *conn, const char *path, const struct list_query *q,
		  const char *cursor, struct api_page *page, char **next, struct api_error *err)
{
	memset(page, 0, sizeof(*page));
	*next = NULL;
	struct strbuf req = STRBUF_INIT;
	sb_puts(&req, path);
	url_list_query(&req, q, cursor);
	if (sb_failed(&req)) {
		err->err = ENOMEM;
		snprintf(err->message, sizeof(err->message), "out of memory");
		return -ENOMEM;
	}
	struct json_object *resp = NULL;
	int rc = api_get(conn, API_V2, req.data, &resp, err);
	sb_free(&req);
	if (rc)
		return rc;
	struct json_object *items = NULL;
	json_object_object_get_ex(resp, "data", &items);
	if (items && !json_object_is_type(items, json_type_array) &&
	    !json_object_is_type(items, json_type_null)) {
		json_object_put(resp);
		err->err = EIO;
		snprintf(err->message, sizeof(err->message),
			 "Pipedrive sent a page of %s whose data is not a list", path);
		return -EIO;
	}
	const char *cursor_text = api_next_cursor(resp);
	if (cursor_text && !(*next = strdup(cursor_text)))
		rc = -ENOMEM;
	if (rc == 0 && json_object_is_type(items, json_type_array))
		page->data = json_object_get(items);
	else if (rc == 0 && !(page->data = json_object_new_array()))
		rc = -ENOMEM;
	json_object_put(resp);
	if (rc) {
		free(*next);
		*next = NULL;
		err->err = ENOMEM;
		snprintf(err->message, sizeof(err->message), "out of memory");
		return rc;
	}
	/* The body goes with the page: a callback may make other requests on
	 * this connection before it is done with the page. */
	page->body = sb_detach(&conn->body, &page->body_len);
	if (!page->body)
		page->body_len = 0;
	return 0;
}

void api_page_release(struct api_page *page)
{
	if (page->data)
		json_object_put(page->data);
	free(page->body);
	memset(page, 0, sizeof(*page));
}

/* The identities of a page's items for the walk guard: ids, and in a walk
 * that is not ascending a hash of the text of elements without one. */
static size_t page_keys(struct json_object *data, bool ascending, uint64_t *keys)
{
	size_t n = json_object_array_length(data), k = 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *item = json_object_array_get_idx(data, i), *id;
		if (json_object_object_get_ex(item, "id", &id) && json_object_is_type(id, json_type_int)) {
			keys[k++] = (uint64_t)json_object_get_int64(id);
		} else if (!ascending) {
			size_t len;
			const char *text = json_object_to_json_string_length(item, JSON_C_TO_STRING_PLAIN, &len);
			uint64_t h = UINT64_C(1469598103934665603); /* FNV-1a */
			for (size_t b = 0; text && b < len; b++)
				h = (h ^ (unsigned char)text[b]) * UINT64_C(1099511628211);
			keys[k++] = h | UINT64_C(1) << 63; /* apart from ids */
		}
	}
	return k;
}

static int walk_stopped(enum walkguard_verdict v, const char *path, const struct walkguard *g,
			struct api_error *err)
{
	err->err = v == WALKGUARD_OUT_OF_MEMORY ? ENOMEM : EIO;
	snprintf(err->message, sizeof(err->message),
		 "Pipedrive's list %s did not end properly: %s (after %llu pages, %llu items); "
		 "stopped the walk; try again later, and report it if it persists",
		 path, walkguard_reason(v), (unsigned long long)g->pages,
		 (unsigned long long)g->items);
	return -err->err;
}

static bool query_ascending_by_id(const struct list_query *q)
{
	return q->sort_by && strcmp(q->sort_by, "id") == 0 && q->sort_direction &&
	       strcmp(q->sort_direction, "asc") == 0;
}

int api_walk_from(struct api_conn *conn, const char *path, const struct list_query *q,
		  const char *start_cursor, api_page_fn on_page, void *ctx, struct api_error *err)
{
	struct walkguard guard;
	walkguard_init(&guard, NULL, query_ascending_by_id(q), rl_now());
	char *cursor = NULL;
	int rc = 0;
	if (start_cursor) {
		enum walkguard_verdict v = walkguard_start_cursor(&guard, start_cursor, strlen(start_cursor));
		if (v != WALKGUARD_CONTINUE)
			rc = walk_stopped(v, path, &guard, err);
		else if (!(cursor = strdup(start_cursor)))
			rc = -ENOMEM;
	}
	uint64_t *keys = NULL;
	size_t keys_cap = 0;
	while (rc == 0) {
		struct api_page page;
		char *next = NULL;
		rc = api_list_page(conn, path, q, cursor, &page, &next, err);
		if (rc)
			break;
		size_t n = json_object_array_length(page.data);
		if (n > keys_cap) {
			uint64_t *grown = realloc(keys, n * sizeof(*keys));
			if (!grown) {
				api_page_release(&page);
				free(next);
				rc = -ENOMEM;
				break;
			}
			keys = grown;
			keys_cap = n;
		}
		size_t nkeys = page_keys(page.data, guard.ascending, keys);
		enum walkguard_verdict v = walkguard_page(&guard, keys, nkeys, n, next,
							  next ? strlen(next) : 0, rl_now());
		rc = on_page(ctx, &page);
		api_page_release(&page);
		if (rc == 0 && v != WALKGUARD_CONTINUE && v != WALKGUARD_DONE)
			rc = walk_stopped(v, path, &guard, err);
		free(cursor);
		cursor = next;
		if (rc || v == WALKGUARD_DONE)
			break;
	}
	if (rc == -ENOMEM && !err->message[0]) {
		err->err = ENOMEM;
		snprintf(err->message, sizeof(err->message), "out of memory");
	}
	free(keys);
	free(cursor);
	walkguard_free(&guard);
	return rc;
}

int api_walk(struct api_conn *conn, const char *path, const struct list_query *q,
	     api_page_fn on_page, void *ctx, struct api_error *err)
{
	return api_walk_from(conn, path, q, NULL, on_page, ctx, err);
}
