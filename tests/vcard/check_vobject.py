#!/usr/bin/python3
"""check_vobject.py - read cards with python3-vobject (khard's parser).

Run with /usr/bin/python3 (Debian's python3-vobject).  Usage: see
vcheck_common.py.  Per card: strict UTF-8, vobject.readComponents(text,
validate=True) yields exactly one VCARD, then FN, N (family, given; a
component that came back as a list is a failure), EMAIL and TEL values (in
order), NOTE and (when known) ORG are compared with expected.py.
"""

import sys

import vcheck_common as vc

try:
    import vobject
except ImportError:
    print("SKIP vobject: not installed (python3-vobject for %s)" % sys.executable,
          file=sys.stderr)
    sys.exit(vc.EXIT_SKIP)


def check_one(path, exp):
    errs, notes = [], []
    text, err = vc.read_text(path)
    if err:
        return [err], notes
    try:
        cards = list(vobject.readComponents(text, validate=True))
    except Exception as e:
        return ["parse failed: %s: %s" % (type(e).__name__, str(e)[:200])], notes
    if len(cards) != 1:
        return ["%d components (want exactly one VCARD)" % len(cards)], notes
    card = cards[0]
    if card.name.upper() != "VCARD":
        return ["component is %s, not VCARD" % card.name], notes
    c = card.contents
    fns = c.get("fn", [])
    if len(fns) != 1:
        errs.append("%d FN properties" % len(fns))
    else:
        vc.compare(errs, "FN", fns[0].value, exp["fn"])
    ns = c.get("n", [])
    if len(ns) != 1:
        errs.append("%d N properties" % len(ns))
    else:
        n = ns[0].value
        for attr, key in (("family", "n_family"), ("given", "n_given")):
            got = getattr(n, attr, None)
            if isinstance(got, list):
                errs.append("N %s came back as a list %r (unescaped ',')" % (attr, got))
            else:
                vc.compare(errs, "N " + attr, got, exp[key])
        for attr in ("additional", "prefix", "suffix"):
            got = getattr(n, attr, "")
            if got not in ("", []):
                errs.append("N %s not empty: %r" % (attr, got))
    vc.compare(errs, "EMAIL", [p.value for p in c.get("email", [])], exp["emails"])
    vc.compare(errs, "TEL", [p.value for p in c.get("tel", [])], exp["tels"])
    notes_p = c.get("note", [])
    if len(notes_p) > 1:
        errs.append("%d NOTE properties" % len(notes_p))
    got_note = notes_p[0].value if notes_p else None
    vc.compare(errs, "NOTE", got_note, exp["note"])
    orgs = c.get("org", [])
    if len(orgs) > 1:
        errs.append("%d ORG properties" % len(orgs))
    got_org = orgs[0].value if orgs else None
    if exp.get("org_checked"):
        vc.compare(errs, "ORG", got_org, [exp["org"]] if exp["org"] else None)
    if got_org and exp.get("org_id") is not None and \
            [str(x) for x in got_org] == [str(exp["org_id"])]:
        errs.append("ORG is the bare organization id %r" % got_org)
    uids = c.get("uid", [])
    if len(uids) != 1 or not uids[0].value:
        errs.append("want exactly one non-empty UID, got %d" % len(uids))
    return errs, notes


if __name__ == "__main__":
    version, items, opts = vc.parse_args(sys.argv[1:], "check_vobject.py")
    sys.exit(vc.run(items, check_one, opts))
