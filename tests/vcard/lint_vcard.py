#!/usr/bin/env python3
"""lint_vcard.py - strict byte-level check of pipedrivefs vCard files.

    python3 lint_vcard.py [--version 3.0|4.0] FILE.vcf...

Prints "FILE: reason" for every problem and exits 1 if there was one (2 on
usage errors).  Runs on any python3, no third-party modules.

Checks (vcard.md 1.2-1.4; RFC 2425 5.8.1, RFC 2426, RFC 6350 3.2-3.4):
  * valid UTF-8, no BOM, no NUL
  * every line ends in CRLF (no bare CR or LF, the file ends in CRLF), no
    empty lines
  * physical lines <= 75 octets (CRLF excluded)
  * continuation lines start with one SPACE (a TAB fold or an empty
    continuation is refused)
  * no fold inside a UTF-8 sequence (each physical line decodes on its own)
    and none between "\\" and the character it escapes
  * content line syntax: [group.]NAME *(;param[=value]) : value
  * BEGIN:VCARD first, VERSION second (3.0 or 4.0; equal to --version),
    END:VCARD last, exactly one card
  * exactly one FN (non-empty), one N with 5 components, one UID (non-empty),
    at most one REV / NOTE / ORG
  * no control characters U+0000-U+001F (TAB allowed) or U+007F
  * in text values only the escapes \\\\ \\, \\; \\n \\N; no unescaped "," in
    single-valued text (FN, NOTE, TITLE, ...), no unescaped ";" in
    non-structured text (EDS cuts the value there), no "," inside an N / ADR /
    ORG component (readers split it into a list)
"""

import re
import sys

MAX_OCTETS = 75

NAME_RE = re.compile(r"^(?:([A-Za-z0-9-]+)\.)?([A-Za-z0-9-]+)")
PARAM_NAME_RE = re.compile(r"[A-Za-z0-9-]+")
# Properties whose value is not TEXT (no backslash escapes to check).
NON_TEXT = {"URL", "PHOTO", "LOGO", "SOUND", "KEY", "IMPP", "SOURCE",
            "FBURL", "CALADRURI", "CALURI", "GEO", "TZ", "BDAY",
            "ANNIVERSARY", "REV", "VERSION", "BEGIN", "END", "MEMBER",
            "RELATED", "KIND", "GENDER", "LANG", "CLIENTPIDMAP",
            "X-PIPEDRIVE-ID", "X-PIPEDRIVE-ORG-ID", "X-PIPEDRIVE-OWNER-ID",
            "X-PIPEDRIVE-LABEL-ID", "X-PIPEDRIVE-ADD-TIME",
            "X-PIPEDRIVE-VISIBLE-TO"}
# Structured properties: ";" separates components, "," would split values.
STRUCTURED = {"N": 5, "ADR": 7, "ORG": None}
# Text properties whose value is a comma-separated list.
LIST_TEXT = {"CATEGORIES", "NICKNAME"}
SINGLE_PROPS = ("FN", "N", "UID", "REV", "NOTE", "ORG", "VERSION")
VALID_ESCAPES = "\\,;nN"


def _is_control(ch):
    o = ord(ch)
    return (o < 0x20 and ch != "\t") or o == 0x7F


def _scan_escapes(value):
    """Yield (index, char) of every backslash escape; raise ValueError on an
    invalid or dangling escape."""
    i = 0
    while i < len(value):
        if value[i] == "\\":
            if i + 1 >= len(value):
                raise ValueError("dangling backslash at end of value")
            if value[i + 1] not in VALID_ESCAPES:
                raise ValueError("invalid escape \\%s" % value[i + 1])
            yield i
            i += 2
        else:
            i += 1


def _unescaped(value, ch):
    """Positions of `ch` in value that are not part of an escape."""
    out = []
    i = 0
    while i < len(value):
        if value[i] == "\\":
            i += 2
            continue
        if value[i] == ch:
            out.append(i)
        i += 1
    return out


