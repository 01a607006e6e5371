"""Addresses at the door and in the push job: parsed by email-validator, internationalised
domains sent via IDNA, non-ASCII local parts via SMTPUTF8 when the server offers it and
refused clearly when not; a row that cannot be delivered fails cleanly and blocks no other.
Real SMTP servers (aiosmtpd) on loopback; the operator's commands through click."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from push_support import SECRET, SmtpServer, write_config
from subscribe_support import Utf8SmtpServer, make_config

from syndicator.app import App, make_app
from syndicator.cli import cli
from syndicator.config import load_config
from syndicator.errors import AddressInvalid
from syndicator.model import Delivery, Item, OutboxHook, OutboxPlan, OutboxView, RunResult
from syndicator.push import dispatch_due, push_status
from syndicator.push.addresses import parse_address

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _queue_items(app: App, recipients: list[str], count: int = 2) -> None:
    """Stored items with one delivery per item and recipient for target `mail`."""
    when = datetime(2025, 11, 1, tzinfo=UTC)
    items = [Item(id=f"item-{n}", source_id="office-en", url=f"https://example.org/{n}",
                  title=f"Story {n}", published=when, updated=when) for n in range(count)]

    def decide(view: OutboxView) -> OutboxPlan:
        return OutboxPlan(deliveries=tuple(
            Delivery(item_id=i.id, target_id="mail", recipient=r)
            for i in view.new for r in recipients))

    app.store.save_run(RunResult("office-en", when, when, ok=True), items, [],
                       outbox=OutboxHook(targets=("mail",), subscriber_targets=(), history=1,
                                         decide=decide))


@pytest.mark.parametrize(("text", "reason"), [
    ("k@example.com.", "cannot end with a period"),
    ("k(comment)@example.com", "invalid characters"),
    ("@route,@other:k@example.com", "before the @-sign"),
    ('"quoted"@example.com', "Quoting"),
    ("k@[192.0.2.1]", "bracketed IP address"),
    ("a@b@example.com", "@"),
    ("", "no email address"),
])
def test_addresses_are_refused_at_the_door_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(AddressInvalid) as refused:
        parse_address(text)
    assert reason in str(refused.value) and "\n" not in str(refused.value)
    assert repr(text.strip()) in str(refused.value) or not text


def test_addresses_are_normalised() -> None:
    idn = parse_address("  User@EXÄMPLE.com ")
    assert (idn.email, idn.ascii) == ("User@exämple.com", "User@xn--exmple-cua.com")
    assert parse_address("user@xn--exmple-cua.com").email == "User@exämple.com".replace(
        "User", "user")
    local = parse_address("ü@example.com")
    assert local.needs_smtputf8 and local.ascii is None


def test_rows_that_cannot_be_delivered_fail_cleanly_and_block_nothing(tmp_path: Path) -> None:
    """Finding 8: a non-ASCII address used to crash every push run, its row left `sending`."""
    with Utf8SmtpServer(smtputf8=False) as smtp:
        config = make_config(tmp_path, smtp.smtp_config())
        readers = ["u@exämple.com", "ü@example.com", "k@example.com.", "ok@example.net"]
        with make_app(config) as app:
            for reader in readers:   # as an older version stored them, unchecked
                app.store.set_subscriber("mail", reader, "confirmed", T0)
            _queue_items(app, readers)
            report = dispatch_due(app, now=T0)
            assert (report.sent, report.dead) == (4, 2)
            states = {(d.recipient, d.state) for d in app.store.deliveries("mail")}
            assert states == {("u@exämple.com", "sent"), ("ok@example.net", "sent"),
                              ("ü@example.com", "dead"), ("ü@example.com", "suppressed"),
                              ("k@example.com.", "dead"), ("k@example.com.", "suppressed")}
            dead = {d.recipient: d.error or "" for d in app.store.deliveries("mail",
                                                                             states=["dead"])}
            assert "SMTPUTF8" in dead["ü@example.com"]
            assert "cannot end with a period" in dead["k@example.com."]
            bounced = app.store.subscriber("mail", "ü@example.com")
            assert bounced is not None and bounced.status == "bounced"
            [status] = push_status(app.store, app.config)
            assert status.summary == "0 queued, 4 sent, 0 failed, 0 unknown, 2 dead"
            assert status.sending == 0
        rcpt = sorted(a for r in smtp.handler.received for a in r.rcpt_tos)
        assert rcpt == ["ok@example.net"] * 2 + ["u@xn--exmple-cua.com"] * 2


def test_a_non_ascii_local_part_goes_by_smtputf8_when_the_server_offers_it(
        tmp_path: Path) -> None:
    with Utf8SmtpServer(smtputf8=True) as smtp:
        config = make_config(tmp_path, smtp.smtp_config())
        with make_app(config) as app:
            app.store.set_subscriber("mail", "ü@exämple.com", "confirmed", T0)
            _queue_items(app, ["ü@exämple.com"], count=1)
            assert dispatch_due(app, now=T0).sent == 1
            # A sign-up's confirmation goes the same way.
            app.store.queue_signup("mail", "jö@example.net", T0)
            dispatch_due(app, now=T0)
            [signup] = app.store.signups()
            assert signup.state == "sent"
    first, second = smtp.handler.received
    assert first.rcpt_tos == ["ü@exämple.com"] and first.message["To"] == "ü@exämple.com"
    assert "Story 0" in first.message["Subject"]
    assert second.rcpt_tos == ["jö@example.net"]


def test_a_sign_up_that_cannot_be_delivered_is_refused_clearly_and_not_retried(
        tmp_path: Path) -> None:
    """Finding 7: the address used to stay pending, and a retry said "sent" when nothing
    was; now the sign-up ends `dead` with the reason and nothing claims it was sent."""
    with Utf8SmtpServer(smtputf8=False) as smtp:
        config = make_config(tmp_path, smtp.smtp_config())
        with make_app(config) as app:
            app.store.queue_signup("mail", "jö@example.net", T0)
            report = dispatch_due(app, now=T0)
            notes = report.target("mail").notes
            assert len(notes) == 1 and "confirmation mail to jö@example.net dead" in notes[0]
            assert "SMTPUTF8" in notes[0]
            [signup] = app.store.signups()
            assert signup.state == "dead"
            [(address, reason)] = list(app.store.signup_errors("mail"))
            assert address == "jö@example.net" and "SMTPUTF8" in reason
            assert dispatch_due(app, now=T0).target("mail").notes == []
    assert smtp.handler.received == []


def test_operators_add_and_import_refuse_bad_addresses_naming_them(tmp_path: Path) -> None:
    with SmtpServer() as smtp:
        path = write_config(tmp_path, f"""  - id: mail
    type: email
    feeds: [office-en]
    from: "Office news <news@example.org>"
    smtp: {{host: 127.0.0.1, port: {smtp.port}, security: none}}
