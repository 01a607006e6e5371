"""Email subscriptions: signed tokens, double opt-in, unsubscribe, operator imports.

Tokens are `base64url(json).base64url(hmac_sha256)` signed with `config.secret_key`, so a
link cannot be forged or moved to another address or list. Confirmation tokens carry the
time they were issued and expire; unsubscribe tokens do not (an old newsletter's link must
keep working). Form tokens (purpose `form`) are put into the sign-up forms and checked on
POST: a form posted from anywhere but our own pages has none.

A sign-up only queues a row (store/signups.py); the push job (`send_confirmations`, called
by dispatch_due for every email target) decides whether a mail is due and sends it.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import json
import logging
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from syndicator.app import App
from syndicator.config import Config, EmailTarget
from syndicator.errors import AddressInvalid, ConfigError
from syndicator.model import Signup, Subscriber
from syndicator.push.addresses import mailbox_key, parse_address
from syndicator.push.email import (
    SmtpSession,
    confirmation_message,
    mail_language,
    valid_address,
)
from syndicator.push.languages import choose_languages
from syndicator.push.rhythm import parse_rhythm
from syndicator.store import Store

CONFIRM_DAYS = 7
RESEND_AFTER = timedelta(minutes=10)
FORM_HOURS = 12          # a sign-up form may stay open this long before it must be reloaded
CONFIRM_BATCH = 50       # confirmation mails per target per push run at most
MAILBOX_PER_DAY = 3      # confirmation mails to one mailbox (`mailbox_key`) in any 24 hours
DAY = timedelta(days=1)
RETRY_BASE = 60.0        # seconds before a failed confirmation mail is retried; doubles
RETRY_CAP = 3600.0
CONFIRM = "confirm"
UNSUBSCRIBE = "unsubscribe"
FORM = "form"
PREFERENCES = "preferences"
PREFERENCES_DAYS = 365   # a mail's preferences link works this long (then: a newer mail's)

log = logging.getLogger(__name__)

_B64_TEXT = re.compile(r"[A-Za-z0-9_-]*")


@dataclass(frozen=True)
class TokenData:
    purpose: str
    target_id: str
    email: str
    issued: int | None = None        # Unix seconds; confirmation tokens


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """Strict: only the one spelling `_b64` writes (URL-safe alphabet, no padding, unused
    trailing bits zero) decodes; any other spelling of the same bytes is ValueError, so a
    token has exactly one URL."""
    if not _B64_TEXT.fullmatch(text):
        raise ValueError("not unpadded base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:
        raise ValueError("not the canonical spelling")
    return data


def _secret(config: Config) -> bytes:
    if not config.secret_key:
        raise ConfigError("email push needs `secret_key` to sign subscription links")
    return config.secret_key.encode("utf-8")


def make_token(config: Config, purpose: str, target_id: str, email: str, *,
               expires: datetime | None = None, issued: datetime | None = None) -> str:
    payload = {"p": purpose, "t": target_id, "e": email}
    if expires is not None:
        payload["x"] = str(int(expires.timestamp()))
    if issued is not None:
        payload["i"] = str(int(issued.timestamp()))
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    signature = hmac.new(_secret(config), body.encode("ascii"), hashlib.sha256).digest()
    return f"{body}.{_b64(signature)}"


def read_token(config: Config, token: str, purpose: str, now: datetime) -> TokenData | None:
    """The token's content when its signature is good, it is for `purpose` and not expired.
    Without `secret_key` (a config with no email target need not set one) no token is
    good: None, never an error."""
    if not config.secret_key:
        return None
    body, _, signature = token.partition(".")
    try:
        expected = hmac.new(_secret(config), body.encode("ascii"), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(signature)):
            return None
        payload = json.loads(_unb64(body))
        if not isinstance(payload, dict) or payload.get("p") != purpose:
            return None
        expires = payload.get("x")
        if expires is not None and int(expires) < now.timestamp():
            return None
        issued = payload.get("i")
        if issued is not None:
            issued = int(issued)
        elif expires is not None and purpose == CONFIRM:
            # Links mailed before tokens carried it: issued CONFIRM_DAYS before they expire.
            issued = int(expires) - CONFIRM_DAYS * 86400
    except (ValueError, TypeError, UnicodeError):
        return None
    target_id, email = payload.get("t"), payload.get("e")
    if not isinstance(target_id, str) or not isinstance(email, str):
        return None
    return TokenData(purpose, target_id, email, issued)


def unsubscribe_url(config: Config, target_id: str, email: str) -> str:
    token = make_token(config, UNSUBSCRIBE, target_id, email)
    return f"{config.site.base_url}unsubscribe/{quote(token)}"


def preferences_url(config: Config, target_id: str, email: str, now: datetime) -> str:
    """The signed link to the address's preferences page (push/preferences.py)."""
    token = make_token(config, PREFERENCES, target_id, email,
                       expires=now + timedelta(days=PREFERENCES_DAYS), issued=now)
    return f"{config.site.base_url}preferences/{quote(token)}"


