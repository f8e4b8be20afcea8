"""A hostile or buggy server never hurts the mount.

Most tests run the daemon against tests/hostile_server.py, which answers the
start-up requests minimally and misbehaves on GET /api/v2/persons in the way
its --mode says; the torn-read test uses the fake server's control interface.
Every listing runs in a child process with a bound, so a daemon that hangs a
caller fails the test instead of hanging it.  See docs/testing.md
("Hostile server") for the table of cases.
"""

import errno
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import FakeServer

REPO = Path(__file__).resolve().parents[2]
HOSTILE = REPO / "tests" / "hostile_server.py"
sys.path.insert(0, str(REPO / "tests"))
import hostile_server as hostile  # noqa: E402  (the objects it sends)

PY = "/usr/bin/python3"
CHILD_LISTDIR = ("import json, os, sys\n"
                 "try:\n"
                 "    print(json.dumps(sorted(os.listdir(sys.argv[1]))))\n"
                 "except OSError as e:\n"
                 "    print(json.dumps(e.errno)); sys.exit(1)\n")
CHILD_READ = ("import json, os, sys\n"
              "try:\n"
              "    st = os.stat(sys.argv[1])\n"
              "    data = open(sys.argv[1], 'rb').read()\n"
              "    sys.stdout.buffer.write(b'%d\\n' % st.st_size + data)\n"
              "except OSError as e:\n"
              "    print(json.dumps(e.errno)); sys.exit(1)\n")


class HostileServer(FakeServer):
    """A running tests/hostile_server.py (for mount_fs like a FakeServer;
    stop() and log() are FakeServer's)."""

    def __init__(self, workdir, mode, **kw):
        self.token = "test-token"
        port_file = Path(workdir) / "port"
        args = [sys.executable, str(HOSTILE), "--port", "0", "--port-file",
                str(port_file), "--token", self.token, "--mode", mode]
        for key, value in kw.items():
            args += ["--" + key.replace("_", "-"), str(value)]
        self.log_path = Path(workdir) / "server.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdout=self._log,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                self.port = int(port_file.read_text())
                break
            except (FileNotFoundError, ValueError):
                time.sleep(0.05)
        else:
            self.stop()
            pytest.fail("hostile server did not start: %s" % self.log())
        self.url = f"http://127.0.0.1:{self.port}"
        self.base_url = f"{self.url}/api/v2"

    def requests(self, path="/api/v2/persons"):
        with urllib.request.urlopen(self.url + "/_stats", timeout=30) as r:
            reqs = json.loads(r.read())["requests"]
        return [r for r in reqs if r["path"] == path]


@pytest.fixture
def hostile_server(tmp_path_factory):
    servers = []

    def start(mode, **kw):
        srv = HostileServer(tmp_path_factory.mktemp("hostile"), mode, **kw)
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.stop()


class Child:
    """A process working in the mount; never waited for without a bound."""

    def __init__(self, args):
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL)

    def finish(self, timeout, what):
        """Wait up to timeout s; fail (leaving the child to the mount's
        teardown, which frees it) if it does not end."""
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            pytest.fail(f"{what} did not end within {timeout} s")
        return self.proc.returncode, out, err


def listdir_child(path, timeout=60.0):
    """(names, None) or (None, errno) of os.listdir(path) in a child."""
    rc, out, _ = Child([PY, "-c", CHILD_LISTDIR, str(path)]).finish(
        timeout, f"listing {path}")
    value = json.loads(out)
    return (value, None) if rc == 0 else (None, value)


def read_child(path, timeout=120.0):
    """(st_size, bytes, None) or (None, None, errno), read in a child."""
    rc, out, _ = Child([PY, "-c", CHILD_READ, str(path)]).finish(
        timeout, f"reading {path}")
    if rc != 0:
        return None, None, json.loads(out)
    size, _, data = out.partition(b"\n")
    return int(size), data, None


def log_lines(mount, *needles):
    return [line for line in mount.log().splitlines()
            if all(n.lower() in line.lower() for n in needles)]


def show(mount):
    return "\n--- daemon log ---\n" + mount.log()[-6000:]


# --------------------------------------------------------------------------
# 1. Walks that never end

@pytest.mark.parametrize("mode,most_requests", [
    ("cycle", 3),          # pages "", A, B; B hands out A again
    ("same-ids", 12),      # 1 + 1 + 10 pages with nothing new
    ("empty-pages", 11),
    ("backwards", 12),
    ("long-cursor", 1),    # a 100 KB cursor is never sent back
])
def test_walk_that_never_ends_fails_with_eio(hostile_server, mount_fs, mode,
                                             most_requests):
    srv = hostile_server(mode)
    mount = mount_fs(srv, "walk_windows=1")
    names, err = listdir_child(mount.path / "by-owner" / "1", timeout=60)
    assert err == errno.EIO, (names, err, show(mount))
    reqs = srv.requests()
    assert 1 <= len(reqs) <= most_requests, (len(reqs), show(mount))
    # One log line says what happened and that the walk was stopped.
    lines = log_lines(mount, "did not end properly")
    assert len(lines) == 1, show(mount)
    assert "/by-owner/1" in lines[0] and "stopped" in lines[0]
    # No request after the failure; the rest of the mount works.
    time.sleep(0.5)
    assert len(srv.requests()) == len(reqs)
    names, err = listdir_child(mount.path / "by-owner")
    assert err is None and "1" in names, show(mount)


