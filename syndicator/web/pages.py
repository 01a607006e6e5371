"""The human pages of the server: feed directory, feed preview and status, as HTML bytes.

View functions turn config, items and the status report into plain values; the templates
(templates/*.html, autoescaped) only lay them out. `root` is the relative way back to the
site root ("" or "../"), so the pages also work behind a proxy that mounts us under a prefix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from syndicator.config import Config, FeedConfig
from syndicator.localdates import format_date, format_time
from syndicator.model import Item
from syndicator.publish import common
from syndicator.publish import pages as publish_pages
from syndicator.publish.pages import moment
from syndicator.status import SourceStatus, StatusReport
from syndicator.web import templating

PREVIEW_ITEMS = 30


def _web_url(url: str | None) -> str | None:
    """Only http(s) URLs become links or images: autoescaping does not stop `javascript:`."""
    if url and url.lower().startswith(("https://", "http://")):
        return url
    return None


def render_index(config: Config, assets: Mapping[str, str]) -> bytes:
    """`/`: the published index.html's template, for every configured feed, with the
    server's style sheet, script, navigation and preview links."""
    return publish_pages.render_index(config, None, served={"assets": assets})


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
            "utc": published.strftime("%Y-%m-%d %H:%M UTC"),
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
        "feed.html", language=feed.language, root="../", assets=assets, site=config.site,
        readers=publish_pages.READERS, feed=publish_pages.feed_view(config, feed), items=views)


ERROR_CHARS = 160            # an error longer than this is cut on /status (whole on hover)


def _error(text: str) -> dict[str, str]:
    """An error line of a run: its first line, cut to ERROR_CHARS; the whole on hover."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    short = line if len(line) <= ERROR_CHARS else line[:ERROR_CHARS - 1].rstrip() + "…"
    return {"text": short, "full": text}


def _source_row(source: SourceStatus, timezone: str) -> dict[str, Any]:
    run = source.last_run
    return {
        "id": source.source_id,
        "last_run": moment(run.finished, timezone) if run else None,
        "outcome": None if run is None else ("ok" if run.ok else "failed"),
        "errors": [_error(error) for error in run.errors[:3]] if run else [],
        "pages": run.pages if run else None,
        "not_modified": run.not_modified if run else None,
        "new": run.new if run else None,
        "updated": run.updated if run else None,
        "next_run": moment(source.next_run, timezone),
        "broken": source.broken,
        "broken_reason": source.broken_reason,
        "warning": source.warning,
        "stale": source.stale,
        "failures": source.consecutive_failures,
        "count": source.items,
        "backoff_until": moment(source.backoff_until, timezone),
    }


def render_status(config: Config, report: StatusReport, assets: Mapping[str, str]) -> bytes:
    """`/status`: per source its last run and state, per feed its size and last build; times
    in the configured time zone (`timezone`), as `syndicator status` shows them."""
    zone = config.timezone
    titles = {feed.id: feed.title for feed in config.feeds}
    feeds = [{"id": f.feed_id, "title": titles.get(f.feed_id, f.feed_id), "count": f.items,
              "last_build": moment(f.last_build, zone)} for f in report.feeds]
    return templating.render(
        "status.html", root="", assets=assets, site=config.site, timezone=zone,
        generated=moment(report.generated, zone), scheduler_running=report.scheduler_running,
        sources=[_source_row(s, zone) for s in report.sources], feeds=feeds,
        broken=sum(1 for s in report.sources if s.broken))