def list_links(config: Config, target_id: str, email: str, now: datetime) -> dict[str, str]:
    """The links every list mail carries: `unsubscribe_url` and `preferences_url`."""
    return {"unsubscribe_url": unsubscribe_url(config, target_id, email),
            "preferences_url": preferences_url(config, target_id, email, now)}


def confirm_url(config: Config, target_id: str, email: str, now: datetime) -> str:
    token = make_token(config, CONFIRM, target_id, email,
                       expires=now + timedelta(days=CONFIRM_DAYS), issued=now)
    return f"{config.site.base_url}subscribe/confirm/{quote(token)}"


def form_token(config: Config, target_id: str, now: datetime) -> str:
    """The token a sign-up form for the target carries (valid for FORM_HOURS)."""
    return make_token(config, FORM, target_id, "",
                      expires=now + timedelta(hours=FORM_HOURS))


def form_token_valid(config: Config, token: str, target_id: str, now: datetime) -> bool:
    data = read_token(config, token, FORM, now)
    return data is not None and data.target_id == target_id


def email_target(config: Config, target_id: str) -> EmailTarget:
    for target in config.push:
        if target.id == target_id and isinstance(target, EmailTarget):
            return target
    known = ", ".join(t.id for t in config.push if isinstance(t, EmailTarget)) or "none"
    raise ConfigError(f"unknown email target {target_id!r} (known: {known})")


def enabled_email_target(config: Config, target_id: str) -> EmailTarget | None:
    for target in config.push:
        if target.id == target_id and isinstance(target, EmailTarget) and target.enabled:
            return target
    return None


# --- double opt-in ----------------------------------------------------------------------------

def request_subscription(store: Store, config: Config, target_id: str, address: str,
                         now: datetime, *, languages: tuple[str, ...] | None = None,
                         rhythm: str | None = None) -> str:
    """A sign-up through a form: queue it for the push job and return the normalised
    address. The same single insert whatever the address's state (new, pending, confirmed,
    unsubscribed), so neither the answer nor its time tells them apart. AddressInvalid
    (with a one-line reason) when the address is not one we can take. The languages and
    rhythm chosen on the form are the address's once it is confirmed (an address already
    subscribed keeps its own: only its preferences link changes them)."""
    email_target(config, target_id)
    email = parse_address(address).email
    store.queue_signup(target_id, email, now, languages=languages, rhythm=rhythm)
    return email


@dataclass(frozen=True)
class Confirmation:
    """What a confirmation link does. kind: confirmed | ready (it would confirm: see
    `confirm`) | invalid (bad or expired) | unknown (the list is gone) | stale
    (unsubscribed, bounced or signed up again since it was issued: a newer link or a new
    sign-up is needed)."""

    kind: str
    subscriber: Subscriber | None = None


def confirmation(store: Store, config: Config, token: str, now: datetime) -> Confirmation:
    """What the link would do, changing nothing (the page a GET of the link shows: mail
    scanners open every link of a mail, and no opened link may subscribe anybody). It
    confirms only while the address is still pending from the sign-up the link was issued
    for: a link replayed after an unsubscribe (or after a bounce) confirms nothing."""
    data = read_token(config, token, CONFIRM, now)
    if data is None:
        return Confirmation("invalid")
    if not any(t.id == data.target_id and isinstance(t, EmailTarget) for t in config.push):
        return Confirmation("unknown")
    existing = store.subscriber(data.target_id, data.email)
    if existing is not None and existing.status == "confirmed":
        return Confirmation("confirmed", existing)
    if existing is None or existing.status != "pending" or data.issued is None:
        return Confirmation("stale")
    if data.issued < int(existing.updated.timestamp()):
        return Confirmation("stale")      # issued before the address last became pending
    return Confirmation("ready", existing)


