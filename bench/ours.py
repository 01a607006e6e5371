"""Syndicator as a benchmark contender: the real code paths, nothing mocked.

    python -m bench.ours crawl --site URL --workdir DIR [--concurrency 4] [--per-host 2]
    python -m bench.ours poll --phase warm|etag|plain --etag-site URL --plain-site URL \
                              --listing PATH ... --sources 200 --workdir DIR
    python -m bench.ours build --items 100000 --workdir DIR

`crawl` is the first crawl: `make_app` + `pipeline.run_source` for each language's news
listing (every listing page, every article page) + `publish.build_feeds`. `poll` creates
`--sources` sources over the listing pages of two servers (half with ETags, half without):
phase `warm` runs them all once on a fresh store, `etag` and `plain` then run one half each
again, unchanged, measured (separate processes, so that the caller can meter each half's
traffic; the first source of each half is polled unmeasured to warm the caches, and its one or
two requests are in the metered traffic). `build` seeds a store with `--items` items and times
full and incremental builds.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import (
    DELETED_MARK,
    LANGUAGES,
    crawl_config,
    delete_outputs,
    emit,
    measure,
    parse_emitted,
    peak_rss_mb,
    settle,
    wait_out_recent_deletions,
    write_config,
)
from syndicator import processes
from syndicator.app import App, make_app
from syndicator.config import load_config
from syndicator.model import Item, RunResult
from syndicator.normalise import content_hash, item_id
from syndicator.publish import build_feeds, parallel

# syndicator.pipeline (fetching, extraction, push) is imported by the tasks that run sources,
# not at the top: `build` measures the memory of a process that only builds.


def crawl(site: str, workdir: Path, *, concurrency: int, per_host: int,
          extract_processes: str = "auto", profile: Path | None = None) -> None:
    # Imported before the measured phase, as the naive and limit scripts import theirs: the
    # fetcher and the reading libraries are otherwise imported on first use, inside it.
    import syndicator.fetch  # noqa: F401
    from syndicator.normalise import load_libraries
    from syndicator.pipeline import run_source

    load_libraries()

    _fresh(workdir)
    sources = [(f"office-{lang}", f"{site}{lang}/news/", lang, 1000) for lang in LANGUAGES]
    data = crawl_config(sources, workdir, concurrency=concurrency, per_host=per_host)
    data["extract_processes"] = (extract_processes if extract_processes == "auto"
                                 else int(extract_processes))
    config = load_config(write_config(data, workdir))
    profiler = _profiler(profile)
    # The app (and its page workers) closes inside the measured phase, so that the workers'
    # CPU time is counted; their peak RSS is read just before.
    with measure() as phase, make_app(config) as app:
        pages = items = errors = 0
        for source in config.sources:
            result = run_source(app, source)
            pages += result.pages
            items += result.new + result.updated
            errors += len(result.errors)
        # As `syndicator demo` and the service build after runs: the page workers help.
        built = build_feeds(config, app.store, datetime.now(UTC), workers=app.workers_if_made)
        phase.children_peak_rss_mb = [processes.peak_rss_mb(pid) for pid in app.workers.pids]
    if profiler is not None and profile is not None:
        profiler.disable()
        profiler.dump_stats(str(profile))
    emit(task="crawl", wall=phase.wall, cpu=phase.cpu, peak_rss_mb=phase.peak_rss_mb,
         workers_cpu=phase.children_cpu, workers_peak_rss_mb=phase.children_peak_rss_mb,
         pages=pages, items=items, errors=errors, files=len(built.written),
         concurrency=concurrency, per_host=per_host)


def poll_sources(etag_site: str, plain_site: str, listings: list[str],
                 count: int) -> list[tuple[str, str, str, int]]:
    """`count` sources, alternately on the server with ETags and the one without."""
    sources = []
    for index in range(count):
        site = etag_site if index % 2 == 0 else plain_site
        path = listings[(index // 2) % len(listings)]
        sources.append((f"s{index:04d}", site + path.lstrip("/"), "en", 1))
    return sources


def poll(etag_site: str, plain_site: str, listings: list[str], count: int, workdir: Path,
         *, phase: str, profile: Path | None = None) -> None:
    """`phase` "warm": a fresh store, one run of every source (listing + article pages).
    "etag" / "plain": one more run of the sources on that server, all unchanged, measured.
    `profile`: cProfile statistics of the measured part, written to that file."""
    from syndicator.pipeline import run_source

    if phase == "warm":
        _fresh(workdir)
        # Each source is one listing page and its cards' article pages; no feeds needed.
        write_config(crawl_config(poll_sources(etag_site, plain_site, listings, count),
                                  workdir, feeds=[]), workdir)
    config = load_config(workdir / "config.yaml")
    wanted = {"warm": (0, 1), "etag": (0,), "plain": (1,)}[phase]
    chosen = [s for i, s in enumerate(config.sources) if i % 2 in wanted]
    with make_app(config) as app:
        if phase != "warm":
            # A long-running service polls with warm caches: robots.txt known, SQL statements
            # compiled, modules imported. One source of the group is polled first, unmeasured.
            run_source(app, chosen[0])
            chosen = chosen[1:]
        profiler = _profiler(profile)
        with measure() as phase_cost:
            not_modified = pages = 0
            for source in chosen:
                result = run_source(app, source)
                not_modified += result.not_modified
                pages += result.pages
        if profiler is not None and profile is not None:
            profiler.disable()
            profiler.dump_stats(str(profile))
    emit(task=f"poll-{phase}", wall=phase_cost.wall, cpu=phase_cost.cpu,
         peak_rss_mb=phase_cost.peak_rss_mb, sources=len(chosen), pages=pages,
         not_modified=not_modified)


def seed(workdir: Path, items: int, sources: int) -> None:
    """A fresh store with `items` items over `sources` sources, and its config."""
    _fresh(workdir, keep_outputs=True)
    ids = _source_ids(sources)
    feeds = [*({"id": sid, "title": f"Feed {sid}", "sources": [sid]} for sid in ids),
             {"id": "all", "title": "Everything", "sources": ids, "limit": 100},
             {"id": "filtered", "title": "Statements", "sources": ids, "include": ["statement"]}]
    config = load_config(write_config(crawl_config(
        [(sid, f"https://example.org/{sid}/", "en", 1) for sid in ids], workdir, feeds=feeds),
        workdir))
    with make_app(config, clock=lambda: BUILD_NOW) as app, measure() as seeding:
        _seed(app, ids, items, BUILD_NOW)
    emit(task="seed", items=items, wall=seeding.wall)


def _source_ids(sources: int) -> list[str]:
    return [f"src{n:02d}" for n in range(sources)]


BUILD_NOW = datetime(2025, 11, 20, 12, 0, tzinfo=UTC)


def build(workdir: Path, items: int, sources: int, runs: int, full_runs: int, *,
          quiet: bool = True, serial: bool = False) -> None:
    """Full builds of all feeds (and archives) from `items` stored items, then incremental
    builds after one new item each. The store is seeded by another process first (`seed`),
    so that the memory figure is the build's, not what writing 100,000 items left behind."""
    if serial:
        parallel.PARALLEL_MIN_PAGES = sys.maxsize
    seeding = subprocess.run([sys.executable, "-m", "bench.ours", "seed", "--items", str(items),
                              "--sources", str(sources), "--workdir", str(workdir)],
                             capture_output=True, text=True, check=True)
    seeded = parse_emitted(seeding.stdout)
    ids = _source_ids(sources)
    config = load_config(workdir / "config.yaml")
    feeds = config.feeds
    now = BUILD_NOW
    if quiet:
        wait_out_recent_deletions(workdir, prefix="bench.ours build: ", stream=sys.stderr)
    with make_app(config, clock=lambda: now) as app:
        full: list[float] = []
        full_cpu: list[float] = []
        workers_peak: list[float] = []
        written = 0
        settled: list[float] = []
        for run in range(full_runs):
            # Each full build writes a new folder of its own; earlier ones were set aside
            # by `seed` and are deleted after the timings (bench.common.RECENT_DELETIONS_S).
            config = config.model_copy(update={"output_dir": str(workdir / f"feeds.{run}")})
            settled.append(settle() if quiet else 0.0)
            with measure() as phase:
                result = build_feeds(config, app.store, now)
            full.append(phase.wall)
            full_cpu.append(phase.cpu)        # includes the archive worker's (waited for)
            workers_peak += result.worker_peaks_mb
            written = len(result.written)
        # As the service does after a source run (Service.rebuild): only the feeds that
        # include the source are built; unchanged files are not rewritten.
        affected = [feed.id for feed in config.feeds_for_source(ids[0])]
        incremental: list[float] = []
        incremental_cpu: list[float] = []
        rewritten: list[int] = []
        settled.append(settle() if quiet else 0.0)
        for run in range(runs):
            later = now + timedelta(minutes=run + 1)
            _seed(app, ids[:1], 1, later, start=items + run)
            with measure() as phase:
                result = build_feeds(config, app.store, later, only=affected)
            incremental.append(phase.wall)
            incremental_cpu.append(phase.cpu)
            rewritten.append(len(result.written))
    # Earlier invocations' outputs and all but the last full build's folder, after the timings.
    delete_outputs([workdir / _STALE, *(workdir / f"feeds.{run}" for run in range(full_runs - 1))],
                   workdir)
    emit(task="build", items=items, feeds=len(feeds), seed_wall=seeded["wall"],
         settled=settled, full=full, full_cpu=full_cpu, files=written, incremental=incremental,
         incremental_cpu=incremental_cpu, rewritten=rewritten,
         # As the crawl's figure: this process's peak plus the archive worker's.
         peak_rss_mb=peak_rss_mb() + max(workers_peak, default=0.0),
         own_peak_rss_mb=peak_rss_mb(), workers_peak_rss_mb=workers_peak)


