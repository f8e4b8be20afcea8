"""Security tests: where the API token may and may not appear, how it may be
given, base_url checks, the non-dumpable process, modes and mount options.

Run: /usr/bin/python3 -m pytest tests/mount/test_security.py -q
Some tests need root (chown to nobody, running the daemon as nobody); they
skip otherwise.
"""

import errno
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
import time

import pytest

SMALL = dict(persons=60, owners=3, orgs=5, rate_limit=0, quiet=True)
SECRET = "s3cr3t-T0ken-d41d8cd98f00b204"


def _walk_everything(mount):
    """List every directory and read every file of owner 1 and org 1."""
    total = 0
    for d in ("by-owner", "by-org", "by-owner/1", "by-org/1"):
        path = os.path.join(os.fsencode(mount.path), d.encode())
        for n in os.listdir(path):
            p = os.path.join(path, n)
            if os.path.isfile(p):
                with open(p, "rb") as f:
                    total += len(f.read())
    return total


def _environ_entries(pid):
    with open(f"/proc/{pid}/environ", "rb") as f:
        return f.read().split(b"\0")


def _token_var_values(entries):
    return [e.split(b"=", 1)[1] for e in entries
            if e.startswith(b"PIPEDRIVE_API_TOKEN=")]


def _mount_options(path):
    """Options of the mount at path from /proc/mounts, or None."""
    want = str(path).replace("\\", "\\134").replace(" ", "\\040") \
        .replace("\t", "\\011").replace("\n", "\\012")
    with open("/proc/mounts") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 4 and fields[1] == want:
                return set(fields[3].split(","))
    return None


def _need_root():
    if os.geteuid() != 0:
        pytest.skip("needs root (chown / running the daemon as nobody)")


def _nobody():
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user 'nobody'")


# --------------------------------------------------------------------------
# the token never leaks

@pytest.mark.parametrize("debug", [["-d"], ["-o", "log_level=debug"]],
                         ids=["-d", "log_level=debug"])
def test_token_not_in_log_cmdline_environ_or_urls(fake_server, mount_fs,
                                                  debug):
    server = fake_server(token=SECRET, **SMALL)
    mount = mount_fs(server, extra_args=debug)
    server.reset()
    # a transient fault and a 401 make the daemon log error paths as well
    server.faults({"path": "/api/v2/persons", "kind": "500", "count": 1})
    assert _walk_everything(mount) > 0
    server.faults({"path": "/api/v2/persons", "kind": "401", "count": -1})
    try:
        os.listdir(mount.path / "by-owner" / "2")
    except OSError as e:
        assert e.errno == errno.EACCES
    secret = SECRET.encode()
    with open(f"/proc/{mount.pid}/cmdline", "rb") as f:
        assert secret not in f.read()
    entries = _environ_entries(mount.pid)
    assert not any(secret in e for e in entries)
    assert all(v == b"" for v in _token_var_values(entries)), \
        "PIPEDRIVE_API_TOKEN still holds a value in /proc/PID/environ"
    for task in os.listdir(f"/proc/{mount.pid}/task"):
        with open(f"/proc/{mount.pid}/task/{task}/environ", "rb") as f:
            assert secret not in f.read(), task
    reqs = [r for r in server.requests() if r["path"].startswith("/api/")]
    assert reqs
    for r in reqs:
        assert SECRET not in r["path"], r["path"]
        assert SECRET not in repr(r["query"]), r["query"]
        assert r["headers"]["x-api-token-present"] is True, r
        assert not r["headers"]["authorization-present"], r
    mount.unmount()
    log = mount.log()
    if debug == ["-d"]:
        assert "unique:" in log, "expected libfuse debug output with -d"
    assert SECRET not in log
    assert SECRET[:12] not in log                 # not even a prefix


def test_token_file_token_not_in_cmdline_or_environ(fake_server, mount_fs,
                                                    tmp_path):
    server = fake_server(token=SECRET, **SMALL)
    tf = tmp_path / "token"
    tf.write_text(SECRET + "\n")
    tf.chmod(0o600)
    mount = mount_fs(server, f"token_file={tf}", token=None)
    assert _walk_everything(mount) > 0
    secret = SECRET.encode()
    with open(f"/proc/{mount.pid}/cmdline", "rb") as f:
        assert secret not in f.read()
    assert not any(secret in e for e in _environ_entries(mount.pid))
    mount.unmount()
    assert SECRET not in mount.log()


# --------------------------------------------------------------------------
# how the token may be given

