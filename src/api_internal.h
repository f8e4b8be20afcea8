/*
 * api_internal.h - what api.c (requests) and api_conn.c (the client and its
 * connections: curl set-up, headers) share.  Only src/api*.c include this;
 * api.h is the contract.
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

#endif
