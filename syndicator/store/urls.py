"""Per-URL fetch state: the conditional-GET validators and, for articles, the hash of the
listing card that pointed at them (table url_state). Written by Store.save_run."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Insert, Row, bindparam, select

from syndicator.model import UrlState
from syndicator.store.database import Database, chunks
from syndicator.store.schema import url_state as t_url_state

# Built once: a poll reads one URL's state per source, and building the IN (...) clause cost
# more than the query (an expanding parameter keeps one compiled statement for any length).
_URL_STATES = select(t_url_state).where(t_url_state.c.url.in_(bindparam("urls", expanding=True)))


class UrlStateQueries(Database):
    """The URL states: read by every poll, upserted by the run that fetched them."""

    def url_states(self, urls: Iterable[str]) -> dict[str, UrlState]:
        """The remembered state of each given URL that has one."""
        rows: list[Row[Any]] = []
        with self._read_tx("read URL states") as conn:
            for part in chunks(urls):
                rows.extend(conn.execute(_URL_STATES, {"urls": part}))
        return {row.url: _url_state(row) for row in rows}

    def _upsert_url_states(self) -> Insert:
        stmt = self._insert(t_url_state)
        update = {c.name: stmt.excluded[c.name] for c in t_url_state.c if c.name != "url"}
        upsert: Insert = stmt.on_conflict_do_update(index_elements=[t_url_state.c.url], set_=update)
        return upsert


def url_state_row(state: UrlState) -> dict[str, Any]:
    return {"url": state.url, "etag": state.etag, "last_modified": state.last_modified,
            "listing_hash": state.listing_hash, "fetched_at": state.fetched_at}


def _url_state(row: Row[Any]) -> UrlState:
    return UrlState(url=row.url, etag=row.etag, last_modified=row.last_modified,
                    listing_hash=row.listing_hash, fetched_at=row.fetched_at)
