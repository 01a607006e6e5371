"""When the cluster engine's scheduled jobs are due: one `job_schedule` row per key.

    plan_due({key: first due})      a row for every key that has none (existing rows kept)
    claim_due(keys, now, advance, then)
                                    the due rows among `keys`, locked FOR UPDATE SKIP LOCKED
                                    (a second dispatcher skips them instead of waiting),
                                    each moved to `advance(key)` (one UPDATE for all of them),
                                    and `then(due keys)` called before the transaction
                                    commits: if it raises, nothing moves
    due_times(keys)                 {key: next due}, for the status page
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    Text,
    any_,
    bindparam,
    case,
    literal,
    select,
)

from syndicator.store.database import Database, chunked_select, chunks
from syndicator.store.schema import job_schedule as t_schedule

CLAIM_LIMIT = 1000   # rows one dispatch takes at most; the rest wait for the next one


class ScheduleQueries(Database):
    def plan_due(self, first: Mapping[str, datetime]) -> None:
        """Give each key without a row one, due at its value; rows already there stay."""
        if not first:
            return
        def write(conn: Connection) -> None:
            # One multi-row INSERT per chunk, not one statement per key (10,000 sources are
            # 20 statements at each process's start, not 10,000).
            for part in chunks(sorted(first)):
                rows = [{"key": key, "next_due_at": first[key]} for key in part]
                conn.execute(self._insert(t_schedule).values(rows)
                             .on_conflict_do_nothing(index_elements=["key"]))

        self._write("plan the scheduled jobs", write)

    def claim_due(self, keys: Sequence[str], now: datetime,
                  advance: Callable[[str], datetime],
                  then: Callable[[list[str]], None]) -> list[str]:
        """The keys due at `now` (of those given), moved on to `advance(key)` in the same
        transaction in which `then(keys)` queues their jobs. Rows another dispatcher holds
        are skipped, so two dispatchers never take one key for one due time."""
        if not keys:
            return []
        # Not through _write: `then` queues jobs outside this transaction, so it must not
        # run twice; nor does this transaction need a retry, as it locks only rows that no
        # other transaction holds (SKIP LOCKED) and cannot deadlock.
        with self._write_tx("claim the due jobs") as conn:
            # Only the given keys, inside the query: rows of sources no instance configures
            # any more are never moved on, so they stay the oldest due rows for ever and,
            # filtered out only after the LIMIT, would take every slot of every dispatch.
            rows = conn.execute(
                select(t_schedule.c.key)
                .where(t_schedule.c.next_due_at <= now, self._among(t_schedule.c.key, keys))
                .order_by(t_schedule.c.next_due_at)
                .limit(CLAIM_LIMIT)
                .with_for_update(skip_locked=True)).all()
            due = [key for (key,) in rows]
            # One statement per chunk of keys, not one per key: a dispatch moves every
            # source that fell due since the last one.
            for part in chunks(due):
                moved = {key: literal(advance(key), t_schedule.c.next_due_at.type)
                         for key in part}
                conn.execute(t_schedule.update().where(t_schedule.c.key.in_(part))
                             .values(next_due_at=case(moved, value=t_schedule.c.key)))
            if due:
                then(due)
        return due

    def _among(self, column: ColumnElement[str],
               keys: Sequence[str]) -> ColumnElement[bool]:
        """`column` is one of `keys`: PostgreSQL binds them as one array (any number of
        keys, one parameter); SQLite as an IN list."""
        if self._dialect == "postgresql":
            return column == any_(bindparam("keys", list(keys), type_=ARRAY(Text)))
        return column.in_(keys)

    def due_times(self, keys: Sequence[str]) -> dict[str, datetime]:
        """When each of `keys` is due next (keys without a row are left out)."""
        with self._read_tx("read the job schedule") as conn:
            rows = chunked_select(conn, lambda part: select(
                t_schedule.c.key, t_schedule.c.next_due_at).where(
                t_schedule.c.key.in_(part)), keys)
        return {row.key: row.next_due_at for row in rows}
