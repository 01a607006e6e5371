"""Static web servers on loopback for the benchmarks: nginx, or a threaded Python fallback.

    with serve([Vhost(root, etags=True), Vhost(root, etags=False)]) as servers:
        servers.urls            # one base URL per vhost, e.g. "http://127.0.0.1:41234/"
        mark = servers.mark()
        ...                     # traffic
        servers.traffic(mark)   # Traffic(requests, bytes_sent, statuses) since the mark

nginx comes from Debian's packages (`apt-get install -y nginx wrk`; `ensure_nginx()` tries
that when it is missing and we are root). A vhost without ETags is configured with
`etag off; if_modified_since off;`: it still sends Last-Modified, but answers every request
with the full page, like most dynamic sites. Traffic is read from nginx's access log
(`$bytes_sent` is what went on the wire: headers and body), so every client is metered the
same way. The fallback server logs the same fields itself.
"""

from __future__ import annotations

import email.utils
import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from tests.net_support import free_port
from tests.serve_support import stop_process

NGINX_CANDIDATES = ("/usr/sbin/nginx", "/usr/bin/nginx")
_TYPES = {".html": "text/html; charset=utf-8", ".txt": "text/plain; charset=utf-8",
          ".rss": "application/rss+xml", ".atom": "application/atom+xml",
          ".json": "application/json", ".xml": "application/xml", ".css": "text/css",
          ".js": "text/javascript", ".opml": "text/x-opml"}


@dataclass(frozen=True)
class Vhost:
    root: Path
    etags: bool = True


@dataclass(frozen=True)
class Traffic:
    requests: int
    bytes_sent: int
    statuses: dict[int, int]


@dataclass
class Servers:
    kind: str                           # "nginx" or "python"
    urls: list[str]
    _log: Path | None = None
    _records: list[tuple[int, int]] = field(default_factory=list)

    def mark(self) -> int:
        """A position in the traffic log; `traffic(mark)` counts what came after it."""
        if self._log is not None:
            return self._log.stat().st_size if self._log.exists() else 0
        return len(self._records)

    def traffic(self, mark: int = 0) -> Traffic:
        time.sleep(0.05)            # servers log a request after its response went out
        if self._log is not None:
            with self._log.open("rb") as handle:
                handle.seek(mark)
                records = [_parse_log_line(line) for line in handle if line.strip()]
        else:
            records = self._records[mark:]
        statuses = Counter(status for status, _ in records)
        return Traffic(requests=len(records), bytes_sent=sum(size for _, size in records),
                       statuses=dict(statuses))


def _parse_log_line(line: bytes) -> tuple[int, int]:
    status, size = line.split()[:2]
    return int(status), int(size)


def nginx_binary() -> str | None:
    for candidate in (shutil.which("nginx"), *NGINX_CANDIDATES):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def ensure_tools(*, install: bool = True) -> dict[str, str | None]:
    """Paths of nginx and wrk; installs them from Debian's packages when missing (as root)."""
    have = {"nginx": nginx_binary(), "wrk": shutil.which("wrk")}
    if install and None in have.values() and os.geteuid() == 0 and shutil.which("apt-get"):
        missing = [name for name, path in have.items() if path is None]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], env=env, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        have = {"nginx": nginx_binary(), "wrk": shutil.which("wrk")}
    return have


@contextmanager
def serve(vhosts: Sequence[Vhost], *, prefer: str = "nginx",
          workers: int | str = "auto") -> Iterator[Servers]:
    """Serve each vhost on its own loopback port with nginx (or the Python fallback)."""
    binary = nginx_binary() if prefer == "nginx" else None
    if binary is not None:
        with _nginx(binary, vhosts, workers) as servers:
            yield servers
    else:
        with _python(vhosts) as servers:
            yield servers


# --- nginx -------------------------------------------------------------------------------------

