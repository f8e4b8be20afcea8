"""The CardDAV round trip: a mounted person folder synced into a CardDAV server.

vdirsyncer (a `filesystem` storage with `read_only = true` and
`fileext = ".vcf"` on by-owner/1 of the mount) syncs into a Radicale address
book (tests/radicale_server.py; one Radicale per module, on 127.0.0.1 with its
own config, storage and port).  This is the README's recipe, run for real:

- every card arrives: the address book holds exactly one card per person of
  the folder (the fake server's persons of owner 1), with the UIDs the vCard
  rules promise (uuid5 of pipedrive:<company>:person:<id>; `urn:uuid:` in
  4.0); the `.json` files beside the cards are not uploaded; each card read
  back over CardDAV parses with vobject and says what the mounted file says
  (Radicale re-serializes cards: property order, case of X- names and TYPE
  lists change, the content does not);
- a second sync without a change writes nothing (no PUT, no DELETE);
- a change in Pipedrive (an edited person, a new person) arrives on the next
  sync once cache_ttl has passed, and only that card is written; a deleted
  person leaves the address book after a full walk (SIGHUP);
- Pipedrive failing while the mount starts never empties the address book;
- both vCard versions (the default 3.0 and -o vcard_version=4.0).

Skipped (with the reason) when radicale, vdirsyncer or vobject is missing;
script/bootstrap installs them.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
import radicale_server  # noqa: E402

vobject = pytest.importorskip("vobject", reason="python3-vobject is not "
                              "installed (script/bootstrap installs it)")

COMPANY = "acme"                      # the fake's company_domain
OWNER = 1                             # by-owner/1: the odd ids, tricky ones too
CACHE_TTL = 1
SMALL = dict(persons=60, owners=2, orgs=5, rate_limit=0, quiet=True)
VERSIONS = {"3.0": (), "4.0": ("vcard_version=4.0",)}
UID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL,
                           "https://pipedrivefs.invalid/vcard/uid")
SYNC_TIMEOUT = 120


def expected_uid(person_id, version):
    u = str(uuid.uuid5(UID_NAMESPACE, f"pipedrive:{COMPANY}:person:{person_id}"))
    return "urn:uuid:" + u if version == "4.0" else u


# --------------------------------------------------------------------------
# Radicale and vdirsyncer

@pytest.fixture(scope="module")
def radicale(tmp_path_factory):
    reason = radicale_server.missing_reason()
    if reason:
        pytest.skip(reason)
    server = radicale_server.RadicaleServer(tmp_path_factory.mktemp("radicale"))
    yield server
    server.stop()


class Vdirsyncer:
    """One vdirsyncer configuration: pair "crm" syncs collection `folder`
    (a directory of the mount, e.g. by-owner/1) of a read-only filesystem
    storage into address book `book` of the Radicale server."""

    def __init__(self, workdir, folder, radicale, book):
        self.workdir = Path(workdir)
        self.book = book
        self.config = self.workdir / "config"
        self.config.write_text(f"""\
[general]
status_path = "{self.workdir / 'status'}/"

[pair crm]
a = "crm_folder"
b = "crm_carddav"
collections = [["{book}", "{folder.name}", "{book}"]]
conflict_resolution = "a wins"

[storage crm_folder]
type = "filesystem"
path = "{folder.parent}/"
fileext = ".vcf"
read_only = true

[storage crm_carddav]
type = "carddav"
url = "{radicale.url}"
username = "{radicale.user}"
password = "{radicale.password}"
""")
        home = self.workdir / "home"
        home.mkdir(exist_ok=True)
        self.env = dict(os.environ, HOME=str(home),
                        XDG_CONFIG_HOME=str(home / ".config"))

    def run(self, *args, answers=""):
        return subprocess.run(
            ["vdirsyncer", "-c", str(self.config), *args], input=answers,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=self.env, timeout=SYNC_TIMEOUT)

    def discover(self):
        """`vdirsyncer discover`, answering yes to "create the address
        book?" as a user setting it up would."""
        res = self.run("discover", answers="y\n" * 4)
        assert res.returncode == 0, res.stdout
        return res.stdout

    def sync(self, ok=True):
        res = self.run("sync")
        if ok:
            assert res.returncode == 0, res.stdout
            assert "error" not in res.stdout.lower(), res.stdout
        return res


