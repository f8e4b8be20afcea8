"""Production transport (issue 10): the mount through a real TLS front, with
certificate verification, HTTP/2 and gzip; CA files; proxies; connections
that could not be made.

One nginx (tests/tls.py: daemon off, its own prefix, config and logs in a
temp dir, 127.0.0.1 only) and one fake server serve the whole module; nginx
terminates TLS with a certificate signed by a CA the module makes (openssl),
speaks HTTP/2, gzips and proxies to the fake.  A second nginx port serves a
certificate some other CA signed.  Each test resets the fake's counters and
faults and nginx's access log.

Run: /usr/bin/python3 -m pytest tests/mount/test_transport.py -q
"""

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DEFAULT_TOKEN, FakeServer
from naming import expected_names, listdir_b, safe_base
from test_faults import find_line, listdir_errno, owner_dir, persons_reqs, show

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import tls  # noqa: E402  (tests/tls.py)

COMPANY = dict(persons=120, owners=3, orgs=10, rate_limit=0, quiet=True)
PERSONS = "GET /api/v2/persons"


class Front:
    def __init__(self, server, nginx, pki):
        self.server, self.nginx, self.pki = server, nginx, pki

    def opts(self, *more, port=None, ca=None):
        return (f"base_url={self.nginx.base_url(port)}",
                f"ca_file={ca or self.pki['ca']}") + more


@pytest.fixture(scope="module")
def front_module(tmp_path_factory):
    if not Path(tls.NGINX).exists():
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    base = tmp_path_factory.mktemp("transport")
    pki = tls.make_pki(base / "pki")
    (base / "fake").mkdir()
    server = FakeServer(base / "fake", **COMPANY)
    nginx = None
    try:
        nginx = tls.Nginx(base / "nginx", server.port, pki)
        yield Front(server, nginx, pki)
    finally:
        if nginx:
            nginx.stop()
        server.stop()


@pytest.fixture
def front(front_module):
    front_module.server.reset()
    front_module.server.faults()
    front_module.nginx.clear_access_log()
    return front_module


def api_log(nginx):
    return [e for e in nginx.access_log() if e["uri"].startswith("/api/")]


# --------------------------------------------------------------------------
# the foundation flow through TLS, HTTP/2 and gzip

def test_foundation_flow_over_tls_http2_and_gzip(front, mount_fs):
    server, nginx = front.server, front.nginx
    mount = mount_fs(None, *front.opts(), token=DEFAULT_TOKEN)
    server.reset()
    nginx.clear_access_log()

    owners = {str(u["id"]) for u in server.users()}
    assert {n for n in os.listdir(mount.path / "by-owner")
            if (mount.path / "by-owner" / n).is_dir()
            and not (mount.path / "by-owner" / n).is_symlink()} == owners
    for owner in (1, 2):
        persons = server.persons(owner_id=owner)
        assert listdir_b(owner_dir(mount, owner)) == expected_names(persons)
    for p in server.persons(owner_id=1)[:10]:
        base = os.path.join(os.fsencode(owner_dir(mount, 1)),
                            safe_base(p.get("name"), p["id"]))
        with open(base + b".json", "rb") as f:
            assert json.loads(f.read().decode("utf-8", "surrogateescape")) == p
        with open(base + b".vcf", "rb") as f:
            vcf = f.read()
        assert vcf.startswith(b"BEGIN:VCARD\r\n") and b"END:VCARD" in vcf
    grep = subprocess.run(["grep", "-rlc", "BEGIN:VCARD",
                           str(owner_dir(mount, 2))],
                          stdout=subprocess.PIPE, timeout=60)
    assert len(grep.stdout.splitlines()) == len(server.persons(owner_id=2))

    # one request per cold listing, nothing for reads and grep
    reqs = persons_reqs(server)
    assert sorted(r["query"].get("owner_id") for r in reqs) == ["1", "2"], \
        show(mount, server)
    assert server.count("GET /api/v2/persons/{id}") == 0

    log = api_log(nginx)
    assert log, nginx.error_log()
    assert all(e["protocol"] == "HTTP/2.0" for e in log), log
    assert all(e["ssl"] in ("TLSv1.2", "TLSv1.3") for e in log), log
    persons_lines = [e for e in log if e["uri"] == "/api/v2/persons"]
    assert len(persons_lines) == 2
    assert all(e["gzip"] != "-" and float(e["gzip"]) > 2 for e in persons_lines), \
        persons_lines
    # curl asked for gzip and got it; the fake itself sent plain JSON
    assert all("gzip" in (r["headers"]["accept-encoding"] or "") for r in reqs)


