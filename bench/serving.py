"""Serving: Syndicator against nginx on the same feed file, with wrk.

    python -m bench.serving --workdir DIR [--seconds 10]

`run()` builds a ~200 KB RSS feed into DIR/feeds (a real store, real `build_feeds`), then
points wrk (`-t2 -c64 --latency`) at nginx serving that folder and at Syndicator: the real
`syndicator serve` command (one process, and `server.workers: auto`), and for comparison
plain uvicorn set-ups over the same app (`uvicorn --factory bench.serving:asgi`, config
from $BENCH_CONFIG). For each: the full feed (200) and a conditional request that gets 304.
Same wrk settings for all."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from bench.common import crawl_config, write_config
from bench.servers import Vhost, _wait_for_port, serve
from tests.net_support import free_port

FEED = "big"
ITEMS = 90               # bench.ours._item makes ~2.3 KB of RSS each: a ~200 KB feed
WRK = ("-t2", "-c64", "--latency")


def prepare(workdir: Path, *, target_kb: int = 200) -> Path:
    """A config whose feed `big` renders to about `target_kb` KB of RSS; returns its path."""
    from bench.ours import _item
    from syndicator.app import make_app
    from syndicator.config import load_config
    from syndicator.model import RunResult
    from syndicator.publish import build_feeds

    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    now = datetime(2025, 11, 20, 12, 0, tzinfo=UTC)
    config = load_config(write_config(crawl_config(
        [("s", "https://example.org/s/", "en", 1)], workdir,
        feeds=[{"id": FEED, "title": "A big feed", "sources": ["s"], "limit": ITEMS}]), workdir))
    with make_app(config, clock=lambda: now) as app:
        items = [_item("s", n, now) for n in range(ITEMS)]
        app.store.save_run(RunResult(source_id="s", started=now, finished=now, ok=True), items,
                           ())
        build_feeds(config, app.store, now + timedelta(minutes=1))
    size = (config.output_path / f"{FEED}.rss").stat().st_size
    if not target_kb * 1024 * 0.75 < size < target_kb * 1024 * 1.5:
        raise RuntimeError(f"feed is {size} bytes, expected about {target_kb} KB")
    return workdir / "config.yaml"


def wrk(url: str, seconds: int, headers: dict[str, str] | None = None) -> dict[str, float]:
    args = ["wrk", *WRK, f"-d{seconds}s"]
    for key, value in (headers or {}).items():
        args += ["-H", f"{key}: {value}"]
    done = subprocess.run([*args, url], capture_output=True, text=True, check=True)
    return parse_wrk(done.stdout)


def parse_wrk(text: str) -> dict[str, float]:
    def latency(label: str) -> float:
        match = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        if not match:
            return float("nan")
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]
        return float(match.group(1)) * scale

    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    return {"rps": float(rps.group(1)) if rps else float("nan"), "p50_ms": latency("50%"),
            "p99_ms": latency("99%"), "non_2xx_3xx": float(errors.group(1)) if errors else 0.0}


def _app_server(config: Path, workers: int, http: str, loop: str) -> tuple[subprocess.Popen[bytes],
                                                                           str]:
    port = free_port()
    env = {**os.environ, "BENCH_CONFIG": str(config),
           "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench.serving:asgi", "--factory", "--host",
         "127.0.0.1", "--port", str(port), "--workers", str(workers), "--http", http, "--loop",
         loop, "--no-access-log", "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _wait_for_port(port, process, timeout=30)
    return process, f"http://127.0.0.1:{port}/"


def _serve_command(config: Path, workers: int | str) -> tuple[subprocess.Popen[bytes], str]:
    """`syndicator serve` itself, on `config` with `server.workers` set."""
    import yaml

    port = free_port()
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["server"] = {"host": "127.0.0.1", "port": port, "workers": workers}
    own = config.with_name(f"serve-{workers}.yaml")       # beside it: same relative paths
    own.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    process = subprocess.Popen([sys.executable, "-m", "syndicator", "--config", str(own),
                                "serve"], env=env, cwd=config.parent,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _wait_for_port(port, process, timeout=30)
    return process, f"http://127.0.0.1:{port}/"


def asgi() -> Any:
    """The app as `syndicator serve` wires it (uvicorn factory; config from $BENCH_CONFIG)."""
    from syndicator.app import make_app
    from syndicator.config import load_config
    from syndicator.status import ServiceStatus
    from syndicator.web.app import create_web_app
    from syndicator.web.cache import FeedCache
    from syndicator.web.context import WebContext

    config = load_config(os.environ["BENCH_CONFIG"])
    app = make_app(config)
    cache = FeedCache(config.output_path)
    cache.load_all()
    status = ServiceStatus(config, app.store, scheduler=None, clock=app.clock)
    return create_web_app(WebContext(config=config, store=app.store, cache=cache, status=status))


def _measure(name: str, base: str, seconds: int) -> dict[str, Any]:
    url = f"{base}{FEED}.rss"
    # wrk asks without Accept-Encoding, so the tag to send back is the identity variant's
    # (a server that keys ETags by variant answers the gzip copy's tag with a 200).
    plain = {"Accept-Encoding": "identity"}
    first = requests.get(url, headers=plain, timeout=10)
    first.raise_for_status()
    etag = first.headers.get("ETag", "")
    full = wrk(url, seconds)
    not_modified = wrk(url, seconds, {"If-None-Match": etag}) if etag else {}
    check = (requests.get(url, headers={**plain, "If-None-Match": etag}, timeout=10)
             if etag else None)
    return {"server": name, "bytes": len(first.content), "full": full, "304": not_modified,
            "answers_304": check is not None and check.status_code == 304}


def run(workdir: Path, *, seconds: int, tools: dict[str, str | None],
        quick: bool = False) -> dict[str, Any]:
    config = prepare(workdir)
    if not tools.get("wrk"):
        return {"skipped": "wrk is not installed (apt-get install -y wrk)",
                "rows": [("wrk", "not installed: serving not measured", "")]}
    # (row name, how to start it): plain uvicorn over the app for comparison, then
    # `syndicator serve` itself (prepared answers written at the HTTP layer, sendfile), as
    # one process and with `server.workers: auto` (one per CPU, as nginx runs here).
    setups: list[tuple[str, Callable[[], tuple[subprocess.Popen[bytes], str]]]] = [
        ("uvicorn 1 worker", lambda: _app_server(config, 1, "h11", "asyncio"))]
    if not quick:
        if _available("httptools") and _available("uvloop"):
            setups += [("uvicorn 1 worker httptools+uvloop",
                        lambda: _app_server(config, 1, "httptools", "uvloop")),
                       ("uvicorn 2 workers httptools+uvloop",
                        lambda: _app_server(config, 2, "httptools", "uvloop"))]
        setups += [("syndicator serve, 1 process", lambda: _serve_command(config, 1)),
                   (f"syndicator serve, workers: auto ({_cpus()})",
                    lambda: _serve_command(config, "auto"))]
    results: list[dict[str, Any]] = []
    feeds = workdir / "feeds"
    if tools.get("nginx"):
        with serve([Vhost(feeds)], prefer="nginx", workers=2) as servers:
            results.append(_measure("nginx 2 workers", servers.urls[0], seconds))
    for name, start in setups:
        process, base = start()
        try:
            time.sleep(0.5)
            results.append(_measure(name, base, seconds))
        finally:
            process.terminate()
            process.wait(timeout=30)
    reference = results[0] if results and results[0]["server"].startswith("nginx") else None
    rows = []
    for found in results:
        for kind in ("full", "304"):
            figures = found[kind]
            if not figures:
                continue
            ratio = (f", {figures['rps'] / reference[kind]['rps']:.2f}× nginx"
                     if reference is not None and reference[kind] and found is not reference
                     else "")
            label = (f"{found['server']}, {found['bytes'] // 1024} KB feed" if kind == "full"
                     else f"{found['server']}, 304")
            # The target is for `syndicator serve` with `server.workers: auto` on the 202 KB
            # feed; one process, 304s and plain uvicorn over the same app are measured for
            # comparison, not targeted.
            targeted = "workers: auto" in found["server"] and kind == "full"
            rows.append((label, f"{figures['rps']:.0f} req/s{ratio}, p50 {figures['p50_ms']:.2f}"
                         f" ms, p99 {figures['p99_ms']:.2f} ms",
                         "≥ 0.8× nginx, p99 ≤ 10 ms" if targeted else ""))
    return {"results": results, "rows": rows, "wrk": " ".join(WRK) + f" -d{seconds}s"}


def _cpus() -> int:
    from syndicator.config import ServerConfig

    return ServerConfig(workers="auto").processes()


def _available(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    from bench.servers import ensure_tools

    print(run(args.workdir, seconds=args.seconds, tools=ensure_tools())["rows"])


if __name__ == "__main__":
    main()
