"""What the benchmark contenders share: measuring a phase, reporting it, the bench config.

Every contender runs in its own process (`python -m bench.<module> <task> ...`) so that its
CPU time and peak RSS are its own; it prints one line `BENCH {json}` that `bench.run` reads.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

LANGUAGES = ("en", "ru", "be")
PREFIX = "BENCH "
# The PostgreSQL the benchmarks that need one create their databases on (tests.postgres_support).
PG_ADMIN_URL = os.environ.get("SYNDICATOR_BENCH_PG",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@dataclass
class Phase:
    """Wall time, CPU time and peak RSS of one phase.

    CPU counts all threads of this process plus the worker processes that ended within the
    phase (close them inside it). `peak_rss_mb` is this process's peak plus each worker's
    (`children_peak_rss_mb`, filled in by the caller), so that work moved to worker
    processes is never hidden from the memory figure.
    """

    wall: float = 0.0
    cpu: float = 0.0
    peak_rss_mb: float = 0.0
    children_cpu: float = 0.0
    children_peak_rss_mb: list[float] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@contextmanager
def measure() -> Iterator[Phase]:
    """Measure the block. Before its worker processes end, the block fills in
    `children_peak_rss_mb` (syndicator.processes.peak_rss_mb of each); they are added to this
    process's."""
    phase = Phase()
    cpu_children = _children_cpu()
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield phase
    finally:
        phase.wall = time.perf_counter() - wall
        phase.children_cpu = _children_cpu() - cpu_children
        phase.cpu = time.process_time() - cpu + phase.children_cpu
        phase.peak_rss_mb = peak_rss_mb() + sum(phase.children_peak_rss_mb)


def _children_cpu() -> float:
    """CPU seconds of this process's ended (waited-for) children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def settle(*, quiet_share: float = 0.05, window: float = 1.0, limit: float = 60.0) -> float:
    """Flush dirty pages and wait until the machine is quiet: all CPUs together busy less
    than `quiet_share` of the time over `window` seconds, twice in a row (at most `limit`
    seconds). Returns the seconds waited.

    Why: what the previous phase left to the kernel (dirty pages, writeback) is otherwise
    charged to the next one. Files deleted just before are another matter, which waiting for
    a quiet CPU does not settle: see `recent_deletions_wait`."""
    start = time.perf_counter()
    os.sync()
    quiet = 0
    while quiet < 2 and time.perf_counter() - start < limit:
        busy_before, total_before = _cpu_ticks()
        time.sleep(window)
        busy_after, total_after = _cpu_ticks()
        share = (busy_after - busy_before) / max(total_after - total_before, 1)
        quiet = quiet + 1 if share < quiet_share else 0
    return time.perf_counter() - start


def _cpu_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs since boot (Linux /proc/stat; zeros elsewhere).
    iowait counts as idle: a disk busy with writeback leaves the CPUs free."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def emit(**values: Any) -> None:
    print(PREFIX + json.dumps(values, default=str), flush=True)


def parse_emitted(stdout: str) -> dict[str, Any]:
    for line in reversed(stdout.splitlines()):
        if line.startswith(PREFIX):
            result: dict[str, Any] = json.loads(line[len(PREFIX):])
            return result
    raise RuntimeError("the contender printed no BENCH line:\n" + stdout[-2000:])


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def die(message: str) -> None:
    print(message, file=sys.stderr)
    raise SystemExit(2)


# --- the Syndicator config the benchmarks run with ---------------------------------------------

def crawl_config(sources: Sequence[tuple[str, str, str, int]], workdir: Path, *,
                 concurrency: int = 4, per_host: int = 2,
                 feeds: Sequence[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A config for `sources` = (id, listing url, language, max_pages).

    Politeness delay 0 (loopback), robots.txt on; article fetches `concurrency` in flight and
    at most `per_host` per host: Syndicator's defaults (more buys nothing: the crawl is
    CPU-bound, see bench/README.md). One feed per source plus one with everything, unless
    `feeds` is given.
    """
    # The demo config's selectors: the generated site uses the same markup. Imported here, so
    # that the contenders that do not run Syndicator (naive, limit) never load it.
    from tests.demo_support import demo_selectors

    listing, article = demo_selectors()
    return {
        "site": {"title": "Syndicator bench", "base_url": "http://127.0.0.1:8080/"},
        "storage": f"sqlite:///{workdir / 'bench.db'}",
        "output_dir": str(workdir / "feeds"),
        "timezone": "Europe/Minsk",
        "fetch": {"delay": 0, "robots": True, "concurrency": concurrency, "per_host": per_host,
                  "retries": 0, "allow_private": True},   # the bench sites are on loopback
        "sources": [
            {"id": sid, "type": "html", "url": url, "language": lang,
             "list": {**listing, "max_pages": max_pages}, "article": article}
            for sid, url, lang, max_pages in sources],
        "feeds": list(feeds) if feeds is not None else [
            *({"id": sid, "title": f"Feed {sid}", "sources": [sid]} for sid, *_ in sources),
            {"id": "all", "title": "Everything", "sources": [sid for sid, *_ in sources],
             "limit": 100}],
    }