def test_cycle_reason_names_the_cycle(hostile_server, mount_fs):
    srv = hostile_server("cycle")
    mount = mount_fs(srv, "walk_windows=1")
    _, err = listdir_child(mount.path / "by-owner" / "2")
    assert err == errno.EIO
    assert log_lines(mount, "did not end properly", "cycle"), show(mount)
    cursors = [r["query"].get("cursor") for r in srv.requests()]
    assert cursors == [None, "A", "B"], cursors


# --------------------------------------------------------------------------
# 3. Huge bodies (see also the big persons below)

def test_answer_over_the_size_cap_is_final(hostile_server, mount_fs):
    srv = hostile_server("huge-body", body_mb=140)   # the cap is 128 MiB
    mount = mount_fs(srv, "walk_windows=1")
    _, err = listdir_child(mount.path / "by-owner" / "1", timeout=120)
    assert err == errno.EFBIG, show(mount)
    time.sleep(1.0)
    assert len(srv.requests()) == 1, show(mount)      # never retried
    lines = log_lines(mount, "larger than 128 MiB")
    assert len(lines) == 1 and "not retried" in lines[0], show(mount)
    assert not log_lines(mount, "retrying"), show(mount)


def status(mount):
    text = (mount.path / ".pipedrivefs" / "status").read_text()
    return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)


def big_name(i):
    return "Person %d (%d)" % (i, i)


def pretty(obj):
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode()


@pytest.fixture
def big_persons(hostile_server, mount_fs):
    """Owner 1 holds person 1 (30 MB of .json, served) and person 2 (36 MB,
    over the 32 MiB cap)."""
    srv = hostile_server("big-persons", big="25,30")
    mount = mount_fs(srv, "walk_windows=1")
    names, err = listdir_child(mount.path / "by-owner" / "1", timeout=120)
    assert err is None, show(mount)
    assert set(names) == {big_name(i) + ext for i in (1, 2)
                          for ext in (".json", ".vcf")}
    return srv, mount


def test_big_person_reads_completely_and_linearly(big_persons):
    srv, mount = big_persons
    want = pretty(hostile.big_person(1, 25))
    assert len(want) < 32 << 20
    path = mount.path / "by-owner" / "1" / (big_name(1) + ".json")
    reader = Child([PY, "-c", CHILD_READ, str(path)])
    # Meanwhile another directory answers promptly (never blocked by the read).
    t0 = time.monotonic()
    names, err = listdir_child(mount.path / "by-owner" / "2", timeout=30)
    assert err is None and names == [big_name(1002) + ".json",
                                     big_name(1002) + ".vcf"], show(mount)
    assert time.monotonic() - t0 < 10, show(mount)
    rc, out, _ = reader.finish(60, "reading a 30 MB .json file")
    size, _, data = out.partition(b"\n")
    assert rc == 0 and int(size) == len(want), show(mount)
    assert data == want, "the .json file differs from the person's pretty JSON"
    # Rendered once, however many READs it took, and again not at all.
    assert status(mount)["json_renders"] == "1"
    size2, data2, err = read_child(path)
    assert err is None and data2 == want
    assert status(mount)["json_renders"] == "1"
    # Its .vcf is served too (below the cap) and says the same person.
    size, vcf, err = read_child(path.with_suffix(".vcf"))
    assert err is None and size == len(vcf) and vcf.startswith(b"BEGIN:VCARD")


def test_person_over_the_cap_is_refused_with_efbig(big_persons):
    srv, mount = big_persons
    requests_before = len(srv.requests())
    path = mount.path / "by-owner" / "1" / (big_name(2) + ".json")
    st = os.stat(path)
    assert st.st_size > 32 << 20                     # its size shows ...
    for _ in range(2):
        size, data, err = read_child(path)
        assert err == errno.EFBIG, show(mount)      # ... reading says why not
    lines = log_lines(mount, "person 2", "EFBIG")
    assert len(lines) == 1 and "32 MiB" in lines[0], show(mount)
    assert len(srv.requests()) == requests_before    # nothing was retried
    assert status(mount)["json_renders"] == "0"


# --------------------------------------------------------------------------
# 2. Attributes and bytes from the same version of a person

