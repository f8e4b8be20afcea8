#!/usr/bin/python3
"""check_eds.py - read cards with evolution-data-server's libebook-contacts
(Evolution / GNOME Contacts), through GObject introspection.

Run with /usr/bin/python3 (python3-gi, gir1.2-ebookcontacts-1.2).  Usage: see
vcheck_common.py.  Per card: strict UTF-8; EBookContacts.Contact.new_from_vcard;
any GLib warning of libebook-contacts ("vcard began without a BEGIN:VCARD",
"invalid character found in attribute group/name", "vcard ended without
END:VCARD") is a failure; an FN attribute must exist (EDS would silently build
full-name from N); then full-name, family-name, given-name, the E_CONTACT_EMAIL
list, all TEL attributes (in order) and note are compared with expected.py;
for 3.0 also primary-phone (TYPE=PREF); finally a to_string(VCARD_30) round
trip must keep full-name, emails and phones.

vCard 4.0 (vcard.md 1.1 / 1.5): EDS 3.46 knows only 2.1 and 3.0.  It reads a
4.0 card as generic attributes, so FN, N, EMAIL, TEL and NOTE values are
still checked, but it ignores PREF=1 (no primary phone), does not split
TYPE="a,b" lists and turns BDAY:--MMDD into 0/0/0.  Those three are not
checked for 4.0 and the output says so (a "note:" line per card).
"""

import sys

import vcheck_common as vc

try:
    import gi
    gi.require_version("EBookContacts", "1.2")
    from gi.repository import EBookContacts as E, GLib
except (ImportError, ValueError) as e:
    print("SKIP eds: not installed (%s)" % e, file=sys.stderr)
    sys.exit(vc.EXIT_SKIP)

F = E.ContactField
_warnings = []


def _log(domain, level, message, *_):
    _warnings.append("%s: %s" % (domain, message.strip()))


for _dom in ("libebook-contacts", "e-data-server", "GLib", "GLib-GObject"):
    GLib.log_set_handler(_dom, GLib.LogLevelFlags.LEVEL_MASK
                         | GLib.LogLevelFlags.FLAG_FATAL
                         | GLib.LogLevelFlags.FLAG_RECURSION, _log)


def _attrs(contact, name):
    return [a for a in E.VCard.get_attributes(contact) if a.get_name().upper() == name]


def _fields(contact):
    return {
        "fn": contact.get_property("full-name"),
        "emails": [a.get_value() for a in contact.get_attributes(F.EMAIL)],
        "tels": [a.get_value() for a in _attrs(contact, "TEL")],
    }


def check_one(path, exp):
    errs, notes = [], []
    text, err = vc.read_text(path)
    if err:
        return [err], notes
    # EDS only warns about broken structure; the script checks it.
    unfolded = text.replace("\r\n ", "").replace("\r\n", "\n").split("\n")
    begins = sum(1 for l in unfolded if l.upper() == "BEGIN:VCARD")
    ends = sum(1 for l in unfolded if l.upper() == "END:VCARD")
    if begins != 1 or ends != 1:
        errs.append("pre-check: %d BEGIN:VCARD / %d END:VCARD (want one card)"
                    % (begins, ends))
    del _warnings[:]
    contact = E.Contact.new_from_vcard(text)
    if contact is None:
        return errs + ["new_from_vcard returned NULL"] + _warnings, notes
    E.VCard.get_attributes(contact)  # EDS parses lazily: force it now
    for w in _warnings:
        errs.append("EDS warning: %s" % w)
    if contact.get_attribute("FN") is None:
        errs.append("no FN attribute (EDS built full-name %r from N)"
                    % contact.get_property("full-name"))
    version = exp.get("version", "3.0")
    got = _fields(contact)
    vc.compare(errs, "full-name", got["fn"], exp["fn"])
    vc.compare(errs, "family-name", contact.get_property("family-name") or "",
               exp["n_family"])
    vc.compare(errs, "given-name", contact.get_property("given-name") or "",
               exp["n_given"])
    vc.compare(errs, "E_CONTACT_EMAIL", got["emails"], exp["emails"])
    vc.compare(errs, "TEL", got["tels"], exp["tels"])
    vc.compare(errs, "note", contact.get_property("note"), exp["note"])
    if exp.get("org_checked"):
        vc.compare(errs, "org", contact.get_property("org"), exp["org"])
    if version == "4.0":
        notes.append("EDS 3.46 has no vCard 4.0: PREF=1 (primary phone), "
                     "TYPE lists and BDAY --MMDD not checked")
    elif exp.get("tel_primary"):
        vc.compare(errs, "primary-phone (TYPE=PREF)",
                   contact.get_property("primary-phone"), exp["tel_primary"])
    # Round trip through EDS's own 3.0 writer.
    del _warnings[:]
    again = E.Contact.new_from_vcard(contact.to_string(getattr(E.VCardFormat, "30")))
    if again is not None:
        E.VCard.get_attributes(again)
    if again is None:
        errs.append("round trip: EDS cannot re-read its own 3.0 output")
    else:
        if _fields(again) != got:
            errs.append("round trip changed values: %r -> %r" % (got, _fields(again)))
        for w in _warnings:
            errs.append("round trip EDS warning: %s" % w)
    return errs, notes


if __name__ == "__main__":
    version, items, opts = vc.parse_args(sys.argv[1:], "check_eds.py")
    sys.exit(vc.run(items, check_one, opts))
