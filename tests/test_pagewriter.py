"""PageWriter: atomic archive page writes; a large batch does not stay in the page cache.

Residency is read with mincore(2) on a mapping of each file (mapping faults nothing in), on
the test's own temporary folder: a real file system, real page cache."""

from __future__ import annotations

import ctypes
import mmap
import os
import sys
from pathlib import Path

import pytest

from syndicator.publish import pagewriter
from syndicator.publish.pagewriter import PageWriter

_LIBC = ctypes.CDLL(None, use_errno=True)
_LIBC.mmap.restype = ctypes.c_void_p
_LIBC.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                       ctypes.c_int, ctypes.c_long)
_LIBC.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
_LIBC.mincore.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux page cache")


def resident_share(path: Path) -> float:
    """The share of `path`'s pages that are in the page cache."""
    size = path.stat().st_size
    fd = os.open(path, os.O_RDONLY)
    try:
        address = _LIBC.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        assert address not in (None, ctypes.c_void_p(-1).value), ctypes.get_errno()
        try:
            pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
            vector = (ctypes.c_ubyte * pages)()
            assert _LIBC.mincore(address, size, vector) == 0, ctypes.get_errno()
            return sum(byte & 1 for byte in vector) / pages
        finally:
            _LIBC.munmap(address, size)
    finally:
        os.close(fd)


def file_system_type(path: Path) -> str:
    """The type of the file system holding `path`, from /proc/self/mounts."""
    best, kind = "", ""
    resolved = str(path.resolve())
    for line in Path("/proc/self/mounts").read_text().splitlines():
        fields = line.split()
        mount = fields[1]
        if (resolved == mount or resolved.startswith(mount.rstrip("/") + "/")) \
                and len(mount) > len(best):
            best, kind = mount, fields[2]
    return kind


def page(number: int) -> bytes:
    return (f"<page {number}>".encode() + os.urandom(48_000).hex().encode())[:96_000]


def test_a_large_batch_is_written_whole_and_leaves_the_page_cache(tmp_path: Path) -> None:
    if file_system_type(tmp_path) in ("tmpfs", "ramfs", "overlay", ""):
        pytest.skip("needs a disk-backed file system: tmpfs pages cannot be dropped")
    pages = {tmp_path / "archive" / f"{n % 3}" / f"{n}.xml": page(n) for n in range(60)}
    # Keep the first ~10 pages cached (1 MB at 96 KB each), release the rest.
    writer = PageWriter(keep_cached=1 << 20)
    for path, data in pages.items():
        writer.submit(path, data)
    written, unchanged = writer.finish()

    assert written == list(pages) and unchanged == []
    for path, data in pages.items():
        assert path.read_bytes() == data
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    # Read-back above went through the page cache again: measure a fresh batch instead.
    fresh = {tmp_path / "again" / f"{n}.xml": page(n + 100) for n in range(60)}
    writer = PageWriter(keep_cached=1 << 20)
    for path, data in fresh.items():
        writer.submit(path, data)
    writer.finish()
    shares = [resident_share(path) for path in fresh]
    assert min(shares[:10]) == 1.0, shares[:10]           # under the threshold: cached
    assert max(shares[11:]) == 0.0, shares[11:]           # over it: written, then released
    assert [path.read_bytes() for path in fresh] == list(fresh.values())


def test_a_small_batch_stays_in_the_page_cache(tmp_path: Path) -> None:
    pages = {tmp_path / f"{n}.xml": page(n) for n in range(8)}
    writer = PageWriter()
    assert len(pages) * 96_000 < pagewriter.KEEP_CACHED_BYTES
    for path, data in pages.items():
        writer.submit(path, data)
    written, _ = writer.finish()
    assert written == list(pages)
    assert [resident_share(path) for path in pages] == [1.0] * len(pages)


def test_unchanged_pages_are_not_rewritten_in_a_released_batch(tmp_path: Path) -> None:
    pages = {tmp_path / f"{n}.xml": page(n) for n in range(30)}
    for keep in (0, 0):      # the second batch finds every page as it is
        writer = PageWriter(keep_cached=keep)
        for path, data in pages.items():
            writer.submit(path, data)
        written, unchanged = writer.finish()
    assert written == [] and unchanged == list(pages)
    assert all(path.read_bytes() == data for path, data in pages.items())
