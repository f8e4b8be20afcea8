"""Mount-test harness for pipedrivefs.

Fixtures (see the individual docstrings):

  pipedrivefs_bin   session: Path of the daemon (env PIPEDRIVEFS_BIN, default
                    <repo>/build/pipedrivefs); skips when it, /dev/fuse or
                    fusermount3 is missing.
  fake_server       factory fake_server(**kwargs) -> FakeServer
  mount_fs          factory mount_fs(server, *opts, source=None, env=None,
                    token="default", wait=True, extra_args=()) -> Mount
  run_pipedrivefs   factory run_pipedrivefs(args, env=None) -> CompletedProcess
                    for start-up failure tests.

Every server is stopped and every mount unmounted in teardown, even when the
test failed.  Teardown fails the test if a daemon died from a signal, had to
be killed, or printed a sanitizer report.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FAKE_SERVER = REPO / "tests" / "fake_pipedrive.py"
DEFAULT_BIN = REPO / "build" / "pipedrivefs"
DEFAULT_TOKEN = "test-token"

MOUNT_TIMEOUT = 15.0      # seconds to wait for the mount to appear
# seconds to wait for the daemon after fusermount3 -u (the valgrind stage
# allows more: a daemon under memcheck finishing its disk-cache writes)
UNMOUNT_TIMEOUT = float(os.environ.get("PDFS_UNMOUNT_TIMEOUT", "10"))
SERVER_START_TIMEOUT = 20.0

SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
    "WARNING: ThreadSanitizer",
)


_SESSION_CACHE = None


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: test takes more than ~10 s")
    # No daemon started by a test may use the runner's ~/.cache/pipedrivefs
    # (a database there would outlive the run and feed a later mount of a
    # different fake company): a cache home of the session's own, for every
    # process the tests start, whatever environment a test gives them.
    global _SESSION_CACHE
    _SESSION_CACHE = tempfile.mkdtemp(prefix="pdfs-test-cache.")
    os.environ["XDG_CACHE_HOME"] = _SESSION_CACHE


def pytest_unconfigure(config):
    if _SESSION_CACHE:
        shutil.rmtree(_SESSION_CACHE, ignore_errors=True)


# --------------------------------------------------------------------------
# helpers

def _fuse_skip_reason():
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse does not exist (no FUSE in this environment)"
    if shutil.which("fusermount3") is None:
        return "fusermount3 is not on PATH (install fuse3)"
    if os.geteuid() != 0:
        fm = shutil.which("fusermount3")
        if not os.stat(fm).st_mode & 0o4000:
            return "fusermount3 is not setuid and we are not root"
    try:
        fd = os.open("/dev/fuse", os.O_RDWR)
        os.close(fd)
    except OSError as e:
        return f"/dev/fuse cannot be opened: {e}"
    return None


def _sanitizer_report(text):
    return any(m in text for m in SANITIZER_MARKERS)


def _fusermount(*args):
    return subprocess.run(["fusermount3", *args], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=30)


def _force_unmount(path):
    """Best-effort unmount of a path that may or may not be mounted."""
    path = str(path)
    if not os.path.ismount(path):
        return
    _fusermount("-u", "--", path)
    if os.path.ismount(path):
        _fusermount("-u", "-z", "--", path)


def _base_env(overrides=None):
    """os.environ without PIPEDRIVE_API_TOKEN, then overrides (None deletes)."""
    env = dict(os.environ)
    env.pop("PIPEDRIVE_API_TOKEN", None)
    for k, v in (overrides or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = str(v)
    return env


def _normalize_query(query):
    """Stats queries may come as {k: v} or {k: [v, ...]}; return {k: v}."""
    out = {}
    for k, v in (query or {}).items():
        if isinstance(v, list) and len(v) == 1:
            v = v[0]
        out[k] = v
    return out


# --------------------------------------------------------------------------
# fake server

class FakeServer:
    """A running tests/fake_pipedrive.py."""

    def __init__(self, workdir, token=DEFAULT_TOKEN, **kwargs):
        self.workdir = Path(workdir)
        self.token = token
        self.port_file = self.workdir / "port"
        self.log_path = self.workdir / "server.log"
        args = [sys.executable, str(FAKE_SERVER), "--port", "0",
                "--port-file", str(self.port_file), "--token", token]
        for key, value in kwargs.items():
            flag = "--" + key.replace("_", "-")
            if value is None:
                continue
            if value is True:
                if key == "tricky":          # tricky data is the default
                    continue
                args.append(flag)
            elif value is False:
                args.append("--no-" + key.replace("_", "-"))
            else:
                args += [flag, str(value)]
        self.args = args
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdout=self._log,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL,
                                     cwd=str(REPO))
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        port = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                text = self.port_file.read_text().strip()
                if text:
                    port = int(text)
                    break
            except (FileNotFoundError, ValueError):
                pass
            time.sleep(0.05)
        if port is None:
            self.stop()
            pytest.fail("fake server did not start (args %r):\n%s"
                        % (args, self.log()))
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.base_url = f"{self.url}/api/v2"

    # -- plumbing
    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _call(self, method, path, body=None, query=None):
        url = self.url + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None
        headers = {}
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(url, data=data, method=method,
                                     headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as e:
            raise AssertionError("fake server %s %s -> %s: %s"
                                 % (method, path, e.code,
                                    e.read()[:500].decode(errors="replace")))
        if not raw:
            return None
        return json.loads(raw)

    @staticmethod
    def _data(obj):
        if isinstance(obj, dict) and "data" in obj:
            return obj["data"]
        return obj

    # -- control API
    def stats(self):
        return self._call("GET", "/_control/stats")

    def count(self, route):
        """Requests seen for a route such as "GET /api/v2/persons"."""
        return self.stats().get("by_route", {}).get(route, 0)

    def api_count(self):
        """All requests to /api/... (control requests excluded)."""
        return sum(n for r, n in self.stats().get("by_route", {}).items()
                   if " /api/" in r)

    def requests(self, route=None):
        """Recorded requests, optionally only those of "METHOD /path"."""
        reqs = self.stats().get("requests", [])
        out = []
        for r in reqs:
            path = r.get("path", "").split("?", 1)[0]
            if route is None or f"{r.get('method')} {path}" == route:
                r = dict(r)
                r["query"] = _normalize_query(r.get("query"))
                out.append(r)
        return out

    def reset(self):
        return self._call("POST", "/_control/reset", body={})

    def persons(self, **filters):
        q = {k: v for k, v in filters.items() if v is not None}
        return self._data(self._call("GET", "/_control/persons", query=q))

    def users(self):
        return self._data(self._call("GET", "/_control/users"))

    def organizations(self):
        return self._data(self._call("GET", "/_control/organizations"))

    def update_person(self, person_id, **fields):
        return self._data(self._call("POST", f"/_control/persons/{person_id}",
                                     body=fields))

    def create_person(self, **fields):
        return self._data(self._call("POST", "/_control/persons", body=fields))

    def delete_person(self, person_id, permanent=False):
        q = {"permanent": "1"} if permanent else None
        return self._data(self._call("DELETE",
                                     f"/_control/persons/{person_id}",
                                     query=q))

    def faults(self, *rules):
        return self._call("POST", "/_control/faults",
                          body={"rules": list(rules)})

    def config(self, **kw):
        return self._call("POST", "/_control/config", body=kw)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if not self._log.closed:
            self._log.close()


@pytest.fixture
def fake_server(tmp_path_factory):
    """Factory: fake_server(persons=50, owners=3, tricky=False, ...)."""
    if not FAKE_SERVER.exists():
        pytest.skip(f"{FAKE_SERVER} does not exist yet")
    servers = []

    def start(**kwargs):
        workdir = tmp_path_factory.mktemp("fake")
        token = kwargs.pop("token", DEFAULT_TOKEN)
        srv = FakeServer(workdir, token=token, **kwargs)
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.stop()


# --------------------------------------------------------------------------
# daemon

@pytest.fixture(scope="session")
def pipedrivefs_bin():
    reason = _fuse_skip_reason()
    if reason:
        pytest.skip(f"mount tests need FUSE: {reason}")
    path = Path(os.environ.get("PIPEDRIVEFS_BIN", DEFAULT_BIN))
    if not path.is_absolute():
        path = (REPO / path).resolve()
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.skip(f"daemon binary {path} does not exist (run script/build)")
    return path


class Mount:
    """A pipedrivefs process running in the foreground (-f)."""

    def __init__(self, binary, path, log_path, cmd, env):
        self.binary = binary
        self.path = Path(path)
        self.log_path = Path(log_path)
        self.cmd = cmd
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        self.killed = False          # True if unmount() had to force it
        self.check_on_teardown = True

    @property
    def pid(self):
        return self.proc.pid

    @property
    def returncode(self):
        return self.proc.poll()

    def log(self):
        """Daemon stderr (and stdout) so far."""
        try:
            return self.log_path.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def is_mounted(self):
        return os.path.ismount(str(self.path))

    def wait_mounted(self, timeout=MOUNT_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.is_mounted():
                return
            if self.proc.poll() is not None:
                pytest.fail("pipedrivefs exited with %s before mounting; "
                            "command %r; log:\n%s"
                            % (self.proc.returncode, self.cmd, self.log()))
            time.sleep(0.02)
        self.unmount()
        pytest.fail("pipedrivefs did not mount within %.0f s; log:\n%s"
                    % (timeout, self.log()))

    def unmount(self):
        """Idempotent: fusermount3 -u, wait <=10 s, then -uz + SIGKILL."""
        if self.proc.poll() is None or self.is_mounted():
            if self.is_mounted():
                _fusermount("-u", "--", str(self.path))
            deadline = time.monotonic() + UNMOUNT_TIMEOUT
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if self.is_mounted():          # busy: retry
                    time.sleep(0.2)
                    _fusermount("-u", "--", str(self.path))
                else:
                    time.sleep(0.05)
            if self.proc.poll() is None:
                self.killed = True
                if self.is_mounted():
                    _fusermount("-u", "-z", "--", str(self.path))
                self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
            _force_unmount(self.path)
        if not self._log.closed:
            self._log.close()
        return self.proc.returncode

    def problems(self):
        """Reasons why this daemon's end is suspicious ([] if clean)."""
        out = []
        log = self.log()
        if self.killed:
            out.append("daemon did not exit within %.0f s of fusermount3 -u "
                       "and was killed" % UNMOUNT_TIMEOUT)
        elif self.proc.returncode is not None and self.proc.returncode < 0:
            out.append("daemon died from signal %s"
                       % signal.Signals(-self.proc.returncode).name)
        if _sanitizer_report(log):
            out.append("sanitizer report in the daemon's output")
        return out


