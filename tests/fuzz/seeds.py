#!/usr/bin/env python3
"""Seed inputs for the libFuzzer harnesses in tests/fuzz/.

  seeds.py corpus [DIR]   (re)write the committed corpus, default
                          tests/fuzz/corpus/<harness>/: real-shaped persons
                          fetched from tests/fake_pipedrive.py (started and
                          stopped here) plus hand-made nasty seeds.
  seeds.py huge DIR       write the huge seeds (megabytes, never committed)
                          into DIR/<harness>/; tests/stages/fuzz.sh runs them
                          once per harness before fuzzing.

Deterministic: the fake server runs with a fixed --seed, file names are the
content's SHA-1 prefix with a readable tag.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HARNESSES = ("fuzz_vcard", "fuzz_person", "fuzz_text", "fuzz_jsonfmt",
             "fuzz_ratelimit")
TOKEN = "test-token"


def compact(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


class Writer:
    def __init__(self, root):
        self.root = Path(root)
        self.count = {}

    def put(self, harness, tag, data):
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogatepass")
        d = self.root / harness
        d.mkdir(parents=True, exist_ok=True)
        name = f"{tag}-{hashlib.sha1(data).hexdigest()[:10]}"
        (d / name).write_bytes(data)
        self.count[harness] = self.count.get(harness, 0) + 1


# --------------------------------------------------------------------------
# real-shaped data from the fake server

def fetch_fake_data():
    work = Path(tempfile.mkdtemp(prefix="pdfs-seeds."))
    port_file = work / "port"
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "tests" / "fake_pipedrive.py"), "--port", "0",
         "--port-file", str(port_file), "--persons", "80", "--seed", "7",
         "--rate-limit", "0", "--quiet", "--token", TOKEN],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if port_file.exists() and port_file.read_text().strip():
                break
            time.sleep(0.05)
        base = f"http://127.0.0.1:{int(port_file.read_text())}"

        def get(path):
            req = urllib.request.Request(base + path, headers={"x-api-token": TOKEN})
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.read()

        pages = []
        cursor = None
        while True:
            q = "/api/v2/persons?limit=50" + (f"&cursor={cursor}" if cursor else "")
            raw = get(q)
            pages.append(raw)
            cursor = (json.loads(raw).get("additional_data") or {}).get("next_cursor")
            if not cursor:
                break
        small_pages = [get("/api/v2/persons?limit=3"), get("/api/v2/persons?limit=5&sort_by=update_time")]
        singles = [get(f"/api/v2/persons/{i}") for i in (1, 9, 17, 24, 26, 31, 40)]
        fields = get("/api/v2/personFields?limit=500")
        return pages, small_pages, singles, fields
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------------------
# nasty persons

BASE = {
    "id": 42, "name": "Jane Q. Public", "first_name": "Jane", "last_name": "Public",
    "owner_id": 1, "org_id": 5, "add_time": "2024-01-02T03:04:05Z",
    "update_time": "2025-06-07T08:09:10Z",
    "emails": [{"value": "jane@example.com", "primary": True, "label": "work"},
               {"value": "jane@home.example", "primary": False, "label": "home"}],
    "phones": [{"value": "+1 555 0100", "primary": True, "label": "mobile"}],
    "im": [{"value": "jane.q", "primary": True, "label": "skype"},
           {"value": "@jane:matrix.org", "primary": False, "label": "matrix"}],
    "is_deleted": False, "visible_to": 3, "label_ids": [1, 2, 3],
    "picture_id": None, "notes": "line one\nline two, with; specials \\ end",
    "birthday": "1980-02-29", "job_title": "CTO",
    "postal_address": {"value": "Hauptstr. 5, 10115 Berlin", "street_number": "5",
                       "route": "Hauptstraße", "subpremise": "3rd floor",
                       "locality": "Berlin", "admin_area_level_1": "Berlin",
                       "postal_code": "10115", "country": "Germany"},
    "custom_fields": {"1c90dd6d19a280a9d414cf85185f81c8c970386e": "JQ",
                      "ba5a5c7095a4e481393d3b81847a36fe8bde5b70": 12,
                      "756bae01237bb656d54ad844fa36f057b55a6a3b": [21, 23],
                      "92c4078cdc71dcba7ec5d47d2a670475b0ec8c9f": {"value": 1000, "currency": "EUR"},
                      "72efaeec5aa1f2be579cf0ed90a41e7adbfc9afc": "2025-01-01"},
}

def field_code(name):
    """The fake server's custom field keys (tests/fake_pipedrive.py)."""
    return hashlib.sha1(("pipedrivefs-fake:" + name).encode()).hexdigest()


