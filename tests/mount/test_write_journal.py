"""Writing when Pipedrive disagrees or is away (issue 13): conflicts and
merges, the journal (server down, delivered later, across a restart), a
rejected change, a POST whose answer was lost, no journal (disk_cache=no),
and how -o rw reaches the daemon (mount(8) passes rw to every mount).
"""

import json
import os
import signal
import time
from pathlib import Path

import pytest

from test_ecosystem import clean_env, mount_through_mount8, mountpoint  # noqa: F401
from writing import (EBUSY, EINVAL, EIO, conflict_files, count, delivered, owner_folder,
                     person, person_file, save, status, text, wait_for, writes)

PERSONS = 60
FAST_RETRY = {"PDFS_TEST_WRITE_RETRY_MAX_S": "1"}
DOWN = {"path": "/api/v2/persons", "kind": "503", "count": -1}


@pytest.fixture
def server(fake_server):
    return fake_server(persons=PERSONS)


def json_of(path, **changes):
    data = json.loads(text(path))
    data.update(changes)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------
# conflicts

def test_conflict_on_a_field_both_changed(server, mount_fs):
    m = mount_fs(server, "rw")
    pid = 41
    path = person_file(owner_folder(m, server, pid), pid, ".json")
    mine = json_of(path, job_title="User Side")          # read before the server's change
    server.update_person(pid, job_title="Server Side")
    assert save(path, mine) == EBUSY
    assert writes(server) == []                           # nothing sent for it
    files = conflict_files(m)
    assert len(files) == 1 and files[0].name.endswith(path.name)
    assert text(files[0]) == mine                         # the user's text, readable
    assert "job_title" in m.log() and files[0].name in m.log()
    assert json.loads(text(path))["job_title"] == "Server Side"
    assert status(m)["conflict_files"] == "1"
    os.unlink(files[0])                                   # read, then removed
    assert conflict_files(m) == []


def test_fields_changed_on_one_side_merge(server, mount_fs):
    m = mount_fs(server, "rw")
    pid = 43
    path = person_file(owner_folder(m, server, pid), pid, ".json")
    mine = json_of(path, job_title="Merged Title")
    server.update_person(pid, notes="A note written in Pipedrive meanwhile")
    assert save(path, mine) == 0
    assert writes(server) == [("PATCH", "/api/v2/persons/%d" % pid,
                               {"job_title": "Merged Title"})]
    shown = json.loads(text(path))
    assert shown["job_title"] == "Merged Title"
    assert shown["notes"] == "A note written in Pipedrive meanwhile"
    assert conflict_files(m) == []


def test_partial_conflict_sends_the_rest(server, mount_fs):
    m = mount_fs(server, "rw")
    pid = 44
    card = person_file(owner_folder(m, server, pid), pid, ".json")
    mine = json_of(card, job_title="Mine", notes="my note")
    server.update_person(pid, notes="their note")
    assert save(card, mine) == EBUSY
    assert writes(server) == [("PATCH", "/api/v2/persons/%d" % pid, {"job_title": "Mine"})]
    p = person(server, pid)
    assert (p["job_title"], p["notes"]) == ("Mine", "their note")
    assert len(conflict_files(m)) == 1
    assert "notes" in m.log()


def test_conflict_through_a_card_and_khard_style_rename(server, mount_fs):
    m = mount_fs(server, "rw")
    pid = 45
    folder = owner_folder(m, server, pid)
    card = person_file(folder, pid, ".vcf")
    old = text(card)
    server.update_person(pid, name="Renamed In Pipedrive")
    tmp = folder / "tmpconflict1"
    tmp.write_text(old.replace("\r\nFN:", "\r\nFN:Renamed Here X", 1).replace(
        "Renamed Here X", "Renamed Here ", 1))
    with pytest.raises(OSError) as e:
        os.rename(tmp, card)
    assert e.value.errno == EBUSY
    assert writes(server) == []
    assert len(conflict_files(m)) == 1


# --------------------------------------------------------------------------
# the journal