def _seed(app: App, source_ids: list[str], count: int, now: datetime, *,
          start: int = 0) -> None:
    """`count` items spread over the sources, written in batches through Store.save_run."""
    batch: dict[str, list[Item]] = {sid: [] for sid in source_ids}
    for number in range(start, start + count):
        sid = source_ids[number % len(source_ids)]
        batch[sid].append(_item(sid, number, now))
        if len(batch[sid]) >= 2000:
            _save(app, sid, batch[sid], now)
            batch[sid] = []
    for sid, items in batch.items():
        if items:
            _save(app, sid, items, now)


def _item(source_id: str, number: int, now: datetime) -> Item:
    url = f"https://example.org/{source_id}/news/{number}.html"
    word = "statement" if number % 10 == 0 else "story"
    published = now - timedelta(minutes=7 * (10**6 - number))
    item = Item(id=item_id(url), source_id=source_id, url=url,
                title=f"A {word} number {number} about the office",
                published=published, updated=published,
                summary=f"Summary of {word} {number}. " * 8,
                content="<p>" + f"Paragraph of {word} {number} with some words. " * 40 + "</p>",
                image=f"https://example.org/img/{number}.jpg", author="Iryna Varonka",
                categories=("News",), language="en")
    return replace(item, content_hash=content_hash(item))