@pytest.fixture
def mount_fs(pipedrivefs_bin, tmp_path_factory, request):
    """Factory: mount_fs(server, "cache_ttl=1", ...) -> Mount (mounted).

    server        a FakeServer (its base_url is passed as -o base_url=) or None
    *extra_opts   more -o options, e.g. "cache_ttl=1", "page_limit=500"
    source        optional SOURCE argument before the mountpoint
    env           dict of environment overrides (value None deletes)
    token         "default" -> server.token; None -> no PIPEDRIVE_API_TOKEN;
                  any other string is used as the token
    wait          wait until mounted (fails with the daemon's log otherwise)
    extra_args    more command-line arguments (e.g. ["-d"])
    """
    mounts = []

    def mount(server, *extra_opts, source=None, env=None, token="default",
              wait=True, extra_args=()):
        workdir = tmp_path_factory.mktemp("mnt")
        mnt = workdir / "mnt"
        mnt.mkdir()
        opts = []
        if server is not None:
            opts.append(f"base_url={server.base_url}")
        # PDFS_MOUNT_OPTS: options every mount gets first (a test's own come
        # after and win), e.g. "cache_max_mb=1" to run the suite bounded.
        opts += [o for o in os.environ.get("PDFS_MOUNT_OPTS", "").split(",") if o]
        opts += [o for o in extra_opts if o]
        cmd = [str(pipedrivefs_bin)]
        if source is not None:
            cmd.append(str(source))
        cmd += [str(mnt), "-f"]
        if opts:
            cmd += ["-o", ",".join(opts)]
        cmd += [str(a) for a in extra_args]
        # Each mount gets a cache folder of its own (never ~/.cache, never
        # another test's): a test that wants a restart passes the same
        # XDG_CACHE_HOME or -o cache_dir= to both mounts.
        envd = {"XDG_CACHE_HOME": str(workdir / "xdg-cache")}
        if token == "default":
            envd["PIPEDRIVE_API_TOKEN"] = (server.token if server is not None
                                           else DEFAULT_TOKEN)
        elif token is not None:
            envd["PIPEDRIVE_API_TOKEN"] = token
        envd.update(env or {})
        m = Mount(pipedrivefs_bin, mnt, workdir / "daemon.log", cmd,
                  _base_env(envd))
        mounts.append(m)
        if wait:
            m.wait_mounted()
        return m

    yield mount

    problems = []
    for m in mounts:
        m.unmount()
        if m.check_on_teardown:
            for p in m.problems():
                problems.append(f"{p}\ncommand: {m.cmd}\n--- daemon log ---\n"
                                f"{m.log()[-20000:]}")
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
def run_pipedrivefs(pipedrivefs_bin, tmp_path_factory):
    """Factory: run_pipedrivefs(args, env=None) -> CompletedProcess (text).

    Runs the daemon with args (binary path prepended) and an environment made
    of os.environ without PIPEDRIVE_API_TOKEN plus env.  Gives up after 20 s.
    If the daemon mounts any directory named in args, it is unmounted again;
    the result then has .mounted = True.
    """
    def run(args, env=None, timeout=20.0):
        args = [str(a) for a in args]
        env = dict(env or {})
        env.setdefault("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        cmd = [str(pipedrivefs_bin)] + args
        candidates = [a for a in args if os.path.isdir(a)]
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(cmd, env=_base_env(env),
                                    stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=err)
            mounted = False
            deadline = time.monotonic() + timeout
            timed_out = False
            while proc.poll() is None:
                for c in candidates:
                    if os.path.ismount(c):
                        mounted = True
                        _fusermount("-u", "--", c)
                if time.monotonic() > deadline:
                    timed_out = True
                    proc.kill()
                    break
                time.sleep(0.02)
            proc.wait(10)
            for c in candidates:               # e.g. daemonized child
                if os.path.ismount(c):
                    mounted = True
                    _force_unmount(c)
            out.seek(0)
            err.seek(0)
            res = subprocess.CompletedProcess(
                cmd, proc.returncode,
                out.read().decode("utf-8", "replace"),
                err.read().decode("utf-8", "replace"))
        res.mounted = mounted
        res.timed_out = timed_out
        if _sanitizer_report(res.stderr + res.stdout):
            pytest.fail("sanitizer report from %r:\n%s" % (cmd, res.stderr),
                        pytrace=False)
        return res

    return run
