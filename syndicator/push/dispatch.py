"""The push job: claim due deliveries, send them, record each outcome.

    dispatch_due(app)            Telegram posts, email per item, and the digests due by
                                 each subscriber's rhythm (push/rhythm.py)
    send_digest(app, id, now)    now: one digest mail per digest reader with what is queued

Deliveries are claimed one at a time (one transaction each, atomic on SQLite and
PostgreSQL), so concurrent push jobs never send the same row and a job killed mid-batch
leaves at most the one row it was sending in `sending`; once its lease has passed the next
job records it as `unknown` (it may have arrived) and never resends it.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from syndicator.app import App
from syndicator.config import Config, EmailTarget, PushTarget, TelegramTarget
from syndicator.errors import ConfigError
from syndicator.model import Delivery, Item, PushTargetState
from syndicator.push.email_job import EmailJob
from syndicator.push.job import BATCH, Job, TargetReport
from syndicator.push.pacing import PER_CHAT_WINDOW, chat_pace
from syndicator.push.render import TelegramPost, telegram_post, without_photo
from syndicator.push.subscribers import send_confirmations
from syndicator.push.telegram import ApiResult, TelegramClient, chat_id_value, quick_retry_delay

log = logging.getLogger(__name__)

PARALLEL_TARGETS = 4     # targets sent to at once (each chat still paced on its own)


@dataclass(frozen=True)
class DispatchReport:
    targets: tuple[TargetReport, ...] = ()

    def _sum(self, name: str) -> int:
        return sum(int(getattr(t, name)) for t in self.targets)

    @property
    def sent(self) -> int:
        return self._sum("sent")

    @property
    def failed(self) -> int:
        return self._sum("failed")

    @property
    def dead(self) -> int:
        return self._sum("dead")

    @property
    def unknown(self) -> int:
        return self._sum("unknown")

    def target(self, target_id: str) -> TargetReport:
        for report in self.targets:
            if report.target_id == target_id:
                return report
        return TargetReport(target_id)


def find_target(config: Config, target_id: str) -> PushTarget:
    for target in config.push:
        if target.id == target_id:
            return target
    known = ", ".join(t.id for t in config.push) or "none"
    raise ConfigError(f"unknown push target {target_id!r} (known: {known})")


# --- Telegram ---------------------------------------------------------------------------------

class _TelegramJob(Job):
    target: TelegramTarget

    def __init__(self, app: App, target: TelegramTarget, state: PushTargetState | None,
                 now: Callable[[], datetime], report: TargetReport) -> None:
        super().__init__(app, target, now, report)
        self.chat = state.chat_id if state and state.chat_id else chat_id_value(target.chat_id)
        token_key = hashlib.sha256(target.token.encode("utf-8")).hexdigest()[:16]

        def recent() -> list[float]:
            since = now() - timedelta(seconds=PER_CHAT_WINDOW)
            return [t.timestamp() for t in app.store.recent_claims(target.id, since)]

        self.pace = chat_pace(app.rates, token_key, f"{token_key}:{self.chat}", recent=recent,
                              now=lambda: now().timestamp())
        self.client = TelegramClient(target.api_url, target.token, timeout=target.timeout)

    def run(self, limit: int) -> None:
        try:
            for _ in range(limit):
                if self.pace.ready() > 0:
                    self.report.deferred = True
                    return
                rows = self.app.store.claim_deliveries(self.target.id, self.now(), self.claim,
                                                       lease=self.lease)
                if not rows:
                    return
                if self.send(rows[0]):
                    return
        finally:
            self.client.close()

    def send(self, row: Delivery) -> bool:
        """Send one claimed delivery; True when this target must stop for this call."""
        item = self.item(row)
        if item is None:
            self.dead(row, row.message_ids, "the item is no longer stored")
            return False
        post = telegram_post(self.target, self.app.config, item)
        if row.action == "edit":
            return self.edit(row, item, post)
        sent = list(row.message_ids)
        plain = False
        migrated = False
        quick = 0
        while len(sent) < len(post.parts):
            index = len(sent)
            wait = self.pace.take()
            if wait > 0:
                self.give_back(row, sent, next_at=self.now() + timedelta(seconds=wait),
                               error=None)
                self.report.deferred = True
                return True
            try:
                result = self._send_part(post, index, plain)
            finally:
                self.pace.done()
            if result.ok:
                assert result.message_id is not None
                sent.append(result.message_id)
                if len(sent) < len(post.parts):
                    assert row.id is not None
                    self.app.store.save_delivery_progress(row.id, self.claim, self.now(), sent)
                continue
            if result.kind == "media" and post.photo and index == 0:
                log.info("push %s: image refused (%s); sending as text", self.target.id,
                         result.description)
                self.report.notes.append(f"image not sent for {item.url}: "
                                         f"{result.description}")
                post = without_photo(post, self.target, self.app.config, item)
                continue
            if result.kind == "parse" and not plain:
                log.warning("push %s: Telegram refused our HTML (%s); resending as plain "
                            "text", self.target.id, result.description)
                self.report.notes.append(f"sent as plain text: {result.description}")
                plain = True
                continue
            if result.kind == "migrated" and not migrated and result.migrate_to:
                migrated = True
                self._migrate(result.migrate_to)
                continue
            if result.kind == "transient" and self._wait_quick(row, sent, quick, result):
                quick += 1
                continue
            return self._failure(row, sent, result)
        self.finish(row, "sent", message_ids=sent, error=None)
        self.report.sent += 1
        return False

    def _wait_quick(self, row: Delivery, sent: list[str], retry: int,
                    result: ApiResult) -> bool:
        """Wait before a quick retry (False: none left), the claim renewed first."""
        delay = quick_retry_delay(retry)
        if delay is None:
            return False
        log.info("push %s: %s %s; retrying in %.1f s", self.target.id, result.status or "",
                 result.description, delay)
        assert row.id is not None
        self.app.store.save_delivery_progress(row.id, self.claim, self.now(), sent)
        time.sleep(delay)
        return True

    def _send_part(self, post: TelegramPost, index: int, plain: bool) -> ApiResult:
        text = post.plain_parts[index] if plain else post.parts[index]
        mode = None if plain else "HTML"
        if index == 0 and post.photo:
            return self.client.send_photo(self.chat, post.photo, text, parse_mode=mode,
                                          disable_notification=self.target.disable_notification)
        return self.client.send_message(
            self.chat, text, parse_mode=mode,
            preview_url=post.preview_url if index == 0 else None,
            disable_preview=index > 0 or not self.target.link_preview,
            disable_notification=self.target.disable_notification or index > 0)

    def _migrate(self, chat: str) -> None:
        log.warning("push %s: chat %s became %s; following it", self.target.id, self.chat,
                    chat)
        self.report.notes.append(f"chat {self.chat} migrated to {chat}")
        self.chat = chat
        self.app.store.update_push_target(self.target.id, self.now(), chat_id=chat)

    def edit(self, row: Delivery, item: Item, post: TelegramPost) -> bool:
        """Edit the first sent message in place (on_update: edit); later parts stay."""
        if not row.message_ids:
            self.finish(row, "sent", error=None)
            return False
        if self.pace.take() > 0:
            self.give_back(row, row.message_ids, next_at=None, error=None)
            self.report.deferred = True
            return True
        first = row.message_ids[0]
        try:
            result = (self.client.edit_message_caption(self.chat, first, post.parts[0])
                      if post.photo else self.client.edit_message_text(self.chat, first,
                                                                       post.parts[0]))
            if result.kind == "rejected" and post.photo:
                # The message went out as text (its image had been refused): edit the text.
                text_post = without_photo(post, self.target, self.app.config, item)
                result = self.client.edit_message_text(self.chat, first, text_post.parts[0])
        finally:
            self.pace.done()
        if result.ok:
            self.finish(row, "sent", error=None)
            self.report.edited += 1
            return False
        return self._failure(row, list(row.message_ids), result)

    def _failure(self, row: Delivery, sent: list[str], result: ApiResult) -> bool:
        now = self.now()
        reason = f"{result.status} {result.description}" if result.status else result.description
        if result.kind == "retry_after":
            until = now + timedelta(seconds=result.retry_after or 30.0)
            self.give_back(row, sent, next_at=until, error=f"429: {result.description}")
            self.app.store.update_push_target(self.target.id, now, hold_until=until)
            self.report.deferred = True
            self.report.notes.append(f"429: holding the chat until {until.isoformat()}")
            return True
        if result.kind == "blocked":
            self.give_back(row, sent, next_at=None, error=reason)
            self.app.store.update_push_target(self.target.id, now, paused=True,
                                              paused_reason=reason, paused_at=now)
            self.report.paused = reason
            log.error("push %s: paused: %s", self.target.id, reason)
            return True
        if result.kind == "timeout":
            self.finish(row, "unknown", message_ids=sent, error=reason)
            self.report.unknown += 1
            return False
        if result.kind == "transient":
            self.failed(row, sent, reason)
            return True   # the API is unreachable or failing: do not hammer it
        self.dead(row, sent, reason)
        return False


# --- entry points ---------------------------------------------------------------------------

def _clock(app: App, now: datetime | None) -> Callable[[], datetime]:
    if now is not None:
        return lambda: now
    return app.clock


def dispatch_due(app: App, *, now: datetime | None = None,
                 target_ids: Sequence[str] | None = None,
                 limit: int = BATCH) -> DispatchReport:
    """Send what is due for every target (or only `target_ids`), respecting pacing: Telegram
    posts, email per item, and the digests each subscriber's rhythm makes due
    (push/rhythm.py).

    Safe to call often and from several processes at once: rows are claimed atomically.
    Paused targets and chats on a 429 hold are skipped.
    """
    config = app.config
    targets = ([find_target(config, t) for t in target_ids] if target_ids is not None
               else [t for t in config.push if t.enabled])
    clock = _clock(app, now)
    states = app.store.push_targets()
    reports: list[TargetReport] = []
    jobs: list[Callable[[], None]] = []
    for target in targets:
        report = TargetReport(target.id)
        reports.append(report)
        state = states.get(target.id)
        if state is not None and state.paused:
            report.paused = state.paused_reason or "paused"
            continue
        if isinstance(target, EmailTarget):
            jobs.append(functools.partial(send_confirmations, app, target, clock, report.notes))
            job = EmailJob(app, target, clock, report)
            jobs.append(functools.partial(_email, job, limit))
            continue
        if state is not None and state.hold_until is not None and state.hold_until > clock():
            report.deferred = True
            continue
        jobs.append(functools.partial(_TelegramJob(app, target, state, clock, report).run, limit))
    # Targets are independent chats/inboxes: a few in parallel keep the overall rate near its
    # limit (each send waits on the network). The shared overall window still paces them all,
    # and rows are claimed atomically, so parallel jobs never send a row twice.
    if len(jobs) == 1:
        jobs[0]()
    elif jobs:
        with ThreadPoolExecutor(max_workers=min(PARALLEL_TARGETS, len(jobs)),
                                thread_name_prefix="push") as pool:
            for future in [pool.submit(job) for job in jobs]:
                future.result()
    return DispatchReport(tuple(reports))


def _email(job: EmailJob, limit: int) -> None:
    """An email target's mails: each item to those who read them so, then due digests."""
    job.run_items(limit)
    job.run_digest(due_only=True)


def send_digest(app: App, target_id: str, now: datetime | None = None) -> DispatchReport:
    """Send the digests of an email target now, whatever their schedule: one message per
    subscriber reading a digest, with what is queued for them (dispatch_due sends them on
    their schedules)."""
    target = find_target(app.config, target_id)
    if not isinstance(target, EmailTarget):
        raise ConfigError(f"push target {target_id!r} is not an email target")
    report = TargetReport(target.id)
    EmailJob(app, target, _clock(app, now), report).run_digest(due_only=False)
    return DispatchReport((report,))


def resume_target(app: App, target_id: str) -> None:
    """Unpause a target (after the operator fixed the bot's rights or the chat)."""
    find_target(app.config, target_id)
    app.store.update_push_target(target_id, app.clock(), paused=False, paused_reason=None,
                                 paused_at=None, hold_until=None)
