"""Writing through the mount (-o rw, issue 13): editing .json and .vcf files,
the ways tools save, new persons, rm, mv.  Conflicts, the journal and the
mount options are in test_write_journal.py.

Every test checks what reached the fake server field by field: only what the
user changed is sent (PATCH), a new person once (POST), nothing for
temporary, swap and backup files.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from writing import (EINVAL, EPERM, EROFS, ENOENT, count, edited_json, owner_folder,
                     person, person_file, replace_line, save, status, text, wait_for, writes)

PERSONS = 60


@pytest.fixture
def server(fake_server):
    return fake_server(persons=PERSONS)


def with_job_title(server, first=32):
    """A plain person (no tricky data) with a job title and a phone."""
    for pid in range(first, PERSONS + 1):
        p = person(server, pid)
        if p.get("job_title") and p.get("phones") and p.get("name"):
            return pid
    raise AssertionError("no person with a job title and a phone")


# --------------------------------------------------------------------------
# read-only by default

def test_read_only_by_default(server, mount_fs):
    m = mount_fs(server)
    folder = owner_folder(m, server, 40)
    card = person_file(folder, 40, ".vcf")
    with pytest.raises(OSError) as e:
        open(card, "r+").close()
    assert e.value.errno == EROFS
    with pytest.raises(OSError) as e:
        open(folder / "new.vcf", "w").close()
    assert e.value.errno == EROFS
    with pytest.raises(OSError) as e:
        os.unlink(card)
    assert e.value.errno == EROFS
    assert writes(server) == []
    assert status(m)["writable"] == "no"
    assert not (Path(m.path) / ".pipedrivefs" / "conflicts").exists()


# --------------------------------------------------------------------------
# editing

def test_edit_json_in_place_sends_only_the_changed_fields(server, mount_fs):
    m = mount_fs(server, "rw")
    pid = with_job_title(server)
    path = person_file(owner_folder(m, server, pid), pid, ".json")
    before = json.loads(text(path))
    phones = [dict(before["phones"][0], value="+1 555 0101")] + before["phones"][1:]
    lists_before = count(server, "GET", "/api/v2/persons?") + \
        sum(1 for r in server.requests() if r["path"] == "/api/v2/persons")
    assert save(path, edited_json(path, job_title="Chief Tester", phones=phones)) == 0
    assert writes(server) == [("PATCH", "/api/v2/persons/%d" % pid,
                               {"job_title": "Chief Tester", "phones": phones})]
    after = json.loads(text(path))       # Pipedrive's version, at once
    assert after["job_title"] == "Chief Tester" and after["phones"] == phones
    assert after["update_time"] > before["update_time"]
    assert person(server, pid)["job_title"] == "Chief Tester"
    # only that person was read: before sending (the re-check) and after
    assert count(server, "GET", "/api/v2/persons/%d" % pid) == 2
    lists_after = sum(1 for r in server.requests() if r["path"] == "/api/v2/persons")
    assert lists_after == lists_before
    st = status(m)
    assert (st["pending_writes"], st["writes_delivered"], st["writable"]) == ("0", "1", "yes")
    assert int(st["requests_person_writes"]) == 1


def test_edit_json_unchanged_sends_nothing(server, mount_fs):
    m = mount_fs(server, "rw")
    path = person_file(owner_folder(m, server, 41), 41, ".json")
    assert save(path, text(path)) == 0
    with open(path, "r+") as f:                  # opened for writing, not written
        f.read()
    assert writes(server) == []


@pytest.mark.parametrize("change,message", [
    ({"id": 4242}, "read-only"),
    ({"add_time": "2001-01-01T00:00:00Z"}, "read-only"),
    ({"nickname": "x"}, "unknown field"),
    ({"visible_to": 2}, "visible_to"),
])
def test_edit_json_refused(server, mount_fs, change, message):
    m = mount_fs(server, "rw")
    path = person_file(owner_folder(m, server, 42), 42, ".json")
    before = text(path)
    assert save(path, edited_json(path, **change)) == EINVAL
    assert writes(server) == []
    assert text(path) == before            # the file keeps its old content
    assert message in m.log()


def test_edit_json_invalid_text_refused(server, mount_fs):
    m = mount_fs(server, "rw")
    path = person_file(owner_folder(m, server, 42), 42, ".json")
    before = text(path)
    for bad in ("{ not json", " ", "[1, 2]", before.replace("}", "}}", 1)):
        assert save(path, bad) == EINVAL, bad
    assert writes(server) == []
    assert text(path) == before


def test_shell_redirection(server, mount_fs, tmp_path):
    """sh's "> file" opens, duplicates and closes the descriptor before the
    command writes: one change, no refusal of an empty text."""
    m = mount_fs(server, "rw")
    path = person_file(owner_folder(m, server, 40), 40, ".json")
    src = tmp_path / "edited.json"
    src.write_text(edited_json(path, job_title="Redirected"))
    r = subprocess.run(["sh", "-c", 'cat "$1" > "$2"', "sh", str(src), str(path)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert r.returncode == 0, r.stdout
    assert writes(server) == [("PATCH", "/api/v2/persons/40", {"job_title": "Redirected"})]
    assert "not saved" not in m.log()
    before = text(path)
    with open(path, "w"):                        # emptied, never written
        pass
    assert text(path) == before and len(writes(server)) == 1
    assert "emptied but not written" in m.log()


def test_edit_vcf_in_place(server, mount_fs):
    m = mount_fs(server, "rw")
    pid = with_job_title(server)
    path = person_file(owner_folder(m, server, pid), pid, ".vcf")
    card = text(path)
    assert save(path, replace_line(card, "TITLE:", "TITLE:Head of Writes")) == 0
    assert writes(server) == [("PATCH", "/api/v2/persons/%d" % pid,
                               {"job_title": "Head of Writes"})]
    assert "\r\nTITLE:Head of Writes\r\n" in text(path)
    # a REV or PRODID of its own is not a change
    card = text(path)
    assert save(path, replace_line(card, "REV:", "REV:20300101T000000Z")) == 0
    assert len(writes(server)) == 1


def test_edit_vcf_refused_keeps_the_file(server, mount_fs):
    m = mount_fs(server, "rw")
    path = person_file(owner_folder(m, server, 43), 43, ".vcf")
    card = text(path)
    assert save(path, card.replace("END:VCARD", "END:VCARD\r\nBEGIN:VCARD")) == EINVAL
    assert save(path, replace_line(card, "UID:", "UID:someone-else")) == EINVAL
    assert writes(server) == []
    assert text(path) == card
    assert "UID" in m.log()


# --------------------------------------------------------------------------
# how tools save

def test_temporary_file_renamed_over_the_card(server, mount_fs):
    """khard edit, gedit, Python atomic writes: tmp in the same folder, then
    rename over the card."""
    m = mount_fs(server, "rw")
    pid = with_job_title(server)
    folder = owner_folder(m, server, pid)
    card = person_file(folder, pid, ".vcf")
    tmp = folder / "tmpk3x9a1bz"
    tmp.write_text(replace_line(text(card), "TITLE:", "TITLE:Renamed Over"))
    assert text(tmp).count("TITLE:Renamed Over") == 1   # readable back
    assert writes(server) == []                  # a temporary file is never sent
    os.rename(tmp, card)
    assert writes(server) == [("PATCH", "/api/v2/persons/%d" % pid,
                               {"job_title": "Renamed Over"})]
    assert not tmp.exists()
    assert "TITLE:Renamed Over" in text(card)
    # os.replace of a .json the same way
    js = person_file(folder, pid, ".json")
    tmp2 = folder / ".goutputstream-AB12CD"
    tmp2.write_text(edited_json(js, job_title="Replaced"))
    os.replace(tmp2, js)
    assert writes(server)[-1] == ("PATCH", "/api/v2/persons/%d" % pid,
                                  {"job_title": "Replaced"})
    assert json.loads(js.read_text())["job_title"] == "Replaced"


def test_refused_rename_over_keeps_both(server, mount_fs):
    m = mount_fs(server, "rw")
    folder = owner_folder(m, server, 44)
    card = person_file(folder, 44, ".vcf")
    before = text(card)
    tmp = folder / "tmpbroken"
    tmp.write_text("BEGIN:VCARD\r\nVERSION:3.0\r\n")
    with pytest.raises(OSError) as e:
        os.rename(tmp, card)
    assert e.value.errno == EINVAL
    assert text(tmp).startswith("BEGIN:VCARD") and text(card) == before
    assert writes(server) == []


def test_swap_backup_and_probe_files_stay_in_memory(server, mount_fs):
    m = mount_fs(server, "rw")
    folder = owner_folder(m, server, 45)
    card = person_file(folder, 45, ".vcf")
    names = ["." + card.name + ".swp", card.name + "~", "4913", "#x.vcf#", ".x.vcf.un~"]
    for name in names:
        p = folder / name
        with open(p, "wb") as f:
            f.write(b"\x00vim swap\x01" * 100)
        os.chmod(p, 0o600)
        assert p.read_bytes() == b"\x00vim swap\x01" * 100
        assert (p.stat().st_mode & 0o777) == 0o600
    for name in names:
        os.unlink(folder / name)
        assert not (folder / name).exists()
    assert writes(server) == []
    assert card.exists()


def test_backup_by_rename_then_new_file(server, mount_fs):
    """vim's backupcopy=no: rename the card to card~, write card anew, remove
    card~ - the person is never deleted, only the change is sent."""
    m = mount_fs(server, "rw", "allow_delete")
    pid = with_job_title(server)
    folder = owner_folder(m, server, pid)
    card = person_file(folder, pid, ".vcf")
    old = text(card)
    backup = folder / (card.name + "~")
    os.rename(card, backup)
    assert text(backup) == old             # a copy, nothing sent
    assert writes(server) == []
    assert save(card, replace_line(old, "TITLE:", "TITLE:Backup Style")) == 0
    os.unlink(backup)
    assert writes(server) == [("PATCH", "/api/v2/persons/%d" % pid,
                               {"job_title": "Backup Style"})]
    assert card.exists()


@pytest.mark.parametrize("backupcopy", ["yes", "no", "auto"])
def test_vim_saves(server, mount_fs, backupcopy):
    if shutil.which("vim") is None:
        pytest.skip("vim is not installed")
    m = mount_fs(server, "rw", "allow_delete")
    pid = with_job_title(server)
    folder = owner_folder(m, server, pid)
    card = person_file(folder, pid, ".vcf")
    title = "Vim %s" % backupcopy
    r = subprocess.run(
        ["vim", "-Es", "-u", "NONE", "-i", "NONE", "-N",
         "-c", "set backupcopy=%s writebackup nobackup fileformat=dos" % backupcopy,
         "-c", "%%s/^TITLE:.*/TITLE:%s/" % title, "-c", "wq", str(card)],
        cwd=str(folder), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, timeout=60)
    assert r.returncode == 0, r.stdout
    assert writes(server) == [("PATCH", "/api/v2/persons/%d" % pid, {"job_title": title})]
    assert "TITLE:%s\r\n" % title in text(card)
    for leftover in ("." + card.name + ".swp", card.name + "~", "4913"):
        assert not (folder / leftover).exists(), leftover


# --------------------------------------------------------------------------
# new persons

NEW_CARD = ("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Nina Neu\r\nN:Neu;Nina;;;\r\n"
            "EMAIL;TYPE=work,pref:nina@example.org\r\nTEL;TYPE=cell:+49 171 000111\r\n"
            "TITLE:Founder\r\nEND:VCARD\r\n")


def test_new_card_in_an_owner_folder(server, mount_fs):
    m = mount_fs(server, "rw")
    folder = Path(m.path) / "by-owner" / "2"
    names_before = set(os.listdir(folder))
    new = folder / "nina.vcf"
    assert save(new, NEW_CARD) == 0
    (method, path, body), = writes(server)
    assert (method, path) == ("POST", "/api/v2/persons")
    assert body == {"name": "Nina Neu", "owner_id": 2, "job_title": "Founder",
                    "emails": [{"value": "nina@example.org", "primary": True,
                                "label": "work"}],
                    "phones": [{"value": "+49 171 000111", "primary": False,
                                "label": "mobile"}]}
    made = [p for p in server.persons(owner_id=2) if p["name"] == "Nina Neu"]
    assert len(made) == 1
    pid = made[0]["id"]
    # under its canonical name at once, and under the name it was written as
    listed = set(os.listdir(folder)) - names_before
    assert listed == {"Nina Neu (%d).json" % pid, "Nina Neu (%d).vcf" % pid}
    assert "FN:Nina Neu" in text(new)
    assert "X-PIPEDRIVE-ID:%d" % pid in text(new)
    assert json.loads((folder / ("Nina Neu (%d).json" % pid)).read_text())["id"] == pid
    # the folder itself was not walked again
    assert not [r for r in server.requests()
                if r["path"] == "/api/v2/persons" and r["t"] > 0 and
                r["query"].get("owner_id") == "2"][1:]


def test_new_json_in_an_org_folder(server, mount_fs):
    m = mount_fs(server, "rw")
    folder = Path(m.path) / "by-org" / "3"
    os.listdir(folder)
    new = folder / "otto.json"
    doc = json.dumps({"name": "Otto Org", "emails": [
        {"value": "otto@example.org", "primary": True, "label": "home"}],
        "owner_id": 3, "org_id": 9, "id": 1, "update_time": "2020-01-01T00:00:00Z"})
    assert save(new, doc) == 0
    (method, _, body), = writes(server)
    assert method == "POST"
    # the folder wins for org_id; copied read-only fields are left out
    assert body == {"name": "Otto Org", "owner_id": 3, "org_id": 3, "emails": [
        {"value": "otto@example.org", "primary": True, "label": "home"}]}
    pid = [p for p in server.persons(org_id=3) if p["name"] == "Otto Org"][0]["id"]
    assert ("Otto Org (%d).vcf" % pid) in os.listdir(folder)


def test_new_files_elsewhere_are_refused(server, mount_fs):
    m = mount_fs(server, "rw")
    for where in ("by-filter/1", "recent", "by-id"):
        folder = Path(m.path) / where
        os.listdir(folder)
        assert save(folder / "someone.vcf", NEW_CARD) == EPERM, where
    with pytest.raises(OSError) as e:
        open(Path(m.path) / "by-owner" / "x.vcf", "w").close()
    assert e.value.errno == EPERM
    assert writes(server) == []


def test_invalid_new_card_is_refused_and_kept_for_fixing(server, mount_fs):
    m = mount_fs(server, "rw")
    folder = Path(m.path) / "by-owner" / "1"
    os.listdir(folder)
    new = folder / "nameless.vcf"
    card = "BEGIN:VCARD\r\nVERSION:3.0\r\nEMAIL:a@example.org\r\nEND:VCARD\r\n"
    assert save(new, card) == EINVAL
    assert writes(server) == []
    assert text(new) == card               # still there to fix
    assert save(new, card.replace("EMAIL", "FN:Fixed\r\nEMAIL")) == 0
    assert [w[0] for w in writes(server)] == ["POST"]
    open(folder / "empty.vcf", "w").close()      # touch: nothing to send yet
    assert len(writes(server)) == 1


def test_new_file_written_on_after_fsync(server, mount_fs):
    """fsync makes the person; writing on through the same descriptor edits it."""
    m = mount_fs(server, "rw")
    folder = Path(m.path) / "by-owner" / "1"
    os.listdir(folder)
    card = NEW_CARD.replace("Nina Neu", "Fay Sync").replace("Neu;Nina", "Sync;Fay")
    with open(folder / "fay.vcf", "w", newline="") as f:
        f.write(card)
        f.flush()
        os.fsync(f.fileno())
        assert [w[0] for w in writes(server)] == ["POST"]
        f.seek(0)
        f.truncate()
        f.write(card.replace("TITLE:Founder", "TITLE:Owner"))
    pid = [p for p in server.persons() if p["name"] == "Fay Sync"][0]["id"]
    assert writes(server)[1:] == [("PATCH", "/api/v2/persons/%d" % pid, {"job_title": "Owner"})]
    assert len([p for p in server.persons() if p["name"] == "Fay Sync"]) == 1


def test_link_then_unlink_makes_one_person(server, mount_fs):
    """khard new: write tmpXXXX, link it to <uid>.vcf, unlink the tmp."""
    m = mount_fs(server, "rw", "allow_delete")
    folder = Path(m.path) / "by-owner" / "3"
    os.listdir(folder)
    tmp = folder / "tmpq8w7e6r5"
    tmp.write_text(NEW_CARD.replace("Nina Neu", "Lina Link").replace("Neu;Nina", "Link;Lina"))
    assert writes(server) == []
    os.link(tmp, folder / "abc123uid.vcf")
    os.unlink(tmp)
    (method, _, body), = writes(server)
    assert method == "POST" and body["name"] == "Lina Link" and body["owner_id"] == 3
    assert "FN:Lina Link" in text(folder / "abc123uid.vcf")
    assert not tmp.exists()
    assert len([p for p in server.persons() if p["name"] == "Lina Link"]) == 1


def test_rename_to_a_new_name_makes_a_person(server, mount_fs):
    m = mount_fs(server, "rw")
    folder = Path(m.path) / "by-owner" / "1"
    os.listdir(folder)
    tmp = folder / "tmp-atomic"
    tmp.write_text(NEW_CARD.replace("Nina Neu", "Ren Ame").replace("Neu;Nina", "Ame;Ren"))
    os.rename(tmp, folder / "ren.vcf")
    (method, _, body), = writes(server)
    assert method == "POST" and body["name"] == "Ren Ame"
    assert "FN:Ren Ame" in text(folder / "ren.vcf")


def test_names_of_other_persons_are_not_new_persons(server, mount_fs):
    m = mount_fs(server, "rw")
    src = person_file(owner_folder(m, server, 46), 46, ".vcf")
    other = Path(m.path) / "by-owner" / str(1 + person(server, 46)["owner_id"] % 3)
    os.listdir(other)
    with pytest.raises(OSError) as e:
        shutil.copy(src, other / src.name)       # cp is not mv
    assert e.value.errno == EPERM
    assert writes(server) == []


# --------------------------------------------------------------------------
# rm and mv

def test_rm_needs_allow_delete(server, mount_fs):
    m = mount_fs(server, "rw")
    card = person_file(owner_folder(m, server, 47), 47, ".vcf")
    with pytest.raises(OSError) as e:
        os.unlink(card)
    assert e.value.errno == EPERM
    assert card.exists() and writes(server) == []
    assert "allow_delete" in m.log()


def test_rm_with_allow_delete(server, mount_fs):
    m = mount_fs(server, "rw", "allow_delete")
    folder = owner_folder(m, server, 48)
    card = person_file(folder, 48, ".vcf")
    js = person_file(folder, 48, ".json")
    os.unlink(js)
    assert writes(server) == [("DELETE", "/api/v2/persons/48", None)]
    assert not js.exists()
    # the .vcf's kernel entry is dropped by the invalidation thread once the
    # UNLINK is answered (a notification cannot come from inside a handler):
    # at once, but not before unlink() returns (slow under valgrind)
    wait_for(lambda: not card.exists(), timeout=10, what="the .vcf to leave")
    assert not [n for n in os.listdir(folder) if n.endswith(" (48).vcf")]
    assert not (Path(m.path) / "by-id" / "48.vcf").exists()
    assert server.persons(ids="48") == []


def test_rm_of_the_name_a_new_person_was_written_as(server, mount_fs):
    m = mount_fs(server, "rw", "allow_delete")
    folder = Path(m.path) / "by-owner" / "2"
    os.listdir(folder)
    new = folder / "gone-soon.vcf"
    assert save(new, NEW_CARD.replace("Nina Neu", "Gone Soon")) == 0
    pid = writes(server) and [p for p in server.persons() if p["name"] == "Gone Soon"][0]["id"]
    os.unlink(new)
    assert writes(server)[-1] == ("DELETE", "/api/v2/persons/%d" % pid, None)


def test_mv_between_owners_and_between_orgs(server, mount_fs):
    m = mount_fs(server, "rw")
    pid = 50
    p = person(server, pid)
    src = owner_folder(m, server, pid)
    dst = Path(m.path) / "by-owner" / str(1 + p["owner_id"] % 3)
    os.listdir(dst)
    card = person_file(src, pid, ".vcf")
    os.rename(card, dst / card.name)
    assert writes(server) == [("PATCH", "/api/v2/persons/%d" % pid,
                               {"owner_id": 1 + p["owner_id"] % 3})]
    assert not list(src.glob("* (%d).*" % pid))          # both files left
    assert sorted(x.name for x in dst.glob("* (%d).*" % pid)) == [
        card.name.replace(".vcf", ".json"), card.name]
    # organizations the same way (a person with an organization)
    pid = 51
    org = person(server, pid)["org_id"]
    assert org
    src = Path(m.path) / "by-org" / str(org)
    dst = Path(m.path) / "by-org" / str(1 + org % 10)
    os.listdir(dst)
    js = person_file(src, pid, ".json")
    os.rename(js, dst / js.name)
    assert writes(server)[-1] == ("PATCH", "/api/v2/persons/%d" % pid,
                                  {"org_id": 1 + org % 10})
    assert person(server, pid)["org_id"] == 1 + org % 10


def test_other_renames_of_person_files_are_refused(server, mount_fs):
    m = mount_fs(server, "rw", "allow_delete")
    card = person_file(owner_folder(m, server, 52), 52, ".vcf")
    assert person(server, 52)["org_id"] != 1
    for target in (Path(m.path) / "by-org" / "1" / card.name,
                   card.parent / "Someone Else (52).vcf",
                   Path(m.path) / "recent" / "new name.vcf"):
        os.listdir(target.parent)
        with pytest.raises(OSError) as e:
            os.rename(card, target)
        assert e.value.errno == EPERM, target
    # the same file under another name (a filter, /by-id): rename(2) leaves
    # two names of one file alone
    os.rename(card, Path(m.path) / "by-filter" / "1" / card.name)
    os.rename(card, Path(m.path) / "by-id" / "52.vcf")
    assert writes(server) == []
    assert card.exists()


# --------------------------------------------------------------------------
# khard on a mounted folder

KHARD_CONF = """[addressbooks]
[[pd]]
path = {path}
[general]
editor = {editor}
merge_editor = /bin/false
[vcard]
preferred_version = 3.0
private_objects = PIPEDRIVE-ID, PIPEDRIVE-ORG-ID, PIPEDRIVE-OWNER-ID, PIPEDRIVE-LABEL-ID
"""

EDITOR = """#!/usr/bin/python3
import sys
path = sys.argv[-1]
text = open(path, encoding="utf-8").read()
assert {old!r} in text, text
open(path, "w", encoding="utf-8").write(text.replace({old!r}, {new!r}, 1))
"""


def khard(tmp_path, folder, *args, old="", new=""):
    if shutil.which("khard") is None:
        pytest.skip("khard is not installed")
    editor = tmp_path / "editor.py"
    editor.write_text(EDITOR.format(old=old, new=new))
    editor.chmod(0o755)
    conf = tmp_path / "khard.conf"
    conf.write_text(KHARD_CONF.format(path=folder, editor=editor))
    env = dict(os.environ, EDITOR=str(editor), HOME=str(tmp_path))
    return subprocess.run(["khard", "-c", str(conf), *args], env=env,
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=120)


def test_khard_edit_changes_one_phone(server, mount_fs, tmp_path):
    m = mount_fs(server, "rw")
    pid = with_job_title(server)
    folder = owner_folder(m, server, pid)
    card = person_file(folder, pid, ".vcf")
    uid = [l[4:] for l in text(card).split("\r\n") if l.startswith("UID:")][0]
    phones = person(server, pid)["phones"]
    old = phones[0]["value"]
    r = khard(tmp_path, folder, "edit", "-a", "pd", "uid:" + uid, old=old, new="+49 170 9998877")
    assert r.returncode == 0, r.stderr
    want = [dict(phones[0], value="+49 170 9998877")] + phones[1:]
    assert writes(server) == [("PATCH", "/api/v2/persons/%d" % pid, {"phones": want})]
    assert person(server, pid)["phones"] == want
    assert "+49 170 9998877" in text(card)


def test_khard_new_from_a_template(server, mount_fs, tmp_path):
    m = mount_fs(server, "rw")
    os.listdir(Path(m.path) / "by-org")          # organization names, for ORG
    folder = Path(m.path) / "by-owner" / "2"
    names_before = set(os.listdir(folder))
    template = Path(__file__).resolve().parents[1] / "unit" / "data" / "khard-new.yaml"
    r = khard(tmp_path, folder, "new", "-a", "pd", "-i", str(template))
    assert r.returncode == 0, r.stderr
    (method, path, body), = writes(server)
    assert (method, path) == ("POST", "/api/v2/persons")
    address = {"value": "Hauptstraße 5, 80331 München, Bayern, Deutschland",
               "route": "Hauptstraße 5", "street_number": "", "subpremise": "",
               "sublocality": "", "locality": "München", "admin_area_level_2": "",
               "admin_area_level_1": "Bayern", "postal_code": "80331",
               "country": "Deutschland"}
    assert body == {
        "name": "Ben Müller", "owner_id": 2, "org_id": 1, "job_title": "Buyer",
        "emails": [{"value": "ben@example.com", "primary": False, "label": "work"}],
        "phones": [{"value": "+49 30 5550100", "primary": True, "label": "work"},
                   {"value": "+49 171 2223334", "primary": False, "label": "mobile"}],
        "birthday": "1975-06-01", "postal_address": address,
        "notes": "Met at CeBIT, talks; about CRM", "label_ids": [1]}
    pid = [p for p in server.persons(owner_id=2) if p["name"] == "Ben Müller"][0]["id"]
    new = set(os.listdir(folder)) - names_before
    assert new == {"Ben Müller (%d).json" % pid, "Ben Müller (%d).vcf" % pid}
    # khard finds what it wrote: list shows it once
    r = khard(tmp_path, folder, "list", "--parsable")
    assert r.returncode == 0, r.stderr
    assert sum("Ben Müller" in line for line in r.stdout.splitlines()) == 1
