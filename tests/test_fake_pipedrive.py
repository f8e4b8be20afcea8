"""Self-test for tests/fake_pipedrive.py.

Run: /usr/bin/python3 -m pytest tests/test_fake_pipedrive.py -q
Starts the fake server on port 0 as a subprocess (one per module) and talks
to it over HTTP with http.client.
"""

import base64
import gzip
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "fake_pipedrive.py")
TOKEN = "test-token"
N = 1003          # not divisible by 7 (nor by 500)


def start_server(*extra):
    tmpdir = tempfile.mkdtemp(prefix="fakepd.")
    port_file = os.path.join(tmpdir, "port")
    proc = subprocess.Popen(
        [sys.executable, SERVER, "--port", "0", "--port-file", port_file,
         "--quiet"] + list(extra),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 20
    while time.time() < deadline:
        if os.path.exists(port_file):
            with open(port_file) as fh:
                return proc, int(fh.read().strip())
        if proc.poll() is not None:
            raise RuntimeError("server died: " + proc.stderr.read().decode())
        time.sleep(0.02)
    proc.kill()
    raise RuntimeError("server did not start")


def stop_server(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    proc.stderr.close()


class Client:
    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def request(self, method, path, body=None, headers=None, token=TOKEN):
        h = {"Accept": "application/json"}
        if token is not None:
            h["x-api-token"] = token
        h.update(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=data, headers=h)
            resp = self.conn.getresponse()
            raw = resp.read()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            raise
        if resp.getheader("connection", "").lower() == "close":
            self.conn.close()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, raw

    def get(self, path, **kw):
        status, headers, raw = self.request("GET", path, **kw)
        body = raw
        if headers.get("content-type", "").startswith("application/json") \
                and headers.get("content-encoding") != "gzip":
            body = json.loads(raw.decode("utf-8"))
        return status, headers, body

    def control(self, method, path, body=None):
        status, _, raw = self.request(method, "/_control" + path, body=body,
                                      token=None)
        return status, json.loads(raw.decode("utf-8"))

    def walk(self, query):
        ids, cursor, pages = [], None, 0
        while True:
            q = query + ("&cursor=" + cursor if cursor else "")
            status, _, body = self.get("/api/v2/persons?" + q)
            assert status == 200, body
            assert body["success"] is True
            ids += [p["id"] for p in body["data"]]
            pages += 1
            cursor = body["additional_data"]["next_cursor"]
            if cursor is None:
                return ids, pages


@pytest.fixture(scope="module")
def server():
    proc, port = start_server("--persons", str(N), "--owners", "3",
                              "--orgs", "10")
    try:
        yield port
    finally:
        stop_server(proc)


@pytest.fixture
def c(server):
    cl = Client(server)
    cl.control("POST", "/reset")
    cl.control("POST", "/config", {"rate_limit": 0, "daily_budget": 0,
                                    "gzip": False, "latency_ms": 0,
                                    "ratelimit_headers": True,
                                    "deleted_get": "soft",
                                    "ratelimit_reset_style": "seconds",
                                    "retry_after_style": "seconds",
                                    "daily_429_style": "explicit",
                                    "label_option_ids": "int",
                                    "filter_time_bounds": "applied",
                                    "deleted_in_answers": "omit",
                                    "time_field_style": "object",
                                    "invalid_utf8_person": 0,
                                    "create_status": "200"})
    yield cl
    cl.conn.close()


def all_live_ids(c, query=""):
    status, body = c.control("GET", "/persons" + query)
    assert status == 200
    return [p["id"] for p in body["data"]]


# ---------------------------------------------------------------------------

def test_walk_limit_500(c):
    ids, pages = c.walk("limit=500")
    assert ids == list(range(1, N + 1))
    assert pages == 3


def test_walk_limit_7_desc_and_update_time(c):
    ids, pages = c.walk("limit=7")
    assert ids == list(range(1, N + 1))
    assert pages == (N + 6) // 7
    ids, _ = c.walk("limit=500&sort_direction=desc")
    assert ids == list(range(N, 0, -1))
    ids, _ = c.walk("limit=333&sort_by=update_time")
    assert sorted(ids) == list(range(1, N + 1))
    status, body = c.control("GET", "/persons")
    ut = {p["id"]: p["update_time"] for p in body["data"]}
    keys = [(ut[i], i) for i in ids]
    assert keys == sorted(keys)


def test_cursor_format_and_empty(c):
    status, _, body = c.get("/api/v2/persons?limit=2")
    cur = body["additional_data"]["next_cursor"]
    dec = json.loads(base64.urlsafe_b64decode(cur + "=" * (-len(cur) % 4)))
    assert dec == {"field": "id", "fieldValue": 2, "sortDirection": "asc",
                   "id": 2}
    assert "=" not in cur
    status, _, body = c.get("/api/v2/persons?filter_id=4")
    assert body == {"success": True, "data": [],
                    "additional_data": {"next_cursor": None}}


def test_owner_org_filters(c):
    ids, _ = c.walk("limit=500&owner_id=2")
    assert ids == [i for i in range(1, N + 1) if 1 + (i - 1) % 3 == 2]
    ids, _ = c.walk("limit=100&org_id=4")
    assert ids == [i for i in range(1, N + 1)
                   if i % 7 != 0 and 1 + (i - 1) % 10 == 4]
    ids, _ = c.walk("limit=500&org_id=4&owner_id=1")
    assert ids == all_live_ids(c, "?org_id=4&owner_id=1")
    assert all(1 + (i - 1) % 3 == 1 for i in ids) and ids
    # filter_id takes precedence over owner_id / ids
    ids, _ = c.walk("limit=500&filter_id=1&owner_id=2&ids=1,2")
    assert len(ids) == N
    ids, _ = c.walk("limit=500&ids=5,3,99999,1")
    assert ids == [1, 3, 5]
    ids, _ = c.walk("limit=500&filter_id=2")
    assert ids == all_live_ids(c, "?filter_id=2") and ids
    status, _, body = c.get("/api/v2/persons/1")
    assert status == 200 and body["data"]["id"] == 1


@pytest.mark.parametrize("query", [
    "limit=501", "limit=0", "limit=abc", "limit=1.5", "foo=bar",
    "first_char=a", "start=0",
    "updated_since=2025-01-01T10:20:00.000Z", "updated_since=2025-01-01",
    "updated_until=2025-13-01T10:20:00Z", "updated_since=yesterday",
    "sort_by=name", "sort_direction=up",
    "ids=" + ",".join(str(i) for i in range(1, 102)), "ids=1,x",
    "owner_id=abc", "org_id=-1", "filter_id=999",
    "custom_fields=" + ",".join("k%d" % i for i in range(16)),
    "custom_fields=notakey", "include_fields=bogus",
    "include_labels=maybe", "cursor=!!!notbase64", "cursor=eyJmb28iOjF9",
])
def test_invalid_params_400(c, query):
    status, headers, body = c.get("/api/v2/persons?" + query)
    assert status == 400, query
    assert headers["content-type"] == "application/json"
    assert body["success"] is False
    assert set(body) == {"success", "error", "error_info", "data",
                         "additional_data"}
    assert body["error_info"] == "Please check developers.pipedrive.com"


def test_cursor_mismatch_400(c):
    _, _, body = c.get("/api/v2/persons?limit=2")
    cur = body["additional_data"]["next_cursor"]
    status, _, _ = c.get("/api/v2/persons?sort_by=update_time&cursor=" + cur)
    assert status == 400
    status, _, _ = c.get("/api/v2/persons?sort_direction=desc&cursor=" + cur)
    assert status == 400


def test_auth(c):
    for token in (None, "wrong"):
        status, headers, body = c.get("/api/v2/persons", token=token)
        assert status == 401
        assert body == {"success": False, "error": "unauthorized access",
                        "errorCode": 401,
                        "error_info": "Please check developers.pipedrive.com"}
        assert headers["x-401-by-gw"] == "true"
        assert len(headers["x-correlation-id"]) == 36
    status, _, _ = c.get("/nope", token=None)
    assert status == 401
    status, _, body = c.get("/nope")
    assert status == 404 and body["success"] is False
    status, _, _ = c.get("/api/v2/persons?limit=1", token=None,
                         headers={"Authorization": "Bearer " + TOKEN})
    assert status == 200
    status, _, body = c.get("/v1/users/me")
    assert status == 200 and body["data"]["company_domain"] == "acme"
    status, _, body = c.get("/api/v1/users")
    assert [u["active_flag"] for u in body["data"]] == [True] * 3 + [False]


def test_rate_limit_then_cloudflare(c):
    c.control("POST", "/config", {"rate_limit": 5})
    for i in range(5):
        status, headers, _ = c.get("/api/v2/persons/1")
        assert status == 200
        assert headers["x-ratelimit-limit"] == "5"
        assert headers["x-ratelimit-remaining"] == str(4 - i)
        assert 0 <= int(headers["x-ratelimit-reset"]) <= 2
    status, headers, body = c.get("/api/v2/persons/1")
    assert status == 429
    assert body == {"success": False, "error": "Request over limit",
                    "errorCode": 429}
    assert headers["x-ratelimit-remaining"] == "0"
    assert int(headers["retry-after"]) >= 1
    for _ in range(5):
        status, _, _ = c.get("/api/v2/persons/1")
        assert status == 429
    status, headers, body = c.get("/api/v2/persons/1")
    assert status == 403
    assert headers["content-type"].startswith("text/html")
    assert b"This error is produced by Cloudflare" in body
    _, stats = c.control("GET", "/stats")
    assert stats["by_status"]["429"] == 6 and stats["by_status"]["403"] == 1
    c.control("POST", "/reset")
    status, _, _ = c.get("/api/v2/persons/1")
    assert status == 200


def test_daily_budget(c):
    c.control("POST", "/config", {"daily_budget": 25})
    for expect in (15, 5):
        status, headers, _ = c.get("/api/v2/persons?limit=1")
        assert status == 200
        assert headers["x-daily-ratelimit-token-remaining"] == str(expect)
    status, headers, body = c.get("/api/v2/persons?limit=1")
    assert status == 429 and body["error"] == "daily request budget exceeded"
    assert headers["x-daily-ratelimit-token-remaining"] == "0"
    assert int(headers["retry-after"]) > 0
    status, _, _ = c.get("/api/v2/persons/1")      # cost 1 still fits
    assert status == 200


def test_no_ratelimit_headers(c):
    c.control("POST", "/config", {"ratelimit_headers": False,
                                  "rate_limit": 20})
    _, headers, _ = c.get("/api/v2/persons/1")
    assert not any(h.startswith("x-ratelimit") for h in headers)


@pytest.mark.parametrize("style", ["seconds", "epoch", "absurd", "negative"])
def test_ratelimit_reset_style(c, style):
    c.control("POST", "/config", {"rate_limit": 5,
                                  "ratelimit_reset_style": style})
    before = time.time()
    _, headers, _ = c.get("/api/v2/persons/1")
    reset = int(headers["x-ratelimit-reset"])
    if style == "seconds":
        assert 0 <= reset <= 2
    elif style == "epoch":
        assert before - 1 <= reset <= time.time() + 3
    elif style == "absurd":
        assert reset == 99999999
    else:
        assert -3 <= reset <= -1


def test_retry_after_styles_and_silent_daily_429(c):
    import email.utils
    c.control("POST", "/config", {"rate_limit": 1, "daily_budget": 0})
    assert c.get("/api/v2/persons/1")[0] == 200
    st, headers, _ = c.get("/api/v2/persons/1")
    assert st == 429 and headers["retry-after"].isdigit()
    c.control("POST", "/reset")
    c.control("POST", "/config", {"retry_after_style": "huge"})
    set_fault(c, "429", retry_after=3)
    st, headers, _ = c.get("/api/v2/persons?limit=1")
    assert st == 429 and headers["retry-after"] == "999999"
    c.control("POST", "/config", {"retry_after_style": "http-date"})
    set_fault(c, "429", retry_after=30)
    st, headers, _ = c.get("/api/v2/persons?limit=1")
    at = email.utils.parsedate_to_datetime(headers["retry-after"]).timestamp()
    assert st == 429 and 28 <= at - time.time() <= 31
    # silent daily: no x-daily-* header anywhere, no "daily" in the body
    c.control("POST", "/config", {"retry_after_style": "seconds",
                                  "rate_limit": 0, "daily_budget": 15,
                                  "daily_429_style": "silent"})
    st, headers, _ = c.get("/api/v2/persons?limit=1")
    assert st == 200 and not any(h.startswith("x-daily") for h in headers)
    st, headers, raw = c.request("GET", "/api/v2/persons?limit=1")
    assert st == 429 and not any(h.startswith("x-daily") for h in headers)
    assert b"daily" not in raw.lower()
    assert int(headers["retry-after"]) > 0
    set_fault(c, "429-daily", retry_after=3939)
    st, headers, raw = c.request("GET", "/api/v2/persons/1")
    assert st == 429 and headers["retry-after"] == "3939"
    assert b"daily" not in raw.lower()
    assert not any(h.startswith("x-daily") for h in headers)
    st, body = c.control("POST", "/config", {"daily_429_style": "loud"})
    assert st == 400


def test_ratelimit_style_flags():
    proc, port = start_server("--persons", "5", "--ratelimit-reset-style",
                              "epoch", "--retry-after-style", "http-date",
                              "--daily-429-style", "silent")
    try:
        status, cfg = Client(port).control("GET", "/config")
        assert status == 200
        assert (cfg["ratelimit_reset_style"], cfg["retry_after_style"],
                cfg["daily_429_style"]) == ("epoch", "http-date", "silent")
    finally:
        stop_server(proc)


def set_fault(c, kind, **kw):
    rule = {"path": "/api/v2/persons", "kind": kind, "count": 1}
    rule.update(kw)
    status, _ = c.control("POST", "/faults", {"rules": [rule]})
    assert status == 200


@pytest.mark.parametrize("kind,status", [
    ("429", 429), ("429-daily", 429), ("500", 500), ("502", 502),
    ("503", 503), ("401", 401), ("success-false", 200)])
def test_fault_json(c, kind, status):
    set_fault(c, kind, retry_after=3)
    st, headers, body = c.get("/api/v2/persons?limit=1")
    assert st == status and body["success"] is False
    if kind.startswith("429"):
        assert headers["retry-after"] == "3"
    st, _, body = c.get("/api/v2/persons?limit=1")
    assert st == 200 and body["success"] is True


def test_fault_html403_and_skip(c):
    set_fault(c, "html403", skip=1, count=2)
    assert c.get("/api/v2/persons?limit=1")[0] == 200
    for _ in range(2):
        st, headers, body = c.get("/api/v2/persons?limit=1")
        assert st == 403 and headers["content-type"].startswith("text/html")
    assert c.get("/api/v2/persons?limit=1")[0] == 200
    _, rules = c.control("GET", "/faults")
    assert rules["rules"][0]["count"] == 0


def test_fault_drop_cut_malformed(c):
    set_fault(c, "drop")
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        c.get("/api/v2/persons?limit=5")
    c.conn = http.client.HTTPConnection("127.0.0.1", c.port, timeout=10)
    set_fault(c, "cut")
    with pytest.raises(http.client.IncompleteRead):
        c.get("/api/v2/persons?limit=5")
    c.conn = http.client.HTTPConnection("127.0.0.1", c.port, timeout=10)
    set_fault(c, "malformed")
    st, headers, raw = c.request("GET", "/api/v2/persons?limit=5")
    assert st == 200 and len(raw) == int(headers["content-length"])
    with pytest.raises(ValueError):
        json.loads(raw)
    assert c.get("/api/v2/persons?limit=1")[0] == 200
    _, stats = c.control("GET", "/stats")
    faults = [r["fault"] for r in stats["requests"]]
    assert faults[:3] == ["drop", "cut", "malformed"]


def test_fault_slow_stall_latency(c):
    for kind in ("slow", "stall"):
        set_fault(c, kind, delay_ms=300)
        t0 = time.time()
        st, _, body = c.get("/api/v2/persons?limit=3")
        assert st == 200 and len(body["data"]) == 3
        assert time.time() - t0 >= 0.29
    c.control("POST", "/config", {"latency_ms": 200})
    t0 = time.time()
    assert c.get("/api/v2/persons/2")[0] == 200
    assert time.time() - t0 >= 0.19


def test_control_update_moves_in_update_time_order(c):
    # walk by update_time, update an already-seen person mid-walk: it moves
    # to the end of the order and so is seen twice (keyset cursor, no snapshot)
    _, _, body = c.get("/api/v2/persons?sort_by=update_time&limit=10")
    first = body["data"][0]
    cursor = body["additional_data"]["next_cursor"]
    status, upd = c.control("POST", "/persons/%d" % first["id"],
                            {"name": "Renamed Person", "job_title": "Boss"})
    assert status == 200
    assert upd["update_time"] > first["update_time"]
    seen = [p["id"] for p in body["data"]]
    while cursor:
        _, _, body = c.get("/api/v2/persons?sort_by=update_time&limit=500"
                           "&cursor=" + cursor)
        seen += [p["id"] for p in body["data"]]
        cursor = body["additional_data"]["next_cursor"]
    assert seen.count(first["id"]) == 2 and seen[-1] == first["id"]
    _, _, body = c.get("/api/v2/persons?ids=%d" % first["id"])
    assert body["data"][0]["name"] == "Renamed Person"
    since = upd["update_time"]
    _, _, body = c.get("/api/v2/persons?updated_since=" + since)
    assert first["id"] in [p["id"] for p in body["data"]]


def test_control_create_and_delete(c):
    status, created = c.control("POST", "/persons",
                                {"name": "New One", "owner_id": 2})
    pid = created["id"]
    assert pid == N + 1 or pid > N
    assert pid in all_live_ids(c, "?owner_id=2")
    c.control("DELETE", "/persons/%d" % pid)
    assert pid not in all_live_ids(c)
    ids, _ = c.walk("limit=500")
    assert pid not in ids
    st, _, body = c.get("/api/v2/persons/%d" % pid)
    assert st == 200 and body["data"]["is_deleted"] is True
    c.control("POST", "/config", {"deleted_get": "404"})
    st, _, body = c.get("/api/v2/persons/%d" % pid)
    assert st == 404 and body["error"] == "Person not found"
    c.control("DELETE", "/persons/%d?permanent=1" % pid)
    c.control("POST", "/config", {"deleted_get": "soft"})
    st, _, _ = c.get("/api/v2/persons/%d" % pid)
    assert st == 404


def test_gzip(c):
    c.control("POST", "/config", {"gzip": True})
    st, headers, raw = c.request("GET", "/api/v2/persons?limit=50",
                                 headers={"Accept-Encoding": "gzip"})
    assert st == 200 and headers["content-encoding"] == "gzip"
    body = json.loads(gzip.decompress(raw))
    assert len(body["data"]) == 50
    st, headers, raw = c.request("GET", "/api/v2/persons?limit=1")
    assert "content-encoding" not in headers
    json.loads(raw)


def test_tricky_and_other_endpoints(c):
    _, _, body = c.get("/api/v2/persons?limit=40")
    by_id = {p["id"]: p for p in body["data"]}
    assert "\x00" in by_id[26]["name"] and "\x1b" in by_id[26]["notes"]
    assert len(by_id[24]["name"]) == 300
    assert len(by_id[25]["name"].encode()) == 900
    assert len(by_id[23]["notes"]) == 3500
    assert by_id[7]["org_id"] is None and by_id[7]["emails"] == []
    assert by_id[14]["last_name"] is None
    assert by_id[29]["name"] == by_id[30]["name"]
    assert list(by_id[1])[:5] == ["id", "name", "first_name", "last_name",
                                  "owner_id"]
    _, _, body = c.get("/api/v1/filters?type=people")
    assert [f["id"] for f in body["data"]] == [1, 2, 3, 4, 5]
    _, _, body = c.get("/api/v2/personFields?limit=500")
    custom = [f for f in body["data"] if f["is_custom_field"]]
    assert len(custom) == 16 and all(len(f["field_code"]) == 40
                                     for f in custom)
    key = custom[0]["field_code"]
    _, _, body = c.get("/api/v2/persons?limit=3&custom_fields=" + key
                       + "&include_fields=notes_count&include_labels=true")
    assert list(body["data"][0]["custom_fields"]) == [key]
    assert "notes_count" in body["data"][0] and "labels" in body["data"][0]
    _, _, body = c.get("/api/v2/organizations?limit=500")
    assert body["data"][0]["name"] == "Acme, Inc.; EMEA"
    assert body["additional_data"]["next_cursor"] is None
    st, _, body = c.get("/api/v2/organizations/99")
    assert st == 404
    _, stats = c.control("GET", "/stats")
    assert stats["by_route"]["GET /api/v2/organizations/{id}"] == 1


def test_keepalive_many_requests(c):
    for _ in range(50):
        assert c.get("/api/v2/persons/3")[0] == 200


def test_sigterm_exits_cleanly():
    proc, port = start_server("--persons", "5", "--no-tricky",
                              "--no-contact-sync")
    try:
        cl = Client(port)
        _, _, body = cl.get("/api/v2/persons")
        assert len(body["data"]) == 5 and "notes" not in body["data"][0]
        cl.conn.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(5) == 0
        proc.stderr.close()


def test_time_window_and_option_labels(c):
    _, _, body = c.get("/api/v2/persons/10")
    ut = body["data"]["update_time"]
    _, _, body = c.get("/api/v2/persons?ids=10&updated_since=" + ut)
    assert [p["id"] for p in body["data"]] == [10]          # inclusive
    _, _, body = c.get("/api/v2/persons?ids=10&updated_until=" + ut)
    assert body["data"] == []                               # exclusive
    _, _, body = c.get("/api/v2/persons?ids=10&updated_since="
                       + ut.replace("Z", "%2B00:00"))
    assert [p["id"] for p in body["data"]] == [10]
    _, _, fields = c.get("/api/v2/personFields")
    enum = [f for f in fields["data"] if f["field_type"] == "enum"][0]
    key = enum["field_code"]
    c.control("POST", "/persons/11", {"custom_fields": {key: 12}})
    _, _, body = c.get("/api/v2/persons/11?include_option_labels=true"
                       "&custom_fields=" + key)
    assert body["data"]["custom_fields"] == {
        key: {"id": 12, "label": "Outbound"}}
    _, _, body = c.get("/api/v2/persons/11")
    assert body["data"]["custom_fields"][key] == 12
    assert len(body["data"]["custom_fields"]) == 16
    # recent persons exist for "recent" views (filter 3 = last 30 days)
    ids, _ = c.walk("limit=500&filter_id=3")
    assert 53 in ids


def test_orgs_and_v1_fields(c):
    ids = []
    cursor = None
    while True:
        q = "/api/v2/organizations?limit=3" + ("&cursor=" + cursor
                                               if cursor else "")
        st, _, body = c.get(q)
        assert st == 200
        ids += [o["id"] for o in body["data"]]
        cursor = body["additional_data"]["next_cursor"]
        if not cursor:
            break
    assert ids == list(range(1, 11))
    assert c.get("/api/v2/organizations?org_id=1")[0] == 400
    assert c.get("/api/v2/organizations?owner_id=1")[0] == 200
    st, _, body = c.get("/api/v2/organizations/1")
    assert st == 200 and body["data"]["name"] == "Acme, Inc.; EMEA"
    st, _, body = c.get("/v1/personFields?start=0&limit=5")
    assert st == 200 and len(body["data"]) == 5
    assert body["additional_data"]["pagination"]["more_items_in_collection"]
    st, _, body = c.get("/api/v1/filters?type=deals")
    assert st == 200 and body["data"] == []


# ---------------------------------------------------------------------------
# person search (GET /api/v2/persons/search)

SEARCH = "/api/v2/persons/search?"
ITEM_KEYS = ["id", "type", "name", "phones", "emails", "visible_to", "owner",
             "organization", "custom_fields", "notes"]
NICKNAME = None     # the Nickname custom field's key, looked up once


@pytest.fixture
def sc(c):
    """The client with the search limit at its default (10 per 2 s)."""
    c.control("POST", "/config", {"search_rate_limit": 10})
    return c


def q(**params):
    from urllib.parse import urlencode
    return SEARCH + urlencode(params)


def search_ids(c, **params):
    """Every id the API finds (all pages, in order) and the last body."""
    ids, cursor = [], None
    while True:
        p = dict(params, **({"cursor": cursor} if cursor else {}))
        status, _, body = c.get(q(**p))
        assert status == 200, body
        ids += [it["item"]["id"] for it in body["data"]["items"]]
        cursor = body["additional_data"]["next_cursor"]
        if cursor is None:
            return ids


def control_search(c, **params):
    from urllib.parse import urlencode
    status, body = c.control("GET", "/search?" + urlencode(params))
    assert status == 200, body
    return body["data"]


def persons_matching(c, term, fields=("name", "email", "phone", "notes",
                                      "custom_fields")):
    """Ids whose searched fields contain term, case-insensitively: written
    from the spec, independently of the server's search code."""
    _, body = c.control("GET", "/persons")
    t = term.casefold()
    searchable = searchable_custom_keys(c)
    out = set()
    for p in body["data"]:
        texts = []
        if "name" in fields:
            texts.append(p.get("name") or "")
        if "email" in fields:
            texts += [e["value"] for e in p.get("emails") or ()]
        if "phone" in fields:
            texts += [e["value"] for e in p.get("phones") or ()]
        if "notes" in fields:
            texts.append(p.get("notes") or "")
        if "custom_fields" in fields:
            cf = p.get("custom_fields") or {}
            for code in searchable:
                v = cf.get(code)
                if isinstance(v, dict):        # monetary, address: their value
                    v = v.get("value")
                if v is not None and not isinstance(v, (bool, list, dict)):
                    texts.append(str(v))
        if any(t in x.casefold() for x in texts):
            out.add(p["id"])
    return out


# The custom field types the spec lists as searchable.
SEARCHABLE_TYPES = {"address", "varchar", "text", "varchar_auto", "double",
                    "monetary", "phone"}


def searchable_custom_keys(c):
    _, _, body = c.get("/api/v2/personFields?limit=500")
    return [f["field_code"] for f in body["data"]
            if f.get("is_custom_field") and f.get("field_type") in SEARCHABLE_TYPES]


def nickname_key(c):
    global NICKNAME
    if NICKNAME is None:
        _, _, body = c.get("/api/v2/personFields?limit=500")
        NICKNAME = next(f["field_code"] for f in body["data"]
                        if f["field_name"] == "Nickname")
    return NICKNAME


def test_search_shape_and_results(sc):
    status, headers, body = sc.get(q(term="smith", limit=500))
    assert status == 200 and body["success"] is True
    assert set(body) == {"success", "data", "additional_data"}
    assert body["additional_data"] == {"next_cursor": None}
    items = body["data"]["items"]
    ids = [it["item"]["id"] for it in items]
    assert set(ids) == persons_matching(sc, "smith") and len(ids) == len(set(ids))
    assert {29, 30} <= set(ids)                         # the two John Smiths
    scores = [it["result_score"] for it in items]
    assert scores == sorted(scores, reverse=True)
    assert all(isinstance(s, float) and 0 < s <= 1 for s in scores)
    _, orgs = sc.control("GET", "/organizations")
    org_by_id = {o["id"]: o for o in orgs["data"]}
    for it in items:
        item = it["item"]
        assert list(item) == ITEM_KEYS
        _, p = sc.control("GET", "/persons/%d" % item["id"])
        assert item["type"] == "person" and item["name"] == p["name"]
        assert item["emails"] == [e["value"] for e in p["emails"]]
        assert item["phones"] == [e["value"] for e in p["phones"]]
        assert item["owner"] == {"id": p["owner_id"]}
        assert isinstance(item["visible_to"], int)
        if p["org_id"] is None:
            assert item["organization"] is None
        else:
            o = org_by_id[p["org_id"]]
            assert item["organization"] == {
                "id": o["id"], "name": o["name"],
                "address": (o["address"] or {}).get("value")}
    assert headers["content-type"] == "application/json"


def test_search_is_case_insensitive_and_fields_restrict(sc):
    for fields in (["name"], ["email"], ["phone"], ["notes"],
                   ["custom_fields"], ["name", "email"]):
        got = search_ids(sc, term="SmItH", fields=",".join(fields))
        assert set(got) == persons_matching(sc, "smith", fields), fields
    assert set(search_ids(sc, term="SMITH")) == set(search_ids(sc, term="smith"))
    assert search_ids(sc, term="smith", fields="phone") == []


def test_search_ranks_exact_then_word_start_then_inside(sc):
    created = sc.control("POST", "/persons", {"name": "Qwertz"})[1]["id"]
    word = sc.control("POST", "/persons", {"name": "Anna Qwertzer"})[1]["id"]
    inside = sc.control("POST", "/persons", {"name": "Xqwertzy"})[1]["id"]
    try:
        _, _, body = sc.get(q(term="qwertz", fields="name"))
        got = [(it["item"]["id"], it["result_score"])
               for it in body["data"]["items"]]
        assert got == [(created, 1.0), (word, 0.75), (inside, 0.5)]
    finally:
        for i in (created, word, inside):
            sc.control("DELETE", "/persons/%d" % i)
    assert search_ids(sc, term="qwertz") == []          # deleted: not found


def test_search_exact_match(sc):
    assert set(search_ids(sc, term="JOHN SMITH", exact_match="true")) == {29, 30}
    assert search_ids(sc, term="john smit", exact_match="true") == []
    assert search_ids(sc, term=".", exact_match="true") == [31]  # 1 char ok
    email = "john.smith@example.com"
    assert search_ids(sc, term=email.upper(), exact_match="true",
                      fields="email") == [29]


@pytest.mark.parametrize("query", [
    "", "term=a", "term=%20a%20", "term=ab&bogus=1", "term=ab&fields=title",
    "term=ab&fields=name,", "term=ab&limit=0", "term=ab&limit=501",
    "term=ab&cursor=xyz", "term=ab&exact_match=maybe",
    "term=ab&organization_id=x", "term=ab&include_fields=person.owner",
    "term=&exact_match=true"])
def test_search_bad_parameters_400(sc, query):
    status, _, body = sc.get(SEARCH + query)
    assert status == 400, query
    assert body["success"] is False
    assert body["error"].startswith("ERR_SCHEMA_VALIDATION_FAILED")
    assert set(body) == {"success", "error", "error_info", "data",
                         "additional_data"}


def test_search_cursor_pages_cover_every_result_once(sc):
    everything = control_search(sc, term="an")
    assert len(everything) > 20
    pages, cursor, ids = 0, None, []
    while True:
        params = {"term": "an", "limit": 7}
        if cursor:
            params["cursor"] = cursor
        _, _, body = sc.get(q(**params))
        assert len(body["data"]["items"]) <= 7
        ids += [it["item"]["id"] for it in body["data"]["items"]]
        pages += 1
        cursor = body["additional_data"]["next_cursor"]
        if cursor is None:
            break
        sc.control("POST", "/reset")        # keep under the search limit
    assert ids == everything
    assert pages == (len(everything) + 6) // 7


def test_search_organization_filter(sc):
    got = search_ids(sc, term="an", organization_id=1)
    _, body = sc.control("GET", "/persons?org_id=1")
    in_org = {p["id"] for p in body["data"]}
    assert got and set(got) == persons_matching(sc, "an") & in_org


def test_search_notes_custom_fields_and_phone_digits(sc):
    _, body = sc.control("GET", "/persons")
    nick = nickname_key(sc)
    noted = next(p for p in body["data"] if (p.get("notes") or "")
                 .startswith("Met ") and "fair" in p["notes"])
    _, _, res = sc.get(q(term="FAIR", fields="notes", limit=500))
    hit = next(it["item"] for it in res["data"]["items"]
               if it["item"]["id"] == noted["id"])
    assert hit["notes"] == [noted["notes"]] and hit["custom_fields"] == []
    nicked = next(p for p in body["data"]
                  if p["custom_fields"].get(nick) == "The Boss")
    _, _, res = sc.get(q(term="the boss", fields="custom_fields", limit=500))
    hit = next(it["item"] for it in res["data"]["items"]
               if it["item"]["id"] == nicked["id"])
    assert hit["custom_fields"] == ["The Boss"] and hit["notes"] == []
    phoned = next(p for p in body["data"] if p["phones"]
                  and p["phones"][0]["value"].startswith("+1 (555) "))
    digits = "".join(ch for ch in phoned["phones"][0]["value"] if ch.isdigit())
    assert phoned["id"] in search_ids(sc, term=digits[-7:], fields="phone")


def test_search_picture_include_field(sc):
    _, _, body = sc.get(q(term="smith", include_fields="person.picture"))
    for it in body["data"]["items"]:
        _, p = sc.control("GET", "/persons/%d" % it["item"]["id"])
        want = None if p["picture_id"] is None else {"id": p["picture_id"]}
        assert it["item"]["picture"] == want


def test_search_costs_20_tokens(sc):
    sc.control("POST", "/config", {"daily_budget": 50})
    for expect in (30, 10):
        status, headers, _ = sc.get(q(term="smith"))
        assert status == 200
        assert headers["x-daily-ratelimit-token-remaining"] == str(expect)
    status, _, body = sc.get(q(term="smith"))
    assert status == 429 and body["error"] == "daily request budget exceeded"
    _, stats = sc.control("GET", "/stats")
    assert stats["by_route"] == {"GET /api/v2/persons/search": 3}


def test_search_burst_limit_is_10_per_2s_and_separate(sc):
    sc.control("POST", "/config", {"rate_limit": 20})
    for i in range(10):
        status, headers, _ = sc.get(q(term="smith"))
        assert status == 200
        assert headers["x-ratelimit-limit"] == "10"       # the search window
        assert headers["x-ratelimit-remaining"] == str(9 - i)
        assert 0 <= int(headers["x-ratelimit-reset"]) <= 2
    for _ in range(8):                  # more than the abuse strikes (5)
        status, headers, body = sc.get(q(term="smith"))
        assert status == 429
        assert body == {"success": False, "error": "Request over limit",
                        "errorCode": 429}
        assert headers["x-ratelimit-remaining"] == "0"
        assert headers["x-ratelimit-limit"] == "10"
        assert 1 <= int(headers["retry-after"]) <= 2
    # other requests are not held back, and the search 429s neither entered
    # the general window (10 searches + this one) nor fed the abuse block
    status, headers, _ = sc.get("/api/v2/persons/1")
    assert status == 200
    assert headers["x-ratelimit-limit"] == "20"
    assert headers["x-ratelimit-remaining"] == "9"
    time.sleep(2.1)
    status, headers, _ = sc.get(q(term="smith"))
    assert status == 200 and headers["x-ratelimit-remaining"] == "9"


def test_search_counts_in_the_general_window(sc):
    sc.control("POST", "/config", {"rate_limit": 3})
    for _ in range(3):
        assert sc.get(q(term="smith"))[0] == 200
    status, headers, _ = sc.get(q(term="smith"))
    assert status == 429 and headers["x-ratelimit-limit"] == "3"
    status, _, _ = sc.get("/api/v2/persons/1")
    assert status == 429
    # the search the general window refused took no search slot either
    sc.control("POST", "/config", {"rate_limit": 0})
    status, headers, _ = sc.get(q(term="smith"))
    assert status == 200 and headers["x-ratelimit-remaining"] == "6"


def test_search_rate_limit_switch(sc, tmp_path):
    sc.control("POST", "/config", {"search_rate_limit": 0})
    for _ in range(12):
        status, headers, _ = sc.get(q(term="smith"))
        assert status == 200
        assert not any(h.startswith("x-ratelimit") for h in headers)
    status, body = sc.control("POST", "/config", {"search_rate_limit": "x"})
    assert status == 400
    proc, port = start_server("--persons", "40", "--search-rate-limit", "2")
    try:
        other = Client(port)
        codes = [other.get(q(term="smith"))[0] for _ in range(3)]
        assert codes == [200, 200, 429]
        other.conn.close()
    finally:
        stop_server(proc)


def test_search_headers_switch_off(sc):
    # a limit of 2 so that the third search falls in the same 2 s window
    # even on a loaded machine
    sc.control("POST", "/config", {"ratelimit_headers": False, "search_rate_limit": 2})
    status, headers, _ = sc.get(q(term="smith"))
    assert status == 200
    assert not any(h.startswith("x-ratelimit") for h in headers)
    sc.get(q(term="smith"))
    status, headers, _ = sc.get(q(term="smith"))
    assert status == 429 and "retry-after" in headers
    assert not any(h.startswith("x-ratelimit") for h in headers)


def test_control_search_matches_the_api_and_is_free(sc):
    sc.control("POST", "/config", {"daily_budget": 1})
    for params in ({"term": "smith"}, {"term": "an", "fields": "name"},
                   {"term": "john smith", "exact_match": "true"},
                   {"term": "an", "organization_id": "2"}):
        assert control_search(sc, **params)
    sc.control("POST", "/config", {"daily_budget": 0})
    for params in ({"term": "smith"}, {"term": "an", "fields": "name"},
                   {"term": "john smith", "exact_match": "true"},
                   {"term": "an", "organization_id": "2"}):
        assert control_search(sc, **params) == search_ids(
            sc, limit=500, **params)
        sc.control("POST", "/reset")
    _, stats = sc.control("GET", "/stats")
    assert stats["total"] == 0
    status, body = sc.control("GET", "/search?term=a")
    assert status == 400 and "term" in body["error"]


def test_search_unauthenticated_is_401(sc):
    status, headers, body = sc.get(q(term="smith"), token="wrong")
    assert status == 401 and headers.get("x-401-by-gw") == "true"


# variants the spec leaves open (switches: flag and /_control/config key)

CUSTOM_TYPES = {"varchar", "enum", "set", "monetary", "date", "varchar_auto",
                "text", "double", "phone", "daterange", "time", "timerange",
                "user", "org", "people", "address"}


def field_of_type(c, ftype):
    _, _, body = c.get("/api/v2/personFields?limit=500")
    return next(f for f in body["data"]
                if f["is_custom_field"] and f["field_type"] == ftype)


def test_custom_fields_of_every_type(c):
    _, _, body = c.get("/api/v2/personFields?limit=500")
    custom = [f for f in body["data"] if f["is_custom_field"]]
    assert {f["field_type"] for f in custom} == CUSTOM_TYPES
    _, _, body = c.get("/api/v2/persons/28")
    cf = body["data"]["custom_fields"]
    assert all(cf[f["field_code"]] is not None for f in custom)
    assert cf[field_of_type(c, "monetary")["field_code"]] == {
        "value": 8000, "currency": "EUR"}
    assert set(cf[field_of_type(c, "address")["field_code"]]) >= {
        "value", "formatted_address", "route", "postal_code"}
    # generated persons use every type too, mostly null
    ids, _ = c.walk("limit=500")
    seen = set()
    for lo in range(1, 400, 100):
        _, _, page = c.get("/api/v2/persons?limit=100&ids="
                           + ",".join(str(i) for i in range(lo, lo + 100)))
        for p in page["data"]:
            seen |= {f["field_type"] for f in custom
                     if p["custom_fields"][f["field_code"]] is not None}
    assert seen == CUSTOM_TYPES


def test_time_field_style_switch(c):
    t, tr = field_of_type(c, "time"), field_of_type(c, "timerange")
    _, _, body = c.get("/api/v2/persons/28")
    cf = body["data"]["custom_fields"]
    assert cf[t["field_code"]] == {"value": "09:30:00",
                                    "timezone_name": "Europe/Berlin"}
    assert cf[tr["field_code"]]["timezone_name"] == "Europe/Tallinn"
    c.control("POST", "/config", {"time_field_style": "string"})
    _, _, body = c.get("/api/v2/persons/28")
    cf = body["data"]["custom_fields"]
    assert cf[t["field_code"]] == "09:30:00"
    assert cf[tr["field_code"]] == {"value": "09:00:00", "until": "17:30:00"}
    assert c.control("POST", "/config",
                     {"time_field_style": "bogus"})[0] == 400


def test_label_option_ids_switch(c):
    def label_options():
        _, _, body = c.get("/api/v2/personFields?limit=500")
        return next(f for f in body["data"]
                    if f["field_code"] == "label_ids")["options"]

    assert [o["id"] for o in label_options()] == [1, 2, 3, 4, 5]
    c.control("POST", "/config", {"label_option_ids": "string"})
    assert [o["id"] for o in label_options()] == ["1", "2", "3", "4", "5"]
    _, _, body = c.get("/api/v2/persons?ids=28,29,30,31,32,33,34,35,36,37,"
                       "38,39,40,41,42,43,44,45,46,47,48,49,50")
    kinds = set()
    for p in body["data"]:
        for x in p["label_ids"]:
            assert x == (str(x) if p["id"] % 2 == 0 else int(x))
            kinds.add(type(x))
    assert kinds == {str, int}          # both shapes in one answer
    c.control("POST", "/config", {"label_option_ids": "key"})
    assert [o["id"] for o in label_options()] == [
        "customer", "vip", "hot_lead", "cold_lost", "partner_a"]
    _, _, body = c.get("/api/v2/persons/28?include_labels=true")
    assert body["data"]["label_ids"] == [
        "customer", "vip", "hot_lead", "cold_lost", "partner_a"]
    assert body["data"]["labels"][1] == {"id": "vip", "label": "VIP"}


def test_filter_time_bounds_switch(c):
    since = "2026-01-01T00:00:00Z"
    ids, _ = c.walk("limit=500&filter_id=1&updated_since=" + since)
    assert 0 < len(ids) < N
    c.control("POST", "/config", {"filter_time_bounds": "ignored"})
    ids2, _ = c.walk("limit=500&filter_id=1&updated_since=" + since)
    assert len(ids2) == N               # the whole filter
    ids3, _ = c.walk("limit=500&updated_since=" + since)
    assert ids3 == ids                  # without filter_id they still apply


def test_deleted_in_answers_switch(c):
    c.control("DELETE", "/persons/40")
    _, _, body = c.get("/api/v2/persons/40")
    since = body["data"]["update_time"]
    queries = ("ids=39,40,41", "updated_since=" + since,
               "filter_id=1&updated_since=" + since)
    for q in queries:
        _, _, body = c.get("/api/v2/persons?" + q)
        assert 40 not in [p["id"] for p in body["data"]], q
    c.control("POST", "/config", {"deleted_in_answers": "include"})
    for q in queries:
        _, _, body = c.get("/api/v2/persons?" + q)
        got = {p["id"]: p for p in body["data"]}
        assert got[40]["is_deleted"] is True, q
    ids, _ = c.walk("limit=500")        # plain lists never carry them
    assert 40 not in ids
    c.control("POST", "/persons/40", {"is_deleted": False})


def test_invalid_utf8_person_switch(c):
    st, _, raw = c.request("GET", "/api/v2/persons/12")
    raw.decode("utf-8")
    c.control("POST", "/config", {"invalid_utf8_person": 12})
    for path in ("/api/v2/persons/12", "/api/v2/persons?ids=11,12,13"):
        st, _, raw = c.request("GET", path)
        assert st == 200 and b"Bad \xff Byte \xc3( Person" in raw
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            raise AssertionError("the answer is valid UTF-8")
    _, _, raw = c.request("GET", "/api/v2/persons/11")
    raw.decode("utf-8")                 # only that person
    # the control interface shows the bytes as surrogate escapes
    _, body = c.control("GET", "/persons?ids=12")
    assert body["data"][0]["name"] == "Bad \udcff Byte \udcc3( Person"


def test_variant_flags_set_the_config():
    proc, port = start_server("--persons", "5", "--label-option-ids", "key",
                              "--filter-time-bounds", "ignored",
                              "--deleted-in-answers", "include",
                              "--time-field-style", "string",
                              "--invalid-utf8-person", "3")
    try:
        cl = Client(port)
        _, cfg = cl.control("GET", "/config")
        assert {k: cfg[k] for k in (
            "label_option_ids", "filter_time_bounds", "deleted_in_answers",
            "time_field_style", "invalid_utf8_person")} == {
            "label_option_ids": "key", "filter_time_bounds": "ignored",
            "deleted_in_answers": "include", "time_field_style": "string",
            "invalid_utf8_person": 3}
        cl.conn.close()
    finally:
        stop_server(proc)


# --------------------------------------------------------------------------
# person writes: POST /persons, PATCH and DELETE /persons/{id}

def write(c, method, path, body=None, raw=None):
    h = {}
    if raw is not None:
        c.conn.request(method, path, body=raw, headers={
            "x-api-token": TOKEN, "Content-Type": "application/json"})
        resp = c.conn.getresponse()
        return resp.status, json.loads(resp.read().decode())
    status, _, out = c.request(method, path, body=body, headers=h)
    return status, json.loads(out.decode())


def last_request(c, method):
    _, stats = c.control("GET", "/stats")
    return [r for r in stats["requests"] if r["method"] == method][-1]


def test_patch_sets_only_the_fields_given(c):
    _, _, before = c.get("/api/v2/persons/990")
    before = before["data"]
    nick, budget = CUSTOM_KEYS_OF(c, "Nickname", "Budget")
    body = {"phones": [{"value": "+1 555 0100", "primary": True,
                        "label": "mobile"}],
            "custom_fields": {nick: "Patched"}, "name": "Zed Q Patched"}
    status, out = write(c, "PATCH", "/api/v2/persons/990", body)
    assert status == 200 and out["success"] is True
    p = out["data"]
    assert p["phones"] == body["phones"]
    assert p["custom_fields"][nick] == "Patched"
    assert p["custom_fields"][budget] == before["custom_fields"][budget]
    assert p["emails"] == before["emails"]
    assert (p["first_name"], p["last_name"]) == ("Zed", "Q Patched")
    assert p["update_time"] > before["update_time"]
    _, _, again = c.get("/api/v2/persons/990")
    assert again["data"] == p           # the answer is the person as served
    rec = last_request(c, "PATCH")
    assert rec["route"] == "/api/v2/persons/{id}" and rec["body"] == body


def CUSTOM_KEYS_OF(c, *names):
    _, _, body = c.get("/api/v2/personFields?limit=500")
    by_name = {f["field_name"]: f["field_code"] for f in body["data"]}
    return [by_name[n] for n in names]


def test_post_creates_a_person_and_create_status_switch(c):
    body = {"name": "New Person", "owner_id": 2, "org_id": 3,
            "emails": [{"value": "new@example.com", "primary": True,
                        "label": "work"}]}
    status, out = write(c, "POST", "/api/v2/persons", body)
    assert status == 200
    p = out["data"]
    assert p["id"] > N and p["name"] == "New Person"
    assert (p["owner_id"], p["org_id"]) == (2, 3)
    assert p["add_time"] == p["update_time"]
    assert all(v is None for v in p["custom_fields"].values())
    assert len(p["custom_fields"]) == 16
    _, _, got = c.get("/api/v2/persons/%d" % p["id"])
    assert got["data"] == p
    ids, _ = c.walk("limit=500&owner_id=2")
    assert p["id"] in ids
    assert last_request(c, "POST")["body"] == body
    c.control("POST", "/config", {"create_status": "201"})
    status, out = write(c, "POST", "/api/v2/persons", {"name": "Second"})
    assert status == 201 and out["data"]["owner_id"] == 1
    assert c.control("POST", "/config", {"create_status": "202"})[0] == 400


def test_delete_soft_deletes_once(c):
    created = write(c, "POST", "/api/v2/persons", {"name": "Doomed"})[1]
    pid = created["data"]["id"]
    status, out = write(c, "DELETE", "/api/v2/persons/%d" % pid)
    assert (status, out) == (200, {"success": True, "data": {"id": pid}})
    _, _, got = c.get("/api/v2/persons/%d" % pid)
    assert got["data"]["is_deleted"] is True
    assert write(c, "DELETE", "/api/v2/persons/%d" % pid)[0] == 404
    assert write(c, "PATCH", "/api/v2/persons/%d" % pid, {"name": "x"})[0] == 404


def test_writes_cost_tokens(c):
    c.control("POST", "/config", {"daily_budget": 1000})
    pid = write(c, "POST", "/api/v2/persons", {"name": "Costly"})[1]["data"]["id"]
    write(c, "PATCH", "/api/v2/persons/%d" % pid, {"name": "Costlier"})
    st, h, _ = c.request("DELETE", "/api/v2/persons/%d" % pid)
    assert st == 200
    assert int(h["x-daily-ratelimit-token-remaining"]) == 1000 - 5 - 5 - 3


@pytest.mark.parametrize("body,fragment", [
    ({"nickname": "x"}, "'nickname' is not a property"),
    ({"id": 5}, "'id' is not a property"),
    ({"add_time": "2020-01-01T00:00:00Z"}, "'add_time' is not a property"),
    ({"name": ""}, "name must be a non-empty string"),
    ({"visible_to": 2}, "visible_to"),
    ({"owner_id": 99}, "owner_id"),
    ({"org_id": 9999}, "org_id"),
    ({"label_ids": [77]}, "label_ids"),
    ({"emails": [{"value": 5}]}, "emails.value"),
    ({"emails": [{"value": "a@b", "kind": "x"}]}, "emails items"),
    ({"birthday": "2020-02-30"}, "birthday"),
    ({"postal_address": {"street": "x"}}, "postal_address"),
    ({"marketing_status": "maybe"}, "marketing_status"),
    ({"custom_fields": {"0" * 40: 1}}, "does not exist"),
    ("not an object", "JSON object"),
])
def test_patch_validation_errors(c, body, fragment):
    _, _, before = c.get("/api/v2/persons/991")
    status, out = write(c, "PATCH", "/api/v2/persons/991", body)
    assert status == 400, out
    assert out["success"] is False and fragment in out["error"]
    assert "ERR_SCHEMA_VALIDATION_FAILED" in out["error"]
    _, _, after = c.get("/api/v2/persons/991")
    assert after == before              # nothing applied


def test_write_validation_of_sets_json_and_queries(c):
    interests, = CUSTOM_KEYS_OF(c, "Interests")
    status, out = write(c, "PATCH", "/api/v2/persons/991",
                        {"custom_fields": {interests: []}})
    assert status == 400 and "use null" in out["error"]
    assert write(c, "PATCH", "/api/v2/persons/991",
                 {"custom_fields": {interests: None}})[0] == 200
    assert write(c, "PATCH", "/api/v2/persons/991", raw=b"{broken")[0] == 400
    assert write(c, "POST", "/api/v2/persons", {"owner_id": 1})[0] == 400
    assert write(c, "PATCH", "/api/v2/persons/991?x=1", {"name": "a"})[0] == 400
    assert write(c, "PATCH", "/api/v2/persons/999999", {"name": "a"})[0] == 404
    assert write(c, "PUT", "/api/v2/persons/991", {"name": "a"})[0] == 404


def test_label_ids_written_back_as_served(c):
    for mode, ids, want in (("string", ["2", 3], [2, 3]),
                            ("key", ["vip", "customer"], [2, 1])):
        c.control("POST", "/config", {"label_option_ids": mode})
        status, _ = write(c, "PATCH", "/api/v2/persons/992",
                          {"label_ids": ids})
        assert status == 200, mode
        _, raw = c.control("GET", "/persons/992")
        assert raw["label_ids"] == want


def test_contact_sync_fields_need_contact_sync():
    proc, port = start_server("--persons", "5", "--no-contact-sync")
    try:
        cl = Client(port)
        st, _, raw = cl.request("PATCH", "/api/v2/persons/2",
                                body={"job_title": "Boss"})
        assert st == 403 and b"contact sync" in raw
        st, _, raw = cl.request("PATCH", "/api/v2/persons/2",
                                body={"name": "Still Fine"})
        assert st == 200
        cl.conn.close()
    finally:
        stop_server(proc)


def test_fault_rule_method_and_apply(c):
    c.control("POST", "/faults", {"rules": [
        {"path": "/api/v2/persons", "method": "PATCH", "kind": "502",
         "apply": True}]})
    _, _, before = c.get("/api/v2/persons/993")   # GET: not matched
    status, _ = write(c, "PATCH", "/api/v2/persons/993", {"name": "Applied"})
    assert status == 502
    _, raw = c.control("GET", "/persons/993")
    assert raw["name"] == "Applied"     # applied although the answer failed
    c.control("POST", "/faults", {"rules": [
        {"path": "/api/v2/persons", "method": "PATCH", "kind": "503"}]})
    assert write(c, "PATCH", "/api/v2/persons/993", {"name": "Nope"})[0] == 503
    _, raw = c.control("GET", "/persons/993")
    assert raw["name"] == "Applied"     # a plain fault applies nothing
    assert c.control("POST", "/faults", {"rules": [
        {"path": "/", "kind": "500", "method": "PUT"}]})[0] == 400


def test_create_status_flag_sets_the_config():
    proc, port = start_server("--persons", "5", "--create-status", "201")
    try:
        cl = Client(port)
        assert cl.control("GET", "/config")[1]["create_status"] == "201"
        st, _, _ = cl.request("POST", "/api/v2/persons", body={"name": "A"})
        assert st == 201
        cl.conn.close()
    finally:
        stop_server(proc)
