"""The bookkeeping of one source run (pipeline.py, articles.py): `RunLog`, progress events,
the per-URL state and card key helpers both stages use, and `log_run`, the one log line of
a run under the service.

What a run logs: one line when it is over (`log_run`): INFO when it stored something,
WARNING when it failed or met errors, DEBUG when nothing changed (a 304 or an unchanged
listing). Its errors and warnings on the way are DEBUG lines: the run's line and its
record in the run log (`status`, `/status`) say them."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from syndicator.config import SourceConfig
from syndicator.fetchpolicy import OriginPolicy
from syndicator.model import Article, RunResult, UrlState
from syndicator.normalise import canonical_url, identity_key, uri
from syndicator.uris import redact

# Run messages log under the pipeline's name, as they did when they were written there.
log = logging.getLogger("syndicator.pipeline")

# progress(event, detail): "page" (a listing page fetched), "articles" (total article pages
# to fetch), "article" (one article page done), "done". The CLI draws a progress bar from it.
Progress = Callable[[str, str], None]


def no_progress(event: str, detail: str) -> None:
    """Progress sink that ignores everything (runs under the scheduler)."""


@dataclass
class RunLog:
    """Mutable bookkeeping of one run; frozen into a RunResult at the end."""

    source: SourceConfig
    started: datetime
    # When the run stops fetching (time.monotonic; fetch.run_deadline from its start), and
    # the origins its content links may be followed to (fetchpolicy.py).
    deadline: float
    policy: OriginPolicy
    pages: int = 0
    not_modified: int = 0
    items_seen: int = 0
    errors: list[str] | None = None
    warnings: list[str] | None = None
    skipped: dict[str, int] | None = None      # entries not made items, by reason

    def skip(self, counts: Mapping[str, int]) -> None:
        """Record entries of the source that could not become items ("no link"): a warning
        per reason, and `skipped: <reason>` in the run's missing_fields (health.py)."""
        for reason, count in counts.items():
            if count:
                self.skipped = {**(self.skipped or {}),
                                reason: (self.skipped or {}).get(reason, 0) + count}
                self.warn(f"{count} {'entry' if count == 1 else 'entries'} skipped: {reason}")

    # A run's messages are stored and shown (the fetch summary, `status`, /status): the
    # URLs in them never carry user:password@ (a page may link to one).
    def error(self, message: str) -> None:
        message = redact(message)
        self.errors = [*(self.errors or []), message]
        log.debug("source %s: %s", self.source.id, message)

    def warn(self, message: str) -> None:
        message = redact(message)
        self.warnings = [*(self.warnings or []), message]
        log.debug("source %s: %s", self.source.id, message)

    def expired(self) -> bool:
        return time.monotonic() >= self.deadline

    def off_origin(self, urls: Sequence[str], what: str) -> None:
        """Warn once about links not followed because they leave the source's origins."""
        if urls:
            shown = ", ".join(urls[:3]) + (", ..." if len(urls) > 3 else "")
            self.warn(f"{len(urls)} {what} on another origin not followed "
                      f"(list it in follow_hosts to follow it): {shown}")

    def result(self, finished: datetime, *, ok: bool, new: int = 0, updated: int = 0,
               missing: dict[str, int] | None = None) -> RunResult:
        """The run as recorded; skipped entries count as seen (the source did yield them)
        and appear in missing_fields as `skipped: <reason>`."""
        skipped = self.skipped or {}
        return RunResult(
            source_id=self.source.id, started=self.started, finished=finished, ok=ok,
            pages=self.pages, not_modified=self.not_modified,
            items_seen=self.items_seen + sum(skipped.values()),
            new=new, updated=updated, errors=tuple(self.errors or ()),
            warnings=tuple(self.warnings or ()),
            missing_fields={**(missing or {}),
                            **{f"{SKIPPED}{reason}": n for reason, n in skipped.items()}},
        )



MESSAGE_CHARS = 200      # of an error or warning quoted in a run's log line


def log_run(result: RunResult, *, rebuilt: Sequence[str] = ()) -> None:
    """The one log line of a finished run (see the module's docstring); `rebuilt`: the
    feeds whose files it changed."""
    seconds = (result.finished - result.started).total_seconds()
    stored = result.new or result.updated
    if not result.ok:
        level, what = logging.WARNING, "FAILED"
    elif stored:
        level = logging.WARNING if result.errors else logging.INFO
        what = f"{result.new} new, {result.updated} updated"
    else:
        level = (logging.WARNING if result.errors else logging.INFO if result.warnings
                 else logging.DEBUG)
        what = "nothing new" + (" (not modified)" if result.not_modified and not result.pages
                                else "")
    if not log.isEnabledFor(level):
        return
    line = f"source {result.source_id}: {what} in {seconds:.1f} s"
    if stored or result.pages:
        line += f" ({result.pages} page(s), {result.items_seen} item(s) seen)"
    if rebuilt:
        line += f"; rebuilt {', '.join(rebuilt)}"
    if result.errors:
        more = len(result.errors) - 1
        line += f"; {_short(result.errors[0])}" + (f" (and {more} more error(s))" if more
                                                   else "")
    elif result.warnings:
        line += f"; warning: {_short(result.warnings[0])}"
    log.log(level, "%s", line)


def _short(message: str) -> str:
    message = " ".join(message.split())
    return message if len(message) <= MESSAGE_CHARS else message[:MESSAGE_CHARS - 1] + "…"


def url_state(url: str, etag: str | None, last_modified: str | None, listing_hash: str | None,
           now: datetime) -> UrlState:
    return UrlState(url=url, etag=etag, last_modified=last_modified,
                    listing_hash=listing_hash, fetched_at=now)


SKIPPED = "skipped: "              # prefix of the missing_fields keys of skipped entries


def article_key(card: Article) -> str:
    """The URL a stored item of this card has: canonical, with the card's identity when its
    URL alone does not tell it apart (extract/entries.py), as published (normalise.uri)."""
    try:
        return uri(identity_key(canonical_url(card.url), card.identity)[0])
    except ValueError:
        return card.url

