"""Mount tests for where the real API's data may differ from the fake's
defaults (issue 10): each variant is a switch of tests/fake_pipedrive.py,
and each test fails without the daemon's handling of it.

  label_option_ids     int | string | key   label option ids as strings
  filter_time_bounds   applied | ignored    filter_id with updated_since/_until
  deleted_in_answers   omit | include       soft-deleted persons in answers
  time_field_style     object | string      time / timerange custom fields
  invalid_utf8_person  ID                   raw invalid UTF-8 in a person
and the custom fields of every type, and how long organization names live.

Run: /usr/bin/python3 -m pytest tests/mount/test_fidelity.py -q
"""

import errno
import json
import math
import os
import signal
import time

import pytest

from fields import company_names, expected_field_text, single_line
from naming import expected_names, listdir_b, safe_base
from test_parameters import (api_get, custom_field_defs, custom_pairs,
                             vcard_props, vsplit, wait_until)

PERSONS = "GET /api/v2/persons"
ORGS = "GET /api/v2/organizations"
SMALL = dict(persons=120, owners=3, orgs=10, rate_limit=0, quiet=True)


def walk_requests(server):
    """Persons requests of walks (name lookups by id excluded)."""
    return [r for r in server.requests(PERSONS) if "ids" not in r["query"]]


def read_vcard(path):
    with open(path, "rb") as f:
        return vcard_props(f.read())


def props_named(props, name):
    return [v for _, n, _, v in props if n == name]


def person_file(mount, directory, p, ext):
    return os.path.join(os.fsencode(mount.path / directory),
                        safe_base(p["name"], p["id"]) + ext)


# --------------------------------------------------------------------------
# label option ids as strings

@pytest.mark.parametrize("mode", ["string", "key"])
def test_label_option_ids_as_strings_keep_categories(fake_server, mount_fs,
                                                     mode):
    """personFields may type the built-in label field's option ids as
    strings, and persons' label_ids may then hold strings or integers: the
    CATEGORIES must still show every label name."""
    server = fake_server(label_option_ids=mode, **SMALL)
    label_field = next(f for f in custom_field_defs(server)
                       if f["field_code"] == "label_ids")
    names = {o["id"]: o["label"] for o in label_field["options"]}
    assert all(isinstance(i, str) for i in names)
    mount = mount_fs(server)
    seen = {str: 0, int: 0}
    for p in server.persons():
        if not p["label_ids"]:
            continue
        props = read_vcard(mount.path / "by-id" / f"{p['id']}.vcf")
        cats = props_named(props, "CATEGORIES")
        assert len(cats) == 1, (p["id"], p["label_ids"])
        assert vsplit(cats[0]) == [names[str(x) if mode == "string" else x]
                                   for x in p["label_ids"]], p["id"]
        assert props_named(props, "X-PIPEDRIVE-LABEL-ID") == [
            str(x) for x in p["label_ids"]]
        for x in p["label_ids"]:
            seen[type(x)] += 1
    # string: numeric strings and integers (odd persons) both matched
    assert seen[str] and (seen[int] or mode == "key"), seen


# --------------------------------------------------------------------------
# filter_id with updated_since / updated_until

FILTER_N = 2600          # filter 1 = every person: 6 pages of 500


def filter_budget(n):
    return math.ceil(n / 500) + 2


