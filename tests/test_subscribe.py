"""The sign-up forms under hostile use, over real HTTP to the real web app: capped bodies
(413), form tokens against cross-site posts (403), rate limits (429), one answer whatever
the address's state with the mail sent later by the push job, confirm links that cannot
undo an unsubscribe, and 4xx (never 500) for every bad input."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pytest
from push_support import SmtpServer
from subscribe_support import (
    BASE,
    SilentSmtp,
    confirm,
    form_token,
    get,
    make_config,
    post_form,
    serve,
)

from syndicator.app import make_app
from syndicator.push import dispatch_due
from syndicator.push.subscribers import CONFIRM, make_token, unsubscribe_url


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A fresh server per test: each test counts what it received."""
    with SmtpServer() as server:
        yield server


def _token(port: int, path: str = "/subscribe/mail") -> str:
    status, html = get(port, path)
    assert status == 200
    return form_token(html)


def _link(text: str, kind: str) -> str:
    found = re.search(rf"{re.escape(BASE)}{kind}/\S+", text)
    assert found is not None
    return "/" + found.group(0)[len(BASE):]


def _mail_text(smtp: SmtpServer, address: str) -> list[str]:
    texts = []
    for message in smtp.to(address):
        body = message.get_body(("plain",))
        assert body is not None
        texts.append(body.get_content())
    return texts


# --- 1: capped, streamed form bodies --------------------------------------------------------

def _raw(port: int, head: bytes, body: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(head + body)
    return sock


def _status_of(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1])


