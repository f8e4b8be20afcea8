"""expected.py - what a vCard reader must see for one Pipedrive person.

    expected(person, version, org_names=None) -> dict

`person` is the person object as the API sends it (the mount serves it as the
sibling `<Name> (<id>).json`).  Any field may be missing, null or of the wrong
type; strings may hold control characters or (when read from bytes) invalid
UTF-8.  The rules are the renderer's (include/vcard.h, vcard.md 1.4 / 1.8):

* SINGLE_LINE clean: invalid UTF-8 -> U+FFFD (one per maximal ill-formed
  subpart, Python's errors='replace'), CRLF / CR / LF / TAB -> one space,
  other U+0000-U+001F and U+007F dropped, leading/trailing spaces trimmed.
* FN: name, else "first_name last_name", else primary (else first) email,
  else primary (else first) phone, else "Pipedrive person <id>".
* N: family = last_name, given = first_name; if both are empty and name is
  not: family = name.
* EMAIL / TEL: primary first, then the others in order; cleaned; empty values
  skipped; exact duplicates once.
* NOTE: CRLF / CR -> LF, controls except LF and TAB dropped, trimmed; None if
  empty.
* ORG: only when the organization's name is known (org_names maps the org id,
  as int or str, to the name); never the bare id.

Runs on any python3 (no third-party modules).
"""

import json

SINGLE = "single"
MULTI = "multi"

_TRIM_SINGLE = " "
_TRIM_MULTI = " \t\n"


def _text(value):
    """A JSON value as text, or "" for missing / null / non-string."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        # Lone surrogates (from "\ud800" escapes) cannot be UTF-8: U+FFFD.
        if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
            value = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c
                            for c in value)
        return value
    return ""


def clean(value, mode=SINGLE):
    """Clean one JSON string as the renderer does (see module doc)."""
    s = _text(value)
    s = s.replace("\r\n", "\n").replace("\r", "\n")
    out = []
    for ch in s:
        o = ord(ch)
        if ch == "\n":
            out.append(" " if mode == SINGLE else "\n")
        elif ch == "\t":
            out.append(" " if mode == SINGLE else "\t")
        elif o < 0x20 or o == 0x7F:
            continue
        else:
            out.append(ch)
    return "".join(out).strip(_TRIM_SINGLE if mode == SINGLE else _TRIM_MULTI)


def _values(items):
    """Cleaned values of an emails/phones array: primary first, no empties,
    exact duplicates once."""
    if not isinstance(items, list):
        return []
    entries = [it for it in items if isinstance(it, dict)]
    primary = [it for it in entries if it.get("primary") is True]
    rest = [it for it in entries if it.get("primary") is not True]
    # Only the first primary entry moves to the front.
    ordered = entries
    if primary:
        first = primary[0]
        ordered = [first] + [it for it in entries if it is not first]
    del rest
    out = []
    for it in ordered:
        v = clean(it.get("value"))
        if v and v not in out:
            out.append(v)
    return out


def _primary(items):
    """Cleaned value of the first primary entry, or None."""
    if not isinstance(items, list):
        return None
    for it in items:
        if isinstance(it, dict) and it.get("primary") is True:
            v = clean(it.get("value"))
            return v or None
    return None


def org_id_of(person):
    oid = person.get("org_id")
    if isinstance(oid, dict):          # v1 shape {"value": 1, "name": ...}
        oid = oid.get("value", oid.get("id"))
    if isinstance(oid, bool) or not isinstance(oid, int):
        return None
    return oid


def load_org_names(path):
    """Read --org-names: {"<id>": "name"}, or a list of organization objects
    [{"id": 1, "name": "Acme"}], or an API envelope {"data": [...]}."""
    with open(path, "rb") as f:
        data = json.loads(f.read().decode("utf-8", errors="replace"))
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    names = {}
    if isinstance(data, list):
        for o in data:
            if isinstance(o, dict) and isinstance(o.get("id"), int):
                names[o["id"]] = o.get("name")
    elif isinstance(data, dict):
        for k, v in data.items():
            try:
                names[int(k)] = v
            except ValueError:
                pass
    return names


def expected(person, version="3.0", org_names=None):
    if not isinstance(person, dict):
        raise ValueError("person is not a JSON object")
    pid = person.get("id")
    name = clean(person.get("name"))
    first = clean(person.get("first_name"))
    last = clean(person.get("last_name"))
    emails = _values(person.get("emails"))
    tels = _values(person.get("phones"))

    if name:
        fn = name
    else:
        fn = clean(_text(person.get("first_name")) + " " + _text(person.get("last_name")))
        if not fn:
            fn = emails[0] if emails else (tels[0] if tels else "")
        if not fn:
            fn = "Pipedrive person %s" % (pid,)

    n_family, n_given = last, first
    if not last and not first and name:
        n_family = name

    note = clean(person.get("notes"), MULTI) or None

    oid = org_id_of(person)
    org = None
    if org_names is not None and oid is not None:
        on = org_names.get(oid, org_names.get(str(oid)))
        org = clean(on) or None

    return {
        "id": pid,
        "version": str(version),
        "fn": fn,
        "n_family": n_family,
        "n_given": n_given,
        "emails": emails,
        "tels": tels,
        "email_primary": _primary(person.get("emails")),
        "tel_primary": _primary(person.get("phones")),
        "note": note,
        "org": org,
        "org_checked": org_names is not None,
        "org_id": oid,
    }


def load_person(path):
    """A person JSON file; invalid UTF-8 becomes U+FFFD like in the renderer."""
    with open(path, "rb") as f:
        return json.loads(f.read().decode("utf-8", errors="replace"))


if __name__ == "__main__":
    import sys
    for p in sys.argv[1:]:
        print(json.dumps(expected(load_person(p)), ensure_ascii=False))
