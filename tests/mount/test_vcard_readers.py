"""The mounted .vcf files are read correctly by the real readers.

Runs tests/vcard/check_dir.py (strict lint + vobject + EDS + ical.js + khard,
each compared with what expected.py derives from the sibling .json) over
by-owner/1 of a mount of the fake server, whose first ~31 persons are the
tricky ones (owner 1 holds the odd ids), in vCard 3.0 (default) and 4.0
(-o vcard_version=4.0).  Plus: khard pointed directly at the mounted
directory lists every person exactly once without a warning, and ORG is the
organization's name (never its id).

A reader's test is skipped only when that reader is not installed.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VCARD = REPO / "tests" / "vcard"
sys.path.insert(0, str(VCARD))
import expected as expected_mod  # noqa: E402

SYSTEM_PY = os.environ.get("PDFS_SYSTEM_PYTHON", "/usr/bin/python3")
READERS = ["lint", "vobject", "eds", "icaljs", "khard"]
VERSIONS = {"3.0": (), "4.0": ("vcard_version=4.0",)}
OWNER = 1


def reader_missing(reader):
    """None if the reader is installed, else the reason."""
    if reader == "lint":
        return None
    if reader == "khard":
        return None if shutil.which("khard") else "khard is not on PATH"
    if reader == "icaljs":
        if not shutil.which(os.environ.get("NODE", "node")):
            return "node is not installed"
        if not (VCARD / "node_modules" / "ical.js").is_dir():
            return "ical.js not installed (npm ci in tests/vcard)"
        return None
    code = {"vobject": "import vobject",
            "eds": "import gi; gi.require_version('EBookContacts','1.2'); "
                   "from gi.repository import EBookContacts"}[reader]
    if not os.path.exists(SYSTEM_PY):
        return "%s does not exist" % SYSTEM_PY
    p = subprocess.run([SYSTEM_PY, "-c", code], capture_output=True, text=True)
    return None if p.returncode == 0 else "%s: %s" % (reader, p.stderr.strip()[-200:])


@pytest.fixture
def company(fake_server, mount_fs, tmp_path):
    """Factory: company(version) -> (server, mount, owner_dir, orgs_json)."""
    def make(version):
        server = fake_server(persons=60, owners=2, orgs=5)
        mnt = mount_fs(server, *VERSIONS[version])
        orgs = tmp_path / ("orgs-%s.json" % version)
        orgs.write_text(json.dumps(server.organizations(), ensure_ascii=False),
                        encoding="utf-8")
        return server, mnt, mnt.path / "by-owner" / str(OWNER), orgs
    return make


def _cards(d):
    return sorted(p for p in d.iterdir() if p.name.endswith(".vcf"))


def _unfolded(path):
    text = path.read_bytes().decode("utf-8")
    return text.replace("\r\n ", "").split("\r\n")


def _unescape(v):
    out, i = [], 0
    while i < len(v):
        if v[i] == "\\" and i + 1 < len(v):
            out.append("\n" if v[i + 1] in "nN" else v[i + 1])
            i += 2
        else:
            out.append(v[i])
            i += 1
    return "".join(out)


def _props(path, name):
    vals = []
    for line in _unfolded(path):
        head, sep, value = line.partition(":")
        if sep and head.split(";")[0].split(".")[-1].upper() == name:
            vals.append(value)
    return vals


@pytest.mark.parametrize("version", sorted(VERSIONS))
@pytest.mark.parametrize("reader", READERS)
def test_readers_read_every_card(company, reader, version):
    missing = reader_missing(reader)
    if missing:
        pytest.skip("%s not installed: %s" % (reader, missing))
    server, mnt, d, orgs = company(version)
    persons = server.persons(owner_id=OWNER)
    cards = _cards(d)
    assert len(cards) == len(persons), (len(cards), [c.name for c in cards])
    assert any(p["id"] == 1 for p in persons), "tricky person 1 missing"
    for c in cards:
        assert c.with_suffix(".json").exists(), "no sibling JSON for %s" % c.name
    p = subprocess.run([sys.executable, str(VCARD / "check_dir.py"), str(d),
                        "--version", version, "--org-names", str(orgs),
                        "--only", reader],
                       capture_output=True, text=True, timeout=600)
    out = p.stdout + p.stderr
    print(out)
    assert p.returncode == 0, "check_dir.py --only %s (vCard %s) failed:\n%s" % (
        reader, version, out)


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_khard_on_mounted_directory(company, tmp_path, version):
    if not shutil.which("khard"):
        pytest.skip("khard not installed")
    server, mnt, d, _ = company(version)
    persons = server.persons(owner_id=OWNER)
    conf = tmp_path / "khard.conf"
    conf.write_text(
        "[addressbooks]\n[[pd]]\npath = %s\n[general]\ndefault_action = list\n"
        "[contact table]\ndisplay = formatted_name\n[vcard]\n"
        "private_objects = PIPEDRIVE-ID, PIPEDRIVE-ORG-ID, PIPEDRIVE-OWNER-ID, "
        "PIPEDRIVE-LABEL-ID\n" % d, encoding="utf-8")
    env = dict(os.environ, LC_ALL="C.UTF-8")
    env.pop("KHARD_CONFIG", None)
    p = subprocess.run(["khard", "-c", str(conf), "list", "--parsable"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    assert p.stderr == "", "khard warned:\n" + p.stderr
    rows = [l.split("\t") for l in p.stdout.splitlines() if l]
    assert len(rows) == len(persons), p.stdout
    uids = [r[0] for r in rows]
    assert len(set(uids)) == len(uids), "duplicate UIDs: " + p.stdout
    want = sorted(expected_mod.expected(pp, version)["fn"] for pp in persons)
    assert sorted(r[1] for r in rows) == want
    if version == "4.0":
        assert all(u.startswith("urn:uuid:") for u in uids), uids
    else:
        assert not any(u.startswith("urn:") for u in uids), uids


def test_org_is_the_organization_name(company):
    server, mnt, d, _ = company("3.0")
    names = {o["id"]: o["name"] for o in server.organizations()}
    by_id = {p["id"]: p for p in server.persons(owner_id=OWNER)}
    with_org = 0
    for card in _cards(d):
        ids = _props(card, "X-PIPEDRIVE-ID")
        assert len(ids) == 1, card.name
        person = by_id[int(ids[0])]
        orgs = _props(card, "ORG")
        oid = person.get("org_id")
        if oid is None:
            assert orgs == [], "%s: ORG without org_id: %r" % (card.name, orgs)
            assert _props(card, "X-PIPEDRIVE-ORG-ID") == [], card.name
            continue
        with_org += 1
        assert _props(card, "X-PIPEDRIVE-ORG-ID") == [str(oid)], card.name
        want = expected_mod.clean(names[oid])
        assert len(orgs) == 1, "%s: ORG lines %r (org %d %r)" % (
            card.name, orgs, oid, names[oid])
        assert orgs[0] != str(oid), "%s: ORG is the bare id" % card.name
        assert _unescape(orgs[0]) == want, card.name
    assert with_org > 0


def test_by_org_cards_name_their_org(company):
    server, mnt, _, _ = company("3.0")
    orgs = server.organizations()
    checked = 0
    for o in orgs:
        d = mnt.path / "by-org" / str(o["id"])
        want = expected_mod.clean(o["name"])
        for card in _cards(d):
            got = [_unescape(v) for v in _props(card, "ORG")]
            assert got == [want], "%s: %r, want %r" % (card, got, want)
            checked += 1
    assert checked > 0
