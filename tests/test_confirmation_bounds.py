"""Confirmation mails cannot be used to mail anyone over and over, over real HTTP and a
real SMTP server (aiosmtpd): one mailbox, however spelled, gets at most MAILBOX_PER_DAY a
day, and a list sends at most `signups.confirmations_per_day`; the rest wait."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from push_support import SmtpServer
from subscribe_support import form_token, get, make_config, post_form, serve

from syndicator.app import make_app
from syndicator.push import dispatch_due
from syndicator.push.subscribers import MAILBOX_PER_DAY
from tests.test_subscriber_preferences import Clock


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def test_one_mailbox_in_any_spelling_gets_a_few_confirmations_a_day(
        tmp_path: Path, smtp: SmtpServer) -> None:
    config = make_config(tmp_path, smtp.smtp_config(), signups={"per_ip": 100})
    clock = Clock(datetime.now(UTC))
    spellings = ["ann@gmail.com", "A.nn+1@gmail.com", "ann+2@googlemail.com", "ANN@gmail.com",
                 "a.n.n@gmail.com"]
    with make_app(config, clock=clock) as app, serve(app) as server:
        token = form_token(get(server.port, "/subscribe/mail")[1])
        for address in spellings:
            status, _h, _b = post_form(server.port, "/subscribe/mail",
                                       {"email": address, "form_token": token})
            assert status == 200
            dispatch_due(app)
            clock.now += timedelta(minutes=11)     # past the resend pause of a pending one
        assert len(smtp.received) == MAILBOX_PER_DAY == 3
        assert [m.rcpt_tos for m in smtp.received] == [
            ["ann@gmail.com"], ["A.nn+1@gmail.com"], ["ann+2@googlemail.com"]]
        skipped = app.store.signups("mail", states=("skipped",))
        assert [s.email for s in skipped] == ["ANN@gmail.com", "a.n.n@gmail.com"]
        # A day later the mailbox may be asked again.
        clock.now += timedelta(days=1)
        assert post_form(server.port, "/subscribe/mail",
                         {"email": "ann@gmail.com", "form_token": token})[0] == 200
        dispatch_due(app)
        assert len(smtp.received) == 4


def test_a_list_sends_at_most_its_daily_confirmations_and_the_rest_wait(
        tmp_path: Path, smtp: SmtpServer) -> None:
    config = make_config(tmp_path, smtp.smtp_config(),
                         signups={"per_ip": 100, "confirmations_per_day": 2})
    clock = Clock(datetime.now(UTC))
    with make_app(config, clock=clock) as app, serve(app) as server:
        token = form_token(get(server.port, "/subscribe/mail")[1])
        for name in ("bob", "cy", "dee"):
            assert post_form(server.port, "/subscribe/mail",
                             {"email": f"{name}@example.net", "form_token": token})[0] == 200
        report = dispatch_due(app)
        assert sorted(r for m in smtp.received for r in m.rcpt_tos) == [
            "bob@example.net", "cy@example.net"]
        assert any("the list's limit" in note for t in report.targets for note in t.notes)
        clock.now += timedelta(hours=1)
        dispatch_due(app)
        assert len(smtp.received) == 2
        [waiting] = app.store.signups("mail", states=("queued",))
        assert waiting.email == "dee@example.net"
        clock.now += timedelta(days=1)
        dispatch_due(app)
        assert smtp.received[-1].rcpt_tos == ["dee@example.net"]
        assert app.store.signups("mail", states=("queued",)) == []
