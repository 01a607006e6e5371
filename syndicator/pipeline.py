"""run_source(): one run of one source, through the numbered stages.

    1. fetch      listing page(s), conditionally (a 304 on the first page ends the run)
    2. extract    cards from the listings; article pages for new or changed cards only
    3. normalise  Article → Item (pure), merged with what the store already holds
    4. store      items, per-URL state and the run log in one transaction

Stage 2's article pages are read by articles.py, the run's bookkeeping is runlog.py.

Errors are values: the run returns a RunResult whose `errors` say what went wrong. One bad
article page never aborts the run; a failing listing ends it without touching stored items.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from syndicator import __version__
from syndicator.app import App
from syndicator.articles import ArticleReader, Candidate
from syndicator.backlinks import run_claims
from syndicator.config import FetchConfig, SourceConfig
from syndicator.errors import FetchError, StoreError, SyndicatorError
from syndicator.extract import extract_listing
from syndicator.extract.entries import kept_apart, settled, told_apart
from syndicator.fetchpolicy import OriginPolicy
from syndicator.health import layout_check
from syndicator.model import (
    Article,
    Item,
    NotModified,
    Page,
    RunResult,
    UrlState,
    Validators,
)
from syndicator.normalise import (
    NormaliseContext,
    merge_card_and_page,
    merge_with_stored,
    normalise_article,
    order_undated,
)
from syndicator.push.outbox import outbox_hook
from syndicator.runlog import Progress, RunLog, article_key, no_progress, url_state

log = logging.getLogger(__name__)


def run_source(app: App, source: SourceConfig, *, max_pages: int | None = None,
               progress: Progress = no_progress) -> RunResult:
    """Fetch, extract, normalise and store one source. Never raises for a source's faults;
    a StoreError (the database is unreachable) goes to the caller."""
    settings = app.config.fetch_for(source)
    run = _new_run(app, source, settings)
    try:
        # Article pages start downloading while later listing pages are still walked.
        with ArticleReader(app, source, settings, run, progress,
                            _context(app, source)) as reader:
            if source.type == "feed":
                cards, listing_states = _read_feed(app, source, settings, run, progress)
            elif source.type == "sitemap":
                cards, listing_states = _read_sitemap(app, source, settings, run, progress)
            else:
                cards, listing_states = _read_listings(app, source, settings, run, progress,
                                                       max_pages=max_pages, reader=reader)
            if cards is None:  # the first listing page was not modified: nothing else to do
                result = run.result(app.clock(), ok=True)
                app.store.save_run(result, (), listing_states)
                return result
            if source.type != "html":
                reader.add(cards)
            result, _refused = _store_cards(app, source, settings, cards, listing_states, run,
                                            progress, push=True, reader=reader)
        progress("done", source.id)
        return result
    except StoreError:
        # The store (or the rate state shared through it) is unreachable: not the source's
        # failure, and nothing could record it; the caller reports the outage.
        raise
    except SyndicatorError as exc:
        return _record_failure(app, run, exc)


def _new_run(app: App, source: SourceConfig, settings: FetchConfig) -> RunLog:
    return RunLog(source=source, started=app.clock(),
                deadline=time.monotonic() + settings.run_deadline,
                policy=OriginPolicy.for_source(source))


def _context(app: App, source: SourceConfig) -> NormaliseContext:
    return NormaliseContext(source_id=source.id, language=source.language,
                            limits=app.config.content.limits(),
                            timezone=app.config.timezone_for(source),
                            date_format=source.date_format, now=app.clock())


def _store_cards(app: App, source: SourceConfig, settings: FetchConfig, cards: list[Article],
                 listing_states: list[UrlState], run: RunLog, progress: Progress, *,
                 push: bool, reader: ArticleReader | None = None) -> tuple[RunResult, bool]:
    """Stages 2–4 for the cards of a run: article pages, normalisation, one transaction.

    `reader` has been given the cards already (as the listing pages came); without it they
    are read here. Returns the run's result and whether the quality gate refused the run.
    `push=False` (backfill) stores items without queueing them for push targets.
    """
    run.items_seen = len(cards)
    if reader is None:
        with ArticleReader(app, source, settings, run, progress,
                            _context(app, source)) as own:
            own.add(cards)
            return _store_cards(app, source, settings, cards, listing_states, run, progress,
                                push=push, reader=own)
    ctx = reader.ctx
    candidates, article_states, unchanged = reader.finish()
    # In the order of `cards` (the listing's, which undated items keep): the reader has
    # the cards a listing page left undecided only after the walk (_read_listings).
    order = {card.url: position for position, card in reversed(list(enumerate(cards)))}
    candidates.sort(key=lambda candidate: order.get(candidate.card.url, len(order)))
    items, missing = _normalise(candidates, run, ctx, app.store.items_by_url)
    refused = _quality_gate(app, source, run.items_seen, missing)
    if refused is not None:
        # Subscribers keep the last good items: store nothing of this run, not even URL
        # states, so that the next run reads the pages again.
        run.error(refused)
        result = run.result(app.clock(), ok=False, missing=missing)
        app.store.save_run(result, (), ())
        return result, True
    new, changed, items = _changes(app, source, items)
    claims = run_claims(app, settings, run, items)
    result = run.result(app.clock(), ok=not run.errors or bool(items), new=len(new),
                        updated=len(changed), missing=missing)
    if run.errors:
        # Something was not read (an article page, a later listing page): forget what the
        # listings were, or the next run would end at their 304 or unchanged body before
        # it could try again.
        listing_states = [replace(s, etag=None, last_modified=None, listing_hash=None)
                          for s in listing_states]
    app.store.save_run(result, [*new, *changed], [*listing_states, *article_states],
                       seen=[*unchanged, *(item.id for item in items)],
                       outbox=outbox_hook(app.config, source.id) if push else None,
                       translations=claims)
    return result, False


def _record_failure(app: App, run: RunLog, exc: SyndicatorError) -> RunResult:
    """Log a failed run in the run log; if even that fails, report it and go on."""
    run.error(str(exc))
    result = run.result(app.clock(), ok=False)
    try:
        app.store.save_run(result, (), ())
    except SyndicatorError as store_exc:
        log.error("source %s: cannot record the run: %s", run.source.id, store_exc)
    return result


# --- 1. fetch listings -----------------------------------------------------------------------

def _read_listings(app: App, source: SourceConfig, settings: FetchConfig, run: RunLog,
                   progress: Progress, *, max_pages: int | None, reader: ArticleReader
                   ) -> tuple[list[Article] | None, list[UrlState]]:
    """Walk the listing pages; each page's new cards go to `reader` at once. None for the
    cards when the first page is unchanged."""
    assert source.list is not None  # guaranteed by config validation for html sources
    limit = max_pages or source.list.max_pages
    cards: dict[str, Article] = {}
    walked: list[Article] = []        # every card of every page, in listing order
    states: list[UrlState] = []
    url: str | None = source.url
    seen_pages: set[str] = set()
    while url and len(seen_pages) < limit and url not in seen_pages:
        first = not seen_pages
        if not first and run.expired():
            run.error(f"the run's deadline ({settings.run_deadline:g} s, fetch.run_deadline) "
                      f"passed: stopped before listing page {url}")
            break
        seen_pages.add(url)
        known = app.store.url_states([url]).get(url)
        try:
            answer = app.fetcher.get(url, settings, validators=known.validators if known else None,
                                     deadline=run.deadline,
                                     follow=None if first else run.policy)
        except FetchError:
            if not seen_pages - {url}:
                raise  # the first listing page failed: the run failed
            run.error(f"listing page {url} failed; stopping pagination there")
            break
        # After a 304 the body is the one read last time: its digest stays valid. A body with
        # the same bytes as last time (a server without validators, or one that ignored
        # them) and the same config gives the same cards: a 304 in all but name; parsing it
        # would cost ~5 ms and the card lookups more, to find nothing new.
        digest = (listing_body_hash(source, answer) if isinstance(answer, Page)
                  else known.listing_hash if known is not None else None)
        if isinstance(answer, NotModified) or (known is not None
                                               and known.listing_hash == digest):
            # Counted as not modified, not as a page read: health.py takes a run that read a
            # listing (pages > 0) and found no items for a broken layout.
            run.not_modified += 1
            if _changed(known, answer.validators):
                states.append(url_state(url, answer.validators.etag,
                                     answer.validators.last_modified, digest, app.clock()))
            if len(seen_pages) == 1:
                return None, states
            break  # an unchanged later page holds only stories we already have
        run.pages += 1
        progress("page", url)
        if first:
            run.policy.add(answer.final_url)  # where the source's own URL led
        states.append(url_state(url, answer.validators.etag, answer.validators.last_modified,
                             digest, app.clock()))
        listing = extract_listing(answer, source.list)
        if not listing.articles:
            run.warn(f"no items matched list.item {source.list.item!r} on {url}")
        walked.extend(listing.articles)
        # A card alone on its page so far waits for the other listing pages (entries.py).
        fresh = _unseen(cards, [card for card in listing.articles if settled(card)])
        url = listing.next_url
        if url and not run.policy.allows(url):
            run.off_origin([url], "next page")
            url = None
        reader.add(fresh, more=bool(url) and len(seen_pages) < limit)
    decided = told_apart((card, None) for card in walked)
    reader.add(_unseen(cards, [card for card, before in zip(decided, walked, strict=True)
                               if not settled(before)]))
    return _unseen({}, decided), states


def _unseen(cards: dict[str, Article], new: Iterable[Article]) -> list[Article]:
    """The cards of `new` whose items are not among `cards` yet (by item URL: one story is
    one item, the first card of it wins); they join `cards`."""
    fresh = []
    for card in new:
        key = article_key(card)
        if key not in cards:
            cards[key] = card
            fresh.append(card)
    return fresh


def _source_page(app: App, source: SourceConfig, settings: FetchConfig, run: RunLog,
                 progress: Progress) -> tuple[Page | None, list[UrlState]]:
    """The source's URL fetched with the validators stored for it: its page (counted, its
    final URL allowed), or None when it answered 304; and the URL's state to store (after a
    304, only when the validators changed)."""
    known = app.store.url_states([source.url]).get(source.url)
    answer = app.fetcher.get(source.url, settings, validators=known.validators if known else None,
                             deadline=run.deadline)
    state = url_state(source.url, answer.validators.etag, answer.validators.last_modified, None,
                      app.clock())
    if isinstance(answer, NotModified):
        run.not_modified += 1
        return None, [state] if _changed(known, answer.validators) else []
    run.pages += 1
    progress("page", source.url)
    run.policy.add(answer.final_url)
    return answer, [state]


def _read_feed(app: App, source: SourceConfig, settings: FetchConfig, run: RunLog,
               progress: Progress) -> tuple[list[Article] | None, list[UrlState]]:
    answer, states = _source_page(app, source, settings, run, progress)
    if answer is None:
        return None, states
    # Imported here: feedparser (~30 modules) only for feed sources.
    from syndicator.extract.feed import read_feed

    read = read_feed(answer)
    run.skip(read.skipped)
    first: dict[str, Article] = {}
    entries = _unseen(first, read.articles)
    merged = sum(1 for entry in read.articles
                 if first[article_key(entry)].title != entry.title)
    if merged:
        # Entries of other titles on one link, with no guid or #fragment telling them
        # apart: one link is one item, so they are not stored; the publisher should know.
        run.warn(f"{merged} entries share the link of another, with no guid or #fragment to "
                 "tell them apart: only the first of each link is stored")
    return entries, states


def _read_sitemap(app: App, source: SourceConfig, settings: FetchConfig, run: RunLog,
                  progress: Progress) -> tuple[list[Article] | None, list[UrlState]]:
    """The newest `max_items` URLs of a sitemap (following an index to its newest children)."""
    answer, states = _source_page(app, source, settings, run, progress)
    if answer is None:
        return None, states
    from syndicator.extract.sitemap import parse_sitemap

    sitemap = parse_sitemap(answer)
    articles = list(sitemap.articles)
    children = [child for child in sitemap.sitemaps if run.policy.allows(child)]
    run.off_origin([child for child in sitemap.sitemaps if child not in children], "sitemap(s)")
    for child in children[:source.max_sitemaps]:
        if run.expired():
            run.error(f"the run's deadline ({settings.run_deadline:g} s, fetch.run_deadline) "
                      f"passed: stopped before sitemap {child}")
            break
        try:
            page = app.fetcher.get(child, settings, deadline=run.deadline, follow=run.policy)
        except FetchError as exc:
            run.error(f"sitemap {exc}")
            continue
        if isinstance(page, Page):
            run.pages += 1
            progress("page", child)
            articles.extend(parse_sitemap(page).articles)
    # Newest first by the dates the sitemap gives (ISO 8601 sorts as text); stable otherwise.
    articles.sort(key=lambda a: (a.dates[0] if a.dates else "") or a.updated or "", reverse=True)
    return _unseen({}, articles[:source.max_items]), states


def listing_body_hash(source: SourceConfig, page: Page) -> str:
    """What decides the cards a listing page yields: its bytes, the URL they came from
    (relative links resolve against it), the source's config (a fixed selector must apply at
    once) and the code's version (so must a fixed extractor).

    Kept in the listing URL's `UrlState.listing_hash`; prefixed so that it can never equal
    a card hash (`listing_hash()`) if one URL is both a listing and an article somewhere.
    """
    digest = hashlib.sha256(page.raw or page.text.encode("utf-8"))
    digest.update(b"\x1f" + page.final_url.encode("utf-8"))
    digest.update(b"\x1f" + source.model_dump_json().encode("utf-8"))
    digest.update(b"\x1f" + __version__.encode("ascii"))
    return "body:" + digest.hexdigest()[:32]


def _changed(known: UrlState | None, validators: Validators) -> bool:
    """Whether a 304's validators differ from the stored ones (else nothing to rewrite)."""
    return known is None or known.validators != validators


