"""Subscribers choose their languages and rhythm: three readers sign up through the form
over HTTP, each with a different choice, and receive exactly what they chose through a
real SMTP server (aiosmtpd) as the fixture site publishes its stories in one, two or three
languages over three days; one changes her choice through the signed preferences page,
over HTTP, and the next mail follows it. The push job's clock is moved over a week so that
the daily and weekly digests fall due on their schedules."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

from push_support import SmtpServer, email, with_targets
from subscribe_support import confirm, form_token, get, make_config, post_form, serve

from syndicator.app import make_app
from syndicator.push import dispatch_due
from syndicator.push.subscribers import make_token, preferences_url
from tests.conftest import Site
from tests.test_translations import _fetch, site  # noqa: F401  (the fixture)
from tests.translation_site import write_site


class Clock:
    """The app's clock, moved by the test."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def _last_tuesday_6am() -> datetime:
    """The latest Tuesday 06:00 UTC not after now: confirmation links issued then are
    still valid (they live 7 days)."""
    now = datetime.now(UTC)
    moment = now.replace(hour=6, minute=0, second=0, microsecond=0)
    while moment.weekday() != 1 or moment > now:
        moment -= timedelta(days=1)
    return moment


def _text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert isinstance(body, EmailMessage)
    return str(body.get_content()).replace("\r\n", "\n")


def _link(message: EmailMessage, kind: str) -> str:
    found = re.search(rf"https?://\S+/{kind}/\S+", _text(message))
    assert found is not None, f"no {kind} link in {message['Subject']}"
    return urlsplit(found.group(0)).path


def _entries(message: EmailMessage) -> list[str]:
    """A digest's entries: the title of each story, in order."""
    return re.findall(r"^\* (.+)$", _text(message), flags=re.MULTILINE)


