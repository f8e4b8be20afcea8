#!/usr/bin/env python3
"""hostile_server.py -- a small, stdlib-only Pipedrive lookalike that misbehaves.

The fake server (fake_pipedrive.py) behaves like the real API.  This one does
not: it answers the start-up requests of pipedrivefs minimally and then
misbehaves on ``GET /api/v2/persons`` in the way --mode chooses, so the mount
tests can show that a buggy or hostile server never hurts the mount.

Command line
============
  python3 tests/hostile_server.py --mode MODE [options]

  --host H            bind address (default 127.0.0.1; loopback only)
  --port P            port, 0 = pick a free one (default 0)
  --port-file PATH    write the bound port ("1234\\n") atomically once listening
  --token T           accepted x-api-token (default "test-token"); anything
                      else gets the API's 401
  --mode MODE         how /api/v2/persons misbehaves (default normal):
      normal          one page with --persons persons (ids 1..N), no cursor
      cycle           cursors cycle A, B, A, ...: the first page (no cursor)
                      says next A, A says next B, B says next A; every page
                      brings 3 new ids
      same-ids        endless distinct cursors (c1, c2, ...), every page the
                      same ids 1..3
      empty-pages     endless distinct cursors, every page empty
      backwards       endless distinct cursors, ids that go down page by page
                      (a sort_by=id asc walk that never advances)
      endless         endless distinct cursors, 3 new ids on every page
      long-cursor     the first page's next cursor is --cursor-bytes long
      huge-body       the first page's body is --body-mb MB of JSON (one
                      person whose name never ends), streamed
      stall           the connection is held open without a byte for
                      --stall-seconds, then answered as in "normal" mode
      big-persons     owner 1's page holds the persons of --big (sizes in
                      MB) as ids 1, 2, ...; every other query gets one small
                      person of that owner (ids 1000 + owner)
  --persons N         persons in "normal" mode (default 3)
  --body-mb MB        size of the huge body (default 600)
  --cursor-bytes N    length of the long cursor (default 100000)
  --stall-seconds S   how long "stall" holds each request (default 3600)
  --big MB[,MB...]    sizes of the big persons (default 30)

Routes
======
  GET /api/v1/users/me        user 1 of company "hostile"
  GET /api/v2/personFields    no fields, one page
  GET /api/v1/users           users 1..3
  GET /api/v1/filters         no filters
  GET /api/v2/organizations   no organizations, one page
  GET /api/v2/persons         as --mode says; ids= queries (by-id lookups)
                              get the persons of those ids that exist in
                              "normal" and "big-persons" modes
  GET /_stats                 {"requests": [{"path", "query", "t"}, ...]}
                              (no auth; not recorded)
  anything else               404

The JSON of a big person is ``big_person(i, mb)`` below, so a test can build
the exact object the server sends.  Prints ``listening on HOST:PORT`` to
stderr; SIGTERM / SIGINT exit at once.
"""

import argparse
import json
import os
import signal
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

MODES = ("normal", "cycle", "same-ids", "empty-pages", "backwards", "endless",
         "long-cursor", "huge-body", "stall", "big-persons")
UPDATE_TIME = "2025-01-02T03:04:05Z"


def person(i, owner=1, **extra):
    p = {"id": i, "name": "Person %d" % i, "first_name": "Person",
         "last_name": str(i), "owner_id": owner, "org_id": None,
         "update_time": UPDATE_TIME, "emails": [], "phones": [],
         "is_deleted": False}
    p.update(extra)
    return p