@pytest.fixture
def vdirsyncer(tmp_path):
    if shutil.which("vdirsyncer") is None:
        pytest.skip("vdirsyncer is not installed (apt-get install vdirsyncer)")
    count = [0]

    def make(folder, radicale, book):
        count[0] += 1
        work = tmp_path / f"vdirsyncer{count[0]}"
        work.mkdir()
        return Vdirsyncer(work, folder, radicale, book)
    return make


# --------------------------------------------------------------------------
# comparing cards

def parse(text):
    card = vobject.readOne(text)
    assert card.name == "VCARD"
    return card


def normalized(card):
    """A card's content lines, independent of what Radicale may change while
    keeping the meaning: line order, case of names and parameter names,
    TYPE=a;TYPE=b vs TYPE=a,b."""
    out = []
    for line in card.getChildren():
        params = tuple(sorted(
            (k.upper(), tuple(sorted(v.upper() for vals in values
                                     for v in vals.split(","))))
            for k, values in line.params.items()))
        out.append(((line.group or "").lower(), line.name.upper(),
                    str(line.value), params))
    return sorted(out)


def mounted_cards(folder):
    """{UID: (file name, parsed card)} of the folder's .vcf files."""
    out = {}
    for name in os.listdir(folder):
        if name.endswith(".vcf"):
            card = parse((folder / name).read_bytes().decode("utf-8"))
            assert card.uid.value not in out, name
            out[card.uid.value] = (name, card)
    return out


def book_cards(radicale, book):
    """{UID: (etag, parsed card)} of the address book, over CardDAV."""
    out = {}
    for href, (etag, text) in radicale.cards(book).items():
        card = parse(text)
        assert card.uid.value not in out, href
        out[card.uid.value] = (etag, card)
    return out


def uids_of(server, version):
    return {expected_uid(p["id"], version)
            for p in server.persons(owner_id=OWNER)}


def assert_book_equals_folder(radicale, book, folder):
    book = book_cards(radicale, book)
    mine = mounted_cards(folder)
    assert set(book) == set(mine)
    for uid, (_, card) in mine.items():
        assert normalized(book[uid][1]) == normalized(card), uid
    return book


def copied(output):
    """The idents vdirsyncer reported as uploaded/updated/deleted."""
    out = {"uploading": set(), "updating": set(), "deleting": set()}
    for line in output.splitlines():
        words = line.split()
        if line.startswith("Copying (uploading) item "):
            out["uploading"].add(words[3])
        elif line.startswith("Copying (updating) item "):
            out["updating"].add(words[3])
        elif line.startswith("Deleting item "):
            out["deleting"].add(words[2])
    return out


# --------------------------------------------------------------------------
# the round trip

