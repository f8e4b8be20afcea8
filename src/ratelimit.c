/*
 * ratelimit.c - rate-limit signals and the rate gate (see ratelimit.h).
 */
#include "ratelimit.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PACING_MARGIN_S 0.05
#define EPOCH_SECONDS_FROM 1000000000LL      /* 2001-09-09: no window is that long */
#define EPOCH_MILLISECONDS_FROM 100000000000LL
#define RETRY_AFTER_MAX_S 1e7                /* keeps arithmetic sane; still "long" */

/* ------------------------------------------------------------------ */
/* Reading the signals                                                 */

static double cap(double v, double max)
{
	return v > max ? max : v;
}

double rl_reset_seconds(long long value, time_t now)
{
	if (value < 0)
		return -1;
	double s = (double)value;
	if (value >= EPOCH_MILLISECONDS_FROM)
		s = (double)value / 1000.0 - (double)now;
	else if (value >= EPOCH_SECONDS_FROM)
		s = (double)(value - (long long)now);
	return s < 0 ? 0 : cap(s, RL_PAUSE_CAP_S);
}

/* An HTTP-date in any of the three forms RFC 9110 says to accept. */
static bool parse_http_date(const char *text, time_t *out)
{
	static const char *const forms[] = {
		"%a, %d %b %Y %H:%M:%S GMT", /* IMF-fixdate */
		"%A, %d-%b-%y %H:%M:%S GMT", /* RFC 850 */
		"%a %b %e %H:%M:%S %Y",      /* asctime */
	};
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		struct tm tm;
		memset(&tm, 0, sizeof(tm));
		const char *end = strptime(text, forms[i], &tm);
		if (!end)
			continue;
		while (isspace((unsigned char)*end))
			end++;
		if (*end)
			continue;
		*out = timegm(&tm);
		return *out != (time_t)-1;
	}
	return false;
}

double rl_retry_after_seconds(const char *value, time_t now)
{
	if (!value)
		return -1;
	while (*value == ' ' || *value == '\t')
		value++;
	if (isdigit((unsigned char)*value)) {
		char *end;
		errno = 0;
		double v = strtod(value, &end);
		while (isspace((unsigned char)*end))
			end++;
		if (*end || errno == EINVAL)
			return -1;
		return cap(v, RETRY_AFTER_MAX_S); /* ERANGE: HUGE_VAL, capped */
	}
	time_t at;
	if (!parse_http_date(value, &at))
		return -1;
	double s = difftime(at, now);
	return s < 0 ? 0 : cap(s, RETRY_AFTER_MAX_S);
}

enum rl_verdict rl_classify_429(const struct rl_signals *s)
{
	if (s->daily_remaining == 0 || s->says_daily)
		return RL_BUDGET;
	if (s->remaining == 0)
		return RL_BURST; /* the burst window says it is empty */
	return s->retry_after_s > RL_BUDGET_RETRY_AFTER_S ? RL_BUDGET : RL_BURST;
}

double rl_burst_pause_s(const struct rl_signals *s)
{
	double wait = RL_BURST_MIN_S;
	if (s->retry_after_s > wait)
		wait = s->retry_after_s;
	if (s->reset_s > wait)
		wait = s->reset_s;
	return cap(wait, RL_PAUSE_CAP_S);
}

double rl_budget_block_s(const struct rl_signals *s)
{
	double wait = s->retry_after_s > 0 ? s->retry_after_s : RL_BUDGET_UNSAID_S;
	return cap(wait, RL_BUDGET_MAX_S);
}

double rl_pause_after_answer_s(const struct rl_signals *s)
{
	if (s->status == 429 || s->remaining != 0)
		return 0;
	return s->reset_s >= 0 ? s->reset_s : RL_BURST_WINDOW_S;
}

