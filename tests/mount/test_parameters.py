"""Mount tests for issue 6: every parameter of the persons endpoint in use.

/by-filter, name links in the group roots, /by-id with ids= batches, /recent,
incremental refresh (updated_since merged locally, full walks for deletions,
SIGHUP), custom_fields / include_fields, custom field values and label names
in vCards, companies without contact sync, and /.pipedrivefs/status against
the fake server's own counters.

Run: /usr/bin/python3 -m pytest tests/mount/test_parameters.py -q
Every comparison is exact against the fake server's data and counters.
"""

import concurrent.futures
import datetime
import errno
import json
import os
import re
import signal
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from fields import company_names, expected_field_text
from naming import expected_names, ordered, safe_base

REPO = Path(__file__).resolve().parents[2]

SMALL = dict(persons=120, owners=3, orgs=10, rate_limit=0, quiet=True)
PERSONS = "GET /api/v2/persons"
RFC3339_WHOLE_SECOND = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


# --------------------------------------------------------------------------
# expectations computed independently of the daemon

def link_name(name):
    """The /by-owner|/by-org|/by-filter link name for a name, or None."""
    if not isinstance(name, str):
        return None
    text = name.strip(" ").lstrip(".")
    text = "".join("_" if (c == "/" or ord(c) < 0x20 or ord(c) == 0x7F)
                   else c for c in text)
    if text == "" or re.fullmatch(r"[0-9]+", text):
        return None
    return text


def expected_links(items):
    """{link name: id} for unique names only."""
    by_name = {}
    for it in items:
        n = link_name(it.get("name"))
        if n is not None:
            by_name.setdefault(n, []).append(it["id"])
    return {n: ids[0] for n, ids in by_name.items() if len(ids) == 1}


def listdir_b(path):
    """A directory's names as bytes, in readdir order."""
    return os.listdir(os.fsencode(path))


def id_of(fname):
    m = re.search(rb" \((\d+)\)\.(json|vcf)$", fname)
    assert m, fname
    return int(m.group(1))


def parse_time(text):
    dt = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(dt.timestamp())


def rfc3339(t):
    return datetime.datetime.fromtimestamp(
        int(t), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def api_get(server, path, query=None):
    """GET a real API route of the fake with the token (counted by the fake)."""
    url = server.url + path
    if query:
        url += "?" + urllib.parse.urlencode(query)
    req = urllib.request.Request(url, headers={"x-api-token": server.token})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def persons_requests(server):
    return server.requests(PERSONS)


def read_json(path):
    with open(path, "rb") as f:
        return json.loads(f.read().decode("utf-8", "surrogateescape"))


def wait_until(pred, timeout=5.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


# --------------------------------------------------------------------------
# vCard parsing (structural: CRLF, folding, name:value lines)

def vcard_lines(data):
    text = data.decode("utf-8")
    assert text.endswith("\r\n"), "vCard does not end with CRLF"
    raw = text[:-2].split("\r\n")
    lines = []
    for line in raw:
        if line[:1] in (" ", "\t"):
            assert lines, "continuation line first"
            lines[-1] += line[1:]
        else:
            lines.append(line)
    return lines


PROP_RE = re.compile(r"^(?:([A-Za-z0-9-]+)\.)?([A-Za-z0-9-]+)((?:;[^:]*)?):(.*)$",
                     re.S)


def vcard_props(data):
    """[(group, NAME, params, value)] after checking the card's structure."""
    lines = vcard_lines(data)
    assert lines[0] == "BEGIN:VCARD", lines[:2]
    assert lines[-1] == "END:VCARD", lines[-2:]
    assert lines[1] in ("VERSION:3.0", "VERSION:4.0"), lines[:3]
    props = []
    for line in lines:
        m = PROP_RE.match(line)
        assert m, f"not a content line: {line!r}"
        props.append((m.group(1), m.group(2).upper(), m.group(3), m.group(4)))
    return props


def vunescape(value):
    out, i = [], 0
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value):
            n = value[i + 1]
            out.append("\n" if n in "nN" else n)
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def vsplit(value, sep=","):
    """Split on unescaped separators, then unescape each part."""
    parts, cur, i = [], "", 0
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value):
            cur += value[i:i + 2]
            i += 2
            continue
        if c == sep:
            parts.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    parts.append(cur)
    return [vunescape(p) for p in parts]


