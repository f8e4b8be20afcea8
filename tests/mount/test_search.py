"""Search folders: /search/<term>/ lists the persons Pipedrive's person search
finds for the term (GET /api/v2/persons/search), as the same .json/.vcf files
as every person folder, in the search's order.

What is checked against the fake server (tests/fake_pipedrive.py, "Person
search"; /_control/search gives the ids the API finds, in its order):

- a folder's files are exactly the found persons' files, in readdir order
  the search's order, with the bytes of /by-id; `cat search/<term>/*.vcf`
  works; the term reaches the server as typed (UTF-8, URL-encoded);
- the cost: one search request per result page and one ids= batch per 100
  persons; within cache_ttl a folder is not searched again; concurrent
  listings of one term share one search;
- the Search API's own limit (10 per 2 s, the fake's search_rate_limit):
  14 searches in a row and 12 at once never get a 429, and no 2 s window
  holds more than 10 searches;
- names that cannot be meant as a search are ENOENT without a request: under
  2 characters (stripped), hidden names (.git), control characters;
  /search itself lists nothing (nothing walking the tree ever searches);
- a term that finds more than 10,000 persons: E2BIG, and no person fetched.

Run: /usr/bin/python3 -m pytest tests/mount/test_search.py -q
"""

import errno
import os
import subprocess
import threading
import time

import pytest

from naming import safe_base

SEARCH = "GET /api/v2/persons/search"
PERSONS = "GET /api/v2/persons"
SMALL = dict(persons=200, owners=3, orgs=10, rate_limit=0, quiet=True)
NAMES = ["Anna", "Ben", "Carla", "David", "Elif", "Farid", "Greta", "Hiro",
         "Ines", "Jonas", "Kasia", "Liam", "Maja", "Noah", "Olga", "Pedro"]


def found(server, term):
    """The ids the API finds for term, in its order (all pages)."""
    return server._call("GET", "/_control/search", query={"term": term})["data"]


def expected_order(server, term):
    """The file names of the search folder of term, in the search's order."""
    ids = found(server, term)
    by_id = {}
    for start in range(0, len(ids), 100):
        chunk = ids[start:start + 100]
        for p in server.persons(ids=",".join(map(str, chunk))):
            by_id[p["id"]] = p
    names = []
    for i in ids:
        base = safe_base(by_id[i].get("name"), i)
        names += [base + b".json", base + b".vcf"]
    return names


def folder(mount, term):
    return os.path.join(os.fsencode(mount.path), b"search", term.encode())


def searches(server):
    return server.requests(SEARCH)


def no_429(server):
    return server.stats().get("by_status", {}).get("429", 0) == 0


def mounted(fake_server, mount_fs, *opts, **server_args):
    server = fake_server(**dict(SMALL, **server_args))
    mount = mount_fs(server, *opts)
    server.reset()
    return server, mount


# --------------------------------------------------------------------------
# results

@pytest.mark.parametrize("term", ["Anna", "müller", "example.org", "Zoë",
                                  "O'Brien", "Acme & Co", "100%"])
