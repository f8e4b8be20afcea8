"""Mount tests for the windowed cold walk of issue 5.

A big cold listing is split into disjoint update_time windows
(updated_since inclusive, updated_until exclusive) walked side by side and
closed with one updated_since=<walk start> request.  These tests check that
the merged listing is exact (also while the server changes persons), that the
walk stays within the announced burst limit and close to ceil(N/500)
requests, and that walk_windows=1 / too little room (rate x page latency
<= 1) stay sequential.  How the window count grows with latency, also
without rate-limit headers, is tested in test_ratelimit_variants.py.

Run: /usr/bin/python3 -m pytest tests/mount/test_windows.py -q
"""

import datetime
import math
import os
import re
import threading
import time

from test_parameters import expected_names, listdir_b, safe_base

PERSONS = "GET /api/v2/persons"
N = 6000
BIG = dict(persons=N, owners=1, orgs=10, rate_limit=100, quiet=True)


def parse_time(text):
    return int(datetime.datetime.fromisoformat(
        text.replace("Z", "+00:00")).timestamp())


def max_in_window(times, width=2.0):
    """The most timestamps inside any half-open window of `width` seconds."""
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= width:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def owner_walk_requests(server):
    return [r for r in server.requests(PERSONS)
            if r["query"].get("owner_id") == "1"]


def check_windows_disjoint(reqs):
    """The windowed requests' [since, until) ranges do not overlap and
    cover everything (one open below, one open above)."""
    ranges = set()
    for r in reqs:
        q = r["query"]
        if "updated_since" in q or "updated_until" in q:
            ranges.add((q.get("updated_since"), q.get("updated_until")))
    assert ranges, "no updated_since/updated_until windows in the requests"
    keyed = sorted(ranges, key=lambda w: parse_time(w[0]) if w[0] else -1)
    assert keyed[0][0] is None, f"no window open below: {keyed}"
    assert keyed[-1][1] is None, f"no window open above: {keyed}"
    for (_s1, u1), (s2, _u2) in zip(keyed, keyed[1:]):
        assert u1 == s2, f"windows not adjacent: {keyed}"
    return keyed


def test_windowed_cold_listing_is_exact_and_within_limits(fake_server,
                                                          mount_fs):
    # 50 requests/s x >= 0.1 s a page: room for >= 5 windows
    server = fake_server(latency_ms=100, **BIG)
    mount = mount_fs(server, "walk_windows=0", "cache_ttl=600")
    want = server.persons(owner_id=1)
    assert len(want) == N
    got = listdir_b(mount.path / "by-owner" / "1")
    assert len(got) == len(set(got)), "duplicate names in the listing"
    assert set(got) == expected_names(want)

    stats = server.stats()
    api = [r for r in stats["requests"] if r["path"].startswith("/api/")]
    assert max_in_window([r["t"] for r in api]) <= 100
    assert stats["by_status"].get("429", 0) == 0, stats["by_status"]

    reqs = server.requests(PERSONS)
    assert len(reqs) <= math.ceil(N / 500) + 8, len(reqs)
    walk = owner_walk_requests(server)
    windows = check_windows_disjoint(walk)
    assert 2 <= len(windows) <= 8, windows
    for r in walk:
        assert r["query"].get("sort_by", "id") == "id"
    # the closing request: company-wide updated_since, after every window
    closing = [r for r in reqs if "owner_id" not in r["query"]]
    assert len(closing) == 1, [r["query"] for r in closing]
    assert "updated_since" in closing[0]["query"]
    assert "updated_until" not in closing[0]["query"]
    assert closing[0]["t"] >= max(r["t"] for r in walk)


def window_requests(server):
    return [r for r in owner_walk_requests(server)
            if "updated_since" in r["query"] or "updated_until" in r["query"]]