def custom_pairs(props):
    """{label: value} from itemN.X-PIPEDRIVE-FIELD + itemN.X-ABLabel."""
    values, labels = {}, {}
    for group, name, _params, value in props:
        if group and name == "X-PIPEDRIVE-FIELD":
            assert group not in values, f"group {group} used twice"
            values[group] = vunescape(value)
        elif group and name == "X-ABLABEL":
            labels[group] = vunescape(value)
    out = {}
    for group, value in values.items():
        assert group in labels, f"{group}.X-PIPEDRIVE-FIELD without X-ABLabel"
        assert labels[group] not in out, f"field {labels[group]} twice"
        out[labels[group]] = value
    return out


# --------------------------------------------------------------------------
# /by-filter and the name links

def test_by_filter_lists_filters_links_and_members(fake_server, mount_fs):
    server = fake_server(**SMALL)
    mount = mount_fs(server)
    filters = api_get(server, "/api/v1/filters", {"type": "people"})["data"]
    assert filters, "the fake serves person filters"
    server.reset()

    root = mount.path / "by-filter"
    entries = set(os.listdir(root))
    ids = {str(f["id"]) for f in filters}
    links = expected_links(filters)
    assert entries == ids | set(links), entries ^ (ids | set(links))
    assert "EMEA_DACH, Tier 1 (org 1)" in links     # '/' shows as '_'
    for name, fid in links.items():
        p = root / name
        assert os.path.islink(p), name
        assert os.readlink(p) == str(fid), name
        assert os.path.isdir(p), name                # the link resolves
    assert server.count("GET /api/v1/filters") == 1

    for f in filters:
        fid = f["id"]
        want = server.persons(filter_id=fid)
        got = listdir_b(root / str(fid))
        assert len(got) == len(set(got)), f"duplicates in /by-filter/{fid}"
        assert set(got) == expected_names(want), f"/by-filter/{fid}"
        if f["name"] == "Nobody":
            assert got == []
    # through the name link: the same directory
    five = root / "EMEA_DACH, Tier 1 (org 1)"
    assert set(listdir_b(five)) == expected_names(server.persons(filter_id=5))

    reqs = persons_requests(server)
    assert reqs, "no persons requests for the filter directories"
    seen = set()
    for r in reqs:
        q = r["query"]
        assert "filter_id" in q, r
        assert "owner_id" not in q and "org_id" not in q, r
        seen.add(int(q["filter_id"]))
    assert seen == {f["id"] for f in filters}


def test_by_owner_name_links(fake_server, mount_fs):
    server = fake_server(**SMALL)
    mount = mount_fs(server)
    users = server.users()
    links = expected_links(users)
    root = mount.path / "by-owner"
    entries = set(os.listdir(root))
    assert entries == {str(u["id"]) for u in users} | set(links)
    assert len(links) == len(users), "every fake user name is unique"
    for name, uid in links.items():
        assert os.readlink(root / name) == str(uid)
        assert os.path.isdir(root / name)
    u1 = next(u for u in users if u["id"] == 1)
    assert set(listdir_b(root / u1["name"])) == \
        expected_names(server.persons(owner_id=1))


def test_by_org_name_links_unique_only(fake_server, mount_fs):
    server = fake_server(**SMALL)
    made = {}
    for name in ("Twin Corp", "Twin Corp", "12345", "007", " 4711 ",
                 "Slash/Twin", "Slash_Twin", "Unique Ltd"):
        org = server._call("POST", "/_control/organizations",
                           body={"name": name})
        made.setdefault(name, []).append(org["id"])
    orgs = server.organizations()
    mount = mount_fs(server)
    links = expected_links(orgs)
    root = mount.path / "by-org"
    entries = set(os.listdir(root))
    assert entries == {str(o["id"]) for o in orgs} | set(links), \
        entries ^ ({str(o["id"]) for o in orgs} | set(links))
    # duplicates (also after cleaning) and all-digit names get no link
    for gone in ("Twin Corp", "12345", "007", "4711", "Slash_Twin",
                 "Slash/Twin"):
        assert gone not in entries, gone
    assert os.readlink(root / "Unique Ltd") == str(made["Unique Ltd"][0])
    assert os.readlink(root / "AC_DC Holdings") == "4"
    for name, oid in links.items():
        assert os.readlink(root / name) == str(oid), name
    # an ambiguous name is no link (ENOENT), and an all-digit name is an id
    with pytest.raises(FileNotFoundError):
        os.lstat(root / "Twin Corp")
    assert not os.path.islink(root / "12345")


