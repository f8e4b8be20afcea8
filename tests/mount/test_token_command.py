"""The API token from a command: -o token_command=CMD (src/token_command.c,
src/token.c).

- success: the first output line is the token (blanks, CR LF trimmed), the
  requests carry it, the status file names the source, no child is left;
- failures stop the mount with exit status 1, no request and a message:
  non-zero exit (its stderr passes through), not found, killed, timeout
  (the whole process group is killed), no output, an empty first line,
  shell syntax;
- one token source at a time (environment, token_file, token_command);
- the token never in the daemon's log, argv or environment;
- the config-file form; the command's stdin is the daemon's, and on a
  terminal it may prompt (it becomes the foreground job, then the daemon is
  again).

Run: /usr/bin/python3 -m pytest tests/mount/test_token_command.py -q
"""

import os
import pty
import select
import signal
import subprocess
import time

import pytest

from conftest import _base_env, _sanitizer_report

SMALL = dict(persons=30, owners=2, orgs=3, rate_limit=0, quiet=True)
SECRET = "tc-S3cr3t-0c2f9a5e7b1d4863"


@pytest.fixture
def clean_env(tmp_path):
    """An empty HOME and XDG_CONFIG_HOME: no config file of the runner's."""
    home = tmp_path / "home"
    (home / "xdg").mkdir(parents=True)
    return {"HOME": str(home), "XDG_CONFIG_HOME": str(home / "xdg")}


@pytest.fixture
def mountpoint(tmp_path):
    d = tmp_path / "mnt"
    d.mkdir()
    return d


def script(tmp_path, body, name="token-cmd"):
    """An executable sh script (the exact bytes stay out of -o escaping)."""
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o700)
    return path


def private_file(path, text):
    path.write_text(text)
    path.chmod(0o600)
    return path


def read_status(mount):
    text = (mount.path / ".pipedrivefs" / "status").read_text()
    return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)


def children_of(pid):
    """Processes whose parent is pid (zombies included)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid:
            out.append((int(d), fields[0]))
    return out


def pids_with_arg(arg):
    """Processes with arg among their command-line arguments."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if arg.encode() in args:
            out.append(int(d))
    return out


def start_failure(run_pipedrivefs, server, mountpoint, env, *opts):
    """Run the daemon with opts; it must stop with status 1 before any
    request.  Returns the CompletedProcess."""
    o = ",".join([f"base_url={server.base_url}", *opts])
    res = run_pipedrivefs([mountpoint, "-f", "-o", o], env=env)
    assert res.returncode == 1, (res.returncode, res.stderr)
    assert not res.mounted
    assert server.api_count() == 0, server.requests()
    return res


# --------------------------------------------------------------------------
# success

def test_token_from_command_mounts_and_requests_carry_it(
        fake_server, mount_fs, tmp_path, clean_env):
    server = fake_server(token=SECRET, **SMALL)
    tok = private_file(tmp_path / "tok", SECRET + "\nsecond line, ignored\n")
    m = mount_fs(server, f"token_command=cat {tok}", token=None, env=clean_env)
    assert os.listdir(m.path / "by-owner" / "1")
    reqs = [r for r in server.requests() if r["path"].startswith("/api/")]
    assert reqs
    # the fake answers 401 to a wrong token: every request carried this one
    assert all(r["headers"]["x-api-token-present"] for r in reqs)
    assert server.count("GET /api/v1/users/me") == 1
    assert read_status(m)["token_source"] == "token_command"
    assert children_of(m.pid) == [], "the command was not reaped"


@pytest.mark.parametrize("output", [
    "TOKEN",                       # no line end at all
    "TOKEN\n",
    "TOKEN\r\n",
    "  TOKEN \t\r\nmore\r\n",
    "\tTOKEN\n\nTOKEN-not-this\n",
], ids=["bare", "lf", "crlf", "blanks-crlf", "tab-then-more"])
def test_token_output_is_trimmed(fake_server, mount_fs, tmp_path, clean_env,
                                 output):
    server = fake_server(token=SECRET, **SMALL)
    cmd = script(tmp_path, "printf '%s' '" + output.replace("TOKEN", SECRET)
                 + "'\n")
    m = mount_fs(server, f"token_command={cmd}", token=None, env=clean_env)
    assert os.listdir(m.path / "by-owner")


def test_empty_environment_variable_is_no_second_source(
        fake_server, mount_fs, tmp_path, clean_env):
    server = fake_server(token=SECRET, **SMALL)
    tok = private_file(tmp_path / "tok", SECRET + "\n")
    m = mount_fs(server, f"token_command=cat {tok}", token=None,
                 env=dict(clean_env, PIPEDRIVE_API_TOKEN=""))
    assert os.listdir(m.path / "by-owner")


