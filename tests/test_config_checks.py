"""What loading the config (and so `syndicator validate`) refuses before anything runs: a
cron line the scheduler could not run. Each error names the key path, the line and column,
and what was read."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from syndicator.cli import cli
from syndicator.config import parse_config
from syndicator.errors import ConfigError

SOURCE = """
sources:
  - id: news
    url: "https://news.example.org/"
    list: {{item: article, link: a@href}}
{extra}
"""


def validate(tmp_path: Path, text: str) -> tuple[int, str]:
    """`syndicator validate` of `text`: its exit code and what it printed."""
    path = tmp_path / "config.yaml"
    path.write_text(text)
    result = CliRunner().invoke(cli, ["--config", str(path), "validate"])
    return result.exit_code, result.output


# --- cron lines ------------------------------------------------------------------------------

@pytest.mark.parametrize(("line", "why"), [
    ("61 * * * *", "higher than the maximum value (59)"),
    ("0 25 * * *", "higher than the maximum value (23)"),
    ("0 0 0 * *", "lower than the minimum value (1)"),
    ("0 9 * * 8", "day of week out of range"),
    ("*/0 * * * *", "Increment must be higher than 0"),
    ("0 0 30 2 *", "it would never run"),
    ("*/15 * * *", "needs five fields"),
    ("0 7 * * * *", "needs five fields"),
    ("0 0 L * *", 'Unrecognized expression "L"'),
])
def test_a_cron_line_the_scheduler_cannot_run_is_a_config_error(
        tmp_path: Path, line: str, why: str) -> None:
    text = SOURCE.format(extra=f'    schedule: {{cron: "{line}"}}')
    with pytest.raises(ConfigError) as caught:
        parse_config(text, file="config.yaml")
    message = str(caught.value)
    assert caught.value.path == "sources[0].schedule.cron"
    assert message.startswith("config.yaml:6:")
    assert f"invalid cron schedule '{line}'" in message and why in message

    code, output = validate(tmp_path, text)
    assert code == 2
    assert "sources[0].schedule.cron: invalid cron schedule" in output and line in output


def test_a_digest_cron_line_is_checked_too(tmp_path: Path) -> None:
    text = SOURCE.format(extra="""
feeds:
  - {id: all, title: All, sources: [news]}
secret_key: "k"
push:
  - id: digest
    type: email
    feeds: [all]
    mode: digest
    schedule: {cron: "0 7 31 4 *"}
    smtp: {host: 127.0.0.1}
    from: "news@example.org"
""")
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert caught.value.path == "push[0].schedule.cron"
    assert "invalid cron schedule '0 7 31 4 *'" in str(caught.value)


@pytest.mark.parametrize("line", [
    "*/15 * * * *", "30 6 * * 1-5", "0 9 * * 7", "0 9 * * sat", "0 0 29 2 *",
    "0 8-18/2 * * mon-fri", "5 4 1,15 jan,jul *",
])
def test_a_cron_line_the_scheduler_runs_loads(tmp_path: Path, line: str) -> None:
    text = SOURCE.format(extra=f'    schedule: {{cron: "{line}", jitter: 30s}}')
    config = parse_config(text)
    assert config.sources[0].schedule.cron == line
    code, output = validate(tmp_path, text)
    assert code == 0 and "OK: 1 source(s)" in output