# --------------------------------------------------------------------------
# /by-id

def test_by_id_files_equal_server_objects(fake_server, mount_fs):
    server = fake_server(**SMALL)
    server.delete_person(40)
    mount = mount_fs(server)
    d = mount.path / "by-id"
    for pid in (1, 7, 23, 26, 50, 119):
        want = server.persons(ids=str(pid))[0]
        got = read_json(d / f"{pid}.json")
        assert got == want, pid
        assert ordered(got) == ordered(want), f"key order differs for {pid}"
        vcf = (d / f"{pid}.vcf").read_bytes()
        props = vcard_props(vcf)
        assert ("X-PIPEDRIVE-ID", str(pid)) in [(n, v) for _, n, _, v in props]
        assert os.stat(d / f"{pid}.json").st_size == len(
            (d / f"{pid}.json").read_bytes())
    for missing in ("99999.json", "99999.vcf", "40.json", "121.vcf"):
        with pytest.raises(OSError) as ei:
            os.stat(d / missing)
        assert ei.value.errno == errno.ENOENT, missing
    for junk in ("abc.json", "1.txt", "01.json", "0.json"):
        with pytest.raises(OSError) as ei:
            os.stat(d / junk)
        assert ei.value.errno == errno.ENOENT, junk


def _ids_query(r):
    ids = r["query"].get("ids")
    assert ids, f"persons request without ids=: {r}"
    return [int(x) for x in ids.split(",")]


def test_by_id_in_order_costs_one_request_per_100(fake_server, mount_fs):
    server = fake_server(persons=400, owners=3, orgs=10, rate_limit=0,
                         quiet=True)
    mount = mount_fs(server)
    server.reset()
    want = {p["id"]: p for p in server.persons() if p["id"] <= 300}
    assert len(want) == 300
    d = mount.path / "by-id"
    for i in range(1, 301):
        with open(d / f"{i}.json", "rb") as f:
            assert json.loads(f.read().decode("utf-8", "surrogateescape")) \
                == want[i], i
    reqs = persons_requests(server)
    assert len(reqs) <= 4, "batches (first id, count): %s" % [
        (_ids_query(r)[0], len(_ids_query(r))) for r in reqs]
    asked = set()
    for r in reqs:
        ids = _ids_query(r)
        assert len(ids) <= 100, len(ids)
        asked.update(ids)
    assert set(range(1, 301)) <= asked


def test_by_id_concurrent_opens_are_batched(fake_server, mount_fs):
    server = fake_server(persons=400, owners=3, orgs=10, rate_limit=0,
                         quiet=True)
    mount = mount_fs(server)
    server.reset()
    want = {p["id"]: p for p in server.persons() if p["id"] <= 300}
    assert len(want) == 300
    d = mount.path / "by-id"

    def read(i):
        with open(d / f"{i}.json", "rb") as f:
            return i, json.loads(f.read().decode("utf-8", "surrogateescape"))

    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        for i, got in ex.map(read, range(1, 301)):
            assert got == want[i], i
    # Persons name others in a people field; a batch asks for the names that
    # batches still running on other workers have not stored yet (one
    # request per batch at most): those look-ups ask only such ids.
    key = next(f["field_code"] for f in custom_field_defs(server)
               if f["field_type"] == "people")
    referenced = {p["custom_fields"][key] for p in want.values()}
    reqs = persons_requests(server)
    lookups = [r for r in reqs if set(_ids_query(r)) <= referenced]
    batches = [r for r in reqs if r not in lookups]
    assert len(batches) <= 6, "batches (first id, count): %s" % [
        (_ids_query(r)[0], len(_ids_query(r))) for r in batches]
    assert len(lookups) <= len(batches), [_ids_query(r) for r in lookups]
    for r in reqs:
        assert len(_ids_query(r)) <= 100


