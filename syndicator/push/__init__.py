"""Push: new items to Telegram channels and email subscribers; no floods, doubles or losses.

    pipeline ──save_run(outbox=outbox_hook(...))──▶ deliveries (same transaction as the item)
    scheduler ──dispatch_due(app)──▶ claim ─▶ render ─▶ send (paced) ─▶ record the outcome
                                     (digests too, when each subscriber's rhythm says)
    operator  ──send_digest(app, target, now)── a target's digests now
    status    ──push_status(store, config)──▶ TargetStatus per target

Modules: outbox (the pure decision), pacing, tghtml (Telegram HTML, budgets, splitting),
render (items → posts), telegram (Bot API client), email (messages + SMTP), addresses
(email-validator), subscribers (double opt-in, signed tokens, confirmation mails),
preferences (languages and rhythm chosen on forms and the preferences page), rhythm
(per item, daily or weekly: when a subscriber's mail is due), job
(what every target's share has in common), email_job, dispatch (the job), status, preview.
"""

from syndicator.push.dispatch import (
    DispatchReport,
    dispatch_due,
    resume_target,
    send_digest,
)
from syndicator.push.job import TargetReport
from syndicator.push.outbox import outbox_hook
from syndicator.push.status import TargetStatus, push_status

__all__ = [
    "DispatchReport",
    "TargetReport",
    "TargetStatus",
    "dispatch_due",
    "outbox_hook",
    "push_status",
    "resume_target",
    "send_digest",
]