def test_three_subscribers_get_what_they_chose_and_a_change_counts_next(
        site: Site) -> None:  # noqa: F811  (the fixture imported above)
    root = site.server.root
    start = _last_tuesday_6am()
    clock = Clock(start)
    with SmtpServer() as smtp:
        config = with_targets(site.config, email("mail-all", smtp=smtp.smtp_config(),
                                                 feeds=("all",)))
        with make_app(config, clock=clock) as app, serve(app) as server:
            # The form offers the list's languages and the three rhythms.
            status, page = get(server.port, "/subscribe/mail-all")
            assert status == 200
            assert re.findall(r'name="languages" value="(\w+)"', page) == ["en", "ru", "be"]
            assert re.findall(r'name="rhythm" value="(\w+)"', page) == ["item", "daily",
                                                                        "weekly"]
            token = form_token(page)
            for address, languages, rhythm in [("ann@example.org", ["en"], "item"),
                                               ("boris@example.org", ["be"], "daily"),
                                               ("cyr@example.org", [], "weekly")]:
                body = "&".join([f"form_token={token}", f"email={address}",
                                 f"rhythm={rhythm}", *(f"languages={c}" for c in languages)])
                status, answer = _post_raw(server.port, "/subscribe/mail-all", body)
                assert status == 200 and "Check your inbox" in answer
            dispatch_due(app)
            for address in ("ann@example.org", "boris@example.org", "cyr@example.org"):
                [confirmation] = smtp.to(address)
                assert "/preferences/" in _text(confirmation)
                status, answer = confirm(server.port, _link(confirmation, "subscribe/confirm"))
                assert status == 200 and "will receive the news" in answer
            chosen = {s.email: (s.languages, s.rhythm)
                      for s in app.store.subscribers("mail-all")}
            assert chosen == {"ann@example.org": (("en",), "item"),
                              "boris@example.org": (("be",), "daily"),
                              "cyr@example.org": ((), "weekly")}

            def received(address: str) -> list[EmailMessage]:
                return smtp.to(address)[1:]        # after the confirmation

            _fetch(app)                            # day 1: each source's first sight
            clock.now = start + timedelta(minutes=10)
            write_site(root, day=2)
            _fetch(app)
            dispatch_due(app)
            # Ann reads each English story as it comes; the digests wait for 07:00.
            assert sorted(str(m["Subject"]) for m in received("ann@example.org")) == [
                "An unrelated story", "The border reopens"]
            assert received("boris@example.org") == received("cyr@example.org") == []
            clock.now = start + timedelta(hours=1, seconds=5)          # Tuesday 07:00:05
            dispatch_due(app)
            # Nothing in Belarusian yet for Boris; Cyril's digest is weekly (Monday).
            assert received("boris@example.org") == received("cyr@example.org") == []
            assert len(received("ann@example.org")) == 2

            # Ann changes her choice through the link in her last mail, over HTTP.
            preferences = _link(received("ann@example.org")[-1], "preferences")
            status, page = get(server.port, preferences)
            assert status == 200 and "ann@example.org" in page
            assert re.findall(r'value="(\w+)" checked', page) == ["en", "item"]
            body = f"form_token={form_token(page)}&action=save&languages=be&languages=en" \
                   "&rhythm=daily"
            status, answer = _post_raw(server.port, preferences, body)
            assert status == 200 and "Saved" in answer
            # The page shows her languages first, in her order.
            assert re.findall(r'value="(\w+)" checked', answer) == ["be", "en", "daily"]

            clock.now = start + timedelta(hours=2)
            write_site(root, day=3)
            _fetch(app, ("be", "ru", "en"))
            dispatch_due(app)
            assert len(received("ann@example.org")) == 2       # no more mail per item
            clock.now = start + timedelta(days=1, hours=1, seconds=5)   # Wednesday 07:00:05
            dispatch_due(app)
            [ann_digest] = received("ann@example.org")[2:]
            [boris_digest] = received("boris@example.org")
            assert received("cyr@example.org") == []
            clock.now = start + timedelta(days=6, hours=1, seconds=5)   # Monday 07:00:05
            dispatch_due(app)
            [cyr_digest] = received("cyr@example.org")
            dispatch_due(app)                                  # nothing goes twice
            clock.now += timedelta(days=1)
            dispatch_due(app)
    # Each reader got each story once, in the first of their languages it exists in.
    assert sorted(_entries(ann_digest)) == sorted(
        ["Галасы падлічаны", "Бура на поўначы", "A forum in Vilnius"])
    assert sorted(_entries(boris_digest)) == sorted(["Галасы падлічаны", "Бура на поўначы"])
    # Cyril reads every language: one entry per story, in the list's first language, the
    # other versions linked from it.
    assert sorted(_entries(cyr_digest)) == sorted([
        "The border reopens", "An unrelated story", "Галасы падлічаны", "A storm in the north",
        "A forum in Vilnius"])
    storm = _text(cyr_digest).split("* A storm in the north", 1)[1].split("\n* ", 1)[0]
    assert "BE: " in storm and "/be/news/storm.html" in storm
    html = cyr_digest.get_body(("html",))
    assert isinstance(html, EmailMessage)
    assert 'hreflang="be" title="Бура на поўначы"' in html.get_content()
    for digest in (ann_digest, boris_digest, cyr_digest):
        assert "/preferences/" in _text(digest) and "/unsubscribe/" in _text(digest)
    assert len(smtp.to("ann@example.org")) == 4
    assert len(smtp.to("boris@example.org")) == len(smtp.to("cyr@example.org")) == 2


