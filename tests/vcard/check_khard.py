#!/usr/bin/env python3
"""check_khard.py - read a directory of cards as a khard 0.18 address book.

    check_khard.py [--version 3.0|4.0] [--org-names ORGS.json] DIR
    check_khard.py --manifest MANIFEST.json [--jsonl]   (from check_dir.py)

Runs on any python3 (it only drives the `khard` command).  Writes a temporary
khard.conf (address book "pd" = DIR, display = formatted_name, the
X-PIPEDRIVE-* lines as private_objects) and runs two commands for the whole
directory (so 200 cards cost two khard runs, not 400):

  khard -c CONF list --parsable
      exit 0, NOTHING on stderr (khard warns there about cards without UID,
      duplicate UIDs, unparsable files), exactly one row per *.vcf file, and
      each file's UID listed once with its expected FN as the name;
  khard -c CONF list --parsable -F uid,formatted_name,first_name,last_name,
                                   emails,phone_numbers,notes,organisations
      per UID: first/last name, the set of emails and phones (khard groups
      them by type, so order is not compared; count and values are), the note
      and (when known) the organisation.

If the first list fails (one unparsable file aborts every khard command), it
is repeated with --skip-unparsable to tell which files are to blame; invalid
UTF-8 crashes khard even then (vcard.md 2.2).  Exit 0 = all OK, 1 = failure,
2 = usage, 77 = khard not installed.
"""

import ast
import collections
import glob
import os
import shutil
import subprocess
import sys
import tempfile

import vcheck_common as vc

FIELDS = ["uid", "formatted_name", "first_name", "last_name", "emails",
          "phone_numbers", "notes", "organisations"]
CONF = """[addressbooks]
[[pd]]
path = {path}
[general]
default_action = list
[contact table]
display = formatted_name
[vcard]
private_objects = PIPEDRIVE-ID, PIPEDRIVE-ORG-ID, PIPEDRIVE-OWNER-ID, PIPEDRIVE-LABEL-ID
"""


def file_uid(path):
    """The UID value of a card (simple unfold), or None."""
    try:
        text = open(path, "rb").read().decode("utf-8", errors="replace")
    except OSError:
        return None
    text = text.replace("\r\n ", "").replace("\r\n\t", "")
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.upper().startswith("UID:"):
            return line[4:]
    return None


def _short(err):
    """The informative lines of khard's stderr, on one line."""
    lines = [l.strip() for l in err.strip().splitlines() if l.strip()]
    keep = [l for l in lines if l.startswith(("Error", "Card ", "Warning"))
            or "UID" in l] or lines[-1:]
    return " | ".join(keep)[-600:]


def _utf8(path):
    try:
        open(path, "rb").read().decode("utf-8")
        return True
    except (OSError, UnicodeDecodeError):
        return False


def khard(conf, *args):
    env = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8")
    env.pop("KHARD_CONFIG", None)
    p = subprocess.run(["khard", "-c", conf] + list(args), capture_output=True,
                       env=env, timeout=300)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def flatten(value):
    """khard prints emails/phones as a dict repr {type: [values]}."""
    if not value:
        return []
    try:
        obj = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return ["<unparsable khard output %r>" % value]
    out = []

    def walk(o):
        if isinstance(o, dict):
            for v in o.values():
                walk(v)
        elif isinstance(o, (list, tuple)):
            for v in o:
                walk(v)
        else:
            out.append(str(o))
    walk(obj)
    return out


def check_items(items):
    """Returns {vcf path: (errors, notes)}."""
    res = {it["vcf"]: ([it["error"]] if "error" in it else [], [])
           for it in items}
    dirs = {os.path.dirname(os.path.abspath(it["vcf"])) for it in items}
    if len(dirs) != 1:
        for it in items:
            res[it["vcf"]][0].append("check_khard needs all cards in one directory")
        return res
    d = dirs.pop()
    on_disk = sorted(glob.glob(os.path.join(glob.escape(d), "*.vcf")))
    by_abs = {os.path.abspath(it["vcf"]): it for it in items}
    tmp = tempfile.mkdtemp(prefix="pdfs-khard-")
    try:
        conf = os.path.join(tmp, "khard.conf")
        with open(conf, "w", encoding="utf-8") as f:
            f.write(CONF.format(path=d))
        _check_dir(conf, d, on_disk, by_abs, items, res)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return res


def _all(res, items, msg):
    for it in items:
        res[it["vcf"]][0].append(msg)