def _save(app: App, source_id: str, items: list[Item], now: datetime) -> None:
    result = RunResult(source_id=source_id, started=now, finished=now, ok=True,
                       items_seen=len(items), new=len(items))
    app.store.save_run(result, items, ())


# Where `seed` moves earlier builds' output folders (`feeds.N`), to be deleted after the timings.
_STALE = "stale"


def _fresh(workdir: Path, *, keep_outputs: bool = False) -> None:
    """An empty `workdir`. `keep_outputs`: move earlier output folders into `stale/` instead
    of deleting them (a rename frees no inode), and keep the mark of the last deletion."""
    if not keep_outputs:
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        return
    stale = workdir / _STALE
    stale.mkdir(parents=True, exist_ok=True)
    for entry in workdir.iterdir():
        if entry.name in (_STALE, DELETED_MARK):
            continue
        if entry.is_dir() and entry.name.startswith("feeds"):
            entry.rename(stale / f"{entry.name}.{uuid.uuid4().hex[:8]}")
        elif entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _profiler(path: Path | None):  # type: ignore[no-untyped-def]
    if path is None:
        return None
    import cProfile
    profiler = cProfile.Profile()
    profiler.enable()
    return profiler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="task", required=True)
    c = sub.add_parser("crawl")
    c.add_argument("--site", required=True)
    c.add_argument("--workdir", type=Path, required=True)
    c.add_argument("--concurrency", type=int, default=4)
    c.add_argument("--per-host", type=int, default=2)
    c.add_argument("--extract-processes", default="auto",
                   help="the config key: auto, or a number (0: extract in the main process)")
    c.add_argument("--profile", type=Path)
    p = sub.add_parser("poll")
    p.add_argument("--phase", choices=["warm", "etag", "plain"], required=True)
    p.add_argument("--etag-site", required=True)
    p.add_argument("--plain-site", required=True)
    p.add_argument("--listing", action="append", required=True)
    p.add_argument("--sources", type=int, default=200)
    p.add_argument("--workdir", type=Path, required=True)
    p.add_argument("--profile", type=Path)
    s = sub.add_parser("seed")
    s.add_argument("--items", type=int, default=100_000)
    s.add_argument("--sources", type=int, default=10)
    s.add_argument("--workdir", type=Path, required=True)
    b = sub.add_parser("build")
    b.add_argument("--items", type=int, default=100_000)
    b.add_argument("--sources", type=int, default=10)
    b.add_argument("--runs", type=int, default=3, help="incremental builds")
    b.add_argument("--full-runs", type=int, default=1, help="full builds (each from scratch)")
    b.add_argument("--workdir", type=Path, required=True)
    b.add_argument("--no-settle", dest="settle", action="store_false",
                   help="time at once, without waiting for a quiet machine (smoke runs)")
    b.add_argument("--serial", action="store_true",
                   help="render every page in this process (no archive worker): for counting "
                        "instructions with valgrind, which does not follow the worker")
    args = parser.parse_args()
    if args.task == "crawl":
        crawl(args.site, args.workdir, concurrency=args.concurrency, per_host=args.per_host,
              extract_processes=args.extract_processes, profile=args.profile)
    elif args.task == "poll":
        poll(args.etag_site, args.plain_site, args.listing, args.sources, args.workdir,
             phase=args.phase, profile=args.profile)
    elif args.task == "seed":
        seed(args.workdir, args.items, args.sources)
    else:
        build(args.workdir, args.items, args.sources, args.runs, args.full_runs,
              quiet=args.settle, serial=args.serial)


if __name__ == "__main__":
    main()
