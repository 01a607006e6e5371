"""The sign-up queue (table `signups`): what the subscribe forms ask and the push job sends.

A form's request adds one row and nothing else, whatever the address's state, so every
answer costs the same; the push job claims rows one at a time (a transaction each, as for
deliveries), decides whether a confirmation mail is due, sends it and records the outcome.
`Store` inherits these queries.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, func, or_, select

from syndicator.model import Signup
from syndicator.store.database import Database, db_now
from syndicator.store.schema import signups as t_signups

CLAIMABLE = ("queued", "failed")
FINAL = ("sent", "dead", "unknown", "skipped")


class SignupQueries(Database):
    """The queries of the sign-up queue (a part of Store)."""

    def queue_signup(self, target_id: str, email: str, now: datetime, *,
                     languages: Sequence[str] | None = None,
                     rhythm: str | None = None) -> None:
        """One sign-up through a form: one row, the same work for every address. The
        languages and rhythm chosen on the form wait here until the confirmation mail."""
        stmt = t_signups.insert().values(
            target_id=target_id, email=email, state="queued", attempts=0, next_at=None,
            created=now, updated=now,
            languages=None if languages is None else list(languages), rhythm=rhythm)
        self._write("queue a sign-up", lambda conn: conn.execute(stmt))

    def claim_signup(self, target_id: str, now: datetime, claim: str, *,
                     lease: float) -> Signup | None:
        """Atomically take the oldest due sign-up of a target (it becomes `sending`). Rows
        left `sending` longer than `lease` seconds become `unknown` first: their mail may
        have gone out, and a confirmation is never sent twice automatically. Concurrent
        claimers skip the rows another one holds (FOR UPDATE SKIP LOCKED), as for
        deliveries; the claim's time and the lease count on the database's clock (db_now)."""
        def write(conn: Connection) -> Signup | None:
            stale = (select(t_signups.c.id)
                     .where(t_signups.c.target_id == target_id, t_signups.c.state == "sending",
                            t_signups.c.claimed_at < db_now(conn, now, ago=lease))
                     .order_by(t_signups.c.id).with_for_update(skip_locked=True))
            conn.execute(t_signups.update().where(t_signups.c.id.in_(stale.scalar_subquery()))
                         .values(state="unknown", updated=now,
                                 error="the push job stopped while sending; "
                                       "not resent automatically"))
            due = (select(t_signups.c.id)
                   .where(t_signups.c.target_id == target_id, t_signups.c.state.in_(CLAIMABLE),
                          or_(t_signups.c.next_at.is_(None), t_signups.c.next_at <= now))
                   .order_by(t_signups.c.id).limit(1).with_for_update(skip_locked=True))
            signup_id = conn.execute(due).scalar()
            if signup_id is None:
                return None
            row = conn.execute(t_signups.update().where(t_signups.c.id == signup_id).values(
                state="sending", attempts=t_signups.c.attempts + 1,
                claimed_at=db_now(conn, now), claim=claim, updated=now)
                .returning(*t_signups.c)).one()
            return _signup(row)

        return self._write("claim a sign-up of " + target_id, write)

    def finish_signup(self, signup_id: int, claim: str, now: datetime, *, state: str,
                      error: str | None = None, next_at: datetime | None = None) -> bool:
        """Record the outcome of a claimed sign-up; False if the claim is no longer ours."""
        stmt = t_signups.update().where(
            t_signups.c.id == signup_id, t_signups.c.claim == claim).values(
                state=state, error=error, next_at=next_at, updated=now)
        return self._write("record a sign-up", lambda conn: bool(conn.execute(stmt).rowcount))

    def last_confirmation(self, target_id: str, email: str) -> datetime | None:
        """When a confirmation mail to the address last went out (or may have)."""
        stmt = select(func.max(t_signups.c.updated)).where(
            t_signups.c.target_id == target_id, t_signups.c.email == email,
            t_signups.c.state.in_(("sent", "unknown")))
        with self._read_tx("read the last confirmation mail") as conn:
            value = conn.execute(stmt).scalar()
        return _as_datetime(value)

    def confirmations_since(self, target_id: str, since: datetime) -> list[str]:
        """The addresses of the target's confirmation mails that went out (or may have)
        since `since`, one entry per mail: what the daily bounds count."""
        stmt = select(t_signups.c.email).where(
            t_signups.c.target_id == target_id, t_signups.c.updated >= since,
            t_signups.c.state.in_(("sent", "unknown")))
        with self._read_tx("read the recent confirmation mails") as conn:
            return [row.email for row in conn.execute(stmt)]

    def signups(self, target_id: str | None = None, *,
                states: tuple[str, ...] | None = None) -> list[Signup]:
        stmt = select(t_signups).order_by(t_signups.c.id)
        if target_id is not None:
            stmt = stmt.where(t_signups.c.target_id == target_id)
        if states is not None:
            stmt = stmt.where(t_signups.c.state.in_(states))
        with self._read_tx("read sign-ups") as conn:
            return [_signup(row) for row in conn.execute(stmt)]

    def signup_errors(self, target_id: str) -> Iterator[tuple[str, str]]:
        """(email, reason) of the target's sign-ups that ended dead, newest first."""
        stmt = (select(t_signups.c.email, t_signups.c.error)
                .where(t_signups.c.target_id == target_id, t_signups.c.state == "dead")
                .order_by(t_signups.c.id.desc()))
        with self._read_tx("read failed sign-ups") as conn:
            rows = list(conn.execute(stmt))
        return ((row.email, row.error or "") for row in rows)

    def purge_signups(self, before: datetime) -> int:
        """Forget finished sign-ups older than `before`: the queue keeps no address for
        longer than a confirmation link lives."""
        stmt = t_signups.delete().where(t_signups.c.state.in_(FINAL),
                                        t_signups.c.updated < before)
        return self._write("purge old sign-ups",
                           lambda conn: int(conn.execute(stmt).rowcount or 0))


def _as_datetime(value: Any) -> datetime | None:
    """MAX() over a UTC column: SQLite gives the stored text back, PostgreSQL a datetime."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def _signup(row: Row[Any], **changes: Any) -> Signup:
    values = {"id": row.id, "target_id": row.target_id, "email": row.email,
              "state": row.state, "attempts": row.attempts, "created": row.created,
              "languages": None if row.languages is None else tuple(row.languages),
              "rhythm": row.rhythm}
    values.update(changes)
    return Signup(**values)