def _post_raw(port: int, path: str, body: str) -> tuple[int, str]:
    """POST a urlencoded body as written (a field may repeat, as checkboxes do)."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request("POST", path, body=body.encode("utf-8"),
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        answer = conn.getresponse()
        return answer.status, answer.read().decode("utf-8")
    finally:
        conn.close()


def test_choices_are_checked_and_the_preferences_page_is_guarded(tmp_path: Path) -> None:
    with SmtpServer() as smtp:
        config = make_config(tmp_path, smtp.smtp_config(), feeds=["office-be", "office-all"],
                             signups={"per_ip": 50})
        with make_app(config) as app, serve(app) as server:
            # The list's pages are in its first feed's language, and so are its choices.
            status, page = get(server.port, "/subscribe/mail")
            assert status == 200 and 'lang="be"' in page and "Як часта" in page
            assert re.findall(r'name="languages" value="(\w+)"', page) == ["be", "en", "ru"]
            token = form_token(page)
            for body, reason in [
                    ("languages=de", "'de' is not a language of this list (be, en, ru)"),
                    ("rhythm=hourly", "'hourly' is not one of item, daily, weekly"),
                    ("&".join(["languages=be"] * 9), "at most 8 may be chosen")]:
                for path, extra in [("/subscribe/mail", ""),
                                    ("/embed/subscribe", "&target=mail&lang=en")]:
                    status, answer = _post_raw(
                        server.port, path,
                        f"form_token={token}&email=eve@example.net&{body}{extra}")
                    assert status == 400 and reason in html.unescape(answer), (path, body)
            status, page = get(server.port, "/embed/subscribe?target=mail&lang=be")
            assert status == 200 and 'name="rhythm" value="weekly"' in page
            assert app.store.signups() == []

            app.store.set_subscriber("mail", "ann@example.net", "confirmed", app.clock(),
                                     languages=("en",), rhythm="weekly")
            link = urlsplit(preferences_url(config, "mail", "ann@example.net",
                                            app.clock())).path
            status, page = get(server.port, link)
            assert status == 200 and "ann@example.net" in page
            assert re.findall(r'value="(\w+)" checked', page) == ["en", "weekly"]
            # A forged or purpose-swapped token opens nothing.
            other = make_token(config, "unsubscribe", "mail", "ann@example.net")
            for bad in (link[:-3] + "abc", f"/preferences/{other}"):
                assert get(server.port, bad)[0] == 404
            # The POST needs the page's form token and our own origin.
            fields = {"action": "save", "rhythm": "daily"}
            status, _h, _b = post_form(server.port, link, fields)
            assert status == 403
            status, _h, _b = post_form(server.port, link, {**fields,
                                                           "form_token": form_token(page)},
                                       headers={"Sec-Fetch-Site": "cross-site"})
            assert status == 403
            assert app.store.subscriber("mail", "ann@example.net").rhythm == "weekly"
            status, _h, answer = post_form(server.port, link, {
                "action": "leave", "form_token": form_token(page)})
            assert status == 200 and "ann@example.net" in answer
            left = app.store.subscriber("mail", "ann@example.net")
            assert left is not None and left.status == "unsubscribed"
            # The address left: its link opens nothing until it signs up again.
            assert get(server.port, link)[0] == 404


def test_a_choice_changed_before_confirming_keeps_the_confirmation_link(
        tmp_path: Path) -> None:
    with SmtpServer() as smtp:
        config = make_config(tmp_path, smtp.smtp_config(), feeds=["office-be", "office-all"])
        with make_app(config) as app, serve(app) as server:
            status, page = get(server.port, "/subscribe/mail")
            status, _answer = _post_raw(server.port, "/subscribe/mail",
                                        f"form_token={form_token(page)}"
                                        "&email=dee@example.net&languages=ru&rhythm=daily")
            assert status == 200
            dispatch_due(app)
            [confirmation] = smtp.to("dee@example.net")
            preferences = _link(confirmation, "preferences")
            status, page = get(server.port, preferences)
            assert status == 200
            assert re.findall(r'value="(\w+)" checked', page) == ["ru", "daily"]
            status, answer = _post_raw(server.port, preferences,
                                       f"form_token={form_token(page)}&action=save"
                                       "&languages=be&rhythm=weekly")
            assert status == 200 and "Захавана" in answer
            status, answer = confirm(server.port, _link(confirmation, "subscribe/confirm"))
            assert status == 200 and "dee@example.net" in answer
            subscriber = app.store.subscriber("mail", "dee@example.net")
            assert subscriber is not None and subscriber.status == "confirmed"
            assert (subscriber.languages, subscriber.rhythm) == (("be",), "weekly")
            # A sign-up through a form cannot change the choice of a subscribed address.
            status, page = get(server.port, "/subscribe/mail")
            _post_raw(server.port, "/subscribe/mail", f"form_token={form_token(page)}"
                      "&email=dee@example.net&languages=en&rhythm=item")
            dispatch_due(app)
            again = app.store.subscriber("mail", "dee@example.net")
            assert again is not None and (again.languages, again.rhythm) == (("be",), "weekly")