def _check_dir(conf, d, on_disk, by_abs, items, res):
    extra = [p for p in on_disk if p not in by_abs]
    if extra:
        _all(res, items, "%d .vcf files in %s not in the check list" % (len(extra), d))
    rc, out, err = khard(conf, "list", "--parsable")
    if rc != 0 or err.strip():
        msg = "khard list exit %d: %s" % (rc, _short(err))
        if "UnicodeDecodeError" in err:
            bad = [os.path.basename(p) for p in on_disk if not _utf8(p)]
            msg = ("khard crashed for the whole address book (UnicodeDecodeError, "
                   "even --skip-unparsable does not help); invalid UTF-8 in: %s"
                   % ", ".join(bad))
        blamed = False
        for it in items:
            name = os.path.basename(it["vcf"])
            if name in err or it["vcf"] in err:
                res[it["vcf"]][0].append(msg)
                blamed = True
        if rc != 0:
            # Find the culprits: run again skipping unparsable files.
            rc2, out2, err2 = khard(conf, "--skip-unparsable", "list", "--parsable")
            if rc2 != 0:
                if not blamed:
                    _all(res, items, msg)
                return
            out = out2
            for it in items:
                if os.path.basename(it["vcf"]) in err2 and msg not in res[it["vcf"]][0]:
                    res[it["vcf"]][0].append("khard cannot parse it: " + msg)
        elif not blamed:
            _all(res, items, msg)
    rows = [l.split("\t") for l in out.splitlines() if l.strip()]
    if len(rows) != len(on_disk):
        _all(res, items, "khard lists %d cards for %d .vcf files"
             % (len(rows), len(on_disk)))
    listed = collections.defaultdict(list)
    for r in rows:
        listed[r[0]].append(r[1] if len(r) > 1 else "")
    uids = {}
    for it in items:
        if "error" in it:
            continue
        uid = file_uid(it["vcf"])
        errs = res[it["vcf"]][0]
        if uid is None:
            errs.append("no UID: khard hides the card")
            continue
        if uid in uids:
            errs.append("same UID as %s: khard shows only one of them" % uids[uid])
            res[uids[uid]][0].append("same UID as %s" % it["vcf"])
        uids[uid] = it["vcf"]
        names = listed.get(uid)
        if not names:
            errs.append("UID %s not listed by khard" % uid)
        elif len(names) > 1:
            errs.append("UID %s listed %d times" % (uid, len(names)))
        else:
            vc.compare(errs, "khard name (FN)", names[0], it["expected"]["fn"])

    rc, out, err = khard(conf, "--skip-unparsable", "list", "--parsable",
                         "-F", ",".join(FIELDS))
    if rc != 0:
        _all(res, items, "khard list -F failed (%d): %s" % (rc, err.strip()[-300:]))
        return
    fields = {}
    for line in out.splitlines():
        cols = line.split("\t")
        if len(cols) != len(FIELDS):
            _all(res, items, "khard -F row with %d columns: %r" % (len(cols), line[:100]))
            continue
        fields[cols[0]] = dict(zip(FIELDS, cols))
    for uid, path in uids.items():
        row = fields.get(uid)
        if row is None:
            continue  # already reported
        exp = by_abs[os.path.abspath(path)]["expected"]
        errs = res[path][0]
        vc.compare(errs, "khard first_name", row["first_name"], exp["n_given"])
        vc.compare(errs, "khard last_name", row["last_name"], exp["n_family"])
        vc.compare(errs, "khard emails", sorted(flatten(row["emails"])),
                   sorted(exp["emails"]))
        vc.compare(errs, "khard phones", sorted(flatten(row["phone_numbers"])),
                   sorted(exp["tels"]))
        vc.compare(errs, "khard notes", flatten(row["notes"]),
                   [exp["note"]] if exp["note"] is not None else [])
        if exp.get("org_checked"):
            vc.compare(errs, "khard organisations", flatten(row["organisations"]),
                       [exp["org"]] if exp["org"] else [])


def main(argv):
    if shutil.which("khard") is None:
        print("SKIP khard: not installed (no khard on PATH)", file=sys.stderr)
        return vc.EXIT_SKIP
    args = list(argv)
    dirs = [a for a in args if os.path.isdir(a)]
    if dirs:
        if len(dirs) != 1:
            vc.usage("check_khard.py")
        args.remove(dirs[0])
        files = sorted(glob.glob(os.path.join(glob.escape(dirs[0]), "*.vcf")))
        if not files:
            print("%s: no .vcf files" % dirs[0])
            return 1
        args += files
    version, items, opts = vc.parse_args(args, "check_khard.py")
    res = check_items(items)
    failed = 0
    for it in items:
        errs, notes = res[it["vcf"]]
        failed += bool(errs)
        if opts["jsonl"]:
            import json
            print(json.dumps({"file": it["vcf"], "errors": errs, "notes": notes},
                             ensure_ascii=False))
        else:
            for e in errs:
                print("%s: %s" % (it["vcf"], e))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