def test_by_id_listing_has_every_person(fake_server, mount_fs):
    server = fake_server(**SMALL)
    server.delete_person(33)
    mount = mount_fs(server)
    got = os.listdir(mount.path / "by-id")
    assert len(got) == len(set(got))
    ids = [p["id"] for p in server.persons()]
    assert 33 not in ids
    assert set(got) == {f"{i}.{e}" for i in ids for e in ("json", "vcf")}


# --------------------------------------------------------------------------
# /recent

@pytest.mark.parametrize("days", [5, 30])
def test_recent_holds_exactly_the_recent_persons(fake_server, mount_fs, days):
    server = fake_server(**SMALL)
    now = time.time()
    # persons clearly inside and clearly outside the window
    server.update_person(10, update_time=rfc3339(now - 2 * 86400))
    server.update_person(11, update_time=rfc3339(now - (days - 0.5) * 86400))
    server.update_person(12, update_time=rfc3339(now - (days + 0.5) * 86400))
    mount = mount_fs(server, f"recent_days={days}")
    server.reset()
    start = time.time()
    got = listdir_b(mount.path / "recent")
    since = start - days * 86400
    everyone = server.persons()
    near = [p["id"] for p in everyone
            if abs(parse_time(p["update_time"]) - since) < 120]
    assert not near, f"persons too close to the window edge: {near}"
    want = [p for p in everyone if parse_time(p["update_time"]) >= since]
    assert {10, 11} <= {p["id"] for p in want}
    assert 12 not in {p["id"] for p in want}
    assert len(got) == len(set(got))
    assert set(got) == expected_names(want)

    reqs = persons_requests(server)
    assert reqs
    for r in reqs:
        q = r["query"]
        assert q.get("sort_by") == "update_time", q
        assert q.get("sort_direction") == "desc", q
        assert RFC3339_WHOLE_SECOND.match(q.get("updated_since", "")), q
        assert abs(parse_time(q["updated_since"]) - since) <= 5, q
        assert "owner_id" not in q and "org_id" not in q and \
            "filter_id" not in q, q

    # readdir order: newest first
    times = {p["id"]: parse_time(p["update_time"]) for p in want}
    seq = [times[id_of(n)] for n in got]
    assert seq == sorted(seq, reverse=True), "readdir order is not newest first"


def test_recent_shows_a_person_updated_on_the_server(fake_server, mount_fs):
    server = fake_server(**SMALL)
    mount = mount_fs(server, "cache_ttl=1")
    d = mount.path / "recent"
    before = set(listdir_b(d))
    old = server.persons(ids="20")[0]
    assert safe_base(old["name"], 20) + b".json" not in before
    p = server.update_person(20, name="Freshly Updated")
    time.sleep(1.6)
    got = listdir_b(d)
    assert b"Freshly Updated (20).json" in got
    assert got[0] == b"Freshly Updated (20).json", got[:4]   # newest first
    assert set(got) == expected_names(
        server.persons(updated_since=rfc3339(time.time() - 7 * 86400)))
    assert p["name"] == "Freshly Updated"


# --------------------------------------------------------------------------
# incremental refresh

OWNER_1200 = dict(persons=3600, owners=3, orgs=10, rate_limit=0, quiet=True)


def _walk_kind(reqs):
    """'full' if the requests are one owner-1 walk, 'incremental' if one
    company-wide updated_since request."""
    return [("owner_id" in r["query"], r["query"].get("updated_since"))
            for r in reqs]


