/*
 * api.h - the Pipedrive HTTP client.  Knows Pipedrive, not FUSE.
 *
 * One api_client per mount holds the configuration, the token and the rate
 * gate shared by every thread.  Each worker thread owns one api_conn (one
 * libcurl easy handle, so its connection is kept alive across pages).
 *
 * Every request goes through the rate gate (ratelimit.h): it paces requests
 * under the burst limit (the announced x-ratelimit-limit per 2 s, else 20);
 * person searches also through a gate of their own (the Search API allows
 * 10 per 2 s on every plan; a search counts in both windows), which the
 * x-ratelimit-* of search answers feed when they describe that window;
 * pauses every thread after a burst 429 or x-ratelimit-remaining: 0 (never
 * more than 30 s), and stops asking after a budget 429 (EAGAIN at once; one
 * probe per 5 minutes) or the CDN's HTML 403 (15 minutes).  Transient
 * failures (5xx, network errors, timeouts, cut or malformed bodies,
 * success:false) are retried a bounded number of times with backoff; the
 * final error is an errno plus a message that says what to do.  The token is
 * sent only in the x-api-token header and never appears in URLs or messages;
 * a plain http base never goes through a proxy (https honours https_proxy,
 * all_proxy, no_proxy).  TLS certificates are always verified.
 */
#ifndef PDFS_API_H
#define PDFS_API_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <json-c/json.h>

#include "arena.h"
#include "jsonscan.h"
#include "url.h"

struct api_config {
	const char *base_v2;     /* normalised, e.g. https://x.pipedrive.com/api/v2 */
	const char *base_v1;     /* the v1 base beside it */
	const char *token;       /* the secret; copied, wiped on free */
	const char *ca_file;     /* CA bundle instead of the system's (an absolute path:
				  * every new connection reads it), or NULL */
	long timeout_s;          /* whole-request timeout */
	long connect_timeout_s;
	int max_retries;         /* per request, for transient failures and burst 429s */
};

struct api_error {
	int err;           /* positive errno: EACCES, ENOENT, EIO, EAGAIN, EINVAL, ECANCELED,
			    * EFBIG (an answer over the size cap: final) */
	long status;       /* HTTP status, 0 if no response */
	/* A write (api_send) that failed after its request may have reached
	 * Pipedrive: it may have been applied (a timeout, a cut answer, a 5xx). */
	bool maybe_applied;
	char message[320]; /* for the log: what happened and what to do */
};

enum api_base {
	API_V1,
	API_V2,
};

/* Which endpoint a request went to, for the counters. */
enum api_endpoint {
	API_EP_PERSONS,
	API_EP_PERSON,
	API_EP_ORGANIZATIONS,
	API_EP_USERS,
	API_EP_USERS_ME,
	API_EP_FILTERS,
	API_EP_PERSON_FIELDS,
	API_EP_SEARCH, /* GET /api/v2/persons/search: the Search API, 10 per 2 s */
	API_EP_PERSON_WRITES, /* POST, PATCH, DELETE /api/v2/persons[/{id}] */
	API_EP_OTHER,
	API_EP_COUNT,
};

struct api_counters {
	uint64_t requests[API_EP_COUNT]; /* HTTP requests sent, retries included */
	uint64_t retries;
	uint64_t rate_limited;           /* 429 answers */
	long last_limit;                 /* last x-ratelimit-limit seen, -1 if none */
	long last_remaining;
	long last_reset;
	long last_daily_remaining;
};

struct api_client;
struct api_conn;

struct api_client *api_client_new(const struct api_config *cfg);
void api_client_free(struct api_client *client);
/* Wake every waiting request and make new ones fail with ECANCELED (unmount). */
void api_client_cancel(struct api_client *client);
void api_client_counters(struct api_client *client, struct api_counters *out);

/* What the link allows, for sizing parallel walks (Little's law: requests in
 * flight = rate x latency). */
struct api_link {
	double rate_per_s;     /* the gate's pace: announced x-ratelimit-limit / 2 s,
				* or the documented smallest, 20 / 2 s */
	double page_latency_s; /* smoothed duration of a GET /persons answer (connection
				* set-up excluded); 0 until one was measured */
};
void api_client_link(struct api_client *client, struct api_link *out);
const char *api_endpoint_name(enum api_endpoint ep);

/* Offline: Pipedrive could not be reached at mount.  Every request then
 * fails at once with EIO and a message saying so (no waiting on timeouts),
 * except api_probe's, until the client is set online again. */
void api_client_set_offline(struct api_client *client, bool offline, const char *reason);
bool api_client_offline(struct api_client *client);