def custom_of_every_type():
    """A value for a custom field of every v2 type, in the v2 shapes."""
    return {
        field_code("nickname"): "multi\nline, ; \\ value",
        field_code("lead_source"): "13", field_code("interests"): "21,22",
        field_code("budget"): {"value": "8000.50", "currency": "EUR"},
        field_code("contract_date"): "2025-12-31",
        field_code("industry_tag"): "Retail; wholesale",
        field_code("background"): "a\r\nb",
        field_code("score"): 1e-7, field_code("assistant_phone"): 4930123,
        field_code("trial_period"): {"value": "2025-01-01", "until": None},
        field_code("best_call_time"): {"value": "09:30:00", "timezone_name": "Europe/Berlin"},
        field_code("office_hours"): {"value": "09:00:00", "until": "17:30:00",
                                     "timezone_name": ""},
        field_code("account_manager"): {"id": 2, "name": "Bob"},
        field_code("billing_org"): {"value": 3}, field_code("referred_by"): [1, "2", 999],
        field_code("home_address"): {"value": "Main St 1", "formatted_address": None},
    }


WRONG = [None, True, False, 0, -1, 1.5, -0.0, "", "str", " \r\n\t ", [], {},
         [1, "a", None, {}], {"value": 1}, {"value": None, "label": 7}]


