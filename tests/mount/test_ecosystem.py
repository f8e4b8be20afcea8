"""Ecosystem tests: pipedrivefs fits the way FUSE file systems are run.

- `meson install --destdir` puts the binary, the man page and the systemd user
  unit where they belong, honouring --prefix (the unit's ExecStart follows);
- the man page renders without warnings and mentions every option --help
  lists; --version prints the meson project version;
- `mount -t fuse.pipedrivefs -o ... SOURCE DIR` works through mount.fuse3,
  as an fstab line would;
- the config file: the default location, -o config=, precedence (the command
  line wins), errors with FILE:LINE;
- every start-up failure has its exit status (1 usage/configuration, 2 token
  rejected, 3 Pipedrive unreachable, 4 the mount failed) and a message.

Run: /usr/bin/python3 -m pytest tests/mount/test_ecosystem.py -q
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MAN_PAGE = REPO / "docs" / "pipedrivefs.1"

SMALL = dict(persons=40, owners=2, orgs=4, rate_limit=0, quiet=True)

# Every pipedrivefs option (-o name=value) the daemon defines.
OPTIONS = ["base_url", "token_file", "cache_ttl", "page_limit", "timeout",
           "workers", "vcard_version", "ca_file", "log_level", "config",
           "recent_days", "full_refresh", "custom_fields", "include_fields",
           "cache_max_mb", "walk_windows"]

FSTAB_WORDS = ["auto", "noauto", "user", "nouser", "users", "_netdev",
               "nofail", "ro", "rw", "defaults"]


# --------------------------------------------------------------------------
# helpers

def project_version():
    text = (REPO / "meson.build").read_text()
    m = re.search(r"project\s*\((.*?)\)", text, re.S)
    v = re.search(r"version\s*:\s*'([^']+)'", m.group(1))
    return v.group(1)


def read_status(mount):
    text = (mount.path / ".pipedrivefs" / "status").read_text()
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(": ")
        out[key] = value
    return out


def write_token(path, token="test-token", mode=0o600):
    path.write_text(token + "\n")
    os.chmod(path, mode)
    return path


def closed_port():
    """A loopback port nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pids_mentioning(text):
    """Processes whose command line contains text (our unique temp paths)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            cmd = Path("/proc", d, "cmdline").read_bytes()
        except OSError:
            continue
        if text.encode() in cmd and b"pipedrivefs" in cmd:
            out.append(int(d))
    return out


def mounts_at(path):
    path = os.path.realpath(str(path))
    with open("/proc/self/mounts") as f:
        return [line.split() for line in f if line.split()[1] == path]


@pytest.fixture
def clean_env(tmp_path):
    """Environment overrides: an empty XDG_CONFIG_HOME and HOME, so that the
    runner's own ~/.config/pipedrivefs/config cannot take part."""
    home = tmp_path / "home"
    (home / "xdg").mkdir(parents=True)
    return {"HOME": str(home), "XDG_CONFIG_HOME": str(home / "xdg")}


@pytest.fixture
def mountpoint(tmp_path):
    d = tmp_path / "mnt"
    d.mkdir()
    return d


# --------------------------------------------------------------------------
# install

def _run(cmd, **kw):
    return subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, **kw)


def _unit_exec_start(unit_text):
    lines = [l for l in unit_text.splitlines() if l.startswith("ExecStart=")]
    assert len(lines) == 1, unit_text
    return lines[0][len("ExecStart="):].split()


