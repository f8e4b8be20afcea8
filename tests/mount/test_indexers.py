"""Desktop indexers and the mount: what Debian's updatedb (plocate) does with a
fuse.pipedrivefs mount, and that the documented ways to keep it off work.

updatedb is run for real, on the mount's parent directory (`-U`), into a
private database (`-o`, `-l 0`), and the fake server's request counter shows
whether the mount was walked:

- with Debian's own configuration (/etc/updatedb.conf as shipped: its PRUNEFS
  names some FUSE types, fuse.sshfs, fuse.rclone, ..., but not ours, and no
  pattern), updatedb walks every folder of the mount: API requests, and every
  person's file in the database;
- PRUNEFS with `fuse.pipedrivefs` (matched case-insensitively, and only the
  whole type: `fuse` alone does not match) keeps it off: no API request, only
  the mountpoint itself in the database;
- PRUNEPATHS with the mountpoint keeps it off the same way.

Tracker and Baloo are not tested here (their Debian packages pull in a
desktop session's worth of dependencies and need a D-Bus session); the
README and the man page say how to keep them off.

Skipped when updatedb/locate (plocate or mlocate) is missing.
"""

import os
import shutil
import subprocess

import pytest

SMALL = dict(persons=60, owners=2, orgs=5, rate_limit=0, quiet=True)


@pytest.fixture
def updatedb(tmp_path):
    """Factory: updatedb(root, *options) -> the paths its database holds."""
    for tool in ("updatedb", "locate"):
        if shutil.which(tool) is None and not os.path.exists(
                "/usr/sbin/" + tool):
            pytest.skip(f"{tool} is not installed (apt-get install plocate)")
    count = [0]

    def run(root, *options):
        count[0] += 1
        db = tmp_path / f"locate{count[0]}.db"
        subprocess.run(["updatedb", "-l", "0", "-U", str(root), "-o", str(db),
                        *options], check=True, timeout=300,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = subprocess.run(["locate", "-d", str(db), "-0", "--regex", "."],
                             stdout=subprocess.PIPE, check=False, timeout=60)
        return [os.fsdecode(p) for p in out.stdout.split(b"\0") if p]
    return run


def under(paths, mountpoint):
    prefix = str(mountpoint) + "/"
    return [p for p in paths if p.startswith(prefix)]


def mounted(fake_server, mount_fs):
    """A mount whose start-up requests are already counted out."""
    server = fake_server(**SMALL)
    mnt = mount_fs(server)
    server.reset()
    return server, mnt


def test_debian_updatedb_walks_the_mount(fake_server, mount_fs, updatedb):
    """The hazard: Debian's configuration does not prune fuse.pipedrivefs,
    so the daily plocate-updatedb.timer (root, the whole tree) lists every
    folder of a mount it can enter."""
    server, mnt = mounted(fake_server, mount_fs)
    paths = under(updatedb(mnt.path.parent), mnt.path)
    assert server.count("GET /api/v2/persons") > 0
    owner1 = {p["id"] for p in server.persons(owner_id=1)}
    files = [p for p in paths if p.startswith(f"{mnt.path}/by-owner/1/")]
    assert len(files) == 2 * len(owner1)        # every .json and .vcf
    assert any(p.startswith(f"{mnt.path}/by-org/") and p.endswith(".vcf")
               for p in paths)


@pytest.mark.parametrize("prunefs,pruned", [
    ("fuse.pipedrivefs", True),
    ("FUSE.PipedriveFS", True),        # matched case-insensitively
    ("fuse", False),                   # the whole type, no prefix match
])
def test_updatedb_prunefs(fake_server, mount_fs, updatedb, prunefs, pruned):
    server, mnt = mounted(fake_server, mount_fs)
    everything = updatedb(mnt.path.parent, "--add-prunefs", prunefs)
    paths = under(everything, mnt.path)
    if pruned:
        assert server.api_count() == 0, server.stats()["by_route"]
        assert paths == []
        assert str(mnt.path) in everything   # the mountpoint itself is listed
    else:
        assert server.count("GET /api/v2/persons") > 0
        assert paths


def test_updatedb_prunepaths(fake_server, mount_fs, updatedb):
    server, mnt = mounted(fake_server, mount_fs)
    paths = updatedb(mnt.path.parent, "--add-prunepaths", str(mnt.path))
    assert server.api_count() == 0, server.stats()["by_route"]
    assert under(paths, mnt.path) == []
    assert str(mnt.path) in paths          # the mountpoint itself is listed
