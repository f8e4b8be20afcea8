"""Folder files: /by-owner/<id>.vcf, /by-org/<id>.vcf and /by-filter/<id>.vcf
hold every card of their folder in one file, for one-step import.

- the file is the concatenation of the folder's .vcf files in the folder's
  order (by id): as many cards as the folder has persons, each parsed by
  vobject; its size is exact; a read at any offset equals that slice;
- nothing inside the person folders changes;
- the cost of listing a group root: the folder files are listed only for
  folders whose listing is fresh (READDIRPLUS then carries their exact
  size), so `ls`, `ls -l` and a colouring `ls` (which stats every entry) of
  /by-owner walk no folder; any <id>.vcf can be stat'ed or read by name,
  which walks that one folder, once, like an `ls` of it;
- a change in Pipedrive arrives in the file once cache_ttl has passed;
- a 5,000-person folder is read in pieces (never rendered whole on the
  dispatch thread): other requests are answered meanwhile.

Run: /usr/bin/python3 -m pytest tests/mount/test_folder_files.py -q
"""

import os
import random
import subprocess
import threading
import time

import pytest

vobject = pytest.importorskip("vobject", reason="python3-vobject is not "
                              "installed (script/bootstrap installs it)")

PERSONS = "GET /api/v2/persons"
SMALL = dict(persons=200, owners=3, orgs=6, rate_limit=0, quiet=True)
GROUPS = {"by-owner": ("owner_id", 1), "by-org": ("org_id", 2),
          "by-filter": ("filter_id", 5)}


def mounted(fake_server, mount_fs, *opts, **server_args):
    server = fake_server(**dict(SMALL, **server_args))
    mount = mount_fs(server, *opts)
    server.reset()
    return server, mount


def read(path):
    with open(path, "rb") as f:
        return f.read()


def concatenation(mount, group, folder):
    """The folder's .vcf files, in id order, one after the other."""
    d = os.path.join(mount.path, group, str(folder))
    cards = [n for n in os.listdir(d) if n.endswith(".vcf")]
    cards.sort(key=lambda n: int(n.rsplit("(", 1)[1].split(")")[0]))
    return b"".join(read(os.path.join(d, n)) for n in cards), len(cards)


def walks_of(server, key, value):
    return [r for r in server.requests(PERSONS)
            if r["query"].get(key) == str(value)]


# --------------------------------------------------------------------------
# content

@pytest.mark.parametrize("group", sorted(GROUPS))
def test_every_card_of_the_folder(fake_server, mount_fs, group):
    server, mount = mounted(fake_server, mount_fs)
    key, folder = GROUPS[group]
    path = os.path.join(mount.path, group, f"{folder}.vcf")
    data = read(path)
    persons = server.persons(**{key: folder})
    assert persons
    assert os.stat(path).st_size == len(data)          # exact size
    cards = list(vobject.readComponents(data.decode("utf-8")))
    assert len(cards) == len(persons)
    assert data.count(b"BEGIN:VCARD\r\n") == len(persons)
    whole, count = concatenation(mount, group, folder)
    assert count == len(persons)
    assert data == whole                                # the same cards
    uids = {c.uid.value for c in cards}
    assert len(uids) == len(persons)


def test_an_empty_folder_is_an_empty_file(fake_server, mount_fs):
    server, mount = mounted(fake_server, mount_fs)
    path = os.path.join(mount.path, "by-filter", "4.vcf")   # "Nobody"
    assert server.persons(filter_id=4) == []
    assert os.stat(path).st_size == 0
    assert read(path) == b""


def test_reads_at_any_offset(fake_server, mount_fs):
    server, mount = mounted(fake_server, mount_fs, persons=500)
    path = os.path.join(mount.path, "by-owner", "2.vcf")
    whole, _ = concatenation(mount, "by-owner", 2)
    size = os.stat(path).st_size
    assert size == len(whole) > 64 * 1024
    rng = random.Random(7)
    spans = [(0, 1), (size - 1, 1), (size - 10, 100), (size, 10),
             (size + 4096, 10), (4095, 2), (70000, 200000)]
    spans += [(rng.randrange(size), rng.randrange(1, 9000)) for _ in range(40)]
    fd = os.open(path, os.O_RDONLY)
    try:
        for off, n in spans:
            # drop the kernel's copy: every slice is a fresh READ
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            assert os.pread(fd, n, off) == whole[off:off + n], (off, n)
    finally:
        os.close(fd)


def test_person_folders_do_not_change(fake_server, mount_fs):
    """khard and vdirsyncer read the person folders: no duplicate there."""
    server, mount = mounted(fake_server, mount_fs)
    read(os.path.join(mount.path, "by-owner", "1.vcf"))
    names = os.listdir(os.path.join(mount.path, "by-owner", "1"))
    persons = server.persons(owner_id=1)
    assert len(names) == 2 * len(persons)
    assert all(n.endswith(f" ({p}).json") or n.endswith(f" ({p}).vcf")
               for n, p in ((n, n.rsplit("(", 1)[1].split(")")[0])
                            for n in names))


