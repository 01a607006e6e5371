"""What loading the config (and so `syndicator validate`) refuses before anything runs: a
cron line the scheduler could not run, an `@attr` on a selector that picks elements (it
would be ignored), a URL that is no http(s) URL or holds user:password@. Each error names
the key path, the line and column, and what was read (never a URL's password). And what it
warns about without failing: a `render: browser` source this machine cannot render."""

from __future__ import annotations

import os
import subprocess
import sys
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
    # A weekday field starting with `*` leaves the day open: both days must match.
    ("0 0 30 2 */2", "it would never run"),
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
    "0 0 30 2 5",     # 30 February never comes, but every Friday of February does
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


# --- URLs ------------------------------------------------------------------------------------

PASSWORD = "S3cr3t-pw-Zq9"


@pytest.mark.parametrize(("url", "why"), [
    (f"https://reader:{PASSWORD}@news.example.org/", "holds user:password@ (not shown)"),
    (f"https://reader:{PASSWORD}@@news.example.org/", "holds user:password@ (not shown)"),
    (f"https://{PASSWORD}@news.example.org/", "holds user:password@ (not shown)"),
    ("https://reader:${NEWS_PW}@news.example.org/", "holds user:password@ (not shown)"),
    (f"https://news.example.org/news list/{PASSWORD}", "holds a space"),
    (f"https://news.example.org/\t{PASSWORD}", "control character"),
    (f"https://news.example.org/\u200b{PASSWORD}", "control character"),
    (f"https://news.example.org\\@{PASSWORD}/", "holds a backslash"),
    (f"ftp://news.example.org/{PASSWORD}", "must be an http:// or https:// URL"),
    (f"javascript:alert(1)//{PASSWORD}", "must be an http:// or https:// URL"),
    (f"file:///etc/{PASSWORD}", "must be an http:// or https:// URL"),
    (f"https:///{PASSWORD}", "must be an http:// or https:// URL"),
    (f"https://news.example.org:99999/{PASSWORD}", "must be an http:// or https:// URL"),
    (f"https://[news.example.org/{PASSWORD}", "must be an http:// or https:// URL"),
])
def test_a_source_url_that_is_no_http_url_or_holds_credentials_is_refused(
        tmp_path: Path, url: str, why: str) -> None:
    text = f"""
sources:
  - id: news
    url: '{url}'
    list: {{item: article, link: a@href}}
"""
    with pytest.raises(ConfigError) as caught:
        parse_config(text, file="config.yaml", env={"NEWS_PW": PASSWORD})
    message = str(caught.value)
    assert message.startswith("config.yaml:4:10: sources[0].url: ") and why in message
    assert PASSWORD not in message and "reader" not in message
    if "user:password" in why:
        assert "headers: {Authorization:" in message

    code, output = validate(tmp_path, text.replace("${NEWS_PW}", "pw"))
    assert code == 2 and "sources[0].url: " in output and PASSWORD not in output


@pytest.mark.parametrize(("block", "path"), [
    ("site: {{base_url: '{url}'}}", "site.base_url"),
    ("websub: {{hub: '{url}'}}", "websub.hub"),
    ("feeds: [{{id: news, title: News, sources: [news], link: '{url}'}}]", "feeds[0].link"),
    ("push: [{{id: tg, type: telegram, feeds: [], chat_id: 1, token: t, api_url: '{url}'}}]",
     "push[0].api_url"),
])
def test_every_url_of_the_config_is_checked_alike(block: str, path: str) -> None:
    text = SOURCE.format(extra=block.format(url=f"https://u:{PASSWORD}@feeds.example.org/"))
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert caught.value.path == path
    assert "holds user:password@ (not shown)" in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_an_iri_is_kept_as_the_uri_it_is_written_as() -> None:
    """Non-ASCII is allowed (an IRI) and kept percent-encoded, the host in IDNA: the form
    the fetcher requests and every published URL takes (uris.uri)."""
    iri = "https://навіны.бел/стужка/?тэг=эканоміка"
    source = parse_config(SOURCE.format(extra="").replace("https://news.example.org/", iri)
                          ).sources[0]
    assert source.url == ("https://xn--80ae5ac4e2c.xn--90ais/%D1%81%D1%82%D1%83%D0%B6%D0%BA%D0%B0/"
                          "?%D1%82%D1%8D%D0%B3=%D1%8D%D0%BA%D0%B0%D0%BD%D0%BE%D0%BC%D1%96%D0%BA%D0%B0")
    plain = "https://news.example.org/news/?page=1&a=%20b"
    text = SOURCE.format(extra="").replace("https://news.example.org/", plain)
    assert parse_config(text).sources[0].url == plain


