#!/usr/bin/env python3
"""make_samples.py - (re)create the broken sample cards b1..b12 (vcard.md 3.1)
from the good 3.0 card in good30/.  Each bN_*.vcf gets a bN_*.json person
(what the card should have shown).  Run from anywhere: python3 make_samples.py
"""
import copy
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
os.chdir(HERE)
GOOD = open("good30/Person Name (1).vcf", "rb").read().decode("utf-8")
PERSON = json.load(open("good30/Person Name (1).json", encoding="utf-8"))
LINES = GOOD.split("\r\n")[:-1]


def card(lines, eol="\r\n"):
    return (eol.join(lines) + eol).encode("utf-8")


def replace(lines, old_prefix, new):
    out = []
    for ln in lines:
        if ln.startswith(old_prefix):
            if new is None:
                continue
            out.extend(new if isinstance(new, list) else [new])
        else:
            out.append(ln)
    return out


def write(name, data, person):
    os.makedirs("broken", exist_ok=True)
    with open(os.path.join("broken", name + ".vcf"), "wb") as f:
        f.write(data)
    with open(os.path.join("broken", name + ".json"), "w", encoding="utf-8") as f:
        json.dump(person, f, ensure_ascii=False, indent=1)


def person(**kw):
    p = copy.deepcopy(PERSON)
    p.update(kw)
    return p


# b1: unescaped comma inside an N component.
write("b1_n_unescaped_comma",
      card(replace(replace(LINES, "FN:", "FN:John Doe\\, Jr."), "N:", "N:Doe, Jr.;John;;;")),
      person(name="John Doe, Jr.", first_name="John", last_name="Doe, Jr."))
# b2: no FN.
write("b2_missing_fn", card(replace(LINES, "FN:", None)), person())
# b3: continuation line without the leading SPACE.
p3 = person(notes="This note is long and continues on the next line.")
write("b3_bad_folding",
      card(replace(LINES, "NOTE:", ["NOTE:This note is long and continues ", "on the next line."])), p3)
# b4: bare LF line endings.
write("b4_bare_lf", card(LINES, "\n"), person())
# b5: fold between the two bytes of "ë" (0xC3 0xAB).
p5 = person(name="Zoë Müller", first_name="Zoë", last_name="Müller")
raw = card(replace(replace(LINES, "FN:", "FN:Zoë Müller"), "N:", "N:Müller;Zoë;;;"))
i = raw.index("FN:Zo".encode()) + len("FN:Zo") + 1   # after 0xC3
raw = raw[:i] + b"\r\n " + raw[i:]
write("b5_fold_splits_utf8", raw, p5)
# b6: unescaped comma in a 3.0 NOTE.
write("b6_note_unescaped_comma",
      card(replace(LINES, "NOTE:", "NOTE:Met at conference, wants a demo")),
      person(notes="Met at conference, wants a demo"))
# b7: no UID.
write("b7_no_uid", card(replace(LINES, "UID:", None)), person())
# b8: a 4.0 card whose VERSION is not the first property.
good40 = open("good40/Person Name (1).vcf", "rb").read().decode("utf-8").split("\r\n")[:-1]
l8 = [l for l in good40 if not l.startswith("VERSION:")]
l8.insert(l8.index("FN:Person Name") + 1, "VERSION:4.0")
write("b8_v4_version_not_first", card(l8), person())
# b9: no END:VCARD.
write("b9_no_end", card(LINES[:-1]), person())
# b10: UTF-8 BOM.
write("b10_bom", b"\xef\xbb\xbf" + card(LINES), person())
# b11: 3.0 without N.
write("b11_v3_missing_n", card(replace(LINES, "N:", None)), person())
# b12: 205-octet unfolded line and an unescaped ";" in FN.
p12 = person(name="Doe; John", notes="x" * 200)
write("b12_long_line_semicolon_fn",
      card(replace(replace(LINES, "FN:", "FN:Doe; John"), "NOTE:", "NOTE:" + "x" * 200)), p12)


