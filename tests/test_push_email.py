"""Email delivery through a real SMTP server (aiosmtpd on loopback), items from the real
pipeline, and the subscription flow through the real Starlette routes."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import requests
from conftest import Site, serve_site
from push_support import (
    SmtpServer,
    copy_demo_site,
    email,
    fetch,
    publish,
    with_targets,
)
from subscribe_support import serve

from syndicator.app import App, make_app
from syndicator.config import Config, EmailTarget
from syndicator.demo import demo_config_path, demo_site_root
from syndicator.push import dispatch_due, push_status, send_digest
from syndicator.push.email import item_message
from syndicator.push.subscribers import (
    CONFIRM,
    UNSUBSCRIBE,
    make_token,
    read_token,
    unsubscribe_url,
)

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SETUP = datetime(2000, 1, 1, tzinfo=UTC)
BASE = "https://feeds.example.org/"
READERS = ("ada@example.net", "bob@example.net")


@dataclass
class Demo:
    site: Site
    db: Path


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _clean_smtp(smtp: SmtpServer) -> None:
    smtp.handler.received.clear()
    smtp.handler.refuse.clear()


def _config(site: Site, smtp: SmtpServer, *targets: dict[str, Any], **changes: Any) -> Config:
    config = with_targets(site.config, *targets, **changes)
    site_config = config.site.model_copy(update={"base_url": BASE})
    return config.model_copy(update={"site": site_config})


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[Demo]:
    """The demo site fetched once; 3 items queued for each reader of `mail` and `digest`."""
    folder = tmp_path_factory.mktemp("push-email")
    with serve_site(demo_site_root(), demo_config_path(), "SYNDICATOR_DEMO_URL",
                    folder) as site:
        db = folder / "template.db"
        config = _config(site, smtp, email("mail", smtp=smtp.smtp_config(), backfill=3),
                         email("digest", smtp=smtp.smtp_config(), backfill=3, mode="digest",
                               schedule={"cron": "0 7 * * *"}),
                         storage=f"sqlite:///{db}")
        with make_app(config) as app:
            for target in ("mail", "digest"):
                for reader in READERS:
                    app.store.set_subscriber(target, reader, "confirmed", SETUP)
            fetch(app, "office-en")
            assert len(app.store.deliveries("mail", states=["pending"])) == 6
        yield Demo(site, db)


def _app(demo: Demo, smtp: SmtpServer, tmp_path: Path, **mail: Any) -> App:
    db = tmp_path / "store.db"
    shutil.copy(demo.db, db)
    config = _config(demo.site, smtp, email("mail", smtp=smtp.smtp_config(), **mail),
                     email("digest", smtp=smtp.smtp_config(), mode="digest",
                           schedule={"cron": "0 7 * * *"}),
                     storage=f"sqlite:///{db}")
    return make_app(config)


def _parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert isinstance(text, EmailMessage) and isinstance(html, EmailMessage)
    return text.get_content(), html.get_content()


def test_per_item_mail_is_multipart_alternative_with_list_headers(
        demo: Demo, smtp: SmtpServer, tmp_path: Path) -> None:
    with _app(demo, smtp, tmp_path) as app:
        report = dispatch_due(app, now=T0)
        assert report.sent == 6
        queued = app.store.deliveries("mail", states=["sent"])
        items = app.store.items_by_id(d.item_id for d in queued)
        config = app.config
    received = smtp.received
    assert len(received) == 6
    assert len({r.peer for r in received}) == 1            # one SMTP connection for the batch
    assert sorted(a for r in received for a in r.rcpt_tos) == sorted(READERS * 3)
    ids = set()
    for got in received:
        msg = got.message
        assert msg.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
        recipient = got.rcpt_tos[0]
        # (a folded header comes back with its folding space; RFC 5322 ignores it)
        item = next(i for i in items.values() if i.title == msg["Subject"].strip())
        text, html = _parts(msg)
        assert item.url in text and item.title in text
        assert 'style="' in html and "<style" not in html and "<script" not in html
        assert msg["From"] == "Office news <news@example.org>" and msg["To"] == recipient
        assert parsedate_to_datetime(msg["Date"]) == T0
        assert msg["List-Id"] == "Office news (English) <mail.example.org>"
        url = unsubscribe_url(config, "mail", recipient)
        assert msg["List-Unsubscribe"] == (f"<{url}>, "
                                           "<mailto:news@example.org?subject=unsubscribe>")
        assert url.startswith(BASE + "unsubscribe/")
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert re.fullmatch(r"<[0-9a-f]{20}\.[0-9a-f]{20}@example\.org>", msg["Message-ID"])
        ids.add(msg["Message-ID"])
    assert len(ids) == 6                                   # per item and recipient
    assert {d.message_ids[0] for d in queued} == ids       # and recorded


def test_the_message_id_is_the_same_on_a_retry(demo: Demo, smtp: SmtpServer,
                                                tmp_path: Path) -> None:
    with _app(demo, smtp, tmp_path) as app:
        smtp.refuse(READERS[0], "451 4.7.1 Greylisted, try again later")
        dispatch_due(app, now=T0)
        first = {m["Message-ID"] for m in smtp.to(READERS[1])}
        failed = app.store.deliveries("mail", states=["failed"])
        assert len(failed) == 3 and all(d.attempts == 1 for d in failed)
        assert all(d.next_at == T0 + timedelta(seconds=30) for d in failed)
        assert "451 4.7.1 Greylisted" in (failed[0].error or "")
        smtp.allow(READERS[0])
        assert dispatch_due(app, now=T0 + timedelta(seconds=10)).sent == 0   # not yet
        assert dispatch_due(app, now=T0 + timedelta(seconds=31)).sent == 3
        second = {m["Message-ID"] for m in smtp.to(READERS[0])}
    assert len(second) == 3 and len(first) == 3
    # The retried messages carry the ids derived from item and recipient, as the first did.
    assert {i.split(".")[0] for i in first} == {i.split(".")[0] for i in second}


def test_a_5xx_refusal_suppresses_the_address(demo: Demo, smtp: SmtpServer,
                                              tmp_path: Path) -> None:
    with _app(demo, smtp, tmp_path) as app:
        smtp.refuse(READERS[0], "550 5.1.1 No such user")
        report = dispatch_due(app, now=T0)
        assert report.sent == 3 and report.dead == 1
        subscriber = app.store.subscriber("mail", READERS[0])
        assert subscriber is not None and subscriber.status == "bounced"
        assert "550 5.1.1" in (subscriber.reason or "")
        states = sorted((d.recipient, d.state) for d in app.store.deliveries("mail")
                        if d.recipient)
        assert states == [(READERS[0], "dead"), (READERS[0], "suppressed"),
                          (READERS[0], "suppressed"), *[(READERS[1], "sent")] * 3]
        assert dispatch_due(app, now=T0 + timedelta(days=1)).sent == 0
    assert smtp.to(READERS[0]) == [] and len(smtp.to(READERS[1])) == 3


def test_the_hostile_article_reaches_inboxes_without_its_markup(
        demo: Demo, smtp: SmtpServer, tmp_path: Path) -> None:
    with _app(demo, smtp, tmp_path) as app:
        hostile = next(i for i in app.store.latest(["office-en"], limit=50)
                       if "freedom" in i.title)
        target = app.config.push[0]
        assert isinstance(target, EmailTarget)
        # The builder dispatch uses, on the stored item as the pipeline made it.
        msg = item_message(app.config, target, hostile, "eve@example.net",
                           unsubscribe_url=BASE + "u", preferences_url=BASE + "p", now=T0)
    title = 'Statement on "freedom" & <rights> now'
    assert msg["Subject"] == title
    text, html = _parts(msg)
    assert title in text
    assert "Statement on &#34;freedom&#34; &amp; &lt;rights&gt; now" in html
    assert "<rights>" not in html          # in the text part it is just text
    for bad in ("<script", "alert(", "javascript:", "tracker.example", "onerror", "<iframe",
                "data:text"):
        assert bad not in html and bad not in text


def test_a_digest_is_one_message_per_subscriber(demo: Demo, smtp: SmtpServer,
                                                tmp_path: Path) -> None:
    with _app(demo, smtp, tmp_path) as app:
        assert dispatch_due(app, now=T0, target_ids=["digest"]).sent == 0   # digests wait
        report = send_digest(app, "digest", T0)
        assert report.sent == 6
        titles = [i.title for i in app.store.latest(["office-en"], limit=3)]
        assert send_digest(app, "digest", T0 + timedelta(days=1)).sent == 0
        status = next(s for s in push_status(app.store, app.config) if s.target_id == "digest")
        assert (status.sent, status.queued, status.subscribers) == (6, 0, 2)
        assert status.to_json()["summary"] == "0 queued, 6 sent, 0 failed, 0 unknown, 0 dead"
    for reader in READERS:
        [msg] = smtp.to(reader)
        assert msg.get_content_type() == "multipart/alternative"
        text, html = _parts(msg)
        assert [t for t in titles if t in text] == titles            # newest first
        assert 'style="' in html and html.count("<h2") == 3
        positions = [text.index(t) for t in titles]
        assert positions == sorted(positions)
        assert msg["Subject"].startswith("Office news (English): 3 new")
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_tokens_are_signed_purpose_bound_and_expire(demo: Demo, smtp: SmtpServer,
                                                    tmp_path: Path) -> None:
    with _app(demo, smtp, tmp_path) as app:
        config = app.config
    token = make_token(config, CONFIRM, "mail", "a@example.net", expires=T0 + timedelta(days=7))
    data = read_token(config, token, CONFIRM, T0)
    assert data is not None and (data.target_id, data.email) == ("mail", "a@example.net")
    assert read_token(config, token, CONFIRM, T0 + timedelta(days=8)) is None
    assert read_token(config, token, UNSUBSCRIBE, T0) is None
    _body, signature = token.split(".")
    forged = make_token(config, CONFIRM, "mail", "b@example.net").split(".")[0]
    assert read_token(config, f"{forged}.{signature}", CONFIRM, T0) is None
    other = config.model_copy(update={"secret_key": "another secret"})
    assert read_token(other, token, CONFIRM, T0) is None
    assert read_token(config, "garbage", CONFIRM, T0) is None
    assert read_token(config, token[:-3], CONFIRM, T0) is None
    unsub = make_token(config, UNSUBSCRIBE, "mail", "a@example.net")
    assert read_token(config, unsub, UNSUBSCRIBE, T0 + timedelta(days=3650)) is not None


# --- the whole subscription flow ----------------------------------------------------------

class Web:
    """requests against the served app; URLs of our base_url are mapped onto it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()

    def _url(self, path: str) -> str:
        if path.startswith(BASE):
            path = "/" + path[len(BASE):]
        return self.url + path

    def get(self, path: str) -> requests.Response:
        return self.session.get(self._url(path), allow_redirects=False, timeout=10)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.post(self._url(path), allow_redirects=False, timeout=10, **kwargs)


