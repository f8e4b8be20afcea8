"""Helpers of the write tests (test_write*.py): where a person's files are,
what was written to the fake server, the status file, waiting.
"""

import errno
import json
import time
from pathlib import Path

WRITE_METHODS = ("POST", "PATCH", "DELETE")


def person(server, pid):
    """The person as the fake serves it by default."""
    found = server.persons(ids=str(pid))
    assert found, "person %d does not exist" % pid
    return found[0]


def person_file(folder, pid, ext):
    """The file of person pid in folder (its canonical name)."""
    folder = Path(folder)
    hits = [p for p in folder.iterdir() if p.name.endswith(" (%d)%s" % (pid, ext))]
    assert len(hits) == 1, (pid, ext, sorted(x.name for x in folder.iterdir()))
    return hits[0]


def owner_folder(mount, server, pid):
    return Path(mount.path) / "by-owner" / str(person(server, pid)["owner_id"])


def writes(server):
    """The write requests the fake saw, oldest first: (method, path, body)."""
    return [(r["method"], r["path"], r.get("body")) for r in server.requests()
            if r["method"] in WRITE_METHODS]


def delivered(server):
    """The write requests the fake answered with success."""
    return [(r["method"], r["path"], r.get("body")) for r in server.requests()
            if r["method"] in WRITE_METHODS and 200 <= r["status"] < 300]


def count(server, method, path_prefix):
    return sum(1 for r in server.requests()
               if r["method"] == method and r["path"].startswith(path_prefix))


def status(mount):
    text = (Path(mount.path) / ".pipedrivefs" / "status").read_text()
    return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)


def wait_for(cond, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def save(path, text, mode="w"):
    """Write text in place (truncate + write, as most editors' :w does) and
    close; returns 0 or the errno close() (or write()) failed with."""
    try:
        with open(path, mode, encoding="utf-8", newline="") as f:
            f.write(text)
    except OSError as e:
        return e.errno
    return 0


def text(path):
    """A file's text with its line ends as they are (cards end in CRLF)."""
    with open(path, encoding="utf-8", newline="") as f:
        return f.read()


def edited_json(path, **changes):
    data = json.loads(Path(path).read_text())
    data.update(changes)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def conflict_files(mount):
    folder = Path(mount.path) / ".pipedrivefs" / "conflicts"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def replace_line(card, prefix, new_line):
    """The card with its first line starting with prefix replaced."""
    lines = card.split("\r\n")
    for i, line in enumerate(lines):
        if line.startswith(prefix):
            lines[i] = new_line
            return "\r\n".join(lines)
    raise AssertionError("no line %r in the card" % prefix)


EINVAL, EBUSY, EPERM, EROFS, EIO, ENOENT = (
    errno.EINVAL, errno.EBUSY, errno.EPERM, errno.EROFS, errno.EIO, errno.ENOENT)
