"""Config loading: valid shapes, key paths and lines in errors, env secrets, defaults."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from syndicator.config import load_config, parse_config, parse_duration, parse_size
from syndicator.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent

GOOD = """\
site: {title: Test, base_url: "https://feeds.example.org"}
timezone: Europe/Minsk
fetch: {timeout: 20s, delay: 0, per_host: 2, max_bytes: 5MB}
sources:
  - id: news
    url: "https://news.example/en/news/"
    language: en
    schedule: {cron: "*/15 * * * *"}
    list: {item: "article", link: "a@href", next: "a.next@href", max_pages: 3}
  - id: wire
    type: feed
    url: "https://wire.example/feed/"
    fetch: {delay: 5s}
feeds:
  - id: all
    title: All
    sources: [news, wire]
"""


def test_good_config_and_defaults() -> None:
    config = parse_config(GOOD)
    assert config.site.base_url == "https://feeds.example.org/"
    assert config.storage == "sqlite:///syndicator.db"
    news, wire = config.sources
    assert news.schedule.cron == "*/15 * * * *"
    assert news.schedule.interval_seconds == 900
    assert config.fetch_for(news).delay == 0
    assert config.fetch_for(wire).delay == 5
    assert config.fetch_for(wire).max_bytes == 5_000_000
    assert config.fetch_for(wire).timeout == 20
    assert wire.schedule.every == 900  # default every 15 minutes
    assert [f.id for f in config.feeds_for_source("wire")] == ["all"]


@pytest.mark.parametrize(
    ("replace", "path", "line", "words"),
    [
        ("max_pages: 3}", "sources[0].list.bogus", 9, "unknown key"),
        ("per_host: 2", "fetch.per_host", 3, "integer"),
        ("timeout: 20s", "fetch.timeout", 3, "not a duration"),
        ("[news, wire]", "feeds[0].sources[1]", 17, "unknown source 'nope'"),
        ("type: feed", "sources[1].type", 11, "html"),
        ("Europe/Minsk", "timezone", 2, "unknown time zone"),
    ],
)
def test_errors_name_key_path_and_line(replace: str, path: str, line: int | None,
                                       words: str) -> None:
    broken = {
        "max_pages: 3}": GOOD.replace("max_pages: 3}", "max_pages: 3, bogus: 1}"),
        "per_host: 2": GOOD.replace("per_host: 2", "per_host: two"),
        "timeout: 20s": GOOD.replace("timeout: 20s", "timeout: soon"),
        "[news, wire]": GOOD.replace("[news, wire]", "[news, nope]"),
        "type: feed": GOOD.replace("type: feed", "type: rss"),
        "Europe/Minsk": GOOD.replace("Europe/Minsk", "Mars/Olympus"),
    }[replace]
    with pytest.raises(ConfigError) as info:
        parse_config(broken, file="config.yaml")
    error = info.value
    assert error.path == path
    assert error.line == line
    assert words in str(error)
    assert str(error).startswith(f"config.yaml:{line}:{error.column}: {path}: ")


TARGET = "  - {{id: {id}, type: telegram, feeds: [{feeds}], chat_id: 1, token: t}}\n"


@pytest.mark.parametrize(("broken", "path", "words"), [
    (GOOD.replace("id: wire", "id: news"), "sources[1].id", "duplicate source id 'news'"),
    (GOOD + "  - {id: all, title: Again, sources: [wire]}\n", "feeds[1].id",
     "duplicate feed id 'all'"),
    (GOOD + "push:\n" + TARGET.format(id="tg", feeds="all, nope"), "push[0].feeds[1]",
     "unknown feed 'nope' (known: all)"),
    (GOOD + "push:\n" + TARGET.format(id="tg", feeds="all") + TARGET.format(id="tg", feeds=""),
     "push[1].id", "duplicate push target id 'tg'"),
])
def test_duplicate_ids_and_unknown_references_name_their_key_path(broken: str, path: str,
                                                                  words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(broken, file="config.yaml")
    assert info.value.path == path
    assert words in str(info.value)


def test_server_workers_take_a_count_or_auto() -> None:
    assert parse_config(GOOD).server.processes() == 1
    with_server = GOOD + "server: {workers: auto}\n"
    assert parse_config(with_server).server.processes() == len(os.sched_getaffinity(0))
    assert parse_config(GOOD + "server: {workers: 3}\n").server.processes() == 3
    for bad in ("many", "0", "65", "true"):
        with pytest.raises(ConfigError) as info:
            parse_config(GOOD + f"server: {{workers: {bad}}}\n", file="config.yaml")
        assert info.value.path == "server.workers"
        assert "from 1 to 64, or auto" in str(info.value)


def test_jobs_stalled_after_is_bounded_by_the_heartbeat_and_five_minutes() -> None:
    assert parse_config(GOOD).jobs.stalled_after == 15.0
    assert parse_config(GOOD + "jobs: {stalled_after: 1m}\n").jobs.stalled_after == 60.0
    assert parse_config(GOOD + "jobs: {stalled_after: 6}\n").jobs.stalled_after == 6.0
    for bad in ("5s", "301s", "1h"):
        with pytest.raises(ConfigError) as info:
            parse_config(GOOD + f"jobs: {{stalled_after: {bad}}}\n", file="config.yaml")
        assert info.value.path == "jobs.stalled_after"
        assert "from 6 s (three heartbeats) to 300 s" in str(info.value)


def test_html_source_needs_list_block() -> None:
    text = GOOD.replace('    list: {item: "article", link: "a@href", next: "a.next@href", '
                        'max_pages: 3}\n', "")
    with pytest.raises(ConfigError, match=r"sources\[0\].*list"):
        parse_config(text)


def test_env_secrets_are_substituted_and_missing_ones_named() -> None:
    text = GOOD + ("push:\n  - id: tg\n    token: {env: BOT_TOKEN}\n"
                   "    api_url: \"${HOST}/x\"\n    type: telegram\n    feeds: [all]\n"
                   "    chat_id: \"@news\"\n")
    config = parse_config(text, env={"BOT_TOKEN": "123:abc", "HOST": "https://h"})
    target = config.push[0]
    assert target.type == "telegram"
    assert target.token == "123:abc"
    assert target.api_url == "https://h/x"
    assert "123:abc" not in repr(config)  # secrets stay out of reprs and logs
    with pytest.raises(ConfigError) as info:
        parse_config(text, env={"HOST": "https://h"})
    assert "BOT_TOKEN" in str(info.value)
    assert info.value.path == "push[0].token"
    assert info.value.line == 20


def test_yaml_syntax_error_has_line() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("sources:\n  - id: [unclosed\n", file="c.yaml")
    assert info.value.line is not None
    assert "not valid YAML" in str(info.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_relative_storage_resolves_next_to_config(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "config.yaml"
    path.parent.mkdir()
    path.write_text(GOOD)
    config = load_config(path)
    assert config.storage_url == f"sqlite:///{tmp_path / 'sub' / 'syndicator.db'}"
    assert config.output_path == tmp_path / "sub" / "feeds"


def test_units() -> None:
    assert parse_duration("250ms") == 0.25
    assert parse_duration("15m") == 900
    assert parse_duration(3) == 3
    assert parse_size("5MB") == 5_000_000
    assert parse_size("1KiB") == 1024
    with pytest.raises(ValueError):
        parse_duration("-1s")
    with pytest.raises(ValueError):
        parse_size("lots")


def test_repo_config_is_valid() -> None:
    config = load_config(ROOT / "config.yaml")
    languages = {s.language for s in config.sources}
    assert languages == {"en", "ru", "be"}
    assert any(set(f.sources) == {s.id for s in config.sources} for f in config.feeds)


# Every kind of broken selector an operator has written, each under its own key: the config
# loads (a build compiles no selector), and with check_selectors each is reported at once,
# with its key path, line and column, echoed exactly as written.
BROKEN_SELECTORS = """\
sources:
  - id: news
    url: "https://news.example/en/news/"
    list:
      item: ".x[[class="
      link: x@@href
      title: div >> p
      date: ..news
      summary: "{bad}"
      image: img@src
    article:
      remove: [".share", "a[href=", ".ok"]
