"""The human pages of the server: feed directory, feed preview and status, as HTML bytes.

View functions turn config, items and the status report into plain values; the templates
(templates/*.html, autoescaped) only lay them out. `root` is the relative way back to the
site root ("" or "../"), so the pages also work behind a proxy that mounts us under a prefix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from syndicator.config import Config, FeedConfig
from syndicator.model import Item
from syndicator.publish import common
from syndicator.status import SourceStatus, StatusReport
from syndicator.web import templating
from syndicator.web.dates import format_date, format_time

# Feed readers named in the subscribe help (all accept a plain https:// feed URL).
READERS = ("Feedly", "Inoreader", "NetNewsWire", "Thunderbird", "FreshRSS")
PREVIEW_ITEMS = 30


def _web_url(url: str | None) -> str | None:
    """Only http(s) URLs become links or images: autoescaping does not stop `javascript:`."""
    if url and url.lower().startswith(("https://", "http://")):
        return url
    return None


def _links(config: Config, feed: FeedConfig) -> list[dict[str, str]]:
    return [{"ext": ext, "name": common.FORMAT_NAMES[ext], "type": media_type,
             "url": common.feed_url(config.site, feed, ext)}
            for ext, media_type in common.FORMATS.items()]


def _feed_view(config: Config, feed: FeedConfig) -> dict[str, Any]:
    return {
        "id": feed.id,
        "title": feed.title,
        "description": feed.description or "",
        "language": feed.language,
        "home": common.home_url(feed, config.site),
        "links": _links(config, feed),
    }


def render_index(config: Config, assets: Mapping[str, str]) -> bytes:
    """`/`: every feed with its formats, a copy button for its URL and a preview link."""
    return templating.render(
        "index.html", root="", assets=assets, site=config.site, readers=READERS,
        feeds=[_feed_view(config, feed) for feed in config.feeds])


def feed_timezone(config: Config, feed: FeedConfig) -> str:
    """The time zone a feed's dates are shown in: its first source's, else the config's."""
    for source_id in feed.sources:
        for source in config.sources:
            if source.id == source_id:
                return config.timezone_for(source)
    return config.timezone


def render_preview(config: Config, feed: FeedConfig, items: Sequence[Item],
                   assets: Mapping[str, str]) -> bytes:
    """`/feeds/<id>`: the newest items, readable in a browser (summaries only)."""
    timezone = feed_timezone(config, feed)
    views = []
    for item in items:
        language = item.language or feed.language
        published = common.utc(item.published)
        views.append({
            "title": item.title,
            "url": _web_url(item.url),
            "language": language if language != feed.language else None,
            "iso": common.rfc3339(published),
            "date": format_date(published, language, timezone),
            "time": (format_time(published, timezone)
                     if item.published_precision == "time" else None),
            "summary": item.summary,
            "image": _web_url(item.image),
            "author": item.author,
            "versions": [{"language": v.language, "url": _web_url(v.url), "title": v.title}
                         for v in item.versions if _web_url(v.url)],
        })
    return templating.render(
        "feed.html", root="../", assets=assets, site=config.site, readers=READERS,
        feed=_feed_view(config, feed), items=views)


def _when(value: datetime | None) -> dict[str, str] | None:
    if value is None:
        return None
    moment = common.utc(value if value.tzinfo else value.replace(tzinfo=UTC))
    return {"iso": common.rfc3339(moment), "text": moment.strftime("%Y-%m-%d %H:%M UTC")}


def _source_row(source: SourceStatus) -> dict[str, Any]:
    run = source.last_run
    return {
        "id": source.source_id,
        "last_run": _when(run.finished) if run else None,
        "outcome": None if run is None else ("ok" if run.ok else "failed"),
        "errors": list(run.errors[:3]) if run else [],
        "pages": run.pages if run else None,
        "not_modified": run.not_modified if run else None,
        "new": run.new if run else None,
        "updated": run.updated if run else None,
        "next_run": _when(source.next_run),
        "broken": source.broken,
        "broken_reason": source.broken_reason,
        "warning": source.warning,
        "stale": source.stale,
        "failures": source.consecutive_failures,
        "count": source.items,
        "backoff_until": _when(source.backoff_until),
    }


def render_status(config: Config, report: StatusReport, assets: Mapping[str, str]) -> bytes:
    """`/status`: per source its last run and state, per feed its size and last build."""
    titles = {feed.id: feed.title for feed in config.feeds}
    feeds = [{"id": f.feed_id, "title": titles.get(f.feed_id, f.feed_id), "count": f.items,
              "last_build": _when(f.last_build)} for f in report.feeds]
    return templating.render(
        "status.html", root="", assets=assets, site=config.site,
        generated=_when(report.generated), scheduler_running=report.scheduler_running,
        sources=[_source_row(s) for s in report.sources], feeds=feeds,
        broken=sum(1 for s in report.sources if s.broken))
