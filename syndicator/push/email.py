"""Email: messages (multipart/alternative, list headers) and SMTP sending. Stdlib only.

Every message has a text and an HTML part from Jinja2 templates, a deterministic Message-ID
per item (or digest) and recipient, so a retry carries the same id, `List-Id`, and the
one-click unsubscribe headers of RFC 8058. One SMTP connection serves a whole batch.
"""

from __future__ import annotations

import hashlib
import io
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

from syndicator.config import Config, EmailTarget, SmtpConfig
from syndicator.errors import AddressInvalid
from syndicator.localdates import format_date, format_time
from syndicator.locales import page_language, translations
from syndicator.model import Item
from syndicator.push import templating
from syndicator.push.addresses import normalised, parse_address


@dataclass(frozen=True)
class SendResult:
    """kind: ok | refused (5xx for the recipient: suppress the address) | retry (4xx, or
    the connection failed before the message was handed over) | rejected (5xx for the
    message itself) | unknown (the connection broke or timed out mid-transfer)."""

    kind: str
    detail: str = ""
    code: int | None = None


def _domain(address: str) -> str:
    _name, addr = parseaddr(address)
    return addr.rpartition("@")[2] or "localhost"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:20]


def message_id(target: EmailTarget, item_ids: Sequence[str], recipient: str) -> str:
    """The same item(s) to the same address always get the same Message-ID."""
    return (f"<{_digest(target.id, *sorted(item_ids))}.{_digest(recipient.lower())}"
            f"@{_domain(target.from_)}>")


def one_line(text: str) -> str:
    """`text` on one line, its runs of white space one space: what a mail header can hold
    (a title written as a folded YAML block, `title: >`, ends with a line break)."""
    return " ".join(text.split())


def list_name(config: Config, target: EmailTarget) -> str:
    titles = [f.title for f in config.feeds if f.id in target.feeds]
    return one_line(", ".join(titles) or config.site.title)


def list_language(config: Config, target: EmailTarget | None) -> str | None:
    """A mailing list's language: its first feed's that has one (its pages speak it)."""
    if target is None:
        return None
    for feed in config.feeds:
        if feed.id in target.feeds and feed.language:
            return feed.language
    return None


def mail_language(config: Config, target: EmailTarget, languages: Sequence[str] = ()) -> str:
    """The language of a mail's own words (subject, buttons, footer): the reader's first
    language, else the list's, as the catalogs have it (locales.page_language: en, ru,
    be)."""
    return page_language(languages[0] if languages else list_language(config, target))


def local_date(when: datetime, config: Config, language: str) -> str:
    """A moment as the list's readers see it: the day written for `language`, and the
    time, in the config's time zone."""
    return (f"{format_date(when, language, config.timezone)}, "
            f"{format_time(when, config.timezone)}")


def _headers(msg: EmailMessage, config: Config, target: EmailTarget, recipient: str,
             unsubscribe_url: str, now: datetime) -> None:
    msg["From"] = target.from_
    msg["To"] = recipient
    msg["Date"] = format_datetime(now)
    if target.reply_to:
        msg["Reply-To"] = target.reply_to
    msg["List-Id"] = f"{list_name(config, target)} <{target.id}.{_domain(target.from_)}>"
    mailto = target.unsubscribe_mailto or parseaddr(target.from_)[1]
    msg["List-Unsubscribe"] = f"<{unsubscribe_url}>, <mailto:{mailto}?subject=unsubscribe>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Auto-Submitted"] = "auto-generated"


def _alternative(msg: EmailMessage, text: str, html: str) -> None:
    msg.set_content(text, cte="quoted-printable")
    msg.add_alternative(html, subtype="html", cte="quoted-printable")


def _folder(config: Config, target: EmailTarget) -> str | None:
    if target.template == "default":
        return None
    path = config.base_dir / target.template
    return str(path)


