"""A Radicale CardDAV server for tests, and the little CardDAV client they need.

    server = RadicaleServer(workdir)     # starts radicale on 127.0.0.1:<free>
    server.url                            # http://127.0.0.1:PORT/
    server.addressbook_url("acme")        # http://127.0.0.1:PORT/<user>/acme/
    server.cards("acme")                  # {href: (etag, vCard text)} over HTTP
    server.writes()                       # PUT/DELETE requests Radicale logged
    server.stop()

Radicale runs with its own config, storage folder and log in `workdir`,
`auth type = none` (any user name and password are accepted; the owner_only
rights then give user USER its own collections), port 0 (Radicale picks a free
port and logs it).  Nothing here is used outside the tests.

The module is not called radicale.py: tests/ is on sys.path during the tests
and would shadow the real `radicale` package.
"""

import base64
import re
import shutil
import subprocess
import time
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

USER = "crm"
PASSWORD = "unused"            # auth type none: Radicale does not check it
START_TIMEOUT = 20.0
_NS = {"D": "DAV:", "C": "urn:ietf:params:xml:ns:carddav"}
_LISTENING = re.compile(r"Listening on '\[?127\.0\.0\.1\]?:(\d+)'")
_QUERY = b"""<?xml version="1.0" encoding="utf-8"?>
<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
  <D:prop><D:getetag/><C:address-data/></D:prop>
</C:addressbook-query>"""


def missing_reason():
    """None if radicale can be run, else why not."""
    if shutil.which("radicale") is None:
        return "radicale is not installed (apt-get install radicale)"
    return None


class RadicaleServer:
    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.storage = self.workdir / "collections"
        self.config_path = self.workdir / "radicale.conf"
        self.log_path = self.workdir / "radicale.log"
        self.config_path.write_text(
            "[server]\nhosts = 127.0.0.1:0\n"
            "[auth]\ntype = none\n"
            "[rights]\ntype = owner_only\n"
            f"[storage]\nfilesystem_folder = {self.storage}\n"
            "[web]\ntype = none\n"
            "[logging]\nlevel = info\nmask_passwords = True\n")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            ["radicale", "--config", str(self.config_path)],
            stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, cwd=str(self.workdir))
        self.port = self._wait_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.user = USER
        self.password = PASSWORD

    def _wait_port(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            m = _LISTENING.search(self.log())
            if m and "Radicale server ready" in self.log():
                return int(m.group(1))
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("radicale did not start:\n" + self.log())

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def addressbook_url(self, name):
        return f"{self.url}{USER}/{name}/"

    def _request(self, method, url, body=None, headers=None):
        auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        h = {"Authorization": "Basic " + auth}
        h.update(headers or {})
        req = urllib.request.Request(url, data=body, method=method, headers=h)
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()

    def cards(self, name):
        """{href: (etag, vCard text)} of address book `name`, fetched with one
        CardDAV addressbook-query REPORT (RFC 6352 8.6)."""
        _, raw = self._request("REPORT", self.addressbook_url(name), _QUERY,
                               {"Depth": "1",
                                "Content-Type": "application/xml"})
        out = {}
        for resp in ET.fromstring(raw).findall("D:response", _NS):
            data = resp.find(".//C:address-data", _NS)
            if data is None or not data.text:
                continue
            href = resp.find("D:href", _NS).text
            etag = resp.find(".//D:getetag", _NS).text
            out[href] = (etag, data.text)
        return out

    def writes(self):
        """How many PUT and DELETE requests Radicale has logged so far."""
        text = self.log()
        return (len(re.findall(r"\] PUT request for ", text))
                + len(re.findall(r"\] DELETE request for ", text)))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if not self._log.closed:
            self._log.close()
