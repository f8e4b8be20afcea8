"""Foundation mount tests: the tree, the files, errors, caching, requests,
concurrency and token handling of pipedrivefs against tests/fake_pipedrive.py.

Run: /usr/bin/python3 -m pytest tests/mount -q   (PIPEDRIVEFS_BIN=... to pick
a build).  Each test names the behaviour that makes it fail.
"""

import datetime
import errno
import json
import math
import os
import stat
import threading
import time

import pytest

from naming import NAME_MAX, expected_names, listdir_b, ordered, safe_base

# Small company with the tricky persons (ids 1..31) present.
SMALL = dict(persons=120, owners=3, orgs=10, rate_limit=0, quiet=True)

DOCUMENTED_PERSON_PARAMS = {
    "filter_id", "ids", "owner_id", "org_id", "deal_id", "updated_since",
    "updated_until", "sort_by", "sort_direction", "include_fields",
    "custom_fields", "include_option_labels", "include_labels", "limit",
    "cursor"}


# --------------------------------------------------------------------------
# helpers (the naming rule and ordered() are in naming.py)

def parse_time(text):
    dt = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return int(dt.timestamp())


def file_path(mount, kind, dir_id, person, ext):
    return os.path.join(os.fsencode(mount.path), kind.encode(),
                        str(dir_id).encode(),
                        safe_base(person.get("name"), person["id"]) + ext)


def persons_requests(server, **match):
    out = []
    for r in server.requests("GET /api/v2/persons"):
        q = r["query"]
        if all(str(q.get(k)) == str(v) for k, v in match.items()):
            out.append(r)
    return out


@pytest.fixture
def small(fake_server, mount_fs):
    server = fake_server(**SMALL)
    mount = mount_fs(server)
    return server, mount


# --------------------------------------------------------------------------
# the tree

def test_root_lists_exactly_the_tree(small):
    server, mount = small
    assert sorted(os.listdir(mount.path)) == [
        ".pipedrivefs", "by-filter", "by-id", "by-org", "by-owner", "recent",
        "search"]


def id_dirs(path):
    """The real directories of a group root (its name links excluded)."""
    return {n for n in os.listdir(path)
            if not os.path.islink(path / n) and os.path.isdir(path / n)}


def test_by_owner_lists_the_user_ids(small):
    server, mount = small
    users = server.users()
    assert users, "fake server returned no users"
    assert id_dirs(mount.path / "by-owner") == {str(u["id"]) for u in users}


def test_by_org_lists_the_org_ids(small):
    server, mount = small
    orgs = server.organizations()
    assert orgs, "fake server returned no organizations"
    assert id_dirs(mount.path / "by-org") == {str(o["id"]) for o in orgs}


@pytest.mark.parametrize("owner", [1, 2, 3])
def test_owner_dir_file_names(small, owner):
    server, mount = small
    persons = server.persons(owner_id=owner)
    assert persons
    assert listdir_b(mount.path / "by-owner" / str(owner)) == \
        expected_names(persons)


@pytest.mark.parametrize("org", [1, 4, 5, 10])
def test_org_dir_file_names(small, org):
    server, mount = small
    persons = server.persons(org_id=org)
    assert persons
    assert listdir_b(mount.path / "by-org" / str(org)) == \
        expected_names(persons)


def test_every_file_name_fits_name_max_and_is_utf8(small):
    server, mount = small
    for owner in (1, 2, 3):
        for name in listdir_b(mount.path / "by-owner" / str(owner)):
            assert len(name) <= NAME_MAX
            name.decode("utf-8")          # raises if a character was cut


@pytest.mark.parametrize("kind,key,dir_id",
                         [("by-owner", "owner_id", 1), ("by-org", "org_id", 2)])
def test_json_files_equal_server_objects(small, kind, key, dir_id):
    server, mount = small
    persons = server.persons(**{key: dir_id})
    assert persons
    for p in persons:
        with open(file_path(mount, kind, dir_id, p, b".json"), "rb") as f:
            data = f.read()
        assert data.endswith(b"\n"), p["id"]
        got = json.loads(data.decode("utf-8", "surrogateescape"))
        assert got == p, p["id"]
        assert ordered(got) == ordered(p), f"key order differs for {p['id']}"


def test_sizes_and_mtimes(small):
    server, mount = small
    persons = server.persons(owner_id=2)
    for p in persons:
        for ext in (b".json", b".vcf"):
            path = file_path(mount, "by-owner", 2, p, ext)
            with open(path, "rb") as f:
                data = f.read()
            st = os.stat(path)
            assert st.st_size == len(data), (path, st.st_size, len(data))
            assert int(st.st_mtime) == parse_time(p["update_time"]), path


