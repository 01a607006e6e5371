"""Items → what a channel receives: Telegram posts (HTML parts, photo) and email contexts.

Pure apart from reading the operator's template files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from syndicator.config import Config, TelegramTarget
from syndicator.model import Item
from syndicator.push import templating
from syndicator.push.tghtml import (
    CAPTION_LIMIT,
    MESSAGE_LIMIT,
    split_html,
    to_telegram_html,
    truncate,
    utf16_len,
    visible_len,
    visible_text,
)


@dataclass(frozen=True)
class TelegramPost:
    """One item as Telegram messages: `parts[0]` is the photo's caption when `photo` is set."""

    parts: tuple[str, ...]
    photo: str | None = None
    preview_url: str | None = None

    @property
    def plain_parts(self) -> tuple[str, ...]:
        """The same parts as plain text, for resending when Telegram refused our HTML."""
        return tuple(visible_text(part) for part in self.parts)


def hashtags(categories: tuple[str, ...]) -> list[str]:
    """Categories as Telegram hashtags: letters, digits and _ only, not all digits."""
    tags: list[str] = []
    for category in categories:
        word = re.sub(r"[\W]+", "_", category, flags=re.UNICODE).strip("_")
        if word and not word.isdigit() and "#" + word not in tags:
            tags.append("#" + word)
    return tags


def _template_context(item: Item, config: Config, summary: str) -> dict[str, Any]:
    return {
        "item": item, "summary": summary, "hashtags": hashtags(item.categories),
        "site": config.site,
        "content": templating.safe(to_telegram_html(item.content)),
    }


def _render_telegram(target: TelegramTarget, config: Config, item: Item, summary: str) -> str:
    context = _template_context(item, config, summary)
    if target.template == "default":
        return templating.render("telegram.html.j2", **context).strip()
    path = Path(target.template)
    if not path.is_absolute():
        path = config.base_dir / path
    return templating.render_file(path, **context).strip()


def telegram_post(target: TelegramTarget, config: Config, item: Item, *,
                  photo: bool = True) -> TelegramPost:
    """Render the item for a Telegram target.

    With an image: a photo whose caption is the post, the summary shortened so that the
    caption fits 1024; what still does not fit follows as messages. Without: messages of at
    most 4096, split at paragraph or sentence boundaries.
    """
    image = item.image if photo and item.image else None
    budget = CAPTION_LIMIT if image else MESSAGE_LIMIT
    text = _render_telegram(target, config, item, item.summary)
    overflow = visible_len(text) - budget
    if overflow > 0 and item.summary:
        shorter = truncate(item.summary, max(0, utf16_len(item.summary) - overflow))
        text = _render_telegram(target, config, item, shorter)
    parts = split_html(text, MESSAGE_LIMIT, first_limit=budget)
    preview = None if image or not target.link_preview else item.url
    return TelegramPost(parts=tuple(parts), photo=image, preview_url=preview)


def without_photo(post: TelegramPost, target: TelegramTarget, config: Config,
                  item: Item) -> TelegramPost:
    """The same post as text only (Telegram could not fetch the image)."""
    text_post = telegram_post(target, config, item, photo=False)
    return replace(text_post, preview_url=item.url if target.link_preview else None)
