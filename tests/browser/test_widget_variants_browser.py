"""The widget picks a story's version by the whole language tag before its language, in
headless Chromium: a story told in simplified and traditional Chinese and in Belarusian,
shown on a partner page with `data-lang` zh-Hant, zh-Hans and be-BY. The partner serves a
copy of embed.js and the JSON Feed itself (the widget reads the feed next to its script)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

import syndicator.web

from .conftest import Partner, Recorder, screenshot

pytestmark = pytest.mark.browser

SCRIPT = Path(syndicator.web.__file__).parent / "static" / "embed.js"
FEED = {"version": "https://jsonfeed.org/version/1.1", "title": "Variants",
        "language": "zh-Hans", "items": [{
            "id": "1", "url": "https://news.example/hans", "title": "简体标题",
            "language": "zh-Hans", "date_published": "2026-03-01T10:00:00Z",
            "_syndicator": {"links": [
                {"rel": "alternate", "language": "zh-Hant", "url": "https://news.example/hant",
                 "title": "繁體標題"},
                {"rel": "alternate", "language": "be", "url": "https://news.example/be",
                 "title": "Беларуская версія"}]}}]}


def test_widget_shows_the_version_of_the_readers_script_and_region(
        page: tuple[Any, Recorder], partner: Partner) -> None:
    tab, record = page
    folder = partner.root / "variants"
    folder.mkdir(exist_ok=True)
    shutil.copy(SCRIPT, folder / "embed.js")
    (folder / "variants.json").write_text(json.dumps(FEED, ensure_ascii=False),
                                          encoding="utf-8")
    langs = {"hant": "zh-Hant", "hans": "zh-Hans", "by": "be-BY", "ru": "ru-RU"}
    body = "".join(f'<div id="{key}" data-syndicator-feed="variants" data-lang="{lang}">'
                   "</div>\n" for key, lang in langs.items())
    tab.goto(partner.page("variants/page.html",
                          body + f'<script src="{partner.url}variants/embed.js" async></script>'))
    for key in langs:
        tab.locator(f"#{key} li a").first.wait_for()
    shown = {key: tab.locator(f"#{key} li a").first.text_content() for key in langs}
    assert shown == {"hant": "繁體標題", "hans": "简体标题", "by": "Беларуская версія",
                     "ru": "简体标题"}
    assert tab.locator("#hant li a").first.get_attribute("lang") == "zh-Hant"
    assert record.page_errors == []
    screenshot(tab, "widget-variants")
