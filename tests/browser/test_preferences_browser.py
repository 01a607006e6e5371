"""The preferences page (the signed link in every mail) in headless Chromium with
JavaScript off: a reader changes their rhythm and adds a language by clicking, and the
choice is stored with their first language still first; then they leave. A confirmation
link's page confirms by its button, not by being opened."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from subscribe_support import NO_SMTP, make_config, serve, subscribed

from syndicator.app import make_app
from syndicator.push.subscribers import confirm_url

from .conftest import screenshot

pytestmark = pytest.mark.browser

def test_preferences_change_by_clicks_without_javascript(browser: Any,
                                                         tmp_path: Path) -> None:
    config = make_config(tmp_path, NO_SMTP, feeds=["office-be", "office-all"])
    with make_app(config) as app, serve(app) as server:
        path = subscribed(app, "eli@example.net", languages=("en", "be"), rhythm="daily")
        context = browser.new_context(java_script_enabled=False)
        requests: list[str] = []
        context.on("request", lambda request: requests.append(request.url))
        try:
            tab = context.new_page()
            answer = tab.goto(f"http://127.0.0.1:{server.port}{path}")
            assert answer is not None and answer.status == 200
            assert answer.headers["referrer-policy"] == "no-referrer"
            boxes = tab.locator("input[name=languages]")
            assert [boxes.nth(i).get_attribute("value") for i in range(boxes.count())] == [
                "en", "be", "ru"]
            tab.locator("input[name=languages][value=ru]").check()
            tab.locator("input[name=rhythm][value=weekly]").check()
            with tab.expect_navigation():
                tab.locator("button[value=save]").click()
            assert "Захавана" in (tab.locator("main").text_content() or "")
            saved = app.store.subscriber("mail", "eli@example.net")
            assert saved is not None
            assert (saved.languages, saved.rhythm) == (("en", "be", "ru"), "weekly")
            screenshot(tab, "preferences-saved")
            with tab.expect_navigation():
                tab.locator("button[value=leave]").click()
            left = app.store.subscriber("mail", "eli@example.net")
            assert left is not None and left.status == "unsubscribed"
            # A confirmation link: opening it shows a button, and the button confirms.
            app.store.set_subscriber("mail", "fin@example.net", "pending", app.clock())
            link = urlsplit(confirm_url(config, "mail", "fin@example.net", app.clock())).path
            answer = tab.goto(f"http://127.0.0.1:{server.port}{link}")
            assert answer is not None and answer.status == 200
            pending = app.store.subscriber("mail", "fin@example.net")
            assert pending is not None and pending.status == "pending"
            with tab.expect_navigation():
                tab.locator("form button").click()
            confirmed = app.store.subscriber("mail", "fin@example.net")
            assert confirmed is not None and confirmed.status == "confirmed"
            screenshot(tab, "confirmed")
        finally:
            context.close()
    # The page loads nothing but itself: no request to another origin to carry the token.
    assert {urlsplit(url).netloc for url in requests} == {f"127.0.0.1:{server.port}"}
