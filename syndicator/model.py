"""The small frozen records that flow between the pipeline stages. Data only, no I/O.

    fetch ──Page | NotModified──▶ extract ──Article──▶ normalise ──Item──▶ store ──▶ publish
                                                              source run ──▶ RunResult
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

# Other-language versions as a document names them: (language code or None, URL) pairs.
Translations = tuple[tuple[str | None, str], ...]


@dataclass(frozen=True)
class Validators:
    """HTTP cache validators remembered per URL for conditional GET."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class Page:
    """A fetched document, decoded once at the boundary."""

    url: str                      # the URL that was asked for
    final_url: str                # after redirects; relative links resolve against this
    status: int
    text: str                     # decoded body
    encoding: str                 # the charset the body was decoded with
    content_type: str             # media type without parameters, lower case
    validators: Validators = Validators()
    raw: bytes = b""              # the undecoded body
    decode_problem: str = ""      # set when no encoding tried decoded the bytes cleanly


@dataclass(frozen=True)
class Body:
    """A fetched document before decoding: its bytes and the Content-Type they came with
    (decode.decode_page makes the Page). A page worker is handed the Body and parses it
    as it is when it is UTF-8 (decode.markup), decoding only other charsets."""

    url: str
    final_url: str
    status: int
    raw: bytes
    content_type: str | None      # the header as sent, parameters included
    validators: Validators = Validators()


@dataclass(frozen=True)
class NotModified:
    """The server answered 304 to a conditional GET: nothing changed since last time."""

    url: str
    validators: Validators = Validators()


@dataclass(frozen=True)
class Article:
    """What an extractor found for one story, before normalisation (strings as found).

    URLs are already absolute (resolved against the page they were found on); everything
    else is raw. `dates` lists date candidates in order of preference: the visible date the
    operator selected first, then machine-readable metadata (JSON-LD, article:published_time,
    <time datetime>). Normalisation picks among them.
    """

    url: str
    title: str | None = None
    dates: tuple[str, ...] = ()
    updated: str | None = None            # raw modification date, if the page states one
    summary: str | None = None            # text or HTML excerpt
    content: str | None = None            # HTML of the article body, unsanitised
    image: str | None = None              # absolute URL
    author: str | None = None
    categories: tuple[str, ...] = ()
    canonical: str | None = None          # <link rel=canonical> / og:url, absolute
    language: str | None = None
    # What tells this story from others at the same URL, when the URL alone does not (set
    # by extract/entries.py for feed entries and listing cards alike): "#fragment" or the
    # feed's guid, kept in the item's URL as its fragment.
    identity: str | None = None
    guid: str | None = None               # a feed entry's guid (RSS guid, Atom/JSON id)
    # The other-language versions the document names: (language or None, absolute URL), from
    # hreflang alternates, JSON-LD workTranslation/translationOfWork, the source's language
    # switcher or a feed entry's alternate links. None: the document was not read for them
    # (a listing card); (): it was, and names none.
    translations: Translations | None = None
    # Where each field's value came from, by field name ("link", "title", "date", "updated",
    # "summary", "content", "image", "author", "category", "canonical"): BY_SELECTOR, or the
    # fallback that filled it ("link text", "JSON-LD", "OpenGraph", ...). Set by the HTML
    # extractors, shown by `syndicator check`; not part of what the story is.
    origins: Mapping[str, str] = field(default_factory=dict, compare=False)


# Article.origins of a value the operator's selector found.
BY_SELECTOR = "selector"


@dataclass(frozen=True)
class Translation:
    """Another language version of a stored item: a member of its story's group."""

    item_id: str
    language: str | None
    url: str
    title: str


