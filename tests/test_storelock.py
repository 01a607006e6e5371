"""The store lock of `run` on an SQLite file holds whatever path reaches the file: a symlink
to it, a symlinked folder, a relative path from another working folder. The holder is a real
second process, as a second `run` would meet it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from syndicator.errors import StoreError
from syndicator.storelock import StoreLock, sqlite_path

HOLD = """
import sys
from pathlib import Path
from syndicator.storelock import StoreLock
lock = StoreLock(Path(sys.argv[1])).acquire()
print("locked", flush=True)
sys.stdin.read()          # held until the test closes our stdin
lock.release()
"""


@pytest.fixture
def held(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """(the database file, the pid of the process holding its lock by that path)."""
    real = tmp_path / "data" / "store.db"
    real.parent.mkdir()
    real.write_bytes(b"")
    with subprocess.Popen([sys.executable, "-c", HOLD, str(real)], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}) as holder:
        assert holder.stdout is not None and holder.stdin is not None
        try:
            assert holder.stdout.readline().strip() == "locked"
            yield real, holder.pid
        finally:
            holder.stdin.close()
            holder.wait(timeout=60)


def _refused(db: Path, pid: int) -> None:
    with pytest.raises(StoreError, match=rf"another syndicator run is using .* \(pid {pid}\)"):
        StoreLock(db).acquire()


def test_a_symlink_to_the_file_reaches_the_same_lock(held: tuple[Path, int],
                                                      tmp_path: Path) -> None:
    real, pid = held
    link = tmp_path / "link.db"
    link.symlink_to(real)
    _refused(link, pid)


def test_a_symlinked_folder_reaches_the_same_lock(held: tuple[Path, int],
                                                  tmp_path: Path) -> None:
    real, pid = held
    alias = tmp_path / "alias"
    alias.symlink_to(real.parent, target_is_directory=True)
    _refused(alias / real.name, pid)


def test_relative_paths_reach_the_same_lock(held: tuple[Path, int], tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    real, pid = held
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    _refused(Path("../data/store.db"), pid)
    _refused(sqlite_path("sqlite:///../data/./store.db") or Path(), pid)
    monkeypatch.chdir(real.parent)
    _refused(Path("store.db"), pid)


def test_a_dangling_symlink_locks_the_file_it_will_create(tmp_path: Path) -> None:
    other = StoreLock(tmp_path / "other.db").acquire()
    other.release()
    dangling = tmp_path / "not-yet.db"
    dangling.symlink_to(tmp_path / "created-later.db")
    first = StoreLock(dangling).acquire()      # the file a dangling link will create
    try:
        with pytest.raises(StoreError):
            StoreLock(tmp_path / "created-later.db").acquire()
    finally:
        first.release()
    StoreLock(tmp_path / "created-later.db").acquire().release()