@pytest.mark.parametrize("form", [
    ["-o", "token={s}"],
    ["-o", "api_token={s}"],
    ["-o", "cache_ttl=5,token={s}"],
    ["-otoken={s}"],
])
def test_token_on_the_command_line_is_refused(fake_server, run_pipedrivefs,
                                              tmp_path, form):
    server = fake_server(token=SECRET, **SMALL)
    server.reset()
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    args = [mnt, "-f", "-o", f"base_url={server.base_url}"] + \
        [a.format(s=SECRET) for a in form]
    res = run_pipedrivefs(args, env={"PIPEDRIVE_API_TOKEN": SECRET})
    assert res.returncode == 1, (res.returncode, res.stderr)
    assert "command line" in res.stderr, res.stderr
    assert "PIPEDRIVE_API_TOKEN" in res.stderr or "token_file" in res.stderr
    assert SECRET not in res.stderr + res.stdout
    assert not res.mounted
    assert server.api_count() == 0


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o606])
def test_token_file_readable_by_others_is_refused(fake_server,
                                                  run_pipedrivefs, tmp_path,
                                                  mode):
    server = fake_server(token=SECRET, **SMALL)
    server.reset()
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    tf = tmp_path / "token"
    tf.write_text(SECRET + "\n")
    tf.chmod(mode)
    res = run_pipedrivefs([mnt, "-f", "-o",
                           f"base_url={server.base_url},token_file={tf}"])
    assert res.returncode == 1, (res.returncode, res.stderr)
    assert "chmod 600" in res.stderr, res.stderr
    assert SECRET not in res.stderr + res.stdout
    assert not res.mounted
    assert server.api_count() == 0


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_private_token_file_works(fake_server, mount_fs, tmp_path, mode):
    server = fake_server(token=SECRET, **SMALL)
    tf = tmp_path / "token"
    tf.write_text(SECRET + "\n")
    tf.chmod(mode)
    mount = mount_fs(server, f"token_file={tf}", token=None)
    want = {str(u["id"]) for u in server.users()}
    got = set(os.listdir(mount.path / "by-owner"))
    assert want <= got, (want, got)          # ids (and name links)
    assert os.listdir(mount.path / "by-owner" / "1")


def test_token_file_owned_by_another_user_is_refused(fake_server,
                                                     run_pipedrivefs,
                                                     tmp_path):
    _need_root()
    nobody = _nobody()
    server = fake_server(token=SECRET, **SMALL)
    server.reset()
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    tf = tmp_path / "token"
    tf.write_text(SECRET + "\n")
    tf.chmod(0o600)
    os.chown(tf, nobody.pw_uid, nobody.pw_gid)
    res = run_pipedrivefs([mnt, "-f", "-o",
                           f"base_url={server.base_url},token_file={tf}"])
    assert res.returncode == 1, (res.returncode, res.stderr)
    assert "token_file" in res.stderr and str(tf) in res.stderr, res.stderr
    assert f"uid {nobody.pw_uid}" in res.stderr, res.stderr
    assert SECRET not in res.stderr + res.stdout
    assert not res.mounted
    assert server.api_count() == 0


# --------------------------------------------------------------------------
# base_url

def _non_loopback_ip():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))          # no packet is sent
        ip = s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()
    return None if ip.startswith("127.") else ip


@pytest.mark.parametrize("template", [
    "http://{ip}:{port}/api/v2",
    "http://127.0.0.1@{ip}:{port}/api/v2",
    "http://localhost:1@{ip}:{port}/api/v2",
    "HTTP://{ip}:{port}/api/v2",
])
def test_plain_http_to_a_non_loopback_host_is_refused(run_pipedrivefs,
                                                      tmp_path, template):
    ip = _non_loopback_ip()
    if ip is None:
        pytest.skip("no non-loopback IPv4 address")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", 0))
    listener.listen(8)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    try:
        mnt = tmp_path / "mnt"
        mnt.mkdir()
        url = template.format(ip=ip, port=port)
        t0 = time.monotonic()
        res = run_pipedrivefs([mnt, "-f", "-o", f"base_url={url}"],
                              env={"PIPEDRIVE_API_TOKEN": SECRET})
        took = time.monotonic() - t0
        assert res.returncode == 1, (res.returncode, res.stderr)
        assert "https" in res.stderr, res.stderr
        assert SECRET not in res.stderr + res.stdout
        assert not res.mounted
        assert took < 5, took
        try:
            conn, _ = listener.accept()
            conn.close()
            connected = True
        except BlockingIOError:
            connected = False
        assert not connected, "the daemon connected to %s" % url
    finally:
        listener.close()


@pytest.mark.parametrize("url", [
    "http://example.com/api/v2",
    "http://127.0.0.1.example.com/api/v2",
    "http://localhost.example.com/api/v2",
    "http://127.0.0.1evil.example/api/v2",
])
def test_plain_http_lookalike_hosts_are_refused(run_pipedrivefs, tmp_path,
                                                url):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    res = run_pipedrivefs([mnt, "-f", "-o", f"base_url={url}"],
                          env={"PIPEDRIVE_API_TOKEN": SECRET})
    assert res.returncode == 1, (res.returncode, res.stderr)
    assert "https" in res.stderr, res.stderr
    assert not res.mounted


# --------------------------------------------------------------------------
# the process is not dumpable