def nasty_persons():
    """(tag, bytes) pairs: each one JSON text, mostly one person object."""
    out = []

    def add(tag, obj):
        out.append((tag, obj if isinstance(obj, bytes) else compact(obj)))

    add("base", BASE)
    for i, w in enumerate(WRONG):           # wrong type in every field
        p = {k: w for k in BASE}
        p["id"] = 100 + i
        add(f"wrongtype{i}", p)
        p = dict(BASE)                        # wrong type in every element
        for key in ("emails", "phones", "im", "label_ids"):
            p[key] = [w, {"value": w, "primary": w, "label": w}]
        p["postal_address"] = {k: w for k in BASE["postal_address"]}
        p["custom_fields"] = {k: w for k in BASE["custom_fields"]}
        add(f"wrongelem{i}", p)
    for i, idv in enumerate([None, 0, -1, 9007199254740991, 9007199254740992,
                             9223372036854775807, 9223372036854775808,
                             18446744073709551615, 1e3, "5", [5], True]):
        p = dict(BASE)
        p["id"] = idv
        add(f"id{i}", p)
    p = dict(BASE)
    del p["id"]
    add("noid", p)
    add("dupkeys", b'{"id":1,"name":"first","id":2,"name":"second","emails":[],'
        b'"emails":[{"value":"a@b","primary":true},{"value":"a@b","primary":true}]}')
    add("nul", b'{"id":3,"name":"Nul\\u0000Name","first_name":"\\u0000","last_name":"a\\u0000",'
        b'"notes":"x\\u0000y\\r\\n\\u0000","emails":[{"value":"\\u0000","label":"\\u0000"}],'
        b'"na\\u0000me":"key with nul","job_title":"\\u0000\\u0000"}')
    add("badutf8", b'{"id":4,"name":"\xff\xfe bad \xc0\x80 \xed\xa0\x80 \xf4\x90\x80\x80 '
        b'\xe2\x82 trunc \xf0\x9f\x98","notes":"\x80\x80\x80\xbf","job_title":"\xc3",'
        b'"emails":[{"value":"\xe9t\xe9@example.com","label":"\xff"}],'
        b'"postal_address":{"country":"\xd6sterreich","route":"Stra\xdfe"}}')
    add("surrogates", b'{"id":5,"name":"\\ud800 lone \\udc00 pair \\ud83d\\ude00 rev \\ude00\\ud83d",'
        b'"first_name":"\\uffff\\ufffe\\ufdd0","last_name":"\\u00ad\\u200b\\u202e"}')
    add("numbers", b'{"id":6,"name":"Num","org_id":NaN,"owner_id":-Infinity,"label_ids":'
        b'[1e999,-0,0.5,1E2,9223372036854775807,-9223372036854775808,18446744073709551616],'
        b'"visible_to":1.0e-400}')
    deep = "[" * 30 + "]" * 30
    add("deep30", b'{"id":7,"name":' + deep.encode() + b',"emails":' + deep.encode() + b'}')
    add("deep40", ('{"id":8,"name":"Deep","notes":' + "{\"a\":" * 40 + "1" + "}" * 40 + "}").encode())
    add("deeparr", ("[" * 31 + '{"id":9}' + "]" * 31).encode())
    long_name = "Ünïcödé 👩🏽‍💻 " * 40
    add("longfields", {"id": 10, "name": long_name, "first_name": "x" * 300,
                       "last_name": "\\,;" * 100, "job_title": "é" * 200,
                       "notes": ("a\r\nb\rc\nd\te " * 60),
                       "emails": [{"value": ("v" * 90) + "@example.com",
                                   "label": "custom label, with; punctuation: " * 4,
                                   "primary": i % 3 == 0} for i in range(12)],
                       "phones": [{"value": "+1 555 0100", "label": l, "primary": True}
                                  for l in ("work", "WORK", "home", "mobile", "other",
                                            "", "fax", "pager")],
                       "im": [{"value": "u" * 100, "label": l}
                              for l in ("skype", "jabber", "google", "aim", "icq", "msn",
                                        "yahoo", "sip", "matrix", "qq", "Other\"Q", "a:b")]})
    add("dupemails", {"id": 11, "name": "",
                      "emails": [{"value": " same@x ", "primary": False, "label": "work"},
                                 {"value": "same@x", "primary": True, "label": "home"},
                                 "same@x", "bare@string", {"value": "\t"}],
                      "phones": ["1", "1", {"value": "1", "primary": True}]})
    add("fnfallback", {"id": 12, "name": " \r\n ", "first_name": "\t", "last_name": None,
                       "emails": [], "phones": [{"value": " \x01 "}, {"value": "+49 1"}]})
    add("fnnothing", {"id": 13})
    for i, (bday, upd) in enumerate([
            ("2024-02-29", "2021-01-01T00:00:00Z"), ("2023-02-29", "2021-01-01T00:00:00.123+05:30"),
            ("0000-01-01", "9999-12-31T23:59:59-23:59"), ("0001-01-01", "0001-01-01T00:00:00+00:01"),
            ("1999-13-01", "2021-01-01 00:00:00"), ("2020-1-1", "2021-01-01T00:00:60Z"),
            ("９９９９-01-01", "2021-01-01T24:00:00Z"), ("", "2021-01-01T00:00:00."),
            ("1980-02-29T00:00:00Z", "1969-12-31T23:59:59Z")]):
        add(f"dates{i}", {"id": 20 + i, "name": "D", "birthday": bday, "update_time": upd,
                          "add_time": upd})
    add("address_v1", {"id": 30, "name": "A", "postal_address": "1 Main St\nSpringfield; USA"})
    for i, country in enumerate(["DE", "deu", "The Netherlands", "Österreich", "USA", "",
                                 "ESPAÑA", "méxico"]):
        add(f"address{i}", {"id": 31 + i, "name": "A", "postal_address": {
            "street_number": "12a", "route": "Main; Road", "subpremise": "Apt, 4",
            "locality": "Town", "postal_code": "0000", "country": country}})
    add("labels", {"id": 40, "name": "L", "label_ids": list(range(-3, 40)) + [2**62, 2**63 - 1]})
    add("custom_all", {"id": 41, "name": "C", "custom_fields": {
        "1c90dd6d19a280a9d414cf85185f81c8c970386e": "multi\nline, ; \\ value",
        "ba5a5c7095a4e481393d3b81847a36fe8bde5b70": 99999,
        "756bae01237bb656d54ad844fa36f057b55a6a3b": [21, 22, 23, 24, None, "x", [21]],
        "92c4078cdc71dcba7ec5d47d2a670475b0ec8c9f": {"value": 1.5e300, "currency": None},
        "72efaeec5aa1f2be579cf0ed90a41e7adbfc9afc": {"value": "2025-01-01", "until": "2025-12-31"},
        "unknownkey": "not a field", "": "", "x" * 200: {"label": "lbl"}}})
    add("custom_notobj", {"id": 42, "name": "C", "custom_fields": [1, 2, 3]})
    add("custom_types", {"id": 44, "name": "T", "custom_fields": custom_of_every_type()})
    add("custom_types_strings", {"id": 45, "name": "T", "custom_fields": {
        k: (v if not isinstance(v, dict) else v.get("value"))
        for k, v in custom_of_every_type().items()}})
    add("custom_types_wrong", {"id": 46, "name": "T", "custom_fields": {
        k: w for k, w in zip(custom_of_every_type(), WRONG + WRONG)}})
    add("label_strings", {"id": 47, "name": "L", "label_ids":
                          ["1", 2, "02", "vip_key", "", "x;y", None, "4", 4]})
    add("deleted", {"id": 48, "name": "Gone", "is_deleted": True})
    # vcard harness steering keys (ignored by the others)
    add("steer", {"id": 43, "name": "S", "label_ids": [0, 1, 2, 3, 4],
                  "x_fuzz_org": " Org, Inc.;\n\\ ", "x_fuzz_labels": ["a,b", None, "", "\xff", "c"],
                  "x_fuzz_company": "ac me/é", "x_fuzz_app_url": "https://x.example/a b;c,d//",
                  "x_fuzz_fields": {"Field, one": "v;1", "": "empty label", "e": "",
                                    "long": "y" * 200}})
    add("notobject", b'[{"id":1}]')
    add("string", b'"just a string"')
    add("empty", b'{}')
    add("truncated", compact(BASE)[:200])
    return out