def test_incremental_refresh_costs_one_request_and_merges(fake_server,
                                                           mount_fs):
    server = fake_server(**OWNER_1200)
    mount = mount_fs(server, "cache_ttl=1", "page_limit=500",
                     "walk_windows=1")
    d = mount.path / "by-owner" / "1"
    d2 = mount.path / "by-owner" / "2"
    server.reset()
    got = listdir_b(d)
    mine = server.persons(owner_id=1)
    assert len(mine) == 1200
    assert len(got) == 2400 and set(got) == expected_names(mine)
    reqs = persons_requests(server)
    assert len(reqs) == 3, _walk_kind(reqs)
    for r in reqs:
        assert r["query"].get("owner_id") == "1", r

    # unchanged: exactly one company-wide updated_since request
    time.sleep(2)
    server.reset()
    assert set(listdir_b(d)) == expected_names(mine)
    reqs = persons_requests(server)
    assert len(reqs) == 1, _walk_kind(reqs)
    q = reqs[0]["query"]
    assert RFC3339_WHOLE_SECOND.match(q.get("updated_since", "")), q
    assert "owner_id" not in q and "org_id" not in q and "filter_id" not in q
    assert "cursor" not in q

    # rename, move to owner 2, create, delete
    owner1 = [p["id"] for p in mine if p["id"] > 31]
    ren, moved, deleted = owner1[10], owner1[20], owner1[30]
    old_ren = server.persons(ids=str(ren))[0]
    old_moved = server.persons(ids=str(moved))[0]
    old_deleted = server.persons(ids=str(deleted))[0]
    server.update_person(ren, name="Renamed Person")
    server.update_person(moved, owner_id=2)
    created = server.create_person(name="Brand New", owner_id=1)
    server.delete_person(deleted)
    time.sleep(2)
    server.reset()
    got = set(listdir_b(d))
    reqs = persons_requests(server)
    assert len(reqs) == 1, _walk_kind(reqs)
    assert "owner_id" not in reqs[0]["query"]
    assert f"Renamed Person ({ren}).json".encode() in got
    assert safe_base(old_ren["name"], ren) + b".json" not in got
    assert safe_base(old_moved["name"], moved) + b".json" not in got
    assert f"Brand New ({created['id']}).json".encode() in got
    # deletions are not reported by updated_since: still listed
    assert safe_base(old_deleted["name"], deleted) + b".json" in got
    now_mine = server.persons(owner_id=1)
    assert got == expected_names(now_mine) | expected_names([old_deleted])
    # the moved person shows under its new owner
    assert safe_base(old_moved["name"], moved) + b".json" in set(listdir_b(d2))
    assert set(listdir_b(d2)) == expected_names(server.persons(owner_id=2))

    # SIGHUP: the next listing is a full walk, which drops the deleted one
    os.kill(mount.proc.pid, signal.SIGHUP)
    time.sleep(0.5)
    server.reset()
    got = set(listdir_b(d))
    reqs = persons_requests(server)
    assert got == expected_names(server.persons(owner_id=1)), \
        "after SIGHUP the deleted person is still listed"
    assert reqs and all(r["query"].get("owner_id") == "1" for r in reqs), \
        _walk_kind(reqs)
    assert len(reqs) == 3


def test_full_refresh_period_drops_deleted_persons(fake_server, mount_fs):
    server = fake_server(**OWNER_1200)
    mount = mount_fs(server, "cache_ttl=1", "full_refresh=3",
                     "walk_windows=1")
    d = mount.path / "by-owner" / "1"
    mine = server.persons(owner_id=1)
    assert set(listdir_b(d)) == expected_names(mine)
    t0 = t_listed = time.monotonic()   # the listing (and its full walk) is at most this old
    victim = mine[100]
    server.delete_person(victim["id"])
    gone = safe_base(victim["name"], victim["id"]) + b".json"
    time.sleep(1.2)                        # past cache_ttl=1
    if time.monotonic() - t0 < 2.5:        # still inside the full_refresh period
        server.reset()
        assert gone in set(listdir_b(d))
        reqs = persons_requests(server)
        assert len(reqs) == 1 and "owner_id" not in reqs[0]["query"]
    time.sleep(max(0.0, 3.3 - (time.monotonic() - t_listed)))
    server.reset()
    got = set(listdir_b(d))
    assert gone not in got, "a full walk after full_refresh=3 should drop it"
    assert got == expected_names(server.persons(owner_id=1))
    reqs = persons_requests(server)
    assert reqs and all(r["query"].get("owner_id") == "1" for r in reqs)