@pytest.mark.parametrize("bounds", ["applied", "ignored"])
def test_filter_directory_full_walk_stays_in_budget(fake_server, mount_fs,
                                                    bounds):
    """walk_windows=4 splits a big directory into update-time windows.  A
    server that ignores the bounds with filter_id would answer every window
    with the whole filter (4x the requests): the daemon finds out on one
    page and walks the filter in one cursor walk, and remembers it."""
    server = fake_server(persons=FILTER_N, owners=3, orgs=10, rate_limit=0,
                         quiet=True, filter_time_bounds=bounds)
    mount = mount_fs(server, "walk_windows=4", "cache_ttl=600")
    server.reset()
    d = mount.path / "by-filter" / "1"
    assert set(listdir_b(d)) == expected_names(server.persons(filter_id=1))
    reqs = server.requests(PERSONS)
    windowed = [r for r in reqs if "updated_until" in r["query"]]
    if bounds == "ignored":
        assert len(reqs) <= filter_budget(FILTER_N), [r["query"] for r in reqs]
        assert len(windowed) == 1, "one page finds it out"
        assert "ignores updated_since/updated_until together with filter_id" \
            in mount.log()
    else:
        # windows are used; each costs at most one partial page more
        assert len(windowed) >= 3, [r["query"] for r in reqs]
        assert len(reqs) <= filter_budget(FILTER_N) + 4, \
            [r["query"] for r in reqs]
    # a second full walk (SIGHUP) does not ask again
    os.kill(mount.pid, signal.SIGHUP)
    time.sleep(0.5)
    server.reset()
    assert set(listdir_b(d)) == expected_names(server.persons(filter_id=1))
    reqs = server.requests(PERSONS)
    windowed = [r for r in reqs if "updated_until" in r["query"]]
    if bounds == "ignored":
        assert len(reqs) == math.ceil(FILTER_N / 500), \
            [r["query"] for r in reqs]
        assert windowed == []
    else:
        assert len(windowed) >= 3


@pytest.mark.parametrize("bounds", ["applied", "ignored"])
def test_filter_directory_refresh_stays_in_budget(fake_server, mount_fs,
                                                  bounds):
    """The incremental refresh of a filter directory adds a filter_id +
    updated_since query; if the server ignores the bound, that answer is the
    whole filter and becomes the listing (never more than ceil(N/500)+2)."""
    server = fake_server(persons=3000, owners=3, orgs=10, rate_limit=0,
                         quiet=True, filter_time_bounds=bounds)
    mount = mount_fs(server, "cache_ttl=1", "walk_windows=1")
    d = mount.path / "by-filter" / "2"          # owner 1 with an email
    before = server.persons(filter_id=2)
    n = len(before)
    assert n > 500
    assert set(listdir_b(d)) == expected_names(before)
    t0 = time.monotonic()                       # the listing is this old
    renamed, leaving = before[10]["id"], before[20]["id"]
    victim = before[30]
    server.update_person(renamed, name="Renamed In Filter")
    server.update_person(leaving, emails=[])     # leaves the filter
    server.delete_person(victim["id"])           # not in updated_since answers
    time.sleep(max(0.0, 1.2 - (time.monotonic() - t0)))
    server.reset()
    got = set(listdir_b(d))
    want = server.persons(filter_id=2)
    if bounds == "applied":
        want.append(victim)      # deletions show at the next full walk ...
    # ... but a server ignoring the bound sent the whole filter: it is the
    # listing, and the deleted person is gone at once
    assert got == expected_names(want)
    assert f"Renamed In Filter ({renamed}).json".encode() in got
    reqs = server.requests(PERSONS)
    assert len(reqs) <= filter_budget(n), [r["query"] for r in reqs]
    assert any(r["query"].get("filter_id") == "2" and
               "updated_since" in r["query"] for r in reqs)


# --------------------------------------------------------------------------
# soft-deleted persons

