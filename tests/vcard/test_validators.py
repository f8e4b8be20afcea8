"""Self-test of the vCard checks: each one passes the good sample cards and
catches the breakage it is meant to catch (vcard.md 3.1), so none of them can
pass silently.  Run: /usr/bin/python3 -m pytest tests/vcard -q
"""

import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = os.path.join(HERE, "samples")
sys.path.insert(0, HERE)
import expected as E  # noqa: E402
import lint_vcard  # noqa: E402

SYSTEM_PY = os.environ.get("PDFS_SYSTEM_PYTHON", "/usr/bin/python3")


def _have(reader):
    if reader == "lint":
        return True
    if reader == "khard":
        return shutil.which("khard") is not None
    if reader == "icaljs":
        return (shutil.which("node") is not None and
                os.path.isdir(os.path.join(HERE, "node_modules", "ical.js")))
    mod = {"vobject": "import vobject",
           "eds": "import gi; gi.require_version('EBookContacts','1.2'); "
                  "from gi.repository import EBookContacts"}[reader]
    return subprocess.run([SYSTEM_PY, "-c", mod], capture_output=True).returncode == 0


def check(directory, reader, version="3.0", org_names=None):
    cmd = [sys.executable, os.path.join(HERE, "check_dir.py"), str(directory),
           "--version", version, "--only", reader]
    if org_names:
        cmd += ["--org-names", org_names]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout + p.stderr


def one_card_dir(tmp_path, name):
    d = tmp_path / "book"
    d.mkdir()
    for ext in (".vcf", ".json"):
        shutil.copy(os.path.join(SAMPLES, "broken", name + ext), d / (name + ext))
    return d


READERS = ["lint", "vobject", "eds", "icaljs", "khard"]

# Which broken sample each reader must reject (and a word its output must
# contain).  version 4.0 for b8.  Matches vcard.md 3.1 plus the checks the
# scripts add (EDS: FN attribute must exist; N / UID presence).
MUST_FAIL = {
    "lint": {
        "b1_n_unescaped_comma": "unescaped ','",
        "b2_missing_fn": "no FN",
        "b3_bad_folding": "no ':'",
        "b4_bare_lf": "bare LF",
        "b5_fold_splits_utf8": "not valid UTF-8 on its own",
        "b6_note_unescaped_comma": "unescaped ',' in NOTE",
        "b7_no_uid": "no UID",
        "b8_v4_version_not_first": "VERSION is not the second line",
        "b9_no_end": "END:VCARD",
        "b10_bom": "BOM",
        "b11_v3_missing_n": "no N",
        "b12_long_line_semicolon_fn": "octets",
    },
    "vobject": {
        "b1_n_unescaped_comma": "list",
        "b2_missing_fn": "FN",
        "b3_bad_folding": "Failed to parse line",
        "b5_fold_splits_utf8": "UTF-8",
        "b6_note_unescaped_comma": "NOTE",
        "b7_no_uid": "UID",
        "b9_no_end": "never closed",
        "b10_bom": "Failed to parse line",
        "b11_v3_missing_n": "N properties",
    },
    "eds": {
        "b2_missing_fn": "no FN attribute",
        "b3_bad_folding": "note",
        "b5_fold_splits_utf8": "UTF-8",
        "b9_no_end": "END:VCARD",
        "b10_bom": "BEGIN:VCARD",
        "b11_v3_missing_n": "family-name",
        "b12_long_line_semicolon_fn": "full-name: got 'Doe'",
    },
    "icaljs": {
        "b1_n_unescaped_comma": "list",
        "b2_missing_fn": "0 FN",
        "b3_bad_folding": "invalid line",
        "b5_fold_splits_utf8": "UTF-8",
        "b6_note_unescaped_comma": "2 values",
        "b8_v4_version_not_first": "vcard3 rules",
        "b9_no_end": "did not end",
        "b10_bom": "parse failed",
        "b11_v3_missing_n": "0 N",
    },
    "khard": {
        "b1_n_unescaped_comma": "Doe  Jr.",
        "b2_missing_fn": "khard name (FN)",
        "b3_bad_folding": "Could not parse",
        "b5_fold_splits_utf8": "UnicodeDecodeError",
        "b6_note_unescaped_comma": "khard notes",
        "b7_no_uid": "no UID",
        "b9_no_end": "never closed",
        "b10_bom": "Failed to parse line",
        "b11_v3_missing_n": "khard last_name",
    },
}