@pytest.mark.slow
def test_meson_install_into_destdir_honours_prefix(tmp_path):
    """meson install --destdir: binary, man page and user unit land under the
    prefix, and the unit runs the installed binary."""
    if not (shutil.which("meson") and shutil.which("ninja")):
        pytest.skip("meson and ninja are needed")
    build = tmp_path / "build"
    r = _run(["meson", "setup", build, REPO, "--prefix=/usr"])
    assert r.returncode == 0, r.stdout
    dest = tmp_path / "dest"
    r = _run(["meson", "install", "-C", build, "--destdir", dest])
    assert r.returncode == 0, r.stdout

    binary = dest / "usr/bin/pipedrivefs"
    man = dest / "usr/share/man/man1/pipedrivefs.1"
    unit = dest / "usr/lib/systemd/user/pipedrivefs@.service"
    for f in (binary, man, unit):
        assert f.is_file(), f"{f} was not installed:\n{r.stdout}"
    assert os.access(binary, os.X_OK)
    assert man.read_bytes() == MAN_PAGE.read_bytes()
    text = unit.read_text()
    assert "@BINDIR@" not in text
    argv = _unit_exec_start(text)
    assert argv[0] == "/usr/bin/pipedrivefs"
    assert "-f" in argv                       # systemd wants the foreground
    assert "config=%h/.config/pipedrivefs/%i.conf" in " ".join(argv)
    assert "%h/Pipedrive/%i" in argv
    assert "ExecStop=/usr/bin/fusermount3 -u %h/Pipedrive/%i" in text
    assert "Restart=on-failure" in text
    installed = {str(p.relative_to(dest)) for p in dest.rglob("*")
                 if p.is_file()}
    assert installed == {"usr/bin/pipedrivefs",
                         "usr/share/man/man1/pipedrivefs.1",
                         "usr/lib/systemd/user/pipedrivefs@.service"}

    r = _run([binary, "--version"])
    assert r.returncode == 0
    assert r.stdout.splitlines()[0] == f"pipedrivefs {project_version()}"

    # The unit is valid for systemd (pointed at the staged binary, without
    # the man: link that only resolves once the page is installed).
    if shutil.which("systemd-analyze"):
        vdir = tmp_path / "verify"
        vdir.mkdir()
        staged = text.replace("/usr/bin/pipedrivefs", str(binary))
        staged = "\n".join(l for l in staged.splitlines()
                           if not l.startswith("Documentation="))
        (vdir / "pipedrivefs@crm.service").write_text(staged + "\n")
        r = _run(["systemd-analyze", "verify",
                  vdir / "pipedrivefs@crm.service"], timeout=60)
        assert r.returncode == 0 and r.stdout.strip() == "", r.stdout

    # Another prefix: everything follows, without recompiling.
    r = _run(["meson", "configure", build, "-Dprefix=/opt/pdfs"])
    assert r.returncode == 0, r.stdout
    dest2 = tmp_path / "dest2"
    r = _run(["meson", "install", "-C", build, "--destdir", dest2])
    assert r.returncode == 0, r.stdout
    assert (dest2 / "opt/pdfs/bin/pipedrivefs").is_file()
    assert (dest2 / "opt/pdfs/share/man/man1/pipedrivefs.1").is_file()
    unit2 = dest2 / "opt/pdfs/lib/systemd/user/pipedrivefs@.service"
    assert _unit_exec_start(unit2.read_text())[0] == "/opt/pdfs/bin/pipedrivefs"


# --------------------------------------------------------------------------
# man page, --help, --version

