"""What operators see per push target: queued, sent, failed, unknown, dead, paused and why;
and the deliveries they have to look at (unknown, dead), by id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from syndicator.config import Config, EmailTarget, TelegramTarget
from syndicator.push.telegram import chat_id_value
from syndicator.store import Store

# The deliveries an operator decides on by hand (`syndicator push --resend / --mark-sent`):
# unknown ones may or may not have arrived, dead ones were given up.
TO_CHECK = ("unknown", "dead")


@dataclass(frozen=True)
class DeliveryToCheck:
    """One unknown or dead delivery as `push --status` lists it."""

    id: int
    state: str
    target_id: str
    recipient: str                   # email address; "" for Telegram
    when: datetime | None            # when it was last taken for sending (else changed)
    title: str                       # "" when the item is no longer stored
    url: str
    error: str | None


@dataclass(frozen=True)
class TargetStatus:
    target_id: str
    type: str                        # "telegram" | "email"
    enabled: bool
    queued: int = 0                  # pending, waiting to be sent
    sending: int = 0                 # claimed by a push job right now
    sent: int = 0
    failed: int = 0                  # failed, will be retried (next_at)
    unknown: int = 0                 # may or may not have arrived; not resent
    dead: int = 0                    # given up
    suppressed: int = 0              # never to be sent (first sight, unsubscribed)
    paused: bool = False
    paused_reason: str | None = None
    hold_until: datetime | None = None   # a 429 hold on the chat
    chat_id: str | None = None           # Telegram: the chat in use (after a migration)
    subscribers: int | None = None       # email: confirmed addresses
    mode: str | None = None              # email: per_item | digest

    def to_json(self) -> dict[str, object]:
        """For /status.json: the fields, datetimes as ISO 8601, plus the summary line."""
        data: dict[str, object] = dict(vars(self))
        data["hold_until"] = self.hold_until.isoformat() if self.hold_until else None
        data["summary"] = self.summary
        return data

    @property
    def summary(self) -> str:
        text = (f"{self.queued} queued, {self.sent} sent, {self.failed} failed, "
                f"{self.unknown} unknown, {self.dead} dead")
        if self.paused:
            text += f"; PAUSED: {self.paused_reason or 'paused'}"
        return text


def push_status(store: Store, config: Config) -> tuple[TargetStatus, ...]:
    """One TargetStatus per configured push target, in config order."""
    counts = store.delivery_counts()
    states = store.push_targets()
    confirmed: dict[str, int] = {}
    if any(isinstance(t, EmailTarget) for t in config.push):
        for subscriber in store.subscribers(status="confirmed"):
            confirmed[subscriber.target_id] = confirmed.get(subscriber.target_id, 0) + 1
    result: list[TargetStatus] = []
    for target in config.push:
        c = counts.get(target.id, {})
        state = states.get(target.id)
        chat = None
        if isinstance(target, TelegramTarget):
            chat = state.chat_id if state and state.chat_id else chat_id_value(target.chat_id)
        result.append(TargetStatus(
            target_id=target.id, type=target.type, enabled=target.enabled,
            queued=c.get("pending", 0), sending=c.get("sending", 0), sent=c.get("sent", 0),
            failed=c.get("failed", 0), unknown=c.get("unknown", 0), dead=c.get("dead", 0),
            suppressed=c.get("suppressed", 0),
            paused=bool(state and state.paused),
            paused_reason=state.paused_reason if state else None,
            hold_until=state.hold_until if state else None, chat_id=chat,
            subscribers=confirmed.get(target.id, 0) if isinstance(target, EmailTarget)
            else None,
            mode=target.mode if isinstance(target, EmailTarget) else None))
    return tuple(result)


def deliveries_to_check(store: Store, target_id: str, *,
                        limit: int | None = None) -> list[DeliveryToCheck]:
    """The target's unknown and dead deliveries, newest first (at most `limit`), with the
    title and URL of their items: what the operator checks in the chat or mailbox."""
    rows = store.deliveries(target_id, states=TO_CHECK, limit=limit, newest_first=True)
    items = store.items_by_id(row.item_id for row in rows)
    result = []
    for row in rows:
        assert row.id is not None
        item = items.get(row.item_id)
        result.append(DeliveryToCheck(
            id=row.id, state=row.state, target_id=row.target_id, recipient=row.recipient,
            when=row.claimed_at or row.updated, title=item.title if item else "",
            url=item.url if item else "", error=row.error))
    return result
