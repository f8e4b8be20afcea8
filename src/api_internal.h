/*
 * api_internal.h - what api.c (requests: the retry loop), api_conn.c (the
 * client and its connections: curl set-up, headers, page memory) and
 * api_attempt.c (one request attempt: its body, headers and outcome) share.
 * Only src/api*.c include this; api.h is the contract.
 */
#ifndef PDFS_API_INTERNAL_H
#define PDFS_API_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include <curl/curl.h>

#include "api.h"
#include "ratelimit.h"
#include "strbuf.h"

#define CDN_BLOCK_S (15 * 60.0)
#define ERROR_BODY_CAP 65536
/* A page is a few MB; 128 MiB holds four persons at the largest size served
 * (fs.c: 32 MiB files).  A bigger answer is refused, never retried. */
#define RESPONSE_CAP (128u << 20)
#define RESPONSE_CAP_TEXT "128 MiB"

/* Page memory kept for the next page (api.c). */
#define PAGE_SPARES 8 /* a walk has up to 6 pages alive (walker_pages.c's pipeline) */
#define PAGE_SPARE_MAX ((size_t)8 << 20) /* bigger bodies are not kept */

struct page_spare {
	char *body;
	size_t cap;
	struct arena arena;
};

struct api_client {
	char *base_v2;
	char *base_v1;
	char *token_header; /* "x-api-token: ..." - the only copy of the token */
	char *ca_file;
	bool plain_http;    /* http:// (loopback only): never through a proxy */
	long timeout_s;
	long connect_timeout_s;
	int max_retries;
	struct rl_gate gate;
	struct rl_gate search_gate;     /* person searches: the Search API's own window */
	pthread_mutex_t search_sending; /* one search at a time (acquire_slot) */
	atomic_bool cancelled; /* read by transfers in flight, to abort them */
	pthread_mutex_t counters_lock;
	struct api_counters counters;
	double page_latency_s; /* smoothed duration of a persons page, 0 = none yet */
	/* Offline (Pipedrive unreachable at mount): every request fails at once
	 * but the reconnect probe's.  Guarded by counters_lock. */
	atomic_bool offline;
	char offline_reason[200];
	time_t offline_since;
	pthread_mutex_t spares_lock;
	struct page_spare spares[PAGE_SPARES];
	size_t spare_count;
};

struct api_conn {
	struct api_client *client;
	unsigned int jitter_seed; /* rand_r state: one per thread */
	struct strbuf body; /* the last successful response's body */
	time_t server_date; /* Date header of the last response, 0 if none */
	bool bypass_offline; /* this connection probes while offline */
	CURL *curl;
	struct curl_slist *headers;
	struct curl_slist *write_headers; /* the same + Content-Type, for bodies */
	char curl_error[CURL_ERROR_SIZE];
};

struct attempt {
	CURL *curl;
	enum api_endpoint ep;
	long status;
	bool checked_type;
	bool json_body;          /* 2xx with a JSON content type: the answer */
	bool html;
	json_tokener *tok;       /* api_get: json-c, fed as the body streams in */
	struct json_object *obj;
	bool parse_failed;
	struct api_page *page;   /* api_get_page: the body, scanned once it is whole */
	bool scanned;            /* page->scan holds the answer's object */
	bool out_of_memory;      /* keeping or scanning the body failed */
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

enum outcome {
	OUTCOME_OK,
	OUTCOME_RETRY,       /* transient: retry after a backoff */
	OUTCOME_RETRY_BURST, /* burst 429: everyone waits, then retry */
	OUTCOME_FAIL,        /* final */
};

void attempt_init(struct attempt *a, CURL *curl);
void attempt_free(struct attempt *a);
/* The status and content type, at the first body byte (or the end). */
void attempt_check_type(struct attempt *a);
/* curl's write and header callbacks; userdata is the attempt. */
size_t attempt_on_body(char *data, size_t size, size_t nmemb, void *userdata);
size_t attempt_on_header(char *data, size_t size, size_t nmemb, void *userdata);
/* Scan a whole api_get_page body once it is complete. */
void attempt_scan(struct attempt *a);
/* What the attempt's outcome means: err gets the errno and message. */
enum outcome attempt_classify(struct api_conn *conn, CURLcode code, struct attempt *a,
			      struct api_error *err);
/* The pause after a burst 429, with jitter. */
double attempt_burst_wait_s(struct api_conn *conn, const struct attempt *a);
/* After a burst 429: a search holds other searches back, and everything
 * else too unless the answer says it was the Search API's window. */
void attempt_pause_after_burst(struct api_client *c, const struct attempt *a, double wait);

#endif