def write_config(data: dict[str, Any], workdir: Path) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return path


# ext4 without a journal does not reuse an inode freed in the last 60 s, or 360 s while its
# inode table block is dirty (fs/ext4/ialloc.c, recently_deleted): creating a file then walks
# past every such inode of the block group, one buffer lookup each. `perf record` of a full
# build (9,602 new files) started seconds after the previous build's 9,602 files were deleted:
# 17 % of all CPU samples in recently_deleted and its lookups, ~0.5 ms of CPU per new file.
# The benchmarks delete large outputs only after their timings, and a build that starts
# within this window of such a deletion waits for it to pass.
RECENT_DELETIONS_S = 360.0
DELETED_MARK = ".outputs-deleted"


def journal_less_ext4(path: Path) -> bool:
    """True when `path` is on an ext4 file system mounted without a journal (Linux sysfs)."""
    try:
        device = os.stat(path).st_dev
        block = Path(f"/sys/dev/block/{os.major(device)}:{os.minor(device)}").resolve().name
        return Path(f"/sys/fs/ext4/{block}/journal_task").read_text().strip() == "<none>"
    except OSError:
        return False


def delete_outputs(folders: Sequence[Path], mark_in: Path) -> None:
    """Delete benchmark output folders and note when in `mark_in` (see recent_deletions_wait)."""
    present = [folder for folder in folders if folder.exists()]
    for folder in present:
        shutil.rmtree(folder, ignore_errors=True)
    if present:
        (mark_in / DELETED_MARK).write_text(f"{time.time()}\n")


def recent_deletions_wait(mark_in: Path, *, limit: float = RECENT_DELETIONS_S) -> float:
    """Seconds to wait before timing file creation in `mark_in`: what is left of the window
    after the last `delete_outputs` there, on a journal-less ext4 only; else 0."""
    try:
        deleted = float((mark_in / DELETED_MARK).read_text())
    except (OSError, ValueError):
        return 0.0
    if not journal_less_ext4(mark_in):
        return 0.0
    return max(0.0, min(limit, deleted + limit - time.time()))


def wait_out_recent_deletions(mark_in: Path, *, prefix: str, stream: Any = None) -> float:
    """Sleep through what is left of the window after the last `delete_outputs` in
    `mark_in` (see recent_deletions_wait), saying why on `stream` (stdout by default);
    returns the seconds slept."""
    waited = recent_deletions_wait(mark_in)
    if waited:
        print(f"{prefix}waiting {waited:.0f} s: build outputs were deleted here minutes ago, "
              "and this journal-less ext4 makes new files walk past their freed inodes "
              "(bench.common.RECENT_DELETIONS_S)", file=stream or sys.stdout, flush=True)
        time.sleep(waited)
    return waited