@pytest.mark.parametrize("deleted", ["include", "omit"])
def test_deleted_person_leaves_every_listing_at_once(fake_server, mount_fs,
                                                     deleted):
    """A person found deleted (an ids= answer carrying it with is_deleted,
    or not carrying it at all) leaves every cached listing at once, also in
    the kernel, and its /by-id files are ENOENT - without a refresh of the
    other directories."""
    server = fake_server(deleted_in_answers=deleted, **SMALL)
    mount = mount_fs(server, "cache_ttl=600")
    victim = server.persons(owner_id=2)[5]
    dirs = {"by-owner/2": dict(owner_id=2),
            f"by-org/{victim['org_id']}": dict(org_id=victim["org_id"]),
            "by-filter/1": dict(filter_id=1)}
    for d, q in dirs.items():
        assert set(listdir_b(mount.path / d)) == expected_names(
            server.persons(**q))
        os.stat(person_file(mount, d, victim, b".json"))   # kernel caches it
    server.delete_person(victim["id"])
    server.reset()
    with pytest.raises(FileNotFoundError):
        os.stat(mount.path / "by-id" / f"{victim['id']}.json")
    assert [r["query"].get("ids", "").split(",")[0]
            for r in server.requests(PERSONS)] == [str(victim["id"])]
    assert wait_until(lambda: not any(
        os.path.exists(person_file(mount, d, victim, b".vcf")) for d in dirs))
    for d, q in dirs.items():
        for ext in (b".json", b".vcf"):
            with pytest.raises(FileNotFoundError):
                os.stat(person_file(mount, d, victim, ext))
        assert set(listdir_b(mount.path / d)) == expected_names(
            server.persons(**q)), d
    with pytest.raises(FileNotFoundError):
        os.stat(mount.path / "by-id" / f"{victim['id']}.vcf")
    assert server.requests(PERSONS)[1:] == [], "other listings were walked"


def test_deleted_person_in_an_updated_since_answer(fake_server, mount_fs):
    """deleted_in_answers=include: the incremental refresh sees the person
    with is_deleted true; it leaves the listing (it used to stay, with the
    deleted JSON)."""
    server = fake_server(deleted_in_answers="include", **SMALL)
    mount = mount_fs(server, "cache_ttl=1")
    d = mount.path / "by-owner" / "1"
    mine = server.persons(owner_id=1)
    assert set(listdir_b(d)) == expected_names(mine)
    t0 = time.monotonic()
    victim = mine[7]
    server.delete_person(victim["id"])
    time.sleep(max(0.0, 1.2 - (time.monotonic() - t0)))
    server.reset()
    got = set(listdir_b(d))
    assert got == expected_names(server.persons(owner_id=1))
    assert safe_base(victim["name"], victim["id"]) + b".json" not in got
    reqs = server.requests(PERSONS)
    assert len(reqs) == 1 and "updated_since" in reqs[0]["query"]
    with pytest.raises(FileNotFoundError):
        os.stat(mount.path / "by-id" / f"{victim['id']}.json")


# --------------------------------------------------------------------------
# custom fields of every type

# What person 28 (a value in every custom field) shows, written by hand.
PERSON_28_FIELDS = {
    "Nickname": 'The "Boss"; CEO, too',
    "Lead source": "Referral, partner",
    "Interests": "CRM, Email; marketing, Reporting/BI",
    "Budget": "8000 EUR",
    "Contract date": "2025-12-31",
    "Industry tag": "Retail; wholesale",
    "Background": "Line one Line two, with comma; semicolon \\ backslash",
    "Score": "1234567.25",
    "Assistant phone": "+49 (0)30 123-45-67",
    "Trial period": "2025-01-01 \u2013 2025-03-31",
    "Best call time": "09:30:00 (Europe/Berlin)",
    "Office hours": "09:00:00 \u2013 17:30:00 (Europe/Tallinn)",
    "Account manager": "Bob M\u00fcller",
    "Billing organization": "Acme, Inc.; EMEA",
    "Referred by": 'Doe, John; "JD" \\ Jr.: CEO',
    "Home address": "Friedrichstra\u00dfe 123, 10117 Berlin, Germany",
}


