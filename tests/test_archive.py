"""Feed archives (RFC 5005): pages, link chains in RSS/Atom/JSON, immutability, incremental
writes. Real SQLite store in tmp_path, real files; documents parsed with feedparser / json."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import feedparser

from syndicator.config import Config, FeedConfig, SiteConfig, SourceConfig, WebSubConfig
from syndicator.model import HistoryEntry, Item, RunResult
from syndicator.publish import build_feeds
from syndicator.publish.archivestate import plan_archive
from syndicator.store import Store

BASE = "https://feeds.example.org/"
T0 = datetime(2024, 1, 1, 8, 0, tzinfo=UTC)
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
HUB = "https://hub.example.net/"
FORMATS = ("rss", "atom", "json")


def make_item(n: int, **changes: Any) -> Item:
    published = T0 + timedelta(hours=n)
    item = Item(id=f"id-{n:04d}", source_id="news", url=f"https://news.example.org/a/{n}",
                title=f"Story {n}", published=published, updated=published,
                summary=f"Summary of story {n}", content=f"<p>Body {n}</p>", language="en",
                content_hash=f"hash-{n}")
    return replace(item, **changes)


def save(store: Store, items: list[Item], at: datetime, source: str = "news") -> None:
    run = RunResult(source_id=source, started=at, finished=at, ok=True)
    store.save_run(run, items, ())


def make_config(output: Path, *, limit: int = 50, include: tuple[str, ...] = (),
                sources: tuple[str, ...] = ("news",)) -> Config:
    return Config(
        site=SiteConfig(title="Archive test", base_url=BASE),
        output_dir=str(output),
        sources=tuple(SourceConfig(id=s, type="feed", url=f"https://news.example.org/{s}.xml")
                      for s in ("news", "other")),
        feeds=(FeedConfig(id="news", title="News", sources=sources, limit=limit,
                          include=include),),
        websub=WebSubConfig(hub=HUB),
    )


def local(output: Path, url: str) -> Path:
    """The file behind one of our published URLs."""
    assert url.startswith(BASE), url
    return output / urlsplit(url).path.lstrip("/")


def links_of(parsed: Any) -> dict[str, str]:
    return {link["rel"]: link["href"] for link in parsed.feed.get("links", [])}


def walk_xml(output: Path, ext: str) -> list[tuple[str, Any, bytes]]:
    """Follow prev-archive from the current document to the oldest page."""
    url = f"{BASE}news.{ext}"
    docs: list[tuple[str, Any, bytes]] = []
    while url:
        data = local(output, url).read_bytes()
        parsed = feedparser.parse(data)
        assert not parsed.bozo, (url, parsed.get("bozo_exception"))
        docs.append((url, parsed, data))
        url = links_of(parsed).get("prev-archive", "")
        assert len(docs) < 50, "prev-archive chain does not end"
    return docs


def walk_json(output: Path) -> list[tuple[str, dict[str, Any]]]:
    url = f"{BASE}news.json"
    docs: list[tuple[str, dict[str, Any]]] = []
    while url:
        doc = json.loads(local(output, url).read_text(encoding="utf-8"))
        docs.append((url, doc))
        url = doc.get("next_url", "")
        assert len(docs) < 50
    return docs


def reconstruct(docs: list[list[str]]) -> list[str]:
    """RFC 5005 §4.2: entries from the current document back to the oldest archive; an entry
    seen in a document nearer the current one wins over older copies."""
    seen: dict[str, None] = {}
    for ids in docs:
        for entry_id in ids:
            seen.setdefault(entry_id, None)
    return list(seen)


def url_of(n: int) -> str:
    return f"https://news.example.org/a/{n}"


# --- planning (pure) -------------------------------------------------------------------------

def entry(n: int) -> HistoryEntry:
    at = T0 + timedelta(hours=n)
    return HistoryEntry(id=f"e{n}", entered=at, published=at, updated=at, content_hash="h",
                        title="t", summary="s")


def test_plan_archives_only_complete_pages_that_left_the_window() -> None:
    entries = [entry(n) for n in range(120)]
    window = {e.id for e in entries[-50:]}
    plan = plan_archive(entries, window, 50)
    assert [p.number for p in plan.pages] == [1, 2]
    assert plan.pages[0].ids == tuple(f"e{n}" for n in range(50))
    assert plan.pages[1].ids == tuple(f"e{n}" for n in range(50, 100))
    assert plan.unarchived == tuple(f"e{n}" for n in range(100, 120))
    # 100 items: page 2 is exactly the current window, so it is not archived yet.
    assert [p.number for p in plan_archive(entries[:100], {e.id for e in entries[50:100]},
                                           50).pages] == [1]
    # Fewer items than one page: nothing to archive.
    assert plan_archive(entries[:30], {e.id for e in entries[:30]}, 50).pages == ()


def test_page_digest_changes_only_with_its_items() -> None:
    entries = [entry(n) for n in range(120)]
    plan = plan_archive(entries, {e.id for e in entries[-50:]}, 50, identity=BASE)
    edited = list(entries)
    edited[10] = replace(edited[10], content_hash="edited")
    again = plan_archive(edited, {e.id for e in entries[-50:]}, 50, identity=BASE)
    assert again.pages[0].digest != plan.pages[0].digest
    assert again.pages[1].digest == plan.pages[1].digest
    moved = plan_archive(entries, {e.id for e in entries[-50:]}, 50, identity="https://x/")
    assert moved.pages[1].digest != plan.pages[1].digest


# --- building --------------------------------------------------------------------------------

def test_120_items_make_two_archive_pages_chained_in_every_format(tmp_path: Path,
                                                                  store: Store) -> None:
    save(store, [make_item(n) for n in range(120)], T0)
    output = tmp_path / "out"
    build_feeds(make_config(output), store, NOW)

    folder = output / "archive" / "news"
    assert sorted(p.name for p in folder.iterdir()) == [
        "1.atom", "1.json", "1.rss", "2.atom", "2.json", "2.rss"]
    every = [url_of(n) for n in range(120)]

    for ext in ("rss", "atom"):
        docs = walk_xml(output, ext)
        assert [url for url, _, _ in docs] == [
            f"{BASE}news.{ext}", f"{BASE}archive/news/2.{ext}", f"{BASE}archive/news/1.{ext}"]
        ids = [[e.link for e in parsed.entries] for _, parsed, _ in docs]
        current, page2, page1 = ids
        assert len(current) == 50 and current == [url_of(n) for n in range(119, 69, -1)]
        assert sorted(page1) == sorted(every[:50]) and sorted(page2) == sorted(every[50:100])
        # Archive pages are disjoint; the newest one shares 30 items with the current
        # document; reconstructed per RFC 5005 every item appears exactly once.
        assert not set(page1) & set(page2)
        assert set(page2) & set(current) == set(every[70:100])
        rebuilt = reconstruct(ids)
        assert sorted(rebuilt) == sorted(every) and len(rebuilt) == 120
        # Links of each document.
        current_links = links_of(docs[0][1])
        assert current_links["self"] == f"{BASE}news.{ext}"
        assert current_links["hub"] == HUB
        for number, (url, parsed, data) in zip((2, 1), docs[1:], strict=True):
            links = links_of(parsed)
            assert links["self"] == url
            assert links["current"] == f"{BASE}news.{ext}"
            assert "next-archive" not in links and "hub" not in links
            assert (links.get("prev-archive") ==
                    (f"{BASE}archive/news/{number - 1}.{ext}" if number > 1 else None))
            assert b'xmlns:fh="http://purl.org/syndication/history/1.0"' in data
            assert b"<fh:archive/>" in data
        assert b"fh:archive" not in docs[0][2]

    docs_json = walk_json(output)
    assert [url for url, _ in docs_json] == [
        f"{BASE}news.json", f"{BASE}archive/news/2.json", f"{BASE}archive/news/1.json"]
    assert docs_json[0][1]["hubs"] == [{"type": "WebSub", "url": HUB}]
    assert all("hubs" not in doc for _, doc in docs_json[1:])
    assert all(doc["feed_url"] == f"{BASE}news.json" for _, doc in docs_json)
    rebuilt = reconstruct([[i["id"] for i in doc["items"]] for _, doc in docs_json])
    assert sorted(rebuilt) == sorted(every)
    assert [len(doc["items"]) for _, doc in docs_json] == [50, 50, 50]


def test_a_new_item_leaves_archives_alone_until_a_page_completes(tmp_path: Path,
                                                                 store: Store) -> None:
    save(store, [make_item(n) for n in range(120)], T0)
    output = tmp_path / "out"
    config = make_config(output)
    build_feeds(config, store, NOW)
    folder = output / "archive" / "news"
    pages = sorted(folder.iterdir())
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in pages}
    # Make any rewrite visible in the mtime, whatever the file system's timestamp resolution.
    for path in pages:
        os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    stamped = {p: p.stat().st_mtime_ns for p in pages}

    for n in range(120, 150):   # 30 more items, one build each: page 3 (100..149) fills up
        save(store, [make_item(n)], T0 + timedelta(days=30, hours=n))
        result = build_feeds(config, store, NOW)
        assert not [p for p in result.written if "archive" in p.parts]
        assert {p: p.stat().st_mtime_ns for p in pages} == stamped
        assert {p: p.read_bytes() for p in pages} == {p: b for p, (b, _) in before.items()}
        assert not (folder / "3.rss").exists()   # page 3 still overlaps the window entirely

    save(store, [make_item(150)], T0 + timedelta(days=60))
    result = build_feeds(config, store, NOW)
    written = {p.name for p in result.written if "archive" in p.parts}
    assert written == {"3.rss", "3.atom", "3.json"}
    assert {p: p.stat().st_mtime_ns for p in pages} == stamped
    links = links_of(feedparser.parse((output / "news.atom").read_bytes()))
    assert links["prev-archive"] == f"{BASE}archive/news/3.atom"


def test_an_edited_item_rewrites_only_its_page(tmp_path: Path, store: Store) -> None:
    save(store, [make_item(n) for n in range(120)], T0)
    output = tmp_path / "out"
    config = make_config(output)
    build_feeds(config, store, NOW)
    page2 = (output / "archive/news/2.rss").read_bytes()
    save(store, [make_item(7, title="Story 7 (corrected)", content_hash="hash-7b")],
         T0 + timedelta(days=90))
    result = build_feeds(config, store, NOW)
    written = {p.name for p in result.written if "archive" in p.parts}
    assert written == {"1.rss", "1.atom", "1.json"}
    assert b"Story 7 (corrected)" in (output / "archive/news/1.rss").read_bytes()
    assert (output / "archive/news/2.rss").read_bytes() == page2


def test_unchanged_build_renders_no_archive_page(tmp_path: Path, store: Store) -> None:
    save(store, [make_item(n) for n in range(120)], T0)
    output = tmp_path / "out"
    config = make_config(output)
    build_feeds(config, store, NOW)
    again = build_feeds(config, store, NOW + timedelta(hours=1))
    assert again.written == ()
    # A deleted page file is noticed and written again.
    (output / "archive/news/1.json").unlink()
    third = build_feeds(config, store, NOW)
    assert [p.name for p in third.written] == ["1.json"]


def test_backfilled_old_items_do_not_reshuffle_pages_and_stay_reachable(
        tmp_path: Path, store: Store) -> None:
    # 110 recent items first, then a backfill brings 60 older stories.
    save(store, [make_item(n) for n in range(1000, 1110)], T0 + timedelta(days=100))
    output = tmp_path / "out"
    config = make_config(output)
    build_feeds(config, store, NOW)
    page1 = (output / "archive/news/1.atom").read_bytes()
    for start in range(0, 60, 20):   # three backfill pages, newest stories first
        save(store, [make_item(n) for n in range(59 - start, 39 - start, -1)],
             T0 + timedelta(days=200, minutes=start))
        build_feeds(config, store, NOW)
    assert (output / "archive/news/1.atom").read_bytes() == page1
    every = {url_of(n) for n in (*range(60), *range(1000, 1110))}
    docs = walk_xml(output, "atom")
    rebuilt = reconstruct([[e.link for e in parsed.entries] for _, parsed, _ in docs])
    assert set(rebuilt) == every and len(rebuilt) == len(every)
    # The old stories not yet on a full page ride along in the current document.
    current = [e.link for e in docs[0][1].entries]
    assert len(current) > 50


def test_filters_and_several_sources_apply_to_archives(tmp_path: Path, store: Store) -> None:
    save(store, [make_item(n, title=f"Story {n} {'even' if n % 2 == 0 else 'odd'}")
                 for n in range(0, 100)], T0)
    save(store, [make_item(n, title=f"Other {n} even") for n in range(100, 140)], T0,
         source="other")
    output = tmp_path / "out"
    build_feeds(make_config(output, limit=20, include=("even",), sources=("news", "other")),
                store, NOW)
    docs = walk_xml(output, "rss")
    titles = [e.title for _, parsed, _ in docs for e in parsed.entries]
    assert titles and all("even" in title for title in titles)
    rebuilt = reconstruct([[e.link for e in parsed.entries] for _, parsed, _ in docs])
    assert sorted(rebuilt) == sorted({url_of(n) for n in range(0, 100, 2)} |
                                     {url_of(n) for n in range(100, 140)})


def test_limit_change_recuts_pages_and_removes_stale_files(tmp_path: Path,
                                                           store: Store) -> None:
    save(store, [make_item(n) for n in range(120)], T0)
    output = tmp_path / "out"
    build_feeds(make_config(output, limit=20), store, NOW)
    assert (output / "archive/news/5.rss").exists()
    build_feeds(make_config(output, limit=50), store, NOW)
    names = sorted(p.name for p in (output / "archive/news").iterdir())
    assert names == ["1.atom", "1.json", "1.rss", "2.atom", "2.json", "2.rss"]


def test_a_history_splits_into_two_parts_that_hold_it_whole(store: Store) -> None:
    save(store, [make_item(n) for n in range(30)], T0)
    save(store, [make_item(n, source_id="other") for n in range(0, 30, 3)],
         T0 + timedelta(hours=1), source="other")
    sources = ["news", "other"]
    for text in (True, False):
        whole = list(store.feed_links(sources, text=text))
        first = store.link_split(sources, 0.5)
        assert first is not None
        below = list(store.feed_links(sources, text=text, below_id=first))
        rest = list(store.feed_links(sources, text=text, first_id=first))
        assert below and rest and sorted(below + rest) == sorted(whole)
        # Every item's links are whole in one part: the parts' keys are the whole's.
        assert {link.item_id for link in below}.isdisjoint({link.item_id for link in rest})
        assert all(link.item_id < first for link in below)
        # A worker process reads its part through the store's reopener the same way.
        reopened = store.reopener()
        assert reopened is not None
        reader = reopened()
        try:
            assert sorted(reader.feed_links(sources, text=text, first_id=first)) == sorted(rest)
            assert sorted(reader.feed_links(sources, text=text)) == sorted(whole)
        finally:
            reader.close()
    assert store.link_split([], 0.5) is None
    assert store.link_split(["nobody"], 0.5) is None
