"""The server's own pages in Chromium: /status on a phone's width, and the published
index.html's inline copy script allowed by the hashes of its Content-Security-Policy."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import Recorder, Service, screenshot

PHONE = {"width": 360, "height": 740}


def test_status_fits_a_narrow_screen(page: tuple[Any, Recorder], service: Service) -> None:
    tab, record = page
    tab.set_viewport_size(PHONE)
    tab.goto(service.url + "status")
    assert tab.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # Each source is a card whose cells say what they are.
    labelled = tab.locator("table.cards td[data-label='Last run']")
    assert labelled.count() == len(service.config.sources)
    label = labelled.first.evaluate("cell => getComputedStyle(cell, '::before').content")
    assert label == '"Last run"'
    assert record.page_errors == [] and record.console_errors == []
    screenshot(tab, "status-narrow")


def test_published_index_copy_button_works_under_its_policy(
        page: tuple[Any, Recorder], service: Service) -> None:
    tab, record = page
    tab.goto(service.url + "index.html")
    button = tab.locator("button[data-copy]").first
    button.click()
    tab.wait_for_function(
        "() => document.querySelector('button[data-copy]').textContent === 'Copied'")
    assert record.console_errors == []          # no inline script or style refused
    assert tab.locator("main h1").evaluate("h => getComputedStyle(h).fontSize") != "32px"
