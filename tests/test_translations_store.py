"""Translation claims and stories in the store, on SQLite and PostgreSQL: a group forms only
from claims both sides make, waits for a side stored later, and follows claims that change."""

from __future__ import annotations

from datetime import timedelta

from syndicator.model import Item
from syndicator.store import Store
from tests.test_store import T0, make_item, make_run


def _version(n: int, language: str, *names: tuple[str, int]) -> Item:
    """Item n in `language`, its page naming items (language, number)."""
    return make_item(n, language=language, translation_claims=tuple(
        (lang, f"https://example.org/a/{other}") for lang, other in names))


def _save(store: Store, *items: Item, minute: int = 0) -> None:
    store.save_run(make_run(started=T0 + timedelta(minutes=minute)), list(items), [])


def _stories(store: Store, *numbers: int) -> set[frozenset[str]]:
    """The groups the items are in (an item without versions is its own group)."""
    ids = [f"id-{n:04d}" for n in numbers]
    versions = store.translations_of(ids)
    return {frozenset([item_id, *(v.item_id for v in versions.get(item_id, ()))])
            for item_id in ids}


def _ids(*numbers: int) -> frozenset[str]:
    return frozenset(f"id-{n:04d}" for n in numbers)


def test_links_named_from_both_sides_make_one_story(store: Store) -> None:
    _save(store, _version(1, "en", ("ru", 2), ("be", 3)), _version(2, "ru", ("en", 1), ("be", 3)),
          _version(3, "be", ("en", 1), ("ru", 2)), _version(4, "en"))
    assert _stories(store, 1, 2, 3, 4) == {_ids(1, 2, 3), _ids(4)}
    versions = store.translations_of(["id-0001"])["id-0001"]
    assert [(v.language, v.url, v.title) for v in versions] == [
        ("be", "https://example.org/a/3", "Title 3"), ("ru", "https://example.org/a/2", "Title 2")]
    groups = store.story_groups(["id-0001", "id-0002", "id-0004"])
    assert groups["id-0001"] == groups["id-0002"] == "id-0001" and "id-0004" not in groups


def test_a_one_way_link_joins_nothing(store: Store) -> None:
    """A decoy naming somebody else's story as its translation stays alone; so does a link
    between two pages of one language."""
    _save(store, _version(1, "en", ("ru", 2)), _version(2, "ru", ("en", 1)),
          _version(3, "en", ("ru", 2)),                       # the decoy
          _version(4, "en", ("en", 5)), _version(5, "en", ("en", 4)))
    assert _stories(store, 1, 2, 3, 4, 5) == {_ids(1, 2), _ids(3), _ids(4), _ids(5)}


def test_a_claim_waits_for_the_side_stored_later(store: Store) -> None:
    _save(store, _version(1, "be", ("en", 2)))
    assert _stories(store, 1) == {_ids(1)}
    _save(store, _version(2, "en", ("be", 1)), minute=60 * 24 * 3)   # three days later
    assert _stories(store, 1, 2) == {_ids(1, 2)}


def test_claims_are_replaced_when_the_page_is_read_again(store: Store) -> None:
    _save(store, _version(1, "en", ("ru", 2)), _version(2, "ru", ("en", 1)),
          _version(3, "be", ("en", 1)))
    assert _stories(store, 1, 2, 3) == {_ids(1, 2), _ids(3)}
    # The English page now names the Belarusian version too: three in one story, by claims
    # saved for an unchanged item (the `translations` of save_run).
    store.save_run(make_run(started=T0 + timedelta(hours=1)), [], [], translations={
        "id-0001": (("ru", "https://example.org/a/2"), ("be", "https://example.org/a/3"))})
    assert _stories(store, 1, 2, 3) == {_ids(1, 2, 3)}
    # The Russian page drops its link: it leaves the story, the other two stay together.
    _save(store, _version(2, "ru"), minute=120)
    assert _stories(store, 1, 2, 3) == {_ids(1, 3), _ids(2)}
    # An item saved without claims read (None: its page was not read) keeps them.
    _save(store, make_item(3, language="be", title="Edited"), minute=180)
    assert _stories(store, 1, 3) == {_ids(1, 3)}
