"""The shared build output (tables `published_files` and `published_state`), PostgreSQL only.

A build on PostgreSQL shares the files it wrote here, so that every serving process of the
cluster can write them into its own output folder (publish/shared.py publishes,
outputsync.py follows). `Store` inherits these queries.

    share_outputs(files, removed=, keep=, now=, mark=, site=)   one transaction: the files
        whose bytes differ from what is shared, and tombstones for removed ones, under one
        new version, and a NOTIFY on CHANNEL with that version (delivered when it commits);
        never over a path rendered from a newer build mark. `site` renders the site-wide
        files (index, OPML, summaries) in it, under the site lock, from what is shared
    published_newer(paths, mark)       the shared rows of those paths rendered from a newer
                                       mark than `mark`: what a late build's folder takes back
    prune_published(before)            delete the tombstones shared before `before` (the
                                       hourly prune, service.py: TOMBSTONE_DAYS)
    published_head()                   (this database's random id, the last version given)
    published_since(version, path)     the rows after (version, path), in that order, up to
                                       a byte budget: the pages a follower reads
    output_listener()                  a connection of its own that LISTENs on CHANNEL

Versions commit in the order they are given: a build takes its version by incrementing the
one row of `published_state`, whose row lock it then holds until it commits, so a follower
that has read every row up to version V never sees a row of version V or lower appear later.
Only a build that changed something takes a version (and that lock), and it takes it last,
once its rows are written (under a pending version, which it then replaces).

Every row carries the build mark (store/builds.py: the snapshot horizon the build read from)
of the build that rendered it, and a share replaces a path only where the stored mark is
not newer than its own (`stored.mark <= excluded.mark`, in the statement itself, so that a
share committing meanwhile is respected too): a build paused past the job sweeper's stall
window, or a full build outside the feed's job lock, that commits after a newer build of
the same feed leaves the newer files shared. Equal marks read the same runs.

The site-wide files list every feed, and builds of different feeds on different instances
share at once: so that none drops another's line, they are rendered inside the share, under
a transaction-scoped lock that one share at a time holds (taken before the version row's),
from the feed summaries shared by the shares committed before it (publish/site.py).

On SQLite nothing is shared (`shares_outputs` is False): one process, its folder is the truth.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, tuple_, update
from sqlalchemy.dialects import postgresql

from syndicator.errors import StoreError
from syndicator.model import PublishedFile, SiteRender
from syndicator.store.database import ALIVE, Database, chunks, lock_keys
from syndicator.store.schema import published_files as t_files
from syndicator.store.schema import published_state as t_state

CHANNEL = "syndicator_outputs"
# The application_name of a listening connection (as pg_stat_activity shows it).
LISTENER_NAME = "syndicator outputs"
# The listening connection: named, and given up within seconds when the network under it
# dies silently (keepalives; unacknowledged data), so that the follower reconnects.
LISTENER_CONNECTION: dict[str, Any] = {"application_name": LISTENER_NAME, **ALIVE}
# Files per statement when sharing, and bytes: one statement's parameters stay in memory.
BATCH_FILES = 200
BATCH_BYTES = 16 << 20
# The version of the rows a share writes until it takes its version, last (uncommitted:
# nobody sees it).
PENDING = 0
# Rows looked at per page of published_since (the byte budget usually ends a page first).
PAGE_ROWS = 1000
# The lock a share renders the site-wide files under (lock_keys: of the kind "published").
SITE_LOCK = "site files"
# The kind of the locks (lock_keys, one per feed) that shares of a feed's files take turns on.
FEED_LOCK = "published feed"


class OutputQueries(Database):
    """The shared build output (a part of Store)."""

    @property
    def shares_outputs(self) -> bool:
        """Whether builds share their files through this store (PostgreSQL)."""
        return self._dialect == "postgresql"

    def share_outputs(self, files: Iterable[tuple[str, bytes]], *, removed: Iterable[str] = (),
                      keep: Callable[[str], bool] | None = None,
                      now: datetime, mark: int = 0, site: SiteRender | None = None,
                      feeds: Iterable[str] = ()) -> int | None:
        """Share a build's files (path relative to the output folder, bytes): those whose
        bytes differ from the shared ones get a new version, and so do tombstones for the
        `removed` paths and, with `keep`, for every shared path it refuses (a feed dropped
        from the configuration); `mark`: the build mark the files were rendered from, and a
        path shared from a newer mark is left as it is; `site`: renders the site-wide files
        from what is shared, under SITE_LOCK, shared with them; `feeds`: the feeds whose
        files these are (FEED_LOCK each). Returns that version, or
        None when nothing changed (or the store shares nothing). `files` is read as it is
        consumed, a batch at a time (BATCH_FILES, BATCH_BYTES), so that memory holds one
        batch, not the build; the rows are written under a pending version, and the
        version row (the lock every other share waits on) is taken last, once every file
        was read and written: a slow disk or an unreadable file never holds that lock
        (only the rows of this share's own paths)."""
        if not self.shares_outputs:
            return None
        removed = list(removed)
        # Two shares cannot deadlock: shares of the same feed take turns on its FEED_LOCK,
        # so two never hold rows the other wants (a path belongs to one feed; the site
        # files are written under SITE_LOCK, after every other row); and each takes the
        # version row last, once it holds every row it writes, and then updates only those.
        with self._write_tx("share the build's files") as conn:
            lock_keys(conn, FEED_LOCK, feeds)
            done = [path for batch in _batches(files) for path in _upsert(conn, batch, mark, now)]
            gone = _present(conn, removed, mark)
            if keep is not None:
                live = conn.execute(select(t_files.c.path)
                                    .where(t_files.c.data.is_not(None))).scalars().all()
                gone += _present(conn, [path for path in live if not keep(path)], mark)
            for part in chunks(sorted(set(gone))):
                done += conn.execute(
                    update(t_files).where(t_files.c.path.in_(part), t_files.c.mark <= mark)
                    .values(version=PENDING, data=None, sha256=None, published=now, mark=mark)
                    .returning(t_files.c.path)).scalars()
            if site is not None:
                lock_keys(conn, "published", [SITE_LOCK])
                rendered, site_mark = site(lambda path: _shared_bytes(conn, path))
                done += _upsert(conn, list(rendered.items()), site_mark, now)
            if not done:
                return None
            version = int(conn.execute(
                update(t_state).where(t_state.c.id == 1)
                .values(version=t_state.c.version + 1)
                .returning(t_state.c.version)).scalar_one())
            for part in chunks(sorted(set(done))):
                conn.execute(update(t_files).where(t_files.c.path.in_(part))
                             .values(version=version))
            conn.execute(select(func.pg_notify(CHANNEL, str(version))))
            return version

    def published_head(self) -> tuple[str, int]:
        """This database's random id (a folder filled from another database starts over)
        and the last version given to a build's files."""
        with self._read_tx("read the shared build version") as conn:
            row = conn.execute(select(t_state.c.database_id, t_state.c.version)
                               .where(t_state.c.id == 1)).one()
        return str(row.database_id), int(row.version)

    def published_since(self, version: int, path: str = "", *, max_bytes: int = BATCH_BYTES,
                        data: bool = True) -> list[PublishedFile]:
        """The shared files after (version, path) in (version, path) order: as many as fit
        in `max_bytes` (at least one), read in one statement (one snapshot). `data` False:
        paths and versions only (`PublishedFile.data` is then None), PAGE_ROWS at most."""
        after = tuple_(t_files.c.version, t_files.c.path) > tuple_(version, path)
        order = (t_files.c.version, t_files.c.path)
        if not data:
            query = (select(t_files.c.path, t_files.c.version).where(after)
                     .order_by(*order).limit(PAGE_ROWS))
        else:
            size = func.coalesce(func.length(t_files.c.data), 0)
            page = (select(t_files.c.path, t_files.c.version, t_files.c.data, t_files.c.published,
                           t_files.c.sha256,
                           (func.sum(size).over(order_by=order) - size).label("before"))
                    .where(after).order_by(*order).limit(PAGE_ROWS).subquery())
            query = (select(page.c.path, page.c.version, page.c.data, page.c.published,
                            page.c.sha256)
                     .where(page.c.before < max_bytes)
                     .order_by(page.c.version, page.c.path))
        with self._read_tx("read the shared build files") as conn:
            rows = conn.execute(query).all()
        return [PublishedFile(path=row.path, version=int(row.version),
                              data=bytes(row.data) if data and row.data is not None else None,
                              published=row.published if data else None,
                              sha256=row.sha256 if data else None)
                for row in rows]

    def published_newer(self, paths: Iterable[str], mark: int) -> list[PublishedFile]:
        """The shared rows of `paths` rendered from a newer build mark than `mark` (with
        their bytes; None for a tombstone): a build that shared late writes them back into
        its own folder over what it rendered."""
        wanted = sorted(set(paths))
        with self._read_tx("read the newer shared files") as conn:
            rows = [row for part in chunks(wanted) for row in conn.execute(
                select(t_files.c.path, t_files.c.version, t_files.c.data, t_files.c.published,
                       t_files.c.sha256)
                .where(t_files.c.path.in_(part), t_files.c.mark > mark))]
        return [PublishedFile(path=row.path, version=int(row.version),
                              data=None if row.data is None else bytes(row.data),
                              published=row.published, sha256=row.sha256) for row in rows]

    def prune_published(self, before: datetime) -> int:
        """Delete the tombstones (rows of removed files) shared before `before`: every
        folder following the cluster has applied them by then, unless its instance was
        away longer (docs/service.md, "What grows"). Returns how many rows went (0 when
        the store shares nothing)."""
        if not self.shares_outputs:
            return 0
        stmt = t_files.delete().where(t_files.c.data.is_(None), t_files.c.published < before)
        return int(self._write("prune the shared tombstones",
                               lambda conn: conn.execute(stmt).rowcount))

    def output_listener(self) -> OutputListener:
        """A connection of its own, listening for new versions (raises StoreError)."""
        return OutputListener(self)


class OutputListener:
    """A dedicated connection (outside the pool) that LISTENs on CHANNEL. Its errors are
    StoreErrors; after one, close it and open another."""

    def __init__(self, db: OutputQueries) -> None:
        import psycopg

        self._db = db
        conninfo = db.engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False)
        with self._errors():
            self._conn: Any = psycopg.connect(conninfo, autocommit=True, **LISTENER_CONNECTION)
            self._conn.execute(f"LISTEN {CHANNEL}")

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for a notification; True when one (or more) came."""
        with self._errors():
            if not list(self._conn.notifies(timeout=timeout, stop_after=1)):
                return False
            # Several builds may have committed meanwhile: one wake-up covers them all.
            list(self._conn.notifies(timeout=0.0))
        return True

    def close(self) -> None:
        with contextlib.suppress(Exception):   # a broken connection is let go anyway
            self._conn.close()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """The connection's driver errors (psycopg's, not SQLAlchemy's) as StoreError."""
        import psycopg

        try:
            yield
        except psycopg.Error as exc:
            raise StoreError(self._db._message("listen for new builds", exc)) from exc


