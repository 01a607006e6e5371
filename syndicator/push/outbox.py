"""The outbox decision: which new items go to which push target. Pure, no I/O.

`outbox_hook(config, source_id)` is what the pipeline passes to `Store.save_run`; the store
reads the push state inside its transaction and calls `decide` with it, then writes the
rows decide returns, in that same transaction.

Rules:
- An item goes to a target when one of the target's feeds contains its source and accepts
  it (the feed's include/exclude), and the target's own include/exclude accept it (searched
  in the categories too); both are a selection.Filter.
- First sight: the first run that brings new items of a source to a target (a new
  target, a source newly added to one of its feeds, a fresh database) pushes none of the
  items stored before, except the newest `backfill` of them. If the source had no items
  at all before (its first run stores the whole listing as "new"), that run's items count
  as stored before: they are written as `suppressed` (shown on the status page, never
  sent), except the newest `backfill`. A source with history brings real news: sent.
- Telegram rows have recipient ""; email rows are written once per confirmed subscriber
  (an address confirmed later does not receive older items).
- Updated items are not pushed again; with `on_update: edit` a sent Telegram message is
  queued to be edited in place.
- A Telegram target with `translations: skip` pushes each story once: an item whose story
  (store/translations.py) the target was already given in another language is written as
  `suppressed`, and of the versions one run brings, only the one in the target's first
  language (its `languages`, else its feeds' order) goes out (else the oldest). A version
  in a better language than the one queued for the story, still waiting and never tried,
  takes its place (the store makes the swap only if that is still so).
- An email subscriber who chose languages gets each story once, in the first of them it
  exists in (among this run's new items; a story already given in any language is not
  given again) and nothing in other languages (an item naming no language is in none
  of them: it goes to them too); one who chose none gets every item. A
  version in a better language of theirs takes the place of one still waiting for them,
  never tried (a digest reader's until the digest goes out), as for Telegram.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from syndicator.config import Config, EmailTarget, FeedConfig, PushTarget, TelegramTarget
from syndicator.locales import language_key
from syndicator.model import Delivery, Item, OutboxHook, OutboxPlan, OutboxView
from syndicator.push.languages import reader_languages
from syndicator.selection import Filter


@dataclass(frozen=True)
class _Route:
    """One target as seen from one source: its filters and settings."""

    target: PushTarget
    feeds: tuple[Filter, ...]       # the filters of the target's feeds containing the source
    own: Filter                     # the target's own, which also searches the categories
    languages: tuple[str, ...] = ()  # `translations: skip`: the versions preferred, in order

    def accepts(self, item: Item) -> bool:
        return any(f.accepts(item) for f in self.feeds) and self.own.accepts_tagged(item)


def targets_for_source(config: Config, source_id: str) -> list[PushTarget]:
    """The enabled push targets with a feed that contains the source."""
    feeds = {feed.id: feed for feed in config.feeds_for_source(source_id)}
    return [t for t in config.push if t.enabled and any(f in feeds for f in t.feeds)]


def _route(config: Config, target: PushTarget, feeds: dict[str, FeedConfig]) -> _Route:
    languages = ((target.languages or config.languages_of(target.feeds))
                 if isinstance(target, TelegramTarget) else ())
    return _Route(
        target=target,
        feeds=tuple(Filter.of(feeds[f]) for f in target.feeds if f in feeds),
        own=Filter.of(target), languages=languages)


def outbox_hook(config: Config, source_id: str) -> OutboxHook | None:
    """What `save_run` needs to write the deliveries of a run of this source (None: none)."""
    targets = targets_for_source(config, source_id)
    if not targets:
        return None
    feeds = {feed.id: feed for feed in config.feeds_for_source(source_id)}
    routes = tuple(_route(config, t, feeds) for t in targets)
    return OutboxHook(
        targets=tuple(t.id for t in targets),
        subscriber_targets=tuple(t.id for t in targets if isinstance(t, EmailTarget)),
        # At least 1: the decision must know whether the source had any items before.
        history=max(1, *(t.backfill for t in targets)),
        decide=partial(decide, routes),
        stories=tuple(t.id for t in targets if isinstance(t, EmailTarget)
                      or t.translations == "skip"))


def _oldest_first(items: Sequence[Item]) -> list[Item]:
    return sorted(items, key=lambda i: (i.published, i.id))


def _once_per_story(items: Sequence[Item], story_of: Mapping[str, str], told: Iterable[str],
                    waiting: Mapping[str, tuple[int, str | None]], languages: Sequence[str]
                    ) -> tuple[list[Item], list[Item], list[tuple[int, Item]]]:
    """Of `items`, one per story, in the first of `languages` it exists in (else the
    oldest): (to push, the others, swaps). A story told already is not pushed again,
    except that a version in a better language takes the place of one still `waiting`
    (delivery id, language): a swap (the waiting delivery's id, the item)."""
    done = set(told)
    rank = {language: position for position, language in enumerate(reader_languages(languages))}

    def position(language: str | None) -> int:
        return rank.get(language_key(language) or "", len(rank))

    def key(item: Item) -> tuple[int, datetime, str]:
        return (position(item.language), item.published, item.id)

    chosen: dict[str, Item] = {}
    for item in items:
        story = story_of.get(item.id, item.id)
        if story in done and story not in waiting:
            continue
        if story not in chosen or key(item) < key(chosen[story]):
            chosen[story] = item
    swaps = [(waiting[story][0], item) for story, item in chosen.items()
             if story in waiting and position(item.language) < position(waiting[story][1])]
    push = {item.id for story, item in chosen.items() if story not in waiting}
    kept = push | {item.id for _old, item in swaps}
    ordered = _oldest_first(items)
    return ([i for i in ordered if i.id in push], [i for i in ordered if i.id not in kept],
            swaps)


def _in_languages(items: Sequence[Item], languages: Sequence[str], story_of: Mapping[str, str],
                  told: Iterable[str], waiting: Mapping[str, tuple[int, str | None]]
                  ) -> tuple[set[str], list[tuple[int, Item]]]:
    """What a reader of `languages` gets of `items`: of each story not told yet, the
    version in the first of them it exists in, nothing in other languages (an item that
    names no language is in none of those: it comes after theirs) (the ids); and a
    version in a better language of theirs than the one still waiting for them, never
    tried (a digest's morning), in its place: swaps, as _once_per_story's."""
    readable = set(reader_languages(languages))
    mine = [item for item in items
            if not item.language or language_key(item.language) in readable]
    push, _others, swaps = _once_per_story(mine, story_of, told, waiting, languages)
    return {item.id for item in push}, swaps


def decide(routes: Sequence[_Route], view: OutboxView) -> OutboxPlan:
    rows: list[Delivery] = []
    swaps: list[tuple[int, Delivery]] = []
    edits: list[tuple[str, str]] = []
    for route in routes:
        target = route.target
        recipients: tuple[str, ...] = ("",)
        if isinstance(target, EmailTarget):
            recipients = view.subscribers.get(target.id, ())
        if target.id in view.primed:
            send = [item for item in view.new if route.accepts(item)]
            suppressed: list[Item] = []
            if isinstance(target, TelegramTarget) and target.on_update == "edit":
                edits.extend((item.id, target.id) for item in view.updated
                             if route.accepts(item))
        else:
            fresh_source = not view.history
            # A source's first run stores its whole listing as "new": old news, held back.
            # A source with history brought this run's items as real news: they go out.
            pool = {item.id: item for item in (view.new if fresh_source else view.history)}
            newest = sorted((i for i in pool.values() if route.accepts(i)),
                            key=lambda i: (i.published, i.id), reverse=True)
            chosen = {item.id for item in newest[:target.backfill]}
            send = [pool[item_id] for item_id in chosen]
            if fresh_source:
                suppressed = [item for item in view.new if item.id not in chosen]
            else:
                send += [item for item in view.new if route.accepts(item)]
                suppressed = []
        if isinstance(target, TelegramTarget) and target.translations == "skip":
            send, again, swapped = _once_per_story(
                send, view.story_of, view.told.get((target.id, ""), ()),
                view.waiting.get((target.id, ""), {}), route.languages)
            rows.extend(Delivery(item_id=item.id, target_id=target.id, state="suppressed",
                                 error="another language version of the story was pushed")
                        for item in again)
            swaps.extend((old, Delivery(item_id=item.id, target_id=target.id))
                         for old, item in swapped)
        # A subscriber who chose languages gets each story once, in the first of them.
        reads: dict[str, set[str]] = {}
        for r in recipients:
            if languages := view.languages.get((target.id, r)):
                reads[r], better = _in_languages(send, languages, view.story_of,
                                                 view.told.get((target.id, r), ()),
                                                 view.waiting.get((target.id, r), {}))
                swaps.extend((old, Delivery(item_id=item.id, target_id=target.id,
                                            recipient=r)) for old, item in better)
        for item in _oldest_first(send):
            rows.extend(Delivery(item_id=item.id, target_id=target.id, recipient=r)
                        for r in recipients if r not in reads or item.id in reads[r])
        rows.extend(Delivery(item_id=item.id, target_id=target.id, state="suppressed",
                             error=f"first sight of source {view.source_id}: not pushed")
                    for item in _oldest_first(suppressed))
    return OutboxPlan(deliveries=tuple(rows), edits=tuple(edits), swaps=tuple(swaps))
