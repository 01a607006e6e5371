"""The subscription pages while the store is down, over real HTTP to the real web app on
the machine's PostgreSQL reached through a TCP proxy (stopped: the outage): 503 with a
one-line reason (the feed previews and queries too), and one log line for the outage
rather than one per request."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from subscribe_support import NO_SMTP, form_token, get, make_config, post_form, serve, subscribed

from syndicator.app import make_app
from tests.pgproxy import PgProxy
from tests.test_store_outage import relayed_url  # noqa: F401  (the fixture)

pytestmark = pytest.mark.postgres


def test_pages_answer_503_and_the_outage_is_one_line(
        relayed_url: tuple[str, PgProxy], tmp_path: Path,  # noqa: F811
        caplog: pytest.LogCaptureFixture) -> None:
    url, relay = relayed_url
    config = make_config(tmp_path, NO_SMTP, signups={"per_ip": 1000, "per_target": 1000})
    config = config.model_copy(update={"storage": url})
    with make_app(config) as app, serve(app) as server:
        link = subscribed(app, "ann@example.net")
        page = get(server.port, link)[1]
        link_token = form_token(page)
        token = form_token(get(server.port, "/subscribe/mail")[1])
        embed_token = form_token(get(server.port, "/embed/subscribe?target=mail&lang=en")[1])
        feed = config.feeds[0].id
        caplog.clear()
        caplog.set_level(logging.INFO)
        relay.stop()
        for n in range(20):
            status, page = get(server.port, link)
            assert status == 503 and "We could not read your subscription." in page
            status, _h, page = post_form(server.port, link, {
                "form_token": link_token, "action": "save", "rhythm": "daily"})
            assert status == 503
            status, _h, page = post_form(server.port, "/subscribe/mail",
                                         {"email": f"r{n}@example.net", "form_token": token})
            assert status == 503 and "We could not record your subscription." in page
            status, _h, page = post_form(server.port, "/embed/subscribe", {
                "target": "mail", "lang": "en", "email": f"e{n}@example.net",
                "form_token": embed_token})
            assert status == 503
            status, page = get(server.port, f"/feeds/{feed}")
            assert status == 503 and "not available right now" in page
            status, page = get(server.port, f"/{feed}.json?filter=news{n}")
            assert status == 503, (status, page)     # the query failed, and no file
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and "is unavailable" in errors[0], errors
        assert "the subscription pages" in errors[0]
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING
                    and r.name.startswith("syndicator.web")]
        relay.start()
        assert get(server.port, link)[0] == 200
        assert any("available again" in r.getMessage() for r in caplog.records)
