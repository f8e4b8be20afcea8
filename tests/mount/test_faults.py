"""Reliability tests: rate limits, server faults, timeouts, stale-if-error
and shutdown of pipedrivefs, with faults injected through the fake server's
control API (tests/fake_pipedrive.py, /_control/faults and /_control/config).

Every test asserts the exact outcome of one scenario: the listing equals the
server's data, or os.listdir fails with one exact errno; the number (and
spacing) of requests the fake recorded; and the daemon's log line.  The
scenario table in docs/testing.md matches these tests one to one.

Run: /usr/bin/python3 -m pytest tests/mount/test_faults.py -q
     (-m "not slow" skips the tests that take more than ~10 s).

The daemon's retry policy under test (src/api.c):
  * transient failures (5xx, dropped connection, cut body, malformed JSON,
    HTTP 200 success:false, a request slower than -o timeout) are retried up
    to 3 times after 0.5 s, 1 s, 2 s (+ <=0.25 s jitter) -> then EIO;
  * a burst 429 pauses every thread for max(Retry-After, x-ratelimit-reset,
    2 s) + <=0.5 s jitter (cap 30 s), at most 3 retries -> then EAGAIN;
  * a daily-budget 429 blocks all requests until Retry-After -> EAGAIN;
  * an HTML 403 (Cloudflare) blocks all requests for 15 minutes -> EIO;
  * 401 -> EACCES ("the API token was rejected"), JSON 403 -> EACCES;
  * a failed refresh of an expired listing serves the expired copy.
"""

import errno
import json
import os
import re
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from naming import expected_names, listdir_b, safe_base

PERSONS = "GET /api/v2/persons"
PERSONS_PATH = "/api/v2/persons"

# 120 persons, 40 per owner: every owner directory is one page.
SMALL = dict(persons=120, owners=3, orgs=10, rate_limit=0, tricky=False,
             quiet=True)

BACKOFFS = (0.5, 1.0, 2.0)        # transient-failure backoff before retry 1..3
BACKOFF_JITTER = 0.25
BURST_MIN_WAIT = 2.0
BURST_JITTER = 0.5
SLACK = 1.0                       # scheduling / processing slack on upper bounds

TRANSIENT_KINDS = ["500", "502", "503", "drop", "cut", "malformed",
                   "success-false"]

LOG_LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} pipedrivefs "
                      r"(error|warn|info|debug): (.*)$")


# --------------------------------------------------------------------------
# helpers

def owner_dir(mount, owner):
    return mount.path / "by-owner" / str(owner)


def listdir_errno(path):
    """The errno of os.listdir(path), or None if it succeeded."""
    try:
        os.listdir(path)
    except OSError as e:
        return e.errno
    return None


def errname(n):
    return errno.errorcode.get(n, str(n)) if n is not None else "success"


def persons_reqs(server):
    return server.requests(PERSONS)


