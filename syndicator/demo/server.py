"""A small static web server on loopback for the bundled demo site (and for tests).

It behaves like a plain web server a news site would sit on: directory URLs serve their
`index.html`, strong ETags and Last-Modified with 304 answers, a charset taken from a
`.charset` file next to the pages (so a windows-1251 site can be served as such), and
`robots.txt` when present. Threaded, so concurrent fetches really are concurrent.
"""

from __future__ import annotations

import email.utils
import hashlib
import mimetypes
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

_TYPES = {
    ".html": "text/html",
    ".xml": "application/xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".json": "application/json",
    ".txt": "text/plain",
    ".css": "text/css",
    ".js": "text/javascript",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
}


@dataclass
class SiteServer:
    """Serve `root` on 127.0.0.1; `url` is known once `start()` returns.

    `etags=False` serves without validators (like many dynamic sites). `requests` records
    (method, path, headers) of every request, so tests can assert what a client sent.
    `hook` may answer a request itself: it gets (handler, path) and returns True if it did.
    """

    root: Path
    port: int = 0
    etags: bool = True
    hook: Callable[[BaseHTTPRequestHandler, str], bool] | None = None
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def start(self) -> SiteServer:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the demo prints its own progress."""

            def do_HEAD(self) -> None:
                self._serve(head=True)

            def do_GET(self) -> None:
                self._serve(head=False)

            def _serve(self, *, head: bool) -> None:
                path = unquote(urlsplit(self.path).path)
                site.requests.append((self.command, self.path, dict(self.headers.items())))
                if site.hook is not None and site.hook(self, path):
                    return
                file = site.resolve(path)
                if file is None:
                    self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain", head=head)
                    return
                body = file.read_bytes()
                content_type = _TYPES.get(file.suffix, mimetypes.guess_type(file.name)[0]
                                          or "application/octet-stream")
                charset = site.charset_for(file)
                textual = content_type.startswith("text/") or content_type.endswith(("xml", "json"))
                if textual and charset:
                    content_type += f"; charset={charset}"
                headers: dict[str, str] = {}
                if site.etags:
                    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
                    modified = email.utils.formatdate(file.stat().st_mtime, usegmt=True)
                    headers = {"ETag": etag, "Last-Modified": modified}
                    if self.headers.get("If-None-Match") == etag or (
                        "If-None-Match" not in self.headers
                        and self.headers.get("If-Modified-Since") == modified
                    ):
                        self._send(HTTPStatus.NOT_MODIFIED, b"", None, head=True, extra=headers)
                        return
                self._send(HTTPStatus.OK, body, content_type, head=head, extra=headers)

            def _send(self, status: HTTPStatus, body: bytes, content_type: str | None, *,
                      head: bool, extra: dict[str, str] | None = None) -> None:
                self.send_response(status)
                if content_type:
                    self.send_header("Content-Type", content_type)
                if status != HTTPStatus.NOT_MODIFIED:
                    self.send_header("Content-Length", str(len(body)))
                for key, value in (extra or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                if not head and status != HTTPStatus.NOT_MODIFIED:
                    self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        # A short poll interval makes stop() quick (tests start and stop many servers).
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True,
                                        name="site-server")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def resolve(self, path: str) -> Path | None:
        """Map a URL path to a file under root (directory → index.html); None if absent."""
        root = self.root.resolve()
        target = (root / path.lstrip("/")).resolve()
        if root != target and root not in target.parents:
            return None
        if target.is_dir():
            target = target / "index.html"
        return target if target.is_file() else None

    def charset_for(self, file: Path) -> str | None:
        """The charset to declare: a `.charset` file in the page's folder or above, else utf-8.

        A `.charset` file containing `none` declares no charset in the header at all, so a
        client has to look at `<meta charset>` or detect it.
        """
        root = self.root.resolve()
        folder = file.parent
        while True:
            marker = folder / ".charset"
            if marker.is_file():
                value = marker.read_text().strip()
                return None if value == "none" else value
            if folder == root or root not in folder.parents:
                return "utf-8"
            folder = folder.parent
