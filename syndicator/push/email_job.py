"""The email share of the push job: per-item mails and digests over one SMTP connection,
each outcome recorded on its delivery rows (a 5xx for the recipient bounces the address).
Who gets which is each subscriber's rhythm (push/rhythm.py); a digest has one entry per
story, in the reader's first language, its other versions linked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from syndicator.config import EmailTarget
from syndicator.locales import language_key
from syndicator.model import Delivery, Item, Subscriber
from syndicator.push.email import (
    SendResult,
    SmtpSession,
    digest_message,
    item_message,
    mail_language,
)
from syndicator.push.job import BATCH, Job
from syndicator.push.languages import list_languages, reader_languages
from syndicator.push.rhythm import (
    DIGESTS,
    ITEM,
    any_due,
    default_rhythm,
    due_digests,
    latest_times,
    rhythm_of,
)
from syndicator.push.subscribers import list_links
from syndicator.stories import with_versions


class EmailJob(Job):
    target: EmailTarget

    def outcome(self, rows: Sequence[Delivery], result: SendResult, message_id: str,
                recipient: str) -> bool:
        """Record one SMTP outcome for the rows of one message; True: stop this target."""
        if result.kind == "ok":
            for row in rows:
                self.finish(row, "sent", message_ids=[message_id], error=None)
            self.report.sent += len(rows)
            return False
        if result.kind == "refused":
            for row in rows:
                self.dead(row, (), f"recipient refused: {result.detail}")
            self.app.store.set_subscriber(self.target.id, recipient, "bounced", self.now(),
                                          reason=f"refused by the mail server: {result.detail}")
            self.report.notes.append(f"{recipient} refused ({result.detail}): suppressed")
            return False
        if result.kind == "unknown":
            for row in rows:
                self.finish(row, "unknown", error=result.detail)
            self.report.unknown += len(rows)
            return False
        if result.kind == "retry":
            for row in rows:
                self.failed(row, (), result.detail)
            return result.code is None   # no connection: try the others next time
        for row in rows:
            self.dead(row, (), f"message refused: {result.detail}")
        return False

    def confirmed(self, recipient: str) -> Subscriber | None:
        """The recipient while subscribed (None: no longer)."""
        subscriber = self.app.store.subscriber(self.target.id, recipient)
        return subscriber if subscriber is not None and subscriber.status == "confirmed" \
            else None

    def run_items(self, limit: int) -> None:
        """Mail the due items of the subscribers who read each item as it comes."""
        config = self.app.config
        rhythm = (ITEM, default_rhythm(self.target))
        with SmtpSession(self.target.smtp) as session:
            for _ in range(limit):
                rows = self.app.store.claim_deliveries(self.target.id, self.now(), self.claim,
                                                       lease=self.lease, rhythm=rhythm)
                if not rows:
                    return
                row = rows[0]
                reader = self.confirmed(row.recipient)
                if reader is None:
                    self.finish(row, "suppressed", error="address no longer subscribed")
                    self.report.suppressed += 1
                    continue
                item = self.item(row)
                if item is None:
                    self.dead(row, (), "the item is no longer stored")
                    continue
                [item] = with_versions([item], self.app.store)
                msg = item_message(config, self.target, item, row.recipient,
                                   **list_links(config, self.target.id, row.recipient,
                                                self.now()),
                                   now=self.now(),
                                   language=mail_language(config, self.target,
                                                          reader.languages))
                result = session.send(msg, row.recipient)
                if self.outcome([row], result, str(msg["Message-ID"]), row.recipient):
                    return

    def run_digest(self, *, due_only: bool) -> None:
        """Mail the digests: those due by each subscriber's rhythm (push/rhythm.py), or,
        with `due_only` False, every digest reader's queued items now."""
        store = self.app.store
        now = self.now()
        queued = store.queued_since(self.target.id, now)
        if not queued:
            return
        latest = latest_times(self.target, self.app.config.timezone, now)
        if due_only and not any_due(latest, min(queued.values())):
            return        # nothing queued before the latest digest time: none is due
        subscribers = {s.email: s for s in store.subscribers(self.target.id)}
        chosen = {email: s.rhythm for email, s in subscribers.items()}
        if due_only:
            recipients = due_digests(self.target, latest, queued, chosen)
        else:
            recipients = [r for r in sorted(queued)
                          if rhythm_of(self.target, chosen.get(r)) in DIGESTS]
        with SmtpSession(self.target.smtp) as session:
            for recipient in recipients:
                found = subscribers.get(recipient)
                languages = found.languages if found else ()
                if recipient and self._digest(session, recipient, languages):
                    return

    def _digest(self, session: SmtpSession, recipient: str,
                languages: Sequence[str]) -> bool:
        """One recipient's digest; True: stop this target."""
        store = self.app.store
        rows = store.claim_deliveries(self.target.id, self.now(), self.claim,
                                      lease=self.lease, limit=BATCH, recipient=recipient)
        if not rows:
            return False
        if not self.confirmed(recipient):
            for row in rows:
                self.finish(row, "suppressed", error="address no longer subscribed")
            self.report.suppressed += len(rows)
            return False
        items = store.items_by_id(row.item_id for row in rows)
        for row in rows:
            if row.item_id not in items:
                self.dead(row, (), "the item is no longer stored")
        present = [row for row in rows if row.item_id in items]
        if not present:
            return False
        config = self.app.config
        shown = story_entries([items[row.item_id] for row in present],
                              store.story_groups(row.item_id for row in present),
                              languages or list_languages(config, self.target))
        msg = digest_message(config, self.target, with_versions(shown, store), recipient,
                             **list_links(config, self.target.id, recipient, self.now()),
                             now=self.now(), item_ids=[row.item_id for row in present],
                             language=mail_language(config, self.target, languages))
        result = session.send(msg, recipient)
        return self.outcome(present, result, str(msg["Message-ID"]), recipient)


def story_entries(items: Sequence[Item], story_of: Mapping[str, str],
                  languages: Sequence[str]) -> list[Item]:
    """A digest's entries, newest first: one item per story, the version in the first of
    `languages` it exists in (else the oldest); the others are linked from it."""
    rank = {code: position for position, code in enumerate(reader_languages(languages))}
    best: dict[str, Item] = {}

    def key(item: Item) -> tuple[int, datetime, str]:
        return (rank.get(language_key(item.language) or "", len(rank)), item.published,
                item.id)

    for item in items:
        story = story_of.get(item.id, item.id)
        if story not in best or key(item) < key(best[story]):
            best[story] = item
    return sorted(best.values(), key=lambda i: (i.published, i.id), reverse=True)
