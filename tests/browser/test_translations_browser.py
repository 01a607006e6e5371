"""The widget shows a story in the partner page's language, in headless Chromium: a combined
feed of the three-language fixture site (tests/translation_site.py), grouped, embedded with
`data-lang="auto"` on partner pages in Belarusian, English and an undeclared language."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from syndicator.app import make_app
from syndicator.cli import build_and_report, run_sources
from syndicator.config import load_config
from syndicator.demo.server import SiteServer
from syndicator.web.cache import FeedCache
from tests.translation_site import LANGUAGES, write_site

from .conftest import Partner, Recorder, _Uvicorn, _web_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def service_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The fixture site fetched as it stood on three days, built and served."""
    tmp = tmp_path_factory.mktemp("stories")
    root = tmp / "site"
    write_site(root, day=1)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    try:
        with SiteServer(root) as site:
            config = load_config(root / "config.yaml", env={"SITE_URL": site.url})
            config = config.model_copy(update={
                "base_dir": tmp, "site": config.site.model_copy(update={"base_url": url})})
            with make_app(config) as app:
                for day in (1, 2, 3):
                    write_site(root, day=day)
                    run_sources(app, [f"site-{lang}" for lang in LANGUAGES],
                                echo=lambda line: None)
                build_and_report(app, echo=lambda line: None)
                cache = FeedCache(config.output_path)
                cache.load_all()
                with _Uvicorn(_web_app(app, cache), sock):
                    yield url
    finally:
        sock.close()


def _partner_page(partner: Partner, service_url: str, lang: str | None, name: str) -> str:
    url = partner.page(name, f'<div id="w" data-syndicator-feed="stories" data-limit="10" '
                             f'data-lang="auto" data-lang-fallback="ru"></div>\n'
                             f'<script src="{service_url}embed.js" async></script>')
    page = partner.root / name
    html = page.read_text(encoding="utf-8")
    declared = f'<html lang="{lang}">' if lang else "<html>"
    page.write_text(html.replace('<html lang="en">', declared, 1), encoding="utf-8")
    return url


def _titles(tab: Any) -> dict[str, str]:
    """The story links the widget shows: title → the language it is marked with."""
    tab.locator("#w li").nth(5).wait_for()
    links = tab.locator("#w li .t > a")
    return {links.nth(i).text_content(): links.nth(i).get_attribute("lang")
            for i in range(links.count())}


def test_the_widget_shows_each_story_in_the_partner_page_language(
        page: tuple[Any, Recorder], service_url: str, partner: Partner) -> None:
    tab, record = page
    tab.goto(_partner_page(partner, service_url, "be", "stories-be.html"))
    belarusian = _titles(tab)
    assert {"Галасы падлічаны", "Форум у Вільні", "Бура на поўначы"} <= set(belarusian)
    # `border` exists in English and Russian only: shown as the feed has it (Russian).
    assert belarusian["Граница открывается"] == "ru"
    # Each story offers its other languages as links.
    vote = tab.locator("#w li", has_text="Галасы падлічаны")
    others = vote.locator(".l a")
    assert sorted(others.all_text_contents()) == ["EN", "RU"]
    assert others.first.get_attribute("hreflang") in ("en", "ru")

    tab.goto(_partner_page(partner, service_url, "en-GB", "stories-en.html"))
    english = _titles(tab)
    assert {"The vote is counted": "en", "The border reopens": "en",
            "A forum in Vilnius": "en", "A storm in the north": "en"}.items() <= english.items()
    assert "Галасы падлічаны" not in english

    # No <html lang>: data-lang-fallback (Russian).
    tab.goto(_partner_page(partner, service_url, None, "stories-none.html"))
    fallback = _titles(tab)
    assert fallback["Голоса подсчитаны"] == "ru"
    assert record.page_errors == [] and record.console_errors == []