# --------------------------------------------------------------------------

def text_seeds(persons):
    """fuzz_text inputs: flags byte, then text (id seed = first 8 text bytes)."""
    out = set()
    for p in persons[:40]:
        for key in ("name", "notes", "job_title"):
            v = p.get(key)
            if isinstance(v, str) and v:
                out.add(b"\x00" + v.encode("utf-8", "surrogatepass"))
        lists = [p.get("emails"), p.get("phones")]
        for e in [e for lst in lists if isinstance(lst, list) for e in lst]:
            if isinstance(e, dict) and isinstance(e.get("value"), str):
                out.add(b"\x01" + e["value"].encode())
    nasty = [b"", b"\x80", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82",
             b"\xf0\x9f\x98", b"\xef\xbf\xbd", b"...hidden", b".", b"/etc/passwd",
             b"a\x00b\x7fc\x1bd", b" \t\r\n ", b"\r\n\r\r\n\n", b"\\,;\\n\\", b"\\" * 80,
             b"\xe2\x82\xac" * 90, b"\xf0\x9f\x98\x80" * 70, b"x" * 74 + b"\\,",
             b"x" * 73 + b"\xe2\x82\xac", b"a" * 300, b"(12).json", b"x (0).vcf",
             b"x (9007199254740991).json", b"x (9007199254740992).json", b" (1).vcf",
             b"Name (42).json", b"Name (042).vcf", b"Name (42).JSON", b"Name(42).json",
             b"12345", b"0", b"9007199254740991", b"99999999999999999", b"\xc3\xa9" * 130]
    flags = [b"\x00", b"\x01", b"\x80", b"\xe1", b"\x7f"]
    for i, t in enumerate(nasty):
        out.add(flags[i % len(flags)] + t)
    return sorted(out)


