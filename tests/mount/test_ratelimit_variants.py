"""Rate-limit variants the documentation leaves open (issue 10), against the
fake server's switches (tests/fake_pipedrive.py: ratelimit_reset_style,
retry_after_style, daily_429_style, ratelimit_headers, latency_ms).

The daemon's rules under test (src/ratelimit.c, src/api.c):
  * x-ratelimit-reset is seconds (documented), or an epoch time, or absurd or
    negative: no pause taken from it exceeds 30 s, also the one taken when
    x-ratelimit-remaining: 0 arrives on a 200;
  * Retry-After may be an HTTP-date; it is honoured like delay-seconds;
  * a 429 without a burst signal (x-ratelimit-remaining: 0) whose Retry-After
    exceeds 60 s is a budget block even when nothing says "daily": EAGAIN at
    once, one log line with the reset time (UTC, "in N minutes"), no request
    until then but one probe per probe interval (5 min; shortened here with
    the test-only PDFS_TEST_BUDGET_PROBE_S);
  * parallel update_time windows = ceil(rate x page latency), 1..8, the rate
    being 20 per 2 s when no limit is announced.

Timings come from the fake's request timestamps ("t", stamped when the
answer is sent).  Run:
  /usr/bin/python3 -m pytest tests/mount/test_ratelimit_variants.py -q
"""

import errno
import re
import threading
import time

import pytest

from naming import expected_names, listdir_b
from test_faults import (SMALL, fault, find_line, listdir_errno, owner_dir,
                         persons_reqs, show)

PAUSE_CAP = 30.0
SLACK = 1.5
PROBE_S = 3.0


def api_requests(server):
    return [r for r in server.requests() if r["path"].startswith("/api/")]


