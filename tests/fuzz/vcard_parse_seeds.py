#!/usr/bin/env python3
"""Seed corpus of tests/fuzz/fuzz_vcard_parse.c (run by hand; committed).

  vcard_parse_seeds.py [DIR]   (re)write DIR, default
                               tests/fuzz/corpus/fuzz_vcard_parse/

Seeds:
  rendered-3.0-*, rendered-4.0-*  every .vcf of a mount of the fake server
                  (--persons 40 --seed 7: the tricky persons 1-31 and some
                  generated ones), built/pipedrivefs with vcard_version 3.0 / 4.0
  khard-*         khard's rewrite of some of them: `khard edit` with an EDITOR
                  script that changes the first phone number (or adds one),
                  and the khard fixtures of tests/unit/data
  hand-*          hand-made odd cards: folding inside UTF-8, bare LF/CR,
                  escapes, quoted and caret parameters, groups, Apple labels,
                  multiple cards, nesting, 2.1, bounds, NUL and controls
  json-*          edited .json texts for the person_edit_json part

Needs build/pipedrivefs, /dev/fuse, fusermount3 and khard.  File names are
the tag and the content's SHA-1 prefix, as in seeds.py.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOKEN = "seed-token"


def put(out, tag, data):
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    name = f"{tag}-{hashlib.sha1(data).hexdigest()[:10]}"
    (out / name).write_bytes(data)


def wait_for(pred, what, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise SystemExit(f"vcard_parse_seeds: {what} did not happen")


def rendered_cards(work):
    """{version: [card bytes]} from mounts of the fake server."""
    port_file = work / "port"
    server = subprocess.Popen(
        [sys.executable, str(REPO / "tests" / "fake_pipedrive.py"), "--port", "0",
         "--port-file", str(port_file), "--persons", "40", "--seed", "7",
         "--rate-limit", "0", "--quiet", "--token", TOKEN],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cards = {}
    try:
        wait_for(lambda: port_file.exists() and port_file.read_text().strip(), "fake server")
        base = f"http://127.0.0.1:{port_file.read_text().strip()}/api/v2"
        for version in ("3.0", "4.0"):
            mnt = work / f"mnt{version}"
            mnt.mkdir()
            env = dict(os.environ, PIPEDRIVE_API_TOKEN=TOKEN)
            daemon = subprocess.Popen(
                [str(REPO / "build" / "pipedrivefs"), str(mnt), "-f", "-o",
                 f"base_url={base},vcard_version={version}"],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                wait_for(lambda: os.path.ismount(mnt), "mount")
                found = {}
                for owner in sorted((mnt / "by-owner").iterdir()):
                    if owner.is_symlink():
                        continue
                    for f in sorted(owner.glob("*.vcf")):
                        found[f.name] = f.read_bytes()
                cards[version] = [found[k] for k in sorted(found)]
            finally:
                subprocess.run(["fusermount3", "-u", str(mnt)], check=False)
                daemon.wait(timeout=20)
    finally:
        server.terminate()
        server.wait(timeout=20)
    return cards


EDITOR = """#!/bin/sh
# change the first phone number, or add one
if grep -q '^Phone:$' "$1" && grep -A1 '^Phone:$' "$1" | grep -q ':'; then
    awk 'f==0 && /^Phone:$/ {print; getline; sub(/: .*/, ": +1 555 0199"); f=1} {print}' \\
        "$1" > "$1.new" && mv "$1.new" "$1"
else
    sed -i 's/^Phone:.*/Phone:\\n    cell: +1 555 0199/' "$1"
