"""The embed routes over real HTTP (no browser needed), and their pure helpers."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import httpx
import pytest

from syndicator.web import embed
from syndicator.web.embed import frame_csp, url_origin
from syndicator.web.embed_items import item_views, safe_url

from .conftest import EMAIL_TARGET, Service

STATIC = Path(embed.__file__).parent / "static"
MAX_SCRIPT_GZIP = 6 * 1024


def test_embed_script_is_at_most_6_kb_gzipped() -> None:
    size = len(gzip.compress((STATIC / "embed.js").read_bytes(), compresslevel=9))
    assert size <= MAX_SCRIPT_GZIP, f"embed.js is {size} bytes gzipped"


def test_embed_script_never_uses_html_parsing_apis() -> None:
    """Feed text goes in through textContent: no innerHTML, outerHTML=, insertAdjacentHTML,
    document.write or eval anywhere in the widget or the frame script."""
    for name in ("embed.js", "frame.js"):
        source = (STATIC / name).read_text(encoding="utf-8")
        for api in (".innerHTML", ".outerHTML", ".insertAdjacentHTML", "document.write",
                    "eval(", "new Function", "DOMParser", "createContextualFragment"):
            assert api not in source, (name, api)


def test_script_is_served_cacheable_with_validators(service: Service) -> None:
    with httpx.Client(base_url=service.url) as client:
        first = client.get("/embed.js", headers={"Accept-Encoding": "gzip"})
        assert first.status_code == 200
        assert first.headers["content-type"] == "text/javascript; charset=utf-8"
        assert first.headers["content-encoding"] == "gzip"
        assert first.headers["cache-control"] == "public, max-age=3600"
        assert first.headers["x-content-type-options"] == "nosniff"
        assert first.headers["cross-origin-resource-policy"] == "cross-origin"
        assert first.content == (STATIC / "embed.js").read_bytes()   # httpx inflated it
        again = client.get("/embed.js", headers={"Accept-Encoding": "gzip",
                                                 "If-None-Match": first.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        plain = client.get("/embed.js", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        assert plain.headers["etag"] != first.headers["etag"]
        assert client.get("/embed/_/frame.css").status_code == 200
        assert client.get("/embed/_/style.css").status_code == 404
        assert client.get("/embed/_/..%2Fembed.py").status_code == 404


def test_feed_json_preflight_allows_get_only(service: Service) -> None:
    with httpx.Client(base_url=service.url) as client:
        got = client.get("/office-en.json", headers={"Origin": "https://partner.example"})
        assert got.headers["access-control-allow-origin"] == "*"
        for method in ("POST", "PUT", "DELETE"):
            answer = client.options("/office-en.json", headers={
                "Origin": "https://partner.example", "Access-Control-Request-Method": method})
            allowed = answer.headers.get("access-control-allow-methods", "")
            assert method not in allowed
        posted = client.post("/office-en.json", content=b"x",
                             headers={"Origin": "https://partner.example"})
        assert posted.status_code == 405


def test_frame_pages_answer_unknown_feeds_and_targets(service: Service) -> None:
    with httpx.Client(base_url=service.url) as client:
        assert client.get("/embed/no-such-feed").status_code == 404
        unknown = client.get("/embed/subscribe", params={"target": "nope", "lang": "ru"})
        assert unknown.status_code == 404
        assert "Такой подписки нет." in unknown.text
        page = client.get("/embed/office-en", params={"limit": "9999", "lang": "</script>"})
        assert page.status_code == 200
        items = json.loads((service.config.output_path / "office-en.json").read_text())["items"]
        assert page.text.count("<li>") == min(embed.MAX_LIMIT, len(items))
        assert '<html lang="en">' in page.text           # the bad language tag is ignored
        assert page.text.count("<script") == 1          # frame.js, no inline script


def test_subscribe_frame_refuses_bad_input_without_mailing(service: Service) -> None:
    sent = len(service.mailbox.messages)
    with httpx.Client(base_url=service.url) as client:
        form = client.get("/embed/subscribe", params={"target": EMAIL_TARGET})
        assert form.status_code == 200 and 'name="email"' in form.text
        assert '<html lang="be">' in form.text          # the target's feed language
        assert form.headers["content-security-policy"].startswith("default-src 'none'")
        found = re.search(r'name="form_token" value="([^"]+)"', form.text)
        assert found is not None
        token = found.group(1)
        bad = client.post("/embed/subscribe", data={"target": EMAIL_TARGET, "lang": "en",
                                                    "email": "not an address",
                                                    "form_token": token})
        assert bad.status_code == 400
        assert "does not look like an email address" in bad.text
        assert 'value="not an address"' in bad.text      # kept for correcting, escaped
        bot = client.post("/embed/subscribe", data={"target": EMAIL_TARGET, "lang": "en",
                                                    "email": "bot@example.org",
                                                    "website": "http://spam.example",
                                                    "form_token": token})
        assert bot.status_code == 200 and "Almost done" in bot.text
        forged = client.post("/embed/subscribe", data={"target": EMAIL_TARGET, "lang": "en",
                                                       "email": "eve@example.org"})
        assert forged.status_code == 403                  # not from our form: no token
        huge = client.post("/embed/subscribe", content=b"email=" + b"a" * 10_000,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert huge.status_code == 413
    assert service.app.store.subscriber(EMAIL_TARGET, "bot@example.org") is None
    assert len(service.mailbox.messages) == sent


def test_builder_lists_feeds_and_targets(service: Service) -> None:
    with httpx.Client(base_url=service.url) as client:
        page = client.get("/builder")
    assert page.status_code == 200
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    for feed in service.config.feeds:
        assert f'value="{feed.id}"' in page.text
    assert f'value="{EMAIL_TARGET}"' in page.text
    assert f'data-base="{service.url}"' in page.text


# --- pure helpers -----------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    ("https://news.example/a?b=1", "https://news.example/a?b=1"),
    (" http://news.example/ ", "http://news.example/"),
    ("javascript:alert(1)", None),
    ("JaVaScRiPt:alert(1)", None),
    ("data:text/html,<script>", None),
    ("//tracker.example/x.gif", None),
    ("/relative", None),
    ("https://", None),
    (None, None),
    (42, None),
])
def test_safe_url(value: object, expected: str | None) -> None:
    assert safe_url(value) == expected


def test_url_origin_is_only_what_a_csp_can_hold() -> None:
    assert url_origin("https://News.Example:8443/a/b.jpg") == "https://news.example:8443"
    assert url_origin("http://127.0.0.1:5000/x") == "http://127.0.0.1:5000"
    assert url_origin("https://user@host.example/") is None
    assert url_origin("https://host.example;script-src *") is None
    assert url_origin("https://host example/") is None
    assert frame_csp(["https://a.example"]).count("img-src 'self' https://a.example;") == 1


def test_item_views_skip_junk_and_honour_options() -> None:
    document = {"items": [
        {"title": "A", "url": "https://x.example/a", "summary": "S", "image": "https://i/1.jpg",
         "date_published": "2025-01-08T21:20:00Z"},
        "junk", {"url": "https://x.example/no-title"},
        {"title": "B", "url": "javascript:1", "date_published": "yesterday"},
        {"title": "C"},
    ]}
    views = item_views(document, limit=2, lang="be", timezone="Europe/Minsk",
                       summaries=False, images=False)
    assert [(v.title, v.url, v.date, v.summary, v.image) for v in views] == [
        ("A", "https://x.example/a", "9 студзеня 2025", None, None),
        ("B", None, None, None, None)]
    full = item_views(document, limit=10, lang="en", timezone="UTC", summaries=True,
                      images=True)
    assert (full[0].date, full[0].summary, full[0].image, full[0].iso) == (
        "January 8, 2025", "S", "https://i/1.jpg", "2025-01-08T21:20:00Z")
    assert len(full) == 3
    assert item_views({"items": "nope"}, limit=5, lang="en", timezone="UTC",
                      summaries=True, images=True) == []
