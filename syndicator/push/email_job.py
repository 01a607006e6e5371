"""The email share of the push job: per-item mails and digests over one SMTP connection,
each outcome recorded on its delivery rows (a 5xx for the recipient bounces the address)."""

from __future__ import annotations

from collections.abc import Sequence

from syndicator.config import EmailTarget
from syndicator.model import Delivery
from syndicator.push.email import SendResult, SmtpSession, digest_message, item_message
from syndicator.push.job import BATCH, Job
from syndicator.push.subscribers import unsubscribe_url


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

    def confirmed(self, recipient: str) -> bool:
        subscriber = self.app.store.subscriber(self.target.id, recipient)
        return subscriber is not None and subscriber.status == "confirmed"

    def run_items(self, limit: int) -> None:
        config = self.app.config
        with SmtpSession(self.target.smtp) as session:
            for _ in range(limit):
                rows = self.app.store.claim_deliveries(self.target.id, self.now(), self.claim,
                                                       lease=self.lease)
                if not rows:
                    return
                row = rows[0]
                if not self.confirmed(row.recipient):
                    self.finish(row, "suppressed", error="address no longer subscribed")
                    self.report.suppressed += 1
                    continue
                item = self.item(row)
                if item is None:
                    self.dead(row, (), "the item is no longer stored")
                    continue
                msg = item_message(config, self.target, item, row.recipient,
                                   unsubscribe_url=unsubscribe_url(config, self.target.id,
                                                                   row.recipient),
                                   now=self.now())
                result = session.send(msg, row.recipient)
                if self.outcome([row], result, str(msg["Message-ID"]), row.recipient):
                    return

    def run_digest(self) -> None:
        config = self.app.config
        store = self.app.store
        with SmtpSession(self.target.smtp) as session:
            for recipient in store.due_recipients(self.target.id, self.now()):
                if not recipient:
                    continue
                rows = store.claim_deliveries(self.target.id, self.now(), self.claim,
                                              lease=self.lease, limit=BATCH,
                                              recipient=recipient)
                if not rows:
                    continue
                if not self.confirmed(recipient):
                    for row in rows:
                        self.finish(row, "suppressed", error="address no longer subscribed")
                    self.report.suppressed += len(rows)
                    continue
                items = store.items_by_id(row.item_id for row in rows)
                for row in rows:
                    if row.item_id not in items:
                        self.dead(row, (), "the item is no longer stored")
                present = [row for row in rows if row.item_id in items]
                if not present:
                    continue
                ordered = sorted((items[row.item_id] for row in present),
                                 key=lambda i: (i.published, i.id), reverse=True)
                msg = digest_message(config, self.target, ordered, recipient,
                                     unsubscribe_url=unsubscribe_url(config, self.target.id,
                                                                     recipient),
                                     now=self.now())
                result = session.send(msg, recipient)
                if self.outcome(present, result, str(msg["Message-ID"]), recipient):
                    return
