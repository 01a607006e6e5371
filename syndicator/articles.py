"""Stage 2 of a source run (pipeline.py): the article pages of a run's cards.

Each card is judged as the listing pages yield it (unchanged: no request; listing only; or
its article page to fetch); the fetches run in a thread pool, politely (the Fetcher's
per-host limits) and within the run's origin policy and deadline; `finish()` collects the
outcomes in card order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from syndicator.app import App
from syndicator.config import FetchConfig, SourceConfig
from syndicator.errors import FetchError
from syndicator.extract.entries import alternatives, remembered
from syndicator.model import Article, Item, NotModified, UrlState, Validators
from syndicator.normalise import NormaliseContext
from syndicator.runlog import Progress, RunLog, article_key, url_state
from syndicator.workers import ArticleWork


@dataclass(frozen=True)
class Fetched:
    """What a worker made of one article URL: an Article, a 304, or an error message."""

    work: ArticleWork | None = None
    validators: Validators = field(default_factory=Validators)
    not_modified: bool = False
    error: str | None = None
    fetched: bool = False          # a body was received (even if it could not be read)
    late: bool = False             # not fetched: the run's deadline had passed


@dataclass(frozen=True)
class Candidate:
    """A story seen on a listing, with the article page fetched for it (if any)."""

    card: Article
    page: Article | None
    listing_hash: str
    validators: UrlState | None
    # When the page was read by a worker, it also normalised card + page (item None: no
    # usable title or URL); otherwise pipeline._normalise does it.
    normalised: bool = False
    item: Item | None = None


def wants_article_pages(source: SourceConfig) -> bool:
    if source.fetch_articles is not None:
        return source.fetch_articles
    return source.type in ("html", "sitemap")


def listing_hash(card: Article) -> str:
    """What the listing shows of a story; an article page is fetched again only if it changes."""
    parts = [card.title or "", *card.dates, card.summary or "", card.image or "",
             card.updated or "", card.content or "",
             # a sitemap entry's language versions (none on a listing card)
             *(f"{language}={url}" for language, url in card.translations or ())]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


class ArticleReader:
    """Stage 2 for a run's cards as the listing pages yield them: each card is judged at once
    (unchanged: no request; listing only; or its article page to fetch), the fetches start
    in a thread pool (politely: the Fetcher's per-host limits), and `finish()` collects the
    outcomes in card order. So article pages download while later listing pages are still
    being walked, instead of after the whole walk.
    """

    def __init__(self, app: App, source: SourceConfig, settings: FetchConfig, run: RunLog,
                 progress: Progress, ctx: NormaliseContext) -> None:
        self.app = app
        self.source = source
        self.settings = settings.for_articles()   # rendered only with render_articles
        self.run = run
        self.progress = progress
        self.ctx = ctx
        # In card order: a ready candidate (+ its state), an unchanged item id, or a fetch.
        self._entries: list[Candidate | str | Pending] = []
        self._states: list[UrlState] = []
        self._pool: ThreadPoolExecutor | None = None
        self._fetches = 0
        self._pooled = False

    def add(self, cards: Sequence[Article], *, more: bool = False) -> None:
        """Judge `cards` and start their fetches; `more`: further cards will follow (so a
        small first page does not decide against the page workers)."""
        if not cards:
            return
        app = self.app
        urls = [card.url for card in cards]
        states = app.store.url_states(urls)
        # By item URL: a card's identity (a #fragment, a guid) is part of it; each card
        # keeps the identity its item was stored under (entries.py).
        stored = app.store.items_by_url(article_key(other) for card in cards
                                        for other in (card, *alternatives(card)))
        cards = remembered(cards, lambda again: stored.get(article_key(again)), self.source.id)
        fetches: list[Pending] = []
        wants_pages = wants_article_pages(self.source)
        elsewhere: list[str] = []
        for card in cards:
            digest = listing_hash(card)
            if wants_pages and card.url and not self.run.policy.allows(card.url):
                # Not followed (fetchpolicy.py). A feed's entry stands on its own; a listing
                # card or a sitemap entry is only a pointer to the page it names: dropped.
                elsewhere.append(card.url)
                if self.source.type == "feed":
                    self._entries.append(Candidate(card, None, digest, None))
                continue
            state = states.get(card.url)
            if state is not None and state.listing_hash == digest:
                # Done before, and the listing shows nothing new: no request at all.
                known = stored.get(article_key(card))
                if known is not None:
                    self._entries.append(known.id)
                continue
            if wants_pages:
                fetches.append(Pending(card, digest, state, stored.get(article_key(card))))
            else:
                self._entries.append(Candidate(card, None, digest, state))
                self._states.append(url_state(card.url, None, None, digest, app.clock()))
        self.run.off_origin(elsewhere, "link(s)")
        if not fetches:
            return
        self._fetches += len(fetches)
        self.progress("articles", str(self._fetches))
        if not self._pooled:
            self._pooled = app.workers.wants(self._fetches * 2 if more else self._fetches)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=max(1, self.settings.concurrency),
                                            thread_name_prefix=f"fetch-{self.source.id}")
        pooled = self._pooled
        for pending in fetches:
            pending.future = self._pool.submit(self._fetch_one, pending, pooled)
            self._entries.append(pending)

    def _fetch_one(self, job: Pending, pooled: bool) -> Fetched:
        # The page is read here, in the fetch thread (or by a worker process it hands the
        # undecoded body to), so that only the small Item (not the page of several hundred
        # KB) waits for the main thread: memory stays flat.
        validators = job.state.validators if job.state is not None else None
        if self.run.expired():
            return Fetched(late=True)
        try:
            answer = self.app.fetcher.get_body(job.card.url, self.settings,
                                                validators=validators,
                                                deadline=self.run.deadline,
                                                follow=self.run.policy)
        except FetchError as exc:
            return Fetched(error=f"article {exc}")
        if isinstance(answer, NotModified):
            return Fetched(validators=answer.validators, not_modified=True)
        work = self.app.workers.read(answer, self.source.article, job.card, self.ctx,
                                     pooled=pooled)
        if work.error is not None:
            return Fetched(error=work.error, fetched=True)
        return Fetched(validators=answer.validators, work=work)

    def finish(self) -> tuple[list[Candidate], list[UrlState], list[str]]:
        """Wait for the fetches. Returns the candidates, the URL states to save, and the ids
        of stored items whose cards did not change (not fetched, but the store still links
        them to this source)."""
        run, app = self.run, self.app
        candidates: list[Candidate] = []
        unchanged: list[str] = []
        new_states = list(self._states)
        late = 0
        for entry in self._entries:
            if isinstance(entry, str):
                unchanged.append(entry)
                continue
            if isinstance(entry, Candidate):
                candidates.append(entry)
                continue
            assert entry.future is not None
            done = entry.future.result()
            card, digest = entry.card, entry.digest
            self.progress("article", card.url)
            fallback = article_from_item(entry.before) if entry.before is not None else None
            run.pages += done.fetched or done.work is not None
            if done.late:  # as an error below, without a message per page
                late += 1
                candidates.append(Candidate(card, fallback, digest, None))
                continue
            if done.error is not None:
                # The listing data (plus what is stored) still makes an item; no state is
                # saved, so the article page is tried again on the next run.
                run.error(done.error)
                candidates.append(Candidate(card, fallback, digest, None))
                continue
            new_states.append(url_state(card.url, done.validators.etag,
                                     done.validators.last_modified, digest, app.clock()))
            if done.work is not None:
                candidates.append(Candidate(card, None, digest, None, normalised=True,
                                             item=done.work.item))
                continue
            if done.not_modified:
                run.not_modified += 1
            if fallback is not None:
                candidates.append(Candidate(card, fallback, digest, None))
            # else: 304 for an item stored under another (canonical) URL: keep it as it is
        if late:
            run.error(f"the run's deadline ({self.settings.run_deadline:g} s, "
                      f"fetch.run_deadline) passed: {late} article page(s) not fetched")
        return candidates, new_states, unchanged

    def close(self) -> None:
        """Stop: fetches not started yet are dropped (a failed run), running ones end."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> ArticleReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class Pending:
    """A card whose article page is being fetched."""

    card: Article
    digest: str
    state: UrlState | None
    before: Item | None                 # what the store holds for its URL
    future: Future[Fetched] | None = None


def article_from_item(item: Item) -> Article:
    """A stored item seen as an article page, for when the page itself was not re-read."""
    return Article(url=item.url, title=item.title, dates=(item.published.isoformat(),)
                   if item.published_precision == "time" else (), content=item.content,
                   image=item.image, author=item.author, categories=item.categories,
                   language=item.language)
