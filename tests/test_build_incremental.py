"""Incremental builds (archive state + what changed since) publish exactly what a build from
scratch publishes, and touch only what changed. Real SQLite (and PostgreSQL) store, real
files."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from syndicator.config import Config, FeedConfig, SiteConfig, SourceConfig, WebSubConfig
from syndicator.model import Item, RunResult
from syndicator.publish import build_feeds
from syndicator.publish.feeds import ENTRIES
from syndicator.store import Store

BASE = "https://feeds.example.org/"
T0 = datetime(2024, 1, 1, 8, 0, tzinfo=UTC)
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def make_item(n: int, source: str = "a", **changes: object) -> Item:
    published = T0 + timedelta(hours=n)
    item = Item(id=f"id-{n:04d}", source_id=source, url=f"https://news.example.org/a/{n}",
                title=f"Story {n} {'even' if n % 2 == 0 else 'odd'}", published=published,
                updated=published, summary=f"Summary of story {n}",
                content=f"<p>Body {n} &amp; more</p>", language="en", content_hash=f"h{n}")
    return replace(item, **changes)  # type: ignore[arg-type]


def config(output: Path) -> Config:
    return Config(
        site=SiteConfig(title="Incremental", base_url=BASE),
        output_dir=str(output),
        sources=tuple(SourceConfig(id=s, type="feed", url=f"https://news.example.org/{s}.xml")
                      for s in ("a", "b")),
        feeds=(FeedConfig(id="a", title="A", sources=("a",), limit=10),
               FeedConfig(id="both", title="Both", sources=("a", "b"), limit=15),
               FeedConfig(id="even", title="Even", sources=("a", "b"), limit=5,
                          include=("even",))),
        websub=WebSubConfig(hub="https://hub.example.net/"),
    )


class Clock:
    def __init__(self) -> None:
        self.now = T0 + timedelta(days=400)

    def tick(self) -> datetime:
        self.now += timedelta(minutes=5)
        return self.now


def save(store: Store, clock: Clock, items: list[Item], source: str = "a",
         seen: tuple[str, ...] = ()) -> None:
    at = clock.tick()
    store.save_run(RunResult(source_id=source, started=at, finished=at, ok=True), items, (),
                   seen=seen)


def published_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".state" not in p.parts}


def assert_same_as_from_scratch(cfg: Config, store: Store, scratch: Path) -> None:
    fresh = cfg.model_copy(update={"output_dir": str(scratch)})
    ENTRIES.clear()   # nothing remembered from the incremental builds
    build_feeds(fresh, store, NOW)
    assert published_files(cfg.output_path) == published_files(fresh.output_path)


def test_incremental_builds_match_builds_from_scratch(tmp_path: Path, store: Store) -> None:
    """On SQLite and on PostgreSQL, whose build marks differ (run ids, transaction horizons:
    Store.build_mark)."""
    clock = Clock()
    cfg = config(tmp_path / "out")
    save(store, clock, [make_item(n) for n in range(40)])
    save(store, clock, [make_item(n, "b") for n in range(100, 130)], source="b")
    build_feeds(cfg, store, NOW)
    steps = [
        lambda: save(store, clock, [make_item(40)]),                           # one new item
        lambda: save(store, clock, [make_item(n) for n in range(41, 60)]),      # pages fill
        lambda: save(store, clock, [make_item(3, title="Story 3 corrected even",
                                              content_hash="h3b")]),          # archived edit
        lambda: save(store, clock, [], seen=("id-0005", "id-0050")),           # seen again
        lambda: save(store, clock, [make_item(n, "b") for n in range(-30, -10)],
                     source="b"),                                              # backfill
        lambda: save(store, clock, [make_item(104, "b", title="Story 104 now odd",
                                              content_hash="h104b")], source="b"),
        lambda: save(store, clock, [], source="b", seen=("id-0045",)),         # joins "b"
        lambda: save(store, clock, [make_item(n, "b") for n in range(130, 160)], source="b"),
    ]
    for number, step in enumerate(steps):
        step()
        build_feeds(cfg, store, NOW)
        assert_same_as_from_scratch(cfg, store, tmp_path / f"scratch{number}")


def test_an_incremental_build_reads_only_what_changed(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    clock = Clock()
    cfg = config(tmp_path / "out")
    save(store, clock, [make_item(n) for n in range(40)])
    build_feeds(cfg, store, NOW)
    calls: list[str] = []
    for name in ("feed_links", "latest_heads", "latest", "feed_links_entered"):
        original = getattr(store, name)

        def spy(*args: object, _name: str = name, _original: object = original,
                **kwargs: object) -> object:
            calls.append(_name)
            return _original(*args, **kwargs)  # type: ignore[operator]

        setattr(store, name, spy)
    save(store, clock, [make_item(40)])
    result = build_feeds(cfg, store, NOW, only=["a"])
    # No full history, no window query: the state and the changes since its mark suffice.
    assert calls == []
    assert {p.name for p in result.written} >= {"a.rss", "a.atom", "a.json"}
    state = json.loads((cfg.output_path / ".state" / "archive-a.json").read_text())
    # 41 items, pages of 10: page 4 (30-39) left the window (31-40) with item 30.
    assert len(state["pages"]) == 4 and len(state["window"]) == 10
    store.close()


def test_a_damaged_state_is_rebuilt_from_history(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    clock = Clock()
    cfg = config(tmp_path / "out")
    save(store, clock, [make_item(n) for n in range(40)])
    build_feeds(cfg, store, NOW)
    before = published_files(cfg.output_path)
    (cfg.output_path / ".state" / "archive-a.json").write_text("{not json")
    result = build_feeds(cfg, store, NOW)
    assert result.written == ()
    assert published_files(cfg.output_path) == before
    store.close()
