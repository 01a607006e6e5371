"""Normalisation: raw `Article` → `Item`. Pure functions, no I/O.

Dates are read by dates.py (dateparser) and HTML cleaned by sanitise.py (nh3).

    canonical_url / item_id        one story = one canonical URL = one stable id
    anchor / entry_key / own_link  what names a story among those on one page
    plain_text_summary             a short plain-text excerpt
    normalise_article              Article → Item
    order_undated                  undated items of one listing get distinct instants
    merge_with_stored              fresh Item + stored Item → the Item to write, or None
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from urllib.parse import unquote_plus, urljoin, urlsplit, urlunsplit

from syndicator.capping import (
    ELLIPSIS,
    LABEL_CHARS,
    MAX_CATEGORIES,
    TRAILING_JUNK,
    ContentLimits,
    cap_html,
    shorten,
    shorten_to,
    utf8_size,
)
from syndicator.dates import ParsedDate as ParsedDate
from syndicator.dates import choose_date as choose_date
from syndicator.dates import implausible, load_dateparser, local_day
from syndicator.dates import parse_date as parse_date
from syndicator.model import Article, Item, Translations
from syndicator.sanitise import absolute_http_url, clean_text, sanitize_content
from syndicator.sanitise import sanitize_html as sanitize_html
from syndicator.uris import uri as uri
from syndicator.uris import uri_key

log = logging.getLogger(__name__)

# nh3 and dateparser are imported where used: content_hash and item_id serve commands that
# never read a page (a build, the benchmark's seeding), which are spared their memory.


def load_libraries() -> None:
    """Import nh3 and dateparser now (~65 ms), for a process that is about to read pages
    and should not pay for it on its first one (a page worker before it says READY)."""
    import nh3  # noqa: F401

    load_dateparser()


@dataclass(frozen=True)
class NormaliseContext:
    """What normalisation needs to know about the source and the run."""

    source_id: str
    language: str | None
    timezone: str                 # IANA name; dates without an offset are in this zone
    date_format: str | None
    now: datetime                 # UTC-aware time of this run
    limits: ContentLimits = field(default_factory=ContentLimits)  # config `content:`


# --- URLs ------------------------------------------------------------------------------------

_TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "yclid", "msclkid", "mc_cid", "mc_eid", "_ga", "_gl",
    "igshid", "_hsenc", "_hsmi", "mkt_tok", "ref_src",
})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_url(url: str, *, canonical: str | None = None) -> str:
    """The canonical form of an absolute http(s) URL; raises ValueError for anything else.

    `canonical` (from <link rel=canonical> / og:url) replaces `url` only when it is an
    http(s) URL on the same site; a canonical that points a deep URL at the home page is a
    common CMS misconfiguration and is ignored, as it would merge every story into one.
    """
    base = _normalise_url(url)
    if not canonical or not canonical.strip():
        return base
    try:
        alternative = _normalise_url(urljoin(base, canonical.strip()))
    except ValueError:
        return base
    if _site(alternative) != _site(base):
        return base
    if urlsplit(alternative).path == "/" and urlsplit(base).path != "/":
        return base
    return alternative


def identity_key(canonical: str, identity: str | None) -> tuple[str, str]:
    """The item URL and the key its id is made from, for a story whose URL alone does not
    tell it from others of its source (Article.identity): the "#fragment", or the feed's
    guid as one (a URL is one item in the store; the link still leads to the page).
    Without an identity the URL is the canonical URL. The key is its `uris.uri_key`, which
    every spelling of the URL shares (an IRI or percent-encoded, `%c3%a9` or `%C3%A9`,
    `%7E` or `~`): one story linked in several spellings is one item."""
    if identity:
        canonical = f"{canonical}#{identity.removeprefix('#')}"
    return canonical, uri_key(canonical)


# Fragments that mark where a reader came from, not what they read ("#xtor=RSS-3",
# "#ref=rss", "#utm_source=..."), or a part of every page ("#comments").
_NOT_ANCHOR = re.compile(r"=|^(?:comments?|respond|more|top|content|main)$", re.IGNORECASE)


def anchor(url: str | None) -> str:
    """The `#fragment` of a URL when it can name a story on its page ("post-2"), else "":
    none, a tracking mark ("xtor=RSS-3") or a part of every page ("comments")."""
    if not url or "#" not in url:
        return ""
    fragment = urlsplit(url).fragment
    return "" if not fragment or _NOT_ANCHOR.search(fragment) else fragment


def entry_key(article: Article) -> str | None:
    """What the source names a story by among those on its page: a feed entry's guid, else
    the "#fragment" of its link (see `anchor`); None when it has neither."""
    if article.guid:
        return article.guid
    fragment = anchor(article.url)
    return f"#{fragment}" if fragment else None


def own_link(item: Item, article: Article) -> Item:
    """The item of `article` under its own link (and identity), not under the canonical URL
    its page named (see extract/entries.py: entries whose guids differ stay apart)."""
    url, key = identity_key(canonical_url(article.url), article.identity)
    return replace(item, id=item_id(key), url=uri(url))


def item_id(canonical: str) -> str:
    """A stable id derived from the item's URL only (identity_key; an edited title stays
    one item). A stored item keeps the id it was given: a run finds it by id, else by its
    URL as published (pipeline._changes)."""
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def _normalise_url(url: str) -> str:
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ValueError(f"URL without a host: {url!r}")
    port = parts.port                                  # raises ValueError when malformed
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at:
        netloc = f"{userinfo}@{netloc}"
    return urlunsplit((scheme, netloc, parts.path or "/", _clean_query(parts.query), ""))


def _clean_query(query: str) -> str:
    """Drop tracking parameters; the rest keep their order and original encoding."""
    kept = []
    for segment in query.split("&"):
        if not segment:
            continue
        key = unquote_plus(segment.split("=", 1)[0]).lower()
        if key.startswith("utm_") or key in _TRACKING_PARAMS:
            continue
        kept.append(segment)
    return "&".join(kept)


def _site(url: str) -> str:
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.")


# --- text ------------------------------------------------------------------------------------

_TRUNCATED = re.compile(r"\s*(?:\[\s*(?:…|\.{3})\s*\]|…|\.{3,})\s*$")


def plain_text_summary(summary: str | None, content_html: str | None, *,
                       max_chars: int = 400) -> str:
    """A plain-text excerpt: the given summary, else the start of the content.

    A summary ending in "[…]", "[...]", "…" or "..." was truncated by the site: it ends in a
    single "…". The result is never longer than max_chars + 1 (the "…").
    """
    text = clean_text(summary)
    if text:
        marker = _TRUNCATED.search(text)
        if marker:
            base = text[:marker.start()].rstrip(TRAILING_JUNK)
            if len(base) > max_chars:
                return shorten(base, max_chars)
            return f"{base}{ELLIPSIS}" if base else ""
        return shorten(text, max_chars)
    return shorten(clean_text(content_html), max_chars)


# --- items -----------------------------------------------------------------------------------

def content_hash(item: Item) -> str:
    """Hash of what a reader sees; `published` counts only when it is a real timestamp."""
    published = item.published.isoformat() if item.published_precision == "time" else None
    fields = [item.title, item.summary, item.content, item.image, item.author,
              list(item.categories), published]
    encoded = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def normalise_article(article: Article, ctx: NormaliseContext) -> Item | None:
    """Article → Item; None when the article has no usable URL or no title."""
    title = clean_text(article.title)
    if not title:
        return None
    try:
        url = canonical_url(article.url, canonical=article.canonical)
    except ValueError:
        return None
    url, key = identity_key(url, article.identity)
    language = _optional_text(article.language) or _optional_text(ctx.language)
    date_language = ctx.language or article.language
    published, precision = _published(article, ctx, date_language)
    content = sanitize_content(article.content or "", base_url=url)
    html, title = _bounded(content.html, title, uri(url), language, ctx)
    image = absolute_http_url(url, article.image) if article.image else None
    item = Item(
        id=item_id(key),
        source_id=ctx.source_id,
        url=uri(url),
        title=title,
        published=published,
        updated=_updated(article, ctx, date_language, published),
        summary=plain_text_summary(article.summary, article.content),
        content=html,
        # An image the content's own markup shows to be a pixel is one as the item's image.
        image=None if image is None or image in content.pixels else uri(image),
        author=_optional_text(article.author, LABEL_CHARS),
        categories=_categories(article.categories),
        language=language,
        published_precision=precision,
        translation_claims=translation_claims(article.translations, uri(url)),
        entry_key=entry_key(article),
    )
    return replace(item, content_hash=content_hash(item))


# A page naming more versions than this names something else (a site-wide language menu).
MAX_TRANSLATIONS = 20


def translation_claims(named: Translations | None, own_url: str) -> Translations | None:
    """The versions a page names as the store keeps them: each URL canonical and published
    as item URLs are (so a claim matches the item it names), the page itself left out (its
    hreflang names itself too), once each; None stays None (the page was not read)."""
    if named is None:
        return None
    claims: dict[str, str | None] = {}
    for language, url in named:
        try:
            target = uri(canonical_url(url))
        except ValueError:
            continue
        if target != own_url and claims.get(target) is None:
            claims[target] = language
    if len(claims) > MAX_TRANSLATIONS:
        return ()
    return tuple((language, url) for url, language in claims.items())


def _published(article: Article, ctx: NormaliseContext,
               language: str | None) -> tuple[datetime, str]:
    rejected: list[str] = []
    parsed = choose_date(article.dates, language=language, timezone=ctx.timezone,
                         date_format=ctx.date_format, now=ctx.now, rejected=rejected)
    for problem in rejected:
        # A wrong date would move the item to the top (or bottom) of every feed: the item
        # is dated by another candidate, else by when it was first seen.
        log.info("source %s: %s: %s: not used", ctx.source_id, article.url, problem)
    if parsed is None:
        return ctx.now, "none"
    if parsed.has_time:
        return parsed.value, "time"
    # A bare date: the first-seen time when that is today (the store keeps it stable),
    # else local midnight, which is stable on its own.
    if local_day(ctx.now, ctx.timezone) == local_day(parsed.value, ctx.timezone):
        return ctx.now, "day"
    return parsed.value, "day"


def _updated(article: Article, ctx: NormaliseContext, language: str | None,
             published: datetime) -> datetime:
    if not article.updated:
        return published
    parsed = parse_date(article.updated, language=language, timezone=ctx.timezone,
                        date_format=ctx.date_format, now=ctx.now)
    if parsed is None or parsed.value < published or implausible(parsed, ctx.now):
        return published
    return parsed.value


def _bounded(html: str, title: str, url: str, language: str | None,
             ctx: NormaliseContext) -> tuple[str, str]:
    """The content and title within the operator's limits (capping.py); what was cut is
    logged once for the item, with its source and URL."""
    limits = ctx.limits
    capped = cap_html(html, limits.content_bytes, url=url, language=language)
    cut = [] if capped is None else [
        f"content of {utf8_size(html)} bytes to {utf8_size(capped)} "
        f"(content.max_bytes: {limits.content_bytes})"]
    if len(title) > limits.title_chars:
        cut.append(f"title of {len(title)} characters to {limits.title_chars} "
                   "(content.max_title_chars)")
    if cut:
        log.info("source %s: %s: cut %s", ctx.source_id, url, ", ".join(cut))
    return html if capped is None else capped, shorten_to(title, limits.title_chars)


def _optional_text(value: str | None, max_chars: int | None = None) -> str | None:
    text = clean_text(value)
    return (shorten_to(text, max_chars) if max_chars else text) or None


def _categories(values: Sequence[str]) -> tuple[str, ...]:
    """Distinct categories (case-insensitively), each cut at LABEL_CHARS, MAX_CATEGORIES
    at most."""
    seen: set[str] = set()
    result = []
    for value in values:
        text = shorten_to(clean_text(value), LABEL_CHARS)
        if text and text.casefold() not in seen:
            seen.add(text.casefold())
            result.append(text)
            if len(result) == MAX_CATEGORIES:
                break
    return tuple(result)



def order_undated(items: Sequence[Item], now: datetime, timezone: str) -> list[Item]:
    """Items of one listing, in its order (newest first), with distinct first-seen instants.

    An item without a date (or with today's date and no time) is first seen at `now`, so a
    listing of such items would tie. The item at listing position i is taken as first seen
    i seconds before `now` (whole seconds: RSS and Atom dates carry no fraction), which keeps
    the listing's order. A day-only date never leaves its day for this.
    """
    result = []
    for index, item in enumerate(items):
        instant = now - timedelta(seconds=index)
        if (index and item.published == now and item.published_precision != "time"
                and (item.published_precision == "none"
                     or local_day(instant, timezone) == local_day(now, timezone))):
            updated = instant if item.updated == now else item.updated
            item = replace(item, published=instant, updated=updated)
        result.append(item)
    return result


def merge_with_stored(stored: Item | None, fresh: Item, *, timezone: str,
                      now: datetime | None = None) -> Item | None:
    """The item to write, or None when nothing changed.

    Keeps the stored id, and keeps `published` stable for items whose page gives only a
    day (first-seen time on that day) or no date at all. `updated` moves only when the
    content changed: to the modification time the source gives when that is newer than
    the stored one, else to `now` (the time of this run; default fresh.updated).
    """
    if stored is None:
        return fresh
    published, precision = _merged_published(stored, fresh, timezone)
    # The name the source gives the story is written with the item (so recorded for items
    # stored before names were, at their next change; alone it is no change to publish);
    # a run that does not give one keeps the stored one.
    # The URL stays as published (the guid and id of every feed): a link found in another
    # spelling of it (same id: identity_key) does not change it. A stored URL that is no
    # URI (stored before URLs were published encoded) takes the fresh one.
    url = stored.url if uri(stored.url) == stored.url else fresh.url
    merged = replace(fresh, id=stored.id, url=url, published=published,
                     published_precision=precision,
                     entry_key=fresh.entry_key or stored.entry_key)
    merged = replace(merged, content_hash=content_hash(merged))
    changed = merged.content_hash != stored.content_hash
    if (not changed and published == stored.published and precision == stored.published_precision
            and merged.url == stored.url):     # (a stored URL published before uri() existed)
        return None
    updated = stored.updated
    if changed:
        updated = fresh.updated if fresh.updated > stored.updated else max(
            stored.updated, now or fresh.updated)
    return replace(merged, updated=max(updated, published))


def _merged_published(stored: Item, fresh: Item, timezone: str) -> tuple[datetime, str]:
    if fresh.published_precision == "time":
        return fresh.published, "time"
    if fresh.published_precision == "day":
        same_day = local_day(stored.published, timezone) == local_day(fresh.published, timezone)
        if not same_day:
            return fresh.published, "day"
        # The first-seen time on that day (or a timestamp the page once showed) stays.
        return stored.published, "time" if stored.published_precision == "time" else "day"
    # No date on the page now: what we knew before stays.
    return stored.published, stored.published_precision


def _site_form(link: str, final: str) -> str | None:
    """The URL the site redirected `link` to, when it is the same page in the site's own
    form (a trailing slash added or removed, https, www.): the canonical URL of a page that
    names none. None for any other redirect (a login page, a consent wall)."""
    if link == final:
        return None
    try:
        asked, got = urlsplit(canonical_url(link)), urlsplit(canonical_url(final))
    except ValueError:
        return None
    same = (_site(asked.geturl()) == _site(got.geturl()) and asked.query == got.query
            and asked.path.rstrip("/") == got.path.rstrip("/"))
    return final if same else None


def merge_card_and_page(card: Article, page: Article | None) -> Article:
    """Combine what the listing showed with what the article page said.

    The article page wins for the body, image, author and canonical URL (a page naming
    none: the site's own form of the card's link it redirected to); the listing's
    title and excerpt are what the editors wrote for the listing and win when present.
    Dates keep every candidate: the page's selected date, the listing date, then the page's
    metadata; normalisation chooses (a full timestamp on the same day beats a bare date).
    """
    if page is None:
        return card
    dates = tuple(dict.fromkeys((*page.dates[:1], *card.dates, *page.dates[1:])))
    return Article(
        url=card.url,
        identity=card.identity,
        guid=card.guid,
        title=card.title or page.title,
        dates=dates,
        updated=page.updated or card.updated,
        summary=card.summary or page.summary,
        content=page.content or card.content,
        image=page.image or card.image,
        author=page.author or card.author,
        categories=page.categories or card.categories,
        canonical=page.canonical or _site_form(card.url, page.url) or card.canonical,
        language=page.language or card.language,
        # What the page names and what its card named (a sitemap's hreflang alternates),
        # once each in translation_claims.
        translations=None if page.translations is None and card.translations is None
        else (*(page.translations or ()), *(card.translations or ())),
    )