def test_undeliverable_change_is_kept_and_delivered_later(server, mount_fs):
    m = mount_fs(server, "rw", env=FAST_RETRY)
    pid = 46
    path = person_file(owner_folder(m, server, pid), pid, ".json")
    other = person_file(owner_folder(m, server, 47), 47, ".json")
    mine = json_of(path, job_title="Offline 1")
    second = json_of(other, job_title="Offline 2")
    server.faults(DOWN)
    assert save(path, mine) == 0                  # journaled before close returns
    assert save(other, second) == 0               # behind it, in order
    assert status(m)["pending_writes"] == "2"
    assert json.loads(text(path))["job_title"] == "Offline 1"   # reads as written
    assert json.loads(text(other))["job_title"] == "Offline 2"
    assert person(server, pid)["job_title"] != "Offline 1"
    assert "kept in the journal" in m.log()
    server.faults()                               # Pipedrive is back
    wait_for(lambda: status(m)["pending_writes"] == "0", what="delivery")
    assert person(server, pid)["job_title"] == "Offline 1"
    assert person(server, 47)["job_title"] == "Offline 2"
    sent = [w for w in writes(server)]
    assert sent == [("PATCH", "/api/v2/persons/%d" % pid, {"job_title": "Offline 1"}),
                    ("PATCH", "/api/v2/persons/47", {"job_title": "Offline 2"})]
    assert conflict_files(m) == []


def test_rm_while_pipedrive_is_away(server, mount_fs):
    m = mount_fs(server, "rw", "allow_delete", env=FAST_RETRY)
    pid = 53
    folder = owner_folder(m, server, pid)
    card = person_file(folder, pid, ".vcf")
    server.faults(DOWN)
    os.unlink(card)                               # kept: the files go at once
    assert not list(folder.glob("* (%d).*" % pid))
    assert not (Path(m.path) / "by-id" / ("%d.json" % pid)).exists()
    assert status(m)["pending_writes"] == "1"
    assert person(server, pid)
    server.faults()
    wait_for(lambda: server.persons(ids=str(pid)) == [], what="the delete")
    assert delivered(server) == [("DELETE", "/api/v2/persons/%d" % pid, None)]
    assert {w[:2] for w in writes(server)} == {("DELETE", "/api/v2/persons/%d" % pid)}


def test_journal_is_delivered_after_a_restart(server, mount_fs, tmp_path):
    cache = "cache_dir=%s" % (tmp_path / "cache")
    m = mount_fs(server, "rw", cache, env=FAST_RETRY)
    pid = 48
    path = person_file(owner_folder(m, server, pid), pid, ".vcf")
    card = text(path)
    new = card.replace("\r\nFN:", "\r\nNOTE:written while Pipedrive was away\r\nFN:", 1)
    server.faults(DOWN)
    assert save(path, new) == 0
    assert status(m)["pending_writes"] == "1"
    m.unmount()
    assert not m.problems(), m.log()
    server.faults()
    server.reset()
    m2 = mount_fs(server, "rw", cache, env=FAST_RETRY)
    wait_for(lambda: person(server, pid).get("notes") == "written while Pipedrive was away",
             what="delivery after the restart")
    assert writes(server) == [("PATCH", "/api/v2/persons/%d" % pid,
                               {"notes": "written while Pipedrive was away"})]
    wait_for(lambda: status(m2)["pending_writes"] == "0", what="an empty journal")
    assert "from an earlier mount" in m2.log()


def test_journal_survives_kill_9(server, mount_fs, tmp_path):
    """SIGKILL right after close() returned: the change is in the journal
    (written before close() succeeded) and the next mount delivers it."""
    cache = "cache_dir=%s" % (tmp_path / "cache")
    m = mount_fs(server, "rw", cache, env=FAST_RETRY)
    pid = 49
    path = person_file(owner_folder(m, server, pid), pid, ".json")
    server.faults(DOWN)
    assert save(path, json_of(path, job_title="kept through a kill")) == 0
    os.kill(m.pid, signal.SIGKILL)
    m.proc.wait(10)
    m.check_on_teardown = False
    m.unmount()
    server.faults()
    server.reset()
    mount_fs(server, "rw", cache, env=FAST_RETRY)
    wait_for(lambda: person(server, pid).get("job_title") == "kept through a kill",
             what="delivery after SIGKILL")
    assert writes(server) == [("PATCH", "/api/v2/persons/%d" % pid,
                               {"job_title": "kept through a kill"})]


def test_read_only_mount_keeps_the_journal_for_later(server, mount_fs, tmp_path):
    cache = "cache_dir=%s" % (tmp_path / "cache")
    m = mount_fs(server, "rw", cache, env=FAST_RETRY)
    path = person_file(owner_folder(m, server, 49), 49, ".json")
    server.faults(DOWN)
    assert save(path, json_of(path, job_title="Later")) == 0
    m.unmount()
    server.faults()
    m2 = mount_fs(server, cache)                  # read-only: nothing is sent
    time.sleep(1.5)
    assert writes(server) == []
    assert "-o rw" in m2.log()
    m2.unmount()
    m3 = mount_fs(server, "rw", cache, env=FAST_RETRY)
    wait_for(lambda: person(server, 49)["job_title"] == "Later", what="delivery")
    assert status(m3)["pending_writes"] == "0" or wait_for(
        lambda: status(m3)["pending_writes"] == "0")


