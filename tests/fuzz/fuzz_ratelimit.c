/*
 * fuzz_ratelimit.c - the readers of Pipedrive's rate-limit signals on
 * arbitrary header values (ratelimit.h):
 *
 *   rl_retry_after_seconds  -1 or within [0, 1e7]; plain delay-seconds (digits,
 *                           optional blanks around) == their value (capped)
 *   rl_reset_seconds        -1 exactly for negative values, else [0, 30]; a
 *                           value below 1e9 is seconds: min(value, 30)
 *   rl_classify_429 and the pauses, on signals made from the input: a burst
 *                           pause within [2, 30], a budget block within
 *                           (0, 86400], the pause after an answer within
 *                           [0, 30]; "daily" said or a daily remaining of 0
 *                           is always a budget
 *   rl_block_message        NUL-terminated within its buffer, starts with
 *                           the reason
 *
 * Input: bytes 0..7 = a number (x-ratelimit-reset and other fields), byte 8 =
 * flags, the rest = a Retry-After value.
 */
#include <inttypes.h>

#include "fuzz_common.h"
#include "ratelimit.h"

static const time_t NOW = 1790000000;

/* Reference: delay-seconds with blanks around, or -2 if not that shape. */
static double ref_delay_seconds(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	const char *d = s;
	double v = 0;
	while (*s >= '0' && *s <= '9')
		v = v * 10 + (*s++ - '0');
	if (s == d || s - d > 15)
		return -2;
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n' || *s == '\v' || *s == '\f')
		s++;
	return *s ? -2 : v;
}

static void check_retry_after(const char *text)
{
	double r = rl_retry_after_seconds(text, NOW);
	FUZZ_CHECK(r == -1 || (r >= 0 && r <= 1e7), "retry-after read as %g", r);
	double ref = ref_delay_seconds(text);
	if (ref >= 0)
		FUZZ_CHECK(r == (ref > 1e7 ? 1e7 : ref), "delay-seconds: %g, expected %g", r, ref);
}

static void check_reset(long long v)
{
	double r = rl_reset_seconds(v, NOW);
	if (v < 0) {
		FUZZ_CHECK(r == -1, "negative reset %lld read as %g", v, r);
		return;
	}
	FUZZ_CHECK(r >= 0 && r <= RL_PAUSE_CAP_S, "reset %lld read as %g", v, r);
	if (v < 1000000000LL)
		FUZZ_CHECK(r == (v > 30 ? 30.0 : (double)v), "reset %lld read as %g", v, r);
}

static void check_signals(long long v, unsigned flags, const char *text)
{
	struct rl_signals s = {
		.status = flags & 1 ? 429 : 200,
		.limit = (long)(v % 1000),
		.remaining = flags & 2 ? 0 : flags & 4 ? -1 : (long)((v >> 10) % 50),
		.daily_remaining = flags & 8 ? 0 : -1,
		.reset_s = rl_reset_seconds(v, NOW),
		.retry_after_s = rl_retry_after_seconds(text, NOW),
		.says_daily = flags & 16,
	};
	enum rl_verdict verdict = rl_classify_429(&s);
	FUZZ_CHECK(verdict == RL_BURST || verdict == RL_BUDGET, "verdict %d", (int)verdict);
	if (s.daily_remaining == 0 || s.says_daily)
		FUZZ_CHECK(verdict == RL_BUDGET, "a daily 429 taken for a burst");
	if (!s.says_daily && s.daily_remaining != 0 && s.remaining == 0)
		FUZZ_CHECK(verdict == RL_BURST, "remaining 0 taken for a budget");
	double burst = rl_burst_pause_s(&s);
	FUZZ_CHECK(burst >= RL_BURST_MIN_S && burst <= RL_PAUSE_CAP_S, "burst pause %g", burst);
	double budget = rl_budget_block_s(&s);
	FUZZ_CHECK(budget > 0 && budget <= RL_BUDGET_MAX_S, "budget block %g", budget);
	double after = rl_pause_after_answer_s(&s);
	FUZZ_CHECK(after >= 0 && after <= RL_PAUSE_CAP_S, "pause after answer %g", after);

	char msg[120];
	memset(msg, 'x', sizeof(msg));
	rl_block_message("reason", text, budget, msg, sizeof(msg));
	FUZZ_CHECK(memchr(msg, '\0', sizeof(msg)) != NULL, "message not terminated");
	FUZZ_CHECK(strncmp(msg, "reason; ", 8) == 0, "message: %.60s", msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 9)
		return 0;
	uint64_t raw = 0;
	for (int i = 0; i < 8; i++)
		raw = raw << 8 | data[i];
	long long v = (long long)raw;
	unsigned flags = data[8];
	if (flags & 32)
		v %= 4000000000000LL; /* steer towards seconds and epoch times */
	char *text = malloc(size - 9 + 1);
	if (!text)
		return 0;
	memcpy(text, data + 9, size - 9);
	text[size - 9] = '\0';
	check_retry_after(text);
	check_reset(v);
	check_signals(v, flags, text);
	free(text);
	return 0;
}