def _split_line(line):
    """Split a logical line into (group, name, params, value); raise
    ValueError if the syntax is wrong.  params = list of (name, [values])."""
    m = NAME_RE.match(line)
    if not m:
        raise ValueError("no property name")
    group, name = m.group(1), m.group(2).upper()
    i = m.end()
    params = []
    while i < len(line) and line[i] == ";":
        i += 1
        pm = PARAM_NAME_RE.match(line, i)
        if not pm:
            raise ValueError("bad parameter name in %s" % name)
        pname = pm.group(0).upper()
        i = pm.end()
        if i >= len(line) or line[i] != "=":
            raise ValueError("parameter %s without '=' in %s (vCard 2.1 style)"
                             % (pname, name))
        i += 1
        values = []
        while True:
            if i < len(line) and line[i] == '"':
                j = line.find('"', i + 1)
                if j < 0:
                    raise ValueError("unterminated quoted parameter in %s" % name)
                values.append(line[i + 1:j])
                i = j + 1
            else:
                j = i
                while j < len(line) and line[j] not in ';:,"':
                    j += 1
                values.append(line[i:j])
                i = j
            if i < len(line) and line[i] == ",":
                i += 1
                continue
            break
        params.append((pname, values))
    if i >= len(line) or line[i] != ":":
        raise ValueError("no ':' after the name/parameters of %s" % name)
    return group, name, params, line[i + 1:]