def jsonfmt_seeds(pages, persons, nasty):
    out = []
    for p in persons[:12]:
        c = compact(p)
        out.append(("compact", c))
    for p in persons[12:16]:
        out.append(("pretty", json.dumps(p, indent=2, ensure_ascii=False).encode()))
    for tag, b in nasty[:40]:
        out.append(("nasty-" + tag, b))
    for t in [b"{}", b"[]", b"{ }", b"[ \n ]", b'{"a":{},"b":[],"c":[{}],"d":""}', b"1", b"-0.5e-7",
              b'"str"', b"null", b"true", b'[1, 2 ,3]', b'{"a" : 1 , "b":[true,false,null]}',
              b'"\\"\\\\"', b'"unterminated', b'"ends with backslash\\', b"{{{{", b"]]]}}}",
              b"[1,,2]", b'{"a":1,}', b"/* comment */ 1", b"1 2", b"\x00", b"[\"\\u0000\"]",
              b'{"k\\"ey":"v:a,l{u}e[]"}', b"  \t\r\n  ", b"nul", b"NaN", b"[1e999]",
              b'{"\xff":"\xfe"}']:
        out.append(("hand", t))
    return out


def write_corpus(root):
    root = Path(root)
    for h in HARNESSES:
        shutil.rmtree(root / h, ignore_errors=True)
    w = Writer(root)
    pages, small_pages, singles, fields = fetch_fake_data()
    persons = [p for raw in pages for p in json.loads(raw)["data"]]
    nasty = nasty_persons()

    # fuzz_vcard: single person objects
    for p in persons[:36]:
        w.put("fuzz_vcard", f"person{p['id']}", compact(p))
    for tag, b in nasty:
        w.put("fuzz_vcard", tag, b)

    # fuzz_person: pages (split small), single-person responses, nasty
    for i in range(0, 36, 4):
        w.put("fuzz_person", f"page{i}", compact({"success": True, "data": persons[i:i + 4],
                                                  "additional_data": {"next_cursor": "abc"}}))
    for raw in small_pages + singles:
        w.put("fuzz_person", "api", raw)
    # nasty persons in a few pages (the non-objects stand alone)
    objs = [b for _, b in nasty if b.startswith(b"{")]
    for i in range(0, len(objs), 8):
        w.put("fuzz_person", f"page-nasty{i}",
              b'{"success":true,"data":[' + b",".join(objs[i:i + 8]) + b"]}")
    for tag, b in nasty:
        if not b.startswith(b"{") or tag in ("base", "noid", "dupkeys", "nul", "badutf8"):
            w.put("fuzz_person", tag, b)
    w.put("fuzz_person", "page-fields",
          b'{"data":[' + compact(BASE) + b'],"x_fuzz_person_fields":'
          + compact(json.loads(fields)["data"]) + b"}")
    w.put("fuzz_person", "page-empty", b'{"success":true,"data":[]}')
    w.put("fuzz_person", "page-nonstrict",
          b'{"data":[{"id":1,"name":"A" /* c */ },{"id":2,"name":\'single\'}]}')
    w.put("fuzz_jsonfmt", "page-trailing", b'{"data":[{"id":1,"name":"A",},{"id":2,"n":NaN}]}')
    w.put("fuzz_jsonfmt", "page", b'{"success":true,"data":[{"id":1},2,"x",[3]],"x":{"data":[]}}')
    w.put("fuzz_person", "page-nulldata", b'{"success":true,"data":null}')

    for t in text_seeds(persons + [json.loads(b) for _, b in nasty
                                   if b.startswith(b"{") and _is_json(b)]):
        w.put("fuzz_text", "text", t)

    for tag, b in jsonfmt_seeds(pages, persons, nasty):
        w.put("fuzz_jsonfmt", tag, b)
    write_ratelimit_corpus(w)
    return w.count