_NGINX_CONF = """
{user}
worker_processes {workers};
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    types {{
        text/html html; text/plain txt; text/css css; text/javascript js;
        application/rss+xml rss; application/atom+xml atom; application/json json;
        application/xml xml; text/x-opml opml; image/jpeg jpg; image/png png;
    }}
    default_type application/octet-stream;
    charset utf-8;
    charset_types text/html text/plain;
    log_format bench '$status $bytes_sent "$request"';
    access_log {tmp}/access.log bench;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    open_file_cache max=10000 inactive=60s;
{servers}
}}
"""

_NGINX_SERVER = """
    server {{
        listen 127.0.0.1:{port} reuseport;
        root {root};
        index index.html;
        {validators}
    }}
"""


@contextmanager
def _nginx(binary: str, vhosts: Sequence[Vhost], workers: int | str) -> Iterator[Servers]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
    tmp.chmod(0o755)
    ports = [free_port() for _ in vhosts]
    blocks = "".join(_NGINX_SERVER.format(
        port=port, root=vhost.root.resolve(),
        validators="etag on;" if vhost.etags else "etag off; if_modified_since off;")
        for port, vhost in zip(ports, vhosts, strict=True))
    conf = tmp / "nginx.conf"
    # Started as root, nginx's workers would run as `nobody` and could not read private
    # folders such as pytest's tmp_path: keep them as the user who started the benchmark.
    user = "user root;" if os.geteuid() == 0 else ""
    conf.write_text(_NGINX_CONF.format(user=user, workers=workers, tmp=tmp, servers=blocks))
    process = subprocess.Popen([binary, "-c", str(conf), "-p", str(tmp), "-e",
                                str(tmp / "error.log")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for port in ports:
            _wait_for_port(port, process)
        yield Servers(kind="nginx", urls=[f"http://127.0.0.1:{p}/" for p in ports],
                      _log=tmp / "access.log")
    finally:
        stop_process(process)
        shutil.rmtree(tmp, ignore_errors=True)


def _wait_for_port(port: int, process: subprocess.Popen[bytes] | None = None,
                   timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            err = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"server exited with {process.returncode}: {err}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on port {port} after {timeout}s")


# --- the Python fallback -----------------------------------------------------------------------

@contextmanager
def _python(vhosts: Sequence[Vhost]) -> Iterator[Servers]:
    records: list[tuple[int, int]] = []
    lock = threading.Lock()
    servers: list[ThreadingHTTPServer] = []
    for vhost in vhosts:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(vhost, records, lock))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        servers.append(server)
    try:
        yield Servers(kind="python",
                      urls=[f"http://127.0.0.1:{s.server_address[1]}/" for s in servers],
                      _records=records)
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def _handler(vhost: Vhost, records: list[tuple[int, int]],
             lock: threading.Lock) -> type[BaseHTTPRequestHandler]:
    root = vhost.root.resolve()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: traffic is recorded in `records`."""

        def do_GET(self) -> None:
            path = unquote(urlsplit(self.path).path)
            target = (root / path.lstrip("/")).resolve()
            if target.is_dir():
                target = target / "index.html"
            if root not in target.parents or not target.is_file():
                self._answer(404, b"not found\n", {"Content-Type": "text/plain"})
                return
            body = target.read_bytes()
            modified = email.utils.formatdate(target.stat().st_mtime, usegmt=True)
            headers = {"Content-Type": _TYPES.get(target.suffix, "application/octet-stream"),
                       "Last-Modified": modified}
            if vhost.etags:
                etag = '"' + hashlib.md5(body).hexdigest()[:16] + '"'
                headers["ETag"] = etag
                if self.headers.get("If-None-Match") == etag or (
                        "If-None-Match" not in self.headers
                        and self.headers.get("If-Modified-Since") == modified):
                    self._answer(304, b"", headers)
                    return
            self._answer(200, body, headers)

        def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            head_size = sum(len(k) + len(v) + 4 for k, v in headers.items()) + 60
            if status != 304:
                self.wfile.write(body)
            with lock:
                records.append((status, head_size + (len(body) if status != 304 else 0)))

    return Handler
