"""Shared pieces of the sign-up tests: a config with one email target (no site to fetch),
the real web app served on loopback, raw HTTP, and SMTP servers that misbehave."""

from __future__ import annotations

import http.client
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from push_support import AsgiServer, _Handler, email, with_targets

from syndicator.app import App
from syndicator.config import Config, load_config
from syndicator.demo import demo_config_path
from tests.net_support import free_port

BASE = "https://feeds.example.org/"


def make_config(folder: Path, smtp: dict[str, Any], **target: Any) -> Config:
    """The demo config (never fetched here) with one email target `mail` and a secret."""
    base = load_config(demo_config_path(), env={"SYNDICATOR_DEMO_URL": "http://127.0.0.1:9/"})
    base = base.model_copy(update={"base_dir": folder})
    config = with_targets(base, email("mail", smtp=smtp, **target),
                          storage=f"sqlite:///{folder / 'store.db'}")
    return config.model_copy(update={"site": config.site.model_copy(update={"base_url": BASE})})


@contextmanager
def serve(app: App) -> Iterator[AsgiServer]:
    """The real web app (feeds, health, embeds and subscribe forms) on a loopback port."""
    from syndicator.serving import partner_routes
    from syndicator.status import ServiceStatus
    from syndicator.web.app import create_web_app
    from syndicator.web.cache import FeedCache
    from syndicator.web.context import WebContext

    app.config.output_path.mkdir(parents=True, exist_ok=True)
    ctx = WebContext(config=app.config, store=app.store,
                     cache=FeedCache(app.config.output_path),
                     status=ServiceStatus(app.config, app.store))
    with AsgiServer(create_web_app(ctx, extra_routes=partner_routes(ctx))) as server:
        yield server


# An SMTP server nobody listens on: for tests that send no mail.
NO_SMTP = {"host": "127.0.0.1", "port": 9, "security": "none", "timeout": 5}


def subscribed(app: App, address: str, *, languages: tuple[str, ...] = (),
               rhythm: str | None = None, target: str = "mail") -> str:
    """`address` confirmed on the list with this choice; the path of its preferences
    link."""
    from urllib.parse import urlsplit

    from syndicator.push.subscribers import preferences_url

    app.store.set_subscriber(target, address, "confirmed", app.clock(), languages=languages,
                             rhythm=rhythm)
    return urlsplit(preferences_url(app.config, target, address, app.clock())).path


def confirm(port: int, path: str) -> tuple[int, str]:
    """Open a confirmation link and press its page's button, as a reader does."""
    status, page = get(port, path)
    assert status == 200 and 'form method="post"' in page, (status, page)
    status, _headers, answer = post_form(port, path, {})
    return status, answer


def form_token(html: str) -> str:
    found = re.search(r'name="form_token" value="([^"]+)"', html)
    assert found is not None, "no form token in the page"
    return found.group(1)


def post_form(port: int, path: str, fields: dict[str, str], *, source: str = "127.0.0.1",
              headers: dict[str, str] | None = None,
              repeated: dict[str, list[str]] | None = None
              ) -> tuple[int, dict[str, str], str]:
    """POST a urlencoded form from a chosen loopback address; (status, headers, body).
    `repeated`: fields sent once per value, as a form's checked boxes are."""
    from urllib.parse import urlencode

    pairs = [*fields.items(), *((name, value) for name, values in (repeated or {}).items()
                                for value in values)]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20,
                                      source_address=(source, 0))
    try:
        conn.request("POST", path, body=urlencode(pairs).encode("utf-8"), headers={
            "Content-Type": "application/x-www-form-urlencoded", **(headers or {})})
        answer = conn.getresponse()
        return (answer.status, {k.lower(): v for k, v in answer.getheaders()},
                answer.read().decode("utf-8"))
    finally:
        conn.close()


def get(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request("GET", path)
        answer = conn.getresponse()
        return answer.status, answer.read().decode("utf-8")
    finally:
        conn.close()


class SilentSmtp:
    """`with SilentSmtp() as port:` a TCP server that accepts and never says a word."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(128)
        self.port = int(self._sock.getsockname()[1])
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        self._sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._held.append(conn)

    def __enter__(self) -> SilentSmtp:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for conn in self._held:
            conn.close()
        self._sock.close()

    @property
    def connections(self) -> int:
        return len(self._held)


class Utf8SmtpServer:
    """aiosmtpd offering SMTPUTF8 (or not), recording what it accepts (push_support's
    handler: `received`, `refuse`)."""

    def __init__(self, *, smtputf8: bool) -> None:
        self.handler = _Handler()
        self.port = free_port()
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port,
                                      enable_SMTPUTF8=smtputf8)

    def __enter__(self) -> Utf8SmtpServer:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()

    def smtp_config(self) -> dict[str, Any]:
        return {"host": "127.0.0.1", "port": self.port, "security": "none", "timeout": 5}
