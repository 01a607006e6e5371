"""The command line as a user runs it: real subprocesses, real exit codes and messages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ)
    full_env.pop("SYNDICATOR_CONFIG", None)  # the developer's own setting must not leak in
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "syndicator", *args], cwd=cwd or ROOT,
                          env=full_env, capture_output=True, text=True, timeout=timeout,
                          check=False)


def test_validate_ok_on_repo_config() -> None:
    done = run_cli("validate")
    assert done.returncode == 0, done.stderr
    assert "OK: 4 source(s), 5 feed(s)" in done.stdout


def test_validate_error_names_key_path_and_line(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(
        "sources:\n"
        "  - id: a\n"
        "    url: https://a.example/\n"
        "    list: {item: x, link: a@href}\n"
        "  - id: b\n"
        "    url: https://b.example/\n"
        "    list:\n"
        "      item: article\n"
        "      date: [not, a, string]\n"
    )
    done = run_cli("--config", str(config), "validate")
    assert done.returncode == 2
    assert "bad.yaml:9:7: sources[1].list.date: " in done.stderr
    assert "Traceback" not in done.stderr


def test_validate_warns_when_stalled_after_breaks_the_30_s_failover(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    base = "sources: []\nfeeds:\n  - {id: f, title: F, sources: []}\n"
    config.write_text(base + "jobs: {stalled_after: 27s}\n")
    done = run_cli("--config", str(config), "validate")
    assert done.returncode == 0 and "warning" not in done.stderr, done.stderr
    config.write_text(base + "jobs: {stalled_after: 28s}\n")
    done = run_cli("--config", str(config), "validate")
    assert done.returncode == 0, done.stderr
    assert ("warning: jobs.stalled_after: 28 s, plus a sweep (2 s) and a look for jobs (1 s), "
            "lets the jobs of a killed instance wait up to 31 s") in done.stderr, done.stderr


def test_migrate_brings_a_new_store_to_the_head_and_exits(tmp_path: Path) -> None:
    import sqlite3

    from syndicator.store.database import HEAD_REVISION

    config = tmp_path / "config.yaml"
    config.write_text('storage: "sqlite:///state/news.db"\nsources: []\nfeeds: []\n')
    done = run_cli("--config", str(config), "migrate")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"sqlite database 'news.db': schema at revision {HEAD_REVISION}\n"
    with sqlite3.connect(tmp_path / "state" / "news.db") as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (HEAD_REVISION,)]
    again = run_cli("--config", str(config), "migrate")      # at the head: nothing to do
    assert again.returncode == 0 and again.stdout == done.stdout



def test_build_prune_removed_builds_every_feed_and_refuses_feed(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text('storage: "sqlite:///news.db"\noutput_dir: feeds\nsources: []\n'
                      'feeds: [{id: news, title: News, sources: []}]\n')
    misuse = run_cli("--config", str(config), "build", "--prune-removed", "--feed", "news")
    assert misuse.returncode != 0 and "--prune-removed" in misuse.stderr
    done = run_cli("--config", str(config), "build", "--prune-removed")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "feeds" / "news.rss").exists()


@pytest.mark.postgres
def test_a_schema_newer_than_this_version_is_refused_not_waited_for(tmp_path: Path) -> None:
    """After an upgrade's `migrate`, an instance of the old version exits at once naming the
    problem: waiting for the database (as in an outage) would never end."""
    from sqlalchemy import create_engine, text

    from tests.postgres_support import postgres_database

    for url in postgres_database():
        config = tmp_path / "config.yaml"
        config.write_text(f'storage: "{url}"\nsources: []\nfeeds: []\n')
        assert run_cli("--config", str(config), "migrate").returncode == 0
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        engine.dispose()
        for command in (["migrate"], ["run", "--port", "0"], ["worker"]):
            done = run_cli("--config", str(config), *command, timeout=60)
            assert done.returncode == 1, (command, done.stderr)
            assert "cannot migrate the schema: Can't locate revision identified by '9999'" in \
                done.stderr, (command, done.stderr)
            assert "Traceback" not in done.stderr and "unavailable" not in done.stderr

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
PASSWORD = "Tr0ub4dor&3-horse"
DSN = "postgresql+psycopg://news:S3cretPw@db.internal:5432/news"


@pytest.mark.parametrize("mistake", [
    f"server: {{port: \"{TOKEN}\"}}",                       # a token in a typed field
    f"server: {{port: \"{PASSWORD}\"}}",
    "server: {port: 73109182}",                                 # a numeric secret, too big
    f"timezone: [\"{DSN}\"]",                                 # a DSN where text belongs
    f"storage: {{url: \"{DSN}\"}}",
    f"push:\n  - {{id: t, type: telegram, feeds: [f], chat_id: \"@c\", token: {{env: {TOKEN}}}}}",
    f"push:\n  - {{id: t, type: telegram, feeds: [f], chat_id: \"@c\", token: [\"{TOKEN}\"]}}",
    "push:\n  - {id: t, type: email, feeds: [f], smtp: {host: h, password: 73109182}}",
])
def test_validate_never_prints_a_secret(tmp_path: Path, mistake: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"sources: []\nfeeds:\n  - {{id: f, title: F, sources: []}}\n{mistake}\n")
    done = run_cli("--config", str(config), "validate")
    assert done.returncode == 2, done.stdout
    output = done.stdout + done.stderr
    assert "config.yaml:" in done.stderr and "Traceback" not in output
    for secret in (TOKEN, TOKEN.split(":")[1], PASSWORD, "S3cretPw", "73109182"):
        assert secret not in output, output


def test_config_from_environment_variable(tmp_path: Path) -> None:
    done = run_cli("validate", env={"SYNDICATOR_CONFIG": str(tmp_path / "missing.yaml")})
    assert done.returncode == 2
    assert "missing.yaml" in done.stderr and "not found" in done.stderr


def test_unknown_source_and_command_misuse_exit_2() -> None:
    done = run_cli("fetch", "no-such-source")
    assert done.returncode == 2
    assert "unknown source 'no-such-source'" in done.stderr
    assert run_cli("frobnicate").returncode == 2
    assert run_cli("check").returncode == 2  # SOURCE_ID is required


def test_every_command_has_help_and_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    done = run_cli("--help")
    assert done.returncode == 0
    commands = [line.split()[0] for line in done.stdout.split("Commands:")[1].splitlines()
                if line.strip()]
    assert {"validate", "fetch", "build", "check", "demo"} <= set(commands)
    for command in commands:
        assert run_cli(command, "--help").returncode == 0
        assert f"syndicator {command}" in readme, f"README does not mention `syndicator {command}`"


@pytest.mark.slow
def test_demo_once_runs_offline_prints_feeds_and_exits(tmp_path: Path) -> None:
    done = run_cli("demo", "--once", "--output", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "office-en: ok" in done.stdout
    for feed in ("office-en", "office-ru", "office-be", "office-all"):
        for ext in ("rss", "atom", "json"):
            assert (tmp_path / "feeds" / f"{feed}.{ext}").stat().st_size > 1000
    assert (tmp_path / "feeds" / "index.html").exists()
    assert str(tmp_path / "feeds") in done.stdout
