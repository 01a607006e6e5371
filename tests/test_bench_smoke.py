"""The benchmarks' smoke run: `python -m bench.run --quick` end to end, so that they cannot rot.

Benchmarks are not tests: nothing here looks at how fast anything was, only that every
benchmark ran its contenders over real loopback servers and produced its figures.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_quick_benchmarks_produce_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    # The threaded Python server, so that the run needs nothing outside the venv; serving
    # is measured only where wrk and nginx are installed (else it reports why not).
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--server", "python",
         "--workdir", str(tmp_path / "work"), "--json", str(out)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert "| first crawl | vs naive |" in done.stdout

    crawl = results["crawl"]
    assert crawl["errors"] == 0
    assert crawl["pages"] > 0
    for name in ("ours", "naive", "limit"):
        assert _number(crawl["pages_per_s"][name])
        # Every contender fetched every page of the site exactly once.
        assert crawl["runs"][name][0]["statuses"].get("200", 0) >= crawl["pages"]
    assert crawl["peak_rss_mb"] > 0

    per_source = results["steady"]["per_source"]
    assert per_source["etag"]["not_modified"] > 0          # answered 304 ...
    assert per_source["etag"]["parsed_listings"] == 0      # ... and nothing was parsed
    # Without validators the listing is downloaded, but the same bytes are not parsed again.
    assert per_source["plain"]["not_modified"] > 0
    assert per_source["plain"]["parsed_listings"] == 0
    for group in ("etag", "plain", "naive"):
        assert _number(per_source[group]["cpu_ms"]) and per_source[group]["bytes"] > 0
    assert _number(results["steady"]["bytes_ratio"])

    build = results["build"]
    assert build["files"] > 0 and _number(build["full_s"]) and _number(build["incremental_ms"])

    push = results["push"]
    assert push.get("skipped") or (push["accepted"] == push["queued"] > 0)

    serving = results["serving"]
    assert serving.get("skipped") or all(_number(r["full"]["rps"]) for r in serving["results"])

    # The header's probe of whether the two CPUs share a core: both speeds, where it can pin.
    sharing = results["machine"]["core_sharing_ms"]
    if (os.cpu_count() or 1) >= 2 and hasattr(os, "sched_setaffinity"):
        assert len(sharing) == 2 and all(_number(ms) and ms > 0 for ms in sharing)
        assert "with the other busy" in done.stdout
    else:
        assert sharing is None



@pytest.mark.slow
@pytest.mark.postgres
def test_cluster_benchmark_produces_every_figure(tmp_path: Path) -> None:
    """`python -m bench.cluster` at tiny sizes: instances on the machine's PostgreSQL poll the
    replica site and every figure, and the sizing from them, comes out."""
    from tests.postgres_support import require_postgres

    require_postgres()
    out = tmp_path / "cluster.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.cluster", "--instances", "1", "--sources", "12",
         "--articles", "40", "--windows", "1", "--seconds", "2", "--settle", "6",
         "--server", "python", "--workdir", str(tmp_path / "work"), "--json", str(out)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert [row["instances"] for row in results["rows"]] == [1]
    for row in results["rows"]:
        assert row["polls_per_s"] > 0                     # 304 polls happened and were seen
        assert row["statements_per_poll"] > 0 and row["round_trips_per_poll"] > 0
        assert _number(row["instance_cpu_ms_per_poll"])
    assert _number(results["idle_statements_per_s_per_instance"])
    assert [row["instances"] for row in results["sizing"]] == [1, 10, 100]
    assert all(_number(row["statements_per_s"]) for row in results["sizing"])
    assert "| instances | 304 polls/s |" in done.stdout

def _number(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value >= 0


def test_earlier_build_outputs_are_set_aside_then_deleted_after(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 ) -> None:
    """The build benchmark never deletes thousands of files just before its timing: on a
    journal-less ext4 new files would walk past the freed inodes (bench.common)."""
    monkeypatch.syspath_prepend(str(ROOT))
    from bench import common, ours

    work = tmp_path / "work"
    (work / "feeds.0" / "archive").mkdir(parents=True)
    (work / "feeds.0" / "archive" / "1.xml").write_text("old page")
    (work / "bench.db").write_text("old store")
    ours._fresh(work, keep_outputs=True)
    assert sorted(p.name for p in work.iterdir()) == ["stale"]
    (moved,) = (work / "stale").iterdir()
    assert (moved / "archive" / "1.xml").read_text() == "old page"

    assert common.recent_deletions_wait(work) == 0.0          # nothing deleted here yet
    common.delete_outputs([work / "stale"], work)
    assert not (work / "stale").exists()
    monkeypatch.setattr(common, "journal_less_ext4", lambda path: True)
    assert 350 < common.recent_deletions_wait(work) <= common.RECENT_DELETIONS_S
    monkeypatch.setattr(common.time, "time", lambda: 10**12)   # long after the deletion
    assert common.recent_deletions_wait(work) == 0.0
    monkeypatch.undo()
    monkeypatch.setattr(common, "journal_less_ext4", lambda path: False)
    assert common.recent_deletions_wait(work) == 0.0          # a journal reuses inodes
