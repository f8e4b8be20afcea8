"""Mount tests for the read path of issue 12: cards rendered again on read
with the names they were built with, and files read ahead across a
directory (the first read of a file pushes the next ones into the kernel's
page cache).

Run: /usr/bin/python3 -m pytest tests/mount/test_read_path.py -q
"""

import json
import os

from naming import listdir_b

SMALL = dict(persons=300, owners=1, orgs=5, rate_limit=0, quiet=True)


def status(mount):
    out = {}
    with open(mount.path / ".pipedrivefs" / "status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k.strip()] = v.strip()
    return out


def org_line(card):
    for line in card.split(b"\r\n"):
        if line.startswith(b"ORG:"):
            return line[4:]
    return None


def test_card_read_after_names_changed_keeps_its_size_and_names(fake_server, mount_fs):
    """In memory-only mode the .vcf text is not kept: it is rendered again
    when read.  An organization renamed on the server and learnt by a later
    walk must not change a card listed before: the bytes read are exactly
    st_size long and still show the name it was listed with (until its own
    directory is listed again)."""
    server = fake_server(**SMALL)
    m = mount_fs(server, "disk_cache=no", "cache_ttl=3600")
    d = m.path / "by-owner" / "1"
    names = [n for n in listdir_b(d) if n.endswith(b".vcf")]
    sizes = {n: os.stat(os.path.join(os.fsencode(d), n)).st_size for n in names}
    org = server.organizations()[0]
    server._call("POST", "/_control/organizations/%d" % org["id"],
                 body={"name": org["name"] + " Renamed & Co"})
    # /by-org lists the organizations: meta learns the new name
    assert any(str(org["id"]) == n for n in os.listdir(m.path / "by-org"))
    shown = 0
    for n in names:
        with open(os.path.join(os.fsencode(d), n), "rb") as f:
            card = f.read()
        assert len(card) == sizes[n], n
        line = org_line(card)
        assert line is None or b"Renamed" not in line
        shown += b"\r\nX-PIPEDRIVE-ORG-ID:%d\r\n" % org["id"] in card and line is not None
    assert shown > 0  # persons of that organization were read


def test_files_read_in_order_come_from_the_page_cache(fake_server, mount_fs):
    """grep -r and find | xargs cat read a directory's files in readdir
    order: after the first read, the next persons' files are pushed into the
    page cache (readahead_files counts them) and read back byte for byte what
    a READ would give: st_size bytes, .json equal to the person."""
    server = fake_server(**SMALL)
    m = mount_fs(server, "disk_cache=no", "cache_ttl=3600")
    d = os.fsencode(m.path / "by-owner" / "1")
    names = os.listdir(d)  # readdir order
    assert int(status(m)["readahead_files"]) == 0
    persons = {p["id"]: p for p in server.persons(owner_id=1)}
    for n in names:
        path = os.path.join(d, n)
        with open(path, "rb") as f:
            data = f.read()
        assert len(data) == os.stat(path).st_size, n
        if n.endswith(b".json"):
            got = json.loads(data)
            assert got == persons[got["id"]], n
        else:
            assert data.startswith(b"BEGIN:VCARD\r\n") and data.endswith(b"END:VCARD\r\n")
    pushed = int(status(m)["readahead_files"])
    # pushed ahead, but never more than the directory holds
    assert len(names) // 2 <= pushed <= len(names)