@pytest.mark.parametrize("style", ["object", "string"])
def test_every_custom_field_type_reads_as_in_the_ui(fake_server, mount_fs,
                                                    style):
    server = fake_server(time_field_style=style, **SMALL)
    defs = {f["field_code"]: f for f in custom_field_defs(server)}
    names = company_names(server)
    mount = mount_fs(server)
    want_28 = dict(PERSON_28_FIELDS)
    if style == "string":   # no time zone in the plain-string variant
        want_28["Best call time"] = "09:30:00"
        want_28["Office hours"] = "09:00:00 \u2013 17:30:00"
    pairs = custom_pairs(read_vcard(mount.path / "by-id" / "28.vcf"))
    assert pairs == want_28
    direct = api_get(server, "/api/v2/persons/28")["data"]
    with open(mount.path / "by-id" / "28.json", "rb") as f:
        assert json.loads(f.read()) == direct      # .json: as the API sent it
    shown = set()
    for p in server.persons():
        want = {}
        for key, value in p["custom_fields"].items():
            text = expected_field_text(value, defs[key], names)
            if text is not None:
                want[defs[key]["field_name"]] = text
                shown.add(defs[key]["field_type"])
        got = custom_pairs(read_vcard(mount.path / "by-id" / f"{p['id']}.vcf"))
        assert got == want, p["id"]
    assert shown == {f["field_type"] for f in defs.values()
                     if f["is_custom_field"]}


def test_person_names_of_people_fields_are_batched(fake_server, mount_fs):
    """A people field names a person the listing does not hold: the names
    are asked for at the end of the walk with ids= (at most 100 each), once
    per full_refresh period."""
    server = fake_server(persons=600, owners=3, orgs=10, rate_limit=0,
                         quiet=True)
    key = next(f["field_code"] for f in custom_field_defs(server)
               if f["field_type"] == "people")
    mine = server.persons(owner_id=1)
    others = [p["id"] for p in server.persons(owner_id=2)]
    refs = {}
    for n, p in enumerate(mine[:150]):
        refs[p["id"]] = others[n]
        server.update_person(p["id"], custom_fields={key: others[n]})
    mount = mount_fs(server, "cache_ttl=1", "walk_windows=1")
    server.reset()
    d = mount.path / "by-owner" / "1"
    listdir_b(d)
    t0 = time.monotonic()
    lookups = [r for r in server.requests(PERSONS) if "ids" in r["query"]]
    assert len(lookups) == 2, [r["query"] for r in lookups]
    asked = [int(i) for r in lookups for i in r["query"]["ids"].split(",")]
    assert all(len(r["query"]["ids"].split(",")) <= 100 for r in lookups)
    assert sorted(asked) == sorted(refs.values())
    by_id = {p["id"]: p for p in server.persons()}
    for pid in (mine[0]["id"], mine[149]["id"]):
        pairs = custom_pairs(read_vcard(person_file(
            mount, "by-owner/1", by_id[pid], b".vcf")))
        assert pairs["Referred by"] == single_line(by_id[refs[pid]]["name"])
    # the incremental refresh of a changed person asks no name again
    server.update_person(mine[0]["id"], name="Changed Referrer")
    time.sleep(max(0.0, 1.2 - (time.monotonic() - t0)))
    server.reset()
    assert f"Changed Referrer ({mine[0]['id']}).json".encode() in set(
        listdir_b(d))
    assert len(server.requests(PERSONS)) == 1


def test_user_names_are_loaded_once(fake_server, mount_fs):
    server = fake_server(**SMALL)
    mount = mount_fs(server)
    assert server.count("GET /api/v1/users") == 1     # at start-up
    for owner in (1, 2, 3):
        listdir_b(mount.path / "by-owner" / str(owner))
    pairs = custom_pairs(read_vcard(mount.path / "by-id" / "28.vcf"))
    assert pairs["Account manager"] == "Bob M\u00fcller"
    assert server.count("GET /api/v1/users") == 1


# --------------------------------------------------------------------------
# organization names live until the full refresh

def org_lines(mount, directory, p):
    return props_named(read_vcard(person_file(mount, directory, p, b".vcf")),
                       "ORG")