def ratelimit_seeds():
    """fuzz_ratelimit inputs: 8 bytes big-endian number (x-ratelimit-reset),
    a flags byte, then a Retry-After value."""
    now = 1790000000
    numbers = [2, 0, -1, -5, now + 3, (now + 3) * 1000, 99999999, 45]
    values = [b"3", b" 3939\r\n", b"999999", b"", b"soon", b"-5", b"1e999",
              b"Sun, 21 Sep 2025 12:00:00 GMT", b"Sunday, 21-Sep-25 12:00:00 GMT",
              b"Sun Sep 21 12:00:00 2025", b"0x10", b"3.5", b"60", b"61"]
    out = []
    for i, v in enumerate(values):
        n = numbers[i % len(numbers)]
        flags = [0, 1, 3, 9, 17, 33, 5][i % 7]
        out.append((f"ra{i}", n.to_bytes(8, "big", signed=True) + bytes([flags]) + v))
    return out


def write_ratelimit_corpus(w):
    for tag, b in ratelimit_seeds():
        w.put("fuzz_ratelimit", tag, b)


def _is_json(b):
    try:
        v = json.loads(b)
        return isinstance(v, dict)
    except ValueError:
        return False


def write_huge(root):
    w = Writer(root)
    mb = 1 << 20
    big_name = ("Ünïcödé 👩🏽‍💻, ; \\ " * (mb // 40))
    persons = [
        ("hugename", {"id": 1, "name": big_name, "first_name": big_name[:mb // 4]}),
        ("hugenotes", {"id": 2, "name": "N", "notes": "line\r\n\ttab, ; \\" * (mb // 16)}),
        ("hugeemails", {"id": 3, "name": "", "emails": [
            {"value": f"u{i % 5000}@example.com", "primary": i % 97 == 0,
             "label": ["work", "home", "custom x", ""][i % 4]} for i in range(20000)]}),
        ("hugelabels", {"id": 4, "name": "L", "label_ids": list(range(60000))}),
        ("hugebackslash", {"id": 5, "name": "\\" * (mb // 2), "job_title": ",;" * (mb // 4)}),
        ("hugebadutf8", None),
    ]
    for tag, p in persons:
        if p is None:
            b = b'{"id":6,"name":"' + b"\xff\xe2\x82\xc3" * (mb // 8) + b'"}'
        else:
            b = compact(p)
        w.put("fuzz_vcard", tag, b)
        w.put("fuzz_person", tag, b'{"data":[' + b + b"]}")
        w.put("fuzz_jsonfmt", tag, b)
    many = [dict(BASE, id=i + 1, name=f"P{i}") for i in range(2000)]
    w.put("fuzz_person", "hugepage", compact({"success": True, "data": many}))
    # depth 32 is json-c's limit; deeper input is skipped by the harness
    w.put("fuzz_jsonfmt", "hugedeep", b"[" + b",".join([b"[" * 31 + b'{"k":1}' + b"]" * 31] * 5000) + b"]")
    w.put("fuzz_jsonfmt", "hugestring", b'"' + b"\\\"" * (mb // 2) + b'"')
    w.put("fuzz_text", "hugetext", b"\x01" + b"\xc3\xa9\\,;\r\n\t\x00\xff" * (mb // 12))
    w.put("fuzz_text", "hugeascii", b"\x80" + b"a" * mb)
    return w.count


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("corpus", "huge"):
        print(__doc__, file=sys.stderr)
        return 2
    if sys.argv[1] == "corpus":
        root = sys.argv[2] if len(sys.argv) > 2 else REPO / "tests" / "fuzz" / "corpus"
        counts = write_corpus(root)
    else:
        if len(sys.argv) < 3:
            print(__doc__, file=sys.stderr)
            return 2
        counts = write_huge(sys.argv[2])
    for h in HARNESSES:
        print(f"{h}: {counts.get(h, 0)} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