def test_config_file_form(fake_server, mount_fs, tmp_path, clean_env):
    """In the config file CMD is written as it is: quotes for a path with a
    space, a comma and a backslash need no -o escaping."""
    server = fake_server(token=SECRET, **SMALL)
    d = tmp_path / "a dir, with\\odd name"
    d.mkdir()
    tok = private_file(d / "token", SECRET + "\n")
    cfg = tmp_path / "pdfs.conf"
    cfg.write_text(f"# token from a command\ntoken_command = cat '{tok}'\n"
                   "token_command_timeout = 5\n")
    m = mount_fs(server, f"config={cfg}", token=None, env=clean_env)
    assert os.listdir(m.path / "by-owner")
    st = read_status(m)
    assert st["token_source"] == "token_command"
    assert st["config_file"] == str(cfg)


def test_command_reads_the_daemons_stdin(fake_server, pipedrivefs_bin,
                                         tmp_path, mountpoint, clean_env):
    """The command inherits standard input (a passphrase prompt reads it)."""
    server = fake_server(token=SECRET, **SMALL)
    cmd = script(tmp_path, 'IFS= read -r line && printf "%s\\n" "$line"\n')
    log = tmp_path / "daemon.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(pipedrivefs_bin), str(mountpoint), "-f", "-o",
             f"base_url={server.base_url},token_command={cmd}"],
            stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT,
            env=_base_env(clean_env))
    try:
        proc.stdin.write((SECRET + "\n").encode())
        proc.stdin.close()
        deadline = time.monotonic() + 15
        while not os.path.ismount(mountpoint) and proc.poll() is None \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        assert os.path.ismount(mountpoint), log.read_text()
        assert os.listdir(mountpoint / "by-owner")
    finally:
        if os.path.ismount(mountpoint):
            subprocess.run(["fusermount3", "-u", str(mountpoint)])
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert proc.returncode == 0, text
    assert SECRET not in text
    assert not _sanitizer_report(text), text


def test_command_may_prompt_on_the_terminal(fake_server, pipedrivefs_bin,
                                            tmp_path, mountpoint, clean_env):
    """On a terminal the command is the foreground job while it runs (else
    reading the terminal would stop it with SIGTTIN), and the daemon's group
    is the foreground again afterwards."""
    server = fake_server(token=SECRET, **SMALL)
    cmd = script(tmp_path, 'stty -echo </dev/tty\n'
                           'printf "Passphrase: " >/dev/tty\n'
                           'IFS= read -r line </dev/tty\n'
                           'stty echo </dev/tty\n'
                           'printf "%s\\n" "$line"\n')
    argv = [str(pipedrivefs_bin), str(mountpoint), "-f", "-o",
            f"base_url={server.base_url},token_command={cmd},"
            "token_command_timeout=20"]
    env = _base_env(clean_env)
    pid, fd = pty.fork()
    if pid == 0:                                    # the daemon, on the pty
        try:
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    output = b""

    def read_until(cond, timeout):
        nonlocal output
        deadline = time.monotonic() + timeout
        while not cond() and time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], 0.05)
            if r:
                try:
                    output += os.read(fd, 4096)
                except OSError:
                    break
        return cond()

    status = None
    try:
        assert read_until(lambda: b"Passphrase: " in output, 15), output
        os.write(fd, (SECRET + "\n").encode())
        assert read_until(lambda: os.path.ismount(mountpoint), 15), output
        assert os.listdir(mountpoint / "by-owner")
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        fields = stat[stat.rindex(")") + 2:].split()
        pgrp, tpgid = int(fields[2]), int(fields[5])
        assert tpgid == pgrp == pid, \
            f"terminal foreground group {tpgid}, daemon's group {pgrp}"
    finally:
        if os.path.ismount(mountpoint):
            subprocess.run(["fusermount3", "-u", str(mountpoint)])
        deadline = time.monotonic() + 10
        while status is None and time.monotonic() < deadline:
            read_until(lambda: False, 0.1)          # keep the pty drained
            done, status_word = os.waitpid(pid, os.WNOHANG)
            if done:
                status = status_word
        if status is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, output
    assert SECRET.encode() not in output
    assert not _sanitizer_report(output.decode(errors="replace")), output


# --------------------------------------------------------------------------
# failures: exit status 1, no request, a message

