"""`syndicator check SOURCE_ID`: a dry run that shows what every selector extracts.

It fetches the first listing page and the first article, prints each field per card and
warns loudly about fields that came out empty, so a wrong selector is obvious at a glance.
Nothing is written: no store, no feeds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from syndicator.config import Config, SourceConfig
from syndicator.errors import SyndicatorError
from syndicator.extract import extract_article, extract_listing, parse_sitemap
from syndicator.extract.feed import read_feed
from syndicator.fetch import Fetcher
from syndicator.fetchpolicy import OriginPolicy
from syndicator.model import Article, NotModified
from syndicator.normalise import (
    NormaliseContext,
    merge_card_and_page,
    normalise_article,
    sanitize_html,
)

_LIST_FIELDS = ("link", "title", "date", "summary", "image", "author", "category")


def _value(article: Article, field: str) -> str:
    if field == "link":
        return article.url
    if field == "date":
        return " | ".join(article.dates)
    if field == "category":
        return ", ".join(article.categories)
    value = getattr(article, field)
    return "" if value is None else str(value)


def _short(text: str, width: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def check_source(config: Config, source: SourceConfig, fetcher: Fetcher, *, cards: int = 3,
                 echo: Callable[[str], None] = print) -> bool:
    """Print what the source's selectors extract; return False when something is clearly wrong."""
    settings = config.fetch_for(source)
    # The run's origin policy (fetchpolicy.py), as a fetch applies it: the links the check
    # follows (a sitemap's child, the first article) go where a fetch would go, no further.
    policy = OriginPolicy.for_source(source)
    ok = True
    warnings: list[str] = []
    echo(f"source {source.id} ({source.type}): {source.url}")
    try:
        page = fetcher.get(source.url, settings)
    except SyndicatorError as exc:
        echo(f"ERROR fetching the listing: {exc}")
        return False
    assert not isinstance(page, NotModified)  # no validators were sent
    policy.add(page.final_url)  # where the source's own URL led
    echo(f"  HTTP {page.status}, {len(page.raw or page.text.encode())} bytes, "
         f"charset {page.encoding}, final URL {page.final_url}")
    skipped = ""
    if source.type == "feed":
        read = read_feed(page)
        found, next_url = list(read.articles), None
        skipped = ", ".join(f"{count} {'entry' if count == 1 else 'entries'} skipped: {reason}"
                            for reason, count in read.skipped.items())
        if skipped:
            echo(f"WARNING: {skipped} (no http link, http id, permalink guid or enclosure)")
    elif source.type == "sitemap":
        sitemap = parse_sitemap(page)
        children = [child for child in sitemap.sitemaps if policy.allows(child)]
        if len(children) < len(sitemap.sitemaps):
            echo(f"WARNING: {len(sitemap.sitemaps) - len(children)} sitemap(s) on another "
                 "origin not followed (list it in follow_hosts to follow it)")
        if children:
            echo(f"  sitemap index of {len(sitemap.sitemaps)} sitemap(s); reading the newest: "
                 f"{children[0]}")
            try:
                child = fetcher.get(children[0], settings, follow=policy)
            except SyndicatorError as exc:
                echo(f"ERROR fetching the sitemap: {exc}")
                return False
            assert not isinstance(child, NotModified)
            sitemap = parse_sitemap(child)
        found, next_url = list(sitemap.articles), None
    else:
        assert source.list is not None
        listing = extract_listing(page, source.list)
        found, next_url = list(listing.articles), listing.next_url
    echo(f"  {len(found)} item(s) on the first page" + (f"; next page: {next_url}" if next_url
                                                          else "; no next page"))
    if not found and skipped:
        echo("WARNING: no items: the feed has entries, but none can be linked to")
        return False
    if not found:
        echo(f"WARNING: no items: list.item {source.list.item if source.list else ''!r} "
             "matched nothing (or the page is rendered by JavaScript)")
        return False
    if source.list is not None:
        for field in _LIST_FIELDS:
            selector = source.list.item if field == "item" else getattr(source.list, field, None)
            filled = sum(1 for a in found if _value(a, field))
            label = f"list.{field}"
            if selector is None and field not in ("link", "title"):
                continue
            # A wrong selector matches nothing; a required field must be on every card; an
            # optional one (an image, say) may legitimately be missing on some cards.
            serious = filled == 0 or (field in ("link", "title", "date") and filled < len(found))
            mark = "   <-- WARNING" if serious else (
                "   (missing on some cards)" if filled < len(found) else "")
            echo(f"  {label:<14} {filled}/{len(found)} filled   selector: {selector!r}{mark}")
            if serious:
                warnings.append(f"{label} empty on {len(found) - filled} of {len(found)} cards")
        if source.list.max_pages > 1 and source.list.next and next_url is None:
            warnings.append(f"list.next {source.list.next!r} matched nothing on the first page")
    for index, card in enumerate(found[:cards], start=1):
        echo(f"  card {index}:")
        for field in _LIST_FIELDS:
            echo(f"    {field:<9} {_short(_value(card, field)) or '(empty)'}")
    first = found[0]
    page_article: Article | None = None
    wants_pages = source.fetch_articles if source.fetch_articles is not None else (
        source.type in ("html", "sitemap"))
    if wants_pages and not policy.allows(first.url):
        warnings.append(f"the first item's link {first.url} is on another origin: not followed "
                        "(list it in follow_hosts to follow it)")
    elif wants_pages:
        echo(f"article page: {first.url}")
        try:
            article_page = fetcher.get(first.url, settings, follow=policy)
        except SyndicatorError as exc:
            echo(f"ERROR fetching the article: {exc}")
            return False
        assert not isinstance(article_page, NotModified)
        page_article = extract_article(article_page, source.article)
        selectors = source.article
        for field in ("title", "date", "updated", "summary", "content", "image", "author",
                      "category"):
            raw = _value(page_article, field)
            if field == "content":
                cleaned = sanitize_html(raw, base_url=first.url)
                shown = f"{len(raw)} chars of HTML: {_short(cleaned, 160)}"
            else:
                shown = _short(raw)
            selector = getattr(selectors, field, None) if selectors else None
            origin = f"selector {selector!r}" if selector else "from page metadata"
            warn = "   <-- WARNING" if not raw and field in ("title", "date", "content") else ""
            echo(f"  article.{field:<9} {shown or '(empty)'}  [{origin}]{warn}")
            if warn:
                warnings.append(f"article.{field} is empty on {first.url}")
    merged = merge_card_and_page(first, page_article)
    ctx = NormaliseContext(source_id=source.id, language=source.language,
                           timezone=config.timezone_for(source), date_format=source.date_format,
                           now=datetime.now(UTC))
    item = normalise_article(merged, ctx)
    if item is None:
        echo("WARNING: the first item has no title or link after normalisation")
        ok = False
    else:
        echo("normalised item:")
        echo(f"  id         {item.id}")
        echo(f"  url        {item.url}")
        echo(f"  title      {_short(item.title)}")
        echo(f"  published  {item.published.isoformat()} (precision: {item.published_precision})")
        echo(f"  summary    {_short(item.summary)}")
        echo(f"  image      {item.image or '(none)'}")
        echo(f"  author     {item.author or '(none)'}")
        if item.published_precision == "none":
            warnings.append("no date could be parsed: set list.date / article.date, "
                            "or date_format")
    for warning in warnings:
        echo(f"WARNING: {warning}")
    if not warnings and ok:
        echo("all fields extracted")
    return ok and not any("link" in w or "title" in w for w in warnings)