def test_org_names_stay_cached_until_the_full_refresh(fake_server, mount_fs):
    server = fake_server(**SMALL)
    mount = mount_fs(server, "cache_ttl=1", "full_refresh=3600")
    d = mount.path / "by-owner" / "1"
    mine = server.persons(owner_id=1)
    p = next(x for x in mine if x["org_id"] == 5)
    listdir_b(d)
    t0 = time.monotonic()
    assert server.count(ORGS) == 1
    old_name = next(o["name"] for o in server.organizations() if o["id"] == 5)
    assert org_lines(mount, "by-owner/1", p) == [old_name]
    # the organization is renamed and the person changes: the incremental
    # refresh asks for no organization it knows
    server._call("POST", "/_control/organizations/5", body={"name": "Five New"})
    p = server.update_person(p["id"], job_title="Moved On")
    # ... but for one it does not know yet
    new_org = server._call("POST", "/_control/organizations",
                           body={"name": "Brand New Org"})
    q = server.update_person(mine[1]["id"], org_id=new_org["id"])
    time.sleep(max(0.0, 1.2 - (time.monotonic() - t0)))
    server.reset()
    listdir_b(d)
    assert len(server.requests(PERSONS)) == 1
    orgs = server.requests(ORGS)
    assert [r["query"]["ids"] for r in orgs] == [str(new_org["id"])]
    assert org_lines(mount, "by-owner/1", p) == [old_name]
    assert org_lines(mount, "by-owner/1", q) == ["Brand New Org"]
    # the full refresh (SIGHUP) asks again
    os.kill(mount.pid, signal.SIGHUP)
    time.sleep(0.5)
    server.reset()
    listdir_b(d)
    assert server.count(ORGS) == 1
    assert org_lines(mount, "by-owner/1", p) == ["Five New"]


@pytest.mark.slow
def test_org_names_outlive_a_minute(fake_server, mount_fs):
    """They used to live for the TTL (at least 60 s): an incremental refresh
    after a minute asked for them again."""
    server = fake_server(**SMALL)
    mount = mount_fs(server, "cache_ttl=1", "full_refresh=3600")
    d = mount.path / "by-owner" / "1"
    mine = server.persons(owner_id=1)
    listdir_b(d)
    time.sleep(61)
    server.update_person(mine[0]["id"], job_title="Changed")
    server.reset()
    listdir_b(d)
    assert len(server.requests(PERSONS)) == 1
    assert server.count(ORGS) == 0


# --------------------------------------------------------------------------
# invalid UTF-8 inside JSON strings

def test_invalid_utf8_in_json_strings_gives_valid_files(fake_server,
                                                        mount_fs):
    server = fake_server(invalid_utf8_person=12, **SMALL)
    mount = mount_fs(server)
    raw = server.persons(ids="12")[0]        # with the bytes as \\udcXX

    def repaired(value):
        if isinstance(value, str):
            return value.encode("utf-8", "surrogateescape").decode(
                "utf-8", "replace")
        if isinstance(value, dict):
            return {k: repaired(v) for k, v in value.items()}
        if isinstance(value, list):
            return [repaired(v) for v in value]
        return value

    path = mount.path / "by-id" / "12.json"
    data = path.read_bytes()
    assert os.stat(path).st_size == len(data)
    text = data.decode("utf-8")                  # valid UTF-8
    assert "\ufffd" in text
    assert json.loads(text) == repaired(raw)
    vcf = (mount.path / "by-id" / "12.vcf").read_bytes()
    assert os.stat(mount.path / "by-id" / "12.vcf").st_size == len(vcf)
    fn = props_named(vcard_props(vcf), "FN")       # decodes as UTF-8
    assert fn == ["Bad \ufffd Byte \ufffd( Person"]
    names = listdir_b(mount.path / "by-owner" / str(raw["owner_id"]))
    assert "Bad \ufffd Byte \ufffd( Person (12).json".encode() in names
    with pytest.raises(OSError) as e:
        os.stat(mount.path / "by-id" / "nope.json")
    assert e.value.errno == errno.ENOENT
