"""vcheck_common.py - shared plumbing of the Python reader checks.

A checker is called either by check_dir.py with a manifest

    CHECKER --manifest MANIFEST.json --jsonl

(MANIFEST = {"version": "3.0", "items": [{"vcf": PATH, "expected": {...}}]};
one JSON object {"file", "errors", "notes"} per card is written to stdout), or
by hand:

    CHECKER [--version 3.0|4.0] [--org-names ORGS.json] FILE.vcf...

(the expected values come from the sibling FILE.json; one "FILE: reason" line
per problem).  Exit 0 = all OK, 1 = a failure, 2 = usage, 77 = the reader is
not installed.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import expected as expected_mod  # noqa: E402

EXIT_SKIP = 77


def parse_args(argv, prog):
    args = list(argv)
    opts = {"version": None, "org_names": None, "manifest": None,
            "jsonl": False}
    files = []
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("--version", "--org-names", "--manifest"):
            if i + 1 >= len(args):
                usage(prog)
            opts[a[2:].replace("-", "_")] = args[i + 1]
            i += 2
        elif a == "--jsonl":
            opts["jsonl"] = True
            i += 1
        elif a.startswith("-"):
            usage(prog)
        else:
            files.append(a)
            i += 1
    if opts["manifest"]:
        with open(opts["manifest"], encoding="utf-8") as f:
            man = json.load(f)
        version = man.get("version") or "3.0"
        return version, man["items"], opts
    if not files:
        usage(prog)
    org_names = (expected_mod.load_org_names(opts["org_names"])
                 if opts["org_names"] else None)
    items = []
    for vcf in files:
        item = {"vcf": vcf}
        js = os.path.splitext(vcf)[0] + ".json"
        try:
            person = expected_mod.load_person(js)
            item["expected"] = expected_mod.expected(
                person, opts["version"] or "3.0", org_names)
        except (OSError, ValueError) as e:
            item["error"] = "no usable person JSON %s: %s" % (js, e)
        items.append(item)
    return opts["version"] or "3.0", items, opts


def usage(prog):
    print("usage: %s [--version 3.0|4.0] [--org-names ORGS.json] FILE.vcf...\n"
          "       %s --manifest MANIFEST.json [--jsonl]" % (prog, prog),
          file=sys.stderr)
    sys.exit(2)


def read_text(path):
    """(text, error): the file decoded as strict UTF-8 (BOM kept)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return None, "cannot read: %s" % e
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as e:
        return None, "not valid UTF-8 (byte %d)" % e.start


def run(items, check_one, opts):
    """check_one(path, expected) -> (errors, notes).  Prints and returns the
    exit code."""
    failed = 0
    for item in items:
        path = item["vcf"]
        if "error" in item:
            errs, notes = [item["error"]], []
        else:
            try:
                errs, notes = check_one(path, item["expected"])
            except Exception as e:  # a reader crash is a failure of this card
                errs, notes = ["reader raised %s: %s" % (type(e).__name__, e)], []
        failed += bool(errs)
        if opts["jsonl"]:
            print(json.dumps({"file": path, "errors": errs, "notes": notes},
                             ensure_ascii=False), flush=True)
        else:
            for e in errs:
                print("%s: %s" % (path, e))
            for n in notes:
                print("%s: note: %s" % (path, n))
    return 1 if failed else 0


def compare(errs, what, got, want):
    if got != want:
        errs.append("%s: got %r, expected %r" % (what, got, want))