def test_form_bodies_are_refused_with_413_before_they_are_read(
        tmp_path: Path, smtp: SmtpServer) -> None:
    config = make_config(tmp_path, smtp.smtp_config())
    with make_app(config) as app, serve(app) as server:
        unsubscribe = urlsplit(unsubscribe_url(config, "mail", "a@example.net")).path
        for path in ("/subscribe/mail", unsubscribe, "/embed/subscribe?target=mail"):
            # A declared length over the cap: refused with no byte of body sent.
            declared = _raw(server.port, f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: "
                            "application/x-www-form-urlencoded\r\nContent-Length: 1000000000"
                            "\r\n\r\n".encode())
            with declared:
                assert _status_of(declared) == 413, path
            # A chunked body that never ends: the answer comes once 16 KB are in, while the
            # client still holds the body open (reading it all first would wait forever).
            chunk = b"email=" + b"a" * 16_000
            endless = _raw(server.port, f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: "
                           "application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked"
                           "\r\n\r\n".encode(), f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            with endless:
                assert _status_of(endless) == 413, path
        assert app.store.signups() == []


# --- 5: form tokens, rate limits, one answer, mail from the push job ---------------------------

def test_a_post_without_our_form_token_or_from_another_site_is_refused(
        tmp_path: Path, smtp: SmtpServer) -> None:
    config = make_config(tmp_path, smtp.smtp_config())
    with make_app(config) as app, serve(app) as server:
        token = _token(server.port)
        fields = {"email": "eve@example.net"}
        for extra, headers in [
            ({}, {}),                                                   # no token at all
            ({"form_token": "forged.token"}, {}),
            ({"form_token": make_token(config, "form", "other", "",
                                       expires=datetime.now(UTC) + timedelta(hours=1))}, {}),
            ({"form_token": make_token(config, "form", "mail", "",
                                       expires=datetime.now(UTC) - timedelta(seconds=1))}, {}),
            ({"form_token": token}, {"Origin": "https://evil.example"}),
            ({"form_token": token}, {"Sec-Fetch-Site": "cross-site"}),
        ]:
            status, _headers, body = post_form(server.port, "/subscribe/mail",
                                               {**fields, **extra}, headers=headers)
            assert status == 403, (extra, headers)
            assert "expired or did not come from this site" in body or \
                "only through the form on this site" in body
        # The embedded form: its own token, our origin inside a partner's frame.
        status, html = get(server.port, "/embed/subscribe?target=mail&lang=en")
        embed_token = form_token(html)
        status, _h, body = post_form(server.port, "/embed/subscribe",
                                     {"target": "mail", "lang": "en", "email": "eve@example.net"})
        assert status == 403 and "This form has expired" in body
        assert app.store.signups() == []
        # With the token, from our own page (a no-referrer page posts `Origin: null`).
        status, _h, body = post_form(server.port, "/embed/subscribe",
                                     {"target": "mail", "lang": "en", "form_token": embed_token,
                                      "email": "ann@example.net"},
                                     headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"})
        assert status == 200 and "Almost done" in body
        status, _h, body = post_form(server.port, "/subscribe/mail",
                                     {"email": "bob@example.net", "form_token": token},
                                     headers={"Origin": server.url})
        assert status == 200 and "Check your inbox" in body
        assert [s.email for s in app.store.signups()] == ["ann@example.net", "bob@example.net"]
    assert smtp.received == []                           # nothing mailed inside a request


def test_sign_ups_are_rate_limited_per_client_and_per_list(
        tmp_path: Path, smtp: SmtpServer) -> None:
    config = make_config(tmp_path, smtp.smtp_config(),
                         signups={"per_ip": 2, "per_target": 3, "window": "1h"})
    with make_app(config) as app, serve(app) as server:
        token = _token(server.port)

        def sign_up(n: int, source: str) -> tuple[int, dict[str, str], str]:
            return post_form(server.port, "/subscribe/mail",
                             {"email": f"r{n}@example.net", "form_token": token}, source=source)

        assert [sign_up(n, "127.0.0.1")[0] for n in (1, 2)] == [200, 200]
        status, headers, body = sign_up(3, "127.0.0.1")
        assert status == 429 and "Too many sign-ups from your network" in body
        assert 3000 <= int(headers["retry-after"]) <= 3600
        assert sign_up(4, "127.0.0.2")[0] == 200            # another client: the list's 3rd
        status, headers, body = sign_up(5, "127.0.0.3")
        assert status == 429 and "Too many sign-ups to this list" in body
        assert int(headers["retry-after"]) > 0
        # The embedded form shares the counts.
        status, html = get(server.port, "/embed/subscribe?target=mail&lang=en")
        status, headers, _body = post_form(server.port, "/embed/subscribe", {
            "target": "mail", "lang": "en", "email": "r6@example.net",
            "form_token": form_token(html)}, source="127.0.0.4")
        assert status == 429 and "retry-after" in headers
        assert len(app.store.signups()) == 3


def test_every_address_state_gets_the_same_answer_and_mail_waits_for_the_push_job(
        tmp_path: Path, smtp: SmtpServer) -> None:
    config = make_config(tmp_path, smtp.smtp_config(), signups={"per_ip": 100})
    now = datetime.now(UTC)
    states = {"confirmed@example.net": "confirmed", "pending@example.net": "pending",
              "left@example.net": "unsubscribed", "new@example.net": None}
    with make_app(config) as app, serve(app) as server:
        for address, state in states.items():
            if state is not None:
                app.store.set_subscriber("mail", address, state, now - timedelta(days=1))
        # pending@ was mailed a link a minute ago: no second mail within 10 minutes.
        app.store.queue_signup("mail", "pending@example.net", now - timedelta(minutes=1))
        [row] = app.store.signups()
        app.store.claim_signup("mail", now, "x", lease=60)
        app.store.finish_signup(row.id, "x", now - timedelta(minutes=1), state="sent")
        token = _token(server.port)
        answers = set()
        for address in states:
            status, _headers, body = post_form(server.port, "/subscribe/mail",
                                               {"email": address, "form_token": token})
            answers.add((status, body))
        assert len(answers) == 1 and next(iter(answers))[0] == 200
        assert smtp.received == []
        assert app.store.subscriber("mail", "new@example.net") is None   # nothing decided yet
        report = dispatch_due(app)
        assert "2 confirmation mail(s) sent" in report.target("mail").notes
        assert sorted(a for r in smtp.received for a in r.rcpt_tos) == [
            "left@example.net", "new@example.net"]
        states_now = {a: s.status for a in states
                      for s in [app.store.subscriber("mail", a)] if s is not None}
        assert states_now == {"confirmed@example.net": "confirmed",
                              "pending@example.net": "pending", "left@example.net": "pending",
                              "new@example.net": "pending"}
        assert dispatch_due(app).target("mail").notes == []      # each row handled once


def test_sign_ups_against_a_mail_server_that_never_answers_do_not_stall_the_server(
        tmp_path: Path) -> None:
    with SilentSmtp() as silent:
        config = make_config(tmp_path, {"host": "127.0.0.1", "port": silent.port,
                                        "security": "none", "timeout": 3},
                             signups={"per_ip": 1000, "per_target": 1000})
        with make_app(config) as app, serve(app) as server:
            token = _token(server.port)
            results: list[tuple[int, float]] = []
            lock = threading.Lock()

            def sign_up(n: int) -> None:
                started = time.monotonic()
                status, _h, _b = post_form(server.port, "/subscribe/mail",
                                           {"email": f"r{n}@example.net", "form_token": token})
                with lock:
                    results.append((status, time.monotonic() - started))

            threads = [threading.Thread(target=sign_up, args=(n,)) for n in range(45)]
            for thread in threads:
                thread.start()
            started = time.monotonic()
            health, _body = get(server.port, "/healthz")
            health_seconds = time.monotonic() - started
            for thread in threads:
                thread.join()
            assert health == 200 and health_seconds < 2.5
            assert [s for s, _t in results] == [200] * 45
            # Speaking SMTP in the request would take the 3 s timeout each, at least.
            assert max(t for _s, t in results) < 2.5
            assert silent.connections == 0 and len(app.store.signups()) == 45
            # The push job meets the silent server: the rows wait for a retry, none is lost
            # or left `sending`, and the job stops at the first connection failure.
            report = dispatch_due(app)
            rows = app.store.signups()
            assert [r.state for r in rows].count("failed") == 1
            assert [r.state for r in rows].count("queued") == 44
            assert any("failed: cannot connect" in n for n in report.target("mail").notes)


# --- 6: a confirm link cannot undo an unsubscribe ------------------------------------------------

def test_a_replayed_confirm_link_does_not_resubscribe_and_one_click_still_works(
        tmp_path: Path, smtp: SmtpServer) -> None:
    config = make_config(tmp_path, smtp.smtp_config())
    reader = "reader@example.net"
    t0 = datetime.now(UTC)
    with make_app(config) as app, serve(app) as server:
        token = _token(server.port)
        assert post_form(server.port, "/subscribe/mail",
                         {"email": reader, "form_token": token})[0] == 200
        dispatch_due(app, now=t0)
        [first] = _mail_text(smtp, reader)
        link = _link(first, "subscribe/confirm")
        status, body = confirm(server.port, link)
        assert status == 200 and "Subscribed" in body
        # One-click unsubscribe (RFC 8058), as a mail client sends it: no form token.
        unsubscribe = urlsplit(unsubscribe_url(config, "mail", reader)).path
        status, headers, body = post_form(server.port, unsubscribe,
                                          {"List-Unsubscribe": "One-Click"})
        assert status == 200 and "Unsubscribed" in body and "set-cookie" not in headers
        # The old link, replayed: refused, the address stays unsubscribed.
        status, body = get(server.port, link)
        assert status == 410 and "Please subscribe again" in body
        subscriber = app.store.subscriber("mail", reader)
        assert subscriber is not None and subscriber.status == "unsubscribed"
        # Signing up again mails a new link; the old one still confirms nothing.
        assert post_form(server.port, "/subscribe/mail",
                         {"email": reader, "form_token": token})[0] == 200
        dispatch_due(app, now=t0 + timedelta(minutes=1))
        second = _link(_mail_text(smtp, reader)[1], "subscribe/confirm")
        assert get(server.port, link)[0] == 410
        subscriber = app.store.subscriber("mail", reader)
        assert subscriber is not None and subscriber.status == "pending"
        assert confirm(server.port, second)[0] == 200
        subscriber = app.store.subscriber("mail", reader)
        assert subscriber is not None and subscriber.status == "confirmed"


# --- 7: remote input errors are 4xx with one line, never 500 -------------------------------------

def test_bad_addresses_and_tokens_get_4xx_with_a_reason(tmp_path: Path,
                                                       smtp: SmtpServer) -> None:
    config = make_config(tmp_path, smtp.smtp_config(), signups={"per_ip": 100})
    now = datetime.now(UTC)
    with make_app(config) as app, serve(app) as server:
        token = _token(server.port)
        for address, reason in [("k@example.com.", "cannot end with a period"),
                                ("(comment)k@example.com", "invalid characters"),
                                ("@a,@b:k@example.com", "before the @-sign"),
                                ("Ada <ada@example.com>", "display name"),
                                ("k@localhost", "should have a period")]:
            status, _h, body = post_form(server.port, "/subscribe/mail",
                                         {"email": address, "form_token": token})
            assert status == 400 and reason in body, address
        status, html = get(server.port, "/embed/subscribe?target=mail&lang=en")
        status, _h, body = post_form(server.port, "/embed/subscribe", {
            "target": "mail", "lang": "en", "email": "k@example.com.",
            "form_token": form_token(html)})
        assert status == 400 and "cannot end with a period" in body
        # An internationalised domain is an address: taken (and later sent via IDNA).
        assert post_form(server.port, "/subscribe/mail",
                         {"email": "user@exämple.com", "form_token": token})[0] == 200
        # A validly signed link for a list that is no longer configured.
        gone = make_token(config, CONFIRM, "gone", "a@example.net",
                          expires=now + timedelta(days=1), issued=now)
        status, body = get(server.port, f"/subscribe/confirm/{quote(gone)}")
        assert status == 404 and "no longer exists" in body
        assert get(server.port, "/subscribe/confirm/garbage")[0] == 400
        assert get(server.port, "/subscribe/confirm/" + quote(unquote("%ff.%00")))[0] == 400
        status, _h, _b = post_form(server.port, "/subscribe/gone",
                                   {"email": "a@example.net", "form_token": token})
        assert status == 404
        assert [s.email for s in app.store.signups()] == ["user@exämple.com"]
        dispatch_due(app)
    [received] = smtp.received
    assert received.rcpt_tos == ["user@xn--exmple-cua.com"]
    assert received.message["To"] == "user@xn--exmple-cua.com"


def test_the_pages_speak_the_language_of_the_lists_feed(tmp_path: Path,
                                                         smtp: SmtpServer) -> None:
    config = make_config(tmp_path, smtp.smtp_config(), feeds=("office-be",),
                         signups={"per_ip": 1, "window": "1h"})
    with make_app(config) as app, serve(app) as server:
        status, html = get(server.port, "/subscribe/mail")
        assert status == 200 and '<html lang="be">' in html
        assert "Атрымлівайце навіны па пошце" in html and ">Падпісацца</button>" in html
        token = form_token(html)
        status, _headers, body = post_form(server.port, "/subscribe/mail",
                                           {"email": "b1@example.net", "form_token": token})
        assert status == 200 and "Праверце пошту" in body
        status, _headers, body = post_form(server.port, "/subscribe/mail",
                                           {"email": "b2@example.net", "form_token": token})
        assert status == 429
        assert "Занадта шмат падпісак з вашай сеткі: паспрабуйце праз 60 хвілін." in body
        status, html = get(server.port, "/unsubscribe/not-a-token")
        assert status == 404 and "link is not valid" in html   # no list: English
