"""`syndicator check SOURCE_ID`: a dry run that shows what every selector extracts.

It fetches the first listing page and the first article and prints, per field, whether the
operator's selector found it, found nothing, or a fallback filled it (the link text,
JSON-LD, OpenGraph, ...: the extractor's `Article.origins`); per card, the date as written
beside the date it parses to, in the source's time zone and in UTC. A selector that matches
nothing, a date that is not one and a charset that did not decode are warnings; a required
field (link, title) missing on most cards fails the check. Nothing is written: no store, no
feeds. Every line is printed without the user:password@ of the URLs in it (a page may link
to one, a redirect may lead to one).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from syndicator.config import Config, SourceConfig
from syndicator.dates import ParsedDate, choose_date
from syndicator.errors import SyndicatorError
from syndicator.extract import extract_article, extract_listing, parse_sitemap
from syndicator.extract.feed import read_feed
from syndicator.fetch import Fetcher
from syndicator.fetchpolicy import OriginPolicy
from syndicator.model import BY_SELECTOR, Article, NotModified, Page
from syndicator.normalise import (
    NormaliseContext,
    merge_card_and_page,
    normalise_article,
    sanitize_html,
)
from syndicator.uris import redact

_LIST_FIELDS = ("link", "title", "date", "summary", "image", "author", "category")
_ARTICLE_FIELDS = ("title", "date", "updated", "summary", "content", "image", "author",
                   "category")
# Without these a card is no item: the check fails when most cards lack one.
_REQUIRED = ("link", "title")


def _value(article: Article, name: str) -> str:
    if name == "link":
        return article.url
    if name == "date":
        return " | ".join(article.dates)
    if name == "category":
        return ", ".join(article.categories)
    value = getattr(article, name)
    return "" if value is None else str(value)


def _short(text: str, width: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


@dataclass
class _Report:
    """What the check prints, the warnings it gathers and whether it failed."""

    echo: Callable[[str], None]
    context: NormaliseContext
    warnings: list[str] = field(default_factory=list)
    failed: bool = False

    def warn(self, warning: str, *, fails: bool = False) -> None:
        self.warnings.append(warning)
        self.failed = self.failed or fails

    def page(self, page: Page) -> None:
        self.echo(f"  HTTP {page.status}, {len(page.raw or page.text.encode())} bytes, "
                  f"charset {page.encoding}, final URL {page.final_url}")
        if page.decode_problem:
            self.echo(f"  charset problem: {page.decode_problem}   <-- WARNING")
            self.warn(f"{page.final_url}: {page.decode_problem}")

    def parsed_date(self, article: Article) -> tuple[ParsedDate | None, list[str]]:
        """The date normalisation would choose, and the candidates it rejected and why."""
        rejected: list[str] = []
        parsed = choose_date(article.dates, language=self.context.language or article.language,
                             timezone=self.context.timezone,
                             date_format=self.context.date_format, now=self.context.now,
                             rejected=rejected)
        return parsed, rejected

    def date(self, article: Article) -> str:
        """The date as written and as parsed (source zone and UTC), or why it is none."""
        if not article.dates:
            return ""
        parsed, rejected = self.parsed_date(article)
        written = _short(" | ".join(article.dates), 60)
        if parsed is None:
            return f"{written}   <-- WARNING: {rejected[0] if rejected else 'not a date'}"
        return f"{written}  →  {self.when(parsed)}"

    def when(self, parsed: ParsedDate) -> str:
        zone = self.context.timezone
        local = parsed.value.astimezone(ZoneInfo(zone))
        utc = f"{parsed.value:%Y-%m-%d %H:%M} UTC"
        if not parsed.has_time:
            return f"{local:%Y-%m-%d} ({zone}, no time of day) = {utc}"
        return f"{local:%Y-%m-%d %H:%M} {zone} = {utc}"


def _redacting(echo: Callable[[str], None]) -> Callable[[str], None]:
    """`echo` of lines without the credentials of the URLs in them."""
    def shown(line: str) -> None:
        echo(redact(line))
    return shown


def check_source(config: Config, source: SourceConfig, fetcher: Fetcher, *, cards: int = 3,
                 echo: Callable[[str], None] = print) -> bool:
    """Print what the source's selectors extract; return False when something is clearly wrong."""
    echo = _redacting(echo)
    settings = config.fetch_for(source)
    # The run's origin policy (fetchpolicy.py), as a fetch applies it: the links the check
    # follows (a sitemap's child, the first article) go where a fetch would go, no further.
    policy = OriginPolicy.for_source(source)
    report = _Report(echo, NormaliseContext(
        source_id=source.id, language=source.language, timezone=config.timezone_for(source),
        date_format=source.date_format, now=datetime.now(UTC),
        limits=config.content.limits()))
    echo(f"source {source.id} ({source.type}): {source.url}")
    try:
        page = fetcher.get(source.url, settings)
    except SyndicatorError as exc:
        echo(f"ERROR fetching the listing: {exc}")
        return False
    assert not isinstance(page, NotModified)  # no validators were sent
    policy.add(page.final_url)  # where the source's own URL led
    report.page(page)
    skipped = ""
    unlinked = 0
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
            report.page(child)
            sitemap = parse_sitemap(child)
        found, next_url = list(sitemap.articles), None
    else:
        assert source.list is not None
        listing = extract_listing(page, source.list)
        found, next_url, unlinked = list(listing.articles), listing.next_url, listing.unlinked
    echo(f"  {len(found)} item(s) on the first page" + (f"; next page: {next_url}" if next_url
                                                          else "; no next page"))
    if not found and skipped:
        echo("WARNING: no items: the feed has entries, but none can be linked to")
        return False
    if not found and unlinked:
        echo(f"WARNING: no items: list.item matched {unlinked} element(s), none with a usable "
             f"link (list.link {source.list.link if source.list else None!r})")
        return False
    if not found:
        echo(f"WARNING: no items: list.item {source.list.item if source.list else ''!r} "
             "matched nothing (or the page is rendered by JavaScript)")
        return False
    if source.list is not None:
        _list_fields(report, source, found, unlinked)
        if source.list.max_pages > 1 and source.list.next and next_url is None:
            report.warn(f"list.next '{source.list.next}' matched nothing on the first page")
    _dates(report, found)
    for index, card in enumerate(found[:cards], start=1):
        echo(f"  card {index}:")
        for name in _LIST_FIELDS:
            shown = report.date(card) if name == "date" else _short(_value(card, name))
            origin = card.origins.get(name)
            note = f"  [{origin}]" if origin and origin != BY_SELECTOR else ""
            echo(f"    {name:<9} {shown or '(empty)'}{note}")
    first = found[0]
    page_article: Article | None = None
    wants_pages = source.fetch_articles if source.fetch_articles is not None else (
        source.type in ("html", "sitemap"))
    if wants_pages and not policy.allows(first.url):
        report.warn(f"the first item's link {first.url} is on another origin: not followed "
                    "(list it in follow_hosts to follow it)")
    elif wants_pages:
        echo(f"article page: {first.url}")
        try:
            article_page = fetcher.get(first.url, settings.for_articles(), follow=policy)
        except SyndicatorError as exc:
            echo(f"ERROR fetching the article: {exc}")
            return False
        assert not isinstance(article_page, NotModified)
        report.page(article_page)
        page_article = extract_article(article_page, source.article)
        _article_fields(report, source, page_article)
    _normalised(report, merge_card_and_page(first, page_article))
    for warning in report.warnings:
        echo(f"WARNING: {warning}")
    if not report.warnings:
        echo("all fields extracted")
    return not report.failed


