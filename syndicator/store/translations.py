"""Translation links: which items are one story in several languages.

A page's claims (what it names as its other-language versions, `Item.translation_claims`) are
kept by the URL they name, so a claim made today waits for the item it names to be stored
next week. Two items are versions of one story only when each names the other: a claim
confirmed from both sides, and the two in different languages (a page naming a page of its
own language is not naming a translation). A story is a group of items joined by such
confirmed links (the connected part of the graph), so a wrong or one-way link — a decoy's
hreflang naming somebody else's story — never joins anything. When the named side was
stored before it named back, the pipeline reads its page once more (pipeline.py, backlinks)
and its fresh claims are saved here like any other.

Groups are kept materialised (`translation_groups`, keyed by the smallest member id) and
rebuilt, inside the run's transaction, for every group a save touches.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, or_, select

from syndicator.model import Item, StoryVersion, Translation, Translations
from syndicator.store.database import chunked_select, chunks, lock_keys
from syndicator.store.items import ItemQueries, existing_ids, linked_to
from syndicator.store.schema import deliveries as t_deliveries
from syndicator.store.schema import items as t_items
from syndicator.store.schema import translation_claims as t_claims
from syndicator.store.schema import translation_groups as t_groups

# A story has one version per language: a group growing past this is cut there (a site's
# hreflang gone wrong must not make one group of its whole archive).
MAX_GROUP = 32


class TranslationQueries(ItemQueries):
    """Claims, the groups they confirm, and what builds and push read of them."""

    def translations_of(self, ids: Iterable[str]) -> dict[str, tuple[Translation, ...]]:
        """The other versions of each item's story (by language, then id); items without
        any are left out."""
        mine = t_groups.alias("mine")
        other = t_groups.alias("other")

        def make(part: list[str]) -> Any:
            return (select(mine.c.item_id.label("of"), t_items.c.id, t_items.c.language,
                           t_items.c.url, t_items.c.title)
                    .select_from(mine.join(other, other.c.group_id == mine.c.group_id)
                                 .join(t_items, t_items.c.id == other.c.item_id))
                    .where(mine.c.item_id.in_(part), other.c.item_id != mine.c.item_id))

        with self._read_tx("read translations") as conn:
            rows = chunked_select(conn, make, ids)
        found: dict[str, list[Translation]] = {}
        for row in sorted(rows, key=lambda r: (r.language or "", r.id)):
            found.setdefault(row.of, []).append(
                Translation(item_id=row.id, language=row.language, url=row.url,
                            title=row.title))
        return {item_id: tuple(versions) for item_id, versions in found.items()}

    def story_groups(self, ids: Iterable[str]) -> dict[str, str]:
        """The story (group id) of each item that has other versions."""
        with self._read_tx("read translation groups") as conn:
            rows = chunked_select(conn, lambda part: select(t_groups).where(
                t_groups.c.item_id.in_(part)), ids)
        return {row.item_id: row.group_id for row in rows}

    def story_versions(self, source_ids: Sequence[str]) -> list[StoryVersion]:
        """Every version of a story (grouped item) linked to any of the sources."""
        if not source_ids:
            return []
        stmt = (select(t_groups.c.group_id, t_items.c.id, t_items.c.language,
                       t_items.c.published)
                .select_from(t_groups.join(t_items, t_items.c.id == t_groups.c.item_id))
                .where(linked_to(source_ids)))
        with self._read_tx("read story versions") as conn:
            return [StoryVersion(group_id=row.group_id, item_id=row.id, language=row.language,
                                 published=row.published) for row in conn.execute(stmt)]

    def unanswered_claims(self, claims: Mapping[str, Translations]) -> list[Item]:
        """Stored items that `claims` (by the claiming item's URL) name, whose own stored
        claims do not name the claimer back: their pages are worth reading again."""
        named: dict[str, set[str]] = {}
        for claimer, versions in claims.items():
            for _language, url in versions:
                named.setdefault(url, set()).add(claimer)
        if not named:
            return []
        with self._read_tx("read translation claims") as conn:
            targets = self._items_where(conn, lambda part: t_items.c.url.in_(part), named)
            rows = chunked_select(conn, lambda part: select(t_claims).where(
                t_claims.c.item_id.in_(part)), [item.id for item in targets])
        answered: dict[str, set[str]] = {}
        for row in rows:
            answered.setdefault(row.item_id, set()).add(row.url)
        return [item for item in targets
                if named.get(item.url, set()) - answered.get(item.id, set())]

    # -- the write, inside save_run's transaction --------------------------------------------

    def _save_claims(self, conn: Connection, claims: Mapping[str, Translations]) -> None:
        """Replace the claims of the (stored) items in `claims` and rebuild their groups."""
        ids = sorted(existing_ids(conn, list(claims)))
        if not ids:
            return
        _lock_stories(conn, ids, {url for item_id in ids for _language, url in claims[item_id]})
        for part in chunks(ids):
            conn.execute(t_claims.delete().where(t_claims.c.item_id.in_(part)))
        rows = [{"item_id": item_id, "url": url, "language": language}
                for item_id in ids for language, url in claims[item_id]]
        if rows:
            conn.execute(t_claims.insert(), rows)
        _regroup(conn, ids)


def _lock_stories(conn: Connection, ids: list[str], named: set[str]) -> None:
    """Lock what a change of the claims of `ids` (now naming the URLs `named`) rebuilds, so
    that writers of one story take turns (lock_keys; nothing to do on SQLite).

    A story is a group of rows with no one row to lock, and it may form from items that
    are not stored yet (two runs storing the English and the Russian version at once). Two
    kinds of keys cover it: the URLs of the items and of every URL they name or named, so
    two pages naming each other wait for one another (the second then reads the first's
    claims and confirms the link); and the stories (group ids) those items belong to, so
    writers joining or splitting one group wait for one another. A group id read before
    its lock was granted may have changed meanwhile (a writer holding it merged or split
    the group): the groups are read again until every one of them is locked.
    """
    own = chunked_select(conn, lambda part: select(t_items.c.url).where(
        t_items.c.id.in_(part)), ids)
    old = chunked_select(conn, lambda part: select(t_claims.c.url).where(
        t_claims.c.item_id.in_(part)), ids)
    urls = {row.url for row in own} | {row.url for row in old} | named
    lock_keys(conn, "url", urls)
    items = set(ids) | {row.id for row in chunked_select(
        conn, lambda part: select(t_items.c.id).where(t_items.c.url.in_(part)), urls)}
    locked: set[str] = set()
    while True:
        groups = {row.group_id for row in chunked_select(
            conn, lambda part: select(t_groups.c.group_id).where(t_groups.c.item_id.in_(part)),
            items)}
        if groups <= locked:
            return
        lock_keys(conn, "story", groups - locked)
        locked |= groups


Told = dict[tuple[str, str], frozenset[str]]
Waiting = dict[tuple[str, str], dict[str, tuple[int, str | None]]]


def stories_told(conn: Connection, item_ids: Sequence[str], target_ids: Sequence[str]
                 ) -> tuple[dict[str, str], Told, Waiting]:
    """The story of each item that has other versions; for each target and recipient the
    stories it has already been given a version of (queued or sent; not suppressed); and of
    those, the version still waiting, never tried (pending, no attempt, no part sent):
    story → (delivery id, language). The stories are locked first (lock_keys "story", as
    _lock_stories): a concurrent run queueing a version of one of them commits before this
    reads, or reads after this transaction commits."""
    story_of = {row.item_id: row.group_id for row in chunked_select(
        conn, lambda part: select(t_groups).where(t_groups.c.item_id.in_(part)), item_ids)}
    if not story_of or not target_ids:
        return story_of, {}, {}
    lock_keys(conn, "story", story_of.values())
    told: dict[tuple[str, str], set[str]] = {}
    waiting: Waiting = {}
    rows = chunked_select(conn, lambda part: (
        select(t_deliveries.c.id, t_deliveries.c.target_id, t_deliveries.c.recipient,
               t_deliveries.c.state, t_deliveries.c.attempts, t_deliveries.c.message_ids,
               t_groups.c.group_id, t_items.c.language)
        .select_from(t_deliveries.join(t_groups, t_groups.c.item_id == t_deliveries.c.item_id)
                     .join(t_items, t_items.c.id == t_deliveries.c.item_id))
        .where(t_groups.c.group_id.in_(part), t_deliveries.c.target_id.in_(list(target_ids)),
               t_deliveries.c.state != "suppressed")), set(story_of.values()))
    for row in sorted(rows, key=lambda r: r.id):
        key = (row.target_id, row.recipient)
        if row.group_id in told.get(key, ()):
            waiting.get(key, {}).pop(row.group_id, None)   # two versions told: leave both
        elif row.state == "pending" and row.attempts == 0 and not row.message_ids:
            waiting.setdefault(key, {})[row.group_id] = (row.id, row.language)
        told.setdefault(key, set()).add(row.group_id)
    return story_of, {key: frozenset(groups) for key, groups in told.items()}, waiting


def _regroup(conn: Connection, ids: list[str]) -> None:
    """Rebuild the groups of `ids` and of every item that was grouped with one of them."""
    before = t_groups.alias("before")
    members = chunked_select(conn, lambda part: select(t_groups.c.item_id).where(
        t_groups.c.group_id.in_(select(before.c.group_id).where(before.c.item_id.in_(part)))),
        ids)
    pending = sorted({*ids, *(row.item_id for row in members)})
    links = _Links(conn)
    links.read(pending)             # one query for all: most items of a run have none
    placed: set[str] = set()
    groups: list[set[str]] = []
    for seed in pending:
        if seed in placed:
            continue
        group = links.story_of(seed)
        placed |= group
        if len(group) > 1:
            groups.append(group)
    for part in chunks(sorted(placed)):
        conn.execute(t_groups.delete().where(t_groups.c.item_id.in_(part)))
    rows = [{"item_id": member, "group_id": min(group)} for group in groups for member in group]
    if rows:
        conn.execute(t_groups.insert(), rows)


class _Links:
    """The confirmed links of items, read as a walk reaches them."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._partners: dict[str, set[str]] = {}

    def read(self, ids: Iterable[str]) -> None:
        unknown = [item_id for item_id in ids if item_id not in self._partners]
        for item_id in unknown:
            self._partners[item_id] = set()
        for item_id, partner in _confirmed_links(self._conn, unknown):
            self._partners[item_id].add(partner)

    def story_of(self, seed: str) -> set[str]:
        """The items joined to `seed` by confirmed links, at most MAX_GROUP of them."""
        group = {seed}
        frontier = [seed]
        while frontier and len(group) < MAX_GROUP:
            self.read(frontier)
            found = {p for item_id in frontier for p in self._partners[item_id]} - group
            frontier = sorted(found)[:MAX_GROUP - len(group)]
            group.update(frontier)
        return group


def _confirmed_links(conn: Connection, ids: list[str]) -> list[tuple[str, str]]:
    """(item, partner): the items each of `ids` names that name it back, in another
    language."""
    claim = t_claims.alias("claim")
    back = t_claims.alias("back")
    claimer = t_items.alias("claimer")
    named = t_items.alias("named")

    def make(part: list[str]) -> Any:
        return (select(claimer.c.id.label("item_id"), named.c.id.label("partner"))
                .select_from(claim.join(claimer, claimer.c.id == claim.c.item_id)
                             .join(named, named.c.url == claim.c.url)
                             .join(back, (back.c.item_id == named.c.id)
                                   & (back.c.url == claimer.c.url)))
                .where(claim.c.item_id.in_(part), named.c.id != claimer.c.id,
                       or_(claimer.c.language.is_(None), named.c.language.is_(None),
                           claimer.c.language != named.c.language)))

    return [(row.item_id, row.partner) for row in chunked_select(conn, make, ids)]