# --- 3. normalise ----------------------------------------------------------------------------

_REQUIRED = ("link", "title", "date")


def _normalise(candidates: Sequence[Candidate], run: RunLog, ctx: NormaliseContext,
               stored: Callable[[list[str]], Mapping[str, Item]]
               ) -> tuple[list[Item], dict[str, int]]:
    """The items of the candidates, one per URL, and how many lacked each required field.
    `stored(urls)`: the stored items of those URLs (entries.kept_apart asks)."""
    missing = dict.fromkeys(_REQUIRED, 0)
    made: list[tuple[Article, Item]] = []
    for candidate in candidates:
        if not candidate.card.url:
            missing["link"] += 1
            continue
        item = (candidate.item if candidate.normalised else
                normalise_article(merge_card_and_page(candidate.card, candidate.page), ctx))
        if item is None:
            missing["title"] += 1
            continue
        if item.published_precision == "none":
            missing["date"] += 1
        made.append((candidate.card, item))
    kept, apart = kept_apart(made, stored)
    for canonical, links in apart.items():
        log.info("source %s: different entries (guids, or texts) name %s as their "
                 "canonical URL: kept apart under their own links %s", ctx.source_id,
                 canonical, ", ".join(links))
    items: dict[str, Item] = {}
    for item in kept:
        # One URL is one item in the store, in whichever spelling the run found it (the
        # id is made from the key all spellings share): the first card's.
        items.setdefault(item.id, item)
    if missing["date"]:
        run.warn(f"{missing['date']} item(s) without a parseable date (first-seen time used)")
    ordered = order_undated(list(items.values()), ctx.now, ctx.timezone)
    return ordered, {k: v for k, v in missing.items() if v}


