"""tls.py -- the transport around the daemon in mount tests: certificates,
an nginx TLS front, and a recording HTTP proxy.

make_pki(directory)  makes, with openssl, a CA ("ca.pem") and a server
    certificate it signed ("server.pem"/"server.key", SAN IP:127.0.0.1 and
    DNS:localhost), plus a second, unrelated CA and a server certificate
    signed by it ("rogue.pem"/"rogue.key"), which the first CA must refuse.
    Returns a dict of the paths.

Nginx(directory, upstream_port, pki)  runs Debian's nginx as a child process
    (daemon off, master_process off, its own prefix, config, pid, error and
    access logs in `directory`), listening only on 127.0.0.1:
      .port        TLS with the good certificate, HTTP/2 and gzip on,
                   proxying everything to http://127.0.0.1:<upstream_port>
      .rogue_port  the same, with the certificate the CA did not sign
    .base_url(port=None) is "https://127.0.0.1:PORT/api/v2"; .access_log()
    the parsed access log lines (protocol, gzip ratio, ...); .stop() ends it
    (idempotent).  Raises RuntimeError with nginx's error log if it cannot
    start.

RecordingProxy()  an HTTP proxy on 127.0.0.1 (a thread) that records every
    byte clients send it.  CONNECT host:port is tunnelled (only to
    127.0.0.1); any other request is answered 502 after being recorded.
    .url, .connections (how many), .connects (the CONNECT targets),
    .received() (all bytes clients sent, tunnelled ones included),
    .stop().

No test logic here: tests/mount/test_transport.py uses it.
"""

import select
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"

LOG_FORMAT = ("'$request_method $uri $status $server_protocol "
              "gzip=$gzip_ratio bytes=$body_bytes_sent ssl=$ssl_protocol'")


def _openssl(*args, cwd):
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _make_ca(d, name, cn):
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
             "-subj", f"/CN={cn}", "-keyout", f"{name}-ca.key",
             "-out", f"{name}-ca.pem",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)


def _make_server_cert(d, ca, name):
    (d / f"{name}.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "basicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n")
    _openssl("req", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-subj",
             "/CN=127.0.0.1", "-keyout", f"{name}.key", "-out",
             f"{name}.csr", cwd=d)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}-ca.pem",
             "-CAkey", f"{ca}-ca.key", "-CAcreateserial", "-days", "2",
             "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=d)


def make_pki(directory):
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    _make_ca(d, "test", "pipedrivefs test CA")
    _make_server_cert(d, "test", "server")
    _make_ca(d, "other", "some other CA")
    _make_server_cert(d, "other", "rogue")
    shutil.copy(d / "test-ca.pem", d / "ca.pem")
    return {"ca": d / "ca.pem", "cert": d / "server.pem",
            "key": d / "server.key", "rogue_cert": d / "rogue.pem",
            "rogue_key": d / "rogue.key"}


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_block(port, cert, key, upstream_port):
    return f"""
    server {{
        listen 127.0.0.1:{port} ssl http2;
        server_name localhost;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        gzip on;
        gzip_proxied any;
        gzip_min_length 20;
        gzip_types application/json text/html;
        location / {{
            proxy_pass http://127.0.0.1:{upstream_port};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_read_timeout 120s;
        }}
    }}"""


class Nginx:
    START_TIMEOUT = 10.0

    def __init__(self, directory, upstream_port, pki):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "logs").mkdir(exist_ok=True)
        self.access_path = self.dir / "logs" / "access.log"
        self.error_path = self.dir / "logs" / "error.log"
        self.proc = None
        for _attempt in range(3):      # a free port may be taken meanwhile
            self.port, self.rogue_port = _free_port(), _free_port()
            if self.port == self.rogue_port:
                continue
            self._write_config(upstream_port, pki)
            if self._start():
                return
        raise RuntimeError("nginx did not start:\n" + self.error_log())

    def _write_config(self, upstream_port, pki):
        d = self.dir
        conf = f"""
daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {self.error_path} info;
events {{ worker_connections 256; }}
http {{
    log_format pdfs {LOG_FORMAT};
    access_log {self.access_path} pdfs;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    keepalive_requests 100000;
    {_server_block(self.port, pki["cert"], pki["key"], upstream_port)}
    {_server_block(self.rogue_port, pki["rogue_cert"], pki["rogue_key"],
                   upstream_port)}
}}
"""
        self.conf = d / "nginx.conf"
        self.conf.write_text(conf)

    def _start(self):
        self._out = open(self.dir / "nginx.out", "ab")
        self.proc = subprocess.Popen(
            [NGINX, "-p", str(self.dir), "-c", str(self.conf), "-e",
             str(self.error_path)],
            stdin=subprocess.DEVNULL, stdout=self._out, stderr=self._out)
        deadline = time.monotonic() + self.START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._out.close()
                return False
            if self._listening(self.port) and self._listening(self.rogue_port):
                return True
            time.sleep(0.05)
        self.stop()
        return False

    @staticmethod
    def _listening(port):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return False

    def base_url(self, port=None):
        return f"https://127.0.0.1:{port or self.port}/api/v2"

    def error_log(self):
        text = ""
        for p in (self.error_path, self.dir / "nginx.out"):
            try:
                text += p.read_text(errors="replace")
            except FileNotFoundError:
                pass
        return text

    def access_log(self):
        """[{"method","uri","status","protocol","gzip","bytes","ssl"}]"""
        out = []
        try:
            lines = self.access_path.read_text().splitlines()
        except FileNotFoundError:
            return out
        for line in lines:
            parts = line.split()
            if len(parts) < 7:
                continue
            out.append({"method": parts[0], "uri": parts[1],
                        "status": int(parts[2]), "protocol": parts[3],
                        "gzip": parts[4].split("=", 1)[1],
                        "bytes": int(parts[5].split("=", 1)[1]),
                        "ssl": parts[6].split("=", 1)[1]})
        return out

    def clear_access_log(self):
        # nginx keeps the file open (O_APPEND): truncating it is enough
        with open(self.access_path, "w"):
            pass

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if not self._out.closed:
            self._out.close()
        self.proc = None


class RecordingProxy:
    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.lock = threading.Lock()
        self.data = bytearray()
        self.connections = 0
        self.connects = []
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def received(self):
        with self.lock:
            return bytes(self.data)

    def _record(self, chunk):
        with self.lock:
            self.data += chunk

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,),
                             daemon=True).start()

    def _serve(self, conn):
        try:
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                head += chunk
                self._record(chunk)
            first = head.split(b"\r\n", 1)[0].split()
            if len(first) >= 2 and first[0] == b"CONNECT":
                self._tunnel(conn, first[1].decode(errors="replace"),
                             head.split(b"\r\n\r\n", 1)[1])
            else:
                conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\n"
                             b"Content-Length: 0\r\nConnection: close\r\n\r\n")
        except OSError:
            pass
        finally:
            conn.close()

    def _tunnel(self, conn, target, rest):
        with self.lock:
            self.connects.append(target)
        host, _, port = target.rpartition(":")
        if host not in ("127.0.0.1", "localhost"):
            conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        up = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
        try:
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if rest:
                up.sendall(rest)
            pair = {conn: up, up: conn}
            while not self.stopping:
                ready, _, _ = select.select(list(pair), [], [], 0.5)
                for s in ready:
                    chunk = s.recv(65536)
                    if not chunk:
                        return
                    if s is conn:
                        self._record(chunk)
                    pair[s].sendall(chunk)
        finally:
            up.close()

    def stop(self):
        self.stopping = True
        try:
            self.sock.close()
        except OSError:
            pass
        self.thread.join(5)