def test_rejected_change_goes_to_conflicts_and_is_not_retried(server, mount_fs):
    m = mount_fs(server, "rw", env=FAST_RETRY)
    path = person_file(owner_folder(m, server, 50), 50, ".json")
    mine = json_of(path, owner_id=99)             # Pipedrive knows no user 99
    assert save(path, mine) == EINVAL             # HTTP 400 while close waits
    assert [w[0] for w in writes(server)] == ["PATCH"]
    assert text(conflict_files(m)[0]) == mine
    assert "did not take the change" in m.log()
    # kept first (server away), rejected later: the same, after close returned
    second = person_file(owner_folder(m, server, 51), 51, ".json")
    later = json_of(second, owner_id=98)
    server.faults(DOWN)
    assert save(second, later) == 0
    server.faults()
    wait_for(lambda: len(conflict_files(m)) == 2, what="the rejection")
    assert status(m)["pending_writes"] == "0"
    patches = count(server, "PATCH", "/api/v2/persons/51")
    time.sleep(2.5)                               # never retried
    assert count(server, "PATCH", "/api/v2/persons/51") == patches
    assert json.loads(text(second))["owner_id"] == person(server, 51)["owner_id"]


def test_without_a_journal_an_undeliverable_change_fails(server, mount_fs):
    m = mount_fs(server, "rw", "disk_cache=no")
    path = person_file(owner_folder(m, server, 52), 52, ".json")
    before = text(path)
    mine = json_of(path, job_title="Nowhere")
    server.faults(DOWN)
    assert save(path, mine) == EIO
    assert status(m)["pending_writes"] == "0"
    files = conflict_files(m)
    assert len(files) == 1 and text(files[0]) == mine
    assert "no journal" in m.log()
    server.faults()
    assert text(path) == before


def test_a_lost_answer_to_a_post_makes_no_second_person(server, mount_fs):
    m = mount_fs(server, "rw", env=FAST_RETRY)
    folder = Path(m.path) / "by-owner" / "1"
    os.listdir(folder)
    server.faults({"path": "/api/v2/persons", "method": "POST", "kind": "502",
                   "apply": True, "count": 1})
    card = ("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Only Once\r\n"
            "EMAIL;TYPE=work:once@example.org\r\nEND:VCARD\r\n")
    assert save(folder / "once.vcf", card) == 0   # kept: it may have been made
    wait_for(lambda: status(m)["pending_writes"] == "0", what="the check")
    made = [p for p in server.persons() if p["name"] == "Only Once"]
    assert len(made) == 1
    assert count(server, "POST", "/api/v2/persons") == 1
    assert "not sent again" in m.log()
    assert any(n.endswith("(%d).vcf" % made[0]["id"]) for n in os.listdir(folder))


# --------------------------------------------------------------------------
# how writing is turned on

def test_ro_wins_over_rw(server, mount_fs):
    m = mount_fs(server, "rw", "ro")
    assert status(m)["writable"] == "no"
    m2 = mount_fs(server, "allow_write", "allow_delete")
    st = status(m2)
    assert (st["writable"], st["allow_delete"]) == ("yes", "yes")


@pytest.mark.parametrize("words,writable", [("defaults", False), ("rw", False),
                                            ("rw,allow_write", True)])
def test_mount_helper_rw_is_not_a_choice(fake_server, pipedrivefs_bin, tmp_path, mountpoint,
                                         clean_env, words, writable):
    """mount(8) passes rw to every mount without ro (fstab "defaults" arrives
    as -o rw,dev,suid): through it only allow_write turns writing on."""
    srv = fake_server(persons=20, owners=2, orgs=2, quiet=True)
    r, out, left = mount_through_mount8(srv, pipedrivefs_bin, tmp_path, mountpoint, clean_env,
                                        [f"cache_dir={tmp_path / 'cache'}", words])
    assert not left
    assert (out / "mount.rc").read_text().strip() == "0", r.stdout
    st = (out / "status").read_text()
    assert ("writable: yes\n" in st) == writable, st
    mounts = [l.split() for l in (out / "mounts").read_text().splitlines()]
    flags = [m_[3].split(",") for m_ in mounts if m_[1] == str(mountpoint)][0]
    assert ("ro" in flags) == (not writable)
