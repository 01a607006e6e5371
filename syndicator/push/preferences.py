"""A subscriber's preferences: the languages they read and their rhythm, as the subscribe
forms offer them and the preferences page (a signed link in every mail, no login) changes
them.

The choice is checked here for every form (the page, the embedded frame, the preferences
page): only languages the list publishes in, at most one of each (push/languages.py, the
check the command line's `subscribers add --languages` and imports make too), and a rhythm
of push/rhythm.py; anything else is a `ChoiceInvalid` naming what was wrong. Preferences links
are tokens of push/subscribers.py's one signing scheme (`preferences_url`: purpose
`preferences`, bound to the list and the address), issued when a mail is made and good
for PREFERENCES_DAYS; they open the page only while the address is pending or subscribed
(an address that left has nothing to change: it signs up again).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from syndicator.config import Config, EmailTarget
from syndicator.errors import ChoiceInvalid
from syndicator.locales import language_name
from syndicator.model import Subscriber
from syndicator.push.languages import choose_languages, list_languages, reader_languages
from syndicator.push.rhythm import RHYTHMS, rhythm_of
from syndicator.push.subscribers import PREFERENCES, enabled_email_target, leave, read_token
from syndicator.store import Store


@dataclass(frozen=True)
class Choice:
    """What a form asked for: languages in order (empty: every language) and a rhythm
    ("": the list's, push/rhythm.py)."""

    languages: tuple[str, ...]
    rhythm: str


def read_choice(config: Config, target: EmailTarget, languages: str, rhythm: str) -> Choice:
    """The choice posted by a form: `languages` the checked codes joined by commas (web
    forms send one field per box), `rhythm` one of push/rhythm.py's or "" for the list's."""
    chosen = choose_languages(languages, list_languages(config, target))
    chosen_rhythm = rhythm.strip().lower()
    if chosen_rhythm and chosen_rhythm not in RHYTHMS:
        raise ChoiceInvalid(f"rhythm: {rhythm[:20]!r} is not one of {', '.join(RHYTHMS)}")
    # Every language of the list ticked is still a choice: each story once, in the first
    # of them (only none ticked is every item, each version of a story included).
    return Choice(chosen, chosen_rhythm)


@dataclass(frozen=True)
class Preferences:
    """What a preferences link opens: the list and the address as stored."""

    target: EmailTarget
    subscriber: Subscriber


def open_preferences(store: Store, config: Config, token: str,
                     now: datetime) -> Preferences | None:
    """The list and subscriber a (valid, unexpired) link names, while the address is
    pending or subscribed; None otherwise."""
    data = read_token(config, token, PREFERENCES, now)
    if data is None:
        return None
    target = enabled_email_target(config, data.target_id)
    if target is None:
        return None
    subscriber = store.subscriber(target.id, data.email)
    if subscriber is None or subscriber.status not in ("pending", "confirmed"):
        return None
    return Preferences(target, subscriber)


def save_preferences(store: Store, opened: Preferences, choice: Choice,
                     now: datetime) -> Subscriber | None:
    """Store the new choice; it counts from the next mail on. The address's status is
    left as it is by then (it may have confirmed or left since the page was opened): None
    when it is no longer on the list."""
    return store.set_choice(opened.target.id, opened.subscriber.email, now,
                            languages=choice.languages, rhythm=choice.rhythm,
                            reason="preferences changed by link")


def leave_list(store: Store, opened: Preferences, now: datetime) -> Subscriber:
    """Unsubscribe from the preferences page (as the unsubscribe link does)."""
    return leave(store, opened.target.id, opened.subscriber.email, now)


@dataclass(frozen=True)
class ChoiceView:
    """What a form shows of the choice (web/templates/choice.html): the list's languages
    (code, name in itself, checked) and the rhythms (the checked one)."""

    languages: tuple[tuple[str, str, bool], ...]
    rhythm: str


def choice_view(config: Config, target: EmailTarget, languages: Sequence[str] = (),
                rhythm: str | None = None) -> ChoiceView:
    """The form's fields for the list, `languages` checked (none: every language) and
    `rhythm` chosen (None: the list's). The checked languages come first, in the reader's
    order, then the others in the list's: a browser posts the boxes in the page's order,
    so saving keeps the reader's first language first, and one ticked anew follows."""
    offered = list_languages(config, target)
    checked = [code for code in reader_languages(languages) if code in offered]
    return ChoiceView(
        tuple((code, language_name(code), code in checked)
              for code in (*checked, *(code for code in offered if code not in checked))),
        rhythm_of(target, rhythm))
