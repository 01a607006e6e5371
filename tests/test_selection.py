"""selection.py: the one include/exclude filter and the one newest-N loop, and that the build,
query answers and push all choose by them (a test per caller, on the same cases)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from syndicator.config import Config, FeedConfig, TelegramTarget, parse_config
from syndicator.model import Item
from syndicator.publish.build import select_items as build_select
from syndicator.publish.history import filtered_feeds, history_keys
from syndicator.push.outbox import _route
from syndicator.selection import Filter, newest
from syndicator.web.query import FeedQuery
from syndicator.web.query import select_items as query_select

T = datetime(2024, 5, 3, 12, 30, tzinfo=UTC)
FEED = FeedConfig(id="news", title="News", sources=("en",), link="https://news.example.org/",
                  limit=10)


def item(n: int, title: str, summary: str = "", categories: tuple[str, ...] = ()) -> Item:
    return Item(id=f"id{n}", source_id="en", url=f"https://news.example.org/{n}", title=title,
                summary=summary, categories=categories, published=T - timedelta(minutes=n),
                updated=T - timedelta(minutes=n))


ITEMS = [
    item(1, "Budget vote", "economy"),
    item(2, "Football final"),
    item(3, "Sports: budget for stadium"),
    item(4, "Weather", "ECONOMY impact"),
    item(5, "Markets", "flat", categories=("Economy",)),
]

# (include, exclude, ids chosen): case-insensitive regexes in title + summary, no include is
# everything, an exclude match wins.
CASES = [
    ((), (), ["id1", "id2", "id3", "id4", "id5"]),
    (("budget", r"econom(y|ics)"), ("^sports",), ["id1", "id4"]),
    ((), ("FOOTBALL",), ["id1", "id3", "id4", "id5"]),
    (("budget",), ("vote",), ["id3"]),
]


class Store:
    """Items newest first, paged; with `latest_heads`/`items_for_build` as Store has them."""

    def __init__(self, items: Sequence[Item]) -> None:
        self.items = list(items)

    def latest(self, source_ids: Sequence[str], *, limit: int, offset: int = 0) -> list[Item]:
        return [i for i in self.items if i.source_id in source_ids][offset:offset + limit]


class FastStore(Store):
    def latest_heads(self, source_ids: Sequence[str], *, limit: int, offset: int = 0,
                     text: bool = True) -> list[Item]:
        return self.latest(source_ids, limit=limit, offset=offset)

    def items_for_build(self, ids: Iterable[str]) -> dict[str, Item]:
        wanted = set(ids)
        return {i.id: i for i in self.items if i.id in wanted}


def feed(include: Sequence[str], exclude: Sequence[str]) -> FeedConfig:
    return FEED.model_copy(update={"include": tuple(include), "exclude": tuple(exclude)})


@pytest.mark.parametrize(("include", "exclude", "ids"), CASES)
def test_the_build_chooses_by_the_filter(include: Sequence[str], exclude: Sequence[str],
                                         ids: list[str]) -> None:
    for store in (Store(ITEMS), FastStore(ITEMS)):
        assert [i.id for i in build_select(feed(include, exclude), store)] == ids


@pytest.mark.parametrize(("include", "exclude", "ids"), CASES)
def test_the_history_of_an_archive_chooses_by_the_filter(
        include: Sequence[str], exclude: Sequence[str], ids: list[str]) -> None:
    class Link:
        def __init__(self, it: Item) -> None:
            self.item_id, self.source_id, self.title, self.summary = (
                it.id, it.source_id, it.title, it.summary)
            self.first_seen, self.published = "2024-05-03", it.published.isoformat()

    keys = history_keys(filtered_feeds([feed(include, exclude)]),
                        [Link(i) for i in ITEMS])  # type: ignore[misc]  # duck-typed rows
    assert [key[2] for key in keys["news"]] == ids


@pytest.mark.parametrize(("include", "exclude", "ids"), CASES)
def test_query_answers_choose_by_the_feed_filter(include: Sequence[str], exclude: Sequence[str],
                                                 ids: list[str]) -> None:
    chosen = query_select(feed(include, exclude), Store(ITEMS), FeedQuery())
    assert [i.id for i in chosen] == ids


def test_query_answers_apply_the_query_filter_on_top_of_the_feed_filter() -> None:
    chosen = query_select(feed((), ("football",)), Store(ITEMS),
                          FeedQuery(filter="budget|economy", filterout="stadium"))
    assert [i.id for i in chosen] == ["id1", "id4"]


def _push_config() -> Config:
    """The configuration a push route reads its languages from (one English source)."""
    return parse_config(
        "sources:\n  - id: en\n    url: https://news.example.org/\n    language: en\n"
        "    list: {item: article, link: 'a@href'}\n"
        "feeds:\n  - id: news\n    title: News\n    sources: [en]\n")


@pytest.mark.parametrize(("include", "exclude", "ids"), CASES)
def test_push_chooses_by_the_feed_filter_and_its_own(include: Sequence[str],
                                                     exclude: Sequence[str],
                                                     ids: list[str]) -> None:
    target: dict[str, Any] = {"id": "tg", "type": "telegram", "feeds": ("news",),
                              "chat_id": "@news", "token": "t"}
    config = _push_config()
    through_feed = _route(config, TelegramTarget(**target), {"news": feed(include, exclude)})
    assert [i.id for i in ITEMS if through_feed.accepts(i)] == ids
    own = _route(config,
                 TelegramTarget(**target, include=tuple(include), exclude=tuple(exclude)),
                 {"news": feed((), ())})
    # A target's own filter searches the categories too: "Markets" is tagged Economy.
    with_categories = sorted({*ids, "id5"}) if "econom(y|ics)" in include else ids
    assert [i.id for i in ITEMS if own.accepts(i)] == with_categories


def test_the_filter_takes_any_matchers() -> None:
    keep = Filter([lambda text: "a" in text], [lambda text: "x" in text])
    assert keep.active and keep.accepts_text("a b") and not keep.accepts_text("a x")
    assert not keep.accepts_text("b")
    assert not Filter().active and Filter().accepts_text("")
    tagged = Filter.of(feed(("economy",), ()))
    assert not tagged.accepts(ITEMS[4]) and tagged.accepts_tagged(ITEMS[4])


def test_newest_pages_until_enough_and_keeps_the_first_of_each_id() -> None:
    reads: list[tuple[int, int]] = []
    items = [item(n % 7, f"story {n}") for n in range(20)]   # ids repeat after 7

    def read(limit: int, offset: int) -> list[Item]:
        reads.append((limit, offset))
        return items[offset:offset + limit]

    chosen = newest(read, 5, accepts=lambda i: i.id != "id2", page=4, max_scanned=100)
    assert [i.id for i in chosen] == ["id0", "id1", "id3", "id4", "id5"]
    assert reads == [(4, 0), (4, 4)]
    reads.clear()
    assert len(newest(read, 50, page=4, max_scanned=100)) == 7
    assert reads[-1] == (4, 20)                 # a short (empty) page ends the store
    reads.clear()
    assert len(newest(read, 50, page=4, max_scanned=8)) == 7
    assert reads == [(4, 0), (4, 4)]            # max_scanned reached
    calls = iter(range(100))
    assert [i.id for i in newest(read, 50, page=4, max_scanned=100,
                                 over_budget=lambda: next(calls) >= 2)] == ["id0", "id1", "id2"]