def item_message(config: Config, target: EmailTarget, item: Item, recipient: str, *,
                 unsubscribe_url: str, preferences_url: str, now: datetime,
                 language: str = "en") -> EmailMessage:
    """One item's mail; its story's other versions (`item.versions`) are linked. Its own
    words are in `language` (mail_language)."""
    context: dict[str, Any] = {
        "item": item, "published": local_date(item.published, config, language),
        "list_name": list_name(config, target), "unsubscribe_url": unsubscribe_url,
        "preferences_url": preferences_url, "site": config.site,
    }
    folder = _folder(config, target)
    msg = EmailMessage()
    msg["Subject"] = item.title
    _headers(msg, config, target, recipient, unsubscribe_url, now)
    msg["Message-ID"] = message_id(target, [item.id], recipient)
    _render(msg, "email_item", folder, language, context)
    return msg


def digest_subject(config: Config, target: EmailTarget, items: Sequence[Item],
                   now: datetime, language: str = "en") -> str:
    if target.subject:
        return one_line(target.subject)
    return translations(language).ngettext(
        "%(list)s: %(count)s new, %(date)s", "%(list)s: %(count)s new, %(date)s",
        len(items)) % {"list": list_name(config, target), "count": len(items),
                       "date": format_date(now, language, config.timezone)}


def digest_message(config: Config, target: EmailTarget, items: Sequence[Item], recipient: str,
                   *, unsubscribe_url: str, preferences_url: str, now: datetime,
                   item_ids: Sequence[str] | None = None, language: str = "en"
                   ) -> EmailMessage:
    """One multipart/alternative message listing the items, one entry per story with its
    other versions linked (not multipart/digest, which common clients render badly).
    `item_ids`: every item the digest stands for (the Message-ID's), when more than shown.
    Its own words are in `language` (mail_language)."""
    subject = digest_subject(config, target, items, now, language)
    context: dict[str, Any] = {
        "subject": subject, "list_name": list_name(config, target),
        "unsubscribe_url": unsubscribe_url, "preferences_url": preferences_url,
        "site": config.site,
        "entries": [{"item": item, "published": local_date(item.published, config, language)}
                    for item in items],
    }
    folder = _folder(config, target)
    msg = EmailMessage()
    msg["Subject"] = subject
    _headers(msg, config, target, recipient, unsubscribe_url, now)
    msg["Message-ID"] = message_id(
        target, list(item_ids) if item_ids is not None else [item.id for item in items],
        recipient)
    _render(msg, "email_digest", folder, language, context)
    return msg


def confirmation_message(config: Config, target: EmailTarget, recipient: str, *,
                         confirm_url: str, preferences_url: str, expires_days: int,
                         now: datetime, language: str = "en") -> EmailMessage:
    """The double opt-in mail, its words in `language` (mail_language)."""
    context: dict[str, Any] = {"list_name": list_name(config, target), "email": recipient,
                               "confirm_url": confirm_url, "expires_days": expires_days,
                               "preferences_url": preferences_url}
    folder = _folder(config, target)
    msg = EmailMessage()
    msg["Subject"] = translations(language).gettext(
        "Confirm your subscription to %(list)s") % {"list": list_name(config, target)}
    msg["From"] = target.from_
    msg["To"] = recipient
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = (f"<confirm.{_digest(target.id, recipient, now.isoformat())}"
                         f"@{_domain(target.from_)}>")
    msg["Auto-Submitted"] = "auto-generated"
    _render(msg, "email_confirm", folder, language, context)
    return msg


def _render(msg: EmailMessage, name: str, folder: str | None, language: str,
            context: dict[str, Any]) -> None:
    """The text and HTML parts of templates `name`.{txt,html}.j2, their words in
    `language`."""
    words = {"lang": language, **context}
    _alternative(msg, templating.render(f"{name}.txt.j2", folder=folder, language=language,
                                        **words),
                 templating.render(f"{name}.html.j2", folder=folder, language=language,
                                   **words))


def valid_address(text: str) -> str | None:
    """A single plain address, normalised (push/addresses.py), or None when it is not one."""
    return normalised(text)


# --- SMTP -----------------------------------------------------------------------------------

