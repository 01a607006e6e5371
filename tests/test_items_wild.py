"""No item lost without a word, and one story = one item (issue 22, findings 4, 5 and 6).

Titleless entries get a title from their text; entries that differ only by `#fragment`, or
share one URL under distinct guids, stay distinct items (and keep their ids when their
neighbours leave the feed); entries without an http link use their enclosure, else are
counted per run ("2 entries skipped: no link") and shown by `check` and the status, as a
warning rather than a broken layout. Real feeds on loopback, real SQLite.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

from syndicator.app import App
from syndicator.check import check_source
from syndicator.demo.server import SiteServer
from syndicator.extract.entries import derived_title
from syndicator.model import Item, RunResult
from syndicator.normalise import item_id
from syndicator.pipeline import run_source
from syndicator.status import ServiceStatus, StatusReport
from syndicator.uris import uri_key
from syndicator.web.pages import render_status
from tests.test_dates_wild import NOW, _app

SOURCE = "  - id: wire\n    type: feed\n    url: ${SITE}feed.xml\n"


def _rss(items: str) -> str:
    return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Scripting News</title><link>http://scripting.example/</link>{items}"
            "</channel></rss>")


def _serve(root: Path, name: str, text: str) -> None:
    (root / name).write_text(text, encoding="utf-8")


def _stored(app: App) -> list[Item]:
    return app.store.latest(["wire"], limit=100)


# --- titleless entries -------------------------------------------------------------------------

def test_an_entry_without_a_title_is_published_with_one_from_its_text(tmp_path: Path) -> None:
    root = tmp_path / "site"
    root.mkdir()
    _serve(root, "feed.xml", _rss(
        "<item><link>http://micro.example/1</link><description>Walked to the harbour this "
        "morning. The fog had not lifted yet.</description></item>"))
    with SiteServer(root) as server, _app(server, tmp_path, SOURCE) as app:
        result = run_source(app, app.config.sources[0])
        (item,) = _stored(app)
    assert (result.items_seen, result.new) == (1, 1)
    assert item.title == "Walked to the harbour this morning"
    assert item.summary.startswith("Walked to the harbour this morning. The fog")


def test_derived_titles_are_bounded_on_a_word_boundary() -> None:
    long = "word " * 40
    title = derived_title(None, f"<p>{long}</p>")
    assert title is not None and title.endswith("…") and len(title) <= 81
    assert not title[:-1].endswith(" ") and title[:-1].split()[-1] == "word"
    assert derived_title("Is it spring yet? Maybe.", None) == "Is it spring yet?"
    assert derived_title(None, "<p>  </p>") is None


# --- identity: fragments and guids ---------------------------------------------------------------

# Like the RSS 2.0 specification's sample (Scripting News): posts of one day on one page,
# told apart by the #fragment of their permalink guid; no titles.
DAY = "http://scripting.example/backissues/2002/09/30"
SPEC_ITEMS = [(f"{DAY}#When:{t}", text) for t, text in [
    ("9:24:46AM", "A quiet Monday morning, coffee and outlines."),
    ("10:01:12AM", "The spec now says what a guid is for."),
    ("11:45:00AM", "Lunch with the team; we talked about weblogs."),
    ("3:15:30PM", "Shipped the new aggregator build."),
]]


def _spec_feed(items: list[tuple[str, str]]) -> str:
    return _rss("".join(f"<item><description>{text}</description><link>{link}</link>"
                        f'<guid isPermaLink="true">{link}</guid></item>'
                        for link, text in items))


def test_the_spec_sample_stores_every_post_and_keeps_their_ids(tmp_path: Path) -> None:
    root = tmp_path / "site"
    root.mkdir()
    _serve(root, "feed.xml", _spec_feed(SPEC_ITEMS))
    with SiteServer(root) as server, _app(server, tmp_path, SOURCE) as app:
        first = run_source(app, app.config.sources[0])
        stored = {item.url: item for item in _stored(app)}
        assert first.new == len(SPEC_ITEMS)
        assert set(stored) == {link for link, _text in SPEC_ITEMS}  # the link leads to the post
        # The day's other posts leave the feed and the last one is edited: it keeps its id.
        link, text = SPEC_ITEMS[-1]
        _serve(root, "feed.xml", _spec_feed([(link, f"{text} Fixed a typo.")]))
        app.clock.now = NOW + timedelta(hours=1)  # type: ignore[attr-defined]
        second = run_source(app, app.config.sources[0])
        assert (second.new, second.updated) == (0, 1)
        assert len(_stored(app)) == len(SPEC_ITEMS)


def test_fragments_alone_tell_entries_apart_and_guids_on_one_url_do_too(tmp_path: Path) -> None:
    live = "http://live.example/blog/election"
    items = "".join(
        f"<item><title>Update {n}</title><link>{live}#post-{n}</link></item>" for n in (1, 2, 3))
    digest = "http://digest.example/today"
    items += "".join(f'<item><title>Brief {n}</title><link>{digest}</link>'
                     f'<guid isPermaLink="false">urn:digest:2026-12-06:{n}</guid></item>'
                     for n in (1, 2))
    # A tracking fragment is no identity: the same story as its plain link.
    items += ("<item><title>Plain</title><link>http://wire.example/story</link></item>"
              "<item><title>Plain</title><link>http://wire.example/story#xtor=RSS-3</link>"
              "</item>")
    root = tmp_path / "site"
    root.mkdir()
    _serve(root, "feed.xml", _rss(items))
    with SiteServer(root) as server, _app(server, tmp_path, SOURCE) as app:
        run_source(app, app.config.sources[0])
        titles = sorted(item.title for item in _stored(app))
    assert titles == ["Brief 1", "Brief 2", "Plain", "Update 1", "Update 2", "Update 3"]


# --- entries without an http link ----------------------------------------------------------------

URN_ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Podcast</title>
<id>urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6</id><updated>2026-12-05T10:00:00Z</updated>
<entry><title>Episode 12</title><id>urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a</id>
<updated>2026-12-05T10:00:00Z</updated>
<link rel="enclosure" type="audio/mpeg" length="1337" href="http://cdn.example/ep12.mp3"/>
<summary>Twelve.</summary></entry>
<entry><title>Note one</title><id>urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6b</id>
<updated>2026-12-04T10:00:00Z</updated><summary>No link at all.</summary></entry>
<entry><title>Note two</title><id>tag:example.org,2026:2</id>
<updated>2026-12-03T10:00:00Z</updated><summary>Nor here.</summary></entry>
</feed>"""