def test_size_and_bytes_agree_after_a_refresh_through_by_id(fake_server,
                                                            mount_fs):
    from naming import safe_base
    srv = fake_server(persons=40, owners=2, rate_limit=0)
    mount = mount_fs(srv, "cache_ttl=60")
    victim = srv.persons(owner_id=1)[5]
    pid = victim["id"]
    directory = mount.path / "by-owner" / "1"
    name = os.fsdecode(safe_base(victim["name"], pid) + b".json")
    # Read it through the listed directory: LOOKUP of its name, then READ.
    os.listdir(directory)
    before = (directory / name).read_bytes()
    json.loads(before)
    # It changes on the server and grows; /by-id refreshes the store.
    srv.update_person(pid, notes="Ä longer note. " * 400 + "the end")
    fresh = json.loads((mount.path / "by-id" / f"{pid}.json").read_bytes())
    assert fresh["notes"].endswith("the end")
    # ls -l of the first directory (READDIRPLUS from its older listing) and
    # cat must agree with each other and with the new version.
    sizes = {e.name: e.stat().st_size for e in os.scandir(directory)}
    data = (directory / name).read_bytes()
    assert sizes[name] == len(data), "ls -l and cat disagree"
    assert json.loads(data)["notes"].endswith("the end"), "torn or old .json"
    vcf_name = name[:-5] + ".vcf"
    vcf = (directory / vcf_name).read_bytes()
    assert sizes[vcf_name] == len(vcf) and vcf.endswith(b"END:VCARD\r\n")
    assert b"the end" in vcf.replace(b"\r\n ", b"")


# --------------------------------------------------------------------------
# 4. Interrupts free a request parked on a walk

def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail(f"{what} within {timeout} s")


@pytest.mark.parametrize("sig,cmd", [
    (signal.SIGINT, ["ls", "-l"]),
    (signal.SIGKILL, ["ls", "-l"]),
    (signal.SIGINT, ["stat"]),      # a LOOKUP parked on the listing
], ids=["SIGINT-ls", "SIGKILL-ls", "SIGINT-stat"])
def test_interrupt_frees_a_request_parked_on_a_stalled_walk(
        hostile_server, mount_fs, sig, cmd):
    srv = hostile_server("stall", stall_seconds=12, persons=2)
    mount = mount_fs(srv, "walk_windows=1", "timeout=60")
    target = mount.path / "by-owner" / "1"
    opened = None
    if cmd == ["stat"]:
        # A LOOKUP in a folder whose walk is running waits for the walk (a
        # folder nobody lists is looked up by id instead: one request).  The
        # folder is opened, not read: with libfuse < 3.17 the kernel would
        # hold a reader's READDIR and a LOOKUP in one folder one after the
        # other (docs/design.md, "Streamed listings").
        opened = os.open(target, os.O_RDONLY | os.O_DIRECTORY)
        wait_for(lambda: srv.requests(), 10, "the walk did not start")
        target = target / "Person 1 (1).json"
    child = subprocess.Popen(cmd + [str(target)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: srv.requests(), 10, "the walk did not start")
        time.sleep(0.5)
        assert child.poll() is None, "the request should be waiting"
        child.send_signal(sig)
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{cmd[0]} did not end within 5 s of {sig.name}"
                        + show(mount))
    finally:
        if child.poll() is None:
            child.kill()
        if opened is not None:
            os.close(opened)
    assert child.returncode != 0
    # The daemon stays healthy: other requests answer ...
    names, err = listdir_child(mount.path / "by-owner", timeout=10)
    assert err is None and "1" in names, show(mount)
    assert int(status(mount)["requests_interrupted"]) == 1
    # ... and when the stalled walk ends, its listing is served (the
    # interrupted request is not answered a second time).
    names, err = listdir_child(mount.path / "by-owner" / "1", timeout=60)
    assert err is None and names == [
        "Person 1 (1).json", "Person 1 (1).vcf",
        "Person 2 (2).json", "Person 2 (2).vcf"], show(mount)
    assert len(srv.requests()) == 1


# --------------------------------------------------------------------------
# 5. Cache slots are bounded

@pytest.mark.slow
def test_by_id_lookups_do_not_grow_the_cache_without_bound(fake_server,
                                                          mount_fs):
    n = 12000                      # the bound is 10,000 listings
    srv = fake_server(persons=n, owners=3, rate_limit=0, tricky=False)
    mount = mount_fs(srv)
    by_id = mount.path / "by-id"
    most = 0
    for pid in range(1, n + 1):
        os.stat(by_id / f"{pid}.json")
        if pid % 1000 == 0:
            st = status(mount)
            most = max(most, int(st["cache_listings"]))
    st = status(mount)
    assert most <= 10000, st
    assert int(st["cache_listings"]) <= 10000 and int(st["cache_evictions"]) > 0
    # The persons of evicted listings left the store with them.
    assert int(st["cache_persons"]) <= 10000, st
    # Lookups of ids that do not exist are bounded the same way.
    for pid in range(n + 1000, n + 1050):
        with pytest.raises(FileNotFoundError):
            os.stat(by_id / f"{pid}.json")
    assert int(status(mount)["cache_listings"]) <= 10000
    # Everything still reads: an evicted id is simply fetched again.
    assert json.loads((by_id / "1.json").read_bytes())["id"] == 1
