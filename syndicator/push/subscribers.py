"""Email subscriptions: signed tokens, double opt-in, unsubscribe, operator imports.

Tokens are `base64url(json).base64url(hmac_sha256)` signed with `config.secret_key`, so a
link cannot be forged or moved to another address or list. Confirmation tokens expire;
unsubscribe tokens do not (an old newsletter's link must keep working).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from syndicator.config import Config, EmailTarget
from syndicator.errors import ConfigError
from syndicator.push.email import SmtpSession, confirmation_message, valid_address
from syndicator.store.store import Store, Subscriber

CONFIRM_DAYS = 7
RESEND_AFTER = timedelta(minutes=10)
CONFIRM = "confirm"
UNSUBSCRIBE = "unsubscribe"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenData:
    purpose: str
    target_id: str
    email: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _secret(config: Config) -> bytes:
    if not config.secret_key:
        raise ConfigError("email push needs `secret_key` to sign subscription links")
    return config.secret_key.encode("utf-8")


def make_token(config: Config, purpose: str, target_id: str, email: str, *,
               expires: datetime | None = None) -> str:
    payload = {"p": purpose, "t": target_id, "e": email}
    if expires is not None:
        payload["x"] = str(int(expires.timestamp()))
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    signature = hmac.new(_secret(config), body.encode("ascii"), hashlib.sha256).digest()
    return f"{body}.{_b64(signature)}"


def read_token(config: Config, token: str, purpose: str, now: datetime) -> TokenData | None:
    """The token's content when its signature is good, it is for `purpose` and not expired."""
    body, _, signature = token.partition(".")
    try:
        expected = hmac.new(_secret(config), body.encode("ascii"), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(signature)):
            return None
        payload = json.loads(_unb64(body))
    except (ValueError, UnicodeError):
        return None
    if not isinstance(payload, dict) or payload.get("p") != purpose:
        return None
    expires = payload.get("x")
    if expires is not None and int(expires) < now.timestamp():
        return None
    target_id, email = payload.get("t"), payload.get("e")
    if not isinstance(target_id, str) or not isinstance(email, str):
        return None
    return TokenData(purpose, target_id, email)


def unsubscribe_url(config: Config, target_id: str, email: str) -> str:
    token = make_token(config, UNSUBSCRIBE, target_id, email)
    return f"{config.site.base_url}unsubscribe/{quote(token)}"


def confirm_url(config: Config, target_id: str, email: str, now: datetime) -> str:
    token = make_token(config, CONFIRM, target_id, email,
                       expires=now + timedelta(days=CONFIRM_DAYS))
    return f"{config.site.base_url}subscribe/confirm/{quote(token)}"


def email_target(config: Config, target_id: str) -> EmailTarget:
    for target in config.push:
        if target.id == target_id and isinstance(target, EmailTarget):
            return target
    known = ", ".join(t.id for t in config.push if isinstance(t, EmailTarget)) or "none"
    raise ConfigError(f"unknown email target {target_id!r} (known: {known})")


# --- double opt-in ----------------------------------------------------------------------------

def request_subscription(store: Store, config: Config, target_id: str, address: str,
                         now: datetime) -> bool:
    """A sign-up through the form: remember the address as pending and mail it a
    confirmation link. False when the address is not one. An address already confirmed
    gets no mail (the answer to the visitor is the same either way)."""
    target = email_target(config, target_id)
    email = valid_address(address)
    if email is None:
        return False
    existing = store.subscriber(target_id, email)
    if existing is not None and existing.status == "confirmed":
        return True
    if (existing is not None and existing.status == "pending"
            and now - existing.updated < RESEND_AFTER):
        return True   # a confirmation mail went out moments ago: no mail bombing via the form
    store.set_subscriber(target_id, email, "pending", now, reason="signed up through the form")
    msg = confirmation_message(config, target, email,
                               confirm_url=confirm_url(config, target_id, email, now),
                               expires_days=CONFIRM_DAYS, now=now)
    with SmtpSession(target.smtp) as session:
        result = session.send(msg, email)
    if result.kind != "ok":
        log.warning("push %s: confirmation mail not sent: %s", target_id, result.detail)
    return True


def confirm(store: Store, config: Config, token: str, now: datetime) -> Subscriber | None:
    """Confirm the subscription a (valid, unexpired) token names; None for a bad token."""
    data = read_token(config, token, CONFIRM, now)
    if data is None:
        return None
    email_target(config, data.target_id)
    existing = store.subscriber(data.target_id, data.email)
    if existing is not None and existing.status == "confirmed":
        return existing
    return store.set_subscriber(data.target_id, data.email, "confirmed", now,
                                reason="confirmed by link")


def unsubscribe(store: Store, config: Config, token: str, now: datetime) -> Subscriber | None:
    """Unsubscribe the address the token names: its queued mails are suppressed at once."""
    data = read_token(config, token, UNSUBSCRIBE, now)
    if data is None:
        return None
    existing = store.subscriber(data.target_id, data.email)
    if existing is not None and existing.status == "unsubscribed":
        return existing
    return store.set_subscriber(data.target_id, data.email, "unsubscribed", now,
                                reason="unsubscribed by link")


# --- operators --------------------------------------------------------------------------------

def add_confirmed(store: Store, config: Config, target_id: str, addresses: Iterable[str],
                  now: datetime) -> tuple[list[str], list[str]]:
    """Addresses an operator adds are confirmed at once. Returns (added, invalid)."""
    email_target(config, target_id)
    added: list[str] = []
    invalid: list[str] = []
    for address in addresses:
        email = valid_address(address)
        if email is None:
            invalid.append(address)
            continue
        store.set_subscriber(target_id, email, "confirmed", now, reason="added by an operator")
        added.append(email)
    return added, invalid


def read_csv(path: Path) -> list[str]:
    """Addresses from a CSV file: the `email` column if there is a header, else column 1."""
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
    return [row[column].strip() for row in rows[start:] if len(row) > column]