_GATE_SAMPLE = 20   # recent stored items that show what this source's items used to have


def _quality_gate(app: App, source: SourceConfig, seen: int,
                  missing: dict[str, int]) -> str | None:
    """The reason to store none of this run's items (a layout change), or None."""
    if not missing:
        return None
    recent = app.store.latest([source.id], limit=_GATE_SAMPLE)
    dated = sum(1 for item in recent if item.published_precision != "none")
    return layout_check(seen, missing, stored=len(recent), stored_dated=dated)


def _changes(app: App, source: SourceConfig,
             items: Iterable[Item]) -> tuple[list[Item], list[Item], list[Item]]:
    """Split items into new ones and changed ones; unchanged stored items are dropped.
    The third list is all of them, with their ids as stored.

    A stored item is found by its id, else by its URL as published: the URL is one item in
    the store, also when the key its id was made from differed (a link written unencoded
    on one run and encoded on another), so such an item is updated, never added twice.

    A story several sources carry (an RSS and an Atom feed of one wire) is one item whose
    version is that of the configured source linked to it first: the others only link to
    it, so it never flip-flops between their versions and `updated` moves only when that
    source changes it.
    """
    fresh = list(items)
    stored = app.store.items_by_id(item.id for item in fresh)
    by_url = app.store.items_by_url(item.url for item in fresh if item.id not in stored)
    fresh = [replace(item, id=by_url[item.url].id) if item.url in by_url else item
             for item in fresh]
    stored.update((item.id, item) for item in by_url.values())
    owners = app.store.first_sources(stored, [s.id for s in app.config.sources]) if stored else {}
    timezone = app.config.timezone_for(source)
    now = app.clock()
    new: list[Item] = []
    changed: list[Item] = []
    for item in fresh:
        before = stored.get(item.id)
        if before is not None and owners.get(item.id, source.id) != source.id:
            continue
        merged = merge_with_stored(before, item, timezone=timezone, now=now)
        if before is None:
            new.append(item)
        elif merged is not None:
            changed.append(merged)
    return new, changed, fresh