def _upsert(conn: Connection, files: list[tuple[str, bytes]], mark: int,
            now: datetime) -> list[str]:
    """Write the files whose bytes differ from the shared ones, under the PENDING version,
    unless the shared one was rendered from a newer mark (checked again by the statement
    itself, so that a share committing meanwhile is respected). Returns the paths written."""
    batch = dict(files)
    digests = {path: hashlib.sha256(data).hexdigest() for path, data in batch.items()}
    shared = {row.path: row for row in conn.execute(
        select(t_files.c.path, t_files.c.sha256, t_files.c.mark)
        .where(t_files.c.path.in_(list(batch))))}
    rows = [{"path": path, "version": PENDING, "data": data, "sha256": digests[path],
             "published": now, "mark": mark}
            for path, data in batch.items()
            if (row := shared.get(path)) is None
            or (row.sha256 != digests[path] and row.mark <= mark)]
    if not rows:
        return []
    return list(conn.execute(_UPSERT, rows).scalars())


_INSERT = postgresql.insert(t_files)
_UPSERT = _INSERT.on_conflict_do_update(
    index_elements=[t_files.c.path],
    set_={name: _INSERT.excluded[name]
          for name in ("version", "data", "sha256", "published", "mark")},
    where=t_files.c.mark <= _INSERT.excluded.mark).returning(t_files.c.path)


def _shared_bytes(conn: Connection, path: str) -> bytes | None:
    """The shared bytes of `path` (None: not shared, or removed)."""
    data = conn.execute(select(t_files.c.data).where(t_files.c.path == path)).scalar()
    return None if data is None else bytes(data)


def _present(conn: Connection, paths: list[str], mark: int) -> list[str]:
    """The paths shared with bytes (not tombstones yet) from this mark or an older one."""
    return [path for part in chunks(paths) for path in conn.execute(
        select(t_files.c.path).where(t_files.c.path.in_(part), t_files.c.mark <= mark,
                                     t_files.c.data.is_not(None))).scalars()]


def _batches(files: Iterable[tuple[str, bytes]]) -> Iterator[list[tuple[str, bytes]]]:
    """The files, read as they come, in batches of at most BATCH_FILES files or about
    BATCH_BYTES bytes: what is held in memory at once."""
    batch: list[tuple[str, bytes]] = []
    size = 0
    for path, data in files:
        batch.append((path, data))
        size += len(data)
        if len(batch) >= BATCH_FILES or size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch
