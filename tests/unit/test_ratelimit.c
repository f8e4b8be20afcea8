/* Unit tests for ratelimit.c: reading the rate-limit signals, and the gate's
 * pause cap, blocks and budget probes. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "ratelimit.h"

#define NEAR(a, b) ((a) > (b) - 0.001 && (a) < (b) + 0.001)

static const time_t NOW = 1790000000; /* 2026-09-21 */

static void http_date(time_t t, const char *fmt, char *buf, size_t len)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, fmt, &tm);
}

static void test_reset(void)
{
	CHECK(NEAR(rl_reset_seconds(2, NOW), 2));
	CHECK(NEAR(rl_reset_seconds(0, NOW), 0));
	CHECK(rl_reset_seconds(-1, NOW) < 0);               /* absent */
	CHECK(rl_reset_seconds(-5, NOW) < 0);               /* negative: unknown */
	CHECK(NEAR(rl_reset_seconds(NOW + 5, NOW), 5));     /* epoch seconds */
	CHECK(NEAR(rl_reset_seconds(NOW - 100, NOW), 0));   /* epoch in the past */
	CHECK(NEAR(rl_reset_seconds((NOW + 3) * 1000LL, NOW), 3)); /* epoch ms */
	CHECK(NEAR(rl_reset_seconds(99999999, NOW), RL_PAUSE_CAP_S)); /* absurd */
	CHECK(NEAR(rl_reset_seconds(NOW + 86400, NOW), RL_PAUSE_CAP_S));
	CHECK(NEAR(rl_reset_seconds(45, NOW), RL_PAUSE_CAP_S));
}

static void test_retry_after(void)
{
	char buf[64];
	CHECK(NEAR(rl_retry_after_seconds("3", NOW), 3));
	CHECK(NEAR(rl_retry_after_seconds(" 3939\r\n", NOW), 3939));
	CHECK(NEAR(rl_retry_after_seconds("999999", NOW), 999999));
	CHECK(rl_retry_after_seconds("1e999", NOW) > 1e6);  /* overflow: long, finite */
	CHECK(rl_retry_after_seconds("1e999", NOW) < 1e9);
	CHECK(rl_retry_after_seconds("", NOW) < 0);
	CHECK(rl_retry_after_seconds("soon", NOW) < 0);
	CHECK(rl_retry_after_seconds("-5", NOW) < 0);
	CHECK(rl_retry_after_seconds("3 seconds", NOW) < 0);
	CHECK(rl_retry_after_seconds(NULL, NOW) < 0);
	http_date(NOW + 120, "%a, %d %b %Y %H:%M:%S GMT\r\n", buf, sizeof(buf));
	CHECK(NEAR(rl_retry_after_seconds(buf, NOW), 120));
	http_date(NOW + 7200, "%A, %d-%b-%y %H:%M:%S GMT", buf, sizeof(buf));
	CHECK(NEAR(rl_retry_after_seconds(buf, NOW), 7200));
	http_date(NOW + 60, "%a %b %e %H:%M:%S %Y", buf, sizeof(buf));
	CHECK(NEAR(rl_retry_after_seconds(buf, NOW), 60));
	http_date(NOW - 60, "%a, %d %b %Y %H:%M:%S GMT", buf, sizeof(buf));
	CHECK(NEAR(rl_retry_after_seconds(buf, NOW), 0)); /* in the past */
	CHECK(rl_retry_after_seconds("Sun, 99 Foo 2026 00:00:00 GMT", NOW) < 0);
}

static struct rl_signals sig429(void)
{
	struct rl_signals s = { .status = 429, .limit = -1, .remaining = -1,
				.daily_remaining = -1, .reset_s = -1, .retry_after_s = -1 };
	return s;
}

static void test_classify(void)
{
	struct rl_signals s = sig429();
	CHECK(rl_classify_429(&s) == RL_BURST);             /* nothing said */
	s.retry_after_s = 60;
	CHECK(rl_classify_429(&s) == RL_BURST);             /* at the threshold */
	s.retry_after_s = 61;
	CHECK(rl_classify_429(&s) == RL_BUDGET);            /* silent budget */
	s.retry_after_s = 3939;
	CHECK(rl_classify_429(&s) == RL_BUDGET);
	s.remaining = 0;                                    /* burst window empty */
	CHECK(rl_classify_429(&s) == RL_BURST);
	CHECK(NEAR(rl_burst_pause_s(&s), RL_PAUSE_CAP_S)); /* huge: capped */
	s.daily_remaining = 0;
	CHECK(rl_classify_429(&s) == RL_BUDGET);            /* explicit daily */
	s = sig429();
	s.says_daily = true;
	CHECK(rl_classify_429(&s) == RL_BUDGET);

	s = sig429();
	CHECK(NEAR(rl_burst_pause_s(&s), RL_BURST_MIN_S));
	s.retry_after_s = 1;
	s.reset_s = 2;
	CHECK(NEAR(rl_burst_pause_s(&s), 2));
	s.retry_after_s = 5;
	CHECK(NEAR(rl_burst_pause_s(&s), 5));

	s = sig429();
	CHECK(NEAR(rl_budget_block_s(&s), RL_BUDGET_UNSAID_S));
	s.retry_after_s = 3939;
	CHECK(NEAR(rl_budget_block_s(&s), 3939));
	s.retry_after_s = 1e7;
	CHECK(NEAR(rl_budget_block_s(&s), RL_BUDGET_MAX_S));
}