def wait_for_requests(server, route, n, timeout=15.0):
    """Wait until the fake recorded at least n requests of route (requests
    delayed by a slow fault are recorded when their delay ends)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reqs = server.requests(route)
        if len(reqs) >= n:
            return reqs
        time.sleep(0.1)
    return server.requests(route)


def gaps(reqs):
    ts = [r["t"] for r in reqs]
    return [round(b - a, 3) for a, b in zip(ts, ts[1:])]


def log_lines(mount, level=None):
    out = []
    for line in mount.log().splitlines():
        m = LOG_LINE.match(line)
        if m and (level is None or m.group(1) == level):
            out.append(line)
    return out


def find_line(mount, *needles, level=None):
    """First log line containing every needle (case-insensitive), or None."""
    for line in log_lines(mount, level):
        low = line.lower()
        if all(n.lower() in low for n in needles):
            return line
    return None


def show(mount, server=None):
    """Context for assertion messages."""
    text = "\n--- daemon log (tail) ---\n" + mount.log()[-4000:]
    if server is not None:
        text += "\n--- persons requests ---\n" + "\n".join(
            "t=%.3f status=%s fault=%s %s" % (r["t"], r.get("status"),
                                             r.get("fault"), r["query"])
            for r in persons_reqs(server))
    return text


def fault(kind, count=1, **kw):
    rule = {"path": PERSONS_PATH, "kind": kind, "count": count}
    rule.update(kw)
    return rule


def max_in_window(times, window):
    """Most timestamps inside any half-open window [t, t + window)."""
    times = sorted(times)
    best, j = 0, 0
    for i in range(len(times)):
        while times[i] - times[j] >= window:
            j += 1
        best = max(best, i - j + 1)
    return best


@pytest.fixture
def small(fake_server, mount_fs):
    """A small company; the daemon mounted with default options."""
    server = fake_server(**SMALL)
    mount = mount_fs(server)
    server.reset()
    return server, mount


# --------------------------------------------------------------------------
# burst rate limit

@pytest.mark.parametrize("retry_after,min_wait", [(1, 2.0), (3, 3.0)])
def test_burst_429_is_retried_after_the_wait(small, retry_after, min_wait):
    """One burst 429: wait max(Retry-After, 2 s) + jitter, retry, exact list."""
    server, mount = small
    server.faults(fault("429", retry_after=retry_after))
    want = expected_names(server.persons(owner_id=2))
    assert listdir_b(owner_dir(mount, 2)) == want, show(mount, server)
    reqs = persons_reqs(server)
    assert [r["status"] for r in reqs] == [429, 200], show(mount, server)
    wait = reqs[1]["t"] - reqs[0]["t"]
    assert wait >= min_wait, f"retried after {wait:.2f} s" + show(mount)
    assert wait <= min_wait + BURST_JITTER + SLACK, \
        f"retried after {wait:.2f} s" + show(mount)
    assert find_line(mount, "429", "retrying", level="warn"), show(mount)


def test_burst_429_forever_fails_with_eagain(small):
    """Persistent burst 429: 4 attempts >= 2 s apart, EAGAIN, then quiet."""
    server, mount = small
    server.faults(fault("429", count=-1, retry_after=1))
    t0 = time.monotonic()
    got = listdir_errno(owner_dir(mount, 2))
    elapsed = time.monotonic() - t0
    assert got == errno.EAGAIN, f"listdir gave {errname(got)}" + show(mount)
    reqs = persons_reqs(server)
    assert len(reqs) == 4, show(mount, server)
    assert all(r["status"] == 429 for r in reqs)
    assert all(g >= BURST_MIN_WAIT for g in gaps(reqs)), \
        f"gaps {gaps(reqs)}" + show(mount)
    assert elapsed <= 3 * (BURST_MIN_WAIT + BURST_JITTER) + SLACK + 1, elapsed
    line = find_line(mount, "listing /by-owner/2 failed", "429", level="error")
    assert line, show(mount)
    # nothing keeps asking in the background
    time.sleep(3)
    assert len(persons_reqs(server)) == 4, show(mount, server)
    assert server.api_count() == 4, server.stats()["by_route"]


@pytest.mark.slow
def test_no_request_right_after_the_last_burst_429(small):
    """The 4th burst 429 (retries exhausted) also pauses everyone: a listing
    started right after the EAGAIN waits >= 2 s before its first request."""
    server, mount = small
    server.faults(fault("429", count=-1, retry_after=1))
    assert listdir_errno(owner_dir(mount, 2)) == errno.EAGAIN, show(mount)
    last_429 = persons_reqs(server)[-1]["t"]
    assert listdir_errno(owner_dir(mount, 3)) == errno.EAGAIN, show(mount)
    reqs = persons_reqs(server)
    assert len(reqs) == 8, show(mount, server)
    first_of_second = reqs[4]["t"]
    assert first_of_second - last_429 >= BURST_MIN_WAIT, (
        "a new listing asked %.2f s after a burst 429 (expected >= 2 s)"
        % (first_of_second - last_429)) + show(mount, server)


def test_burst_429_pauses_every_thread(fake_server, mount_fs):
    """A burst 429 seen by one walk pauses the other walk too (one gate)."""
    server = fake_server(persons=1500, owners=3, orgs=10, rate_limit=0,
                         tricky=False, quiet=True)
    mount = mount_fs(server, "page_limit=100", "walk_windows=1")  # 5 pages
    server.reset()
    server.config(latency_ms=50)
    server.faults(fault("429", skip=3, retry_after=2))
    want = {o: expected_names(server.persons(owner_id=o)) for o in (1, 2)}
    results, errors = {}, []

    def walk(owner):
        try:
            results[owner] = listdir_b(owner_dir(mount, owner))
        except OSError as e:
            errors.append((owner, e))

    threads = [threading.Thread(target=walk, args=(o,)) for o in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert results == want
    reqs = persons_reqs(server)
    assert len(reqs) == 11, show(mount, server)            # 10 pages + 1 retry
    hit = [r for r in reqs if r["status"] == 429]
    assert len(hit) == 1
    t429 = hit[0]["t"]
    # requests already in flight when the 429 came back may finish just after
    # it (latency 50 ms); nothing may START in the 2 s after it.
    during = [r for r in reqs if t429 + 0.2 < r["t"] < t429 + BURST_MIN_WAIT]
    assert not during, "requests during the burst pause:\n" + show(mount,
                                                                   server)


@pytest.mark.parametrize("windows", [1, 0], ids=["one-walk", "windows"])
def test_gate_keeps_under_announced_burst_limit(fake_server, mount_fs,
                                                windows):
    """x-ratelimit-limit: 5 -> a 1,500-person walk (page_limit=100) never gets
    a 429 and never sends more than 5 requests in any 2 s window, whether
    it is one cursor walk or parallel update_time windows."""
    server = fake_server(persons=4500, owners=3, orgs=10, rate_limit=5,
                         tricky=False, quiet=True)
    mount = mount_fs(server, "page_limit=100", f"walk_windows={windows}")
    time.sleep(2.1)                  # the start-up requests leave the window
    server.reset()
    persons = server.persons(owner_id=1)
    assert len(persons) == 1500
    assert listdir_b(owner_dir(mount, 1)) == expected_names(persons), \
        show(mount)
    stats = server.stats()
    reqs = persons_reqs(server)
    if windows == 1:
        assert len(reqs) == 15, show(mount, server)
    else:
        assert len(reqs) >= 15, show(mount, server)
    assert stats["by_status"].get("429", 0) == 0, stats["by_status"]
    # 50 ms tolerance: the fake stamps a request when it has answered it
    times = [r["t"] for r in server.requests() if " /api/" in
             f"{r['method']} {r['path']}"]
    assert max_in_window(times, 2.0 - 0.05) <= 5, show(mount, server)


@pytest.mark.parametrize("windows", [1, 0], ids=["one-walk", "windows"])
def test_gate_default_is_20_per_2s_without_headers(fake_server, mount_fs,
                                                   windows):
    """No x-ratelimit-* headers: the gate keeps to 20 requests per 2 s."""
    server = fake_server(persons=4500, owners=3, orgs=10, rate_limit=20,
                         ratelimit_headers=False, tricky=False, quiet=True)
    mount = mount_fs(server, "page_limit=50", f"walk_windows={windows}")
    time.sleep(2.1)
    server.reset()
    persons = server.persons(owner_id=1)
    assert listdir_b(owner_dir(mount, 1)) == expected_names(persons), \
        show(mount)
    reqs = persons_reqs(server)
    if windows == 1:
        assert len(reqs) == 30, show(mount, server)
    assert server.stats()["by_status"].get("429", 0) == 0, show(mount, server)
    times = [r["t"] for r in server.requests() if " /api/" in
             f"{r['method']} {r['path']}"]
    assert max_in_window(times, 2.0 - 0.05) <= 20


# --------------------------------------------------------------------------
# daily budget

def test_daily_budget_429_blocks_all_requests(fake_server, mount_fs):
    """Daily 429: EAGAIN, a log line naming the daily budget and its reset,
    no further request; cached (even expired) listings are still served."""
    server = fake_server(**SMALL)
    mount = mount_fs(server, "cache_ttl=1")
    cached = listdir_b(owner_dir(mount, 1))
    f = sorted(cached)[0]
    with open(os.path.join(os.fsencode(owner_dir(mount, 1)), f), "rb") as fh:
        content = fh.read()
    server.reset()
    server.faults(fault("429-daily", retry_after=3600))
    time.sleep(1.3)                                    # owner 1 is expired
    got = listdir_errno(owner_dir(mount, 2))
    assert got == errno.EAGAIN, f"listdir gave {errname(got)}" + show(mount)
    assert server.api_count() == 1, server.stats()["by_route"]
    line = find_line(mount, "listing /by-owner/2 failed", "daily", "reset",
                     level="error")
    assert line, show(mount)
    # a second new listing: EAGAIN without asking
    got = listdir_errno(owner_dir(mount, 3))
    assert got == errno.EAGAIN, f"listdir gave {errname(got)}" + show(mount)
    got = listdir_errno(mount.path / "by-org")
    assert got == errno.EAGAIN, f"listdir gave {errname(got)}" + show(mount)
    # the cached directory and its files
    assert listdir_b(owner_dir(mount, 1)) == cached, show(mount)
    with open(os.path.join(os.fsencode(owner_dir(mount, 1)), f), "rb") as fh:
        assert fh.read() == content
    assert server.api_count() == 1, server.stats()["by_route"]


def test_daily_budget_block_lifts_after_retry_after(small):
    server, mount = small
    server.faults(fault("429-daily", retry_after=3))
    assert listdir_errno(owner_dir(mount, 2)) == errno.EAGAIN, show(mount)
    assert listdir_errno(owner_dir(mount, 2)) == errno.EAGAIN, show(mount)
    assert server.api_count() == 1
    time.sleep(3.5)
    want = expected_names(server.persons(owner_id=2))
    assert listdir_b(owner_dir(mount, 2)) == want, show(mount)
    assert [r["status"] for r in persons_reqs(server)] == [429, 200]


def test_real_daily_budget_exhaustion(small):
    """The fake's own budget (x-daily-ratelimit-token-remaining: 0, Retry-After
    = seconds to midnight UTC): EAGAIN after one request, then silence."""
    server, mount = small
    server.config(daily_budget=5)          # less than one list (10 tokens)
    got = listdir_errno(owner_dir(mount, 2))
    assert got == errno.EAGAIN, f"listdir gave {errname(got)}" + show(mount)
    assert server.api_count() == 1
    assert listdir_errno(owner_dir(mount, 3)) == errno.EAGAIN
    assert listdir_errno(mount.path / "by-owner") == errno.EAGAIN
    assert server.api_count() == 1, server.stats()["by_route"]
    assert find_line(mount, "daily", "reset", level="error"), show(mount)


# --------------------------------------------------------------------------
# Cloudflare HTML 403

def test_html_403_is_a_hard_stop(fake_server, mount_fs):
    server = fake_server(**SMALL)
    mount = mount_fs(server, "cache_ttl=1")
    cached = listdir_b(owner_dir(mount, 1))
    server.reset()
    server.faults(fault("html403"))                    # fires once
    time.sleep(1.3)
    got = listdir_errno(owner_dir(mount, 2))
    assert got == errno.EIO, f"listdir gave {errname(got)}" + show(mount)
    assert server.api_count() == 1
    assert find_line(mount, "listing /by-owner/2 failed", "403",
                     level="error"), show(mount)
    # the rule is spent, the server would answer: the daemon must not ask
    got = listdir_errno(owner_dir(mount, 3))
    assert got == errno.EIO, f"listdir gave {errname(got)}" + show(mount)
    got = listdir_errno(mount.path / "by-org")
    assert got == errno.EIO, f"listdir gave {errname(got)}" + show(mount)
    assert listdir_b(owner_dir(mount, 1)) == cached, show(mount)
    time.sleep(1)
    assert server.api_count() == 1, server.stats()["by_route"]


# --------------------------------------------------------------------------
# transient faults

@pytest.mark.parametrize("kind", TRANSIENT_KINDS)
def test_transient_fault_once_is_retried(small, kind):
    server, mount = small
    server.faults(fault(kind))
    want = expected_names(server.persons(owner_id=2))
    assert listdir_b(owner_dir(mount, 2)) == want, show(mount, server)
    reqs = persons_reqs(server)
    assert len(reqs) == 2, show(mount, server)
    assert reqs[0]["fault"] == kind and reqs[1]["status"] == 200
    g = gaps(reqs)[0]
    assert BACKOFFS[0] <= g <= BACKOFFS[0] + BACKOFF_JITTER + SLACK, g
    assert find_line(mount, "retrying", level="warn"), show(mount)
    assert not log_lines(mount, "error"), show(mount)


@pytest.mark.parametrize("kind", TRANSIENT_KINDS)
def test_transient_fault_forever_fails_with_eio(small, kind):
    server, mount = small
    server.faults(fault(kind, count=-1))
    got = listdir_errno(owner_dir(mount, 2))
    assert got == errno.EIO, f"listdir gave {errname(got)}" + show(mount)
    reqs = persons_reqs(server)
    assert len(reqs) == 4, show(mount, server)
    assert all(r["fault"] == kind for r in reqs)
    for g, b in zip(gaps(reqs), BACKOFFS):
        assert b <= g <= b + BACKOFF_JITTER + SLACK, (gaps(reqs), show(mount))
    assert find_line(mount, "listing /by-owner/2 failed", level="error"), \
        show(mount)
    time.sleep(1)
    assert len(persons_reqs(server)) == 4


# --------------------------------------------------------------------------
# timeouts

@pytest.mark.parametrize("kind", ["slow", "stall"])
def test_request_slower_than_timeout_is_retried(fake_server, mount_fs, kind):
    """-o timeout=2 and one request that takes 5 s: the attempt is abandoned
    after 2 s, retried, and the listing is exact."""
    server = fake_server(**SMALL)
    mount = mount_fs(server, "timeout=2")
    server.reset()
    server.faults(fault(kind, delay_ms=5000))
    want = expected_names(server.persons(owner_id=2))
    t0 = time.monotonic()
    assert listdir_b(owner_dir(mount, 2)) == want, show(mount)
    elapsed = time.monotonic() - t0
    assert 2.0 <= elapsed <= 2.0 + BACKOFFS[0] + BACKOFF_JITTER + SLACK, \
        f"listing took {elapsed:.2f} s" + show(mount)
    reqs = wait_for_requests(server, PERSONS, 2)     # the slow one lands late
    assert len(reqs) == 2, show(mount, server)
    assert sorted(r.get("fault") or "" for r in reqs) == ["", kind]
    assert find_line(mount, "retrying", level="warn"), show(mount)


@pytest.mark.slow
def test_request_slower_than_timeout_forever_fails_with_eio(fake_server,
                                                            mount_fs):
    server = fake_server(**SMALL)
    mount = mount_fs(server, "timeout=2")
    server.reset()
    server.faults(fault("slow", count=-1, delay_ms=6000))
    t0 = time.monotonic()
    got = listdir_errno(owner_dir(mount, 2))
    elapsed = time.monotonic() - t0
    assert got == errno.EIO, f"listdir gave {errname(got)}" + show(mount)
    budget = 4 * 2.0 + sum(BACKOFFS) + 3 * BACKOFF_JITTER + SLACK
    assert 4 * 2.0 <= elapsed <= budget, f"took {elapsed:.2f} s" + show(mount)
    time.sleep(6.5)                                  # let the fake record them
    assert len(persons_reqs(server)) == 4, show(mount, server)
    assert find_line(mount, "listing /by-owner/2 failed", level="error"), \
        show(mount)


# --------------------------------------------------------------------------
# authentication and permission

def test_401_mid_session_is_eacces(small):
    server, mount = small
    server.faults(fault("401", count=-1))
    got = listdir_errno(owner_dir(mount, 2))
    assert got == errno.EACCES, f"listdir gave {errname(got)}" + show(mount)
    assert len(persons_reqs(server)) == 1, show(mount, server)   # no retry
    line = find_line(mount, "listing /by-owner/2 failed",
                     "the API token was rejected", level="error")
    assert line, show(mount)


class _Json403Handler(BaseHTTPRequestHandler):
    """/api/v1/users/me works; everything else is a JSON 403."""
    protocol_version = "HTTP/1.1"
    seen = None

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self.seen.append(self.path)
        if self.path.split("?")[0] == "/api/v1/users/me":
            status, body = 200, {"success": True, "data": {
                "id": 1, "name": "Owner", "company_domain": "acme",
                "company_id": 1, "language": {"language_code": "en",
                                              "country_code": "US"}}}
        else:
            status, body = 403, {
                "success": False,
                "error": "You do not have permissions to do this.",
                "error_info": "Please check developers.pipedrive.com",
                "data": None, "additional_data": None}
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


class _Json403Server:
    """Quacks like FakeServer enough for mount_fs (base_url, token)."""

    def __init__(self):
        handler = type("H", (_Json403Handler,), {"seen": []})
        self.seen = handler.seen
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.token = "test-token"
        self.base_url = "http://127.0.0.1:%d/api/v2" % self.httpd.server_port
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_json_403_is_eacces(mount_fs):
    server = _Json403Server()
    try:
        mount = mount_fs(server)
        del server.seen[:]
        got = listdir_errno(owner_dir(mount, 2))
        assert got == errno.EACCES, f"listdir gave {errname(got)}" + \
            show(mount)
        persons = [p for p in server.seen if p.startswith(PERSONS_PATH)]
        assert len(persons) == 1, server.seen                # no retry
        assert find_line(mount, "listing /by-owner/2 failed", "403",
                         level="error"), show(mount)
        mount.unmount()
    finally:
        server.stop()


# --------------------------------------------------------------------------
# stale-if-error, partial walks, empty directories

def test_expired_listing_is_served_when_the_refresh_fails(fake_server,
                                                          mount_fs):
    server = fake_server(**SMALL)
    mount = mount_fs(server, "cache_ttl=1")
    d = owner_dir(mount, 1)
    names = listdir_b(d)
    assert names == expected_names(server.persons(owner_id=1))
    server.reset()
    server.faults(fault("500", count=-1))
    time.sleep(2)
    assert listdir_b(d) == names, show(mount)
    reqs = persons_reqs(server)
    assert len(reqs) == 4, show(mount, server)        # the refresh was tried
    assert find_line(mount, "serving an expired copy", level="warn"), \
        show(mount)
    for n in sorted(names)[:4]:                       # files still readable
        with open(os.path.join(os.fsencode(d), n), "rb") as fh:
            assert fh.read()


def test_walk_failing_on_page_3_never_shows_a_partial_listing(fake_server,
                                                              mount_fs):
    server = fake_server(persons=1500, owners=3, orgs=10, rate_limit=0,
                         tricky=False, quiet=True)
    mount = mount_fs(server, "page_limit=100", "walk_windows=1")  # 5 pages
    server.reset()
    persons = server.persons(owner_id=1)
    assert len(persons) == 500
    server.faults(fault("500", skip=2, count=-1))
    d = owner_dir(mount, 1)
    outcomes = []

    def attempt():
        try:
            outcomes.append(("ok", len(listdir_b(d))))
        except OSError as e:
            outcomes.append(("err", e.errno))

    threads = [threading.Thread(target=attempt) for _ in range(3)]
    for t in threads:
        t.start()
        time.sleep(0.2)
    for t in threads:
        t.join(60)
    assert outcomes == [("err", errno.EIO)] * 3, (outcomes, show(mount))
    reqs = persons_reqs(server)
    assert [r["status"] for r in reqs] == [200, 200, 500, 500, 500, 500], \
        show(mount, server)                           # one shared walk
    # a person from page 1 is not served from the failed walk's pages: the
    # kernel may still hold the entry the streamed listing gave it (the
    # person does exist); otherwise the daemon asks the server by id
    p1 = persons[0]
    path = os.path.join(os.fsencode(d), safe_base(p1["name"], p1["id"])
                        + b".json")
    server.reset()
    os.stat(path)
    reqs = persons_reqs(server)
    assert len(reqs) <= 1 and all("ids" in r["query"] for r in reqs), \
        show(mount, server)
    # the fault ends: the next listing walks from the first page again
    server.reset()
    assert listdir_b(d) == expected_names(persons), show(mount)
    reqs = persons_reqs(server)
    assert len(reqs) == 5, show(mount, server)
    assert "cursor" not in reqs[0]["query"], reqs[0]["query"]


def test_windowed_walk_with_a_failing_request_fails_whole(fake_server,
                                                          mount_fs):
    """Parallel update_time windows: one window failing for good fails the
    whole listing with EIO (no partial merge); later the listing is exact."""
    server = fake_server(persons=1500, owners=3, orgs=10, rate_limit=0,
                         tricky=False, quiet=True)
    mount = mount_fs(server, "page_limit=100", "walk_windows=4")
    server.reset()
    persons = server.persons(owner_id=1)
    server.faults(fault("500", skip=2, count=-1))
    d = owner_dir(mount, 1)
    got = listdir_errno(d)
    assert got == errno.EIO, f"listdir gave {errname(got)}" + show(mount)
    assert find_line(mount, "listing /by-owner/1 failed", level="error"), \
        show(mount)
    server.reset()
    assert listdir_b(d) == expected_names(persons), show(mount, server)


@pytest.mark.parametrize("kind,dir_id,key", [("by-org", 4242, "org_id"),
                                             ("by-owner", 999, "owner_id")])
def test_id_without_persons_is_an_empty_directory(small, kind, dir_id, key):
    server, mount = small
    assert os.listdir(mount.path / kind / str(dir_id)) == []
    reqs = persons_reqs(server)
    assert len(reqs) == 1 and reqs[0]["status"] == 200, show(mount, server)
    assert str(reqs[0]["query"].get(key)) == str(dir_id)
    assert not log_lines(mount, "error"), show(mount)


# --------------------------------------------------------------------------
# shutdown while walks are in flight

def _start_slow_listing(server, mount, delay_ms, count=-1):
    """A thread listing /by-owner/2 while every persons request is slow."""
    server.faults(fault("slow", count=count, delay_ms=delay_ms))
    result = {}

    def run():
        t = time.monotonic()
        try:
            result["names"] = listdir_b(owner_dir(mount, 2))
        except OSError as e:
            result["errno"] = e.errno
        result["t"] = time.monotonic() - t

    th = threading.Thread(target=run, daemon=True)
    th.start()
    time.sleep(1.0)
    assert th.is_alive(), "the listing did not wait for the slow walk"
    return th, result


def _wait_exit(mount, timeout):
    try:
        return mount.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


def test_sigterm_during_slow_walk_exits_cleanly(small):
    """SIGTERM while a walk waits on a 20 s request: the daemon cancels the
    transfer and exits 0 within 5 s, the mount is gone, the waiting listing
    is released (with an error)."""
    server, mount = small
    th, result = _start_slow_listing(server, mount, 20000)
    t0 = time.monotonic()
    os.kill(mount.pid, signal.SIGTERM)
    rc = _wait_exit(mount, 5)
    took = time.monotonic() - t0
    th.join(5)
    facts = {"exit_status": rc, "mounted": mount.is_mounted(),
             "listing_blocked": th.is_alive(), "listing": result}
    want = {"exit_status": 0, "mounted": False, "listing_blocked": False,
            "listing": facts["listing"]}
    assert facts == want, f"{took:.1f} s after SIGTERM: {facts}" + show(mount)
    assert "names" not in result, "a cancelled walk produced a listing"


def test_unmount_during_slow_walk_exits_cleanly(small):
    """fusermount3 -u while a walk is in flight.  The kernel refuses (EBUSY)
    while the listing process waits inside the mount, so do what a user
    does next, fusermount3 -u -z: the mount leaves the namespace at once, the
    walk completes with the exact listing, and the daemon exits 0 within a
    few seconds of it."""
    server, mount = small
    want = expected_names(server.persons(owner_id=2))
    th, result = _start_slow_listing(server, mount, 3000, count=1)
    res = subprocess.run(["fusermount3", "-u", "--", str(mount.path)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, timeout=30)
    if res.returncode == 0:
        plain = "unmounted"
    else:
        assert "busy" in res.stdout.lower(), res.stdout
        plain = "busy"
        res = subprocess.run(["fusermount3", "-u", "-z", "--",
                              str(mount.path)], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, timeout=30)
        assert res.returncode == 0, res.stdout
    assert not mount.is_mounted()
    t0 = time.monotonic()
    th.join(10)
    rc = _wait_exit(mount, 5)
    took = time.monotonic() - t0
    facts = {"exit_status": rc, "listing_blocked": th.is_alive(),
             "listing_exact": result.get("names") == want,
             "listing_errno": errname(result.get("errno"))}
    wanted = {"exit_status": 0, "listing_blocked": False,
              "listing_exact": True, "listing_errno": "success"}
    assert facts == wanted, (f"plain unmount: {plain}; {took:.1f} s after "
                             f"the lazy unmount: {facts}") + show(mount)
