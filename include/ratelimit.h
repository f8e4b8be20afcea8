/*
 * ratelimit.h - Pipedrive's rate-limit signals, read defensively, and the
 * rate gate every request of a mount goes through.  Knows HTTP header
 * values; not curl, not FUSE.
 *
 * Reading the signals (pure functions, unit-tested):
 *  - x-ratelimit-reset is documented as seconds until the 2 s window resets.
 *    A value that can only be a moment (>= 1e9: epoch seconds; >= 1e11:
 *    epoch milliseconds) is taken as that moment; a negative one is unknown;
 *    whatever it says, no pause taken from it exceeds RL_PAUSE_CAP_S.
 *  - Retry-After is delay-seconds or an HTTP-date (RFC 9110).
 *  - A 429 is a budget block (RL_BUDGET) when it says so
 *    (x-daily-ratelimit-token-remaining: 0, or "daily" in the error), or when
 *    it carries no burst signal (x-ratelimit-remaining: 0) but a Retry-After
 *    longer than RL_BUDGET_RETRY_AFTER_S: no burst window lasts a minute, so
 *    a long wait can only be a budget.  Any other 429 is a burst (RL_BURST),
 *    whose pause is max(Retry-After, x-ratelimit-reset, 2 s), at most
 *    RL_PAUSE_CAP_S.
 *
 * The gate (one per mount, shared by every thread, thread-safe):
 *  - paces requests to `limit` per RL_BURST_WINDOW_S (RL_DEFAULT_LIMIT, the
 *    documented smallest limit, until a limit is announced);
 *  - a pause holds every new request back until it ends (at most
 *    RL_PAUSE_CAP_S from now);
 *  - a block makes every request fail at once with its errno and reason
 *    until it ends.  A probing block (a budget block) lets exactly one
 *    request through every probe interval: the probe.  Requests that arrive
 *    while the probe is in flight wait for its outcome; rl_gate_probe_done
 *    lifts the block or keeps it until the next probe.
 */
#ifndef PDFS_RATELIMIT_H
#define PDFS_RATELIMIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define RL_BURST_WINDOW_S 2.0
#define RL_DEFAULT_LIMIT 20          /* per 2 s: the smallest plan's documented limit */
#define RL_SEARCH_LIMIT 10           /* per 2 s: the Search API's limit, on every plan */
#define RL_PAUSE_CAP_S 30.0          /* no burst signal pauses anyone longer */
#define RL_BURST_MIN_S 2.0
#define RL_BUDGET_RETRY_AFTER_S 60.0 /* a 429 asking for longer is a budget block */
#define RL_BUDGET_UNSAID_S 3600.0    /* a budget block without Retry-After */
#define RL_BUDGET_MAX_S 86400.0      /* a daily budget resets within a day */
#define RL_BUDGET_PROBE_S 300.0      /* one probe per 5 minutes while blocked */
#define RL_TRACKED 512               /* the most requests per window the gate paces */

/* ---- reading the signals ---- */

/* Seconds to wait from an x-ratelimit-reset value, at most RL_PAUSE_CAP_S;
 * -1 if unusable.  now: the server's Date, or the local clock. */
double rl_reset_seconds(long long value, time_t now);
/* Seconds from a Retry-After value (delay-seconds or HTTP-date, trailing
 * CR/LF allowed); -1 if absent or unreadable.  Not capped: a long wait is a
 * signal (see rl_classify_429). */
double rl_retry_after_seconds(const char *value, time_t now);

struct rl_signals {
	long status;
	long limit;           /* x-ratelimit-limit, -1 absent */
	long remaining;       /* x-ratelimit-remaining, -1 absent */
	long daily_remaining; /* x-daily-ratelimit-token-remaining, -1 absent */
	double reset_s;       /* from rl_reset_seconds, -1 absent */
	double retry_after_s; /* from rl_retry_after_seconds, -1 absent */
	bool says_daily;      /* the error message mentions "daily" */
};

enum rl_verdict {
	RL_BURST,
	RL_BUDGET,
};

enum rl_verdict rl_classify_429(const struct rl_signals *s);
/* The pause after a burst 429 before jitter: max(Retry-After, reset, 2 s), capped. */
double rl_burst_pause_s(const struct rl_signals *s);
/* How long a budget block lasts: Retry-After, else an hour; at most a day. */
double rl_budget_block_s(const struct rl_signals *s);
/* The pause a successful answer asks for (x-ratelimit-remaining: 0): the
 * reset (2 s if unknown), capped; 0 if it asks for none. */
double rl_pause_after_answer_s(const struct rl_signals *s);

/* "<reason>; <ends> at 2026-11-28 14:05 UTC (in 66 minutes); until then
 * pipedrivefs serves only cached data": what a blocked request is told. */
void rl_block_message(const char *reason, const char *ends, double seconds_left, char *msg,
		      size_t msglen);

/* ---- the gate ---- */

struct rl_gate {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	double sent[RL_TRACKED]; /* ring of recent request start times */
	size_t head;             /* next slot to write */
	size_t count;
	int limit;               /* requests per RL_BURST_WINDOW_S */
	double paused_until;     /* everyone waits until then */
	double blocked_until;    /* nobody asks until then (but the probe) */
	int blocked_errno;
	char blocked_reason[200];
	char blocked_ends[40];   /* "it resets", "the block ends" */
	bool block_probes;       /* this block lets one probe through per interval */
	bool probing;            /* the probe is in flight */
	double next_probe;
	double probe_interval_s;
	bool cancelled;
};

void rl_gate_init(struct rl_gate *g, double probe_interval_s);
void rl_gate_destroy(struct rl_gate *g);
/* Take a slot for one request, waiting as the gate says.  0, or -errno with
 * a message (blocked, cancelled).  *probe is set when this request is a
 * blocked gate's probe: report its outcome with rl_gate_probe_done. */
int rl_gate_acquire(struct rl_gate *g, bool *probe, char *msg, size_t msglen);
void rl_gate_probe_done(struct rl_gate *g, bool lifted);
/* Sleep, waking early on cancel; false if cancelled. */
bool rl_gate_sleep(struct rl_gate *g, double seconds);
/* Hold every new request back for `seconds` (capped at RL_PAUSE_CAP_S). */
void rl_gate_pause(struct rl_gate *g, double seconds);
/* Fail every request with err for `seconds` (see rl_block_message for
 * reason and ends); probes: let one probe through per probe interval. */
void rl_gate_block(struct rl_gate *g, double seconds, int err, const char *reason,
		   const char *ends, bool probes);
void rl_gate_set_limit(struct rl_gate *g, long limit);
/* The request this gate let through last counts from now (e.g. from when
 * its answer arrived): only for a gate whose requests the caller
 * serialises, so that the last slot is that request's. */
void rl_gate_restamp(struct rl_gate *g);
/* Requests per second the gate allows. */
double rl_gate_rate(struct rl_gate *g);
/* Wake every waiter; from now on every request fails with ECANCELED. */
void rl_gate_cancel(struct rl_gate *g);

/* Seconds since an arbitrary start (CLOCK_MONOTONIC). */
double rl_now(void);

#endif