def test_windowed_walk_is_exact_while_the_server_changes(fake_server,
                                                         mount_fs):
    """Persons change while the windows are being walked: updates move them
    to the newest window (possibly one whose cursor already passed them), one
    is renamed, one created.  The merged listing must hold every person of
    the owner exactly once, under its current name."""
    server = fake_server(latency_ms=150, **BIG)
    mount = mount_fs(server, "walk_windows=0", "cache_ttl=600",
                     "page_limit=100")
    before = {p["id"]: p for p in server.persons(owner_id=1)}
    bumped = list(range(97, N, 199))           # spread over every window
    renamed = 3333
    changed = {}
    errors = []

    def change():
        try:
            # wait until the windows are some pages in, then change persons
            deadline = time.monotonic() + 20
            while not window_requests(server):
                assert time.monotonic() < deadline, "no windowed requests"
                time.sleep(0.02)
            time.sleep(0.35)
            changed["start"] = time.time()
            for pid in bumped:
                changed[pid] = server.update_person(pid)   # bumps update_time
            changed[renamed] = server.update_person(renamed,
                                                    name="Renamed Midwalk")
            changed["new"] = server.create_person(name="Created Midwalk",
                                                  owner_id=1)
            changed["done"] = time.time()
        except Exception as e:          # noqa: BLE001 - reported below
            errors.append(e)

    t = threading.Thread(target=change)
    start = time.time()
    t.start()
    got = listdir_b(mount.path / "by-owner" / "1")
    end = time.time()
    t.join()
    assert not errors, errors
    wins = window_requests(server)
    if os.environ.get("PDFS_TEST_TIMELINE"):
        for r in server.requests(PERSONS):
            q = r["query"]
            print("%.3f %s %s %s" % (r["t"] - start, q.get("updated_since"),
                                     q.get("updated_until"),
                                     q.get("cursor", "")[:8]))
        print("changes %.3f..%.3f" % (changed["start"] - start,
                                      changed["done"] - start))
    assert end - start > 1.0, f"the walk took only {end - start:.2f} s"
    # the changes happened while windows were still being walked
    assert min(r["t"] for r in wins) < changed["start"]
    assert changed["done"] < max(r["t"] for r in wins), \
        "the windows had finished before the changes; the test proves nothing"

    after = server.persons(owner_id=1)
    assert len(after) == N + 1
    assert len(got) == len(set(got)), "a person is listed twice"
    ids = sorted(int(re.search(rb" \((\d+)\)\.(?:json|vcf)$", n).group(1))
                 for n in got)
    want_ids = sorted([p["id"] for p in after] * 2)
    missing = sorted(set(want_ids) - set(ids))
    assert ids == want_ids, f"missing ids {missing[:20]}"
    assert set(got) == expected_names(after)
    assert b"Renamed Midwalk (3333).json" in got
    assert safe_base(before[renamed]["name"], renamed) + b".json" not in got
    assert f"Created Midwalk ({changed['new']['id']}).vcf".encode() in got


def _sequential_case(fake_server, mount_fs, server_kw, *opts):
    server = fake_server(**server_kw)
    mount = mount_fs(server, *opts)
    server.reset()
    got = listdir_b(mount.path / "by-owner" / "1")
    assert set(got) == expected_names(server.persons(owner_id=1))
    reqs = server.requests(PERSONS)
    assert len(reqs) == math.ceil(N / 500), [r["query"] for r in reqs]
    for r in reqs:
        q = r["query"]
        assert q.get("owner_id") == "1", q
        assert "updated_since" not in q and "updated_until" not in q, q


def test_walk_windows_1_is_one_cursor_walk(fake_server, mount_fs):
    _sequential_case(fake_server, mount_fs, BIG, "walk_windows=1")


def test_low_announced_limit_stays_sequential(fake_server, mount_fs):
    """5 per 2 s x a loopback page (well under 0.4 s) < 1 request in
    flight: no room for a second window."""
    kw = dict(BIG, rate_limit=5)
    _sequential_case(fake_server, mount_fs, kw, "walk_windows=0")


def test_small_directory_is_one_request(fake_server, mount_fs):
    """Fewer persons than one page: no windows even with a limit announced."""
    server = fake_server(persons=900, owners=3, orgs=10, rate_limit=100,
                         quiet=True)
    mount = mount_fs(server, "walk_windows=0")
    server.reset()
    got = listdir_b(mount.path / "by-owner" / "2")
    assert set(got) == expected_names(server.persons(owner_id=2))
    reqs = server.requests(PERSONS)
    assert len(reqs) == 1, [r["query"] for r in reqs]
