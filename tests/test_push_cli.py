"""`syndicator push` and `syndicator subscribers` as an operator runs them (subprocesses)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from fake_telegram import FakeTelegram
from push_support import SECRET, TOKEN, SmtpServer, fetch, write_config

from syndicator.app import make_app
from syndicator.cli import cli
from syndicator.config import load_config
from syndicator.demo import demo_site_root
from syndicator.demo.server import SiteServer

PUSH = """  - id: tg
    type: telegram
    feeds: [office-en]
    chat_id: "@office_en"
    token: {{env: TG_TOKEN}}
    api_url: "{api}"
    backfill: 3
  - id: mail
    type: email
    feeds: [office-en, office-be, office-ru]
    from: "Office news <news@example.org>"
    smtp: {{host: 127.0.0.1, port: {smtp_port}, security: none}}
"""


@dataclass
class Setup:
    path: Path
    env: dict[str, str]
    tg: FakeTelegram
    folder: Path

    def run(self, *args: str) -> Result:
        """In process (click's runner): fast, same code path as the console script."""
        result = CliRunner(env=self.env).invoke(cli, ["--config", str(self.path), *args])
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Result(result.exit_code, result.stdout, result.stderr)

    def run_process(self, *args: str) -> Result:
        """As a real subprocess: real exit codes, output streams and environment."""
        done = subprocess.run([sys.executable, "-m", "syndicator", "--config", str(self.path),
                               *args], env=self.env, cwd=self.folder, capture_output=True,
                              text=True, timeout=120)
        return Result(done.returncode, done.stdout, done.stderr)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    with SiteServer(demo_site_root()) as site, FakeTelegram(TOKEN) as tg, SmtpServer() as smtp:
        path = write_config(tmp_path, PUSH.format(api=tg.url, smtp_port=smtp.port))
        env = {**os.environ, "SYNDICATOR_DEMO_URL": site.url, "TG_TOKEN": TOKEN,
               "SYNDICATOR_SECRET": SECRET}
        with make_app(load_config(path, env=env)) as app:
            fetch(app, "office-en")
        yield Setup(path, env, tg, tmp_path)


def test_push_dry_run_send_status_pause_resume(setup: Setup) -> None:
    dry = setup.run("push", "--dry-run", "tg")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.count("--- ") == 3 and "sendPhoto to @office_en" in dry.stdout
    assert "<b><a href=" in dry.stdout and "#News" in dry.stdout
    assert setup.tg.accepted == [] and setup.tg.requests == []      # nothing sent

    sent = setup.run("push", "tg")
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.startswith("tg: 3 sent, 0 edited, 0 failed, 0 unknown, 0 dead")
    assert len(setup.tg.accepted) == 3

    status = setup.run("push", "--status")
    assert "tg (telegram): 0 queued, 3 sent, 0 failed, 0 unknown, 0 dead" in status.stdout
    assert "mail (email): 0 queued" in status.stdout

    sample = setup.run("push", "--dry-run", "tg")
    assert "nothing queued: the newest item as an example" in sample.stdout

    assert TOKEN not in sent.stdout + sent.stderr + status.stdout + dry.stdout


def test_a_paused_target_is_reported_and_resumed(setup: Setup) -> None:
    setup.tg.kicked.add("@office_en")
    failed = setup.run_process("push")
    assert failed.returncode == 1
    assert "PAUSED: 403 Forbidden: bot was kicked from the channel chat" in failed.stdout
    status = setup.run("push", "--status")
    assert "3 queued" in status.stdout and "PAUSED: 403 Forbidden" in status.stdout
    setup.tg.kicked.clear()
    assert setup.run("push", "--resume", "tg").returncode == 0
    again = setup.run("push", "tg")
    assert again.returncode == 0 and "tg: 3 sent" in again.stdout


def test_unknown_targets_and_misuse_exit_2(setup: Setup) -> None:
    unknown = setup.run_process("push", "nope")
    assert unknown.returncode == 2 and "unknown push target 'nope'" in unknown.stderr
    assert setup.run("push", "--dry-run").returncode == 2


def test_subscribers_add_import_list_remove(setup: Setup) -> None:
    csv = setup.folder / "list.csv"
    csv.write_text("name,email\nAda,ada@Example.NET\nBob,bob@example.net\nX,not-an-address\n",
                   encoding="utf-8")
    imported = setup.run("subscribers", "import", str(csv))
    assert imported.returncode == 1                     # one bad row, reported
    assert "mail: 2 address(es) added" in imported.stdout
    assert "not an email address: 'not-an-address'" in imported.stderr
    assert setup.run("subscribers", "add", "cy@example.org", "--target", "mail").returncode == 0
    listed = setup.run("subscribers", "list")
    lines = sorted(line.split("\t")[:2] for line in listed.stdout.splitlines())
    assert lines == [["ada@example.net", "confirmed"], ["bob@example.net", "confirmed"],
                     ["cy@example.org", "confirmed"]]
    removed = setup.run("subscribers", "remove", "bob@example.net", "nobody@example.org")
    assert "1 address(es) removed" in removed.stdout and "not subscribed" in removed.stderr
    assert "bob@" not in setup.run("subscribers", "list").stdout
    dry = setup.run("push", "--dry-run", "mail")
    assert dry.returncode == 0 and "Subject: " in dry.stdout and "Unsubscribe: " in dry.stdout
    assert setup.run("subscribers", "list", "--target", "tg").returncode == 2


def test_subscribers_choose_their_languages(setup: Setup) -> None:
    csv = setup.folder / "readers.csv"
    csv.write_text('email,languages\nada@example.net,"be, en"\nbob@example.net,\n',
                   encoding="utf-8")
    assert setup.run("subscribers", "import", str(csv)).returncode == 0
    assert setup.run("subscribers", "add", "cy@example.org", "--languages", "ru").returncode == 0
    listed = sorted(line.split("\t")[::3] for line in setup.run(
        "subscribers", "list").stdout.splitlines())
    assert listed == [["ada@example.net", "be,en"], ["bob@example.net", "all"],
                      ["cy@example.org", "ru"]]
    # Adding an address again changes its languages only when they are given.
    assert setup.run("subscribers", "add", "ada@example.net").returncode == 0
    assert setup.run("subscribers", "add", "cy@example.org", "--languages", "all").returncode == 0
    listed = sorted(line.split("\t")[::3] for line in setup.run(
        "subscribers", "list").stdout.splitlines())
    assert listed == [["ada@example.net", "be,en"], ["bob@example.net", "all"],
                      ["cy@example.org", "all"]]
    misuse = setup.run("subscribers", "add", "dee@example.org", "--languages", "english")
    assert misuse.returncode == 2 and "'english' is not a language of" in misuse.stderr


def test_subscribers_add_checks_the_languages_as_the_form_does(setup: Setup) -> None:
    """--languages is checked against the list's languages by the forms' own check: a
    language the list does not publish in is refused, naming it and the list's."""
    refused = setup.run_process("subscribers", "add", "dee@example.org", "--languages",
                                "be,de")
    assert refused.returncode == 2
    assert "--languages" in refused.stderr
    assert "'de' is not a language of this list (en, ru, be)" in refused.stderr
    assert setup.run("subscribers", "list").stdout == ""          # nobody was added
    # Tags in other spellings are the list's languages: be-BY is be, RU is ru.
    added = setup.run("subscribers", "add", "dee@example.org", "--languages", "be-BY; RU")
    assert added.returncode == 0, added.stderr
    [line] = setup.run("subscribers", "list").stdout.splitlines()
    assert line.split("\t")[3] == "be,ru"
    # An import's languages column is checked the same way, naming the file and line.
    csv = setup.folder / "readers.csv"
    csv.write_text("email,languages\nada@example.net,en\nbob@example.net,fr en\n",
                   encoding="utf-8")
    imported = setup.run("subscribers", "import", str(csv))
    assert imported.returncode != 0
    assert (f"{csv}, line 3, languages: 'fr' is not a language of this list (en, ru, be)"
            in imported.stderr)
    assert "ada@" not in setup.run("subscribers", "list").stdout


def test_an_address_in_other_capitals_is_the_subscriber_there(setup: Setup) -> None:
    assert setup.run("subscribers", "add", "Ann@example.org").returncode == 0
    assert setup.run("subscribers", "add", "ANN@example.org", "--rhythm", "weekly"
                     ).returncode == 0
    [line] = setup.run("subscribers", "list").stdout.splitlines()
    assert line.split("\t")[0] == "Ann@example.org" and line.split("\t")[4] == "weekly"
    removed = setup.run("subscribers", "remove", "ann@example.org")
    assert removed.returncode == 0 and "1 address(es) removed" in removed.stdout
    assert setup.run("subscribers", "list").stdout == ""


def test_subscribers_choose_their_rhythm(setup: Setup) -> None:
    csv = setup.folder / "rhythms.csv"
    csv.write_text("email,rhythm\nada@example.net,weekly\nbob@example.net,\n", encoding="utf-8")
    assert setup.run("subscribers", "import", str(csv)).returncode == 0
    assert setup.run("subscribers", "add", "cy@example.org", "--rhythm", "daily").returncode == 0

    def rhythms() -> list[list[str]]:
        return sorted([line.split("\t")[0], line.split("\t")[4]]
                      for line in setup.run("subscribers", "list").stdout.splitlines())

    assert rhythms() == [["ada@example.net", "weekly"], ["bob@example.net", "item (default)"],
                         ["cy@example.org", "daily"]]
    # Adding again keeps the rhythm unless one is given; `default` gives back the target's.
    assert setup.run("subscribers", "add", "ada@example.net").returncode == 0
    assert setup.run("subscribers", "add", "cy@example.org", "--rhythm", "default").returncode == 0
    assert rhythms() == [["ada@example.net", "weekly"], ["bob@example.net", "item (default)"],
                         ["cy@example.org", "item (default)"]]
    misuse = setup.run("subscribers", "add", "dee@example.org", "--rhythm", "hourly")
    assert misuse.returncode == 2 and "hourly" in misuse.stderr
    csv.write_text("email,rhythm\nada@example.net,monthly\n", encoding="utf-8")
    bad = setup.run("subscribers", "import", str(csv))
    assert bad.returncode == 2 and "rhythms.csv, line 2, rhythm: 'monthly'" in bad.stderr