def confirm(store: Store, config: Config, token: str, now: datetime) -> Confirmation:
    """Confirm the subscription a (valid, unexpired) token names, when `confirmation`
    says it is ready (the reader pressed the button of the link's page)."""
    found = confirmation(store, config, token, now)
    if found.kind != "ready" or found.subscriber is None:
        return found
    return Confirmation("confirmed", store.set_subscriber(
        found.subscriber.target_id, found.subscriber.email, "confirmed", now,
        reason="confirmed by link"))


def unsubscribe(store: Store, config: Config, token: str, now: datetime) -> Subscriber | None:
    """Unsubscribe the address the token names: its queued mails are suppressed at once."""
    data = read_token(config, token, UNSUBSCRIBE, now)
    if data is None:
        return None
    return leave(store, data.target_id, data.email, now)


def leave(store: Store, target_id: str, email: str, now: datetime) -> Subscriber:
    """The address leaves the list (a link or a page said so): no more mails."""
    existing = store.subscriber(target_id, email)
    if existing is not None and existing.status == "unsubscribed":
        return existing
    return store.set_subscriber(target_id, email, "unsubscribed", now,
                                reason="unsubscribed by link")


# --- the push job's part: confirmation mails ----------------------------------------------------

@dataclass(frozen=True)
class _Outcome:
    state: str
    error: str | None = None
    next_at: datetime | None = None
    stop: bool = False                  # the server cannot be reached: the rest waits


def send_confirmations(app: App, target: EmailTarget, now: Callable[[], datetime],
                       notes: list[str], limit: int = CONFIRM_BATCH) -> None:
    """Send the confirmation mails the target's sign-ups call for (a note says how many
    went out). Rows are claimed one at a time, like deliveries, so concurrent push jobs never
    mail one sign-up twice."""
    store = app.store
    claim = uuid.uuid4().hex
    lease = 2 * target.smtp.timeout + 2.0
    sent = handled = 0
    recent = store.confirmations_since(target.id, now() - DAY)
    mailed = Counter(mailbox_key(address) for address in recent)
    budget = target.signups.confirmations_per_day - len(recent)
    with SmtpSession(target.smtp) as session:
        for _ in range(limit):
            if budget <= 0:
                # The rows stay queued, unclaimed: they go out as the day's mails age. Said
                # once, in the run that reaches the limit.
                if handled:
                    notes.append(f"{target.signups.confirmations_per_day} confirmation mails "
                                 "in 24 hours, the list's limit: the rest wait")
                break
            row = store.claim_signup(target.id, now(), claim, lease=lease)
            if row is None:
                break
            handled += 1
            outcome = _confirm_one(app, target, session, row, now(), mailed)
            store.finish_signup(row.id, claim, now(), state=outcome.state, error=outcome.error,
                                next_at=outcome.next_at)
            if outcome.state in ("sent", "unknown"):
                budget -= 1
            if outcome.state == "sent":
                sent += 1
            elif outcome.state in ("dead", "failed", "unknown"):
                notes.append(f"confirmation mail to {row.email} {outcome.state}: "
                             f"{outcome.error}")
                log.warning("push %s: confirmation mail %s: %s", target.id, outcome.state,
                            outcome.error)
            if outcome.stop:
                break
    if handled:
        store.purge_signups(now() - timedelta(days=CONFIRM_DAYS))
    if sent:
        notes.append(f"{sent} confirmation mail(s) sent")


