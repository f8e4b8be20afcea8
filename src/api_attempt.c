/*
 * api_attempt.c - one request attempt (api_internal.h): the body (json-c fed
 * as it streams in for api_get; kept whole and scanned once for
 * api_get_page), the headers, and what the outcome means (rate-limit signals
 * are read by ratelimit.c, which also holds the gate).
 */
#include "api_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

/* ------------------------------------------------------------------ */
/* One attempt                                                          */


void attempt_init(struct attempt *a, CURL *curl)
{
	memset(a, 0, sizeof(*a));
	a->curl = curl;
	a->rl_reset = -1;
	a->sig.limit = a->sig.remaining = a->sig.daily_remaining = -1;
	sb_init(&a->error_body);
}

void attempt_free(struct attempt *a)
{
	if (a->tok)
		json_tokener_free(a->tok);
	if (a->obj)
		json_object_put(a->obj);
	if (a->page)
		arena_reset(&a->page->arena); /* kept for the next attempt */
	sb_free(&a->error_body);
}

void attempt_check_type(struct attempt *a)
{
	char *ctype = NULL;
	a->checked_type = true;
	curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &a->status);
	curl_easy_getinfo(a->curl, CURLINFO_CONTENT_TYPE, &ctype);
	a->html = ctype && strcasestr(ctype, "text/html");
	bool json_type = !ctype || strcasestr(ctype, "json");
	if (a->status >= 200 && a->status < 300 && json_type && a->page) {
		/* the body is scanned when it is whole: room for all of it now */
		curl_off_t length = -1;
		a->json_body = true;
		if (curl_easy_getinfo(a->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length) ==
			    CURLE_OK && length > 0 && length <= RESPONSE_CAP)
			sb_reserve(a->body, (size_t)length);
	} else if (a->status >= 200 && a->status < 300 && json_type) {
		a->tok = json_tokener_new();
		a->json_body = a->tok != NULL;
		/* Pipedrive sends strict JSON; json-c's extensions (single quotes,
		 * comments) would make the kept element text unreadable as JSON. */
		if (a->tok)
			json_tokener_set_flags(a->tok, JSON_TOKENER_STRICT);
		a->parse_failed = a->tok == NULL;
	}
}

size_t attempt_on_body(char *data, size_t size, size_t nmemb, void *userdata)
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
	if (a->page) {
		sb_append(a->body, data, n);
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

size_t attempt_on_header(char *data, size_t size, size_t nmemb, void *userdata)
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

/* Scan a whole api_get_page body once.  Strict (jsonscan.h): a body only
 * json-c's leniencies would accept counts as malformed, like a cut one. */
void attempt_scan(struct attempt *a)
{
	if (sb_failed(a->body)) {
		a->out_of_memory = true;
		return;
	}
	size_t len = a->body->len;
	/* tokens are about 1.3x the text (jsonscan.c); room for the elements too */
	if (arena_capacity(&a->page->arena) == 0)
		arena_init(&a->page->arena, len + len / 2 + 4096);
	/* at most one value per two bytes ("[0,0]"): never a limit for a real page */
	struct jsonscan_limits limits = { .max_tokens = len / 2 < UINT32_MAX / 2 ? (uint32_t)(len / 2) + 2
										  : UINT32_MAX / 2 };
	enum jsonscan_status st = jsonscan_page_parse(&a->page->scan, a->body->data ? a->body->data : "",
						      len, &a->page->arena, &limits);
	a->scanned = st == JSONSCAN_OK;
	a->out_of_memory = st == JSONSCAN_E_NOMEM;
	if (!a->scanned && log_get_level() >= LOG_LEVEL_DEBUG)
		log_debug("an answer of %zu bytes is not strict JSON: %s at byte %zu", len,
			  jsonscan_strerror(st), a->page->scan.doc.error_at);
}

/* ------------------------------------------------------------------ */
/* Outcome of an attempt                                               */


/* The "error" string of a JSON error body, or "" */
static void error_text(const struct attempt *a, char *buf, size_t len)
{
	buf[0] = '\0';
	if (a->scanned) {
		if (a->page->scan.error)
			snprintf(buf, len, "%s", a->page->scan.error);
	} else {
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
	}
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

void attempt_pause_after_burst(struct api_client *c, const struct attempt *a, double wait)
{
	if (a->ep == API_EP_SEARCH)
		rl_gate_pause(&c->search_gate, wait);
	if (!search_window_signals(a))
		rl_gate_pause(&c->gate, wait);
}

/* The burst pause with up to half a second of jitter, never past the cap. */
double attempt_burst_wait_s(struct api_conn *conn, const struct attempt *a)
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

enum outcome attempt_classify(struct api_conn *conn, CURLcode code, struct attempt *a,
			      struct api_error *e)
{
	struct api_client *c = conn->client;
	char text[200];
	e->status = a->status;
	if (a->over_cap)
		return refuse_over_cap(e);
	if (a->out_of_memory) {
		e->err = ENOMEM;
		snprintf(e->message, sizeof(e->message), "out of memory reading Pipedrive's answer");
		return OUTCOME_FAIL;
	}
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
		bool object = a->scanned || (a->obj && json_object_is_type(a->obj, json_type_object));
		if (!object) {
			e->err = EIO;
			snprintf(e->message, sizeof(e->message),
				 "Pipedrive sent a malformed or cut response (HTTP %ld)", s);
			return OUTCOME_RETRY;
		}
		bool success = a->scanned ? a->page->scan.success == 1
					  : json_object_object_get_ex(a->obj, "success", &ok) &&
						    json_object_get_boolean(ok);
		if (!success) {
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