fi
"""


def khard_rewrites(work, cards):
    editor = work / "editor.sh"
    editor.write_text(EDITOR)
    editor.chmod(0o755)
    out = []
    for version, picked in cards.items():
        book = work / f"book{version}"
        book.mkdir()
        conf = work / f"khard{version}.conf"
        conf.write_text(f"[addressbooks]\n[[b]]\npath = {book}\n[general]\n"
                        f"editor = {editor}\nmerge_editor = /bin/false\n"
                        f"[vcard]\npreferred_version = {version}\n")
        for i, card in enumerate(picked):
            (book / f"{i}.vcf").write_bytes(card)
            uid = next(l[4:] for l in card.decode().split("\r\n") if l.startswith("UID:"))
            r = subprocess.run(["khard", "-c", str(conf), "edit", "-a", "b", "uid:" + uid],
                               env=dict(os.environ, EDITOR=str(editor)),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if r.returncode == 0:
                out.append((version, (book / f"{i}.vcf").read_bytes()))
    return out


H3 = "BEGIN:VCARD\r\nVERSION:3.0\r\n"
H4 = "BEGIN:VCARD\r\nVERSION:4.0\r\n"
T = "END:VCARD\r\n"

HAND = {
    "fold-utf8": H3 + "FN:Ren\xe9\r\n Dupont\r\nN:Dupont;Ren\xe9;;;\r\n" + T,
    "bare-lf": "BEGIN:VCARD\nVERSION:4.0\nFN:a\n\tb\nEND:VCARD",
    "bare-cr": "BEGIN:VCARD\rVERSION:3.0\rFN:a\rEND:VCARD\r",
    "escapes": H3 + "FN:a\\,b\\;c\\\\d\\ne\\Nf\\:g\\x\r\nNOTE:\\\r\n" + T,
    "params": H4 + 'item1.TEL;TYPE="work,voice";PREF=1;X-A=^n^^^\':tel:+1\r\n'
                   "item1.X-ABLabel:_$!<Mobile>!$_\r\nFN:x\r\n" + T,
    "bare-types": H3 + "TEL;WORK;VOICE;PREF:123\r\nEMAIL;INTERNET:a@b\r\nFN:x\r\n" + T,
    "impp": H3 + "FN:x\r\nIMPP;X-SERVICE-TYPE=Jabber:xmpp:a%40b\r\nIMPP:matrix:%40x%3Ay\r\n"
                 "IMPP;TYPE=pref:sip:%00%0A\r\n" + T,
    "custom-fields": H4 + "FN:x\r\nitem1.X-PIPEDRIVE-FIELD:B\\, C\\, A\r\nitem1.X-ABLabel:Tags\r\n"
                          "item2.X-PIPEDRIVE-FIELD:9000 usd\r\nitem2.X-ABLabel:Budget\r\n"
                          "item3.X-PIPEDRIVE-FIELD:2025-01-01 - 2025-02-01\r\nitem3.X-ABLabel:Span\r\n"
                          "item4.X-PIPEDRIVE-FIELD:09:30\r\nitem4.X-ABLabel:At\r\n"
                          "item5.X-PIPEDRIVE-FIELD:yes\r\nitem5.X-ABLabel:Flag\r\n"
                          "item6.X-PIPEDRIVE-FIELD:1e3\r\nitem6.X-ABLabel:Score\r\n" + T,
    "adr-org-cat": H3 + "FN:x\r\nORG:Acme;Sales;\r\nADR;TYPE=HOME:1;2;3,4;5;6;7;8;9\r\n"
                        "CATEGORIES:Customer,Hot,,Customer\r\nCATEGORIES:Twin\r\nBDAY:--0229\r\n" + T,
    "two-cards": H3 + "FN:a\r\n" + T + H3 + "FN:b\r\n" + T,
    "nested": H3 + "FN:a\r\n" + H3 + T + T,
    "v21": "BEGIN:VCARD\r\nVERSION:2.1\r\nFN;ENCODING=QUOTED-PRINTABLE:a=\r\nb\r\n" + T,
    "no-version": "BEGIN:VCARD\r\nFN:a\r\n" + T,
    "twice": H3 + "FN:a\r\nFN:b\r\nN:a;;;;\r\nN:b;;;;\r\n" + T,
    "controls": H3 + "FN:a\x01b\r\nNOTE:\x00\r\n" + T,
    "bom": "\ufeff" + H4 + "FN:x\r\nUID:urn:uuid:1\r\nX-PIPEDRIVE-ID:42\r\n" + T,
    "quote-open": H3 + 'TEL;TYPE="work:1\r\n' + T,
    "many-params": H3 + "TEL" + ";TYPE=a" * 40 + ":1\r\n" + T,
}

JSON = {
    "name": '{"id":42,"name":"Ann B"}',
    "readonly": '{"id":43}',
    "custom": '{"custom_fields":{"0000000000000000000000000000000000000000":[]}}',
}


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else \
        REPO / "tests" / "fuzz" / "corpus" / "fuzz_vcard_parse"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    work = Path(tempfile.mkdtemp(prefix="pdfs-vcard-seeds."))
    try:
        cards = rendered_cards(work)
        for version, found in cards.items():
            for card in found:
                put(out, f"rendered-{version}", card)
        picked = {v: c[:8] for v, c in cards.items()}
        for version, card in khard_rewrites(work, picked):
            put(out, f"khard-{version}", card)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    data = REPO / "tests" / "unit" / "data"
    for f in sorted(data.glob("khard-*.vcf")):
        put(out, "khard-fixture", f.read_bytes())
    for tag, text in HAND.items():
        put(out, f"hand-{tag}", text)
    for tag, text in JSON.items():
        put(out, f"json-{tag}", text)
    print(f"vcard_parse_seeds: {len(list(out.iterdir()))} seeds in {out}")


if __name__ == "__main__":
    main()