def test_modes(small):
    server, mount = small
    for d in ("", "by-owner", "by-org", "by-owner/1", "by-org/1"):
        st = os.stat(mount.path / d)
        assert stat.S_ISDIR(st.st_mode), d
        assert stat.S_IMODE(st.st_mode) == 0o555, (d, oct(st.st_mode))
    names = listdir_b(mount.path / "by-owner" / "1")
    assert names
    for n in names:
        st = os.stat(os.path.join(os.fsencode(mount.path / "by-owner" / "1"), n))
        assert stat.S_ISREG(st.st_mode), n
        assert stat.S_IMODE(st.st_mode) == 0o444, (n, oct(st.st_mode))


def test_vcards_parse_and_are_well_formed(small):
    vobject = pytest.importorskip("vobject")
    server, mount = small
    persons = server.persons(owner_id=1) + server.persons(owner_id=2)
    assert len(persons) > 20
    for p in persons:
        owner = p["owner_id"]
        with open(file_path(mount, "by-owner", owner, p, b".vcf"), "rb") as f:
            data = f.read()
        assert data.endswith(b"\r\n"), p["id"]
        lines = data[:-2].split(b"\r\n")
        for line in lines:
            assert b"\n" not in line and b"\r" not in line, (p["id"], line)
            assert len(line) <= 75, (p["id"], len(line), line)
        assert lines[0] == b"BEGIN:VCARD" and lines[-1] == b"END:VCARD"
        assert b"VERSION:3.0" in lines
        card = vobject.readOne(data.decode("utf-8"))
        assert card.fn.value.strip(), f"empty FN for person {p['id']}"


# --------------------------------------------------------------------------
# errors

def _errno_of(fn, *args, **kw):
    try:
        fn(*args, **kw)
    except OSError as e:
        return e.errno
    return 0


def test_enoent(small):
    server, mount = small
    for p in ("by-owner/abc", "by-org/abc", "by-owner/1x", "by-owner/-1",
              "by-owner/01", "nosuch", "by-owner/1/Nobody (999999).json",
              "by-owner/1/Nobody (999999).vcf", "by-owner/1/not-a-person"):
        assert _errno_of(os.stat, mount.path / p) == errno.ENOENT, p
    assert _errno_of(os.listdir, mount.path / "by-owner" / "abc") == \
        errno.ENOENT


def test_read_only_operations_fail_with_erofs(small):
    server, mount = small
    d = mount.path / "by-owner" / "1"
    files = sorted(os.listdir(d))
    f = d / files[0]
    other = d / files[1]
    ro = errno.EROFS
    checks = {
        "open existing for write": lambda: open(f, "r+b"),
        "open existing for append": lambda: open(f, "ab"),
        "create": lambda: open(d / "newfile.json", "wb"),
        "O_CREAT|O_EXCL": lambda: os.open(d / "x.vcf",
                                          os.O_CREAT | os.O_EXCL | os.O_WRONLY),
        "mkdir": lambda: os.mkdir(d / "newdir"),
        "mkdir in root": lambda: os.mkdir(mount.path / "by-tag"),
        "unlink": lambda: os.unlink(f),
        "rename": lambda: os.rename(f, d / "renamed.json"),
        "rename over": lambda: os.rename(f, other),
        "rmdir": lambda: os.rmdir(d),
        "rmdir root child": lambda: os.rmdir(mount.path / "by-org"),
        "chmod": lambda: os.chmod(f, 0o644),
        "chmod dir": lambda: os.chmod(d, 0o755),
        "truncate": lambda: os.truncate(f, 0),
        "symlink": lambda: os.symlink("x", d / "link"),
        "utime": lambda: os.utime(f, (0, 0)),
    }
    got = {name: _errno_of(fn) for name, fn in checks.items()}
    want = {name: ro for name in checks}
    assert got == want
    # and nothing changed
    assert sorted(os.listdir(d)) == files


def test_numeric_id_without_persons_is_an_empty_dir(small):
    server, mount = small
    for p in ("by-owner/999", "by-org/4242", "by-owner/4"):   # 4: deactivated
        st = os.stat(mount.path / p)
        assert stat.S_ISDIR(st.st_mode), p
        assert os.listdir(mount.path / p) == [], p


# --------------------------------------------------------------------------
# requests and caching