feeds:
  - {id: all, title: All, sources: [news], include: ["(unclosed", "fine"], exclude: ["*x"]}
push:
  - id: tg
    type: telegram
    feeds: [all]
    chat_id: "@news"
    token: "1:x"
    exclude: ["[a-"]
"""


@pytest.mark.parametrize(("path", "line", "column", "echo"), [
    ("sources[0].list.item", 5, 13, "'.x[[class='"),
    ("sources[0].list.link", 6, 13, "'x@@href'"),
    ("sources[0].list.title", 7, 14, "'div >> p'"),
    ("sources[0].list.date", 8, 13, "'..news'"),
    ("sources[0].list.summary", 9, 16, "'{bad}'"),
    ("sources[0].article.remove[1]", 12, 26, "'a[href='"),
])
def test_validate_names_every_broken_selector(path: str, line: int, column: int,
                                              echo: str) -> None:
    assert parse_config(BROKEN_SELECTORS.split("feeds:")[0]).sources[0].list is not None
    with pytest.raises(ConfigError) as info:
        parse_config(BROKEN_SELECTORS, file="config.yaml", check_selectors=True)
    text = str(info.value)
    assert text.startswith("config.yaml: 9 problems:\n"), text
    entry = next(e for e in text.splitlines() if f": {path}: " in e)
    assert entry.strip().startswith(f"config.yaml:{line}:{column}: {path}: invalid CSS "
                                    f"selector {echo}: "), entry
    assert "image" not in text and ".ok" not in text and "fine" not in text


@pytest.mark.parametrize(("path", "line", "echo", "why"), [
    ("feeds[0].include[0]", 14, "'(unclosed'", "missing ), unterminated subpattern"),
    ("feeds[0].exclude[0]", 14, "'*x'", "nothing to repeat at position 0"),
    ("push[0].exclude[0]", 21, "'[a-'", "unterminated character set"),
])
def test_validate_names_every_broken_regex(path: str, line: int, echo: str, why: str) -> None:
    # Patterns are compiled on every load: a feed must not be built with a broken filter.
    with pytest.raises(ConfigError) as info:
        parse_config(BROKEN_SELECTORS, file="config.yaml")
    text = str(info.value)
    assert text.startswith("config.yaml: 3 problems:\n"), text
    entry = next(e for e in text.splitlines() if f": {path}: " in e)
    assert entry.strip().startswith(f"config.yaml:{line}:"), entry
    assert f"{path}: invalid regular expression {echo}: " in entry and why in entry


def test_a_single_problem_is_one_line_with_its_position() -> None:
    text = GOOD.replace('link: "a@href"', 'link: "a@@href"')
    with pytest.raises(ConfigError) as info:
        parse_config(text, file="config.yaml", check_selectors=True)
    error = info.value
    assert (error.path, error.line, error.column) == ("sources[0].list.link", 9, 35)
    assert str(error) == ("config.yaml:9:35: sources[0].list.link: invalid CSS selector "
                          "'a@@href': more than one `@`; write `css@attribute`, e.g. "
                          "`a.more@href`")


def test_positions_of_block_values_and_missing_keys() -> None:
    text = GOOD.replace("    language: en\n", "    language: en\n    list:\n      link: a\n", 1)
    text = text.replace('    list: {item: "article", link: "a@href", next: "a.next@href", '
                        'max_pages: 3}\n', "")
    with pytest.raises(ConfigError) as info:
        parse_config(text, file="config.yaml")
    # `item` is missing: reported where its mapping is, the `list:` key
    assert (info.value.path, info.value.line, info.value.column) == (
        "sources[0].list.item", 8, 5)


def test_validate_command_lists_every_problem_and_exits_2(tmp_path: Path) -> None:
    from tests.test_cli import run_cli

    config = tmp_path / "config.yaml"
    config.write_text(BROKEN_SELECTORS)
    done = run_cli("--config", str(config), "validate")
    assert done.returncode == 2, done.stdout
    assert "OK" not in done.stdout and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"error: {config}: 9 problems:\n")
    assert f"{config}:6:13: sources[0].list.link: invalid CSS selector 'x@@href'" in done.stderr
    assert f"{config}:7:14: sources[0].list.title: invalid CSS selector 'div >> p'" \
        in done.stderr
    config.write_text(GOOD)
    done = run_cli("--config", str(config), "validate")
    assert done.returncode == 0, done.stderr
    assert "OK: 2 source(s), 1 feed(s)" in done.stdout


@pytest.mark.parametrize(("date_format", "why"), [
    ("%d.%m.%Q", "`%Q` is no strptime directive"),
    ("dd.mm.yyyy", "it has no %-directive"),
])
def test_a_broken_date_format_is_named(date_format: str, why: str) -> None:
    text = GOOD.replace("    language: en\n", f"    language: en\n    date_format: "
                        f"\"{date_format}\"\n", 1)
    with pytest.raises(ConfigError) as info:
        parse_config(text, file="config.yaml")
    assert str(info.value).startswith(f"config.yaml:8:18: sources[0].date_format: date_format "
                                      f"'{date_format}': {why}")
    assert parse_config(GOOD.replace("    language: en\n", "    language: en\n    date_format: "
                                     "\"%d.%m.%Y %H:%M\"\n", 1)).sources[0].date_format