# --- `render: browser` on this machine -------------------------------------------------------

RENDERED = """
fetch:
  browser: {{executable: "{executable}"}}
sources:
  - id: spa
    url: "https://gazette.example.org/news/"
    render: browser
    list: {{item: article.card, link: "a@href"}}
  - id: plain
    url: "https://news.example.org/"
    list: {{item: article, link: "a@href"}}
feeds:
  - {{id: all, title: All, sources: [spa, plain]}}
"""


def _validate_process(config: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`syndicator validate` in a process of its own (with `env` added)."""
    full = {**os.environ, **env}
    full.pop("SYNDICATOR_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "syndicator", "--config", str(config),
                           "validate"], capture_output=True, text=True, env=full, timeout=120,
                          check=False)


def test_a_rendered_source_without_chromium_is_a_warning_naming_it(tmp_path: Path) -> None:
    """The file is valid (exit 0: it may be checked on another machine than the one that runs
    it), and validate says which source cannot run here, and why."""
    config = tmp_path / "config.yaml"
    config.write_text(RENDERED.format(executable="/nonexistent/chromium"))
    done = _validate_process(config)
    assert done.returncode == 0, done.stderr
    assert "OK: 2 source(s), 1 feed(s)" in done.stdout
    assert ("warning: source 'spa' cannot run on this machine: render: browser needs "
            "Chromium, not found at /nonexistent/chromium (apt-get install chromium, or set "
            "fetch.browser.executable)") in done.stderr
    assert "'plain'" not in done.stderr

    not_a_program = tmp_path / "chromium"
    not_a_program.write_text("#!/bin/sh\n")
    config.write_text(RENDERED.format(executable=not_a_program))
    done = _validate_process(config)
    assert done.returncode == 0, done.stderr
    assert (f"warning: source 'spa' cannot run on this machine: render: browser needs "
            f"Chromium, but {not_a_program} is not executable") in done.stderr


def test_a_rendered_source_without_playwright_is_a_warning_naming_it(tmp_path: Path) -> None:
    """An install without the [browser] extra: `playwright` does not import."""
    blocker = tmp_path / "blocker" / "playwright"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text('raise ImportError("No module named playwright")\n')
    config = tmp_path / "config.yaml"
    config.write_text(RENDERED.format(executable=sys.executable))
    path = os.pathsep.join(p for p in (str(blocker.parent), os.environ.get("PYTHONPATH")) if p)
    done = _validate_process(config, PYTHONPATH=path)
    assert done.returncode == 0, done.stderr
    assert ("warning: source 'spa' cannot run on this machine: render: browser needs "
            "Playwright: pip install 'syndicator[browser]'") in done.stderr


@pytest.mark.skipif(not Path("/usr/bin/chromium").is_file(), reason="needs /usr/bin/chromium")
def test_a_rendered_source_that_can_run_gets_no_warning(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(RENDERED.format(executable="/usr/bin/chromium"))
    done = _validate_process(config)
    assert done.returncode == 0, done.stderr
    assert "OK: 2 source(s)" in done.stdout and "warning" not in done.stderr
