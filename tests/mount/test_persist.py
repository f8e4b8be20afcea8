"""Mount tests for issue 11: the disk cache.

Restarts that come back without a walk, the shared refresh (N expired
directories, one request), an offline start and its recovery, kill -9 in the
middle of a walk, a scribbled-on database, file modes, one database per mount,
disk_cache=no, and settings that change what the cached vCards hold.

Every test passes -o cache_dir= explicitly (conftest gives each mount its own
XDG_CACHE_HOME otherwise) and compares listings exactly with the fake's data.

Run: /usr/bin/python3 -m pytest tests/mount/test_persist.py -q
"""

import errno
import json
import os
import signal
import sqlite3
import stat
import subprocess
import time
from pathlib import Path

import pytest

from naming import expected_names
from writing import edited_json, save

SMALL = dict(persons=120, owners=3, orgs=10, rate_limit=0, quiet=True)
PERSONS = "GET /api/v2/persons"


def listdir_b(path):
    return set(os.listdir(os.fsencode(path)))


def persons_requests(server):
    return server.count(PERSONS)


def status_of(mount):
    text = (mount.path / ".pipedrivefs" / "status").read_text()
    return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)


def db_files(cache_dir):
    return sorted(p for p in Path(cache_dir).iterdir() if p.name.endswith(".db"))


@pytest.fixture
def cache_dir(tmp_path):
    d = tmp_path / "cache"
    return d


def mount_cached(mount_fs, server, cache_dir, *opts, **kw):
    return mount_fs(server, f"cache_dir={cache_dir}", *opts, **kw)


# --------------------------------------------------------------------------
# restarts

def test_restart_within_the_ttl_needs_no_request(fake_server, mount_fs, cache_dir):
    server = fake_server(**SMALL)
    m = mount_cached(mount_fs, server, cache_dir, "cache_ttl=600")
    d = m.path / "by-owner" / "1"
    first = listdir_b(d)
    assert first == expected_names(server.persons(owner_id=1))
    vcf = sorted(p for p in os.listdir(d) if p.endswith(".vcf"))[0]
    card = (d / vcf).read_bytes()
    m.unmount()

    server.reset()
    m2 = mount_cached(mount_fs, server, cache_dir, "cache_ttl=600")
    d2 = m2.path / "by-owner" / "1"
    assert listdir_b(d2) == first
    assert (d2 / vcf).read_bytes() == card
    assert persons_requests(server) == 0, "a cached directory came back with a walk"
    st = status_of(m2)
    assert int(st["disk_loads"]) >= 1 and st["pipedrive"] == "online"


def test_restart_refreshes_three_directories_with_one_request(fake_server, mount_fs,
                                                              cache_dir):
    server = fake_server(**SMALL)
    m = mount_cached(mount_fs, server, cache_dir, "cache_ttl=1")
    dirs = ["by-owner/1", "by-owner/2", "by-org/3"]
    for rel in dirs:
        listdir_b(m.path / rel)
    m.unmount()

    # While the mount is down: one person changes name, one moves owner.
    mine = server.persons(owner_id=1)
    renamed, moved = mine[3], mine[4]
    server.update_person(renamed["id"], name="Renamed While Down")
    server.update_person(moved["id"], owner_id=2)
    # The copies on disk are older than the next mount's TTL; a TTL of 5 s so
    # that the refreshed listings stay fresh while the test reads all three,
    # even on a loaded machine.
    time.sleep(5.2)
    server.reset()
    m2 = mount_cached(mount_fs, server, cache_dir, "cache_ttl=5")
    for rel, want in (("by-owner/1", server.persons(owner_id=1)),
                      ("by-owner/2", server.persons(owner_id=2)),
                      ("by-org/3", server.persons(org_id=3))):
        assert listdir_b(m2.path / rel) == expected_names(want), rel
    reqs = server.requests(PERSONS)
    assert 1 <= len(reqs) <= 2, [r["query"] for r in reqs]
    assert all("updated_since" in r["query"] for r in reqs), "a full walk after a restart"
    assert int(status_of(m2)["walks_full"]) == 0