def test_entries_without_a_link_use_their_enclosure_or_are_reported(tmp_path: Path) -> None:
    root = tmp_path / "site"
    root.mkdir()
    _serve(root, "feed.xml", URN_ATOM)
    with SiteServer(root) as server, _app(server, tmp_path, SOURCE) as app:
        result = run_source(app, app.config.sources[0])
        (item,) = _stored(app)
        assert item.url == "http://cdn.example/ep12.mp3"
        assert result.ok and result.new == 1 and result.items_seen == 3
        assert "2 entries skipped: no link" in result.warnings
        assert result.missing_fields == {"skipped: no link": 2}
        status = ServiceStatus(app.config, app.store).report().source("wire")
        assert status is not None and not status.broken
        assert status.warning == "2 of 3 entries skipped (no link: 2)"
        html = render_status(app.config, StatusReport(NOW, False, (status,), ()),
                             defaultdict(str)).decode()
        assert "warning: 2 of 3 entries skipped (no link: 2)" in html
        lines: list[str] = []
        check_source(app.config, app.config.sources[0], app.fetcher, echo=lines.append)
    assert any("2 entries skipped: no link" in line for line in lines)


def test_a_feed_whose_entries_all_lack_a_link_is_a_warning_not_a_broken_layout(
        tmp_path: Path) -> None:
    root = tmp_path / "site"
    root.mkdir()
    _serve(root, "feed.xml", _rss("<item><title>One</title><link>http://w.example/1</link>"
                                  "</item>"))
    with SiteServer(root) as server, _app(server, tmp_path, SOURCE) as app:
        assert run_source(app, app.config.sources[0]).new == 1
        # The publisher switches to urn guids without links.
        _serve(root, "feed.xml", _rss("".join(
            f'<item><title>N{n}</title><guid isPermaLink="false">urn:n:{n}</guid></item>'
            for n in range(3))))
        app.clock.now = NOW + timedelta(hours=1)  # type: ignore[attr-defined]
        result = run_source(app, app.config.sources[0])
        status = ServiceStatus(app.config, app.store).report().source("wire")
    assert result.items_seen == 3 and result.new == 0
    assert status is not None and not status.broken, status.broken_reason
    assert status.warning == "yields 3 entries but stores none: all skipped (no link: 3)"


def test_a_micro_blog_json_feed_publishes_every_post(tmp_path: Path) -> None:
    items = [{"id": "1", "url": "https://micro.example/2026/12/06/1.html",
              "content_html": "<p>Rain again. Good day for reading.</p>"},
             {"id": "2", "external_url": "https://elsewhere.example/a-link",
              "content_text": "Worth a read, this one."},
             {"id": "tag:micro.example,2026:3", "content_text": "Nowhere to link to."}]
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "Micro", "items": items}
    root = tmp_path / "site"
    root.mkdir()
    _serve(root, "feed.xml", json.dumps(feed))
    with SiteServer(root) as server, _app(server, tmp_path, SOURCE) as app:
        result = run_source(app, app.config.sources[0])
        stored = {item.url: item.title for item in _stored(app)}
    assert stored == {"https://micro.example/2026/12/06/1.html": "Rain again",
                      "https://elsewhere.example/a-link": "Worth a read, this one"}
    assert "1 entry skipped: no link" in result.warnings