void rl_block_message(const char *reason, const char *ends, double seconds_left, char *msg,
		      size_t msglen)
{
	time_t at = time(NULL) + (time_t)ceil(seconds_left);
	struct tm tm;
	char when[40] = "";
	if (gmtime_r(&at, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
	long left = (long)ceil(seconds_left);
	if (left >= 90)
		snprintf(msg, msglen, "%s; %s at %s (in %ld minutes); until then pipedrivefs serves "
			 "only cached data", reason, ends, when, (left + 59) / 60);
	else
		snprintf(msg, msglen, "%s; %s at %s (in %ld seconds); until then pipedrivefs serves "
			 "only cached data", reason, ends, when, left);
}

/* ------------------------------------------------------------------ */
/* The gate                                                            */

double rl_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct timespec realtime_after(double seconds)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	double whole = floor(seconds);
	ts.tv_sec += (time_t)whole;
	ts.tv_nsec += (long)((seconds - whole) * 1e9);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

/* Wait on the gate's condition for at most `seconds`; lock held. */
static void gate_wait(struct rl_gate *g, double seconds)
{
	if (seconds <= 0)
		return;
	struct timespec until = realtime_after(seconds);
	pthread_cond_timedwait(&g->changed, &g->lock, &until);
}

void rl_gate_init(struct rl_gate *g, double probe_interval_s)
{
	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->changed, NULL);
	g->limit = RL_DEFAULT_LIMIT;
	g->probe_interval_s = probe_interval_s > 0 ? probe_interval_s : RL_BUDGET_PROBE_S;
}

void rl_gate_destroy(struct rl_gate *g)
{
	pthread_mutex_destroy(&g->lock);
	pthread_cond_destroy(&g->changed);
}

/* Seconds until one more request fits the burst window, 0 if it fits now. */
static double burst_delay(const struct rl_gate *g, double now)
{
	size_t limit = (size_t)g->limit;
	if (g->count < limit)
		return 0;
	/* The request `limit` places back must have left the window. */
	size_t idx = (g->head + RL_TRACKED - limit) % RL_TRACKED;
	double free_at = g->sent[idx] + RL_BURST_WINDOW_S + PACING_MARGIN_S;
	return free_at > now ? free_at - now : 0;
}

static void record_sent(struct rl_gate *g, double now)
{
	g->sent[g->head] = now;
	g->head = (g->head + 1) % RL_TRACKED;
	if (g->count < RL_TRACKED)
		g->count++;
}

int rl_gate_acquire(struct rl_gate *g, bool *probe, char *msg, size_t msglen)
{
	int rc = 0;
	*probe = false;
	pthread_mutex_lock(&g->lock);
	for (;;) {
		double now = rl_now();
		if (g->cancelled) {
			rc = -ECANCELED;
			snprintf(msg, msglen, "the filesystem is shutting down");
			break;
		}
		if (now < g->blocked_until && g->block_probes && g->probing) {
			gate_wait(g, g->blocked_until - now); /* the probe's outcome decides */
			continue;
		}
		if (now < g->blocked_until && g->block_probes && now >= g->next_probe) {
			g->probing = true;
			*probe = true;
			record_sent(g, now);
			break;
		}
		if (now < g->blocked_until) {
			rc = -g->blocked_errno;
			rl_block_message(g->blocked_reason, g->blocked_ends, g->blocked_until - now,
					 msg, msglen);
			break;
		}
		double wait = g->paused_until - now;
		double burst = burst_delay(g, now);
		if (burst > wait)
			wait = burst;
		if (wait <= 0) {
			record_sent(g, now);
			break;
		}
		gate_wait(g, wait);
	}
	pthread_mutex_unlock(&g->lock);
	return rc;
}

void rl_gate_probe_done(struct rl_gate *g, bool lifted)
{
	pthread_mutex_lock(&g->lock);
	g->probing = false;
	if (lifted) {
		g->blocked_until = 0;
		g->block_probes = false;
	} else {
		g->next_probe = rl_now() + g->probe_interval_s;
	}
	pthread_cond_broadcast(&g->changed);
	pthread_mutex_unlock(&g->lock);
}

bool rl_gate_sleep(struct rl_gate *g, double seconds)
{
	double until = rl_now() + seconds;
	bool ok;
	pthread_mutex_lock(&g->lock);
	for (;;) {
		double left = until - rl_now();
		if (g->cancelled || left <= 0)
			break;
		gate_wait(g, left);
	}
	ok = !g->cancelled;
	pthread_mutex_unlock(&g->lock);
	return ok;
}

void rl_gate_pause(struct rl_gate *g, double seconds)
{
	if (seconds <= 0)
		return;
	pthread_mutex_lock(&g->lock);
	double until = rl_now() + cap(seconds, RL_PAUSE_CAP_S);
	if (until > g->paused_until)
		g->paused_until = until;
	pthread_mutex_unlock(&g->lock);
}

void rl_gate_block(struct rl_gate *g, double seconds, int err, const char *reason,
		   const char *ends, bool probes)
{
	pthread_mutex_lock(&g->lock);
	double now = rl_now();
	g->blocked_until = now + seconds;
	g->blocked_errno = err;
	g->block_probes = probes;
	g->next_probe = now + g->probe_interval_s;
	snprintf(g->blocked_reason, sizeof(g->blocked_reason), "%s", reason);
	snprintf(g->blocked_ends, sizeof(g->blocked_ends), "%s", ends);
	pthread_cond_broadcast(&g->changed);
	pthread_mutex_unlock(&g->lock);
}

void rl_gate_set_limit(struct rl_gate *g, long limit)
{
	if (limit <= 0)
		return;
	pthread_mutex_lock(&g->lock);
	g->limit = limit > RL_TRACKED ? RL_TRACKED : (int)limit;
	pthread_mutex_unlock(&g->lock);
}

void rl_gate_restamp(struct rl_gate *g)
{
	pthread_mutex_lock(&g->lock);
	if (g->count)
		g->sent[(g->head + RL_TRACKED - 1) % RL_TRACKED] = rl_now();
	pthread_mutex_unlock(&g->lock);
}

double rl_gate_rate(struct rl_gate *g)
{
	pthread_mutex_lock(&g->lock);
	double rate = (double)g->limit / RL_BURST_WINDOW_S;
	pthread_mutex_unlock(&g->lock);
	return rate;
}

void rl_gate_cancel(struct rl_gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->cancelled = true;
	pthread_cond_broadcast(&g->changed);
	pthread_mutex_unlock(&g->lock);
}