def test_daemon_is_not_dumpable(fake_server, tmp_path):
    """prctl(PR_SET_DUMPABLE, 0): /proc/PID/* of a non-dumpable process is
    owned by root even when it runs as another user.  Run the daemon as
    nobody (token_file owned by nobody) and look while it has read the token
    and waits for its start-up request (GET /users/me, slowed down by a
    fault), so no /dev/fuse access is needed.  A dumpable process run the
    same way is the control."""
    _need_root()
    nobody = _nobody()
    binary = os.environ.get("PIPEDRIVEFS_BIN") or \
        os.path.join(os.path.dirname(__file__), "..", "..", "build",
                     "pipedrivefs")
    binary = os.path.abspath(binary)
    if not os.access(binary, os.X_OK):
        pytest.skip(f"{binary} not built")
    if not shutil.which("setpriv"):
        pytest.skip("needs setpriv")
    server = fake_server(token=SECRET, **SMALL)
    server.faults({"path": "/api/v1/users/me", "kind": "slow",
                   "delay_ms": 8000, "count": -1})
    drop = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}",
            "--clear-groups", "--"]

    def wait_uid(pid, comm):
        """Wait until pid runs comm (setpriv has exec'd) as nobody; between
        setuid() and execve() even a normal process is not dumpable."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with open(f"/proc/{pid}/status") as f:
                status = f.read()
            if f"Uid:\t{nobody.pw_uid}\t" in status and \
                    f"Name:\t{comm}\n" in status:
                return True
            time.sleep(0.02)
        return False

    # control: a dumpable process run as nobody owns its /proc files
    ctl = subprocess.Popen(drop + ["sleep", "30"])
    try:
        assert wait_uid(ctl.pid, "sleep")
        assert os.stat(f"/proc/{ctl.pid}/environ").st_uid == nobody.pw_uid
    finally:
        ctl.kill()
        ctl.wait()

    work = tempfile.mkdtemp(prefix="pdfs-nobody-")     # under /tmp
    os.chmod(work, 0o755)
    mnt = os.path.join(work, "mnt")
    os.mkdir(mnt)
    os.chown(mnt, nobody.pw_uid, nobody.pw_gid)
    tf = os.path.join(work, "token")
    with open(tf, "w") as f:
        f.write(SECRET + "\n")
    os.chmod(tf, 0o600)
    os.chown(tf, nobody.pw_uid, nobody.pw_gid)
    log_path = os.path.join(work, "daemon.log")
    env = {k: v for k, v in os.environ.items() if k != "PIPEDRIVE_API_TOKEN"}
    env["HOME"] = "/"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            drop + [binary, mnt, "-f", "-o",
                    f"base_url={server.base_url},token_file={tf},timeout=30"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=env)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and \
                server.count("GET /api/v1/users/me") == 0:
            # the slow request is recorded when it ends; look at the fault
            rules = server._call("GET", "/_control/faults")["rules"]
            if rules and rules[0]["fired"] > 0:
                break
            assert proc.poll() is None, open(log_path).read()
            time.sleep(0.05)
        assert proc.poll() is None, open(log_path).read()
        assert wait_uid(proc.pid, os.path.basename(binary)[:15])
        owner = os.stat(f"/proc/{proc.pid}/environ").st_uid
        assert owner == 0, \
            "the daemon is dumpable: /proc/PID/environ is owned by uid %d" \
            % owner
        assert os.stat(f"/proc/{proc.pid}/mem").st_uid == 0
    finally:
        proc.kill()
        proc.wait()
        if os.path.ismount(mnt):
            subprocess.run(["fusermount3", "-u", "-z", "--", mnt])
        with open(log_path, errors="replace") as f:
            log_text = f.read()
        shutil.rmtree(work, ignore_errors=True)
    assert SECRET not in log_text


# --------------------------------------------------------------------------
# modes and mount options

def test_files_are_0444_and_dirs_0555(fake_server, mount_fs):
    server = fake_server(**SMALL)
    mount = mount_fs(server)
    uid, gid = os.getuid(), os.getgid()
    for d in ("", "by-owner", "by-org", "by-owner/1", "by-org/1",
              "by-owner/999"):
        st = os.stat(mount.path / d)
        assert stat.S_ISDIR(st.st_mode), d
        assert stat.S_IMODE(st.st_mode) == 0o555, (d, oct(st.st_mode))
        assert (st.st_uid, st.st_gid) == (uid, gid), d
    for d in ("by-owner/1", "by-org/1"):
        base = os.path.join(os.fsencode(mount.path), d.encode())
        names = os.listdir(base)
        assert names
        for n in names:
            st = os.stat(os.path.join(base, n))
            assert stat.S_ISREG(st.st_mode), n
            assert stat.S_IMODE(st.st_mode) == 0o444, (n, oct(st.st_mode))
            assert (st.st_uid, st.st_gid) == (uid, gid), n


def test_allow_other_implies_default_permissions(fake_server, mount_fs):
    server = fake_server(**SMALL)
    mount = mount_fs(server, "allow_other")
    opts = _mount_options(mount.path)
    assert opts is not None, "mount not in /proc/mounts"
    assert "allow_other" in opts, opts
    assert "default_permissions" in opts, opts
    assert "ro" in opts, opts


def test_without_allow_other_no_allow_other(fake_server, mount_fs):
    server = fake_server(**SMALL)
    mount = mount_fs(server)
    opts = _mount_options(mount.path)
    assert opts is not None
    assert "allow_other" not in opts, opts
    assert "ro" in opts, opts
