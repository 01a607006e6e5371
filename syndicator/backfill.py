"""`syndicator fetch --backfill SOURCE_ID`: walk every listing page of an html source once.

    state = store.backfill_state(source)          (resume at next_url, or start at source.url)
    loop: pipeline.run_listing_page(url)          (one page = one stored run = one transaction)
          store.save_backfill_state(next_url, pages_done)
    until: no next link │ list.backfill_pages pages in all │ a URL seen twice │ stop requested

Progress survives anything: every page is committed before the state moves past it, so an
interrupted walk (Ctrl-C, crash, a failing page) resumes at the first page not yet stored;
a page stored but not yet recorded in the state is simply walked again (its articles are not
fetched again: their listing cards did not change). Politeness is the Fetcher's: robots.txt,
the per-host limit and the minimum delay between requests apply to every page.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from syndicator.app import App
from syndicator.config import SourceConfig
from syndicator.errors import ConfigError
from syndicator.model import BackfillState
from syndicator.pipeline import run_listing_page

log = logging.getLogger(__name__)

# complete: the last page (no next link, or a link back to a page already walked);
# bound: list.backfill_pages reached; stopped: stop requested, resumable; failed: a page
# could not be read or stored, resumable; done-before: finished by an earlier walk.
Status = Literal["complete", "bound", "stopped", "failed", "done-before"]
# on_page(pages_done, bound, url) after every stored page.
PageProgress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class BackfillResult:
    source_id: str
    status: Status
    pages: int                  # pages walked by this call
    pages_done: int             # pages walked in all, across resumed calls
    bound: int
    new: int
    updated: int
    errors: tuple[str, ...]
    started: datetime
    finished: datetime
    next_url: str | None        # where a resumed walk would start

    @property
    def ok(self) -> bool:
        return self.status != "failed"


def backfill(app: App, source: SourceConfig, *, restart: bool = False,
             stop: threading.Event | None = None,
             on_page: PageProgress | None = None) -> BackfillResult:
    """Walk the listing pages of `source`, resuming where an earlier walk stopped."""
    if source.type != "html" or source.list is None:
        raise ConfigError(f"source {source.id!r} is a {source.type} source; backfill walks "
                          "the listing pages of html sources")
    bound = source.list.backfill_pages
    started = app.clock()
    state = None if restart else app.store.backfill_state(source.id)
    if state is not None and state.finished is not None and (
            state.next_url is None or state.pages_done >= bound):
        return _result(source, "done-before", state, bound, started, app.clock())
    if state is None:
        state = BackfillState(source_id=source.id, next_url=source.url, pages_done=0,
                              started=started, updated=started)
        app.store.save_backfill_state(state)
    elif state.finished is not None:
        # Finished at a lower bound; list.backfill_pages was raised since: walk on.
        state = BackfillState(source_id=source.id, next_url=state.next_url,
                              pages_done=state.pages_done, started=state.started,
                              updated=started)

    walked = new = updated = 0
    errors: list[str] = []
    seen: set[str] = set()
    url = state.next_url
    status: Status
    while True:
        if url is None or url in seen:
            status, url = "complete", None
            break
        if state.pages_done >= bound:
            status = "bound"
            break
        if stop is not None and stop.is_set():
            status = "stopped"
            break
        seen.add(url)
        page = run_listing_page(app, source, url)
        errors.extend(page.result.errors)
        if not page.done:
            status = "failed"
            log.warning("backfill %s: stopped at %s; run again to resume there", source.id, url)
            break
        walked += 1
        new += page.result.new
        updated += page.result.updated
        state = BackfillState(source_id=source.id, next_url=page.next_url,
                              pages_done=state.pages_done + 1, started=state.started,
                              updated=app.clock())
        app.store.save_backfill_state(state)
        if on_page is not None:
            on_page(state.pages_done, bound, url)
        url = page.next_url
    finished = app.clock()
    final = BackfillState(source_id=source.id, next_url=url, pages_done=state.pages_done,
                          started=state.started, updated=finished,
                          finished=finished if status in ("complete", "bound") else None)
    app.store.save_backfill_state(final)
    return BackfillResult(source_id=source.id, status=status, pages=walked,
                          pages_done=final.pages_done, bound=bound, new=new, updated=updated,
                          errors=tuple(errors), started=started, finished=finished,
                          next_url=url)


def _result(source: SourceConfig, status: Status, state: BackfillState, bound: int,
            started: datetime, finished: datetime) -> BackfillResult:
    return BackfillResult(source_id=source.id, status=status, pages=0,
                          pages_done=state.pages_done, bound=bound, new=0, updated=0,
                          errors=(), started=started, finished=finished,
                          next_url=state.next_url)


def summary_line(result: BackfillResult) -> str:
    seconds = (result.finished - result.started).total_seconds()
    what = {
        "complete": "complete (last page reached)",
        "bound": f"stopped at list.backfill_pages ({result.bound})",
        "stopped": "interrupted; run again to resume",
        "failed": "FAILED; run again to resume",
        "done-before": "already complete; --restart walks again",
    }[result.status]
    line = (f"{result.source_id}: backfill {what}: {result.pages} page(s) walked now, "
            f"{result.pages_done} in all, {result.new} new, {result.updated} updated "
            f"in {seconds:.1f}s")
    if result.errors:
        line += f"; {len(result.errors)} error(s): {result.errors[0]}"
    return line