def _list_fields(report: _Report, source: SourceConfig, found: Sequence[Article],
                 unlinked: int) -> None:
    """One line per listing field: how many cards its selector filled, how many a fallback
    filled (and which), how many stayed empty."""
    assert source.list is not None
    cards = len(found) + unlinked
    for name in _LIST_FIELDS:
        selector = getattr(source.list, name)
        if selector is None and name not in _REQUIRED:
            continue
        label = f"list.{name}"
        by_selector = sum(1 for a in found if a.origins.get(name) == BY_SELECTOR)
        empty = unlinked + sum(1 for a in found if not _value(a, name)) if name != "link" \
            else unlinked
        fallbacks: dict[str, int] = {}
        for article in found:
            origin = article.origins.get(name)
            if origin and origin != BY_SELECTOR:
                fallbacks[origin] = fallbacks.get(origin, 0) + 1
        parts = []
        if selector is None:
            parts.append("no selector")
        elif by_selector == 0:
            parts.append(f"selector '{selector}' matched nothing")
        else:
            parts.append(f"{by_selector}/{cards} by selector '{selector}'")
        parts.extend(f"{count}/{cards} from {origin}" for origin, count in fallbacks.items())
        if empty:
            parts.append(f"{empty}/{cards} empty")
        most_empty = empty * 2 > cards
        serious = (selector is not None and by_selector == 0) or (
            name in _REQUIRED and most_empty)
        mark = "   <-- WARNING" if serious else ("   (missing on some cards)" if empty else "")
        report.echo(f"  {label:<14} {'; '.join(parts)}{mark}")
        if name in _REQUIRED and most_empty:
            report.warn(f"{label} empty on {empty} of {cards} cards: they are no items",
                        fails=True)
        elif selector is not None and by_selector == 0:
            filled = f" ({', '.join(fallbacks)} filled it)" if fallbacks else ""
            report.warn(f"{label} selector '{selector}' matched nothing{filled}")
        elif name in _REQUIRED and empty:
            report.warn(f"{label} empty on {empty} of {cards} cards")