# --- one listing page as a run of its own (backfill) ---------------------------------------

@dataclass(frozen=True)
class PageRun:
    """The outcome of run_listing_page: the stored run and where the listing continues."""

    result: RunResult
    next_url: str | None
    done: bool          # the page was read and its items stored; False: try it again later


def run_listing_page(app: App, source: SourceConfig, url: str, *,
                     progress: Progress = no_progress) -> PageRun:
    """Run one listing page of an html source on its own, stored in its own transaction.

    Stages 1-4 as in run_source, for the cards of this page only. The page is fetched
    without validators: a listing page fetched before may still hold stories never stored
    (a normal run reads only `max_pages`). Article pages are fetched only for new or changed
    cards. The items go to no push outbox: history is not news. Used by backfill.py.
    """
    assert source.list is not None  # backfill.py accepts html sources only
    settings = app.config.fetch_for(source)
    run = _new_run(app, source, settings)
    try:
        answer = app.fetcher.get(url, settings, deadline=run.deadline)
        if isinstance(answer, NotModified):  # not possible without validators; be safe
            raise FetchError("304 answer to an unconditional request", url=url)
        run.pages += 1
        progress("page", url)
        listing = extract_listing(answer, source.list)
        if not listing.articles:
            run.warn(f"no items matched list.item {source.list.item!r} on {url}")
        cards = _unseen({}, listing.articles)
        listing_state = url_state(url, answer.validators.etag, answer.validators.last_modified,
                               None, app.clock())
        result, refused = _store_cards(app, source, settings, cards, [listing_state], run,
                                       progress, push=False)
        if refused:
            return PageRun(result, None, done=False)
        next_url = listing.next_url
        if next_url and not run.policy.allows(next_url):
            log.warning("source %s: next page %s is on another origin: not followed "
                        "(follow_hosts)", source.id, next_url)
            next_url = None
        return PageRun(result, next_url, done=True)
    except SyndicatorError as exc:
        return PageRun(_record_failure(app, run, exc), None, done=False)
