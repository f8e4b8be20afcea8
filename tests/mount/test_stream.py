"""Mount tests for issue 12: a folder's entries as its first walk brings them.

A cold folder's READDIR answers with the persons the walk has brought so far
and waits for more; offsets stay stable for every open handle; a walk that
fails midway ends the listing with EIO (never a silent partial listing);
files are readable while the walk goes on; and looking up one file of a
folder nobody listed costs one request.

Run: /usr/bin/python3 -m pytest tests/mount/test_stream.py -q
"""

import errno
import os
import subprocess
import threading
import time

import pytest

from naming import expected_names, safe_base

PERSONS = "GET /api/v2/persons"


def slow_company(fake_server, persons=3000, latency_ms=250):
    return fake_server(persons=persons, owners=1, orgs=10, rate_limit=0, quiet=True,
                       latency_ms=latency_ms)


def page_requests(server):
    return [r for r in server.requests(PERSONS) if "owner_id" in r["query"]]


def test_first_entries_come_before_the_walk_ends(fake_server, mount_fs):
    server = slow_company(fake_server)
    m = mount_fs(server, "walk_windows=1", "disk_cache=no")
    server.reset()
    d = m.path / "by-owner" / "1"
    it = os.scandir(d)
    first = next(it)
    pages_at_first = len(page_requests(server))
    names = {os.fsencode(first.name)} | {os.fsencode(e.name) for e in it}
    it.close()
    assert names == expected_names(server.persons(owner_id=1))
    pages = len(page_requests(server))
    assert pages == 6
    assert pages_at_first < pages, "the first entry waited for the whole walk"


def test_a_walk_that_fails_midway_ends_the_listing_with_eio(fake_server, mount_fs):
    server = slow_company(fake_server, latency_ms=50)
    m = mount_fs(server, "walk_windows=1", "disk_cache=no")
    # the third page fails for good (retries included)
    server.faults({"path": "/api/v2/persons", "kind": "500", "skip": 2, "count": -1})
    seen = []
    with pytest.raises(OSError) as e:
        for entry in os.scandir(m.path / "by-owner" / "1"):
            seen.append(entry.name)
    assert e.value.errno == errno.EIO
    assert 0 < len(seen) < 6000, "no entry came before the failure"
    # and a new listing does not pretend the partial one is whole
    with pytest.raises(OSError):
        os.listdir(m.path / "by-owner" / "1")