def _dates(report: _Report, found: Sequence[Article]) -> None:
    """Warn when dates were found but do not parse (a `date` selector aimed elsewhere)."""
    dated = [a for a in found if a.dates]
    unparsed = [a for a in dated if report.parsed_date(a)[0] is None]
    if unparsed:
        example = unparsed[0].dates[0]
        report.warn(f"the date text of {len(unparsed)} of {len(dated)} card(s) does not parse "
                    f"as a date (e.g. {_short(example, 60)!r}): is the date selector aimed at "
                    "the date, or is date_format wrong?")


def _article_fields(report: _Report, source: SourceConfig, article: Article) -> None:
    """Each field of the first article page, with what filled it."""
    for name in _ARTICLE_FIELDS:
        raw = _value(article, name)
        if name == "content":
            cleaned = sanitize_html(raw, base_url=article.url)
            shown = f"{len(raw)} chars of HTML: {_short(cleaned, 160)}" if raw else ""
        elif name == "date":
            shown = report.date(article)
        else:
            shown = _short(raw)
        selector = getattr(source.article, name, None) if source.article else None
        origin = article.origins.get(name)
        if origin == BY_SELECTOR:
            where = f"selector '{selector}'"
        elif selector:
            where = f"selector '{selector}' matched nothing" + (f"; from {origin}"
                                                                  if origin else "")
            report.warn(f"article.{name} selector '{selector}' matched nothing on "
                        f"{article.url}" + (f" ({origin} filled it)" if origin else ""))
        else:
            where = f"from {origin}" if origin else "no selector, no page metadata"
        empty = not raw and name in ("title", "date", "content")
        report.echo(f"  article.{name:<9} {shown or '(empty)'}  [{where}]"
                    + ("   <-- WARNING" if empty else ""))
        if empty:
            report.warn(f"article.{name} is empty on {article.url}")


def _normalised(report: _Report, merged: Article) -> None:
    """The first item as it would be stored."""
    item = normalise_article(merged, report.context)
    if item is None:
        report.echo("WARNING: the first item has no title or link after normalisation")
        report.failed = True
        return
    report.echo("normalised item:")
    report.echo(f"  id         {item.id}")
    report.echo(f"  url        {item.url}")
    report.echo(f"  title      {_short(item.title)}")
    published = (report.when(ParsedDate(item.published, item.published_precision == "time"))
                 if item.published_precision != "none" else "(no date: the first-seen time)")
    report.echo(f"  published  {item.published.isoformat()} (precision: "
                f"{item.published_precision}): {published}")
    report.echo(f"  summary    {_short(item.summary)}")
    report.echo(f"  image      {item.image or '(none)'}")
    report.echo(f"  author     {item.author or '(none)'}")
    named = ", ".join(f"{language or '?'} {url}" for language, url in item.translation_claims or ())
    report.echo(f"  translations {named or '(none)'}")
    if item.published_precision == "none":
        report.warn("no date could be parsed: set list.date / article.date, or date_format")