""")
        env = {**os.environ, "SYNDICATOR_DEMO_URL": "http://127.0.0.1:9/",
               "SYNDICATOR_SECRET": SECRET}
        runner = CliRunner(env=env)

        def run(*args: str) -> tuple[int, str, str]:
            result = runner.invoke(cli, ["--config", str(path), *args])
            return result.exit_code, result.stdout, result.stderr

        code, out, err = run("subscribers", "add", "u@exämple.com", "k@example.com.",
                             "(c)x@example.com")
        assert code == 1 and "mail: 1 address(es) added" in out
        lines = err.strip().splitlines()
        assert lines == [
            "not an email address: 'k@example.com.': An email address cannot end with a "
            "period.",
            "not an email address: '(c)x@example.com': The email address contains invalid "
            "characters before the @-sign: '(', ')'."]
        listing = tmp_path / "list.csv"
        listing.write_text('email\nann@example.net\n"@a,@b:k@example.com"\n', encoding="utf-8")
        code, out, err = run("subscribers", "import", str(listing))
        assert code == 1 and "1 address(es) added" in out
        assert "'@a,@b:k@example.com'" in err and len(err.strip().splitlines()) == 1
        code, out, _err = run("subscribers", "list")
        assert sorted(line.split("\t")[0] for line in out.splitlines()) == [
            "ann@example.net", "u@exämple.com"]
        with make_app(load_config(path, env=env)) as app:
            _queue_items(app, ["u@exämple.com"], count=1)
        code, out, err = run("push", "mail")
        assert code == 0 and "mail: 1 sent" in out, err
        code, out, _err = run("push", "--status")
        assert "mail (email): 0 queued, 1 sent, 0 failed, 0 unknown, 0 dead" in out
    [received] = smtp.received
    assert received.rcpt_tos == ["u@xn--exmple-cua.com"]
