#!/usr/bin/env python3
"""check_dir.py - run every vCard check over a directory of cards.

    check_dir.py DIR [--version 3.0|4.0] [--org-names ORGS.json]
                     [--only lint,vobject,eds,icaljs,khard] [--allow-skip]

For every DIR/*.vcf the sibling DIR/<same name>.json is the person (the mount
serves both); expected.py derives what a reader must see.  Readers, each run
ONCE for the whole directory:

  lint     lint_vcard.py (in-process): strict bytes / syntax / structure
  vobject  /usr/bin/python3 check_vobject.py   (python3-vobject, khard's parser)
  eds      /usr/bin/python3 check_eds.py       (evolution-data-server 3.46)
  icaljs   node check_icaljs.mjs               (ical.js 2.2.1 = Thunderbird)
  khard    check_khard.py                      (khard 0.18 CLI on DIR)

Output: one line per failure "READER FILE: reason", then "note:" lines
(known, accepted differences), then a per-reader summary.  Exit 0 if all pass,
1 on any failure, 2 on usage errors, 77 if a reader is not installed (it
prints "SKIP reader: not installed ...") unless --allow-skip.

ORGS.json: {"<org id>": "name"} or a list of organizations [{"id", "name"}]
(the fake server's /_control/organizations answer works as is).  Without it
ORG is only checked not to be the bare organization id.

Environment: PDFS_SYSTEM_PYTHON (default /usr/bin/python3) runs vobject and
EDS; NODE (default node) runs ical.js.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import expected as expected_mod  # noqa: E402
import lint_vcard  # noqa: E402

READERS = ["lint", "vobject", "eds", "icaljs", "khard"]
SKIP = 77


def usage():
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    sys.exit(2)


def parse_args(argv):
    opts = {"dir": None, "version": "3.0", "org_names": None,
            "only": READERS, "allow_skip": False}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--version", "--org-names", "--only"):
            if i + 1 >= len(argv):
                usage()
            v = argv[i + 1]
            if a == "--only":
                v = [r.strip() for r in v.split(",") if r.strip()]
                if not v or any(r not in READERS for r in v):
                    usage()
            opts[a[2:].replace("-", "_")] = v
            i += 2
        elif a == "--allow-skip":
            opts["allow_skip"] = True
            i += 1
        elif a.startswith("-") or opts["dir"]:
            usage()
        else:
            opts["dir"] = a
            i += 1
    if not opts["dir"] or opts["version"] not in ("3.0", "4.0"):
        usage()
    return opts


def build_items(d, version, org_names):
    names = sorted(n for n in os.listdir(d) if n.endswith(".vcf"))
    items = []
    for n in names:
        vcf = os.path.join(d, n)
        item = {"vcf": vcf}
        js = vcf[:-4] + ".json"
        try:
            item["expected"] = expected_mod.expected(
                expected_mod.load_person(js), version, org_names)
        except (OSError, ValueError) as e:
            item["error"] = "no usable person JSON %s: %s" % (os.path.basename(js), e)
        items.append(item)
    return items


def run_external(cmd, manifest, items, timeout=600):
    """Run a checker in --manifest --jsonl mode.  Returns (status, results)
    with status "ok", "skip:<reason>" or "crash:<reason>"."""
    try:
        p = subprocess.run(cmd + ["--manifest", manifest, "--jsonl"],
                           capture_output=True, timeout=timeout, cwd=HERE)
    except FileNotFoundError as e:
        return "skip:%s" % e, {}
    except subprocess.TimeoutExpired:
        return "crash:timed out after %d s" % timeout, {}
    err = p.stderr.decode("utf-8", "replace").strip()
    if p.returncode == SKIP:
        return "skip:%s" % (err or "exit 77"), {}
    results = {}
    for line in p.stdout.decode("utf-8", "replace").splitlines():
        try:
            r = json.loads(line)
            results[r["file"]] = (r.get("errors", []), r.get("notes", []))
        except (ValueError, KeyError):
            continue
    missing = [it["vcf"] for it in items if it["vcf"] not in results]
    if p.returncode not in (0, 1) or missing:
        reason = "exit %d, %d cards without result; stderr: %s" % (
            p.returncode, len(missing), err[-500:])
        for m in missing:
            results[m] = (["checker crashed: " + reason], [])
    elif err:
        # A checker must not write anything to stderr on success: surface it.
        for it in items:
            results.setdefault(it["vcf"], ([], []))
        first = items[0]["vcf"] if items else "-"
        results[first][0].append("unexpected stderr: %s" % err[-500:])
    return "ok", results


def main(argv):
    opts = parse_args(argv)
    d = opts["dir"]
    if not os.path.isdir(d):
        print("check_dir.py: %s is not a directory" % d, file=sys.stderr)
        return 2
    org_names = (expected_mod.load_org_names(opts["org_names"])
                 if opts["org_names"] else None)
    items = build_items(d, opts["version"], org_names)
    if not items:
        print("check_dir.py: no .vcf files in %s" % d)
        return 1
    system_py = os.environ.get("PDFS_SYSTEM_PYTHON", "/usr/bin/python3")
    node = os.environ.get("NODE", "node")
    tmp = tempfile.mkdtemp(prefix="pdfs-vcard-")
    manifest = os.path.join(tmp, "manifest.json")
    with open(manifest, "w", encoding="utf-8") as f:
        json.dump({"version": opts["version"], "items": items}, f, ensure_ascii=False)

    summary = []
    failures = 0
    skipped = []
    try:
        for reader in opts["only"]:
            if reader == "lint":
                status, results = "ok", {}
                for it in items:
                    try:
                        errs = lint_vcard.lint_file(it["vcf"], opts["version"])
                    except OSError as e:
                        errs = ["cannot read: %s" % e]
                    results[it["vcf"]] = (errs, [])
            elif reader in ("vobject", "eds"):
                if not os.path.exists(system_py):
                    status, results = "skip:%s not found" % system_py, {}
                else:
                    status, results = run_external(
                        [system_py, os.path.join(HERE, "check_%s.py" % reader)],
                        manifest, items)
            elif reader == "icaljs":
                if shutil.which(node) is None:
                    status, results = "skip:node not found", {}
                else:
                    status, results = run_external(
                        [node, os.path.join(HERE, "check_icaljs.mjs")], manifest, items)
            else:  # khard
                if shutil.which("khard") is None:
                    status, results = "skip:no khard on PATH", {}
                else:
                    status, results = run_external(
                        [sys.executable, os.path.join(HERE, "check_khard.py")],
                        manifest, items)
            if status.startswith("skip:"):
                reason = status[5:].replace("SKIP %s: " % reader, "")
                print("SKIP %s: not installed (%s)" % (reader, reason.strip()))
                skipped.append(reader)
                summary.append("%-8s SKIP (not installed)" % reader)
                continue
            bad = 0
            notes = 0
            for it in items:
                errs, nts = results.get(it["vcf"], (["no result"], []))
                for e in errs:
                    print("%s %s: %s" % (reader, it["vcf"], e))
                bad += bool(errs)
                notes += len(nts)
                for n in nts:
                    print("%s %s: note: %s" % (reader, it["vcf"], n))
            failures += bad
            summary.append("%-8s %s  %d/%d cards pass%s" % (
                reader, "FAIL" if bad else "ok  ", len(items) - bad, len(items),
                ", %d notes" % notes if notes else ""))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print("== vCard readers: %s, %d cards, version %s" % (d, len(items), opts["version"]))
    for s in summary:
        print("   " + s)
    if failures:
        return 1
    if skipped and not opts["allow_skip"]:
        return SKIP
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
