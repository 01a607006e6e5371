"""Browser fixtures: the real service on uvicorn, a partner site on another port, Chromium.

The service side is the real pipeline run over the bundled demo site into a tmp SQLite
store, the real build, and the real Starlette app on a real loopback port. The partner
site is a plain static server on another port (so another origin). Chromium is Debian's
package, driven by Playwright; no browser is ever downloaded. Every request the browser
makes is recorded, and anything not addressed to loopback is aborted before it leaves.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
from aiosmtpd.controller import Controller
from starlette.applications import Starlette

from syndicator.app import App, make_app
from syndicator.cli import build_and_report, run_sources
from syndicator.config import Config, EmailTarget, load_config
from syndicator.demo import demo_config_path, demo_site_root
from syndicator.demo.server import SiteServer
from syndicator.web.cache import FeedCache
from syndicator.web.embed import embed_routes
from tests.net_support import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
EMAIL_TARGET = "office-email"
EMAIL_TARGET_ALL = "office-email-all"    # a list in several languages
SECRET = "browser-test-secret"


# --- the browser ------------------------------------------------------------------------------

def _require_browser() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("SYNDICATOR_REQUIRE_BROWSER"):
        pytest.fail(f"{CHROMIUM} is missing but SYNDICATOR_REQUIRE_BROWSER is set "
                    "(apt-get install chromium)")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                              args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Recorder:
    """What one page did: every request URL, console errors, dialogs, uncaught errors."""

    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def hosts(self) -> set[str]:
        return {urlsplit(url).netloc for url in self.requests if url.startswith("http")}

    def to(self, fragment: str) -> list[str]:
        return [url for url in self.requests if fragment in url]


@pytest.fixture
def page(browser: Any) -> Iterator[tuple[Any, Recorder]]:
    """A fresh context (Minsk time, like the office) and page, with everything recorded."""
    context = browser.new_context(timezone_id="Europe/Minsk", locale="en-US",
                                  viewport={"width": 900, "height": 900})
    record = Recorder()

    def guard(route: Any) -> None:
        # Nothing leaves the machine: a request to any non-loopback host is aborted.
        host = urlsplit(route.request.url).hostname or ""
        if route.request.url.startswith("http") and host not in ("127.0.0.1", "localhost"):
            record.blocked.append(route.request.url)
            route.abort()
        else:
            route.fallback()

    context.route("**/*", guard)
    context.on("request", lambda request: record.requests.append(request.url))
    new_page = context.new_page()
    new_page.on("console", lambda msg: msg.type == "error" and record.console_errors.append(
        f"{msg.text} @ {msg.location}"))
    new_page.on("pageerror", lambda error: record.page_errors.append(str(error)))

    def on_dialog(dialog: Any) -> None:
        record.dialogs.append(dialog.message)
        dialog.dismiss()

    new_page.on("dialog", on_dialog)
    try:
        yield new_page, record
    finally:
        context.close()


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as a test artifact (test-artifacts/ is gitignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# --- the service ------------------------------------------------------------------------------

class Mailbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 OK"


@dataclass
class Service:
    url: str
    app: App
    config: Config
    site: SiteServer
    mailbox: Mailbox


def _web_app(app: App, cache: FeedCache) -> Starlette:
    """The real web app with the embed routes mounted."""
    from syndicator.status import ServiceStatus
    from syndicator.web.app import create_web_app
    from syndicator.web.context import WebContext

    ctx = WebContext(config=app.config, store=app.store, cache=cache,
                     status=ServiceStatus(app.config, app.store))
    return create_web_app(ctx, extra_routes=embed_routes(ctx))


class _Uvicorn:
    """uvicorn serving `app` on an already bound socket, in a thread."""

    def __init__(self, app: Starlette, sock: socket.socket) -> None:
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]},
                                       daemon=True, name="uvicorn")

    def __enter__(self) -> _Uvicorn:
        self.thread.start()
        ready = threading.Event()
        while not self.server.started and self.thread.is_alive():
            ready.wait(0.01)
        if not self.server.started:
            raise RuntimeError("uvicorn did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join()


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The demo site fetched by the real pipeline, built, and served on a real port."""
    tmp = tmp_path_factory.mktemp("service")
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    try:
        with SiteServer(demo_site_root()) as site:
            config = load_config(demo_config_path(), env={"SYNDICATOR_DEMO_URL": site.url})
            targets = tuple(EmailTarget.model_validate({
                "id": target_id, "type": "email", "feeds": feeds,
                "smtp": {"host": "127.0.0.1", "port": smtp.port, "security": "none"},
                "from": "news@office.example",
                "signups": {"per_ip": 1000},     # every test signs up from 127.0.0.1
            }) for target_id, feeds in [(EMAIL_TARGET, ["office-be"]),
                                        (EMAIL_TARGET_ALL, ["office-be", "office-all"])])
            config = config.model_copy(update={
                "base_dir": tmp, "secret_key": SECRET, "push": targets,
                "site": config.site.model_copy(update={"base_url": url}),
            })
            with make_app(config) as app:
                run_sources(app, [s.id for s in config.sources], echo=lambda line: None)
                build_and_report(app, echo=lambda line: None)
                cache = FeedCache(config.output_path)
                cache.load_all()
                with _Uvicorn(_web_app(app, cache), sock):
                    yield Service(url, app, config, site, mailbox)
    finally:
        sock.close()
        smtp.stop()


@pytest.fixture(scope="session")
def partner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Partner]:
    """A partner organisation's site: static pages on another port, so another origin."""
    root = tmp_path_factory.mktemp("partner")
    with SiteServer(root) as server:
        yield Partner(root, server)


@dataclass
class Partner:
    root: Path
    server: SiteServer

    @property
    def url(self) -> str:
        return self.server.url

    def page(self, name: str, body: str, *, head: str = "") -> str:
        """Write a partner page around `body`; return its URL."""
        (self.root / name).write_text(PARTNER_PAGE.format(head=head, body=body),
                                      encoding="utf-8")
        return self.server.url + name


# The partner's own styles are deliberately loud: they must not reach the widget.
PARTNER_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Partner organisation</title>
<link rel="icon" href="data:,">
<style>
body {{ font-family: "Comic Sans MS", cursive; letter-spacing: 3px; margin: 24px; }}
li {{ color: rgb(255, 0, 0); font-size: 30px; list-style-type: square; }}
a {{ color: rgb(255, 0, 0); text-transform: uppercase; }}
time, p {{ color: rgb(255, 0, 0); }}
img {{ border: 5px solid rgb(255, 0, 0); }}
</style>
{head}
</head>
<body>
<h1>Partner organisation</h1>
<ul id="own"><li><a id="own-link" href="#">Our own list item</a></li></ul>
{body}
</body>
</html>
"""
