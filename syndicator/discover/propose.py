"""`syndicator discover URL`: fetch a listing page and propose a source block for it.

The page is fetched through the crawl's own `Fetcher` and fetch settings (robots.txt, the
per-host delay, the address policy). A page that advertises a feed gets a `type: feed`
source. Otherwise the cards and their fields are found (listing.py), one article page is
read to see whether its JSON-LD/OpenGraph give what the listing lacks, and the proposed
block is parsed by the config loader and run through the real extractor (extract_listing,
extract_article, normalisation) before it is shown: the preview is what a crawl will get.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from syndicator.config import FetchConfig, SourceConfig, parse_config
from syndicator.discover.listing import Alternative, ListProposal, article_date, propose_list
from syndicator.discover.render import source_block
from syndicator.errors import DiscoveryError, SyndicatorError
from syndicator.extract.feed import read_feed
from syndicator.extract.html import (
    Node,
    absolute_url,
    attr,
    base_url,
    element_text,
    page_markup,
    parse_html,
    select_all,
    select_one,
)
from syndicator.extract.selectors import extract_article, extract_listing
from syndicator.extract.structured import json_ld_article, page_language
from syndicator.fetch import Fetcher
from syndicator.fetchpolicy import OriginPolicy
from syndicator.model import Article, Item, NotModified, Page
from syndicator.normalise import NormaliseContext, merge_card_and_page, normalise_article

__all__ = ["Discovery", "Preview", "discover"]

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_FEED_TYPES = {"application/rss+xml": "RSS", "application/atom+xml": "Atom",
               "application/feed+json": "JSON Feed", "application/rdf+xml": "RSS 1.0"}
_FEED_BODY = re.compile(r"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:rss|feed|rdf:RDF)\b",
                        re.DOTALL)


@dataclass(frozen=True)
class Preview:
    """What the proposal extracts for one card, as the crawl would store it."""

    title: str
    url: str
    published: str          # ISO date or time in the source's zone, or "(no date)"


@dataclass
class Discovery:
    """A proposed source: its YAML block, the parsed source, and what it extracts."""

    block: str
    source: SourceConfig
    kind: str                                   # "html" or "feed"
    why: list[str] = field(default_factory=list)
    preview: list[Preview] = field(default_factory=list)
    alternatives: list[Alternative] = field(default_factory=list)
    list_proposal: ListProposal | None = None


def discover(url: str, fetcher: Fetcher, settings: FetchConfig, *, source_id: str | None = None,
             timezone: str = "UTC", scrape: bool = False, cards: int = 5,
             articles: int = 3, private: bool = False, render: bool = False,
             say: Callable[[str], None] = lambda _line: None) -> Discovery:
    """Propose a source for the listing at `url`. `scrape`: an html source even when the
    page advertises a feed; `articles`: how many article pages to read for the preview
    when the dates are only there; `private`: the block says `fetch: {allow_private: true}`;
    `render`: the listing is rendered by headless Chromium (`render: browser`), for lists
    built by JavaScript."""
    now = datetime.now(UTC)
    say(f"fetching {url}" + (" (rendered by headless Chromium)" if render else ""))
    page = _get(fetcher, url, settings.model_copy(update={"render": True, "source_url": url})
                if render else settings)
    policy = OriginPolicy(url)
    policy.add(page.final_url)
    ident = source_id or default_id(page.final_url)
    if page.content_type not in _HTML_TYPES:
        if _FEED_BODY.match(page.text[:2000]) or page.content_type in _FEED_TYPES:
            say("the URL is a feed itself")
            return _feed(page, ident, None, timezone, now, cards, private,
                         [f"{url} is a feed ({page.content_type})"])
        raise DiscoveryError(f"{url} is not an HTML page (Content-Type {page.content_type})")
    root = parse_html(page_markup(page))
    base = base_url(root, page.final_url)
    language = page_language(root)
    title = _site_title(root)
    if not scrape:
        for feed_url, kind, feed_title in advertised_feeds(root, base):
            say(f"the page advertises a feed: {feed_url}")
            try:
                feed_page = _get(fetcher, feed_url, settings)
                return _feed(feed_page, ident, title or feed_title, timezone, now, cards, private,
                             [f"the page advertises {kind} feed {feed_title or ''} "
                              f"<{feed_url}>: a feed gives exact dates and whole entries in "
                              "one request a poll, and survives a redesign of the site",
                              "run `syndicator discover --scrape URL` to scrape the page "
                              "instead"], language=language)
            except SyndicatorError as exc:
                say(f"the advertised feed is not usable ({exc}); scraping the page instead")
    say(f"looking for repeated cards on {page.final_url}")
    proposal = propose_list(root, base, page.final_url, policy.allows, page_language=language,
                            timezone=timezone, now=now, rendered=render)
    say(f"cards: {proposal.selectors['item']} ({proposal.reason})")
    source_language = language or proposal.date_language
    why = [f"cards: {proposal.selectors['item']}: {proposal.reason}"]
    if proposal.date_language and language and proposal.date_language != language:
        why.append(f"the dates read as {proposal.date_language!r}, the page says "
                   f"lang={language!r}: the source's language is used for both")
        source_language = proposal.date_language
    listing_page_source = _parse_block(source_block(
        ident, page.final_url, title=title, language=source_language, lists=proposal.selectors,
        private=private, render=render), ident)
    assert listing_page_source.list is not None
    listing = extract_listing(page, listing_page_source.list)
    if not listing.articles:
        raise DiscoveryError(f"the proposed selectors extract nothing from {page.final_url}")
    first = listing.articles[0]
    article_note, article_selectors = _article_check(
        fetcher, settings, first, policy, has_list_date="date" in proposal.selectors,
        timezone=timezone, now=now, say=say)
    why.append(article_note)
    block = source_block(ident, page.final_url, title=title, language=source_language,
                         lists=proposal.selectors, article=article_selectors, private=private,
                         render=render)
    source = _parse_block(block, ident)
    preview = _preview(fetcher, settings, source, page, policy, timezone, now, cards=cards,
                       articles=0 if "date" in proposal.selectors else articles, say=say)
    return Discovery(block=block, source=source, kind="html", why=why, preview=preview,
                     alternatives=proposal.alternatives, list_proposal=proposal)


def _get(fetcher: Fetcher, url: str, settings: FetchConfig,
         follow: OriginPolicy | None = None) -> Page:
    """A page, fetched as a crawl fetches it; article pages with the run's origin policy
    (redirects kept on the source's origins)."""
    page = fetcher.get(url, settings, follow=follow)
    assert not isinstance(page, NotModified)  # no validators were sent
    return page


def default_id(url: str) -> str:
    """A source id from the URL: host without `www.`, then the first path segment."""
    parts = urlsplit(url)
    host = (parts.hostname or "site").removeprefix("www.")
    host = host.rsplit(".", 1)[0] if host.count(".") >= 1 and not host[0].isdigit() else "site"
    first = next((p for p in parts.path.split("/") if p and len(p) > 2 and "." not in p), "")
    slug = re.sub(r"[^a-z0-9]+", "-", f"{host} {first}".lower()).strip("-")
    return slug or "site"


def _site_title(root: Node) -> str | None:
    site = select_one(root, 'meta[property="og:site_name"][content]')
    if site is not None and (attr(site, "content") or "").strip():
        return (attr(site, "content") or "").strip()
    heading = select_one(root, "title")
    text = element_text(heading) if heading is not None else ""
    return text[:120] or None


def advertised_feeds(root: Node, base: str) -> list[tuple[str, str, str]]:
    """The feeds a page advertises (`<link rel=alternate type=…>`): (URL, kind, title), the
    site's own feed before comment feeds."""
    found: list[tuple[bool, str, str, str]] = []
    for link in select_all(root, "link[rel][type][href]"):
        if "alternate" not in (attr(link, "rel") or "").lower().split():
            continue
        kind = _FEED_TYPES.get((attr(link, "type") or "").split(";")[0].strip().lower())
        url = absolute_url(base, attr(link, "href"))
        if kind is None or url is None:
            continue
        title = (attr(link, "title") or "").strip()
        comments = "comment" in title.lower() or "comment" in url.lower()
        found.append((comments, url, kind, title))
    found.sort(key=lambda entry: entry[0])
    return [(url, kind, title) for _comments, url, kind, title in found]


def _feed(page: Page, ident: str, title: str | None, timezone: str, now: datetime, cards: int,
          private: bool, why: list[str], *, language: str | None = None) -> Discovery:
    read = read_feed(page)
    if not read.articles:
        raise DiscoveryError(f"the feed {page.final_url} has no entries that link anywhere")
    block = source_block(ident, page.final_url, title=title, language=language, kind="feed",
                         private=private)
    source = _parse_block(block, ident)
    ctx = NormaliseContext(source_id=ident, language=language, timezone=timezone,
                           date_format=None, now=now)
    preview = [_row(normalise_article(article, ctx), timezone)
               for article in read.articles[:cards]]
    return Discovery(block=block, source=source, kind="feed", why=why,
                     preview=[p for p in preview if p is not None])


def _parse_block(block: str, ident: str) -> SourceConfig:
    """The block as the config loader reads it (so a proposal is never one `validate`
    refuses)."""
    text = "sources:\n" + "".join(f"  {line}\n" if line else "\n" for line in block.splitlines())
    config = parse_config(text, file="<discover>", env={})
    return config.source(ident)


def _article_check(fetcher: Fetcher, settings: FetchConfig, first: Article,
                   policy: OriginPolicy, *, has_list_date: bool, timezone: str, now: datetime,
                   say: Callable[[str], None]) -> tuple[str, dict[str, str]]:
    """Read the first article page: what its metadata gives (so `article:` can stay empty),
    or the date selector the article page needs when neither the list nor the metadata
    has a date."""
    if not policy.allows(first.url):
        return (f"the first card links to another site ({first.url}): add its host to "
                "follow_hosts to fetch article pages", {})
    say(f"reading one article page: {first.url}")
    try:
        page = _get(fetcher, first.url, settings, policy)
    except SyndicatorError as exc:
        return f"the first article page could not be read: {exc}", {}
    root = parse_html(page_markup(page))
    json_ld = json_ld_article(root)
    open_graph = select_one(root, 'meta[property^="og:"][content]') is not None
    article = extract_article(page, None)
    marks = " and ".join(name for name, present in (("JSON-LD", bool(json_ld)),
                                                     ("OpenGraph", open_graph)) if present)
    gives = ", ".join(name for name, present in (
        ("title", article.title), ("date", article.dates), ("image", article.image),
        ("text", article.content)) if present) or "nothing"
    if article.dates and marks:
        return (f"article pages carry {marks} ({gives}): `article:` can stay empty"
                + ("" if has_list_date else "; the dates come from there"), {})
    if has_list_date or article.dates:
        return (f"article pages carry {marks or 'no JSON-LD or OpenGraph'} ({gives}); "
                + ("the listing's dates are used" if has_list_date
                   else "their <time datetime> gives the dates"), {})
    selector = article_date(root, article.title or "", page_language=page_language(root),
                            timezone=timezone, now=now)
    if selector is None:
        return ("WARNING: no date on the listing, in the article page's metadata or text: "
                "items will carry the time they were first seen", {})
    return (f"no date on the listing nor in the article page's metadata: `article.date` reads "
            f"the page's visible date ({selector!r})", {"date": selector})


def _preview(fetcher: Fetcher, settings: FetchConfig, source: SourceConfig, page: Page,
             policy: OriginPolicy, timezone: str, now: datetime, *, cards: int, articles: int,
             say: Callable[[str], None]) -> list[Preview]:
    """The first cards as the crawl reads them: the listing through the extractor, the first
    `articles` article pages too (their metadata's dates), normalised."""
    assert source.list is not None
    listing = extract_listing(page, source.list)
    ctx = NormaliseContext(source_id=source.id, language=source.language, timezone=timezone,
                           date_format=None, now=now)
    rows: list[Preview] = []
    for index, card in enumerate(listing.articles[:cards]):
        merged = card
        if index < articles and policy.allows(card.url):
            say(f"reading {card.url} for its date")
            try:
                merged = merge_card_and_page(card, extract_article(
                    _get(fetcher, card.url, settings, policy), source.article))
            except SyndicatorError as exc:
                say(f"  not readable: {exc}")
        row = _row(normalise_article(merged, ctx), timezone)
        if row is not None and merged is card and articles and not card.dates:
            row = Preview(row.title, row.url, "(on its page, not read)")
        if row is not None:
            rows.append(row)
    return rows


def _row(item: Item | None, timezone: str) -> Preview | None:
    if item is None:
        return None
    if item.published_precision == "none":
        published = "(no date)"
    else:
        local = item.published.astimezone(ZoneInfo(timezone))
        published = local.isoformat(timespec="minutes") if item.published_precision == "time" \
            else local.date().isoformat()
    return Preview(title=item.title, url=item.url, published=published)