struct api_conn *api_conn_new(struct api_client *client);
void api_conn_free(struct api_conn *conn);
/* The server's clock (HTTP Date header) at the last response, 0 if unknown. */
time_t api_conn_server_date(const struct api_conn *conn);

/* GET base + path_and_query.  On success (HTTP 200 and "success": true)
 * returns 0 and the whole response object in *out (caller puts it).  For
 * single answers (users/me); lists and arrays go through api_get_page. */
int api_get(struct api_conn *conn, enum api_base base, const char *path_and_query,
	    struct json_object **out, struct api_error *err);

/* GET /api/v1/users/me even while offline: 0 if Pipedrive answered. */
int api_probe(struct api_conn *conn, struct api_error *err);
/*
 * Any request with an optional JSON body (api_get is a GET through this).
 * What a failed attempt may be retried for depends on whether sending it
 * twice is harmless:
 *   API_RETRY_SAFE    GET, PATCH (sets fields to values), DELETE (a second
 *                     one finds the person deleted): retried like a GET;
 *   API_RETRY_UNSENT  POST (a second one creates a second person): retried
 *                     only when the attempt provably changed nothing - the
 *                     connection could not be made, or a 429; any other
 *                     failure (timeout, cut answer, 5xx, success:false)
 *                     sets err->maybe_applied and is not retried.
 * A 2xx answer with "success": true returns 0 and the response in *out.
 */
enum api_retry {
	API_RETRY_SAFE,
	API_RETRY_UNSENT,
};

struct api_request {
	const char *method;    /* "GET", "POST", "PATCH", "DELETE" */
	enum api_base base;
	const char *path;      /* path and query, after the base */
	const char *body;      /* JSON text, or NULL */
	enum api_retry retry;
	int max_retries;       /* < 0: the client's */
};

int api_send(struct api_conn *conn, const struct api_request *rq, struct json_object **out,
	     struct api_error *err);
/* The body of the last successful answer on conn, exactly as received
 * (malloc'd, NUL-terminated; the caller frees it), or NULL. */
char *api_conn_take_body(struct api_conn *conn, size_t *len);

/*
 * One answer of a list (or any {"success", "data": [...]} answer), scanned
 * once with jsonscan: no json-c tree.  The body as received, its tokens, and
 * the data array's elements, each with its exact text (scan.elements[i]:
 * token, start, len in body; scan.count of them, 0 when data is absent, null
 * or not an array).  Strict JSON only: an answer that only json-c's
 * leniencies (docs/fuzzing.md) would accept is malformed, retried like a cut
 * one, then EIO.  Whoever holds the page owns all of it: api_page_release().
 */
struct api_page {
	char *body;          /* malloc'd; scan.doc reads it in place */
	size_t body_len;
	struct arena arena;  /* scan's tokens, elements and strings */
	struct jsonscan_page scan;
	size_t body_cap;              /* (api.c: the memory is reused for */
	struct api_client *owner;     /*  the next page when released) */
};

/* GET as api_get, the answer scanned into *page (zeroed on failure). */
int api_get_page(struct api_conn *conn, enum api_base base, const char *path_and_query,
		 struct api_page *page, struct api_error *err);
void api_page_release(struct api_page *page);
/* Give back the memory released pages left for the next ones (after a big
 * walk). */
void api_client_trim(struct api_client *client);

/* The additional_data.next_cursor of a v2 list answer, NULL if none (the
 * string belongs to response). */
const char *api_next_cursor(struct json_object *response);

/* Called with each page; a non-zero return stops the walk and becomes its
 * result.  The callback may take the page (move it and zero *page); the walk
 * releases what is left. */
typedef int (*api_page_fn)(void *ctx, struct api_page *page);

/* Walk a cursor-paged v2 list (path "/persons", "/organizations", ...) until
 * next_cursor is null.  Returns 0 only if every page arrived.  A walk that
 * does not end properly (walkguard.h: a cursor given twice, pages with
 * nothing new, the caps on items, pages, duration, cursor length) fails with
 * EIO and a message saying why. */
int api_walk(struct api_conn *conn, const char *path, const struct list_query *q,
	     api_page_fn on_page, void *ctx, struct api_error *err);
/* The same, starting at a cursor from api_list_page. */
int api_walk_from(struct api_conn *conn, const char *path, const struct list_query *q,
		  const char *start_cursor, api_page_fn on_page, void *ctx, struct api_error *err);
/* One page (api_get_page; EIO when data is neither absent, null nor an
 * array) and *next the malloc'd next cursor, or NULL on the last page.
 * Release the page with api_page_release. */
int api_list_page(struct api_conn *conn, const char *path, const struct list_query *q,
		  const char *cursor, struct api_page *page, char **next,
		  struct api_error *err);

#endif