def _run_twice(tmp_path: Path, first: str, second: str) -> tuple[RunResult, list[Item]]:
    """The feed source run on `first`, then an hour later on `second`: the second run's
    result and what is stored then."""
    root = tmp_path / "site"
    root.mkdir()
    _serve(root, "feed.xml", first)
    with SiteServer(root) as server, _app(server, tmp_path, SOURCE) as app:
        assert run_source(app, app.config.sources[0]).ok
        _serve(root, "feed.xml", second)
        app.clock.now = NOW + timedelta(hours=1)  # type: ignore[attr-defined]
        return run_source(app, app.config.sources[0]), _stored(app)


def test_a_live_blog_post_keeps_its_id_when_it_is_the_last_on_the_page(tmp_path: Path) -> None:
    live = "http://live.example/blog/election"

    def atom(posts: range, edited: str = "") -> str:
        return ('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
                "<title>Live</title><id>tag:live.example,2026:feed</id>"
                "<updated>2026-12-06T10:00:00Z</updated>" + "".join(
                    f"<entry><title>Update {n}{edited}</title><id>tag:live.example,2026:{n}</id>"
                    f'<link href="{live}#post-{n}"/><updated>2026-12-06T0{n}:00:00Z</updated>'
                    "</entry>" for n in posts) + "</feed>")

    # The other posts leave the feed and the last one is edited: the same item changes.
    second, stored = _run_twice(tmp_path, atom(range(1, 4)),
                                atom(range(3, 4), edited=" (corrected)"))
    assert (second.new, second.updated) == (0, 1)
    assert len(stored) == 3


def test_a_digest_entry_keeps_its_guid_identity_when_it_is_left_alone(tmp_path: Path) -> None:
    digest = "http://digest.example/today"

    def briefs(numbers: range, edited: str = "") -> str:
        return _rss("".join(f"<item><title>Brief {n}{edited}</title><link>{digest}</link>"
                            f'<guid isPermaLink="false">urn:digest:{n}</guid></item>'
                            for n in numbers))

    # Brief 1 leaves the feed; Brief 2, alone on its URL now, is edited: the same item.
    second, stored = _run_twice(tmp_path, briefs(range(1, 3)),
                                briefs(range(2, 3), edited=" (corrected)"))
    assert (second.new, second.updated) == (0, 1)
    assert {item.title: item.url for item in stored} == {
        "Brief 1": f"{digest}#urn:digest:1", "Brief 2 (corrected)": f"{digest}#urn:digest:2"}


def test_duplicate_and_non_permalink_guids_have_one_meaning(tmp_path: Path) -> None:
    items = (
        # One guid on two URLs names nothing: the URLs tell the entries apart.
        '<item><title>A</title><link>http://w.example/a</link><guid isPermaLink="false">g'
        '</guid></item><item><title>B</title><link>http://w.example/b</link>'
        '<guid isPermaLink="false">g</guid></item>'
        # One guid repeated on one URL: one item, the first in the feed.
        '<item><title>C</title><link>http://w.example/c</link><guid isPermaLink="false">h'
        '</guid></item><item><title>C again</title><link>http://w.example/c</link>'
        '<guid isPermaLink="false">h</guid></item>'
        # No link, a guid that is an http URL though not a permalink: it is the link.
        '<item><title>E</title><guid isPermaLink="false">http://w.example/?p=5</guid></item>')
    root = tmp_path / "site"
    root.mkdir()
    _serve(root, "feed.xml", _rss(items))
    with SiteServer(root) as server, _app(server, tmp_path, SOURCE) as app:
        result = run_source(app, app.config.sources[0])
        stored = {item.title: item.url for item in _stored(app)}
    assert result.ok and result.new == 4
    assert stored == {"A": "http://w.example/a", "B": "http://w.example/b",
                      "C": "http://w.example/c", "E": "http://w.example/?p=5"}


def test_a_link_written_unencoded_then_encoded_is_one_item(tmp_path: Path) -> None:
    # Both spellings have one key (uris.uri_key), so one id; the second spelling updates
    # the item instead of adding one or failing the run.
    unencoded = "http://w.example/insert value here"
    second, stored = _run_twice(
        tmp_path, _rss(f"<item><title>Value</title><link>{unencoded}</link></item>"),
        _rss("<item><title>Value, corrected</title>"
             "<link>http://w.example/insert%20value%20here</link></item>"))
    assert second.ok, second.errors
    assert (second.new, second.updated) == (0, 1)
    assert [(item.id, item.url, item.title) for item in stored] == [
        (item_id(uri_key(unencoded)), "http://w.example/insert%20value%20here",
         "Value, corrected")]