def test_relative_ca_file_still_works_after_the_mount(front, mount_fs,
                                                      monkeypatch):
    """ca_file=ca.pem relative to the starting directory: the start-up check
    and every later walk (after the daemon's working directory became /)
    verify against it."""
    monkeypatch.chdir(front.pki["ca"].parent)
    mount = mount_fs(None, *front.opts(ca="ca.pem"), token=DEFAULT_TOKEN)
    persons = front.server.persons(owner_id=3)
    try:
        got = listdir_b(owner_dir(mount, 3))
    except OSError as e:
        pytest.fail(f"listing failed: {e}" + show(mount))
    assert got == expected_names(persons)
    assert "certificate" not in mount.log()


@pytest.mark.parametrize("what", ["missing", "directory"])
def test_unusable_ca_file_is_refused_at_start(front, run_pipedrivefs,
                                              tmp_path, what):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    bad = tmp_path / "nope.pem" if what == "missing" else tmp_path
    res = run_pipedrivefs(
        [mnt, "-f", "-o", ",".join(front.opts(ca=str(bad)))],
        env={"PIPEDRIVE_API_TOKEN": DEFAULT_TOKEN})
    assert res.returncode == 1 and not res.mounted, res.stderr
    assert f"ca_file={bad}" in res.stderr, res.stderr
    assert ("No such file" if what == "missing"
            else "not a regular file") in res.stderr, res.stderr
    assert front.server.api_count() == 0


def test_certificate_the_ca_did_not_sign_is_refused(front, run_pipedrivefs,
                                                    tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    for opts in (front.opts(port=front.nginx.rogue_port),      # other CA
                 front.opts()[:1]):                            # system CAs
        res = run_pipedrivefs([mnt, "-f", "-o", ",".join(opts)],
                              env={"PIPEDRIVE_API_TOKEN": DEFAULT_TOKEN})
        assert res.returncode == 3 and not res.mounted, res.stderr
        assert "certificate" in res.stderr.lower(), res.stderr
        assert res.stderr.count("\n") <= 2, res.stderr  # not retried: one line
    assert front.server.api_count() == 0


def test_cloudflare_html_403_through_the_front(front, mount_fs):
    server = front.server
    mount = mount_fs(None, *front.opts(), token=DEFAULT_TOKEN)
    server.reset()
    server.faults({"path": "/api/v2/persons", "kind": "html403", "count": 1})
    assert listdir_errno(owner_dir(mount, 2)) == errno.EIO, show(mount)
    assert listdir_errno(owner_dir(mount, 3)) == errno.EIO, show(mount)
    assert server.api_count() == 1, show(mount, server)
    line = find_line(mount, "listing /by-owner/2 failed", "403", "UTC",
                     level="error")
    assert line, show(mount)
    html = [e for e in front.nginx.access_log() if e["status"] == 403]
    assert len(html) == 1 and html[0]["protocol"] == "HTTP/2.0", html


# --------------------------------------------------------------------------
# proxies

PROXY_VARS = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
              "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY")


@pytest.fixture
def proxy():
    p = tls.RecordingProxy()
    yield p
    p.stop()


def proxy_env(**set_):
    env = {k: None for k in PROXY_VARS}
    env.update(set_)
    return env


