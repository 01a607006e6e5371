"""`syndicator push --dry-run`: what the next messages of a target would be, unsent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from syndicator.app import App
from syndicator.config import EmailTarget
from syndicator.model import Item
from syndicator.push.dispatch import find_target
from syndicator.push.email import digest_message, item_message, mail_language
from syndicator.push.render import telegram_post
from syndicator.push.subscribers import list_links
from syndicator.store.push import CLAIMABLE

SAMPLE_ADDRESS = "subscriber@example.org"


@dataclass(frozen=True)
class Preview:
    """One message as it would be sent."""

    method: str               # sendPhoto | sendMessage | email
    to: str
    body: str                 # Telegram HTML, or the email's text part
    item_url: str
    sample: bool = False      # nothing was queued: the newest item, rendered as an example
    photo: str | None = None
    subject: str | None = None


def _newest_item(app: App, feeds: tuple[str, ...]) -> Item | None:
    sources = [s for f in app.config.feeds if f.id in feeds for s in f.sources]
    latest = app.store.latest(sources, limit=1)
    return latest[0] if latest else None


def preview(app: App, target_id: str, *, limit: int = 5,
            now: datetime | None = None) -> list[Preview]:
    """Render the next `limit` queued deliveries (or, with none queued, the newest item)."""
    target = find_target(app.config, target_id)
    when = now or app.clock()
    rows = app.store.deliveries(target_id, states=CLAIMABLE, limit=limit)
    items = app.store.items_by_id(row.item_id for row in rows)
    pairs = [(items[row.item_id], row.recipient) for row in rows if row.item_id in items]
    sample = False
    if not pairs:
        newest = _newest_item(app, target.feeds)
        if newest is None:
            return []
        pairs, sample = [(newest, "")], True
    out: list[Preview] = []
    config = app.config
    if isinstance(target, EmailTarget):
        if target.mode == "digest":
            recipient = pairs[0][1] or SAMPLE_ADDRESS
            chosen = [item for item, r in pairs if r in (recipient, "")]
            msg = digest_message(config, target, chosen, recipient,
                                 **list_links(config, target.id, recipient, when), now=when,
                                 language=_language(app, target, recipient))
            return [Preview("email", recipient, _text_part(msg), chosen[0].url, sample,
                            subject=str(msg["Subject"]))]
        for item, recipient in pairs:
            address = recipient or SAMPLE_ADDRESS
            msg = item_message(config, target, item, address,
                               **list_links(config, target.id, address, when), now=when,
                               language=_language(app, target, address))
            out.append(Preview("email", address, _text_part(msg), item.url, sample,
                               subject=str(msg["Subject"])))
        return out
    state = app.store.push_targets().get(target.id)
    chat = state.chat_id if state and state.chat_id else str(target.chat_id)
    for item, _recipient in pairs:
        post = telegram_post(target, config, item)
        for index, part in enumerate(post.parts):
            photo = post.photo if index == 0 else None
            out.append(Preview("sendPhoto" if photo else "sendMessage", chat, part, item.url,
                               sample, photo=photo))
    return out


def _language(app: App, target: EmailTarget, recipient: str) -> str:
    """The language the recipient's mails are written in (a sample's: the list's)."""
    found = app.store.subscriber(target.id, recipient)
    return mail_language(app.config, target, found.languages if found else ())


def _text_part(msg: object) -> str:
    from email.message import EmailMessage

    assert isinstance(msg, EmailMessage)
    part = msg.get_body(("plain",))
    return part.get_content() if isinstance(part, EmailMessage) else ""