def _skip_unless(reader):
    if not _have(reader):
        pytest.skip("%s not installed" % reader)


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("sample,version", [
    ("good30", "3.0"), ("good40", "4.0"), ("tricky30", "3.0"), ("tricky40", "4.0")])
def test_good_cards_pass(reader, sample, version):
    _skip_unless(reader)
    rc, out = check(os.path.join(SAMPLES, sample), reader, version,
                    os.path.join(SAMPLES, "orgs.json") if "tricky" in sample else None)
    assert rc == 0, out


@pytest.mark.parametrize("reader,name", [
    (r, n) for r in READERS for n in sorted(MUST_FAIL[r])])
def test_broken_card_fails(tmp_path, reader, name):
    _skip_unless(reader)
    version = "4.0" if name.startswith("b8_") else "3.0"
    rc, out = check(one_card_dir(tmp_path, name), reader, version)
    assert rc == 1, out
    assert MUST_FAIL[reader][name] in out, out
    assert out.startswith(reader + " "), out   # "READER FILE: reason" lines


def test_icaljs_reports_semicolon_as_known_difference():
    _skip_unless("icaljs")
    rc, out = check(os.path.join(SAMPLES, "tricky30"), "icaljs", "3.0")
    assert rc == 0, out
    assert "known difference (ical.js#173): FN" in out


def test_eds_notes_its_40_exceptions():
    _skip_unless("eds")
    rc, out = check(os.path.join(SAMPLES, "good40"), "eds", "4.0")
    assert rc == 0 and "PREF=1" in out, out


def test_eds_primary_phone_checked_in_30(tmp_path):
    _skip_unless("eds")
    d = tmp_path / "book"
    shutil.copytree(os.path.join(SAMPLES, "good30"), d)
    card = d / "Person Name (1).vcf"
    card.write_bytes(card.read_bytes().replace(b"TYPE=VOICE;TYPE=PREF", b"TYPE=VOICE"))
    rc, out = check(d, "eds", "3.0")
    assert rc == 1 and "primary-phone" in out, out


def test_wrong_value_is_caught_by_every_reader(tmp_path):
    """A card that parses fine but shows the wrong email must fail everywhere
    except the lint (which does not know the person)."""
    d = tmp_path / "book"
    shutil.copytree(os.path.join(SAMPLES, "good30"), d)
    card = d / "Person Name (1).vcf"
    card.write_bytes(card.read_bytes().replace(b"email2@email.com", b"email3@email.com"))
    for reader in READERS[1:]:
        if not _have(reader):
            continue
        rc, out = check(d, reader)
        assert rc == 1 and "email" in out.lower(), (reader, out)


def test_org_must_be_the_name(tmp_path):
    d = tmp_path / "book"
    shutil.copytree(os.path.join(SAMPLES, "good30"), d)
    card = d / "Person Name (1).vcf"
    card.write_bytes(card.read_bytes().replace(b"N:Name;Person;;;\r\n",
                                               b"N:Name;Person;;;\r\nORG:1\r\n"))
    orgs = tmp_path / "orgs.json"
    orgs.write_text('{"1": "Acme, Inc.; EMEA"}')
    for reader in ("vobject", "icaljs", "khard"):
        if not _have(reader):
            continue
        rc, out = check(d, reader, org_names=str(orgs))
        assert rc == 1 and "ORG" in out.upper(), (reader, out)
    if _have("vobject"):   # bare id also refused without --org-names
        rc, out = check(d, "vobject")
        assert rc == 1 and "bare organization id" in out, out