def test_plain_http_never_goes_through_a_proxy(fake_server, mount_fs, proxy):
    """http_proxy and all_proxy set, base_url http://127.0.0.1: the token
    must not travel in clear text through the proxy: nothing reaches it."""
    server = fake_server(**COMPANY)
    mount = mount_fs(server, env=proxy_env(http_proxy=proxy.url,
                                           HTTP_PROXY=proxy.url,
                                           all_proxy=proxy.url,
                                           ALL_PROXY=proxy.url))
    assert listdir_b(owner_dir(mount, 1)) == \
        expected_names(server.persons(owner_id=1))
    assert proxy.connections == 0, proxy.received()[:300]
    assert DEFAULT_TOKEN.encode() not in proxy.received()


def test_https_goes_through_the_proxy_in_a_tunnel(front, mount_fs, proxy):
    """https_proxy set: the requests go through the proxy (corporate
    networks need it), as a CONNECT tunnel; the proxy never sees the token."""
    mount = mount_fs(None, *front.opts(), token=DEFAULT_TOKEN,
                     env=proxy_env(https_proxy=proxy.url))
    assert listdir_b(owner_dir(mount, 2)) == \
        expected_names(front.server.persons(owner_id=2))
    assert proxy.connects, "nothing went through the proxy"
    assert set(proxy.connects) == {f"127.0.0.1:{front.nginx.port}"}
    seen = proxy.received()
    assert DEFAULT_TOKEN.encode() not in seen
    assert b"x-api-token" not in seen.lower()
    assert all(e["protocol"] == "HTTP/2.0" for e in api_log(front.nginx))


def test_no_proxy_is_honoured_for_https(front, mount_fs, proxy):
    mount = mount_fs(None, *front.opts(), token=DEFAULT_TOKEN,
                     env=proxy_env(https_proxy=proxy.url,
                                   no_proxy="127.0.0.1"))
    assert listdir_b(owner_dir(mount, 1)) == \
        expected_names(front.server.persons(owner_id=1))
    assert proxy.connections == 0


# --------------------------------------------------------------------------
# a worker whose connection could not be made

SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
/* The first PDFS_SHIM_FAIL_COUNT curl handles asked for by threads other
 * than the main one are refused (the workers' first connections). */
static atomic_int thread_calls;
void *curl_easy_init(void)
{
	void *(*real)(void) = (void *(*)(void))dlsym(RTLD_NEXT, "curl_easy_init");
	const char *count = getenv("PDFS_SHIM_FAIL_COUNT");
	if (syscall(SYS_gettid) != getpid() &&
	    atomic_fetch_add(&thread_calls, 1) < (count ? atoi(count) : 0))
		return NULL;
	return real();
}
"""


@pytest.fixture(scope="module")
def failing_curl_init(tmp_path_factory):
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler for the LD_PRELOAD shim")
    d = tmp_path_factory.mktemp("shim")
    (d / "shim.c").write_text(SHIM)
    subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", str(d / "shim.so"),
                    str(d / "shim.c"), "-ldl"], check=True)
    return d / "shim.so"


def test_worker_makes_its_connection_again(fake_server, mount_fs,
                                           failing_curl_init):
    """Both workers fail to make their connection when they start (the
    shim refuses the first two curl handles asked for off the main thread).
    Listings must still work: a worker makes its connection again when a
    job comes."""
    server = fake_server(**COMPANY)
    asan = os.environ.get("ASAN_OPTIONS", "")
    mount = mount_fs(server, "workers=2", env={
        "LD_PRELOAD": str(failing_curl_init),
        "PDFS_SHIM_FAIL_COUNT": "2",
        "ASAN_OPTIONS": (asan + ":" if asan else "") +
                        "verify_asan_link_order=0"})
    for owner in (1, 2, 3):
        try:
            got = listdir_b(owner_dir(mount, owner))
        except OSError as e:
            pytest.fail(f"listing /by-owner/{owner}: {e}" + show(mount))
        assert got == expected_names(server.persons(owner_id=owner))