@dataclass(frozen=True)
class Item:
    """A normalised story: what is stored and published. Datetimes are UTC-aware."""

    id: str                               # stable: derived from the canonical URL
    source_id: str
    url: str                              # canonical URL
    title: str
    published: datetime
    updated: datetime
    summary: str = ""                     # plain text
    content: str = ""                     # sanitised HTML, absolute URLs
    image: str | None = None
    author: str | None = None
    categories: tuple[str, ...] = ()
    language: str | None = None
    # How `published` was known: "time" (a full timestamp), "day" (a date without time of
    # day: the first-seen time on that day, or local midnight, kept stable by the store) or
    # "none" (no date at all: the first-seen time, kept stable by the store).
    published_precision: str = "time"
    content_hash: str = ""                # hash of the published fields; detects edits
    # What the item's page claims as its other-language versions: (language or None,
    # published URL), normalised; None when this run did not read the page. Claims are
    # stored apart from the item (store/translations.py) and join items into one story only
    # when both sides name each other; they are not part of `content_hash`.
    translation_claims: Translations | None = None
    # What the source names the story by among those on its page (normalise.entry_key): a
    # feed entry's guid, else the "#fragment" of its link; None: neither. It tells whose an
    # item stored under a page's plain URL is (extract/entries.py); not in `content_hash`.
    entry_key: str | None = None
    # The other versions of its story (store/translations.py), as a feed build found them
    # for the current documents (publish/build.py); () wherever nobody looked.
    versions: tuple[Translation, ...] = ()


@dataclass(frozen=True)
class UpsertResult:
    """Which items an upsert created and which it changed."""

    new: tuple[Item, ...] = ()
    updated: tuple[Item, ...] = ()


@dataclass(frozen=True)
class RunResult:
    """The outcome of one source run. Errors are values here, not exceptions."""

    source_id: str
    started: datetime
    finished: datetime
    ok: bool
    pages: int = 0                        # documents fetched with a body (listings + articles)
    not_modified: int = 0                 # 304 answers
    items_seen: int = 0                   # items extracted from the listings
    new: int = 0
    updated: int = 0
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    missing_fields: dict[str, int] = field(default_factory=dict)  # field -> items lacking it


@dataclass(frozen=True)
class UrlState:
    """What we remember per fetched URL: validators and, for articles, the listing card hash."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    listing_hash: str | None = None       # hash of the listing card that pointed at the article
    fetched_at: datetime | None = None

    @property
    def validators(self) -> Validators:
        return Validators(etag=self.etag, last_modified=self.last_modified)


@dataclass(frozen=True)
class Listing:
    """One listing page: the cards found on it and the link to the next page."""

    articles: tuple[Article, ...] = ()
    next_url: str | None = None
    unlinked: int = 0             # `item` elements left out: no usable link in them


@dataclass(frozen=True)
class Delivery:
    """One item on its way to one push target (and, for email, one address).

    state: "pending" → "sending" → "sent" | "failed" (retried from `next_at`) | "dead" (given
    up) | "unknown" (the request may or may not have arrived: never resent automatically);
    "suppressed" rows are never sent (first sight of a source, unsubscribed address).
    `action` is "send", or "edit" to update already sent messages in place.
    """

    item_id: str
    target_id: str
    recipient: str = ""                   # email address; "" for Telegram
    state: str = "pending"
    action: str = "send"
    attempts: int = 0
    next_at: datetime | None = None
    message_ids: tuple[str, ...] = ()     # what the channel answered, in order of the parts
    error: str | None = None
    id: int | None = None                 # set once stored
    created: datetime | None = None
    updated: datetime | None = None
    claimed_at: datetime | None = None
    claim: str | None = None


# -- push: what the outbox decision reads and decides, target and address state ---------------

@dataclass(frozen=True)
class OutboxView:
    """What the outbox decision sees, read inside the transaction that stores the items."""

    source_id: str
    now: datetime
    new: tuple[Item, ...]
    updated: tuple[Item, ...]
    history: tuple[Item, ...] = ()        # newest items of the source stored before this run
    primed: frozenset[str] = frozenset()  # targets that had already seen the source
    subscribers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # confirmed
    # For targets that push a story once (OutboxHook.stories): the story (translation
    # group) of each new item that has other versions, and per (target, recipient) the
    # stories it has already been given a version of.
    story_of: Mapping[str, str] = field(default_factory=dict)
    told: Mapping[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    # Of those, per (target, recipient): story → (delivery id, language) of the version
    # still waiting to go out, never tried (another version may take its place).
    waiting: Mapping[tuple[str, str], Mapping[str, tuple[int, str | None]]] = field(
        default_factory=dict)
    # (target, address) → the languages a subscriber chose (only those who chose).
    languages: Mapping[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class OutboxPlan:
    """The outbox decision: rows to add, sent messages to edit. (That the targets have now
    seen the source is written by the store, which decides it: OutboxView.primed.)"""

    deliveries: tuple[Delivery, ...] = ()
    edits: tuple[tuple[str, str], ...] = ()   # (item id, target id): edit the sent messages
    # (waiting delivery id, its replacement): the new row goes out instead when the old one
    # is still waiting as the decision saw it; else it is written suppressed.
    swaps: tuple[tuple[int, Delivery], ...] = ()


@dataclass(frozen=True)
class OutboxHook:
    """Passed to `Store.save_run`: which push state to read, and the (pure) decision on it."""

    targets: tuple[str, ...]                  # push target ids this source feeds
    subscriber_targets: tuple[str, ...]       # email targets whose confirmed addresses to read
    history: int                              # how many stored items backfill may need
    decide: Callable[[OutboxView], OutboxPlan]
    stories: tuple[str, ...] = ()             # targets that may push a story once


@dataclass(frozen=True)
class PushTargetState:
    """What the database remembers of one push target."""

    target_id: str
    first_seen: datetime
    chat_id: str | None = None            # a Telegram chat the target migrated to
    paused: bool = False
    paused_reason: str | None = None
    paused_at: datetime | None = None
    hold_until: datetime | None = None    # 429: nothing goes to this chat before then


@dataclass(frozen=True)
class Subscriber:
    """One address of an email target."""

    target_id: str
    email: str
    status: str                           # pending | confirmed | unsubscribed | bounced
    created: datetime
    updated: datetime
    confirmed_at: datetime | None = None
    reason: str | None = None
    # The languages read, in order of preference: each story once, in the first of them
    # it exists in (push/outbox.py); (): every item, whatever its language.
    languages: tuple[str, ...] = ()
    # item | daily | weekly (push/rhythm.py); None: the target's `mode`.
    rhythm: str | None = None


@dataclass(frozen=True)
class Signup:
    """One request of a subscribe form, queued for the push job (table `signups`)."""

    id: int
    target_id: str
    email: str
    state: str
    attempts: int
    created: datetime
    languages: tuple[str, ...] | None = None   # chosen on the form (None: not asked)
    rhythm: str | None = None


@dataclass(frozen=True)
class StoryVersion:
    """One version of a story (translation group) in some sources: what a grouped feed
    chooses among (selection.left_out_versions)."""

    group_id: str
    item_id: str
    language: str | None
    published: datetime


# -- backfill and archive planning --------------------------------------------------------------

@dataclass(frozen=True)
class BackfillState:
    """Progress of `syndicator fetch --backfill` for one source (table backfill_state)."""

    source_id: str
    next_url: str | None      # the listing page to fetch next; None once the walk ended
    pages_done: int
    started: datetime
    updated: datetime
    finished: datetime | None = None


@dataclass(frozen=True)
class HistoryEntry:
    """One item of a feed's history, without its content (for archive planning)."""

    id: str
    entered: datetime         # when the item first appeared in one of the feed's sources
    published: datetime
    updated: datetime
    content_hash: str
    title: str
    summary: str