def test_failing_command_exits_1_and_its_stderr_passes_through(
        fake_server, run_pipedrivefs, tmp_path, mountpoint, clean_env):
    server = fake_server(token=SECRET, **SMALL)
    cmd = script(tmp_path, 'echo "gpg: decryption failed: No secret key" >&2\n'
                           f'echo {SECRET}\nexit 3\n')
    res = start_failure(run_pipedrivefs, server, mountpoint, clean_env,
                        f"token_command={cmd}")
    assert "gpg: decryption failed: No secret key" in res.stderr
    assert "token_command" in res.stderr and "exit status 3" in res.stderr
    assert SECRET not in res.stderr + res.stdout


def test_command_not_found_exits_1(fake_server, run_pipedrivefs, mountpoint,
                                   clean_env):
    server = fake_server(token=SECRET, **SMALL)
    res = start_failure(run_pipedrivefs, server, mountpoint, clean_env,
                        "token_command=pdfs-no-such-tool lookup x")
    assert "pdfs-no-such-tool" in res.stderr
    assert "not found in PATH" in res.stderr
    assert "full path" in res.stderr


def test_command_path_that_does_not_exist_exits_1(
        fake_server, run_pipedrivefs, tmp_path, mountpoint, clean_env):
    server = fake_server(token=SECRET, **SMALL)
    res = start_failure(run_pipedrivefs, server, mountpoint, clean_env,
                        f"token_command={tmp_path}/nope")
    assert "No such file or directory" in res.stderr


def test_command_killed_by_a_signal_exits_1(
        fake_server, run_pipedrivefs, tmp_path, mountpoint, clean_env):
    server = fake_server(token=SECRET, **SMALL)
    cmd = script(tmp_path, "kill -TERM $$\n")
    res = start_failure(run_pipedrivefs, server, mountpoint, clean_env,
                        f"token_command={cmd}")
    assert "killed by signal 15" in res.stderr, res.stderr