def test_concurrent_readers_see_every_entry_once(fake_server, mount_fs):
    server = slow_company(fake_server)
    m = mount_fs(server, "walk_windows=1", "disk_cache=no")
    d = m.path / "by-owner" / "1"
    results = [None] * 4

    def read(i):
        names = []
        with os.scandir(d) as it:
            for k, entry in enumerate(it):
                names.append(os.fsencode(entry.name))
                if k % 97 == i:          # readers at different speeds
                    time.sleep(0.01)
        results[i] = names

    threads = [threading.Thread(target=read, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
        time.sleep(0.1)
    for t in threads:
        t.join(120)
    want = expected_names(server.persons(owner_id=1))
    for names in results:
        assert names is not None and len(names) == len(set(names)) == len(want)
        assert set(names) == want
    assert len(page_requests(server)) == 6, "the readers did not share one walk"
    # the finished listing, cached in the kernel and in the daemon, is the same
    assert set(os.fsencode(n) for n in os.listdir(d)) == want


def test_files_are_read_while_the_walk_goes_on(fake_server, mount_fs):
    """A reader that opens each file as it sees it (a scandir loop; GNU grep
    and find read a whole directory before opening any file in it) reads
    while later pages are still on their way."""
    server = slow_company(fake_server, persons=3000, latency_ms=300)
    m = mount_fs(server, "walk_windows=1", "disk_cache=no")
    server.reset()
    d = m.path / "by-owner" / "1"
    read = 0
    pages_at_first_read = None
    with os.scandir(d) as it:
        for entry in it:
            data = (d / entry.name).read_bytes()
            assert data.endswith(b"END:VCARD\r\n") or data.endswith(b"}\n")
            if pages_at_first_read is None:
                pages_at_first_read = len(page_requests(server))
            read += 1
    assert read == 6000
    assert pages_at_first_read < 6, "no file was read before the walk ended"


def test_cards_read_during_the_walk_are_final(fake_server, mount_fs):
    """A card that names a person ("Referred by") the walk has not brought
    yet is shown only at the end of the walk, built with that name: a
    reader never sees a card that changes when the walk ends.  Update-time
    windows bring referred persons out of id order."""
    server = slow_company(fake_server, persons=3000, latency_ms=200)
    m = mount_fs(server, "walk_windows=4", "disk_cache=no")
    server.reset()
    d = m.path / "by-owner" / "1"
    during = {}
    with os.scandir(d) as it:
        for entry in it:
            if entry.name.endswith(".vcf"):
                during[entry.name] = (d / entry.name).read_bytes()
    assert len(during) == 3000
    referring = [n for n, card in during.items() if b"Referred by" in card]
    assert len(referring) > 100, "the company names too few referrers to test this"
    changed = [n for n, card in during.items() if (d / n).read_bytes() != card]
    assert not changed, "%d cards changed after the walk, e.g. %s" % (len(changed), changed[:3])


def test_one_file_one_request(fake_server, mount_fs):
    server = fake_server(persons=3000, owners=2, orgs=10, rate_limit=0, quiet=True)
    m = mount_fs(server, "walk_windows=1")
    p = server.persons(owner_id=2)[700]
    base = safe_base(p["name"], p["id"]).decode()
    server.reset()
    path = m.path / "by-owner" / "2" / (base + ".vcf")
    text = path.read_text()
    assert f"FN:" in text and str(p["id"]) in (m.path / "by-owner" / "2" / (base + ".json")).read_text()
    reqs = server.requests(PERSONS)
    # the person by id (with the ids after it), and the names its people
    # fields refer to: never the folder
    assert 1 <= len(reqs) <= 2 and all("ids" in r["query"] for r in reqs), \
        [r["query"] for r in reqs]
    assert str(p["id"]) in reqs[0]["query"]["ids"].split(",")
    # the same person is not in another owner's folder, nor under another name
    for wrong in (m.path / "by-owner" / "1" / (base + ".vcf"),
                  m.path / "by-owner" / "2" / ("Someone Else (%d).vcf" % p["id"])):
        with pytest.raises(FileNotFoundError):
            wrong.stat()
    # a listing afterwards is the whole folder
    assert set(os.fsencode(n) for n in os.listdir(m.path / "by-owner" / "2")) == \
        expected_names(server.persons(owner_id=2))


def test_filter_folders_are_walked_for_a_lookup(fake_server, mount_fs):
    server = fake_server(persons=300, owners=2, orgs=10, rate_limit=0, quiet=True)
    m = mount_fs(server, "walk_windows=1")
    p = server.persons(filter_id=1)[10]
    base = safe_base(p["name"], p["id"]).decode()
    server.reset()
    assert (m.path / "by-filter" / "1" / (base + ".json")).exists()
    reqs = server.requests(PERSONS)
    assert reqs and all(r["query"].get("filter_id") == "1" for r in reqs)


def test_status_shows_the_walk_in_progress(fake_server, mount_fs):
    server = slow_company(fake_server, persons=3000, latency_ms=400)
    m = mount_fs(server, "walk_windows=1", "disk_cache=no")
    d = m.path / "by-owner" / "1"
    it = os.scandir(d)
    next(it)                              # the walk is running, one page in
    lines = [l for l in (m.path / ".pipedrivefs" / "status").read_text().splitlines()
             if l.startswith("walk_in_progress: ")]
    assert len(lines) == 1 and lines[0].startswith("walk_in_progress: /by-owner/1 pages=")
    fields = dict(f.split("=") for f in lines[0].split()[2:])
    assert int(fields["pages"]) >= 1 and int(fields["persons"]) >= 500
    assert int(fields["in_flight"]) == 1 and float(fields["elapsed_s"]) > 0
    for _ in it:
        pass
    it.close()
    assert "walk_in_progress" not in (m.path / ".pipedrivefs" / "status").read_text()