def _check_walk_queries(reqs, key, value, limit):
    assert reqs
    for i, r in enumerate(reqs):
        q = r["query"]
        assert set(q) <= DOCUMENTED_PERSON_PARAMS, q
        assert str(q.get("limit")) == str(limit), q
        assert q.get("sort_by") == "id", q
        assert q.get("sort_direction") == "asc", q
        assert str(q.get(key)) == str(value), q
        if i == 0:
            assert "cursor" not in q, q
        else:
            assert q.get("cursor"), q


def test_cold_listing_cost_with_page_limit_500(fake_server, mount_fs):
    server = fake_server(persons=3000, owners=3, orgs=10, rate_limit=0,
                         quiet=True)
    # one cursor walk: automatic windows (rate x page latency) would add a
    # request per window on a slow moment
    mount = mount_fs(server, "page_limit=500", "walk_windows=1")
    server.reset()
    n = len(server.persons(owner_id=1))           # 1000
    names = listdir_b(mount.path / "by-owner" / "1")
    assert len(names) == 2 * n
    reqs = server.requests("GET /api/v2/persons")
    assert len(reqs) == math.ceil(n / 500), [r["query"] for r in reqs]
    _check_walk_queries(reqs, "owner_id", 1, 500)
    for r in reqs:
        assert "org_id" not in r["query"], r["query"]


def test_org_listing_queries(small):
    server, mount = small
    server.reset()
    n = len(server.persons(org_id=3))
    assert len(listdir_b(mount.path / "by-org" / "3")) == 2 * n
    reqs = server.requests("GET /api/v2/persons")
    assert len(reqs) >= 1
    for r in reqs:
        q = r["query"]
        assert set(q) <= DOCUMENTED_PERSON_PARAMS, q
        assert str(q.get("org_id")) == "3" and "owner_id" not in q, q
        assert q.get("sort_by") == "id" and q.get("sort_direction") == "asc"


def test_listing_bigger_than_one_page_is_complete(fake_server, mount_fs):
    server = fake_server(persons=3600, owners=3, orgs=10, rate_limit=0,
                         quiet=True)
    # one window: the request count is then exact (how many windows a big
    # folder gets depends on the measured latency, slower under valgrind)
    mount = mount_fs(server, "page_limit=100", "walk_windows=1")
    server.reset()
    persons = server.persons(owner_id=1)
    assert len(persons) == 1200
    assert listdir_b(mount.path / "by-owner" / "1") == expected_names(persons)
    reqs = server.requests("GET /api/v2/persons")
    assert len(reqs) == 12, [r["query"] for r in reqs]
    _check_walk_queries(reqs, "owner_id", 1, 100)


def _read_all(d):
    total = 0
    for n in os.listdir(d):
        with open(os.path.join(d, n), "rb") as f:
            total += len(f.read())
        os.stat(os.path.join(d, n))
    return total


def test_second_listing_within_ttl_costs_nothing(small):
    server, mount = small
    d = mount.path / "by-owner" / "1"
    first = _read_all(d)
    sorted(os.listdir(mount.path / "by-owner"))
    server.reset()
    assert _read_all(d) == first
    os.listdir(mount.path / "by-owner")
    assert server.count("GET /api/v2/persons") == 0
    assert server.api_count() == 0, server.stats()["by_route"]


def test_change_shows_after_ttl_and_not_before(fake_server, mount_fs):
    server = fake_server(**SMALL)
    ttl = 2
    mount = mount_fs(server, f"cache_ttl={ttl}")
    d = mount.path / "by-owner" / "2"
    p = server.persons(owner_id=2)[5]
    old_names = listdir_b(d)
    old_json = file_path(mount, "by-owner", 2, p, b".json")
    with open(old_json, "rb") as f:
        before = json.loads(f.read())
    t0 = time.monotonic()
    new = server.update_person(p["id"], name="Renamed Person")
    assert new["name"] == "Renamed Person"
    # within the TTL: still the old view
    assert listdir_b(d) == old_names
    with open(old_json, "rb") as f:
        assert json.loads(f.read()) == before
    assert time.monotonic() - t0 < ttl, "too slow to check 'not before'"
    time.sleep(ttl + 1)
    now = server.persons(owner_id=2)
    assert listdir_b(d) == expected_names(now)
    with open(file_path(mount, "by-owner", 2, new, b".json"), "rb") as f:
        got = json.loads(f.read())
    assert got["name"] == "Renamed Person"
    assert got == new
    assert _errno_of(os.stat, old_json) == errno.ENOENT