def test_shared_refresh_while_mounted(fake_server, mount_fs, cache_dir):
    server = fake_server(**SMALL)
    m = mount_cached(mount_fs, server, cache_dir, "cache_ttl=1")
    dirs = ["by-owner/1", "by-owner/2", "by-owner/3", "by-org/1", "by-id"]
    for rel in dirs:
        listdir_b(m.path / rel)
    changed = server.persons(owner_id=3)[0]
    server.update_person(changed["id"], owner_id=1)
    time.sleep(1.3)
    server.reset()
    assert listdir_b(m.path / "by-owner/1") == expected_names(server.persons(owner_id=1))
    assert persons_requests(server) == 1
    # the others came up to date with that one request
    assert listdir_b(m.path / "by-owner/3") == expected_names(server.persons(owner_id=3))
    assert listdir_b(m.path / "by-org/1") == expected_names(server.persons(org_id=1))
    assert persons_requests(server) == 1, "each expired directory paid its own refresh"
    assert int(status_of(m)["walks_shared"]) >= 4


def test_shared_refresh_without_a_disk_cache(fake_server, mount_fs):
    server = fake_server(**SMALL)
    m = mount_fs(server, "cache_ttl=1", "disk_cache=no")
    for rel in ("by-owner/1", "by-owner/2", "by-org/2"):
        listdir_b(m.path / rel)
    time.sleep(1.3)
    server.reset()
    for rel in ("by-owner/1", "by-owner/2", "by-org/2"):
        listdir_b(m.path / rel)
    assert persons_requests(server) == 1


def test_full_walk_schedule_survives_a_restart(fake_server, mount_fs, cache_dir):
    server = fake_server(**SMALL)
    m = mount_cached(mount_fs, server, cache_dir, "cache_ttl=1", "full_refresh=3")
    listdir_b(m.path / "by-owner/1")
    m.unmount()
    victim = server.persons(owner_id=1)[7]
    server.delete_person(victim["id"])
    time.sleep(3.3)
    server.reset()
    m2 = mount_cached(mount_fs, server, cache_dir, "cache_ttl=1", "full_refresh=3")
    assert listdir_b(m2.path / "by-owner/1") == expected_names(server.persons(owner_id=1))
    reqs = server.requests(PERSONS)
    assert reqs and all(r["query"].get("owner_id") == "1" for r in reqs), "not a full walk"


def test_sighup_after_a_restart_walks_in_full(fake_server, mount_fs, cache_dir):
    server = fake_server(**SMALL)
    m = mount_cached(mount_fs, server, cache_dir, "cache_ttl=600")
    listdir_b(m.path / "by-owner/2")
    m.unmount()
    m2 = mount_cached(mount_fs, server, cache_dir, "cache_ttl=600")
    os.kill(m2.pid, signal.SIGHUP)
    time.sleep(0.3)
    server.reset()
    assert listdir_b(m2.path / "by-owner/2") == expected_names(server.persons(owner_id=2))
    reqs = server.requests(PERSONS)
    assert reqs and all(r["query"].get("owner_id") == "2" for r in reqs)


def test_changed_vcard_settings_start_an_empty_cache(fake_server, mount_fs, cache_dir):
    server = fake_server(**SMALL)
    m = mount_cached(mount_fs, server, cache_dir, "cache_ttl=600")
    listdir_b(m.path / "by-owner/1")
    m.unmount()
    server.reset()
    m2 = mount_cached(mount_fs, server, cache_dir, "cache_ttl=600", "vcard_version=4.0")
    d = m2.path / "by-owner" / "1"
    listdir_b(d)
    assert persons_requests(server) >= 1, "3.0 cards were served to a 4.0 mount"
    card = next(p for p in d.iterdir() if p.suffix == ".vcf").read_bytes()
    assert b"VERSION:4.0" in card


