"""Push state: the outbox of deliveries (written in the run's transaction, see
Store.save_run), their claims by push jobs, per-target state and the email subscribers.
The records are model.py's (push imports them from there, not from the store)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, func, or_, select

from syndicator.errors import DeliveryRefused
from syndicator.model import (
    Delivery,
    Item,
    OutboxHook,
    OutboxView,
    PushTargetState,
    Subscriber,
)
from syndicator.store.database import Database, db_now
from syndicator.store.items import item_from_row, linked_to
from syndicator.store.reader import as_utc
from syndicator.store.schema import deliveries as t_deliveries
from syndicator.store.schema import items as t_items
from syndicator.store.schema import push_sources as t_push_sources
from syndicator.store.schema import push_targets as t_push_targets
from syndicator.store.schema import subscribers as t_subscribers
from syndicator.store.translations import stories_told

# Delivery states a push job may claim, and those that count as "in the queue".
CLAIMABLE = ("pending", "failed")
# States an operator settles by hand (`push --resend / --mark-sent`): no job holds the row,
# and its message may be missing (unknown), waits for a retry (failed) or was given up (dead).
SETTLEABLE = ("unknown", "failed", "dead")


class PushQueries(Database):
    """The outbox, delivery claims and outcomes, push targets and subscribers."""

    def _outbox_history(self, conn: Connection, source_id: str, limit: int) -> list[Item]:
        if limit <= 0:
            return []
        rows = list(conn.execute(
            select(t_items).where(linked_to([source_id]))
            .order_by(t_items.c.published.desc(), t_items.c.id.desc()).limit(limit)))
        return [item_from_row(row, source_id) for row in rows]

    def _write_outbox(self, conn: Connection, hook: OutboxHook, view: OutboxView) -> None:
        """Run the outbox decision on state read in this transaction and write its rows.

        What the decision reads is made to stay true until commit, as other writers run
        beside this one (PostgreSQL):
        - first sight: this transaction marks the source seen by each target itself
          (INSERT ... ON CONFLICT DO NOTHING RETURNING), and the targets it inserted are
          those not primed before; a concurrent run of the source waits on those rows, then
          finds them, so first sight is decided once;
        - subscribers are read FOR SHARE: a change of an address (unsubscribe, removal)
          waits for this transaction, then suppresses the rows it queued too;
        - the stories of the new items are locked (stories_told) before reading which were
          already told, so two runs bringing versions of one story tell it once.
        """
        primed_now = {row.target_id for row in conn.execute(
            self._insert(t_push_sources).on_conflict_do_nothing()
            .returning(t_push_sources.c.target_id),
            [{"target_id": t, "source_id": view.source_id, "first_seen": view.now}
             for t in sorted(set(hook.targets))])}
        subscribers: dict[str, list[str]] = {}
        languages: dict[tuple[str, str], tuple[str, ...]] = {}
        if hook.subscriber_targets:
            for row in conn.execute(
                    select(t_subscribers.c.target_id, t_subscribers.c.email,
                           t_subscribers.c.languages)
                    .where(t_subscribers.c.target_id.in_(list(hook.subscriber_targets)),
                           t_subscribers.c.status == "confirmed")
                    .order_by(t_subscribers.c.target_id, t_subscribers.c.email)
                    .with_for_update(read=True)):
                subscribers.setdefault(row.target_id, []).append(row.email)
                if row.languages:
                    languages[(row.target_id, row.email)] = tuple(row.languages)
        story_of, told, waiting = (
            stories_told(conn, [item.id for item in view.new], hook.stories)
            if hook.stories else ({}, {}, {}))
        plan = hook.decide(OutboxView(
            source_id=view.source_id, now=view.now, new=view.new, updated=view.updated,
            history=view.history, primed=frozenset(set(hook.targets) - primed_now),
            subscribers={k: tuple(v) for k, v in subscribers.items()},
            story_of=story_of, told=told, waiting=waiting, languages=languages))
        now = view.now
        self._ensure_targets(conn, hook.targets, now)
        if plan.deliveries:
            # In the plan's order, which is the queue's (ids): no other writer inserts rows
            # of these items, as only this one found them new (or primed the target).
            conn.execute(self._insert(t_deliveries).on_conflict_do_nothing(),
                         [_delivery_row(d, now) for d in plan.deliveries])
        for old, new in plan.swaps:
            replaced = conn.execute(t_deliveries.update().where(
                t_deliveries.c.id == old, t_deliveries.c.state == "pending",
                t_deliveries.c.attempts == 0).values(
                    state="suppressed", updated=now,
                    error="a version in a language the target prefers went out instead"))
            if not replaced.rowcount:
                new = replace(new, state="suppressed",
                              error="another language version of the story was pushed")
            conn.execute(self._insert(t_deliveries).on_conflict_do_nothing(),
                         [_delivery_row(new, now)])
        for item_id, target_id in sorted(set(plan.edits)):
            conn.execute(t_deliveries.update().where(
                t_deliveries.c.item_id == item_id, t_deliveries.c.target_id == target_id,
                t_deliveries.c.state == "sent").values(
                    action="edit", state="pending", attempts=0, next_at=None, error=None,
                    updated=now))

    def _ensure_targets(self, conn: Connection, target_ids: Iterable[str],
                        now: datetime) -> None:
        rows = [{"target_id": t, "first_seen": now, "paused": False}
                for t in sorted(set(target_ids))]
        if rows:
            conn.execute(self._insert(t_push_targets).on_conflict_do_nothing(), rows)

    def push_targets(self) -> dict[str, PushTargetState]:
        """The remembered state of every push target that was ever seen."""
        with self._read_tx("read push targets") as conn:
            return {row.target_id: _target_state(row)
                    for row in conn.execute(select(t_push_targets))}

    def update_push_target(self, target_id: str, now: datetime, **values: Any) -> None:
        """Set some of chat_id, paused, paused_reason, paused_at, hold_until of a target."""
        allowed = {"chat_id", "paused", "paused_reason", "paused_at", "hold_until"}
        unknown = set(values) - allowed
        if unknown:
            raise TypeError(f"unknown push target fields: {sorted(unknown)}")

        def write(conn: Connection) -> None:
            self._ensure_targets(conn, [target_id], now)
            conn.execute(t_push_targets.update()
                         .where(t_push_targets.c.target_id == target_id).values(**values))

        self._write("update push target " + target_id, write)

    def claim_deliveries(self, target_id: str, now: datetime, claim: str, *,
                         lease: float, limit: int = 1, recipient: str | None = None,
                         rhythm: tuple[str, str] | None = None) -> list[Delivery]:
        """Atomically take the oldest due deliveries of a target: they become `sending`.

        Rows left `sending` for longer than `lease` seconds belong to a push job that died
        mid-request; they become `unknown` first (their message may have gone out).
        `rhythm` = (chosen, default): only rows of recipients who read in the `chosen`
        rhythm, `default` standing for the subscribers who chose none (and for addresses
        no longer listed, so that their rows are still taken and suppressed).
        Concurrent claimers skip the rows another one is taking (FOR UPDATE SKIP LOCKED):
        each row goes to one of them, and none waits for another's transaction.
        The claim's time and the lease count on the database's clock (db_now): `now`
        decides which rows are due, and is the claim's time on SQLite only.
        """
        def write(conn: Connection) -> list[Delivery]:
            self._expire_claims(conn, now, lease, target_id)
            due = (select(t_deliveries.c.id)
                   .where(t_deliveries.c.target_id == target_id,
                          t_deliveries.c.state.in_(CLAIMABLE),
                          or_(t_deliveries.c.next_at.is_(None), t_deliveries.c.next_at <= now))
                   .order_by(t_deliveries.c.id).limit(limit)
                   .with_for_update(skip_locked=True))
            if recipient is not None:
                due = due.where(t_deliveries.c.recipient == recipient)
            if rhythm is not None:
                due = due.where(_in_rhythm(target_id, *rhythm))
            ids = list(conn.execute(due).scalars())
            if not ids:
                return []
            # Still claimable (as FOR UPDATE re-read them): a row suppressed since it was
            # read (a concurrent outbox swap or unsubscribe) is not taken.
            taken = conn.execute(t_deliveries.update().where(
                t_deliveries.c.id.in_(ids), t_deliveries.c.state.in_(CLAIMABLE)).values(
                state="sending", attempts=t_deliveries.c.attempts + 1,
                claimed_at=db_now(conn, now), claim=claim, updated=now)
                .returning(*t_deliveries.c))
            return sorted((_delivery(row) for row in taken), key=lambda d: d.id or 0)

        return self._write("claim deliveries of " + target_id, write)

    def _expire_claims(self, conn: Connection, now: datetime, lease: float,
                       target_id: str | None) -> int:
        """Rows `sending` past their lease (on the database's clock, db_now) become
        `unknown`; rows another transaction holds (a claimer expiring them too, a job
        recording its outcome) are left to it."""
        stale = (select(t_deliveries.c.id)
                 .where(t_deliveries.c.state == "sending",
                        t_deliveries.c.claimed_at < db_now(conn, now, ago=lease))
                 .order_by(t_deliveries.c.id).with_for_update(skip_locked=True))
        if target_id is not None:
            stale = stale.where(t_deliveries.c.target_id == target_id)
        result = conn.execute(t_deliveries.update()
                              .where(t_deliveries.c.id.in_(stale.scalar_subquery())).values(
            state="unknown", updated=now,
            error="the push job stopped while sending; not resent automatically"))
        return int(result.rowcount or 0)

    def finish_delivery(self, delivery_id: int, claim: str, now: datetime, *, state: str,
                        message_ids: Sequence[str] | None = None, error: str | None = None,
                        next_at: datetime | None = None, attempts: int | None = None) -> bool:
        """Record the outcome of a claimed delivery; False if the claim is no longer ours."""
        values = {**_outcome(state, now), "error": error, "next_at": next_at}
        if message_ids is not None:
            values["message_ids"] = list(message_ids)
        if attempts is not None:
            values["attempts"] = attempts
        stmt = t_deliveries.update().where(t_deliveries.c.id == delivery_id,
                                           t_deliveries.c.claim == claim).values(**values)
        return self._write("record a delivery",
                           lambda conn: bool(conn.execute(stmt).rowcount))

    def settle_deliveries(self, ids: Iterable[int], now: datetime, *,
                          state: str) -> list[Delivery]:
        """The operator's decision on deliveries by id, after checking the chat or mailbox:
        `pending` queues them again (due now, attempts from zero; parts of a post already
        sent stay sent), `sent` records them sent without sending. All or none: each must be
        SETTLEABLE, else DeliveryRefused names those that are not (or do not exist) and
        nothing changes. The rows are locked (FOR UPDATE) before they are read and the
        UPDATE is conditional on their state: a push job claiming a failed row, or a second
        such command, runs before or after this, never between. The rows as they were."""
        if state not in ("pending", "sent"):
            raise ValueError(f"cannot settle a delivery as {state!r}")
        wanted = sorted(set(ids))
        # An id past the column's range (32 bits on PostgreSQL, which would refuse it) names
        # no row.
        possible = [i for i in wanted if 0 < i < 2 ** 31]

        def write(conn: Connection) -> list[Delivery]:
            rows = {row.id: _delivery(row) for row in conn.execute(
                select(t_deliveries).where(t_deliveries.c.id.in_(possible))
                .order_by(t_deliveries.c.id).with_for_update())}
            refused = [f"delivery {i} does not exist" if i not in rows
                       else f"delivery {i} is {rows[i].state}" for i in wanted
                       if i not in rows or rows[i].state not in SETTLEABLE]
            if refused:
                done = "queued again" if state == "pending" else "marked sent"
                raise DeliveryRefused(f"{'; '.join(refused)} (only {', '.join(SETTLEABLE)} "
                                      f"deliveries can be {done}); nothing changed")
            values = {**_outcome(state, now), "next_at": None, "error": None, "claim": None}
            if state == "pending":
                values["attempts"] = 0
            conn.execute(t_deliveries.update().where(
                t_deliveries.c.id.in_(wanted), t_deliveries.c.state.in_(SETTLEABLE))
                .values(**values))
            return [rows[i] for i in wanted]

        return self._write("settle deliveries", write)

    def save_delivery_progress(self, delivery_id: int, claim: str, now: datetime,
                               message_ids: Sequence[str]) -> None:
        """Remember the parts already sent of a multi-part delivery still in flight (and
        renew its claim: the lease covers one request, not the whole delivery)."""
        def write(conn: Connection) -> None:
            conn.execute(t_deliveries.update().where(t_deliveries.c.id == delivery_id,
                                                     t_deliveries.c.claim == claim)
                         .values(message_ids=list(message_ids), updated=now,
                                 claimed_at=db_now(conn, now)))

        self._write("record delivery progress", write)

    def deliveries(self, target_id: str | None = None, *, states: Sequence[str] | None = None,
                   due_at: datetime | None = None, limit: int | None = None,
                   newest_first: bool = False) -> list[Delivery]:
        """Deliveries in queue order (or newest first), optionally only due ones; no claim."""
        stmt = select(t_deliveries).order_by(
            t_deliveries.c.id.desc() if newest_first else t_deliveries.c.id)
        if target_id is not None:
            stmt = stmt.where(t_deliveries.c.target_id == target_id)
        if states is not None:
            stmt = stmt.where(t_deliveries.c.state.in_(list(states)))
        if due_at is not None:
            stmt = stmt.where(or_(t_deliveries.c.next_at.is_(None),
                                  t_deliveries.c.next_at <= due_at))
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._read_tx("read deliveries") as conn:
            return [_delivery(row) for row in conn.execute(stmt)]

    def delivery_counts(self) -> dict[str, dict[str, int]]:
        """Per target, how many deliveries are in each state."""
        stmt = (select(t_deliveries.c.target_id, t_deliveries.c.state, func.count())
                .group_by(t_deliveries.c.target_id, t_deliveries.c.state))
        counts: dict[str, dict[str, int]] = {}
        with self._read_tx("count deliveries") as conn:
            for target_id, state, count in conn.execute(stmt):
                counts.setdefault(target_id, {})[state] = int(count)
        return counts

    def recent_claims(self, target_id: str, since: datetime) -> list[datetime]:
        """When deliveries of the target were last taken for sending, from `since` on: once
        per message a delivery sent (the parts of a long post), at least once."""
        stmt = (select(t_deliveries.c.claimed_at, t_deliveries.c.message_ids)
                .where(t_deliveries.c.target_id == target_id,
                       t_deliveries.c.claimed_at >= since)
                .order_by(t_deliveries.c.claimed_at))
        with self._read_tx("read recent sends") as conn:
            return [row.claimed_at for row in conn.execute(stmt)
                    for _ in range(max(1, len(row.message_ids or ())))]

    def queued_since(self, target_id: str, now: datetime) -> dict[str, datetime]:
        """Per recipient with deliveries of the target due now, when the oldest of them was
        queued (a digest is due once one of them waited past its schedule's time)."""
        stmt = (select(t_deliveries.c.recipient, func.min(t_deliveries.c.created))
                .where(t_deliveries.c.target_id == target_id,
                       t_deliveries.c.state.in_(CLAIMABLE),
                       or_(t_deliveries.c.next_at.is_(None), t_deliveries.c.next_at <= now))
                .group_by(t_deliveries.c.recipient))
        with self._read_tx("read queued recipients") as conn:
            return {recipient: as_utc(oldest) for recipient, oldest in conn.execute(stmt)}

    def due_recipients(self, target_id: str, now: datetime) -> list[str]:
        """The addresses with deliveries of the target due now (digests group by them)."""
        stmt = (select(t_deliveries.c.recipient).distinct()
                .where(t_deliveries.c.target_id == target_id,
                       t_deliveries.c.state.in_(CLAIMABLE),
                       or_(t_deliveries.c.next_at.is_(None), t_deliveries.c.next_at <= now))
                .order_by(t_deliveries.c.recipient))
        with self._read_tx("read due recipients") as conn:
            return [row.recipient for row in conn.execute(stmt)]

    def subscriber(self, target_id: str, email: str) -> Subscriber | None:
        with self._read_tx("read a subscriber") as conn:
            row = conn.execute(_subscriber_row(target_id, email)).first()
        return None if row is None else _subscriber(row)

    def subscriber_like(self, target_id: str, email: str) -> Subscriber | None:
        """The subscriber `email` is, the capitals of its local part aside (mailboxes do
        not tell them apart): the one of exactly that spelling first."""
        stmt = (select(t_subscribers).where(
            t_subscribers.c.target_id == target_id,
            func.lower(t_subscribers.c.email) == email.lower())
            .order_by((t_subscribers.c.email != email), t_subscribers.c.email).limit(1))
        with self._read_tx("read a subscriber") as conn:
            row = conn.execute(stmt).first()
        return None if row is None else _subscriber(row)

    def subscribers(self, target_id: str | None = None, *,
                    status: str | None = None) -> list[Subscriber]:
        stmt = select(t_subscribers).order_by(t_subscribers.c.target_id, t_subscribers.c.email)
        if target_id is not None:
            stmt = stmt.where(t_subscribers.c.target_id == target_id)
        if status is not None:
            stmt = stmt.where(t_subscribers.c.status == status)
        with self._read_tx("read subscribers") as conn:
            return [_subscriber(row) for row in conn.execute(stmt)]

    def set_subscriber(self, target_id: str, email: str, status: str, now: datetime, *,
                       reason: str | None = None,
                       languages: Sequence[str] | None = None,
                       rhythm: str | None = None) -> Subscriber:
        """Create or update a subscriber. Leaving `confirmed` also suppresses the address's
        queued deliveries, in the same transaction: nothing more reaches it. `languages`
        (in order; empty: every language) replaces the stored choice; None keeps it.
        `rhythm` (item | daily | weekly; "" for the target's) likewise.

        The address's row is inserted if absent (ON CONFLICT DO NOTHING) or else locked
        (FOR UPDATE) before it is read: two changes of one address apply one after the
        other, and a run queueing deliveries to it (which reads it FOR SHARE) either
        commits first, so its rows are suppressed here, or sees the new status."""
        def values(before: Row[Any] | None) -> dict[str, Any]:
            confirmed_at = (now if status == "confirmed" and (
                before is None or before.status != "confirmed")
                else None if before is None else before.confirmed_at)
            # `updated`: when the status last changed (a confirmation link is good only
            # for the address as it became pending); a new choice alone leaves it.
            return {"target_id": target_id, "email": email, "status": status,
                    "created": now if before is None else before.created,
                    "updated": before.updated if before is not None
                    and before.status == status else now,
                    "confirmed_at": confirmed_at, "reason": reason,
                    **_choice(languages, rhythm, before)}

        def write(conn: Connection) -> dict[str, Any]:
            row = values(None)
            added = conn.execute(self._insert(t_subscribers).values(**row)
                                 .on_conflict_do_nothing()
                                 .returning(t_subscribers.c.email)).first()
            if added is None:
                row = values(conn.execute(_subscriber_row(target_id, email)
                                          .with_for_update()).one())
                conn.execute(t_subscribers.update().where(
                    t_subscribers.c.target_id == target_id,
                    t_subscribers.c.email == email).values(**row))
            if status != "confirmed":
                self._suppress(conn, target_id, email, f"address {status}", now)
            return row

        return _subscriber(self._write("save a subscriber", write))

    def set_choice(self, target_id: str, email: str, now: datetime, *,
                   languages: Sequence[str], rhythm: str, reason: str) -> Subscriber | None:
        """Replace the languages and rhythm of an address still on the list (pending or
        confirmed), leaving its status as it is now: a choice saved while the address
        left, or confirmed, keeps that (the status read when a page opened may be stale).
        None when the address is no longer on the list. Its row is locked first, as in
        set_subscriber."""
        def write(conn: Connection) -> dict[str, Any] | None:
            before = conn.execute(_subscriber_row(target_id, email).with_for_update()).first()
            if before is None or before.status not in ("pending", "confirmed"):
                return None
            row = {**before._mapping, **_choice(languages, rhythm, before), "reason": reason}
            conn.execute(t_subscribers.update().where(
                t_subscribers.c.target_id == target_id,
                t_subscribers.c.email == email).values(**row))
            return row

        row = self._write("save a subscriber's choice", write)
        return None if row is None else _subscriber(row)

    def delete_subscriber(self, target_id: str, email: str, now: datetime) -> bool:
        """Forget an address (the operator removed it); its queued deliveries are suppressed.
        Its row is locked first, as in set_subscriber."""
        def write(conn: Connection) -> bool:
            conn.execute(_subscriber_row(target_id, email).with_for_update())
            self._suppress(conn, target_id, email, "address removed", now)
            return bool(conn.execute(t_subscribers.delete().where(
                t_subscribers.c.target_id == target_id,
                t_subscribers.c.email == email)).rowcount)

        return self._write("delete a subscriber", write)

    def _suppress(self, conn: Connection, target_id: str, email: str, error: str,
                  now: datetime) -> None:
        """The address's queued deliveries of the target are not to be sent."""
        conn.execute(t_deliveries.update().where(
            t_deliveries.c.target_id == target_id, t_deliveries.c.recipient == email,
            t_deliveries.c.state.in_(CLAIMABLE)).values(
                state="suppressed", error=error, updated=now))


def _outcome(state: str, now: datetime) -> dict[str, Any]:
    """The columns every recorded outcome of a delivery sets: a sent one is a send from
    then on (a later change of its item queues an edit of the messages it sent)."""
    values: dict[str, Any] = {"state": state, "updated": now}
    if state == "sent":
        values["action"] = "send"
    return values


def _choice(languages: Sequence[str] | None, rhythm: str | None,
            before: Row[Any] | None) -> dict[str, Any]:
    """A subscriber's stored languages and rhythm: the given ones (empty: every language,
    "": the target's rhythm), else the stored ones (None: keep)."""
    return {"languages": (list(languages) or None) if languages is not None
            else None if before is None else before.languages,
            "rhythm": (rhythm or None) if rhythm is not None
            else None if before is None else before.rhythm}


def _subscriber_row(target_id: str, email: str) -> Select[Any]:
    return select(t_subscribers).where(t_subscribers.c.target_id == target_id,
                                       t_subscribers.c.email == email)


def _delivery_row(delivery: Delivery, now: datetime) -> dict[str, Any]:
    return {
        "item_id": delivery.item_id, "target_id": delivery.target_id,
        "recipient": delivery.recipient, "state": delivery.state, "action": delivery.action,
        "attempts": delivery.attempts, "next_at": delivery.next_at,
        "created": delivery.created or now, "updated": delivery.updated or now,
        "claimed_at": None, "claim": None, "message_ids": list(delivery.message_ids),
        "error": delivery.error,
    }


def _delivery(row: Row[Any]) -> Delivery:
    return Delivery(
        id=row.id, item_id=row.item_id, target_id=row.target_id, recipient=row.recipient,
        state=row.state, action=row.action, attempts=row.attempts, next_at=row.next_at,
        message_ids=tuple(str(m) for m in row.message_ids), error=row.error,
        created=row.created, updated=row.updated, claimed_at=row.claimed_at, claim=row.claim,
    )


def _target_state(row: Row[Any]) -> PushTargetState:
    return PushTargetState(
        target_id=row.target_id, first_seen=row.first_seen, chat_id=row.chat_id,
        paused=bool(row.paused), paused_reason=row.paused_reason, paused_at=row.paused_at,
        hold_until=row.hold_until)


def _subscriber(row: Row[Any] | Mapping[str, Any]) -> Subscriber:
    r = row._mapping if isinstance(row, Row) else row
    return Subscriber(
        target_id=r["target_id"], email=r["email"], status=r["status"], created=r["created"],
        updated=r["updated"], confirmed_at=r["confirmed_at"], reason=r["reason"],
        languages=tuple(r["languages"] or ()), rhythm=r["rhythm"])


def _in_rhythm(target_id: str, chosen: str, default: str) -> Any:
    """Deliveries whose recipient reads in `chosen` (see claim_deliveries)."""
    others = select(t_subscribers.c.email).where(
        t_subscribers.c.target_id == target_id,
        func.coalesce(t_subscribers.c.rhythm, default) != chosen)
    return t_deliveries.c.recipient.not_in(others)