def test_missing_reader_is_skip_77(tmp_path):
    env = dict(os.environ, NODE="/nonexistent/node")
    p = subprocess.run([sys.executable, os.path.join(HERE, "check_dir.py"),
                        os.path.join(SAMPLES, "good30"), "--only", "lint,icaljs"],
                       capture_output=True, text=True, env=env)
    assert p.returncode == 77 and "SKIP icaljs: not installed" in p.stdout, p.stdout
    p = subprocess.run([sys.executable, os.path.join(HERE, "check_dir.py"),
                        os.path.join(SAMPLES, "good30"), "--only", "lint,icaljs",
                        "--allow-skip"], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stdout


# ---- lint details -----------------------------------------------------------

GOOD = open(os.path.join(SAMPLES, "good30", "Person Name (1).vcf"), "rb").read()


def lint(data, version="3.0"):
    return lint_vcard.lint_bytes(data, version)


def test_lint_good():
    assert lint(GOOD) == []


@pytest.mark.parametrize("old,new,msg", [
    (b"NOTE:Notes from contact sync", b"NOTE:Notes from\r\n\tcontact sync", "TAB"),
    (b"NOTE:Notes from contact sync", b"NOTE:Notes from contact \\\r\n ,sync", "escaped character"),
    (b"NOTE:Notes from contact sync", b"NOTE:Notes \\x contact sync", "invalid escape"),
    (b"NOTE:Notes from contact sync", b"NOTE:Notes from contact sync\\", "dangling"),
    (b"NOTE:Notes from contact sync", b"NOTE:Notes \x01 sync", "control"),
    (b"NOTE:Notes from contact sync", b"NOTE:Notes \x7f sync", "control"),
    (b"FN:Person Name", b"FN:", "FN is empty"),
    (b"N:Name;Person;;;", b"N:Name;Person", "components"),
    (b"TITLE:Manager", b"TITLE:Manager\rX", "bare CR"),
    (b"END:VCARD\r\n", b"END:VCARD", "does not end in CRLF"),
    (b"END:VCARD\r\n", b"END:VCARD\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nEND:VCARD\r\n", "exactly one card"),
    (b"VERSION:3.0", b"VERSION:2.1", "neither 3.0 nor 4.0"),
    (b"TEL;TYPE=WORK;TYPE=VOICE;TYPE=PREF:", b"TEL;WORK:", "without '='"),
    (b"FN:Person Name", b"FN:Person Name\r\nFN:Other", "FN appears 2 times"),
    (b"TITLE:Manager\r\n", b"TITLE:Manager\r\n\r\n", "empty line"),
])
def test_lint_catches(old, new, msg):
    assert old in GOOD
    errs = lint(GOOD.replace(old, new, 1))
    assert any(msg in e for e in errs), errs


def test_lint_accepts_legal_folds():
    long_note = "NOTE:" + "Zoë 👩🏽‍💻 \\, " * 30
    b = long_note.encode()
    # fold by bytes at character boundaries, never between "\" and ","
    out, limit = [], 75
    while len(b) > limit:
        cut = limit
        while (b[cut] & 0xC0) == 0x80:
            cut -= 1
        if b[cut - 1:cut] == b"\\":
            cut -= 1
        out.append(b[:cut])
        b = b[cut:]
        limit = 74
    out.append(b)
    card = GOOD.replace(b"NOTE:Notes from contact sync", b"\r\n ".join(out))
    assert lint(card) == []
    assert any(len(l) == 75 for l in card.split(b"\r\n"))


# ---- expected.py ------------------------------------------------------------

def test_expected_rules():
    p = {"id": 7, "name": " Doe,\r\nJohn\t\x07 ", "first_name": "John", "last_name": None,
         "emails": [{"value": "b@x", "primary": False}, {"value": "", "primary": True},
                    {"value": "a@x", "primary": True}, {"value": "b@x"}],
         "phones": "not a list", "notes": "\r\n a\r\nb\rc\x00\x1b\td \n"}
    e = E.expected(p, "3.0")
    assert e["fn"] == "Doe, John"
    assert (e["n_family"], e["n_given"]) == ("", "John")
    assert e["emails"] == ["b@x", "a@x"]       # first primary is empty -> skipped
    assert e["tels"] == []
    assert e["note"] == "a\nb\nc\td"
    assert e["org"] is None and not e["org_checked"]


@pytest.mark.parametrize("person,fn,family", [
    ({"id": 1, "first_name": " Ann ", "last_name": "Lee"}, "Ann  Lee", "Lee"),
    ({"id": 2, "name": "", "emails": [{"value": "x@y", "primary": False},
                                      {"value": "p@y", "primary": True}]}, "p@y", ""),
    ({"id": 3, "name": None, "phones": [{"value": " 123 ", "primary": False}]}, "123", ""),
    ({"id": 4}, "Pipedrive person 4", ""),
    ({"id": 5, "name": "Madonna", "first_name": "", "last_name": None}, "Madonna", "Madonna"),
    ({"id": 6, "name": "\x00\x1f\x7f"}, "Pipedrive person 6", ""),
])
def test_expected_fn_fallbacks(person, fn, family):
    e = E.expected(person, "4.0")
    assert e["fn"] == fn and e["n_family"] == family


def test_expected_invalid_utf8_and_org(tmp_path):
    j = tmp_path / "p.json"
    j.write_bytes(b'{"id": 9, "name": "Bad \xc3\x28 name", "org_id": 2}')
    e = E.expected(E.load_person(str(j)), "3.0", {2: "Acme\n Inc"})
    assert e["fn"] == "Bad \ufffd( name"
    assert e["org"] == "Acme  Inc"
