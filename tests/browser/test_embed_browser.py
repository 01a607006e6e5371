"""Partner sites embed the news: widget, iframe and subscribe form, in headless Chromium.

The partner page is on another loopback port than the service (another origin). Each test
records every request the browser makes, console errors, uncaught errors and dialogs.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import pytest

from syndicator.localdates import format_date
from syndicator.push import dispatch_due

from .conftest import EMAIL_TARGET, EMAIL_TARGET_ALL, Partner, Recorder, Service, screenshot

pytestmark = pytest.mark.browser

HOSTILE_TITLE = 'Statement on "freedom" & <rights> now'
MINSK = "Europe/Minsk"
DEFAULT_COLOR = "rgb(31, 35, 40)"       # --syndicator-color's default in embed.js
RED = "rgb(255, 0, 0)"


def feed_items(service: Service, feed_id: str) -> list[dict[str, Any]]:
    path = service.config.output_path / f"{feed_id}.json"
    items: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["items"]
    return items


def published(item: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(item["date_published"])


def intl_date(item: dict[str, Any], lang: str) -> str:
    """What Intl.DateTimeFormat(lang, {dateStyle: "long"}) shows (the widget's be table too)."""
    text = format_date(published(item), lang, MINSK)
    return text if lang == "en" else text + " г."


def widget(feed: str, service: Service, *, element_id: str = "w", **attrs: str) -> str:
    extra = "".join(f' data-{name.replace("_", "-")}="{value}"' for name, value in attrs.items())
    return (f'<div id="{element_id}" data-syndicator-feed="{feed}"{extra}></div>\n'
            f'<script src="{service.url}embed.js" async></script>')


def host_of(url: str) -> str:
    return urlsplit(url).netloc


def assert_clean(record: Recorder, *allowed: str, console: bool = True) -> None:
    """Only the allowed hosts were asked for anything; no script ran from feed content."""
    assert record.hosts() <= {host_of(url) for url in allowed}, record.requests
    assert record.blocked == []
    assert record.to("tracker.example") == []
    assert record.dialogs == []
    assert record.page_errors == []
    if console:
        assert record.console_errors == []


# --- the widget -------------------------------------------------------------------------------

def test_widget_shows_latest_items_with_dates_and_talks_only_to_the_service(
        page: tuple[Any, Recorder], service: Service, partner: Partner) -> None:
    tab, record = page
    tab.goto(partner.page("widget.html", widget("office-en", service, limit="5")))
    items = tab.locator("#w li")
    items.nth(4).wait_for()
    assert items.count() == 5
    expected = feed_items(service, "office-en")[:5]
    links = tab.locator("#w li a")
    assert links.all_text_contents() == [item["title"] for item in expected]
    assert [links.nth(i).get_attribute("href") for i in range(5)] == [i["url"] for i in expected]
    assert links.first.get_attribute("rel") == "noopener noreferrer"
    times = tab.locator("#w li time")
    assert times.all_text_contents() == [intl_date(item, "en") for item in expected]
    assert times.first.get_attribute("datetime") == published(expected[0]).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z")
    assert HOSTILE_TITLE in links.all_text_contents()      # shown as text, nothing parsed
    assert tab.locator("#w img").count() == 0              # images are opt-in
    assert tab.locator("#w p").count() == 0                # so are summaries
    assert tab.locator("#w ul").get_attribute("aria-label") == "Office news (English)"
    assert len(record.to("/office-en.json")) == 1
    assert_clean(record, partner.url, service.url)          # not even the news site's images
    screenshot(tab, "widget")


def test_widget_belarusian_feed_and_language_override(
        page: tuple[Any, Recorder], service: Service, partner: Partner) -> None:
    tab, record = page
    body = (widget("office-be", service, element_id="be", limit="10") +
            '\n<div id="ru" data-syndicator-feed="office-en" data-limit="3" data-lang="ru"></div>')
    tab.goto(partner.page("widget-be.html", body))
    tab.locator("#be li").nth(9).wait_for()
    tab.locator("#ru li").nth(2).wait_for()
    be_items = feed_items(service, "office-be")[:10]
    assert tab.locator("#be time").all_text_contents() == [intl_date(i, "be") for i in be_items]
    assert tab.locator("#be time").first.text_content() == "9 кастрычніка 2025 г."
    assert tab.locator("#be .w").get_attribute("lang") == "be"      # from the JSON Feed
    en_items = feed_items(service, "office-en")[:3]
    assert tab.locator("#ru time").all_text_contents() == [intl_date(i, "ru") for i in en_items]
    assert_clean(record, partner.url, service.url)
    screenshot(tab, "widget-be")


def test_several_widgets_share_one_fetch_per_feed(
        page: tuple[Any, Recorder], service: Service, partner: Partner) -> None:
    tab, record = page
    body = ('<div id="a" data-syndicator-feed="office-en" data-limit="2"></div>'
            '<div id="b" data-syndicator-feed="office-en" data-limit="4" data-show-summary></div>'
            '<div id="c" data-syndicator-feed="office-ru" data-limit="3"></div>'
            f'<script src="{service.url}embed.js" async></script>'
            # a second copy of the script (a CMS block pasted twice) must change nothing
            f'<script src="{service.url}embed.js" async></script>')
    tab.goto(partner.page("several.html", body))
    for selector, count in (("#a", 2), ("#b", 4), ("#c", 3)):
        tab.locator(f"{selector} li").nth(count - 1).wait_for()
        assert tab.locator(f"{selector} li").count() == count
    summaries = tab.locator("#b li p").all_text_contents()
    assert summaries == [i["summary"] for i in feed_items(service, "office-en")[:4]]
    assert len(record.to("/office-en.json")) == 1
    assert len(record.to("/office-ru.json")) == 1
    # A widget the page adds later (a single-page app) renders too, from the same fetch.
    tab.evaluate("""() => { const d = document.createElement('div');
        d.id = 'late'; d.dataset.syndicatorFeed = 'office-ru'; d.dataset.limit = '1';
        document.body.append(d); }""")
    tab.locator("#late li").first.wait_for()
    assert len(record.to("/office-ru.json")) == 1
    assert_clean(record, partner.url, service.url)
    screenshot(tab, "several-widgets")


def test_css_isolation_both_ways_and_theming_through_custom_properties(
        page: tuple[Any, Recorder], service: Service, partner: Partner) -> None:
    tab, record = page
    head = "<style>#themed { --syndicator-link-color: rgb(0, 128, 0); }</style>"
    body = (widget("office-en", service, limit="3") +
            '<div id="themed" data-syndicator-feed="office-en" data-limit="1"></div>')
    tab.goto(partner.page("isolation.html", body, head=head))
    tab.locator("#w li").nth(2).wait_for()
    tab.locator("#themed li").first.wait_for()

    def style(selector: str, prop: str) -> str:
        return str(tab.locator(selector).first.evaluate(
            f"e => getComputedStyle(e).getPropertyValue('{prop}')"))

    # The partner's `li`, `a`, `time` and body rules do not reach into the widget ...
    assert style("#w li", "color") == DEFAULT_COLOR
    assert style("#w li", "font-size") != "30px"
    assert style("#w li", "list-style-type") == "none"
    assert style("#w a", "color") == "rgb(11, 87, 208)"
    assert style("#w a", "text-transform") == "none"
    assert style("#w a", "letter-spacing") == "normal"
    assert "Comic Sans" not in style("#w a", "font-family")
    assert style("#w time", "color") == "rgb(89, 99, 110)"
    # ... and the widget's rules do not reach the partner's own list.
    assert style("#own li", "color") == RED
    assert style("#own li", "list-style-type") == "square"
    assert style("#own li", "font-size") == "30px"
    assert style("#own-link", "text-transform") == "uppercase"
    assert style("#own", "padding-left") == "40px"
    # Theming is only through the documented custom properties.
    assert style("#themed a", "color") == "rgb(0, 128, 0)"
    assert_clean(record, partner.url, service.url)
    screenshot(tab, "css-isolation")


def test_widget_works_under_a_strict_partner_csp(
        page: tuple[Any, Recorder], service: Service, partner: Partner) -> None:
    """A partner page whose CSP allows no inline style still gets a styled widget: the
    styles are a constructed stylesheet, not a <style> element or style attributes."""
    tab, record = page
    origin = service.url.rstrip("/")
    # No 'unsafe-inline' for styles (the meta tag comes after the fixture's own <style>,
    # so that one still applies).
    strict = (f"default-src 'none'; script-src {origin}; connect-src {origin}; "
              f"frame-src {origin}; style-src 'none'")
    head = f'<meta http-equiv="Content-Security-Policy" content="{strict}">'
    tab.goto(partner.page("strict-csp.html", widget("office-en", service, limit="2"),
                          head=head))
    tab.locator("#w li").nth(1).wait_for()
    color = tab.locator("#w a").first.evaluate("e => getComputedStyle(e).color")
    assert color == "rgb(11, 87, 208)"
    assert_clean(record, partner.url, service.url)


def test_keyboard_reaches_the_links_with_a_visible_focus_ring(
        page: tuple[Any, Recorder], service: Service, partner: Partner) -> None:
    tab, record = page
    tab.goto(partner.page("keyboard.html", widget("office-en", service, limit="3")))
    tab.locator("#w li").nth(2).wait_for()
    tab.keyboard.press("Tab")
    assert tab.evaluate("document.activeElement.id") == "own-link"
    tab.keyboard.press("Tab")
    focused = tab.evaluate("""() => {
        const inner = document.activeElement.shadowRoot.activeElement;
        const css = getComputedStyle(inner);
        return [document.activeElement.id, inner.tagName, inner.textContent,
                css.outlineStyle, css.outlineWidth]; }""")
    first_title = feed_items(service, "office-en")[0]["title"]
    assert focused == ["w", "A", first_title, "solid", "2px"]
    tab.keyboard.press("Tab")
    assert tab.evaluate("document.activeElement.shadowRoot.activeElement.textContent") == \
        feed_items(service, "office-en")[1]["title"]
    assert_clean(record, partner.url, service.url)
    screenshot(tab, "keyboard-focus")


def test_images_load_from_the_news_site_only_when_enabled(
        page: tuple[Any, Recorder], service: Service, partner: Partner) -> None:
    tab, record = page
    tab.goto(partner.page("images.html", widget("office-en", service, limit="3",
                                                show_images="", show_summary="")))
    tab.locator("#w li").nth(2).wait_for()
    images = tab.locator("#w img")
    assert images.count() == 3
    expected = [i["image"] for i in feed_items(service, "office-en")[:3]]
    assert [images.nth(i).get_attribute("src") for i in range(3)] == expected
    assert images.first.get_attribute("referrerpolicy") == "no-referrer"
    assert images.first.get_attribute("alt") == ""
    tab.wait_for_load_state("networkidle")
    # The images come from the publisher (the demo site), as docs/embed.md says.
    assert host_of(service.site.url) in record.hosts()
    assert_clean(record, partner.url, service.url, service.site.url, console=False)
    screenshot(tab, "widget-images")


# --- safety -----------------------------------------------------------------------------------

def test_hostile_feed_data_cannot_run_script_or_load_anything(
        page: tuple[Any, Recorder], service: Service, partner: Partner) -> None:
    """Whatever a feed holds, the widget inserts text and http(s) links only."""
    tab, record = page
    hostile = {
        "version": "https://jsonfeed.org/version/1.1", "title": "<b>evil</b>",
        "language": "en",
        "items": [
            {"id": "1", "url": "javascript:alert(1)",
             "title": '<img src="https://tracker.example/t.gif" onerror="alert(2)">',
             "summary": "<script>alert(3)</script><iframe src=https://tracker.example/>",
             "image": "javascript:alert(4)", "date_published": "2025-09-30T13:45:00Z"},
            {"id": "2", "url": "data:text/html,<script>alert(5)</script>",
             "title": "</ul><svg onload=alert(6)>", "image": "data:image/svg+xml,<svg/>",
             "date_published": "<script>alert(7)</script>"},
            {"id": "3", "url": " https://news.example/ok ", "title": "Fine",
             "image": "//tracker.example/relative.gif", "date_published": "2025-01-01"},
        ],
    }
    tab.route(f"{service.url}evil.json", lambda route: route.fulfill(
        status=200, content_type="application/feed+json", body=json.dumps(hostile),
        headers={"Access-Control-Allow-Origin": "*"}))
    tab.goto(partner.page("hostile-json.html", widget("evil", service, show_summary="",
                                                        show_images="")))
    tab.locator("#w li").nth(2).wait_for()
    assert tab.locator("#w li").all_inner_texts()[0].startswith(hostile["items"][0]["title"])
    assert tab.locator("#w a").count() == 1                  # only the http(s) link
    assert tab.locator("#w a").get_attribute("href") == "https://news.example/ok"
    assert tab.locator("#w img, #w script, #w iframe, #w svg").count() == 0
    assert tab.locator("#w p").first.text_content() == hostile["items"][0]["summary"]
    assert tab.locator("#w time").count() == 2               # the bad date is left out
    assert_clean(record, partner.url, service.url)
    screenshot(tab, "hostile-json")


def test_hostile_article_is_harmless_through_widget_and_iframe(
        page: tuple[Any, Recorder], service: Service, partner: Partner) -> None:
    """The demo site's hostile article, through the real pipeline, with every option on."""
    tab, record = page
    body = (widget("office-en", service, limit="5", show_summary="", show_images="") +
            f'\n<iframe id="f" src="{service.url}embed/office-en?limit=5&summary=1&images=1"'
            ' title="News" width="600" height="900"></iframe>')
    tab.goto(partner.page("hostile-article.html", body))
    tab.locator("#w li").nth(4).wait_for()
    frame = tab.frame_locator("#f")
    frame.locator("li").nth(4).wait_for()
    assert HOSTILE_TITLE in tab.locator("#w li a").all_text_contents()
    assert HOSTILE_TITLE in frame.locator("li a").all_text_contents()
    tab.wait_for_load_state("networkidle")
    assert_clean(record, partner.url, service.url, service.site.url)
    screenshot(tab, "hostile-article")


def test_feed_json_has_cors_for_get_only(
        page: tuple[Any, Recorder], service: Service, partner: Partner) -> None:
    tab, record = page
    tab.goto(partner.page("cors.html", "<p>cors</p>"))
    result = tab.evaluate("""async (url) => {
        const get = await fetch(url).then(r => r.json()).then(f => f.items.length);
        const attempt = (init) => fetch(url, init).then(r => 'status ' + r.status,
                                                        e => 'refused');
        return [get, await attempt({method: 'POST', body: 'x'}),
                await attempt({method: 'PUT', body: '{}'}),
                await attempt({method: 'DELETE'})];
    }""", f"{service.url}office-en.json")
    assert result == [len(feed_items(service, "office-en")), "refused", "refused", "refused"]
    assert_clean(record, partner.url, service.url, console=False)


# --- the fallback -----------------------------------------------------------------------------

@pytest.mark.parametrize("failure", ["unreachable", "bad-json", "not-found"])
def test_fallback_link_when_the_feed_cannot_be_read(
        page: tuple[Any, Recorder], service: Service, partner: Partner, failure: str) -> None:
    tab, record = page
    feed = "office-en"
    if failure == "unreachable":
        tab.route(f"{service.url}office-en.json", lambda route: route.abort("connectionrefused"))
    elif failure == "bad-json":
        tab.route(f"{service.url}office-en.json", lambda route: route.fulfill(
            status=200, body="<html>oops</html>", headers={"Access-Control-Allow-Origin": "*"}))
    else:
        feed = "no-such-feed"
    tab.goto(partner.page(f"fallback-{failure}.html", widget(feed, service)))
    link = tab.locator("#w a")
    link.wait_for()
    assert link.get_attribute("href") == f"{service.url}{feed}.rss"
    assert link.text_content() == "Latest news (RSS feed)"
    assert tab.locator("#w li").count() == 0
    assert_clean(record, partner.url, service.url, console=False)
    screenshot(tab, f"fallback-{failure}")


def test_fallback_keeps_the_partners_own_content_even_without_the_script(
        page: tuple[Any, Recorder], service: Service, partner: Partner) -> None:
    """With the whole service down, embed.js never loads: the div's content stays."""
    tab, record = page
    down = "http://127.0.0.1:9/"     # the discard port: nothing listens there
    tab.goto(partner.page("fallback-own.html", (
        '<div id="w" data-syndicator-feed="office-en">'
        f'<a id="mine" href="{service.url}office-en.rss">Our partner\'s news</a></div>'
        f'<script src="{down}embed.js" async></script>')))
    tab.wait_for_load_state("networkidle")
    assert tab.locator("#mine").is_visible()
    screenshot(tab, "fallback-script-down")
    # The service is up but the feed cannot be read: the slot shows the partner's link.
    tab.goto(partner.page("fallback-slot.html", (
        '<div id="v" data-syndicator-feed="no-such-feed" data-lang="be">'
        '<a id="mine2" href="https://office.example/">Навіны</a></div>'
        f'<script src="{service.url}embed.js" async></script>')))
    tab.wait_for_function("() => document.querySelector('#v').shadowRoot?.querySelector('slot')")
    assert tab.locator("#mine2").is_visible()
    assert record.dialogs == [] and record.page_errors == []
    screenshot(tab, "fallback-own-content")


# --- the iframe -------------------------------------------------------------------------------

# The tiny parent-side snippet from docs/embed.md, for pages that cannot load embed.js.
RESIZE_SNIPPET = """<script>
window.resizeMessages = [];
addEventListener("message", function (e) {
  if (e.origin !== "%(origin)s" || !e.data || e.data.type !== "syndicator:resize") return;
  window.resizeMessages.push(e.data);
  document.querySelectorAll("iframe").forEach(function (f) {
    if (f.contentWindow === e.source) f.style.height = e.data.height + "px";
  });
});
</script>"""


def test_iframe_renders_on_the_server_and_resizes_itself(
        page: tuple[Any, Recorder], service: Service, partner: Partner) -> None:
    tab, record = page
    origin = service.url.rstrip("/")
    body = (RESIZE_SNIPPET % {"origin": origin} +
            f'<iframe id="f" src="{service.url}embed/office-be?limit=3" title="Навіны"'
            ' style="width:100%;height:50px;border:0" sandbox="allow-scripts allow-popups'
            ' allow-popups-to-escape-sandbox allow-forms allow-same-origin"></iframe>')
    # (the sandbox docs/embed.md suggests: the frame keeps its origin, so resizing works)
    tab.goto(partner.page("iframe.html", body))
    frame = tab.frame_locator("#f")
    frame.locator("li").nth(2).wait_for()
    items = feed_items(service, "office-be")[:3]
    assert frame.locator("li a").all_text_contents() == [i["title"] for i in items]
    assert frame.locator("time").all_text_contents() == [
        format_date(published(i), "be", MINSK) for i in items]
    assert frame.locator("a").first.get_attribute("target") == "_blank"
    assert frame.locator("p.more a").text_content() == "Усе навіны (RSS)"
    tab.wait_for_function("() => window.resizeMessages.length > 0")
    message = tab.evaluate("window.resizeMessages.at(-1)")
    assert message["type"] == "syndicator:resize" and message["feed"] == "office-be"
    tab.wait_for_function("h => document.getElementById('f').clientHeight === h",
                          arg=message["height"])
    inner = frame.locator("html").evaluate("e => Math.ceil(e.getBoundingClientRect().height)")
    assert message["height"] == inner and inner > 150      # grew from 50px to its content
    assert_clean(record, partner.url, service.url)
    screenshot(tab, "iframe")


def test_iframe_sends_a_strict_content_security_policy(
        page: tuple[Any, Recorder], service: Service, partner: Partner) -> None:
    tab, record = page
    with tab.expect_response(f"{service.url}embed/office-en?limit=2") as plain, \
            tab.expect_response(f"{service.url}embed/office-en?limit=2&images=1") as pictured:
        tab.goto(partner.page("iframe-csp.html",
                              f'<iframe src="{service.url}embed/office-en?limit=2"></iframe>'
                              f'<iframe src="{service.url}embed/office-en?limit=2&images=1">'
                              "</iframe>"))
    headers = plain.value.all_headers()
    assert headers["content-security-policy"] == (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors *")
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    # With images, exactly the news site's origin is added, nothing wider.
    site_origin = service.site.url.rstrip("/")
    assert f"img-src 'self' {site_origin};" in pictured.value.all_headers()[
        "content-security-policy"]
    tab.wait_for_load_state("networkidle")
    assert_clean(record, partner.url, service.url, service.site.url)


# --- the subscribe form -----------------------------------------------------------------------

def _belarusian_widget(tab: Any, service: Service, partner: Partner, target: str,
                       name: str) -> Any:
    """The subscribe widget of `target` on a Belarusian partner page, once its form shows."""
    body = (f'<div id="s" data-syndicator-subscribe="{target}" data-lang="be"></div>'
            f'<script src="{service.url}embed.js" async></script>')
    tab.goto(partner.page(name, body))
    frame = tab.frame_locator("#s iframe")
    frame.locator("input[type=email]").wait_for()
    return frame


def test_subscribe_widget_double_opt_in_in_the_page_language(
        page: tuple[Any, Recorder], service: Service, partner: Partner) -> None:
    tab, record = page
    frame = _belarusian_widget(tab, service, partner, EMAIL_TARGET, "subscribe.html")
    assert frame.locator("button").text_content() == "Падпісацца"
    # An address the browser accepts but the service does not: the error, in Belarusian.
    frame.locator("input[type=email]").fill("reader@localhost")
    frame.locator("button").click()
    frame.locator(".message.error").wait_for()
    assert "не падобна" in (frame.locator(".message.error").text_content() or "")
    address = "reader@example.org"
    frame.locator("input[type=email]").fill(address)
    frame.locator("button").click()
    frame.locator(".message.ok").wait_for()
    assert address in (frame.locator(".message.ok").text_content() or "")
    assert "Амаль гатова" in (frame.locator(".message.ok").text_content() or "")
    # The double opt-in really happened: queued, then the push job mailed the link and
    # marked the address pending.
    dispatch_due(service.app)
    subscriber = service.app.store.subscriber(EMAIL_TARGET, address)
    assert subscriber is not None and subscriber.status == "pending"
    mails = [m for to, m in service.mailbox.messages if address in to]
    assert len(mails) == 1 and b"subscribe/confirm/" in mails[0]
    # The frame resized itself in the partner page through embed.js.
    tab.wait_for_function("() => document.querySelector('#s').shadowRoot"
                          ".querySelector('iframe').style.height !== ''")
    assert_clean(record, partner.url, service.url, console=False)
    assert [e for e in record.console_errors if "400" not in e] == []   # the refused address
    screenshot(tab, "subscribe-widget")


def test_subscribe_widget_asks_for_languages_and_rhythm(
        page: tuple[Any, Recorder], service: Service, partner: Partner) -> None:
    tab, record = page
    frame = _belarusian_widget(tab, service, partner, EMAIL_TARGET_ALL, "subscribe-choice.html")
    # The list's languages, each named in itself, and the three rhythms, in Belarusian.
    assert frame.locator("legend").all_text_contents() == ["Мовы", "Як часта"]
    boxes = frame.locator("input[name=languages]")
    assert [boxes.nth(i).get_attribute("value") for i in range(boxes.count())] == [
        "be", "en", "ru"]
    assert "Беларуская" in (frame.locator("fieldset").first.text_content() or "")
    assert frame.locator("input[name=rhythm]:checked").get_attribute("value") == "item"
    frame.locator("input[name=languages][value=be]").check()
    frame.locator("input[name=languages][value=en]").check()
    frame.locator("input[name=rhythm][value=weekly]").check()
    address = "chooser@example.org"
    frame.locator("input[type=email]").fill(address)
    screenshot(tab, "subscribe-widget-choosing")
    frame.locator("button").click()
    frame.locator(".message.ok").wait_for()
    # The choice waits with the sign-up and is the address's once it is pending.
    dispatch_due(service.app)
    subscriber = service.app.store.subscriber(EMAIL_TARGET_ALL, address)
    assert subscriber is not None and subscriber.status == "pending"
    assert (subscriber.languages, subscriber.rhythm) == (("be", "en"), "weekly")
    mails = [m for to, m in service.mailbox.messages if address in to]
    assert len(mails) == 1 and b"/preferences/" in mails[0]
    assert_clean(record, partner.url, service.url)
    screenshot(tab, "subscribe-widget-choice")


def test_subscribe_iframe_without_script(
        page: tuple[Any, Recorder], service: Service, partner: Partner) -> None:
    tab, record = page
    src = f"{service.url}embed/subscribe?target={EMAIL_TARGET}&lang=en"
    tab.goto(partner.page("subscribe-iframe.html",
                          f'<iframe id="f" src="{src}" title="Email subscription"></iframe>'))
    frame = tab.frame_locator("#f")
    frame.locator("input[type=email]").fill("iframe.reader@example.org")
    frame.locator("button").click()
    frame.locator(".message.ok").wait_for()
    assert (frame.locator(".message.ok").text_content() or "").startswith("Almost done")
    assert frame.locator("form").count() == 0
    dispatch_due(service.app)
    subscriber = service.app.store.subscriber(EMAIL_TARGET, "iframe.reader@example.org")
    assert subscriber is not None and subscriber.status == "pending"
    assert_clean(record, partner.url, service.url)
    screenshot(tab, "subscribe-iframe")


# --- the builder ------------------------------------------------------------------------------

def test_builder_previews_the_real_widget_and_its_snippet_works(
        page: tuple[Any, Recorder], service: Service, partner: Partner) -> None:
    tab, record = page
    tab.context.grant_permissions(["clipboard-read", "clipboard-write"],
                                  origin=service.url.rstrip("/"))
    tab.goto(f"{service.url}builder")
    tab.locator("#preview li").nth(4).wait_for()             # the default: 5 items
    tab.select_option("select[name=feed]", "office-be")
    tab.fill("input[name=limit]", "3")
    tab.check("input[name=summary]")
    tab.locator("#preview li p").nth(2).wait_for()
    assert tab.locator("#preview li").count() == 3
    snippet = tab.input_value("#snippet")
    assert snippet == (
        '<div data-syndicator-feed="office-be" data-limit="3" data-show-summary=""></div>\n'
        f'<script src="{service.url}embed.js" async></script>')
    tab.click("#copy")
    tab.locator("#copied", has_text="Copied.").wait_for()
    assert tab.evaluate("navigator.clipboard.readText()") == snippet
    screenshot(tab, "builder-widget")

    tab.check("input[value=iframe]")
    tab.frame_locator("#preview iframe").locator("li").nth(2).wait_for()
    iframe_snippet = tab.input_value("#snippet")
    assert iframe_snippet.startswith(
        f'<iframe src="{service.url}embed/office-be?limit=3&amp;summary=1" title="')
    screenshot(tab, "builder-iframe")

    tab.check("input[value=subscribe]")
    tab.frame_locator("#preview iframe").locator("input[type=email]").wait_for()
    assert f'data-syndicator-subscribe="{EMAIL_TARGET}"' in tab.input_value("#snippet")
    assert_clean(record, service.url)     # the builder's CSP let everything it needs through

    # The copied widget snippet works as is on the partner's page.
    tab.goto(partner.page("from-builder.html", '<div id="pasted">' + snippet + "</div>"))
    tab.locator("#pasted li p").nth(2).wait_for()
    assert tab.locator("#pasted li").count() == 3
    assert re.search(r"\d+ \w+ 2025 г\.", tab.locator("#pasted time").first.inner_text())
