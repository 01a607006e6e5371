"""Language tags in their several spellings are one language: `zh-TW`, `zh-HK` and `zh-MO`
are Traditional Chinese (`zh-Hant`), `zh-CN` and `zh-SG` Simplified (`zh-Hans`), wherever
items, lists and readers' languages are compared (locales.language_key)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from syndicator.app import make_app
from syndicator.config import load_config
from syndicator.demo.server import SiteServer
from syndicator.errors import ChoiceInvalid
from syndicator.locales import language_key
from syndicator.push import dispatch_due
from syndicator.push.languages import choose_languages, list_languages
from syndicator.push.subscribers import add_confirmed, email_target
from syndicator.web.embed_items import best_match
from tests.push_support import SmtpServer, email, fetch, with_targets


@pytest.mark.parametrize(("tag", "key"), [
    ("zh-TW", "zh-Hant"), ("zh_HK", "zh-Hant"), ("zh-MO", "zh-Hant"), ("zh-Hant", "zh-Hant"),
    ("zh-hant-tw", "zh-Hant"), ("zh-CN", "zh-Hans"), ("zh-SG", "zh-Hans"), ("zh", "zh-Hans"),
    ("ZH-Hans", "zh-Hans"), ("be-BY", "be"), ("en-GB", "en"), ("RU", "ru"), ("iw", "he"),
    ("sr-ME", "sr-Latn"), ("sr", "sr-Cyrl"), ("zh-TW-x-mine", "zh-Hant"),
    ("zh-Hant-TW-u-ca-roc", "zh-Hant"), ("xx-YY", "xx"), ("x-default", None), ("", None),
    (None, None), ("english", None)])
def test_language_keys(tag: str | None, key: str | None) -> None:
    assert language_key(tag) == key


@pytest.mark.parametrize(("want", "tags", "chosen"), [
    ("zh-TW", ["zh-Hans", "zh-Hant"], 1), ("zh-Hant", ["zh-Hans", "zh-TW"], 1),
    ("zh-CN", ["zh-Hant", "zh-Hans"], 1), ("zh-HK", ["zh-Hans", "zh-Hant"], 1),
    ("zh-Hant", ["zh-Hant-TW", "zh-Hant"], 1), ("be-BY", ["en", "be"], 1), ("de", ["en"], None)])
def test_the_version_shown_to_a_reader_is_of_their_script(
        want: str, tags: list[str], chosen: int | None) -> None:
    """The embedded frame's choice among a story's versions (static/embed.js makes the
    same): the same tag, else the same language and script, else the same language."""
    assert best_match(want, tags) == chosen


CONFIG = """\
timezone: UTC
fetch: {delay: 0s, allow_private: true}
sources:
  - {id: hant, type: feed, url: "${SITE_URL}hant.xml", language: zh-Hant}
  - {id: tw, type: feed, url: "${SITE_URL}tw.xml", language: zh-TW}
  - {id: cn, type: feed, url: "${SITE_URL}cn.xml", language: zh-CN}
feeds:
  - {id: all, title: "All", sources: [hant, tw, cn], limit: 50}
"""
# hant.xml and cn.xml say their language; tw.xml does not: its items take the source's
# `zh-TW` as it is written.
LANGUAGE = {"hant": "<language>zh-Hant</language>", "tw": "", "cn": "<language>zh-CN</language>"}


def write_feeds(root: Path, day: int) -> None:
    for name, language in LANGUAGE.items():
        entries = "".join(
            f"<item><title>{name} {n}</title><link>https://news.example.org/{name}/{n}</link>"
            f"<guid>{name}-{n}</guid><pubDate>0{n} Jun 2024 10:00:00 GMT</pubDate></item>"
            for n in range(1, day + 1))
        (root / f"{name}.xml").write_text(
            f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>{name}</title><link>https://news.example.org/</link>{language}"
            f"{entries}</channel></rss>", encoding="utf-8")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[SiteServer, Path]]:
    root = tmp_path / "site"
    root.mkdir()
    write_feeds(root, day=1)
    (tmp_path / "config.yaml").write_text(CONFIG, encoding="utf-8")
    with SiteServer(root) as server:
        yield server, tmp_path


def test_readers_of_zh_tw_and_zh_hant_read_the_same_items(
        served: tuple[SiteServer, Path]) -> None:
    server, folder = served
    config = load_config(folder / "config.yaml", env={"SITE_URL": server.url})
    config = config.model_copy(update={"base_dir": folder})
    with SmtpServer() as smtp:
        config = with_targets(config, email("mail", smtp=smtp.smtp_config(), feeds=("all",)))
        offered = list_languages(config, email_target(config, "mail"))
        assert offered == ("zh-Hant", "zh-Hans")
        assert choose_languages("zh-TW", offered) == ("zh-Hant",)
        assert choose_languages("zh-SG, zh-HK", offered) == ("zh-Hans", "zh-Hant")
        with pytest.raises(ChoiceInvalid, match="'ja' is not a language of this list"):
            choose_languages("ja", offered)
        with make_app(config) as app:
            add_confirmed(app.store, config, "mail", [
                ("tw@example.org", choose_languages("zh-TW", offered), None),
                ("hant@example.org", choose_languages("zh-Hant", offered), None),
                ("hans@example.org", choose_languages("zh-CN", offered), None),
                # Stored as it was written before tags were compared by their key.
                ("legacy@example.org", ("zh-TW",), None)], app.clock())
            fetch(app, "hant", "tw", "cn")            # first sight: not mailed
            write_feeds(server.root, day=2)
            fetch(app, "hant", "tw", "cn")
            stored = {item.title: item.language for item in app.store.latest(
                ["hant", "tw", "cn"], limit=10)}
            assert stored["hant 2"] == "zh-Hant" and stored["cn 2"] == "zh-Hans"
            assert stored["tw 2"] == "zh-TW"
            dispatch_due(app)

        def subjects(address: str) -> set[str]:
            return {str(message["Subject"]) for message in smtp.to(address)}

        # A reader of zh-TW gets the zh-Hant items, one of zh-Hant the zh-TW ones.
        for reader in ("tw", "hant", "legacy"):
            assert subjects(f"{reader}@example.org") == {"hant 2", "tw 2"}, reader
        assert subjects("hans@example.org") == {"cn 2"}