# --------------------------------------------------------------------------
# custom_fields / include_fields

def custom_field_defs(server):
    out, cursor = [], None
    while True:
        q = {"limit": 500}
        if cursor:
            q["cursor"] = cursor
        body = api_get(server, "/api/v2/personFields", q)
        out += body["data"]
        cursor = (body.get("additional_data") or {}).get("next_cursor")
        if not cursor:
            return out


def test_custom_fields_pass_through(fake_server, mount_fs):
    server = fake_server(**SMALL)
    defs = [f for f in custom_field_defs(server) if f["is_custom_field"]]
    keys = [f["field_code"] for f in defs[:2]]
    # libfuse splits -o at commas; "\\," keeps one inside a value
    mount = mount_fs(server, "custom_fields=" + "\\,".join(keys))
    server.reset()
    d = mount.path / "by-owner" / "1"
    want = {p["id"]: p for p in server.persons(owner_id=1)}
    names = listdir_b(d)
    assert set(names) == expected_names(want.values())
    for n in names:
        if not n.endswith(b".json"):
            continue
        got = read_json(os.path.join(os.fsencode(d), n))
        assert set(got["custom_fields"]) == set(keys), n
        exp = dict(want[got["id"]])
        exp["custom_fields"] = {k: want[got["id"]]["custom_fields"][k]
                                for k in keys}
        assert got == exp, n
    os.listdir(mount.path / "recent")
    got = read_json(mount.path / "by-id" / "5.json")
    assert set(got["custom_fields"]) == set(keys)
    reqs = persons_requests(server)
    assert len(reqs) >= 3
    for r in reqs:
        cf = r["query"].get("custom_fields")
        assert cf and set(cf.split(",")) == set(keys), r["query"]


def test_custom_fields_unknown_key_fails_the_mount(fake_server,
                                                   run_pipedrivefs, tmp_path):
    server = fake_server(**SMALL)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    good = [f["field_code"] for f in custom_field_defs(server)
            if f["is_custom_field"]][0]
    bad = "0123456789abcdef0123456789abcdef01234567"
    res = run_pipedrivefs(
        [mnt, "-f", "-o", f"base_url={server.base_url}",
         "-o", f"custom_fields={good}\\,{bad}"],
        env={"PIPEDRIVE_API_TOKEN": server.token})
    assert res.returncode == 1, (res.returncode, res.stderr)
    assert not res.mounted
    assert bad in res.stderr, res.stderr
    assert "personFields" in res.stderr or "custom" in res.stderr
    assert not os.path.ismount(mnt)
    assert server.count(PERSONS) == 0


def test_custom_fields_plain_commas(fake_server, mount_fs):
    """The documented form, -o custom_fields=KEY1,KEY2 (issue 6 and the man
    page's custom_fields=KEY[,KEY...]), with plain commas as a user types it."""
    server = fake_server(**SMALL)
    keys = [f["field_code"] for f in custom_field_defs(server)
            if f["is_custom_field"]][:2]
    mount = mount_fs(server, "custom_fields=" + ",".join(keys))
    got = read_json(mount.path / "by-id" / "5.json")
    assert set(got["custom_fields"]) == set(keys)


def test_custom_fields_at_most_15(fake_server, run_pipedrivefs, tmp_path):
    server = fake_server(**SMALL)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    keys = "\\,".join(f"k{i}" for i in range(16))
    res = run_pipedrivefs(
        [mnt, "-f", "-o", f"base_url={server.base_url}",
         "-o", f"custom_fields={keys}"],
        env={"PIPEDRIVE_API_TOKEN": server.token})
    assert res.returncode == 1, (res.returncode, res.stderr)
    assert not res.mounted
    assert "15" in res.stderr, res.stderr
    assert server.count(PERSONS) == 0