def lint_bytes(data, version=None):
    """Return a list of problems (strings) for the bytes of one .vcf file."""
    errs = []
    if data.startswith(b"\xef\xbb\xbf"):
        errs.append("starts with a UTF-8 BOM")
        data = data[3:]
    try:
        data.decode("utf-8", errors="strict")
    except UnicodeDecodeError as e:
        errs.append("not valid UTF-8 (byte %d: %s)" % (e.start, e.reason))
    if not data:
        return errs + ["empty file"]
    if not data.endswith(b"\r\n"):
        errs.append("file does not end in CRLF")
    phys = data.split(b"\r\n")
    if phys and phys[-1] == b"":
        phys.pop()

    # Physical lines -> logical lines, tracking fold positions (in bytes).
    logical = []   # list of (first physical line number, bytes, [fold offsets])
    for no, raw in enumerate(phys, 1):
        if b"\r" in raw:
            errs.append("line %d: bare CR" % no)
        if b"\n" in raw:
            errs.append("line %d: bare LF (LF without CR)" % no)
        if len(raw) > MAX_OCTETS:
            errs.append("line %d: %d octets (> %d)" % (no, len(raw), MAX_OCTETS))
        if raw == b"":
            errs.append("line %d: empty line" % no)
            continue
        try:
            raw.decode("utf-8", errors="strict")
        except UnicodeDecodeError:
            errs.append("line %d: physical line is not valid UTF-8 on its own "
                        "(fold inside a multi-byte character?)" % no)
        if raw[:1] in (b" ", b"\t"):
            if raw[:1] == b"\t":
                errs.append("line %d: continuation starts with TAB, not SPACE" % no)
            if len(raw) == 1:
                errs.append("line %d: empty continuation line" % no)
            if not logical:
                errs.append("line %d: continuation line before any content" % no)
                continue
            first, buf, folds = logical[-1]
            folds.append(len(buf))
            logical[-1] = (first, buf + raw[1:], folds)
        else:
            logical.append((no, raw, []))

    cards = 0
    seen = {}
    first_names = []
    for idx, (no, raw, folds) in enumerate(logical):
        text = raw.decode("utf-8", errors="replace")
        # Fold between "\" and the escaped character (byte positions).
        if folds:
            i = 0
            escape_at = set()
            while i < len(raw):
                if raw[i:i + 1] == b"\\":
                    escape_at.add(i + 1)
                    i += 2
                else:
                    i += 1
            for f in folds:
                if f in escape_at:
                    errs.append("line %d: fold between '\\' and the escaped "
                                "character" % no)
        bad = sorted({"U+%04X" % ord(c) for c in text if _is_control(c)})
        if bad:
            errs.append("line %d: control character(s) %s" % (no, ", ".join(bad)))
        try:
            group, name, params, value = _split_line(text)
        except ValueError as e:
            errs.append("line %d: %s: %r" % (no, e, text[:60]))
            continue
        first_names.append(name)
        if name == "BEGIN" and value.upper() == "VCARD":
            cards += 1
        seen.setdefault(name, []).append((no, params, value))

        if name in NON_TEXT or name == "UID" and (version == "4.0" or
                                                  value.startswith("urn:")):
            continue
        if any(p == "VALUE" and [v.lower() for v in vs] == ["uri"]
               for p, vs in params):
            continue
        try:
            list(_scan_escapes(value))
        except ValueError as e:
            errs.append("line %d: %s: %s" % (no, name, e))
            continue
        if name in STRUCTURED:
            comps = _split_components(value)
            want = STRUCTURED[name]
            if want is not None and len(comps) != want:
                errs.append("line %d: %s has %d components, want %d"
                            % (no, name, len(comps), want))
            for c in comps:
                if _unescaped(c, ","):
                    errs.append("line %d: unescaped ',' inside a %s component "
                                "(readers split it into a list): %r"
                                % (no, name, c[:40]))
                    break
        elif name in LIST_TEXT:
            if _unescaped(value, ";"):
                errs.append("line %d: unescaped ';' in %s" % (no, name))
        else:
            if _unescaped(value, ","):
                errs.append("line %d: unescaped ',' in %s (khard/vobject cut "
                            "or split the value)" % (no, name))
            if _unescaped(value, ";"):
                errs.append("line %d: unescaped ';' in %s (EDS cuts the value "
                            "there)" % (no, name))

    # Structure.
    names = first_names
    if not names:
        return errs + ["no content lines"]
    if cards != 1:
        errs.append("%d BEGIN:VCARD lines (want exactly one card)" % cards)
    if names[0] != "BEGIN" or logical[0][1].decode("utf-8", "replace").upper() != "BEGIN:VCARD":
        errs.append("first line is not BEGIN:VCARD")
    if len(names) < 2 or names[1] != "VERSION":
        errs.append("VERSION is not the second line (ical.js then applies "
                    "vCard 3 rules)")
    last = logical[-1][1].decode("utf-8", "replace")
    if last.upper() != "END:VCARD":
        errs.append("last line is not END:VCARD")
    ends = [v for (_, _, v) in seen.get("END", [])]
    if len(ends) != 1:
        errs.append("%d END lines (want exactly one)" % len(ends))
    for prop in SINGLE_PROPS:
        if len(seen.get(prop, [])) > 1:
            errs.append("%s appears %d times" % (prop, len(seen[prop])))
    vers = [v for (_, _, v) in seen.get("VERSION", [])]
    if not vers:
        errs.append("no VERSION")
    elif vers[0] not in ("3.0", "4.0"):
        errs.append("VERSION %r is neither 3.0 nor 4.0" % vers[0])
    elif version and vers[0] != version:
        errs.append("VERSION %s, expected %s" % (vers[0], version))
    fns = seen.get("FN", [])
    if not fns:
        errs.append("no FN")
    elif not fns[0][2].strip():
        errs.append("FN is empty")
    if not seen.get("N"):
        errs.append("no N")
    uids = seen.get("UID", [])
    if not uids:
        errs.append("no UID (khard hides the card)")
    elif not uids[0][2].strip():
        errs.append("UID is empty")
    return errs


def _split_components(value):
    comps, cur, i = [], [], 0
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value):
            cur.append(value[i:i + 2])
            i += 2
            continue
        if c == ";":
            comps.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    comps.append("".join(cur))
    return comps


def lint_file(path, version=None):
    with open(path, "rb") as f:
        return lint_bytes(f.read(), version)


def main(argv):
    args = list(argv)
    version = None
    if "--version" in args:
        i = args.index("--version")
        if i + 1 >= len(args):
            print("usage: lint_vcard.py [--version 3.0|4.0] FILE.vcf...", file=sys.stderr)
            return 2
        version = args[i + 1]
        del args[i:i + 2]
    if not args:
        print("usage: lint_vcard.py [--version 3.0|4.0] FILE.vcf...", file=sys.stderr)
        return 2
    bad = 0
    for p in args:
        try:
            errs = lint_file(p, version)
        except OSError as e:
            errs = ["cannot read: %s" % e]
        for e in errs:
            print("%s: %s" % (p, e))
        bad += bool(errs)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