# --------------------------------------------------------------------------
# offline

def down(server):
    """Pipedrive unreachable: every API answer is a 503 until further notice."""
    server.faults({"path": "/api/", "kind": "503", "count": -1})


def test_offline_start_serves_the_cache_and_recovers(fake_server, mount_fs, cache_dir):
    server = fake_server(**SMALL)
    m = mount_cached(mount_fs, server, cache_dir, "cache_ttl=1")
    cached = listdir_b(m.path / "by-owner" / "1")
    # the owners and their links (folder files show only beside fresh folders)
    groups = {n for n in listdir_b(m.path / "by-owner") if not n.endswith(b".vcf")}
    m.unmount()

    down(server)
    m2 = mount_cached(mount_fs, server, cache_dir, "cache_ttl=1",
                      env={"PDFS_TEST_RECONNECT_S": "2"})
    assert "mounting the disk cache instead" in m2.log()
    assert listdir_b(m2.path / "by-owner" / "1") == cached
    assert {n for n in listdir_b(m2.path / "by-owner") if not n.endswith(b".vcf")} == groups
    st = status_of(m2)
    assert st["pipedrive"] == "offline"
    assert int(st["disk_served_stale"]) >= 1
    t0 = time.monotonic()
    with pytest.raises(OSError) as e:
        os.listdir(m2.path / "by-owner" / "2")     # never cached
    assert e.value.errno == errno.EIO
    assert time.monotonic() - t0 < 3, "an uncached directory hung while offline"
    # Pipedrive comes back: the mount notices and refreshes.
    server.faults()
    server.reset()
    deadline = time.monotonic() + 20
    while status_of(m2)["pipedrive"] != "online" and time.monotonic() < deadline:
        time.sleep(0.3)
    assert status_of(m2)["pipedrive"] == "online"
    assert listdir_b(m2.path / "by-owner" / "2") == expected_names(server.persons(owner_id=2))
    assert "answers again" in m2.log()


def test_offline_start_without_a_cache_exits_3(fake_server, run_pipedrivefs, tmp_path,
                                               cache_dir):
    server = fake_server(**SMALL)
    down(server)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    res = run_pipedrivefs([mnt, "-f", "-o", f"base_url={server.base_url},cache_dir={cache_dir}"],
                          env={"PIPEDRIVE_API_TOKEN": server.token}, timeout=60)
    assert res.returncode == 3, res.stderr
    assert "no cache" in res.stderr
    assert not res.mounted


def test_offline_cache_needs_the_same_token(fake_server, mount_fs, run_pipedrivefs, tmp_path,
                                            cache_dir):
    server = fake_server(**SMALL)
    m = mount_cached(mount_fs, server, cache_dir)
    listdir_b(m.path / "by-owner" / "1")
    m.unmount()
    down(server)
    mnt = tmp_path / "mnt2"
    mnt.mkdir()
    res = run_pipedrivefs([mnt, "-f", "-o", f"base_url={server.base_url},cache_dir={cache_dir}"],
                          env={"PIPEDRIVE_API_TOKEN": "another-token"}, timeout=60)
    assert res.returncode == 3 and "another API token" in res.stderr
    assert not res.mounted


# --------------------------------------------------------------------------
# crash safety and damaged databases