def test_include_fields_notes_count(fake_server, mount_fs):
    server = fake_server(**SMALL)
    mount = mount_fs(server, "include_fields=notes_count")
    direct = {}
    for lo in (1, 101):
        ids = ",".join(str(i) for i in range(lo, lo + 100))
        for p in api_get(server, "/api/v2/persons", {
                "ids": ids, "include_fields": "notes_count",
                "limit": 100})["data"]:
            direct[p["id"]] = p
    assert len(direct) == 120 and all("notes_count" in p
                                      for p in direct.values())
    server.reset()
    d = mount.path / "by-owner" / "2"
    for n in listdir_b(d):
        if n.endswith(b".json"):
            got = read_json(os.path.join(os.fsencode(d), n))
            assert "notes_count" in got, n
            assert got == direct[got["id"]], n
    got = read_json(mount.path / "by-id" / "7.json")
    assert got == direct[7]
    for r in persons_requests(server):
        assert r["query"].get("include_fields") == "notes_count", r["query"]


# --------------------------------------------------------------------------
# vCards: custom fields, categories, contact sync

def test_vcards_carry_custom_fields_and_categories(fake_server, mount_fs):
    server = fake_server(**SMALL)
    defs = {f["field_code"]: f for f in custom_field_defs(server)}
    labels = {o["id"]: o["label"]
              for o in next(f for f in defs.values()
                            if f["field_code"] == "label_ids")["options"]}
    names = company_names(server)
    mount = mount_fs(server)
    persons = server.persons()
    checked = {f["field_type"]: 0 for f in defs.values()
               if f["is_custom_field"]}
    checked["categories"] = 0
    for p in persons:
        if p["id"] in (7,):
            continue
        owner_dir = mount.path / "by-owner" / str(p["owner_id"])
        vcf = (owner_dir / (safe_base(p["name"], p["id"]) + b".vcf").decode(
            "utf-8", "surrogateescape")).read_bytes()
        props = vcard_props(vcf)
        want = {}
        for key, value in (p.get("custom_fields") or {}).items():
            if value is None:
                continue
            fdef = defs[key]
            text = expected_field_text(value, fdef, names)
            if text is not None:
                want[fdef["field_name"]] = text
                checked[fdef["field_type"]] += 1
        assert custom_pairs(props) == want, p["id"]
        cats = [v for _, n, _, v in props if n == "CATEGORIES"]
        if p.get("label_ids"):
            assert len(cats) == 1, p["id"]
            assert vsplit(cats[0]) == [labels[i] for i in p["label_ids"]]
            checked["categories"] += 1
        else:
            assert cats == [], p["id"]
    assert all(checked.values()), checked     # every kind was exercised
    # person 28 has all five labels, some with , ; / "
    p28 = next(p for p in persons if p["id"] == 28)
    vcf = (mount.path / "by-id" / "28.vcf").read_bytes()
    cats = [v for _, n, _, v in vcard_props(vcf) if n == "CATEGORIES"]
    assert vsplit(cats[0]) == [labels[i] for i in p28["label_ids"]]


def test_custom_fields_option_limits_vcard_fields(fake_server, mount_fs):
    server = fake_server(**SMALL)
    defs = [f for f in custom_field_defs(server) if f["is_custom_field"]]
    enum = next(f for f in defs if f["field_type"] == "enum")
    mount = mount_fs(server, "custom_fields=" + enum["field_code"])
    opts = {o["id"]: o["label"] for o in enum["options"]}
    seen = 0
    for p in server.persons():
        vcf = (mount.path / "by-id" / f"{p['id']}.vcf").read_bytes()
        pairs = custom_pairs(vcard_props(vcf))
        v = p["custom_fields"][enum["field_code"]]
        assert pairs == ({} if v is None else {enum["field_name"]: opts[v]}), \
            p["id"]
        seen += v is not None
    assert seen


CONTACT_SYNC_PROPS = {"NOTE", "BDAY", "ADR", "IMPP", "TITLE"}