def test_timeout_kills_the_command_and_its_children(
        fake_server, run_pipedrivefs, tmp_path, mountpoint, clean_env):
    server = fake_server(token=SECRET, **SMALL)
    marker = "61.4242"                    # a sleep nobody else runs
    cmd = script(tmp_path, f"sleep {marker} &\nwait\necho {SECRET}\n")
    started = time.monotonic()
    res = start_failure(run_pipedrivefs, server, mountpoint, clean_env,
                        f"token_command={cmd}", "token_command_timeout=1")
    took = time.monotonic() - started
    assert "did not finish within 1 s" in res.stderr, res.stderr
    assert "token_command_timeout" in res.stderr
    assert took < 8, f"took {took:.1f} s with a 1 s timeout"
    deadline = time.monotonic() + 3
    while pids_with_arg(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = pids_with_arg(marker)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, "the command's child survived the timeout"


@pytest.mark.parametrize("body,message", [
    ("exit 0\n", "printed nothing"),
    ("printf '\\n'\n", "no token on its first line"),
    ("printf ' \\t\\r\\n%s\\n' TOKEN\n", "no token on its first line"),
    ("printf 'TOK\\001EN\\n'\n", "control character"),
    ("printf 'TOK\\000EN\\n'\n", "NUL byte"),
    ("head -c 5000 /dev/zero | tr '\\0' x\n", "longer than 4096 bytes"),
], ids=["nothing", "empty-line", "blank-line", "control-char", "nul-byte",
        "too-long"])
def test_unusable_output_exits_1(fake_server, run_pipedrivefs, tmp_path,
                                 mountpoint, clean_env, body, message):
    server = fake_server(token=SECRET, **SMALL)
    cmd = script(tmp_path, body)
    res = start_failure(run_pipedrivefs, server, mountpoint, clean_env,
                        f"token_command={cmd}")
    assert message in res.stderr, res.stderr


@pytest.mark.parametrize("cmd,char", [
    ("pass show pipedrive | head -n 1", "'|'"),
    ("cat $HOME/token", "'$'"),
    ("cat ~/token", "'~'"),
    ("GNUPGHOME=/tmp/g pass show pipedrive", "env NAME=value"),
    ("cat 'unterminated", "not closed"),
])
def test_shell_syntax_is_refused(fake_server, run_pipedrivefs, mountpoint,
                                 clean_env, cmd, char):
    server = fake_server(token=SECRET, **SMALL)
    res = start_failure(run_pipedrivefs, server, mountpoint, clean_env,
                        f"token_command={cmd}")
    assert char in res.stderr and "token_command" in res.stderr, res.stderr


@pytest.mark.parametrize("value", ["0", "3601", "-1"])
def test_token_command_timeout_range(fake_server, run_pipedrivefs, mountpoint,
                                     clean_env, value):
    server = fake_server(token=SECRET, **SMALL)
    res = start_failure(run_pipedrivefs, server, mountpoint, clean_env,
                        "token_command=true", f"token_command_timeout={value}")
    assert f"token_command_timeout={value}" in res.stderr


def test_token_file_with_a_nul_byte_exits_1(fake_server, run_pipedrivefs,
                                             tmp_path, mountpoint, clean_env):
    """The file source gets the same check (a NUL would cut the token)."""
    server = fake_server(token=SECRET, **SMALL)
    tf = tmp_path / "tok"
    tf.write_bytes(SECRET.encode()[:6] + b"\0" + SECRET.encode()[6:] + b"\n")
    tf.chmod(0o600)
    res = start_failure(run_pipedrivefs, server, mountpoint, clean_env,
                        f"token_file={tf}")
    assert "NUL byte" in res.stderr and str(tf) in res.stderr, res.stderr


# --------------------------------------------------------------------------
# one source at a time

@pytest.mark.parametrize("sources", [
    ("env", "file"), ("env", "command"), ("file", "command"),
    ("env", "file", "command"),
], ids=lambda s: "+".join(s))
def test_two_token_sources_are_an_error(fake_server, run_pipedrivefs, tmp_path,
                                        mountpoint, clean_env, sources):
    server = fake_server(token=SECRET, **SMALL)
    ran = tmp_path / "command-ran"
    env = dict(clean_env)
    opts = []
    if "env" in sources:
        env["PIPEDRIVE_API_TOKEN"] = SECRET
    if "file" in sources:
        opts.append(f"token_file={private_file(tmp_path / 'tok', SECRET)}")
    if "command" in sources:
        opts.append("token_command=" + str(script(
            tmp_path, f"touch {ran}\necho {SECRET}\n")))
    res = start_failure(run_pipedrivefs, server, mountpoint, env, *opts)
    names = {"env": "PIPEDRIVE_API_TOKEN", "file": "token_file",
             "command": "token_command"}
    assert "one place only" in res.stderr, res.stderr
    for s in sources:
        assert names[s] in res.stderr, (s, res.stderr)
    assert not ran.exists(), "the command ran although the sources clash"
    assert SECRET not in res.stderr + res.stdout


def test_config_token_file_and_command_line_token_command_clash(
        fake_server, run_pipedrivefs, tmp_path, mountpoint, clean_env):
    """The command line wins over the config file for the same option, but
    these are two sources: the message names the config file."""
    server = fake_server(token=SECRET, **SMALL)
    tok = private_file(tmp_path / "tok", SECRET + "\n")
    cfg = tmp_path / "pdfs.conf"
    cfg.write_text(f"token_file = {tok}\n")
    res = start_failure(run_pipedrivefs, server, mountpoint, clean_env,
                        f"config={cfg}", f"token_command=cat {tok}")
    assert "token_file and token_command" in res.stderr, res.stderr
    assert str(cfg) in res.stderr


# --------------------------------------------------------------------------
# the token stays secret

def test_token_not_in_log_argv_or_environ(fake_server, mount_fs, tmp_path,
                                          clean_env):
    server = fake_server(token=SECRET, **SMALL)
    tok = private_file(tmp_path / "tok", SECRET + "\n")
    m = mount_fs(server, f"token_command=cat {tok}", "log_level=debug",
                 token=None, env=clean_env)
    assert os.listdir(m.path / "by-owner" / "1")
    secret = SECRET.encode()
    with open(f"/proc/{m.pid}/cmdline", "rb") as f:
        assert secret not in f.read()
    with open(f"/proc/{m.pid}/environ", "rb") as f:
        assert secret not in f.read()
    for r in server.requests():
        assert SECRET not in r["path"] and SECRET not in repr(r["query"])
    m.unmount()
    log = m.log()
    assert "debug" in log.lower()                 # debug logging was on
    assert SECRET not in log and SECRET[:12] not in log


def test_help_and_man_page_describe_token_command(pipedrivefs_bin):
    r = subprocess.run([str(pipedrivefs_bin), "--help"], capture_output=True,
                       text=True)
    assert r.returncode == 0
    assert "-o token_command=CMD" in r.stdout
    assert "-o token_command_timeout=SECONDS" in r.stdout
    man = (os.path.dirname(__file__) + "/../../docs/pipedrivefs.1")
    text = open(man).read().replace("\\-", "-")
    for needle in ("token_command_timeout", "secret-tool lookup service pipedrive",
                   "pass show pipedrive", "without a shell"):
        assert needle in text, needle