@pytest.mark.parametrize("version", list(VERSIONS))
def test_round_trip(fake_server, mount_fs, radicale, vdirsyncer, version):
    server = fake_server(**SMALL)
    mnt = mount_fs(server, f"cache_ttl={CACHE_TTL}", *VERSIONS[version])
    folder = mnt.path / "by-owner" / str(OWNER)
    book = "acme-" + version.replace(".", "")
    vds = vdirsyncer(folder, radicale, book)
    vds.discover()

    # 1. every card arrives, and only the cards
    persons = server.persons(owner_id=OWNER)
    res = vds.sync()
    assert copied(res.stdout)["uploading"] == uids_of(server, version)
    cards = assert_book_equals_folder(radicale, book, folder)
    assert set(cards) == uids_of(server, version)
    assert len(cards) == len(persons) == 30
    assert all(uid.startswith("urn:uuid:") == (version == "4.0")
               for uid in cards)
    for uid, (_, card) in cards.items():
        assert card.version.value == version, uid

    # 2. nothing changed: nothing is written
    writes = radicale.writes()
    time.sleep(CACHE_TTL + 0.2)                 # the listing is refreshed too
    res = vds.sync()
    assert copied(res.stdout) == {"uploading": set(), "updating": set(),
                                  "deleting": set()}, res.stdout
    assert radicale.writes() == writes
    assert {u: e for u, (e, _) in book_cards(radicale, book).items()} == \
        {u: e for u, (e, _) in cards.items()}

    # 3. a change in Pipedrive arrives on the next sync, and only it.  The
    # edit keeps the name, so the file name (vdirsyncer's href) stays and
    # only the mtime in vdirsyncer's ETag (mtime;inode) tells the change.
    edited = next(p["id"] for p in persons if p["id"] > 31)
    server.update_person(edited, job_title="Chief Tester",
                         phones=[{"value": "+1 555 0100", "primary": True,
                                  "label": "work"}])
    created = server.create_person(name="New Person", owner_id=OWNER,
                                   emails=[{"value": "new@example.com",
                                            "primary": True,
                                            "label": "work"}])["id"]
    time.sleep(CACHE_TTL + 0.2)
    res = vds.sync()
    assert copied(res.stdout) == {
        "uploading": {expected_uid(created, version)},
        "updating": {expected_uid(edited, version)},
        "deleting": set()}, res.stdout
    assert radicale.writes() == writes + 2
    after = assert_book_equals_folder(radicale, book, folder)
    card = after[expected_uid(edited, version)][1]
    assert card.title.value == "Chief Tester"
    assert [t.value for t in card.contents["tel"]] == ["+1 555 0100"]
    assert after[expected_uid(created, version)][1].fn.value == "New Person"
    unchanged = set(cards) - {expected_uid(edited, version)}
    assert {u: after[u][0] for u in unchanged} == \
        {u: cards[u][0] for u in unchanged}

    # 4. a deleted person leaves the address book after a full walk
    gone = next(p["id"] for p in persons if p["id"] > 31 and p["id"] != edited)
    server.delete_person(gone)
    os.kill(mnt.pid, signal.SIGHUP)
    res = vds.sync()
    assert copied(res.stdout)["deleting"] == {expected_uid(gone, version)}
    final = assert_book_equals_folder(radicale, book, folder)
    assert len(final) == 30

    # 5. an organization renamed in Pipedrive changes the cards of its
    # persons (ORG) but not their update_time: the mtime's nanoseconds
    # (a digest of the bytes) still tell vdirsyncer, so they arrive.
    org = next(p["org_id"] for p in server.persons(owner_id=OWNER) if p.get("org_id"))
    server._call("POST", f"/_control/organizations/{org}", body={"name": "Renamed Org"})
    os.kill(mnt.pid, signal.SIGHUP)             # names are refetched by a full walk
    time.sleep(0.3)
    # every card that shows the organization: ORG, or an organization field
    showing = {uid for uid, (_, card) in mounted_cards(folder).items()
               if "Renamed Org" in card.serialize()}
    assert {expected_uid(p["id"], version) for p in server.persons(owner_id=OWNER)
            if p.get("org_id") == org} <= showing
    res = vds.sync()
    assert copied(res.stdout)["updating"] == showing, res.stdout
    renamed = assert_book_equals_folder(radicale, book, folder)
    assert all("Renamed Org" in renamed[u][1].serialize() for u in showing)


def test_pipedrive_down_at_mount_never_empties_the_address_book(
        fake_server, mount_fs, radicale, vdirsyncer, tmp_path):
    """The sync timer fires after a reboot while Pipedrive fails after the
    first page (page_limit=10: owner 1's 30 persons are 3 pages): the listing
    fails (EIO, never a partial listing, which vdirsyncer would turn into
    deletions), vdirsyncer stops with an error and deletes nothing.  (~/crm
    is a symlink here because every mount_fs mount gets a new mountpoint.)"""
    server = fake_server(**SMALL)
    opts = (f"cache_ttl={CACHE_TTL}", "page_limit=10", "walk_windows=1")
    mnt = mount_fs(server, *opts)
    crm = tmp_path / "crm"
    crm.symlink_to(mnt.path)
    vds = vdirsyncer(crm / "by-owner" / str(OWNER), radicale, "acme-down")
    vds.discover()
    vds.sync()
    before = book_cards(radicale, "acme-down")
    assert len(before) == 30
    mnt.unmount()

    server.faults({"path": "/api/v2/persons", "kind": "500", "skip": 1,
                   "count": -1})
    mnt = mount_fs(server, *opts)
    crm.unlink()
    crm.symlink_to(mnt.path)
    writes = radicale.writes()
    res = vds.sync(ok=False)
    assert res.returncode != 0, res.stdout
    assert copied(res.stdout)["deleting"] == set(), res.stdout
    assert radicale.writes() == writes
    assert set(book_cards(radicale, "acme-down")) == set(before)
