"""Shared pieces of the push tests: a real SMTP server on loopback, configs with targets."""

from __future__ import annotations

import asyncio
import html
import shutil
import threading
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from pydantic import TypeAdapter

from syndicator.app import App
from syndicator.config import Config, PushTarget
from syndicator.demo import demo_site_root
from syndicator.model import RunResult
from syndicator.pipeline import run_source
from tests.net_support import free_port

TOKEN = "123456:TEST-token_abc"
SECRET = "test-secret-key-0123456789"


@dataclass
class Received:
    """One message the SMTP server accepted."""

    peer: Any
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class _Handler:
    """aiosmtpd handler: records what it accepts; answers chosen recipients with a code."""

    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)   # address -> "550 5.1.1 ..."
    stalls: list[float] = field(default_factory=list)      # seconds before answering DATA
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        answer = self.refuse.get(address.lower())
        if answer is not None:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            stall = self.stalls.pop(0) if self.stalls else 0.0
        if stall:
            await asyncio.sleep(stall)
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.received.append(Received(session.peer, envelope.mail_from,
                                          list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class SmtpServer:
    """`with SmtpServer() as smtp:` a real SMTP server (aiosmtpd) on 127.0.0.1."""

    def __init__(self) -> None:
        self.handler = _Handler()
        self.port = free_port()
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()

    @property
    def received(self) -> list[Received]:
        return list(self.handler.received)

    def to(self, address: str) -> list[EmailMessage]:
        return [r.message for r in self.received if address in r.rcpt_tos]

    def refuse(self, address: str, answer: str) -> None:
        self.handler.refuse[address.lower()] = answer

    def allow(self, address: str) -> None:
        self.handler.refuse.pop(address.lower(), None)

    def stall_next(self, seconds: float) -> None:
        """The next message is answered only `seconds` after its data arrived: a client
        whose timeout is shorter cannot know whether it went out. (It did not: aiosmtpd
        drops a message whose connection closed before the answer.)"""
        with self.handler.lock:
            self.handler.stalls.append(seconds)

    def smtp_config(self) -> dict[str, Any]:
        return {"host": "127.0.0.1", "port": self.port, "security": "none", "timeout": 5}


_TARGETS: TypeAdapter[PushTarget] = TypeAdapter(PushTarget)


def with_targets(config: Config, *targets: dict[str, Any], **changes: Any) -> Config:
    """The config with these push targets (dicts as in config.yaml) and a secret key."""
    push = tuple(_TARGETS.validate_python(t) for t in targets)
    update: dict[str, Any] = {"push": push, "secret_key": SECRET}
    update.update(changes)
    # Re-validate so that cross-references (feeds of targets) are checked as when loading.
    data = config.model_dump(by_alias=True, exclude={"base_dir"})
    data.update({k: v for k, v in update.items() if k != "push"})
    data["push"] = [t.model_dump(by_alias=True) for t in push]
    return Config.model_validate(data).model_copy(update={"base_dir": config.base_dir})


def telegram(target_id: str = "tg-en", *, api_url: str, feeds: tuple[str, ...] = ("office-en",),
             chat_id: str = "@office_en", **extra: Any) -> dict[str, Any]:
    return {"id": target_id, "type": "telegram", "feeds": list(feeds), "chat_id": chat_id,
            "token": TOKEN, "api_url": api_url, **extra}


def email(target_id: str = "mail-en", *, smtp: dict[str, Any],
          feeds: tuple[str, ...] = ("office-en",), **extra: Any) -> dict[str, Any]:
    return {"id": target_id, "type": "email", "feeds": list(feeds), "smtp": smtp,
            "from": "Office news <news@example.org>", **extra}


def fetch(app: App, *source_ids: str) -> list[RunResult]:
    return [run_source(app, app.config.source(s)) for s in source_ids]


# --- a writable copy of the demo site, to publish and edit articles ---------------------------

TEMPLATE_SLUG = "a9d86e127a0a423"
TEMPLATE_TITLE = "Office hosts open consultation on document renewal for Belarusians abroad"


def copy_demo_site(folder: Path) -> Path:
    root = folder / "site"
    shutil.copytree(demo_site_root(), root)
    return root


def publish(root: Path, slug: str, title: str, *, summary: str = "A new story from the office.",
            date: str = "November 05, 2025", lang: str = "en") -> str:
    """Put a new article on the site copy: its page and a card on top of the listing.
    Returns the article's path."""
    news = root / lang / "events" / "news"
    page = (news / f"{TEMPLATE_SLUG}.html").read_text(encoding="utf-8")
    page = page.replace(TEMPLATE_SLUG, slug).replace(TEMPLATE_TITLE, html.escape(title))
    (news / f"{slug}.html").write_text(page, encoding="utf-8")
    listing = root / lang / "news" / "index.html"
    text = listing.read_text(encoding="utf-8")
    card = (f'  <article class="news-card post-{slug[:6]}">\n'
            f'    <div class="news-card__body">\n'
            f'      <a class="news-card__link" href="/{lang}/events/news/{slug}.html">'
            f'<h2 class="news-card__title">{html.escape(title)}</h2></a>\n'
            f'      <div class="news-card__excerpt">{html.escape(summary)}</div>\n'
            f'      <span class="news-card__date">{date}</span>\n'
            f'    </div>\n  </article>\n')
    first = text.index('  <article class="news-card')
    listing.write_text(text[:first] + card + text[first:], encoding="utf-8")
    return f"/{lang}/events/news/{slug}.html"


def retitle(root: Path, old: str, new: str, *, lang: str = "en") -> None:
    """Edit a story's title on the listing and its page (an editor fixed a typo)."""
    for path in [root / lang / "news" / "index.html", *(root / lang / "events" / "news").glob(
            "*.html")]:
        text = path.read_text(encoding="utf-8")
        if html.escape(old) in text:
            path.write_text(text.replace(html.escape(old), html.escape(new)), encoding="utf-8")


# --- an ASGI app served for real on loopback -------------------------------------------------

class AsgiServer:
    """`with AsgiServer(app) as server:` uvicorn on 127.0.0.1 in a thread; `server.url`."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> AsgiServer:
        import time

        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join()


# --- config files for the command line --------------------------------------------------------

def write_config(folder: Path, push_yaml: str) -> Path:
    """The demo config plus a `push:` section (and a secret from $SYNDICATOR_SECRET)."""
    from syndicator.demo import demo_config_path

    text = demo_config_path().read_text(encoding="utf-8")
    text += "\nsecret_key: {env: SYNDICATOR_SECRET}\n\npush:\n" + push_yaml
    path = folder / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path