def test_concurrent_listings_cost_one_walk(fake_server, mount_fs):
    server = fake_server(**SMALL)
    mount = mount_fs(server, "page_limit=500")
    server.config(latency_ms=300)
    server.reset()
    d = mount.path / "by-owner" / "2"
    expected = expected_names(server.persons(owner_id=2))
    barrier = threading.Barrier(8)
    results, errors = [], []

    def worker():
        try:
            barrier.wait()
            results.append(listdir_b(d))
        except Exception as e:          # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert len(results) == 8
    assert all(r == expected for r in results)
    reqs = persons_requests(server, owner_id=2)
    assert len(reqs) == 1, [r["query"] for r in reqs]
    assert server.count("GET /api/v2/persons") == 1


def test_cached_read_not_blocked_by_slow_walk(fake_server, mount_fs):
    server = fake_server(**SMALL)
    mount = mount_fs(server)
    d1 = mount.path / "by-owner" / "1"
    names = sorted(os.listdir(d1))            # walk of owner 1 is now cached
    assert names
    server.faults({"path": "/api/v2/persons", "kind": "slow",
                   "delay_ms": 3000, "count": -1})
    slow_result = {}

    def slow_listing():
        t = time.monotonic()
        slow_result["names"] = os.listdir(mount.path / "by-owner" / "2")
        slow_result["t"] = time.monotonic() - t

    th = threading.Thread(target=slow_listing)
    th.start()
    try:
        time.sleep(0.5)                        # the walk is in progress
        assert th.is_alive(), "owner 2 listing did not wait for the slow walk"
        t = time.monotonic()
        for n in names[:6]:                    # open/read files never read yet
            with open(d1 / n, "rb") as f:
                assert f.read()
            os.stat(d1 / n)
        assert sorted(os.listdir(d1)) == names
        elapsed = time.monotonic() - t
        assert elapsed < 1.0, f"cached reads took {elapsed:.2f} s during a slow walk"
    finally:
        th.join(30)
    assert slow_result.get("names"), "slow listing failed"
    assert slow_result["t"] >= 2.0           # the fault really delayed it


# --------------------------------------------------------------------------
# token handling

def test_missing_token_exits_1(fake_server, run_pipedrivefs, tmp_path):
    server = fake_server(**SMALL)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    res = run_pipedrivefs([mnt, "-f", "-o", f"base_url={server.base_url}"],
                          env={})
    assert res.returncode == 1, (res.returncode, res.stderr)
    assert "PIPEDRIVE_API_TOKEN" in res.stderr
    assert not res.mounted
    assert not os.path.ismount(mnt)


def test_rejected_token_fails_start_up(fake_server, run_pipedrivefs, tmp_path):
    server = fake_server(**SMALL)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    bad = "wrong-token-4b1d"
    res = run_pipedrivefs([mnt, "-f", "-o", f"base_url={server.base_url}"],
                          env={"PIPEDRIVE_API_TOKEN": bad})
    assert res.returncode != 0 and res.returncode is not None
    assert not res.timed_out
    assert "token" in res.stderr.lower(), res.stderr
    assert bad not in res.stderr + res.stdout
    assert not res.mounted
    assert not os.path.ismount(mnt)
    assert server.count("GET /api/v1/users/me") >= 1


def test_token_not_in_log_or_cmdline(fake_server, mount_fs):
    token = "s3cr3t-Tok3n-7f9c2e"
    server = fake_server(token=token, **SMALL)
    mount = mount_fs(server, extra_args=["-d"])
    d = mount.path / "by-owner" / "1"
    _read_all(d)
    os.listdir(mount.path / "by-org" / "1")
    with open(f"/proc/{mount.pid}/cmdline", "rb") as f:
        cmdline = f.read()
    assert token.encode() not in cmdline
    mount.unmount()
    log = mount.log()
    assert log, "expected debug output with -d"
    assert token not in log


def test_token_sent_only_as_x_api_token_header(small):
    server, mount = small
    _read_all(mount.path / "by-owner" / "3")
    reqs = [r for r in server.requests() if r.get("path", "").startswith("/api/")]
    assert reqs
    for r in reqs:
        assert server.token not in r.get("path", "")
        assert server.token not in json.dumps(r.get("query", {}))
        assert r["status"] == 200, r
    headers = [r.get("headers") for r in reqs]
    if not all(isinstance(h, dict) for h in headers):
        pytest.skip("fake server does not record request headers")
    for h in headers:
        assert h.get("x-api-token-present") is True, h
        assert not h.get("authorization-present"), h