class SmtpSession:
    """One SMTP connection, opened on first use and reused for a batch."""

    def __init__(self, settings: SmtpConfig) -> None:
        self._settings = settings
        self._smtp: smtplib.SMTP | None = None

    def __repr__(self) -> str:
        return f"SmtpSession({self._settings.host}:{self._settings.port})"

    def __enter__(self) -> SmtpSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self) -> smtplib.SMTP:
        s = self._settings
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if s.security == "ssl":
            smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            smtp.ehlo()
            if s.security == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            if s.username:
                smtp.login(s.username, s.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def _connect(self) -> SendResult | None:
        if self._smtp is not None:
            return None
        try:
            self._smtp = self._open()
        except smtplib.SMTPAuthenticationError as exc:
            return SendResult("retry", f"SMTP login refused: {exc.smtp_code}", exc.smtp_code)
        except (smtplib.SMTPException, OSError) as exc:
            return SendResult("retry", f"cannot connect to the SMTP server: "
                              f"{type(exc).__name__}: {exc}")
        return None

    def send(self, msg: EmailMessage, recipient: str) -> SendResult:
        """Hand one message for one recipient to the server; never raises for its faults.

        The SMTP steps run one by one so that we know where a failure happened: before DATA
        nothing was handed over (retry, on a fresh connection once if the reused one had
        gone stale); during DATA the message may have been accepted (unknown).
        """
        try:
            address = parse_address(recipient)
        except AddressInvalid as exc:
            return SendResult("refused", f"cannot be delivered: {exc.reason}")
        envelope_from = parseaddr(str(msg["From"]))[1]
        for attempt in (1, 2):
            failed = self._connect()
            if failed is not None:
                return failed
            assert self._smtp is not None
            if address.needs_smtputf8 and not self._smtp.has_extn("smtputf8"):
                return SendResult("refused", "cannot be delivered: its part before the @ is "
                                  "not ASCII and the mail server does not offer SMTPUTF8")
            # The domain goes in IDNA form whenever the local part allows plain ASCII.
            rcpt_to = address.ascii or address.email
            try:
                code, text = self._smtp.mail(
                    envelope_from, ["SMTPUTF8"] if address.needs_smtputf8 else [])
                if code != 250:
                    self._reset()
                    return _refusal(code, text, recipient_level=False)
                code, text = self._smtp.rcpt(rcpt_to)
                if code not in (250, 251):
                    self._reset()
                    return _refusal(code, text, recipient_level=True)
                break
            except (smtplib.SMTPServerDisconnected, OSError) as exc:
                self._drop()
                if attempt == 2:
                    return SendResult("retry", f"connection lost before sending: "
                                      f"{type(exc).__name__}: {exc}")
        del msg["To"]
        msg["To"] = rcpt_to
        data = _flatten(msg, utf8=address.needs_smtputf8)
        assert self._smtp is not None
        try:
            self._smtp.data(data)
        except smtplib.SMTPDataError as exc:
            self._reset()
            return _refusal(exc.smtp_code, exc.smtp_error, recipient_level=False)
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            return SendResult("unknown", f"connection lost while sending the message: "
                              f"{type(exc).__name__}: {exc}")
        return SendResult("ok")

    def _reset(self) -> None:
        try:
            if self._smtp is not None:
                self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
        self._smtp = None


def _flatten(msg: EmailMessage, *, utf8: bool = False) -> bytes:
    buffer = io.BytesIO()
    # The messages are made with the default policy: SMTP is that with CRLF line ends.
    BytesGenerator(buffer, policy=policy.SMTPUTF8 if utf8 else policy.SMTP).flatten(msg)
    return buffer.getvalue()


def _refusal(code: int, text: bytes | str, *, recipient_level: bool) -> SendResult:
    detail = f"{code} {text.decode('utf-8', 'replace') if isinstance(text, bytes) else text}"
    if 400 <= code < 500:
        return SendResult("retry", detail, code)
    return SendResult("refused" if recipient_level else "rejected", detail, code)