# -- feed builds: what the store reads for the publisher ---------------------------------------

class FeedLink(NamedTuple):
    """One link of an item to a source, with the item's light fields (no content).

    Times are *time keys*: UTC as "YYYY-MM-DD HH:MM:SS.ffffff", which sort as the times do
    and are cheap to read back (SQLite stores exactly this text). A named tuple, not a
    frozen dataclass: a full build makes one per link of the whole history (100,000 and
    more), and a tuple is made ~5× faster."""

    item_id: str
    source_id: str
    first_seen: str           # when this source first listed the item
    published: str
    updated: str
    content_hash: str
    title: str
    summary: str


# -- shared build output: what a build published for the other serving processes -----------

@dataclass(frozen=True)
class PublishedFile:
    """One file of the output folder as the store shares it (PostgreSQL): its path relative
    to the folder ("office-en.rss", "archive/office-en/1.atom"), the version of the build
    that wrote it last, its bytes (None: that build removed it) and when that build ran
    (its `now`: the file's modification time in every folder, so that every instance sends
    the same Last-Modified; None when not read) and the SHA-256 of the bytes (hex; None
    when not read)."""

    path: str
    version: int
    data: bytes | None
    published: datetime | None = None
    sha256: str | None = None


# What renders the site-wide files (index, OPML, summaries) inside a share, under the store's
# site lock (store/outputs.py, publish/site.py SharedSite): given a reader of a path's shared
# bytes (None: not shared), the files (path → bytes) and the build mark they come from.
SiteRender = Callable[[Callable[[str], bytes | None]], tuple[Mapping[str, bytes], int]]