def test_results_equal_the_servers_search(fake_server, mount_fs, term):
    server, mount = mounted(fake_server, mount_fs)
    names = os.listdir(folder(mount, term))       # readdir order
    assert names == expected_order(server, term)
    sent = searches(server)
    assert [r["query"]["term"] for r in sent] == [term]   # as typed, decoded
    ids = found(server, term)
    assert len(sent) == max(1, -(-len(ids) // 500))
    # the found persons in ids= batches of 100 (other ids= requests resolve
    # the names people fields refer to)
    id_batches = [r["query"]["ids"] for r in server.requests(PERSONS)
                  if set(r["query"].get("ids", "x").split(",")) <= set(map(str, ids))]
    assert len(id_batches) == -(-len(ids) // 100), id_batches
    assert sorted(int(i) for b in id_batches for i in b.split(",")) == sorted(ids)
    for name in names[:20]:                       # the bytes of /by-id
        pid = int(name.rsplit(b"(", 1)[1].split(b")")[0])
        ext = name.rsplit(b".", 1)[1]
        with open(os.path.join(folder(mount, term), name), "rb") as f:
            mine = f.read()
        with open(os.path.join(os.fsencode(mount.path), b"by-id",
                               b"%d.%s" % (pid, ext)), "rb") as f:
            assert mine == f.read()


def test_cat_every_card(fake_server, mount_fs):
    """`cat ~/crm/search/acme/*.vcf` just works."""
    server, mount = mounted(fake_server, mount_fs)
    term = "Anna"
    ids = found(server, term)
    assert ids
    out = subprocess.run(["sh", "-c", "cat *.vcf"], cwd=folder(mount, term),
                         stdout=subprocess.PIPE, check=True).stdout
    assert out.count(b"BEGIN:VCARD\r\n") == len(ids)
    assert out.count(b"END:VCARD\r\n") == len(ids)


def test_search_order_is_readdir_order(fake_server, mount_fs):
    """Readdir follows the search's order (best score first), not ids."""
    server, mount = mounted(fake_server, mount_fs)
    term = next(t for t in ("an", "er", "ma", "en")
                if found(server, t) != sorted(found(server, t)))
    names = os.listdir(folder(mount, term))
    shown = [int(n.rsplit(b"(", 1)[1].split(b")")[0]) for n in names[::2]]
    assert shown == found(server, term)
    assert shown != sorted(shown)


def test_nothing_found_is_an_empty_folder(fake_server, mount_fs):
    server, mount = mounted(fake_server, mount_fs)
    assert os.listdir(folder(mount, "qqzzxx")) == []
    assert len(searches(server)) == 1
    assert server.requests(PERSONS) == []         # nothing to fetch


# --------------------------------------------------------------------------
# names that are no search

@pytest.mark.parametrize("name", ["a", "é", " a ", "   ", ".git", ".hidden",
                                  "..x", "a\tb", "a\nb"])
def test_no_search_for_what_cannot_be_one(fake_server, mount_fs, name):
    server, mount = mounted(fake_server, mount_fs)
    path = os.path.join(os.fsencode(mount.path), b"search", name.encode())
    with pytest.raises(FileNotFoundError):
        os.stat(path)
    with pytest.raises(FileNotFoundError):
        os.listdir(path)
    assert server.api_count() == 0, server.stats()["by_route"]


def test_search_root_lists_nothing(fake_server, mount_fs):
    server, mount = mounted(fake_server, mount_fs)
    assert "search" in os.listdir(mount.path)
    os.listdir(folder(mount, "Anna"))
    assert os.listdir(os.path.join(mount.path, "search")) == []
    os.stat(folder(mount, "Ben"))                 # a term is a folder ...
    assert len(searches(server)) == 1             # ... searched when opened


# --------------------------------------------------------------------------
# cost: cached for the TTL, one search for concurrent listings

def test_cached_for_the_ttl(fake_server, mount_fs):
    server, mount = mounted(fake_server, mount_fs, "cache_ttl=2")
    first = os.listdir(folder(mount, "Ben"))
    assert os.listdir(folder(mount, "Ben")) == first
    os.stat(os.path.join(folder(mount, "Ben"), first[1]))
    assert len(searches(server)) == 1
    time.sleep(2.3)
    assert os.listdir(folder(mount, "Ben")) == first
    assert len(searches(server)) == 2


def test_concurrent_identical_searches_are_one(fake_server, mount_fs):
    server, mount = mounted(fake_server, mount_fs, latency_ms=400)
    results, errors = [], []

    def run():
        try:
            results.append(os.listdir(folder(mount, "Carla")))
        except OSError as e:
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert len(results) == 8 and all(r == results[0] for r in results)
    assert results[0] == expected_order(server, "Carla")
    assert len(searches(server)) == 1


# --------------------------------------------------------------------------
# the Search API's own limit: 10 per 2 s

def assert_paced(server, expected):
    sent = searches(server)
    assert len(sent) == expected
    times = sorted(r["t"] for r in sent)
    for i in range(len(times) - 10):              # any 11 span more than 2 s
        assert times[i + 10] - times[i] > 2.0, times
    assert no_429(server), server.stats().get("by_status")


def pacing_terms(n):
    """n terms: two that find persons, the rest nothing - so that nothing
    but searches is sent (ids= batches would slow them down below the
    Search API's limit through the shared gate alone)."""
    return NAMES[:2] + ["nobody%02d" % i for i in range(n - 2)]


def test_fourteen_searches_in_a_row_get_no_429(fake_server, mount_fs):
    server, mount = mounted(fake_server, mount_fs, rate_limit=20,
                            search_rate_limit=10)
    for term in pacing_terms(14):
        assert os.listdir(folder(mount, term)) == expected_order(server, term)
    assert_paced(server, 14)
    # The search answers' x-ratelimit-* describe the search window (limit
    # 10): they pace searches, not the shared gate the status shows.
    with open(os.path.join(mount.path, ".pipedrivefs", "status")) as f:
        status = dict(line.rstrip("\n").split(": ", 1) for line in f)
    assert status["ratelimit_limit"] == "20"
    assert status["requests_search"] == "14"
    assert status["walks_search"] == "14"


def test_twelve_searches_at_once_get_no_429(fake_server, mount_fs):
    server, mount = mounted(fake_server, mount_fs, rate_limit=20,
                            search_rate_limit=10)
    results, errors = {}, []

    def run(term):
        try:
            results[term] = os.listdir(folder(mount, term))
        except OSError as e:
            errors.append((term, e))

    terms = pacing_terms(12)
    threads = [threading.Thread(target=run, args=(t,)) for t in terms]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    for term in terms:
        assert results[term] == expected_order(server, term)
    assert_paced(server, 12)


# --------------------------------------------------------------------------
# a term that finds too many

@pytest.mark.slow
def test_more_than_ten_thousand_found_is_e2big(fake_server, mount_fs):
    server, mount = mounted(fake_server, mount_fs, persons=16000, owners=3,
                            orgs=10)
    assert len(found(server, "example")) > 10000
    with pytest.raises(OSError) as e:
        os.listdir(folder(mount, "example"))
    assert e.value.errno == errno.E2BIG
    assert len(searches(server)) == 21            # 10,500 ids: it stops there
    assert server.requests(PERSONS) == []         # no person fetched
    assert "more than 10000 persons" in mount.log()