# ---- good tricky cards, rendered by a minimal reference renderer ----------
import sys
sys.path.insert(0, os.path.dirname(HERE))
from expected import expected  # noqa: E402


def esc(s):
    return (s.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;")
            .replace("\n", "\\n"))


def fold(line):
    """Fold at 75 octets, never inside a UTF-8 sequence or a \\x escape."""
    b = line.encode("utf-8")
    out, limit = [], 75
    while len(b) > limit:
        cut = limit
        while cut > 0 and (b[cut] & 0xC0) == 0x80:
            cut -= 1
        k = cut - 1
        n = 0
        while k >= 0 and b[k:k + 1] == b"\\":
            n += 1
            k -= 1
        if n % 2 == 1:
            cut -= 1
        out.append(b[:cut])
        b = b[cut:]
        limit = 74
    out.append(b)
    return b"\r\n ".join(out) + b"\r\n"


def render(p, version="3.0", org=None):
    e = expected(p, version)
    lines = ["BEGIN:VCARD", "VERSION:" + version,
             "UID:" + ("urn:uuid:" if version == "4.0" else "") + "00000000-0000-5000-8000-%012d" % p["id"],
             "FN:" + esc(e["fn"]), "N:%s;%s;;;" % (esc(e["n_family"]), esc(e["n_given"]))]
    if org:
        lines.append("ORG:" + esc(org))
    pref = ";TYPE=PREF" if version == "3.0" else ";PREF=1"
    for v in e["emails"]:
        lines.append(("EMAIL;TYPE=INTERNET" if version == "3.0" else "EMAIL")
                     + (pref if v == e["email_primary"] else "") + ":" + esc(v))
    for v in e["tels"]:
        lines.append(("TEL;TYPE=VOICE" if version == "3.0" else "TEL;TYPE=voice")
                     + (pref if v == e["tel_primary"] else "") + ":" + esc(v))
    if e["note"]:
        lines.append("NOTE:" + esc(e["note"]))
    lines += ["X-PIPEDRIVE-ID:%d" % p["id"], "END:VCARD"]
    return b"".join(fold(l) for l in lines)


TRICKY = [
    {"id": 101, "name": 'Doe, John; "JJ" \\ Jr.', "first_name": "John; JJ",
     "last_name": "Doe, Jr. \\ III", "org_id": 1,
     "emails": [{"value": "b@x.com", "primary": False}, {"value": "a@x.com", "primary": True},
                {"value": "b@x.com", "primary": False}, {"value": " ", "primary": False}],
     "phones": [{"value": "+1 (555) 0100", "primary": False}, {"value": "+15550100", "primary": True}],
     "notes": "Met at conference, wants a demo; \\ ok: yes"},
    {"id": 102, "name": "John\r\nDoe\t\x07", "first_name": None, "last_name": None,
     "notes": "\r\nLine one\r\nLine two\rLine three\n\nAfter blank line\ttab \x1b\x7f"},
    {"id": 103, "name": "", "first_name": "", "last_name": "",
     "emails": [{"value": "only@mail.example", "primary": True}], "notes": None},
    {"id": 104, "name": None, "emails": [], "phones": []},
    {"id": 105, "name": "Zoë 👩🏽‍💻 李小龍 " + "ë" * 60, "first_name": "Zoë", "last_name": "李小龍",
     "notes": ("Ünïcödé ✓ 🚀 \\, ; " * 40).strip()},
]
for version, d in (("3.0", "tricky30"), ("4.0", "tricky40")):
    os.makedirs(d, exist_ok=True)
    for p in TRICKY:
        base = os.path.join(d, "p%d" % p["id"])
        with open(base + ".vcf", "wb") as f:
            f.write(render(p, version, org="Acme, Inc.; EMEA" if p.get("org_id") == 1 else None))
        with open(base + ".json", "w", encoding="utf-8") as f:
            json.dump(p, f, ensure_ascii=False, indent=1)
with open("orgs.json", "w", encoding="utf-8") as f:
    json.dump([{"id": 1, "name": "Acme, Inc.; EMEA"}], f, ensure_ascii=False)
print("written broken/, tricky30/, tricky40/")