def _confirm_one(app: App, target: EmailTarget, session: SmtpSession, row: Signup,
                 now: datetime, mailed: Counter[str]) -> _Outcome:
    """One sign-up's confirmation mail, when one is due. `mailed`: the confirmation mails
    of the last 24 hours per `mailbox_key` (counted up here as mails go out), so that the
    form cannot be used to mail one inbox, in any spelling, more than MAILBOX_PER_DAY
    times a day."""
    store, config = app.store, app.config
    # The address as the list knows it (known_address: in other capitals, one reader).
    existing = store.subscriber_like(target.id, row.email)
    email = existing.email if existing is not None else row.email
    if existing is not None and existing.status == "confirmed":
        return _Outcome("skipped", "already subscribed")
    last = store.last_confirmation(target.id, email)
    if (existing is not None and existing.status == "pending" and last is not None
            and now - last < RESEND_AFTER):
        return _Outcome("skipped", "a confirmation mail went out moments ago")
    mailbox = mailbox_key(email)
    if mailed[mailbox] >= MAILBOX_PER_DAY:
        return _Outcome("skipped", f"{MAILBOX_PER_DAY} confirmation mails to this mailbox "
                                   "in 24 hours")
    if existing is None or existing.status != "pending" or row.languages is not None:
        store.set_subscriber(target.id, email, "pending", now,
                             reason="signed up through the form", languages=row.languages,
                             rhythm=row.rhythm)
    msg = confirmation_message(config, target, email,
                               confirm_url=confirm_url(config, target.id, email, now),
                               preferences_url=preferences_url(config, target.id, email,
                                                               now),
                               expires_days=CONFIRM_DAYS, now=now,
                               language=mail_language(config, target, row.languages or (
                                   existing.languages if existing else ())))
    result = session.send(msg, email)
    if result.kind in ("ok", "unknown"):
        mailed[mailbox] += 1
    if result.kind == "ok":
        return _Outcome("sent")
    if result.kind == "unknown":
        return _Outcome("unknown", result.detail)
    if result.kind == "retry":
        if row.attempts >= target.max_attempts:
            return _Outcome("dead", f"gave up after {row.attempts} attempts: {result.detail}",
                            stop=result.code is None)
        wait = min(RETRY_BASE * 2 ** (row.attempts - 1), RETRY_CAP)
        return _Outcome("failed", result.detail, now + timedelta(seconds=wait),
                        stop=result.code is None)
    return _Outcome("dead", result.detail)


# --- operators --------------------------------------------------------------------------------

# An address, the languages it reads and its rhythm (None: leave the stored choice as it
# is; rhythm "": the target's).
Entry = tuple[str, tuple[str, ...] | None, str | None]


def add_confirmed(store: Store, config: Config, target_id: str, entries: Iterable[Entry],
                  now: datetime) -> tuple[list[str], list[AddressInvalid]]:
    """Addresses an operator adds are confirmed at once, with the languages and rhythm
    given (an address already there keeps its own when none are given). Returns (added,
    refused): each refusal names the address and says why."""
    email_target(config, target_id)
    added: list[str] = []
    invalid: list[AddressInvalid] = []
    for address, languages, rhythm in entries:
        try:
            email = parse_address(address).email
        except AddressInvalid as exc:
            invalid.append(exc)
            continue
        email = known_address(store, target_id, email)
        store.set_subscriber(target_id, email, "confirmed", now, reason="added by an operator",
                             languages=languages, rhythm=rhythm)
        added.append(email)
    return added, invalid


def known_address(store: Store, target_id: str, email: str) -> str:
    """`email` as the list knows it, when it is there with its local part in other
    capitals ("Ann@" and "ann@" are one mailbox at every provider): one subscriber."""
    known = store.subscriber_like(target_id, email)
    return known.email if known is not None else email


def read_csv(path: Path, offered: Sequence[str]) -> list[Entry]:
    """Addresses from a CSV file: the `email` column if there is a header, else column 1;
    with a header, a `languages` column gives each address its languages ("be en", each
    one of `offered`, the list's: push/languages.py) and a `rhythm` column its rhythm
    (item, daily, weekly)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = [row for row in csv.reader(handle) if row and any(c.strip() for c in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    if not rows:
        return []
    header = [cell.strip().lower() for cell in rows[0]]
    column = header.index("email") if "email" in header else 0
    start = 1 if "email" in header or valid_address(rows[0][0]) is None else 0
    chosen = header.index("languages") if start and "languages" in header else None
    rhythm = header.index("rhythm") if start and "rhythm" in header else None
    return [(row[column].strip(),
             choose_languages(row[chosen], offered, where=f"{path}, line {number}, languages")
             if chosen is not None and len(row) > chosen else None,
             parse_rhythm(row[rhythm], where=f"{path}, line {number}, rhythm")
             if rhythm is not None and len(row) > rhythm else None)
            for number, row in enumerate(rows[start:], start=start + 1) if len(row) > column]