def test_man_page_renders_without_warnings():
    if shutil.which("groff") is None:
        pytest.skip("groff is not installed (apt-get install groff-base)")
    r = subprocess.run(["groff", "-man", "-ww", "-z", str(MAN_PAGE)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    if shutil.which("man") is None:
        return
    for width in ("80", "60"):
        r = subprocess.run(["man", "--warnings", "-l", str(MAN_PAGE)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True,
                           env=dict(os.environ, MANWIDTH=width, MANPAGER="cat",
                                    PAGER="cat"))
        assert r.returncode == 0 and r.stderr == "", (width, r.stderr)
        assert "EXIT STATUS" in r.stdout and "RATE LIMITS" in r.stdout


def _man_source_text():
    """The page's text with roff escapes reduced to plain characters."""
    text = MAN_PAGE.read_text()
    text = re.sub(r"\\f[BIRP]|\\f\[[A-Z]*\]|\\%|\\c|\\&", "", text)
    return text.replace("\\-", "-").replace("\\e", "\\")


def _help_option_names(help_text):
    names = set()
    for line in help_text.splitlines():
        if not re.match(r"\s+-", line):
            continue
        names.update(re.findall(r"-o\s+([a-z_]+)", line))
        for flag in re.findall(r"(?<![\w-])(--?[A-Za-z][A-Za-z-]*)", line):
            if flag != "-o":
                names.add(flag)
    return names


def test_man_page_mentions_every_option_of_help(pipedrivefs_bin):
    r = subprocess.run([str(pipedrivefs_bin), "--help"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    assert r.returncode == 0, r.stderr
    names = _help_option_names(r.stdout + r.stderr)
    assert set(OPTIONS) <= names, "--help misses %s" % (set(OPTIONS) - names)
    assert {"-f", "-d", "-s", "allow_other"} <= names
    text = _man_source_text()
    names |= {"--help", "--version", "-h", "-V"}
    missing = [n for n in sorted(names)
               if not re.search(r"(?<![\w-])" + re.escape(n) + r"(?![\w-])",
                                text)]
    assert not missing, f"the man page does not mention {missing}"
    for word in FSTAB_WORDS + ["PIPEDRIVE_API_TOKEN", "XDG_CONFIG_HOME",
                               "SIGHUP", "fuse.pipedrivefs",
                               "pipedrivefs@crm", "[[crm]]"]:
        assert word in text, word


def test_help_lists_every_option(pipedrivefs_bin):
    r = subprocess.run([str(pipedrivefs_bin), "--help"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    assert r.returncode == 0
    for name in OPTIONS:
        assert re.search(r"-o " + name + r"=", r.stdout), name
    for name, default in [("cache_ttl", "60"), ("page_limit", "500"),
                          ("timeout", "30"), ("workers", "4"),
                          ("recent_days", "7"), ("full_refresh", "3600"),
                          ("cache_max_mb", "0")]:
        line = next(l for l in r.stdout.splitlines() if f"-o {name}=" in l)
        assert f"default {default}" in line, line


def test_version_prints_the_meson_version(pipedrivefs_bin):
    r = subprocess.run([str(pipedrivefs_bin), "--version"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == f"pipedrivefs {project_version()}"
    assert any(l.startswith("libfuse ") for l in lines)
    r2 = subprocess.run([str(pipedrivefs_bin), "-V"], stdout=subprocess.PIPE,
                        text=True)
    assert r2.returncode == 0 and r2.stdout == r.stdout


# --------------------------------------------------------------------------
# mount -t fuse.pipedrivefs (fstab)

MOUNT_SCRIPT = r"""
set -u
bin=$1 mnt=$2 opts=$3 out=$4
# mount(8) runs its helpers without PATH, so /bin/sh's default search path
# finds the program: put ours first, in this private mount namespace only.
for d in /usr/local/sbin /usr/local/bin; do
    [ -d "$d" ] && mount --bind "$bin" "$d"
done
mount -t fuse.pipedrivefs -o "$opts" acme "$mnt"
echo $? > "$out/mount.rc"
ls "$mnt/by-owner/1" > "$out/ls" 2>&1
cat "$mnt/.pipedrivefs/status" > "$out/status" 2>&1
cat /proc/self/mounts > "$out/mounts"
umount "$mnt"
echo $? > "$out/umount.rc"
# the daemon exits after the unmount; the namespace goes with it
for i in $(seq 100); do
    grep -q " $mnt " /proc/self/mounts || break
    sleep 0.1
done
"""


def _unshare_works():
    if os.geteuid() != 0:
        return "mount -t needs root (or an fstab entry)"
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return "unshare(1) and mount(8) are needed"
    r = subprocess.run(["unshare", "--mount", "--propagation", "private",
                        "true"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    if r.returncode != 0:
        return "cannot create a mount namespace: %s" % r.stdout.decode()
    if not (os.path.exists("/sbin/mount.fuse3") or
            os.path.exists("/usr/sbin/mount.fuse3") or
            os.path.exists("/sbin/mount.fuse")):
        return "mount.fuse3 is not installed"
    return None


def mount_through_mount8(server, pipedrivefs_bin, tmp_path, mountpoint, clean_env, words):
    """Run MOUNT_SCRIPT (mount -t fuse.pipedrivefs in a private mount
    namespace) with the token, base_url and `words` as options; returns
    (the script's CompletedProcess, its out folder, the daemons left)."""
    reason = _unshare_works()
    if reason:
        pytest.skip(reason)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "pipedrivefs").symlink_to(pipedrivefs_bin)
    token = write_token(tmp_path / "token")
    out = tmp_path / "out"
    out.mkdir()
    opts = ",".join([f"token_file={token}", f"base_url={server.base_url}"] + words)
    env = dict(os.environ, **clean_env)
    env.pop("PIPEDRIVE_API_TOKEN", None)
    try:
        r = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c",
             MOUNT_SCRIPT, "sh", str(bindir), str(mountpoint), opts, str(out)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=env, timeout=60)
    finally:
        # The daemon lives in the namespace; it must be gone by now.
        deadline = time.monotonic() + 10
        while pids_mentioning(str(mountpoint)) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = pids_mentioning(str(mountpoint))
        for pid in left:
            os.kill(pid, signal.SIGKILL)
    return r, out, left


def test_mount_t_fuse_pipedrivefs_through_mount_fuse3(
        fake_server, pipedrivefs_bin, tmp_path, mountpoint, clean_env):
    """The fstab route: mount -t fuse.pipedrivefs -o OPTIONS SOURCE DIR runs
    /sbin/mount.fuse -> mount.fuse3 -> `pipedrivefs SOURCE DIR -o OPTIONS`,
    with the fstab words among the options."""
    server = fake_server(**SMALL)
    r, out, left = mount_through_mount8(server, pipedrivefs_bin, tmp_path, mountpoint,
                                        clean_env,
                                        ["noauto", "user", "_netdev", "nofail", "defaults"])
    assert not left, "pipedrivefs did not exit after umount"
    assert (out / "mount.rc").read_text().strip() == "0", r.stdout
    names = (out / "ls").read_text().split("\n")
    names = [n for n in names if n]
    persons = server.persons(owner_id=1)
    assert len(persons) > 0
    assert len(names) == 2 * len(persons), (names, r.stdout)
    assert all(n.endswith((".json", ".vcf")) for n in names)
    mounts = [l.split() for l in (out / "mounts").read_text().splitlines()]
    ours = [m for m in mounts if m[1] == str(mountpoint)]
    assert ours and ours[0][0] == "pipedrive:acme", ours
    assert ours[0][2] == "fuse.pipedrivefs"
    assert "ro" in ours[0][3].split(",")
    status = (out / "status").read_text()
    assert f"base_url: {server.base_url}\n" in status
    assert "company: acme\n" in status
    assert "token_source: token_file\n" in status
    assert (out / "umount.rc").read_text().strip() == "0"
    assert not os.path.ismount(mountpoint)


def test_fstab_words_are_accepted(fake_server, mount_fs, clean_env):
    server = fake_server(**SMALL)
    m = mount_fs(server, *FSTAB_WORDS, env=clean_env)
    assert (m.path / "by-owner").is_dir()
    assert mounts_at(m.path)[0][3].split(",")[0] == "ro"


# --------------------------------------------------------------------------
# the config file

def test_config_file_and_command_line_precedence(fake_server, mount_fs,
                                                 tmp_path, clean_env):
    """-o config=FILE: the file sets cache_ttl and page_limit, the command
    line sets page_limit again and wins."""
    server = fake_server(**SMALL)
    cfg = tmp_path / "pdfs.conf"
    cfg.write_text("# a comment\n\n  cache_ttl = 5  \npage_limit=100\n"
                   "recent_days = 3\n")
    m = mount_fs(server, f"config={cfg}", "page_limit=50", env=clean_env)
    st = read_status(m)
    assert st["config_file"] == str(cfg)
    assert st["cache_ttl"] == "5"
    assert st["page_limit"] == "50"
    assert st["recent_days"] == "3"
    assert st["timeout"] == "30"                 # untouched default
    assert len(os.listdir(m.path / "by-owner" / "1")) > 0
    limits = {r["query"].get("limit")
              for r in server.requests("GET /api/v2/persons")}
    assert limits == {"50"}


@pytest.mark.parametrize("where", ["xdg", "home"])
def test_default_config_file_location(fake_server, mount_fs, tmp_path,
                                      clean_env, where):
    """Without -o config: $XDG_CONFIG_HOME/pipedrivefs/config, or
    $HOME/.config/pipedrivefs/config when XDG_CONFIG_HOME is unset."""
    server = fake_server(**SMALL)
    env = dict(clean_env)
    if where == "xdg":
        cfg = Path(env["XDG_CONFIG_HOME"]) / "pipedrivefs" / "config"
    else:
        env["XDG_CONFIG_HOME"] = None
        cfg = Path(env["HOME"]) / ".config" / "pipedrivefs" / "config"
    cfg.parent.mkdir(parents=True)
    cfg.write_text("cache_ttl = 5\npage_limit = 100\n")
    m = mount_fs(server, "page_limit=50", env=env)
    st = read_status(m)
    assert st["config_file"] == str(cfg)
    assert st["cache_ttl"] == "5"
    assert st["page_limit"] == "50"


def test_no_config_file_is_fine(fake_server, mount_fs, clean_env):
    server = fake_server(**SMALL)
    m = mount_fs(server, env=clean_env)
    st = read_status(m)
    assert st["config_file"] == "none"
    assert st["cache_ttl"] == "60"
    assert st["page_limit"] == "500"


def test_explicit_config_file_must_exist(fake_server, run_pipedrivefs,
                                         mountpoint, tmp_path, clean_env):
    server = fake_server(**SMALL)
    missing = tmp_path / "nope.conf"
    res = run_pipedrivefs([mountpoint, "-f", "-o",
                           f"base_url={server.base_url},config={missing}"],
                          env=dict(clean_env, PIPEDRIVE_API_TOKEN="test-token"))
    assert res.returncode == 1, res.stderr
    assert str(missing) in res.stderr
    assert "No such file" in res.stderr
    assert not res.mounted
    assert server.api_count() == 0


@pytest.mark.parametrize("bad_line", ["= 5", "cache ttl = 5"])
def test_malformed_config_line_names_file_and_line(
        fake_server, run_pipedrivefs, mountpoint, tmp_path, clean_env,
        bad_line):
    server = fake_server(**SMALL)
    cfg = tmp_path / "bad.conf"
    cfg.write_text(f"# ok\ncache_ttl = 5\n{bad_line}\n")
    res = run_pipedrivefs([mountpoint, "-f", "-o",
                           f"base_url={server.base_url},config={cfg}"],
                          env=dict(clean_env, PIPEDRIVE_API_TOKEN="test-token"))
    assert res.returncode == 1, res.stderr
    assert f"{cfg}:3:" in res.stderr
    assert not res.mounted


# --------------------------------------------------------------------------
# start-up failures: exit status and message

def test_no_token_exits_1(fake_server, run_pipedrivefs, mountpoint,
                          clean_env):
    server = fake_server(**SMALL)
    res = run_pipedrivefs([mountpoint, "-f", "-o",
                           f"base_url={server.base_url}"], env=clean_env)
    assert res.returncode == 1, res.stderr
    assert "PIPEDRIVE_API_TOKEN" in res.stderr
    assert "token_file" in res.stderr
    assert not res.mounted
    assert server.api_count() == 0


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_loose_token_file_exits_1(fake_server, run_pipedrivefs, mountpoint,
                                  tmp_path, clean_env, mode):
    server = fake_server(**SMALL)
    token = write_token(tmp_path / "token", mode=mode)
    res = run_pipedrivefs([mountpoint, "-f", "-o",
                           f"base_url={server.base_url},token_file={token}"],
                          env=clean_env)
    assert res.returncode == 1, res.stderr
    assert "chmod 600" in res.stderr
    assert "test-token" not in res.stderr
    assert not res.mounted
    assert server.api_count() == 0


def test_token_on_command_line_is_refused(fake_server, run_pipedrivefs,
                                          mountpoint, clean_env):
    server = fake_server(**SMALL)
    res = run_pipedrivefs([mountpoint, "-f", "-o",
                           f"base_url={server.base_url},token=s3cr3t-value"],
                          env=clean_env)
    assert res.returncode == 1, res.stderr
    assert "PIPEDRIVE_API_TOKEN" in res.stderr
    assert "s3cr3t-value" not in res.stderr
    assert server.api_count() == 0


@pytest.mark.parametrize("opt", [
    "page_limit=0", "page_limit=501", "cache_ttl=abc", "cache_ttl=-1",
    "timeout=0", "workers=0", "workers=65", "vcard_version=2.1",
    "recent_days=0", "full_refresh=-1", "cache_max_mb=-1", "log_level=loud",
    "walk_windows=9",
    "custom_fields=bad-key", "include_fields=a;b",
    "base_url=http://example.com/api/v2", "base_url=https://example.com/api/v3",
    "base_url=ftp://example.com/api/v2",
])
def test_bad_option_value_exits_1(fake_server, run_pipedrivefs, mountpoint,
                                  clean_env, opt):
    server = fake_server(**SMALL)
    opts = f"base_url={server.base_url},{opt}"
    res = run_pipedrivefs([mountpoint, "-f", "-o", opts],
                          env=dict(clean_env, PIPEDRIVE_API_TOKEN="test-token"))
    assert res.returncode == 1, res.stderr
    name = opt.split("=")[0]
    assert name in res.stderr, res.stderr
    assert not res.mounted
    assert server.api_count() == 0


def test_bad_company_domain_exits_1(run_pipedrivefs, mountpoint, clean_env):
    res = run_pipedrivefs(["acme.pipedrive.com/x", mountpoint, "-f"],
                          env=dict(clean_env, PIPEDRIVE_API_TOKEN="test-token"))
    assert res.returncode == 1, res.stderr
    assert "company domain" in res.stderr


def test_unknown_custom_field_key_exits_1(fake_server, run_pipedrivefs,
                                          mountpoint, clean_env):
    """custom_fields keys are checked against GET /personFields at mount."""
    server = fake_server(**SMALL)
    res = run_pipedrivefs([mountpoint, "-f", "-o",
                           f"base_url={server.base_url},"
                           "custom_fields=no_such_field_key"],
                          env=dict(clean_env, PIPEDRIVE_API_TOKEN="test-token"))
    assert res.returncode == 1, res.stderr
    assert "no_such_field_key" in res.stderr
    assert not res.mounted


def test_unknown_option_exits_1(fake_server, run_pipedrivefs, mountpoint,
                                clean_env):
    server = fake_server(**SMALL)
    res = run_pipedrivefs([mountpoint, "-f", "-o",
                           f"base_url={server.base_url},no_such_option=1"],
                          env=dict(clean_env, PIPEDRIVE_API_TOKEN="test-token"))
    assert "no_such_option" in res.stderr
    assert not res.mounted
    assert res.returncode == 1, res.stderr


def test_mountpoint_does_not_exist_exits_1(fake_server, run_pipedrivefs,
                                           tmp_path, clean_env):
    server = fake_server(**SMALL)
    missing = tmp_path / "no-such-dir"
    res = run_pipedrivefs([missing, "-f", "-o", f"base_url={server.base_url}"],
                          env=dict(clean_env, PIPEDRIVE_API_TOKEN="test-token"))
    assert res.returncode == 1, res.stderr
    assert str(missing) in res.stderr or "no-such-dir" in res.stderr
    assert "No such file or directory" in res.stderr
    assert server.api_count() == 0


def test_no_mountpoint_exits_1(fake_server, run_pipedrivefs, clean_env):
    server = fake_server(**SMALL)
    res = run_pipedrivefs(["-f", "-o", f"base_url={server.base_url}"],
                          env=dict(clean_env, PIPEDRIVE_API_TOKEN="test-token"))
    assert res.returncode == 1, res.stderr
    assert "no mountpoint" in res.stderr
    assert "usage" in res.stderr


def _start_daemon(binary, mnt, server, env, *opts):
    proc = subprocess.Popen(
        [str(binary), str(mnt), "-f", "-o",
         ",".join([f"base_url={server.base_url}", *opts])],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while not os.path.ismount(mnt):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait(5)
            pytest.fail("the first pipedrivefs did not mount")
        time.sleep(0.02)
    return proc


def _daemon_env(clean_env):
    env = dict(os.environ, **clean_env, PIPEDRIVE_API_TOKEN="test-token")
    return env


def test_dead_mountpoint_exits_4(fake_server, run_pipedrivefs,
                                 pipedrivefs_bin, mountpoint, clean_env):
    """A mountpoint left dead by a killed daemon ("Transport endpoint is not
    connected"): exit 4, and the message says how to clear it."""
    server = fake_server(**SMALL)
    # cache_ttl=0: the kernel keeps no attributes of the root, so the dead
    # mount is noticed at once (with a TTL, stat() succeeds from the cache
    # until it expires, and the new mount lands on top of the dead one).
    proc = _start_daemon(pipedrivefs_bin, mountpoint, server,
                         _daemon_env(clean_env), "cache_ttl=0")
    try:
        proc.kill()
        proc.wait(10)
        with pytest.raises(OSError):
            os.listdir(mountpoint)              # dead, not unmounted
        res = run_pipedrivefs([mountpoint, "-f", "-o",
                               f"base_url={server.base_url}"],
                              env=dict(clean_env,
                                       PIPEDRIVE_API_TOKEN="test-token"))
        assert res.returncode == 4, res.stderr
        assert "fusermount3 -u" in res.stderr
        assert str(mountpoint) in res.stderr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        subprocess.run(["fusermount3", "-u", "-z", "--", str(mountpoint)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_already_mounted_exits_4(fake_server, pipedrivefs_bin, mountpoint,
                                 clean_env):
    server = fake_server(**SMALL)
    env = _daemon_env(clean_env)
    first = _start_daemon(pipedrivefs_bin, mountpoint, server, env)
    second = None
    try:
        second = subprocess.Popen(
            [str(pipedrivefs_bin), str(mountpoint), "-f", "-o",
             f"base_url={server.base_url}"], env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        while second.poll() is None and time.monotonic() < deadline:
            if len(mounts_at(mountpoint)) > 1:  # stacked on top of the first
                subprocess.run(["fusermount3", "-u", "--", str(mountpoint)])
                break
            time.sleep(0.05)
        try:
            second.wait(10)
        except subprocess.TimeoutExpired:
            second.kill()
            second.wait(5)
        err = second.stderr.read()
        assert second.returncode == 4, err
        assert "fusermount3 -u" in err
    finally:
        if second is not None and second.poll() is None:
            second.kill()
            second.wait(5)
        if second is not None:
            second.stderr.close()
        while len(mounts_at(mountpoint)) > 1:
            subprocess.run(["fusermount3", "-u", "-z", "--", str(mountpoint)])
        subprocess.run(["fusermount3", "-u", "--", str(mountpoint)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            first.wait(10)
        except subprocess.TimeoutExpired:
            first.kill()
            first.wait(5)
        if os.path.ismount(mountpoint):
            subprocess.run(["fusermount3", "-u", "-z", "--", str(mountpoint)])


def test_server_unreachable_exits_3(run_pipedrivefs, mountpoint, clean_env):
    port = closed_port()
    res = run_pipedrivefs([mountpoint, "-f", "-o",
                           f"base_url=http://127.0.0.1:{port}/api/v2"],
                          env=dict(clean_env, PIPEDRIVE_API_TOKEN="test-token"))
    assert res.returncode == 3, res.stderr
    assert "network error" in res.stderr
    assert "base_url" in res.stderr              # what to check
    assert not res.mounted


def test_token_rejected_exits_2(fake_server, run_pipedrivefs, mountpoint,
                                clean_env):
    server = fake_server(**SMALL)
    res = run_pipedrivefs([mountpoint, "-f", "-o",
                           f"base_url={server.base_url}"],
                          env=dict(clean_env,
                                   PIPEDRIVE_API_TOKEN="wrong-token-123"))
    assert res.returncode == 2, res.stderr
    assert "the API token was rejected" in res.stderr
    assert "Personal preferences > API" in res.stderr
    assert "wrong-token-123" not in res.stderr
    assert not res.mounted


def test_token_rejected_from_token_file_exits_2(fake_server, run_pipedrivefs,
                                                mountpoint, tmp_path,
                                                clean_env):
    server = fake_server(**SMALL)
    token = write_token(tmp_path / "token", token="revoked-token")
    res = run_pipedrivefs([mountpoint, "-f", "-o",
                           f"base_url={server.base_url},token_file={token}"],
                          env=clean_env)
    assert res.returncode == 2, res.stderr
    assert "the API token was rejected" in res.stderr
    assert "revoked-token" not in res.stderr


# --------------------------------------------------------------------------
# logging

def test_log_levels(fake_server, mount_fs, clean_env):
    """Foreground logs go to stderr as "HH:MM:SS.mmm pipedrivefs LEVEL: ...";
    log_level=error hides the info line about the mount; -d adds libfuse's
    trace of every FUSE request."""
    server = fake_server(**SMALL)
    quiet = mount_fs(server, "log_level=error", env=clean_env)
    normal = mount_fs(server, env=clean_env)
    debug = mount_fs(server, env=clean_env, extra_args=["-d"])
    for m in (quiet, normal, debug):
        os.listdir(m.path / "by-owner")
    time.sleep(0.2)
    assert " info: mounted" not in quiet.log()
    assert re.search(r"^\d\d:\d\d:\d\d\.\d{3} pipedrivefs info: mounted ",
                     normal.log(), re.M), normal.log()
    assert " debug: " not in normal.log()
    assert "opcode: READDIR" in debug.log() or "opcode: READDIRPLUS" in debug.log()


def test_log_level_debug_shows_more(fake_server, mount_fs, clean_env):
    server = fake_server(**SMALL)
    m = mount_fs(server, "log_level=debug", env=clean_env)
    os.listdir(m.path / "by-owner" / "1")
    time.sleep(0.2)
    assert " debug: " in m.log()
