"""Red team: a secret the environment puts into a URL (an API key in a feed's query string,
`url: "https://api.example/news?api_key=${NEWS_KEY}"`; a whole URL whose path is a token,
`url: {env: HOOK_URL}`) is shown as `***` wherever the URL is: `fetch`'s summary and log,
the run errors stored for `status` and /status.json, and `check`. The host and the rest
of the URL stay, so the operator still sees which source failed. Real processes against a
real local server."""

from __future__ import annotations

from pathlib import Path

import pytest

from syndicator.config import parse_config
from syndicator.demo.server import SiteServer
from syndicator.uris import redact
from tests.test_cli import run_cli

KEY = "sk-live-Qm7t2x9"
HOOK = "T0ab/B0cd/zz9Hk3Wq"


def test_a_secret_put_into_a_url_from_the_environment_is_never_shown(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    config = tmp_path / "config.yaml"
    config.write_text(
        "timezone: UTC\nfetch: {delay: 0s, allow_private: true}\n"
        f"storage: sqlite:///{tmp_path / 'items.db'}\noutput_dir: {tmp_path / 'out'}\n"
        "sources:\n"
        '  - {id: wire, type: feed, url: "${SITE}gone.rss?api_key=${NEWS_KEY}&lang=ru"}\n'
        "  - {id: hook, type: feed, url: {env: HOOK_URL}}\n"
        "feeds:\n  - {id: all, title: All, sources: [wire, hook]}\n")
    with SiteServer(tmp_path / "site") as server:
        site = server.url
        env = {"SITE": site, "NEWS_KEY": KEY, "HOOK_URL": f"{site}hooks/{HOOK}"}
        fetched = run_cli("--config", str(config), "-v", "fetch", env=env)
        checked = run_cli("--config", str(config), "check", "wire", env=env)
        status = run_cli("--config", str(config), "status", "--port", "0", env=env)
        as_json = run_cli("--config", str(config), "status", "--json", "--port", "0", env=env)
    assert "HTTP 404" in fetched.stdout + fetched.stderr, fetched.stdout + fetched.stderr
    assert "HTTP 404" in as_json.stdout, as_json.stdout + as_json.stderr
    for done in (fetched, checked, status, as_json):
        shown = done.stdout + done.stderr
        assert KEY not in shown and HOOK not in shown and "zz9Hk3Wq" not in shown, shown
    # Still the URL the operator wrote, with the secret's place marked.
    assert f"{site}gone.rss?api_key=***&lang=ru" in as_json.stdout, as_json.stdout
    assert f"{site}***: HTTP 404" in as_json.stdout, as_json.stdout  # all after its host
    assert f"{site}gone.rss?api_key=***&lang=ru" in checked.stdout, checked.stdout


@pytest.mark.parametrize(("url", "shown"), [
    # The host from the environment is no secret, nor a path shorter than a key.
    ("${BASE}feed.rss", "https://news.example.org/feed.rss"),
    ("https://${HOST}/feed.rss", "https://news.example.org/feed.rss"),
    # A key written percent-encoded in the URL is hidden in that form too.
    ("https://news.example.org/feed?key=${ENCODED}", "https://news.example.org/feed?key=***"),
])
def test_what_the_environment_puts_before_the_path_stays_visible(url: str, shown: str) -> None:
    env = {"BASE": "https://news.example.org/", "HOST": "news.example.org",
           "ENCODED": "Zx|9{q}Tr7"}
    config = parse_config(f'sources:\n  - {{id: s, type: feed, url: "{url}"}}\n', env=env)
    assert redact(f"fetching {config.sources[0].url} failed") == f"fetching {shown} failed"


def test_the_public_base_url_from_the_environment_stays_visible() -> None:
    # Every feed publishes it: hiding its path would only hide "feeds/" in every log line.
    env = {"PUBLIC_URL": "https://news.example.org/public-feeds/"}
    config = parse_config("site: {base_url: {env: PUBLIC_URL}}\n"
                          'sources:\n  - {id: s, type: feed, url: "https://w.example/f"}\n',
                          env=env)
    assert redact(f"wrote {config.site.base_url}all.rss") == (
        "wrote https://news.example.org/public-feeds/all.rss")
