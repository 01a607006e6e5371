"""Subscribers' choices seen by an attacker and by readers: the preferences page against
stale state, the mails in the reader's language, the frames' `lang=auto`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from subscribe_support import make_config

from syndicator.app import make_app
from syndicator.push.preferences import Choice, open_preferences, save_preferences
from syndicator.push.subscribers import (
    PREFERENCES,
    confirm_url,
    leave,
    make_token,
    preferences_url,
)
from syndicator.push.subscribers import confirm as confirm_link

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
NO_SMTP = {"host": "127.0.0.1", "port": 9, "security": "none", "timeout": 5}


def _token(url: str) -> str:
    return url.rsplit("/", 1)[1]


def test_a_choice_saved_after_the_address_confirmed_or_left_keeps_that(tmp_path: Path) -> None:
    # The preferences POST reads the address when it opens, then the body, then saves: an
    # address confirmed or unsubscribed meanwhile (its mail's other links) must stay so.
    config = make_config(tmp_path, NO_SMTP, feeds=["office-be", "office-all"])
    with make_app(config) as app:
        store = app.store
        store.set_subscriber("mail", "ann@example.net", "pending", T0)
        link = _token(preferences_url(config, "mail", "ann@example.net", T0))
        opened = open_preferences(store, config, link, T0 + timedelta(minutes=1))
        assert opened is not None and opened.subscriber.status == "pending"
        confirmed = confirm_link(store, config, _token(confirm_url(
            config, "mail", "ann@example.net", T0)), T0 + timedelta(minutes=2))
        assert confirmed.kind == "confirmed"
        saved = save_preferences(store, opened, Choice(("ru",), "weekly"),
                                 T0 + timedelta(minutes=3))
        now = store.subscriber("mail", "ann@example.net")
        assert now is not None and saved == now
        assert (now.status, now.languages, now.rhythm) == ("confirmed", ("ru",), "weekly")

        opened = open_preferences(store, config, link, T0 + timedelta(minutes=4))
        assert opened is not None and opened.subscriber.status == "confirmed"
        leave(store, "mail", "ann@example.net", T0 + timedelta(minutes=5))
        assert save_preferences(store, opened, Choice(("be",), "item"),
                                T0 + timedelta(minutes=6)) is None
        left = store.subscriber("mail", "ann@example.net")
        assert left is not None and (left.status, left.languages) == ("unsubscribed", ("ru",))
        # A token of this list opens nothing on another list, nor does an expired one.
        other = make_token(config, PREFERENCES, "other", "ann@example.net",
                           expires=T0 + timedelta(days=1))
        assert open_preferences(store, config, other, T0) is None
        store.set_subscriber("mail", "ann@example.net", "confirmed", T0 + timedelta(minutes=7))
        expired = make_token(config, PREFERENCES, "mail", "ann@example.net",
                             expires=T0 + timedelta(days=1))
        assert open_preferences(store, config, expired, T0) is not None
        assert open_preferences(store, config, expired, T0 + timedelta(days=2)) is None