def test_not_a_folder_file(fake_server, mount_fs):
    server, mount = mounted(fake_server, mount_fs)
    root = os.path.join(mount.path, "by-owner")
    for name in ("01.vcf", "1.json", "x.vcf", ".vcf", "1.vcf.vcf"):
        with pytest.raises(FileNotFoundError):
            os.stat(os.path.join(root, name))
    assert server.requests(PERSONS) == []
    with pytest.raises(NotADirectoryError):
        os.listdir(os.path.join(root, "1.vcf"))


# --------------------------------------------------------------------------
# what listing a group root costs

def ls(*args):
    return subprocess.run(["ls", *args], stdout=subprocess.PIPE, check=True,
                          text=True).stdout


def test_listing_a_group_root_walks_no_folder(fake_server, mount_fs):
    server, mount = mounted(fake_server, mount_fs, owners=5)
    root = os.path.join(mount.path, "by-owner")
    # ls, ls -l and a colouring ls (which stats every regular file): no walk,
    # and no folder file while no folder was listed.
    for args in ((root,), ("-l", root), ("--color=always", root)):
        out = ls(*args)
        assert ".vcf" not in out, out
    assert server.requests(PERSONS) == []
    # A folder listed: its file shows beside it, with its exact size, and
    # `ls -l` of the group root still walks nothing.
    os.listdir(os.path.join(root, "3"))
    walked = len(server.requests(PERSONS))
    assert walked >= 1
    whole, _ = concatenation(mount, "by-owner", 3)
    assert sorted(n for n in os.listdir(root) if n.endswith(".vcf")) == ["3.vcf"]
    line = next(x for x in ls("-l", root).splitlines() if x.endswith(" 3.vcf"))
    assert line.split()[4] == str(len(whole))
    ls("--color=always", "-l", root)
    assert len(server.requests(PERSONS)) == walked
    # Any folder file by name: one walk of that folder only, exact size.
    st = os.stat(os.path.join(root, "4.vcf"))
    assert len(walks_of(server, "owner_id", 4)) == 1
    assert st.st_size == len(concatenation(mount, "by-owner", 4)[0])
    assert {r["query"].get("owner_id") for r in server.requests(PERSONS)} \
        <= {"3", "4", None}
    assert sorted(n for n in os.listdir(root) if n.endswith(".vcf")) \
        == ["3.vcf", "4.vcf"]


def test_folder_files_leave_the_listing_when_the_folder_expires(fake_server, mount_fs):
    server, mount = mounted(fake_server, mount_fs, "cache_ttl=1")
    root = os.path.join(mount.path, "by-org")
    os.listdir(os.path.join(root, "2"))
    assert "2.vcf" in os.listdir(root)
    time.sleep(1.3)
    before = len(server.requests(PERSONS))
    assert "2.vcf" not in os.listdir(root)          # its size would need a request
    assert len(server.requests(PERSONS)) == before
    assert os.stat(os.path.join(root, "2.vcf")).st_size > 0  # by name: refreshed


def test_a_change_arrives_after_the_ttl(fake_server, mount_fs):
    server, mount = mounted(fake_server, mount_fs, "cache_ttl=1")
    path = os.path.join(mount.path, "by-owner", "1.vcf")
    before = read(path)
    pid = server.persons(owner_id=1)[0]["id"]
    server.update_person(pid, name="Renamed Person With A Much Longer Name",
                         update_time="2031-01-01T00:00:00Z")
    time.sleep(1.3)
    after = read(path)
    assert os.stat(path).st_size == len(after) != len(before)
    assert b"Renamed Person With A Much Longer Name" in after
    assert after == concatenation(mount, "by-owner", 1)[0]


# --------------------------------------------------------------------------
# a big folder

@pytest.mark.slow
def test_a_big_folder_is_read_in_pieces(fake_server, mount_fs):
    """5,000 persons (about 5 MB of cards), read in small pieces while other
    requests come: each is answered promptly, the file is complete."""
    server, mount = mounted(fake_server, mount_fs, persons=10000, owners=2,
                            orgs=10)
    path = os.path.join(mount.path, "by-owner", "1.vcf")
    expected = len(server.persons(owner_id=1))
    assert expected >= 5000
    size = os.stat(path).st_size                     # walks the folder
    chunks, done = [], threading.Event()

    def reader():
        with open(path, "rb", buffering=0) as f:
            while True:
                block = f.read(8192)
                if not block:
                    break
                chunks.append(block)
        done.set()

    t = threading.Thread(target=reader)
    t.start()
    status = os.path.join(mount.path, ".pipedrivefs", "status")
    slowest = 0.0
    while not done.is_set():
        start = time.monotonic()
        read(status)
        os.stat(os.path.join(mount.path, "by-owner", "1"))
        slowest = max(slowest, time.monotonic() - start)
    t.join(120)
    data = b"".join(chunks)
    assert len(data) == size
    assert data.count(b"BEGIN:VCARD\r\n") == expected
    assert data.endswith(b"END:VCARD\r\n")
    assert slowest < 2.0, slowest                    # generous: shared cores
