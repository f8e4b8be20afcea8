#!/usr/bin/python3
"""rawfetch.py -- the floor for a cold listing: the same persons pages the
daemon needs, fetched by a minimal keep-alive HTTP client.

One http.client connection, walks
  /api/v2/persons?owner_id=O&sort_by=id&sort_direction=asc&limit=500[&cursor=C]
by cursor, reads and json-parses every page.  Sends Accept-Encoding: gzip (and
decompresses) when --gzip is given, like the daemon does.

usage: rawfetch.py --port P [--host H] [--owner O] [--token T] [--gzip] [--reps R]
prints one line per repetition: "<seconds> <pages> <persons> <body bytes>"

With --loads, the pages are fetched once and kept, then json.loads parses
all of them again, three times, timed with time.process_time: the yardstick
for the daemon's CPU per person.  Prints "loads <best pass s> <persons>
<body bytes>" (each page's result is dropped before the next, so the
passes reuse Python's memory).
"""
import argparse
import gzip
import http.client
import json
import sys
import time
from urllib.parse import quote


def walk(conn, owner, token, use_gzip, keep=None):
    headers = {"x-api-token": token, "Accept": "application/json"}
    if use_gzip:
        headers["Accept-Encoding"] = "gzip"
    cursor = None
    pages = persons = nbytes = 0
    while True:
        path = ("/api/v2/persons?owner_id=%d&sort_by=id&sort_direction=asc"
                "&limit=500" % owner)
        if cursor:
            path += "&cursor=" + quote(cursor, safe="")
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise SystemExit("HTTP %d: %r" % (resp.status, body[:200]))
        nbytes += len(body)
        if resp.getheader("Content-Encoding", "") == "gzip":
            body = gzip.decompress(body)
        doc = json.loads(body)
        if keep is not None:
            keep.append(body)
        pages += 1
        persons += len(doc.get("data") or [])
        cursor = (doc.get("additional_data") or {}).get("next_cursor")
        if not cursor:
            return pages, persons, nbytes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--owner", type=int, default=1)
    ap.add_argument("--token", default="test-token")
    ap.add_argument("--gzip", action="store_true")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--loads", action="store_true")
    a = ap.parse_args()
    if a.loads:
        bodies = []
        conn = http.client.HTTPConnection(a.host, a.port, timeout=120)
        pages, persons, nbytes = walk(conn, a.owner, a.token, False, bodies)
        conn.close()
        passes = []
        for _ in range(3):
            t0 = time.process_time()
            for b in bodies:
                json.loads(b)
            passes.append(time.process_time() - t0)
        print("loads %.6f %d %d" % (min(passes), persons, nbytes))
        return 0
    for _ in range(a.reps):
        t0 = time.monotonic()
        conn = http.client.HTTPConnection(a.host, a.port, timeout=120)
        pages, persons, nbytes = walk(conn, a.owner, a.token, a.gzip)
        conn.close()
        print("%.6f %d %d %d" % (time.monotonic() - t0, pages, persons, nbytes),
              flush=True)


if __name__ == "__main__":
    sys.exit(main())
