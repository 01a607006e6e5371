"""What loading the config (and so `syndicator validate`) refuses before anything runs: a
cron line the scheduler could not run, an `@attr` on a selector that picks elements (it
would be ignored). Each error names the key path, the line and column, and what was read."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from syndicator.cli import cli
from syndicator.config import ListSelectors, parse_config
from syndicator.errors import ConfigError
from syndicator.extract import extract_listing
from syndicator.model import Page

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


# --- `@attr` on selectors that pick elements ------------------------------------------------

CARDS = """
sources:
  - id: news
    url: "https://news.example.org/"
    list:
      item: {item}
      title: h2
{article}
"""


@pytest.mark.parametrize(("item", "article", "path", "advice"), [
    ('"a.card@href"', "", "sources[0].list.item",
     "(item: 'a.card', link: '@href')"),
    ('"@href"', "", "sources[0].list.item", "link: '@href'"),
    ("'li > a[data-x=\"@\"]@data-url'", "", "sources[0].list.item",
     "(item: 'li > a[data-x=\"@\"]', link: '@data-url')"),
    ("article.card", "    article: {remove: [.share, aside@class]}",
     "sources[0].article.remove[1]", "write it without `@class`"),
    ("article.card", "    article: {translations: nav.languages@href}",
     "sources[0].article.translations", "write it without `@href`"),
])
def test_an_attribute_on_a_selector_that_picks_elements_is_refused(
        tmp_path: Path, item: str, article: str, path: str, advice: str) -> None:
    text = CARDS.format(item=item, article=article)
    with pytest.raises(ConfigError) as caught:
        parse_config(text, file="config.yaml", check_selectors=True)
    message = str(caught.value)
    assert caught.value.path == path
    assert "this selector picks elements and reads nothing" in message
    assert advice in message

    code, output = validate(tmp_path, text)
    assert code == 2
    assert f"{path}: '" in output and advice in output


def test_the_advice_for_a_card_that_is_a_link_extracts_its_links() -> None:
    """`item: a.card@href` means "the cards are links": `item: a.card` with `link: '@href'`
    reads them (and `list.link`, `list.next` keep their `@attr`)."""
    config = parse_config(CARDS.format(item="a.card", article="").replace(
        "title: h2", "title: h2\n      link: '@data-href'\n      next: 'a.more@data-next'"),
        check_selectors=True)
    selectors = config.sources[0].list
    assert isinstance(selectors, ListSelectors)
    html = ('<html><body><a class="card" href="/x" data-href="/one"><h2>One</h2></a>'
            '<a class="card" href="/y" data-href="/two"><h2>Two</h2></a>'
            '<a class="more" href="/n" data-next="/page/2">more</a></body></html>')
    page = Page(url="https://news.example.org/", final_url="https://news.example.org/",
                status=200, text=html, encoding="utf-8", content_type="text/html")
    listing = extract_listing(page, selectors)
    assert [(a.url, a.title) for a in listing.articles] == [
        ("https://news.example.org/one", "One"), ("https://news.example.org/two", "Two")]
    assert listing.next_url == "https://news.example.org/page/2"
