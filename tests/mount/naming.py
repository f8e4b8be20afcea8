"""What the mount tests expect, written independently of the daemon: the
person file naming rule (names.c), and JSON compared with its key order.

Shared by the mount tests: a test that compares a listing with the fake
server's persons computes the expected names here.
"""
import os

NAME_MAX = 255


def safe_base(name, pid):
    """b"<safe name> (<id>)" for a person: invalid UTF-8 -> U+FFFD, "/" and
    control characters -> "_", leading dots dropped, empty -> "Unnamed", cut at
    a character boundary so the .json name fits NAME_MAX bytes."""
    raw = (name or "").encode("utf-8", "surrogatepass")
    text = raw.decode("utf-8", "replace")
    text = "".join("_" if (c == "/" or ord(c) < 0x20 or ord(c) == 0x7F)
                   else c for c in text)
    text = text.lstrip(".")
    if text == "":
        text = "Unnamed"
    suffix = f" ({pid})".encode()
    budget = NAME_MAX - len(b".json") - len(suffix)
    out = b""
    for ch in text:                                     # whole characters only
        b = ch.encode("utf-8")
        if len(out) + len(b) > budget:
            break
        out += b
    return out + suffix


def expected_names(persons):
    """Every file name a directory holding these persons shows."""
    names = set()
    for p in persons:
        base = safe_base(p.get("name"), p["id"])
        names.add(base + b".json")
        names.add(base + b".vcf")
    return names


def listdir_b(path):
    """A directory's names as bytes (names need not be valid UTF-8)."""
    return set(os.listdir(os.fsencode(path)))


def ordered(obj):
    """JSON value with dicts turned into key-ordered lists (order matters)."""
    if isinstance(obj, dict):
        return [(k, ordered(v)) for k, v in obj.items()]
    if isinstance(obj, list):
        return [ordered(v) for v in obj]
    return obj
