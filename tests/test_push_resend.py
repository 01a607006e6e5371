"""`syndicator push --resend / --mark-sent`: the operator's decision on deliveries whose
outcome is unknown (a request with no answer) or that were given up (dead), by the ids
`syndicator push --status` lists; against the strict fake Telegram and a real SMTP server,
on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fake_telegram import FakeTelegram
from push_support import SECRET, TOKEN, SmtpServer, copy_demo_site, fetch, write_config
from test_push_cli import Setup

from syndicator.app import make_app
from syndicator.config import load_config
from syndicator.demo.server import SiteServer

CHAT = "@office_en"
ADA = "ada@example.net"
# Read timeouts of 1 s; the stalled answers come 3 s after the request, so that the request
# in flight is recorded `unknown` while the message still arrives.
PUSH = """  - id: tg
    type: telegram
    feeds: [office-en]
    chat_id: "{chat}"
    token: {{env: TG_TOKEN}}
    api_url: "{api}"
    backfill: 3
    timeout: 1s
  - id: mail
    type: email
    feeds: [office-en]
    from: "Office news <news@example.org>"
    smtp: {{host: 127.0.0.1, port: {smtp_port}, security: none, timeout: 1s}}
    backfill: 2
"""
STALL = 3.0


class Operator(Setup):
    smtp: SmtpServer

    def listed(self, state: str) -> list[int]:
        """The ids `push --status` lists in `state`."""
        status = self.run("push", "--status")
        assert status.returncode == 0, status.stderr
        return [int(n) for n in re.findall(rf"^  id (\d+): {state}\b", status.stdout, re.M)]


@pytest.fixture
def operator(db_url: str, tmp_path: Path) -> Iterator[Operator]:
    """The demo site's config with the targets above, its store on db_url's database
    (SQLite, PostgreSQL), a subscriber, and the first poll done: 3 posts and 2 mails
    queued."""
    with (SiteServer(copy_demo_site(tmp_path)) as site, FakeTelegram(TOKEN) as tg,
          SmtpServer() as smtp):
        path = write_config(tmp_path, PUSH.format(chat=CHAT, api=tg.url, smtp_port=smtp.port))
        path.write_text(re.sub(r"^storage: .*$", f'storage: "{db_url}"', path.read_text(),
                               flags=re.M))
        env = {**os.environ, "SYNDICATOR_DEMO_URL": site.url, "TG_TOKEN": TOKEN,
               "SYNDICATOR_SECRET": SECRET}
        made = Operator(path, env, tg, tmp_path)
        made.smtp = smtp
        assert made.run("subscribers", "add", ADA).returncode == 0
        with make_app(load_config(path, env=env)) as app:
            fetch(app, "office-en")
        yield made


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Wait for something another thread does (a stalled answer arriving), generously."""
    deadline = time.monotonic() + STALL + 30
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.05)