def listdir_within(path, timeout):
    """listdir_b(path) on a thread; (names, None), (None, OSError), or
    (None, "hung") if it did not return within timeout seconds."""
    out = {}

    def run():
        try:
            out["names"] = listdir_b(path)
        except OSError as e:
            out["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        return None, "hung"
    return out.get("names"), out.get("error")


# --------------------------------------------------------------------------
# x-ratelimit-reset variants: remaining 0 on a 200 pauses, capped

def _reset_style_case(fake_server, mount_fs, style, timeout):
    """Announced limit 2: listing /by-owner/1 costs 2 requests (persons and
    organizations); the 2nd answer says remaining 0 with the styled reset.
    Returns the gap between that answer and the next listing's request."""
    # The style is switched on after the mount: start-up's three requests
    # (users/me, personFields, users) under a limit of 2 would otherwise
    # meet it before the daemon mounts.
    server = fake_server(**dict(SMALL, rate_limit=2))
    mount = mount_fs(server)
    server.config(ratelimit_reset_style=style)
    time.sleep(2.1)                    # the start-up requests leave the window
    server.reset()
    names, err = listdir_within(owner_dir(mount, 1), timeout)
    assert names == expected_names(server.persons(owner_id=1)), \
        f"{err}" + show(mount, server)
    names, err = listdir_within(owner_dir(mount, 2), timeout)
    assert err != "hung", (f"a listing waited more than {timeout} s after "
                           f"x-ratelimit-reset ({style})" + show(mount, server))
    assert names == expected_names(server.persons(owner_id=2)), \
        f"{err}" + show(mount, server)
    reqs = api_requests(server)
    assert [r["status"] for r in reqs] == [200, 200, 200], show(mount, server)
    return reqs[2]["t"] - reqs[1]["t"], mount, server


@pytest.mark.parametrize("style", ["seconds", "epoch", "negative"])
def test_remaining_zero_pauses_only_seconds(fake_server, mount_fs, style):
    """A reset given as seconds, as an epoch time or negative pauses the
    seconds it means (2-3 s here), never the years an epoch read as seconds
    would mean."""
    gap, mount, server = _reset_style_case(fake_server, mount_fs, style, 20)
    assert gap <= 3.0 + SLACK, f"paused {gap:.1f} s" + show(mount, server)


@pytest.mark.slow
def test_absurd_reset_pauses_at_most_30s(fake_server, mount_fs):
    """x-ratelimit-reset: 99999999 with remaining 0 on a 200: the pause is
    capped at 30 s."""
    gap, mount, server = _reset_style_case(fake_server, mount_fs, "absurd",
                                           PAUSE_CAP + 15)
    assert PAUSE_CAP - 0.5 <= gap <= PAUSE_CAP + SLACK, \
        f"paused {gap:.1f} s" + show(mount, server)


# --------------------------------------------------------------------------
# Retry-After variants on a burst 429

def test_retry_after_http_date_is_honoured(fake_server, mount_fs):
    """A burst 429 whose Retry-After is an HTTP-date 5 s ahead is retried
    after those seconds (the date has whole seconds: >= 4 s), not after the
    2 s minimum an unreadable value would give."""
    server = fake_server(**dict(SMALL, retry_after_style="http-date"))
    mount = mount_fs(server)
    server.reset()
    server.faults(fault("429", retry_after=5))
    assert listdir_b(owner_dir(mount, 2)) == \
        expected_names(server.persons(owner_id=2)), show(mount, server)
    reqs = persons_reqs(server)
    assert [r["status"] for r in reqs] == [429, 200], show(mount, server)
    gap = reqs[1]["t"] - reqs[0]["t"]
    assert 4.0 <= gap <= 5.5 + SLACK, f"retried after {gap:.1f} s" + \
        show(mount, server)


@pytest.mark.slow
def test_huge_retry_after_on_burst_429_pauses_at_most_30s(fake_server,
                                                          mount_fs):
    """Retry-After: 999999 on a 429 that says x-ratelimit-remaining: 0 (a
    burst): everyone pauses 30 s, then the request is retried once."""
    server = fake_server(**dict(SMALL, retry_after_style="huge"))
    mount = mount_fs(server)
    server.reset()
    server.faults(fault("429", retry_after=1))
    names, err = listdir_within(owner_dir(mount, 2), PAUSE_CAP + 15)
    assert err != "hung", "a burst 429 paused more than 45 s" + show(mount)
    assert names == expected_names(server.persons(owner_id=2)), \
        f"{err}" + show(mount, server)
    reqs = persons_reqs(server)
    assert [r["status"] for r in reqs] == [429, 200], show(mount, server)
    gap = reqs[1]["t"] - reqs[0]["t"]
    assert PAUSE_CAP - 0.5 <= gap <= PAUSE_CAP + SLACK, \
        f"retried after {gap:.1f} s" + show(mount, server)


# --------------------------------------------------------------------------
# a budget 429 that does not say so

@pytest.mark.parametrize("retry_style", ["seconds", "http-date"])
def test_silent_budget_429_is_eagain_at_once_then_one_probe(
        fake_server, mount_fs, retry_style):
    """No x-daily-* header, no "daily" in the body, only Retry-After: 3939
    (as seconds or as an HTTP-date): EAGAIN at once with the reset time in
    the log, nothing asked until the probe interval passed, then exactly one
    probe however many listings wait; the probe's success lifts the block."""
    server = fake_server(**dict(SMALL, daily_429_style="silent",
                                retry_after_style=retry_style))
    mount = mount_fs(server, env={"PDFS_TEST_BUDGET_PROBE_S": str(PROBE_S)})
    server.reset()
    server.faults(fault("429-daily", count=-1, retry_after=3939))
    t0 = time.monotonic()
    got = listdir_errno(owner_dir(mount, 2))
    elapsed = time.monotonic() - t0
    assert got == errno.EAGAIN, f"listdir gave {got}" + show(mount, server)
    assert elapsed < 2.0, f"EAGAIN took {elapsed:.1f} s" + show(mount)
    assert server.api_count() == 1, show(mount, server)
    line = find_line(mount, "listing /by-owner/2 failed", "UTC",
                     level="error")
    assert line and re.search(r"in 6[56] minutes", line), show(mount)
    assert "daily" in line.lower() and "resets at" in line, line

    # blocked: nothing is asked
    for path in (owner_dir(mount, 3), mount.path / "by-org" / "1"):
        assert listdir_errno(path) == errno.EAGAIN, show(mount)
    assert server.api_count() == 1, show(mount, server)

    # after the probe interval: three listings at once, exactly one probe
    time.sleep(PROBE_S + 0.3)
    results = []
    threads = [threading.Thread(
        target=lambda o=o: results.append(listdir_errno(owner_dir(mount, o))))
        for o in (1, 2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert results == [errno.EAGAIN] * 3, results
    assert server.api_count() == 2, show(mount, server)
    assert listdir_errno(mount.path / "by-org" / "2") == errno.EAGAIN
    assert server.api_count() == 2, show(mount, server)

    # the budget is back: the next probe lifts the block
    server.faults()
    time.sleep(PROBE_S + 0.3)
    assert listdir_b(owner_dir(mount, 1)) == \
        expected_names(server.persons(owner_id=1)), show(mount, server)
    assert listdir_b(owner_dir(mount, 3)) == \
        expected_names(server.persons(owner_id=3)), show(mount, server)
    statuses = [r["status"] for r in persons_reqs(server)]
    assert statuses[:2] == [429, 429] and set(statuses[2:]) == {200}, \
        show(mount, server)
    assert find_line(mount, "requests resume", level="info"), show(mount)


def test_explicit_daily_429_still_blocks_at_once(fake_server, mount_fs):
    """The documented daily 429 (x-daily-ratelimit-token-remaining: 0) with a
    short Retry-After is still a budget block, not a burst."""
    server = fake_server(**SMALL)
    mount = mount_fs(server)
    server.reset()
    server.faults(fault("429-daily", count=-1, retry_after=30))
    assert listdir_errno(owner_dir(mount, 2)) == errno.EAGAIN, show(mount)
    assert listdir_errno(owner_dir(mount, 3)) == errno.EAGAIN, show(mount)
    assert server.api_count() == 1, show(mount, server)


# --------------------------------------------------------------------------
# parallel windows sized by rate x latency

BIG = dict(persons=6000, owners=1, orgs=10, rate_limit=0,
           ratelimit_headers=False, tricky=False, quiet=True)


def window_ranges(server):
    return {(r["query"].get("updated_since"), r["query"].get("updated_until"))
            for r in persons_reqs(server)
            if r["query"].get("owner_id") == "1" and (
                "updated_since" in r["query"] or "updated_until" in r["query"])}


def max_in_flight(reqs, latency):
    """Most requests in flight at once: each spans [t - latency, t)."""
    events = sorted([(r["t"] - latency, 1) for r in reqs] +
                    [(r["t"], -1) for r in reqs])
    best = cur = 0
    for _, d in events:
        cur += d
        best = max(best, cur)
    return best


def _cold_walk(fake_server, mount_fs, latency_ms):
    server = fake_server(**dict(BIG, latency_ms=latency_ms))
    mount = mount_fs(server, "walk_windows=0")
    server.reset()
    assert listdir_b(owner_dir(mount, 1)) == \
        expected_names(server.persons(owner_id=1)), show(mount)
    assert server.stats()["by_status"].get("429", 0) == 0
    walk = [r for r in persons_reqs(server)
            if r["query"].get("owner_id") == "1"]
    return len(window_ranges(server)) or 1, walk, mount, server


def test_windows_grow_with_latency_without_headers(fake_server, mount_fs):
    """No rate-limit headers at all: the gate's 20 per 2 s (10/s) x a 500 ms
    page = 5 requests in flight: the cold walk runs >= 4 windows side by
    side; on loopback without latency it runs fewer."""
    slow_windows, walk, mount, server = _cold_walk(fake_server, mount_fs, 500)
    assert slow_windows >= 4, f"{slow_windows} windows" + show(mount, server)
    assert max_in_flight(walk, 0.5) >= 3, show(mount, server)
    # the gate still keeps to 20 per 2 s
    times = sorted(r["t"] for r in api_requests(server))
    assert all(b - a >= 2.0 - 0.15 for a, b in zip(times, times[20:])), \
        show(mount, server)
    fast_windows, _, mount, server = _cold_walk(fake_server, mount_fs, 0)
    # fewer on loopback (how few depends on this machine's speed: the
    # latency measured is the whole page, parsing included)
    assert fast_windows < slow_windows, \
        f"{fast_windows} windows on loopback" + show(mount, server)