def test_kill_9_in_the_middle_of_a_walk(fake_server, mount_fs, cache_dir):
    server = fake_server(persons=3000, owners=1, orgs=5, rate_limit=0, quiet=True,
                         latency_ms=150)
    m = mount_cached(mount_fs, server, cache_dir, "walk_windows=1", "page_limit=100")
    d = m.path / "by-owner" / "1"
    lister = subprocess.Popen(["ls", str(d)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while persons_requests(server) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(m.pid, signal.SIGKILL)
    m.proc.wait(10)
    lister.wait(20)
    m.check_on_teardown = False
    m.unmount()
    for db in db_files(cache_dir):
        con = sqlite3.connect(db)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # the listing of the walk that was killed is not there, not in part
        assert con.execute("SELECT count(*) FROM listings WHERE count > 0").fetchone()[0] == 0
        con.close()
    server.config(latency_ms=0)
    m2 = mount_cached(mount_fs, server, cache_dir, "page_limit=500")
    assert listdir_b(m2.path / "by-owner" / "1") == expected_names(server.persons(owner_id=1))
    assert "moved" not in m2.log()


@pytest.mark.parametrize("damage", ["garbage", "truncate", "foreign"])
def test_damaged_database_is_moved_aside(fake_server, mount_fs, cache_dir, damage):
    server = fake_server(**SMALL)
    m = mount_cached(mount_fs, server, cache_dir)
    listdir_b(m.path / "by-owner" / "1")
    m.unmount()
    (db,) = db_files(cache_dir)
    if damage == "garbage":
        with open(db, "r+b") as f:
            f.write(b"\xde\xad\xbe\xef" * 256)
    elif damage == "truncate":
        size = db.stat().st_size
        with open(db, "r+b") as f:
            f.truncate(size // 3)
    else:
        con = sqlite3.connect(db)
        con.execute("PRAGMA application_id=12345")
        con.commit()
        con.close()
    server.reset()
    m2 = mount_cached(mount_fs, server, cache_dir)
    assert listdir_b(m2.path / "by-owner" / "1") == expected_names(server.persons(owner_id=1))
    assert "moved to" in m2.log()
    assert any(".broken-" in p.name for p in Path(cache_dir).iterdir())
    assert persons_requests(server) >= 1


def test_scribbled_rows_are_not_served(fake_server, mount_fs, cache_dir):
    server = fake_server(**SMALL)
    m = mount_cached(mount_fs, server, cache_dir, "cache_ttl=600")
    listdir_b(m.path / "by-owner" / "1")
    m.unmount()
    (db,) = db_files(cache_dir)
    con = sqlite3.connect(db)
    some = con.execute("SELECT id FROM persons LIMIT 1").fetchone()[0]
    con.execute("UPDATE persons SET base='../../etc/passwd' WHERE id=?", (some,))
    con.commit()
    con.close()
    server.reset()
    m2 = mount_cached(mount_fs, server, cache_dir, "cache_ttl=600")
    names = listdir_b(m2.path / "by-owner" / "1")
    assert names == expected_names(server.persons(owner_id=1))
    assert not any(b"passwd" in n for n in names)
    assert persons_requests(server) >= 1, "a damaged copy was served"
    assert "cannot be used" in m2.log()


# --------------------------------------------------------------------------
# files, privacy, modes

def test_files_are_private_and_hold_no_token(fake_server, mount_fs, cache_dir):
    server = fake_server(**SMALL)
    m = mount_cached(mount_fs, server, cache_dir)
    listdir_b(m.path / "by-owner" / "1")
    m.unmount()
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700
    for p in cache_dir.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
        assert server.token.encode() not in p.read_bytes(), p


@pytest.mark.parametrize("what", ["folder", "database"])
def test_cache_others_can_read_is_refused(fake_server, mount_fs, run_pipedrivefs, tmp_path,
                                          cache_dir, what):
    server = fake_server(**SMALL)
    m = mount_cached(mount_fs, server, cache_dir)
    m.unmount()
    target = cache_dir if what == "folder" else db_files(cache_dir)[0]
    target.chmod(0o755 if what == "folder" else 0o644)
    mnt = tmp_path / "mnt2"
    mnt.mkdir()
    res = run_pipedrivefs([mnt, "-f", "-o", f"base_url={server.base_url},cache_dir={cache_dir}"],
                          env={"PIPEDRIVE_API_TOKEN": server.token})
    assert res.returncode == 1, res.stderr
    assert "chmod" in res.stderr and str(target) in res.stderr
    assert not res.mounted


def test_disk_cache_no_writes_nothing(fake_server, mount_fs, cache_dir):
    server = fake_server(**SMALL)
    m = mount_cached(mount_fs, server, cache_dir, "disk_cache=no")
    listdir_b(m.path / "by-owner" / "1")
    assert "disk_cache_path" not in status_of(m)
    m.unmount()
    assert not cache_dir.exists()


def test_two_mounts_of_one_company_use_two_databases(fake_server, mount_fs, cache_dir):
    server = fake_server(**SMALL)
    a = mount_cached(mount_fs, server, cache_dir)
    b = mount_cached(mount_fs, server, cache_dir)
    assert listdir_b(a.path / "by-owner" / "1") == listdir_b(b.path / "by-owner" / "1")
    assert status_of(a)["disk_cache_path"] != status_of(b)["disk_cache_path"]
    assert "uses its own" in b.log()


def test_default_folder_is_xdg_cache_home(fake_server, mount_fs, tmp_path):
    server = fake_server(**SMALL)
    xdg = tmp_path / "xdg"
    m = mount_fs(server, env={"XDG_CACHE_HOME": str(xdg)})
    listdir_b(m.path / "by-owner" / "1")
    assert status_of(m)["disk_cache_path"].startswith(str(xdg / "pipedrivefs") + "/")


# --------------------------------------------------------------------------
# bounded memory

def vm_kib(pid, key):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


@pytest.mark.slow
def test_grep_over_100000_persons_within_24_mb(fake_server, mount_fs, cache_dir):
    server = fake_server(persons=100000, owners=1, orgs=10, rate_limit=0, quiet=True)
    m = mount_cached(mount_fs, server, cache_dir, "cache_max_mb=24", "walk_windows=1")
    d = m.path / "by-owner" / "1"
    assert len(os.listdir(d)) == 200000
    listed_mib = vm_kib(m.pid, "VmRSS") / 1024
    out = subprocess.run(["grep", "-rl", "END:VCARD", str(d)], stdout=subprocess.PIPE,
                         timeout=600, check=True).stdout
    assert len(out.splitlines()) == 100000, "grep -r did not find every card"
    st = status_of(m)
    assert int(st["memory_person_bytes"]) <= 24 << 20
    assert int(st["memory_loads"]) > 50000, "the cards were not read back from disk"
    # Reading every card through the bound churns persons between threads;
    # with one malloc arena per thread the freed ones piled up in each
    # (RSS grew by 13 to 26 MiB here); with one arena the grep adds nothing.
    grew_mib = vm_kib(m.pid, "VmRSS") / 1024 - listed_mib
    assert grew_mib < 8, f"RSS grew by {grew_mib:.0f} MiB while grep read the cards"
    # 24 MiB bound (half listings by id and persons in use, half persons'
    # bytes), a fixed part (about 12 MiB at start, the pages in flight), and
    # while the first walk runs some 30 bytes per person: 60 MiB measured;
    # 67-74 when listings held every person, 96-99 before that.
    peak_mib = vm_kib(m.pid, "VmHWM") / 1024
    assert peak_mib < 24 + 48, f"peak RSS {peak_mib:.0f} MiB"


@pytest.mark.slow
def test_bounded_peak_barely_grows_with_the_number_of_persons(fake_server, mount_fs, tmp_path):
    """cache_max_mb bounds the daemon whatever the folder's size: five times
    the persons add only what a first walk holds per person (its ids)."""
    peaks = {}
    # 4 MiB: both sizes are far past the bound (2 MiB of listings and light
    # persons hold about 18,000 persons)
    for n in (30000, 150000):
        server = fake_server(persons=n, owners=1, orgs=10, rate_limit=0, quiet=True)
        m = mount_cached(mount_fs, server, tmp_path / f"cache-{n}", "cache_max_mb=4",
                         "walk_windows=1")
        d = m.path / "by-owner" / "1"
        assert sum(1 for e in os.scandir(d) if e.stat().st_size > 0) == 2 * n
        peaks[n] = vm_kib(m.pid, "VmHWM") / 1024
        m.unmount()
        server.stop()
    # 120,000 more persons: 2.5 MiB measured (the first walk's ids, about 13
    # bytes each, and the allocator's slack); 8 MiB when meta kept every name
    # the cards show and the streamed listing an id table (2365cd1).
    grew = peaks[150000] - peaks[30000]
    assert grew < 5, f"peak RSS {peaks[30000]:.0f} -> {peaks[150000]:.0f} MiB"


def vcf_cards(folder):
    return {n: (folder / n).read_bytes() for n in os.listdir(folder) if n.endswith(".vcf")}


def test_bounded_cards_name_the_persons_meta_let_go(fake_server, mount_fs, tmp_path):
    """Under cache_max_mb meta keeps no "Referred by" names for good: each is
    held while the page that shows it is built, and a card rendered later
    (here after an edit) reads the name from the disk.  Every card is what a
    mount without a bound shows, byte for byte."""
    server = fake_server(persons=4000, owners=1, orgs=10, rate_limit=0, quiet=True)
    free = mount_fs(server, "disk_cache=no", "walk_windows=4")
    want = vcf_cards(free.path / "by-owner" / "1")
    kept_unbounded = int(status_of(free)["person_names_known"])
    free.unmount()
    m = mount_cached(mount_fs, server, tmp_path / "cache", "cache_max_mb=1",
                     "walk_windows=4", "rw")
    d = m.path / "by-owner" / "1"
    got = vcf_cards(d)
    assert got.keys() == want.keys()
    differ = [n for n in want if got[n] != want[n]]
    assert not differ, f"{len(differ)} cards differ from an unbounded mount's, e.g. {differ[:2]}"
    referring = sorted(n for n, card in got.items() if b"Referred by" in card)
    assert len(referring) > 500, "the company names too few referrers to test this"
    kept = int(status_of(m)["person_names_known"])
    assert kept_unbounded > 300 and kept < 50, (kept_unbounded, kept)
    # an edit: Pipedrive's answer is rendered again, the name from the disk
    def referrer(card):  # the value of the group labelled "Referred by"
        lines = card.split(b"\r\n")
        group = next((ln.split(b".")[0] for ln in lines if ln.endswith(b":Referred by")), None)
        return [ln for ln in lines
                if group and ln.startswith(group + b".") and b"X-ABLabel" not in ln]

    for name in referring[:3]:  # at most 49 names stay: some of these are not
        named = referrer(got[name])
        assert named and named[0].split(b":", 1)[1], named
        json_path = d / name.replace(".vcf", ".json")
        assert save(json_path, edited_json(json_path, job_title="Referred Tester")) == 0
        after = (d / name).read_bytes()
        assert b"TITLE:Referred Tester" in after and referrer(after) == named, after


def test_bounded_reads_equal_unbounded_reads(fake_server, mount_fs, cache_dir, tmp_path):
    server = fake_server(persons=3000, owners=1, orgs=10, rate_limit=0, quiet=True)
    small = mount_cached(mount_fs, server, cache_dir, "cache_max_mb=1", "walk_windows=1")
    big = mount_fs(server, "disk_cache=no", "walk_windows=1")
    a, b = small.path / "by-owner" / "1", big.path / "by-owner" / "1"
    names = sorted(os.listdir(a))
    assert names == sorted(os.listdir(b))
    for name in names[::7]:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
        assert (a / name).stat().st_size == (b / name).stat().st_size
    st = status_of(small)
    assert int(st["memory_person_bytes"]) <= 1 << 20 and int(st["memory_loads"]) > 0