def test_unknown_and_dead_telegram_posts_are_listed_then_marked_sent_or_resent(
        operator: Operator) -> None:
    tg = operator.tg
    # Of the three queued posts: the first is refused for good, the second's answer comes
    # after the read timeout, the third goes out.
    tg.fail_next(CHAT, 400, "Bad Request: message is too long")
    tg.stall_next(0)
    tg.stall_next(STALL)
    pushed = operator.run_process("push", "tg")
    assert pushed.returncode == 1, pushed.stderr                      # a dead delivery
    assert pushed.stdout.startswith("tg: 1 sent, 0 edited, 0 failed, 1 unknown, 1 dead")

    status = operator.run("push", "--status")
    assert "tg (telegram): 0 queued, 1 sent, 0 failed, 1 unknown, 1 dead" in status.stdout
    [unknown], [dead] = operator.listed("unknown"), operator.listed("dead")
    unknown_line = next(line for line in status.stdout.splitlines()
                        if line.startswith(f"  id {unknown}: unknown, "))
    assert re.search(r", \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC: .+ <http://127\.0\.0\.1:\d+/en/"
                     r"events/news/\w+\.html>$", unknown_line), unknown_line
    assert "[400 Bad Request: message is too long]" in status.stdout
    assert "syndicator push --resend ID..." in status.stdout
    assert TOKEN not in status.stdout

    # The operator looks at the chat: the stalled post did arrive.
    wait_until(lambda: len(tg.accepted) == 2, "the stalled post")
    # Ids that do not exist or are not unknown/failed/dead: refused, named, nothing changed.
    refused = operator.run_process("push", "--mark-sent", str(unknown), "9999", "99999999999")
    assert refused.returncode == 1
    assert "delivery 9999 does not exist" in refused.stderr and "nothing changed" in refused.stderr
    assert "delivery 99999999999 does not exist" in refused.stderr
    assert operator.listed("unknown") == [unknown]
    marked = operator.run_process("push", "--mark-sent", str(unknown))
    assert marked.returncode == 0, marked.stderr
    assert f"id {unknown} (tg, was unknown): marked sent" in marked.stdout
    again = operator.run("push", "--resend", str(unknown))
    assert again.returncode == 1 and f"delivery {unknown} is sent" in again.stderr

    # The dead one goes out again on the next push, once.
    resent = operator.run("push", "--resend", str(dead))
    assert resent.returncode == 0 and f"id {dead} (tg, was dead): queued again" in resent.stdout
    assert operator.run("push", "tg").stdout.startswith("tg: 1 sent, 0 edited")
    assert len(tg.accepted) == 3
    assert len({m.text for m in tg.accepted}) == 3                    # three different posts
    final = operator.run("push", "--status")
    assert "tg (telegram): 0 queued, 3 sent, 0 failed, 0 unknown, 0 dead" in final.stdout
    assert "  id " not in final.stdout and "--resend" not in final.stdout
    assert operator.run("push", "tg").stdout.startswith("tg: 0 sent")   # nothing doubled


def test_an_unknown_mail_is_resent_after_the_operator_checked(operator: Operator) -> None:
    smtp = operator.smtp
    smtp.stall_next(STALL)
    pushed = operator.run("push", "mail")
    assert pushed.returncode == 0, pushed.stderr
    assert pushed.stdout.startswith("mail: 1 sent, 0 edited, 0 failed, 1 unknown, 0 dead")
    [unknown] = operator.listed("unknown")
    status = operator.run("push", "--status", "mail").stdout
    assert f"  id {unknown}: unknown to {ADA}, " in status
    assert "tg (telegram)" not in status                   # only the target asked for
    title = re.search(rf"^  id {unknown}: unknown to \S+, [^:]+:\d\d:\d\d UTC: (.+) <",
                      status, re.M)
    assert title is not None, status
    # The operator finds it missing from the mailbox (the server dropped it with the
    # connection) and has it sent again.
    resent = operator.run_process("push", "--resend", str(unknown))
    assert resent.returncode == 0, resent.stderr
    assert f"id {unknown} (mail to {ADA}, was unknown): queued again" in resent.stdout
    assert operator.run("push", "mail").stdout.startswith("mail: 1 sent")
    assert operator.listed("unknown") == []
    assert "mail (email): 0 queued, 2 sent, 0 failed, 0 unknown" in operator.run(
        "push", "--status").stdout
    subjects = [str(m["Subject"]) for m in smtp.to(ADA)]
    assert len(subjects) == 2 and any(title.group(1) in s for s in subjects), subjects
    assert operator.run("push", "mail").stdout.startswith("mail: 0 sent")   # nothing doubled


def test_misuse_of_resend_and_mark_sent_exits_2(operator: Operator) -> None:
    for args, message in [
            (("--resend",), "need the ids of the deliveries"),
            (("--mark-sent", "12x"), "'12x' is not a delivery id"),
            (("--resend", "0"), "'0' is not a delivery id"),
            (("--resend", "--mark-sent", "1"), "--resend and --mark-sent go alone"),
            (("--resend", "--status", "1"), "--resend and --mark-sent go alone"),
            (("tg", "mail"), "one TARGET_ID at most")]:
        result = operator.run_process("push", *args)
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)
    assert operator.tg.requests == [] and operator.smtp.received == []