def test_without_contact_sync_fields(fake_server, mount_fs):
    server = fake_server(persons=120, owners=3, orgs=10, rate_limit=0,
                         quiet=True, contact_sync=False)
    mount = mount_fs(server)
    for owner in (1, 2, 3, 4):
        d = mount.path / "by-owner" / str(owner)
        want = {p["id"]: p for p in server.persons(owner_id=owner)}
        names = listdir_b(d)
        assert set(names) == expected_names(want.values()), owner
        for n in names:
            path = os.path.join(os.fsencode(d), n)
            data = open(path, "rb").read()
            if n.endswith(b".json"):
                got = json.loads(data.decode("utf-8", "surrogateescape"))
                assert got == want[got["id"]]
                for k in ("notes", "im", "birthday", "job_title",
                          "postal_address"):
                    assert k not in got
            else:
                props = vcard_props(data)
                bad = {name for _, name, _, _ in props} & CONTACT_SYNC_PROPS
                assert not bad, (n, bad)
                assert any(name == "FN" for _, name, _, _ in props)


def test_with_contact_sync_fields_the_vcard_has_them(fake_server, mount_fs):
    """The counterpart: the same props appear when the company has them."""
    server = fake_server(**SMALL)
    mount = mount_fs(server)
    seen = set()
    for i in (1, 18, 20, 21, 23):
        props = vcard_props((mount.path / "by-id" / f"{i}.vcf").read_bytes())
        seen |= {name for _, name, _, _ in props} & CONTACT_SYNC_PROPS
    assert seen == CONTACT_SYNC_PROPS, seen


# --------------------------------------------------------------------------
# /.pipedrivefs/status

STATUS_ROUTES = {
    "requests_persons": ["GET /api/v2/persons"],
    "requests_person": ["GET /api/v2/persons/{id}"],
    "requests_organizations": ["GET /api/v2/organizations",
                               "GET /api/v2/organizations/{id}"],
    "requests_users": ["GET /api/v1/users"],
    "requests_users_me": ["GET /api/v1/users/me"],
    "requests_filters": ["GET /api/v1/filters"],
    "requests_person_fields": ["GET /api/v2/personFields"],
    "requests_search": ["GET /api/v2/persons/search"],
}


def read_status(mount):
    text = (mount.path / ".pipedrivefs" / "status").read_text()
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(": ")
        assert sep, f"status line without ': ': {line!r}"
        assert key not in out, f"status key twice: {key}"
        out[key] = value
    return text, out


def test_status_counters_equal_the_fake_servers(fake_server, mount_fs):
    token = "status-secret-token-8b1f"
    server = fake_server(token=token, persons=700, owners=3, orgs=10,
                         rate_limit=0, quiet=True)
    mount = mount_fs(server, "cache_ttl=7", "page_limit=250")
    m = mount.path
    os.listdir(m / "by-owner")
    os.listdir(m / "by-owner" / "1")
    os.listdir(m / "by-org")
    os.listdir(m / "by-org" / "3")
    os.listdir(m / "by-filter")
    os.listdir(m / "by-filter" / "2")
    os.listdir(m / "recent")
    os.listdir(m / "search" / "Anna")
    for i in (5, 150, 650, 699):
        (m / "by-id" / f"{i}.json").read_bytes()
    with pytest.raises(FileNotFoundError):
        os.stat(m / "by-id" / "5000.json")
    os.listdir(m / "by-owner" / "1")          # cached: no request

    text, st = read_status(mount)
    routes = server.stats()["by_route"]
    for key, rs in STATUS_ROUTES.items():
        assert int(st[key]) == sum(routes.get(r, 0) for r in rs), \
            (key, st[key], routes)
    api_total = sum(n for r, n in routes.items() if " /api/" in r)
    assert int(st["requests_total"]) == api_total, (st["requests_total"], routes)
    assert int(st["requests_persons"]) > 0
    assert st["cache_ttl"] == "7"
    assert st["page_limit"] == "250"
    assert token not in text
    assert "8b1f" not in text
    # a second read with no traffic in between: the same counters
    _, st2 = read_status(mount)
    assert st2["requests_total"] == st["requests_total"]
    assert int(st2["cache_hits"]) >= int(st["cache_hits"])


def test_status_keys_are_documented(fake_server, mount_fs):
    doc = REPO / "docs" / "status.md"
    assert doc.exists(), "docs/status.md is missing"
    text = doc.read_text()
    server = fake_server(**SMALL)
    mount = mount_fs(server)
    _, st = read_status(mount)
    missing = [k for k in st if f"`{k}`" not in text]
    assert not missing, f"status keys not documented in docs/status.md: {missing}"