def test_subscribe_confirm_receive_unsubscribe_receive_nothing(
        tmp_path: Path, smtp: SmtpServer) -> None:
    root = copy_demo_site(tmp_path)
    reader = "Reader@Example.NET"
    with serve_site(root, demo_config_path(), "SYNDICATOR_DEMO_URL", tmp_path) as site, \
            ExitStack() as stack:
        config = _config(site, smtp, email("mail", smtp=smtp.smtp_config()))
        with make_app(config) as app:
            fetch(app, "office-en")
            server = stack.enter_context(serve(app))     # the real web app
            web = Web(server.url)

            form = web.get("/subscribe/mail")
            assert form.status_code == 200 and 'name="email"' in form.text
            found = re.search(r'name="form_token" value="([^"]+)"', form.text)
            assert found is not None
            token = found.group(1)
            assert web.get("/subscribe/nope").status_code == 404
            assert web.post("/subscribe/mail", data={"email": "not an address",
                                                     "form_token": token}).status_code == 400
            answer = web.post("/subscribe/mail", data={"email": reader, "form_token": token})
            assert answer.status_code == 200 and "Check your inbox" in answer.text
            again = web.post("/subscribe/mail", data={"email": reader, "form_token": token})
            assert again.status_code == 200 and again.text == answer.text
            assert smtp.to("Reader@example.net") == []     # mail leaves from the push job
            dispatch_due(app)                               # one mail for the two sign-ups
            subscriber = app.store.subscriber("mail", "Reader@example.net")
            assert subscriber is not None and subscriber.status == "pending"

            [confirmation] = smtp.to("Reader@example.net")
            text, _html = _parts(confirmation)
            link = re.search(r"https://\S+", text)
            assert link is not None
            assert web.get(link.group(0) + "x").status_code == 400
            opened = web.get(link.group(0))           # opening the link changes nothing
            assert opened.status_code == 200 and 'form method="post"' in opened.text
            subscriber = app.store.subscriber("mail", "Reader@example.net")
            assert subscriber is not None and subscriber.status == "pending"
            confirmed = web.post(link.group(0))
            assert confirmed.status_code == 200 and "Subscribed" in confirmed.text
            subscriber = app.store.subscriber("mail", "Reader@example.net")
            assert subscriber is not None and subscriber.status == "confirmed"

            publish(root, "n1", "First story after subscribing")
            fetch(app, "office-en")
            assert dispatch_due(app, now=T0).sent == 1
            [news] = [m for m in smtp.to("Reader@example.net") if m is not confirmation]
            assert news["Subject"] == "First story after subscribing"

            header = news["List-Unsubscribe"]
            url = re.match(r"<([^>]+)>", header)
            assert url is not None
            page = web.get(url.group(1))
            assert page.status_code == 200 and 'value="One-Click"' in page.text
            one_click = web.post(url.group(1), data=b"List-Unsubscribe=One-Click",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
            assert one_click.status_code == 200 and "Unsubscribed" in one_click.text
            assert "set-cookie" not in one_click.headers
            subscriber = app.store.subscriber("mail", "Reader@example.net")
            assert subscriber is not None and subscriber.status == "unsubscribed"
            token = unquote(urlsplit(url.group(1)).path.rsplit("/", 1)[1])
            assert read_token(app.config, token, UNSUBSCRIBE, T0) is not None

            publish(root, "n2", "Second story after unsubscribing")
            fetch(app, "office-en")
            assert dispatch_due(app, now=T0 + timedelta(minutes=5)).sent == 0
    assert len(smtp.to("Reader@example.net")) == 2    # the confirmation and one story
