"""The `push:` section: Telegram and email targets and the SMTP server."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    model_validator,
)

from syndicator.config_base import _ID, Duration, HttpUrl, LanguageCode, Model, Pattern
from syndicator.config_sources import Schedule


class SmtpConfig(Model):
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: str | None = Field(default=None, repr=False)   # from {env: NAME}, never in logs
    timeout: Duration = 30.0


class PushTargetBase(Model):
    id: Annotated[str, Field(pattern=_ID)]
    feeds: tuple[str, ...]
    include: tuple[Pattern, ...] = ()
    exclude: tuple[Pattern, ...] = ()
    template: str = "default"               # or a path to a Jinja2 template
    backfill: int = Field(default=0, ge=0, le=1000)
    max_attempts: int = Field(default=5, ge=1, le=100)
    enabled: bool = True


class TelegramTarget(PushTargetBase):
    type: Literal["telegram"]
    chat_id: str | int
    token: str = Field(repr=False)          # from {env: NAME}, never in logs
    api_url: HttpUrl = "https://api.telegram.org"
    on_update: Literal["ignore", "edit"] = "ignore"
    disable_notification: bool = False
    link_preview: bool = True
    # `skip`: a story already pushed in one language is not pushed again in another; of
    # the versions a run brings, the one in the first of `languages` goes out (default:
    # the order of its feeds' languages, Config.languages_of).
    translations: Literal["all", "skip"] = "all"
    languages: tuple[LanguageCode, ...] = ()
    # Read timeout of one Bot API request: no answer by then = outcome unknown, not resent.
    timeout: Duration = Field(default=30.0, gt=0)


class SignupLimits(Model):
    """Sign-ups through the web forms to one email target, in any `window`: at most
    `per_ip` from one client address (an IPv6 /64 counts as one) and `per_target` different
    mailboxes in all; counted in each serving process. And at most `confirmations_per_day`
    confirmation mails from the list in any 24 hours (the push job counts them in the
    store; the sign-ups past it wait)."""

    per_ip: int = Field(default=5, ge=1, le=100_000)
    per_target: int = Field(default=100, ge=1, le=1_000_000)
    window: Duration = Field(default=3600.0, gt=0, le=7 * 86400)
    confirmations_per_day: int = Field(default=500, ge=1, le=1_000_000)


class EmailTarget(PushTargetBase):
    type: Literal["email"]
    # The rhythm of subscribers who chose none: a mail per item, or the daily digest.
    mode: Literal["per_item", "digest"] = "per_item"
    schedule: Schedule | None = None        # digests: when to send (cron)
    # When the digests of subscribers who chose one go out (push/rhythm.py): daily, the
    # target's `schedule` for a digest target, else 07:00; weekly, Monday 07:00 (in the
    # configured `timezone`).
    daily: Schedule | None = None
    weekly: Schedule | None = None
    smtp: SmtpConfig
    from_: str = Field(alias="from")
    reply_to: str | None = None
    subject: str | None = None              # digest subject; default from the feed titles
    unsubscribe_mailto: str | None = None   # default: the from address
    on_update: Literal["ignore"] = "ignore"
    signups: SignupLimits = SignupLimits()  # rate limits of the sign-up forms

    @model_validator(mode="after")
    def _digest_schedule(self) -> EmailTarget:
        if self.mode == "digest" and self.schedule is None:
            raise ValueError("a digest needs a `schedule` (e.g. {cron: \"0 7 * * *\"})")
        return self


PushTarget = Annotated[TelegramTarget | EmailTarget, Field(discriminator="type")]