static void test_pause_after_answer(void)
{
	struct rl_signals s = sig429();
	s.status = 200;
	CHECK(NEAR(rl_pause_after_answer_s(&s), 0));       /* no headers */
	s.remaining = 3;
	s.reset_s = 2;
	CHECK(NEAR(rl_pause_after_answer_s(&s), 0));
	s.remaining = 0;
	CHECK(NEAR(rl_pause_after_answer_s(&s), 2));
	s.reset_s = -1;
	CHECK(NEAR(rl_pause_after_answer_s(&s), RL_BURST_WINDOW_S)); /* reset unknown */
	s.reset_s = rl_reset_seconds(99999999, NOW);
	CHECK(NEAR(rl_pause_after_answer_s(&s), RL_PAUSE_CAP_S));
	s.status = 429;
	CHECK(NEAR(rl_pause_after_answer_s(&s), 0));       /* a 429's own rules */
}

static void test_block_message(void)
{
	char msg[300];
	rl_block_message("the budget is used up", "it resets", 3939, msg, sizeof(msg));
	CHECK(strstr(msg, "the budget is used up; it resets at ") == msg);
	CHECK(strstr(msg, " UTC (in 66 minutes)") != NULL);
	rl_block_message("blocked", "the block ends", 30, msg, sizeof(msg));
	CHECK(strstr(msg, "(in 30 seconds)") != NULL);
}

static void test_gate_pause_is_capped(void)
{
	struct rl_gate g;
	rl_gate_init(&g, 0);
	CHECK(NEAR(g.probe_interval_s, RL_BUDGET_PROBE_S));
	CHECK(NEAR(rl_gate_rate(&g), RL_DEFAULT_LIMIT / RL_BURST_WINDOW_S));
	rl_gate_set_limit(&g, 100);
	CHECK(NEAR(rl_gate_rate(&g), 50));
	rl_gate_set_limit(&g, 0);                           /* ignored */
	CHECK(NEAR(rl_gate_rate(&g), 50));
	double now = rl_now();
	rl_gate_pause(&g, 1e9);
	CHECK(g.paused_until <= now + RL_PAUSE_CAP_S + 1);
	CHECK(g.paused_until >= now + RL_PAUSE_CAP_S - 1);
	rl_gate_destroy(&g);
}

/* A slot restamped counts from the restamp (e.g. the answer's arrival). */
static void test_gate_restamp(void)
{
	struct rl_gate g;
	bool probe;
	char msg[300];
	rl_gate_init(&g, 0);
	rl_gate_restamp(&g);                                /* nothing to restamp */
	CHECK(g.count == 0);
	CHECK(rl_gate_acquire(&g, &probe, msg, sizeof(msg)) == 0);
	CHECK(rl_gate_acquire(&g, &probe, msg, sizeof(msg)) == 0);
	double first = g.sent[0], second = g.sent[1];
	usleep(50 * 1000);
	double before = rl_now();
	rl_gate_restamp(&g);
	CHECK(g.sent[0] == first);                          /* only the last slot */
	CHECK(g.sent[1] > second && g.sent[1] >= before);
	CHECK(g.count == 2);
	rl_gate_destroy(&g);
}

struct waiter {
	struct rl_gate *g;
	atomic_bool done;
	int rc;
	bool probe;
};

static void *acquire_thread(void *arg)
{
	struct waiter *w = arg;
	char msg[300];
	w->rc = rl_gate_acquire(w->g, &w->probe, msg, sizeof(msg));
	atomic_store(&w->done, true);
	return NULL;
}

static void test_gate_budget_probe(void)
{
	struct rl_gate g;
	char msg[300];
	bool probe = true;
	rl_gate_init(&g, 0.2);
	rl_gate_block(&g, 60, EAGAIN, "budget used up", "it resets", true);
	CHECK(rl_gate_acquire(&g, &probe, msg, sizeof(msg)) == -EAGAIN);
	CHECK(!probe);
	CHECK(strstr(msg, "budget used up; it resets at ") == msg);
	usleep(250 * 1000);
	CHECK(rl_gate_acquire(&g, &probe, msg, sizeof(msg)) == 0);
	CHECK(probe);                                       /* the one probe */

	/* A request arriving while the probe is out waits for its outcome. */
	struct waiter w = { .g = &g };
	pthread_t t;
	CHECK(pthread_create(&t, NULL, acquire_thread, &w) == 0);
	usleep(100 * 1000);
	CHECK(!atomic_load(&w.done));
	rl_gate_probe_done(&g, false);                      /* blocked again */
	pthread_join(t, NULL);
	CHECK(w.rc == -EAGAIN && !w.probe);
	CHECK(rl_gate_acquire(&g, &probe, msg, sizeof(msg)) == -EAGAIN);

	usleep(250 * 1000);
	CHECK(rl_gate_acquire(&g, &probe, msg, sizeof(msg)) == 0 && probe);
	rl_gate_probe_done(&g, true);                       /* lifted */
	CHECK(rl_gate_acquire(&g, &probe, msg, sizeof(msg)) == 0 && !probe);

	/* A block that does not probe (the CDN's) lets nothing through. */
	rl_gate_block(&g, 60, EIO, "CDN block", "the block ends", false);
	usleep(250 * 1000);
	CHECK(rl_gate_acquire(&g, &probe, msg, sizeof(msg)) == -EIO && !probe);
	rl_gate_cancel(&g);
	CHECK(rl_gate_acquire(&g, &probe, msg, sizeof(msg)) == -ECANCELED);
	rl_gate_destroy(&g);
}

int main(void)
{
	test_reset();
	test_retry_after();
	test_classify();
	test_pause_after_answer();
	test_block_message();
	test_gate_pause_is_capped();
	test_gate_restamp();
	test_gate_budget_probe();
	return check_finish("test_ratelimit");
}