def big_person(i, mb):
    """A person of about `mb` MB of JSON: half one long note, half phone
    objects (so its pretty form is longer than its compact one)."""
    size = int(mb * 1000 * 1000)
    unit = "Grüße aus Köln, 東京 und \"Zürich\"\\ "
    note = unit * (size // 2 // len(unit.encode()) + 1)
    label = "Büro " * 40
    phones = [{"value": "+49 30 %07d" % k, "primary": k == 0, "label": label}
              for k in range(size // 2 // 250)]
    return person(i, notes=note, phones=phones)


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def page_body(items, next_cursor):
    return dumps({"success": True, "data": items,
                  "additional_data": {"next_cursor": next_cursor}})


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.requests = []
        self.counter = 0
        self.big = [float(x) for x in args.big.split(",") if x]
        self.big_cache = {}

    def record(self, path, query):
        with self.lock:
            self.requests.append({"path": path, "query": query,
                                  "t": time.time()})

    def next_number(self):
        with self.lock:
            self.counter += 1
            return self.counter

    def big_text(self, i):
        with self.lock:
            if i not in self.big_cache:
                self.big_cache[i] = dumps(big_person(i, self.big[i - 1]))
            return self.big_cache[i]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hostile/1"

    def log_message(self, fmt, *args):
        pass

    @property
    def state(self):
        return self.server.state

    def send_json(self, status, text):
        body = text.encode() if isinstance(text, str) else text
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        if url.path == "/_stats":
            with self.state.lock:
                text = json.dumps({"requests": list(self.state.requests)})
            self.send_json(200, text)
            return
        self.state.record(url.path, query)
        if self.headers.get("x-api-token") != self.state.args.token:
            self.send_json(401, dumps({"success": False,
                                       "error": "unauthorized access",
                                       "errorCode": 401}))
            return
        routes = {
            "/api/v1/users/me": lambda: dumps({"success": True, "data": {
                "id": 1, "name": "Hostile One", "company_domain": "hostile"}}),
            "/api/v2/personFields": lambda: page_body([], None),
            "/api/v1/users": lambda: dumps({"success": True, "data": [
                {"id": k, "name": "Owner %d" % k, "active_flag": True}
                for k in (1, 2, 3)]}),
            "/api/v1/filters": lambda: dumps({"success": True, "data": []}),
            "/api/v2/organizations": lambda: page_body([], None),
        }
        if url.path in routes:
            self.send_json(200, routes[url.path]())
        elif url.path == "/api/v2/persons":
            self.persons(query)
        else:
            self.send_json(404, dumps({"success": False, "error": "not found"}))

    # ---- /api/v2/persons ---------------------------------------------------
    def persons(self, q):
        mode = self.state.args.mode
        cursor = q.get("cursor")
        if "ids" in q:
            self.by_ids(q["ids"])
            return
        if mode == "normal":
            n = self.state.args.persons
            self.send_json(200, page_body([person(i) for i in range(1, n + 1)],
                                          None))
        elif mode == "cycle":
            nxt = {None: "A", "A": "B", "B": "A"}.get(cursor, "A")
            base = self.state.next_number() * 3
            self.send_json(200, page_body(
                [person(base + k) for k in range(3)], nxt))
        elif mode in ("same-ids", "empty-pages", "backwards", "endless"):
            n = self.state.next_number()
            if mode == "same-ids":
                items = [person(k) for k in (1, 2, 3)]
            elif mode == "empty-pages":
                items = []
            elif mode == "backwards":
                top = 1000000 - 3 * n
                items = [person(top + k) for k in range(3)]
            else:
                items = [person(3 * n + k) for k in range(3)]
            self.send_json(200, page_body(items, "c%d" % n))
        elif mode == "long-cursor":
            if cursor:
                self.send_json(200, page_body([], None))
            else:
                self.send_json(200, page_body(
                    [person(1)], "x" * self.state.args.cursor_bytes))
        elif mode == "huge-body":
            self.huge_body()
        elif mode == "stall":
            time.sleep(self.state.args.stall_seconds)
            n = self.state.args.persons
            self.send_json(200, page_body([person(i) for i in range(1, n + 1)],
                                          None))
        elif mode == "big-persons":
            owner = int(q.get("owner_id", "0") or 0)
            if owner == 1:
                texts = [self.state.big_text(i)
                         for i in range(1, len(self.state.big) + 1)]
                body = ('{"success":true,"data":[' + ",".join(texts)
                        + '],"additional_data":{"next_cursor":null}}')
                self.send_json(200, body)
            else:
                self.send_json(200, page_body(
                    [person(1000 + owner, owner=owner)], None))

    def by_ids(self, ids_text):
        ids = [int(x) for x in ids_text.split(",") if x.isdigit()]
        mode = self.state.args.mode
        texts = []
        for i in ids:
            if mode == "normal" and 1 <= i <= self.state.args.persons:
                texts.append(dumps(person(i)))
            elif mode == "big-persons" and 1 <= i <= len(self.state.big):
                texts.append(self.state.big_text(i))
        self.send_json(200, '{"success":true,"data":[' + ",".join(texts)
                       + '],"additional_data":{"next_cursor":null}}')

    def huge_body(self):
        size = int(self.state.args.body_mb * 1000 * 1000)
        head = b'{"success":true,"data":[{"id":1,"owner_id":1,"name":"'
        tail = b'"}],"additional_data":{"next_cursor":null}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        chunk = b"x" * (1 << 20)
        left = size - len(head) - len(tail)
        try:
            self.wfile.write(head)
            while left > 0:
                n = min(left, len(chunk))
                self.wfile.write(chunk[:n])
                left -= n
            self.wfile.write(tail)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should
        self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def write_port_file(path, port):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)))
    with os.fdopen(fd, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, path)


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--token", default="test-token")
    ap.add_argument("--mode", choices=MODES, default="normal")
    ap.add_argument("--persons", type=int, default=3)
    ap.add_argument("--body-mb", type=float, default=600)
    ap.add_argument("--cursor-bytes", type=int, default=100000)
    ap.add_argument("--stall-seconds", type=float, default=3600)
    ap.add_argument("--big", default="30")
    args = ap.parse_args(argv)
    if args.host not in ("127.0.0.1", "::1", "localhost"):
        ap.error("--host must be a loopback address")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    srv = Server((args.host, args.port), Handler)
    srv.state = State(args)
    port = srv.server_address[1]

    def stop(signum, frame):
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.port_file:
        write_port_file(args.port_file, port)
    print("listening on %s:%d" % (args.host, port), file=sys.stderr, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
