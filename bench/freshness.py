"""Freshness across instances, on its own: `python -m bench.freshness [--builds N]
[--servers N]`. On the machine's PostgreSQL (a database of its own, dropped after), N
`syndicator serve` processes, each with an output folder of its own, and builds made in this
process (as another instance would make them), each adding one item: for every build, the
time from the build's return (its share committed) until each server answers the feed with
the new item, polled every 10 ms; and what the build took. Prints min / median / p95 / max.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench.common import PG_ADMIN_URL
from syndicator.config import parse_config
from syndicator.model import Item, RunResult
from syndicator.publish import build_feeds
from syndicator.store import Store
from tests.net_support import free_port
from tests.postgres_support import throwaway_database

POLL_S = 0.01
CONFIG = """
site: {{title: "Bench", base_url: "http://feeds.example/"}}
storage: "{url}"
output_dir: "{output}"
server: {{host: 127.0.0.1, port: {port}}}
sources:
  - {{id: news, type: feed, url: "http://127.0.0.1:9/feed.xml", language: en}}
feeds:
  - {{id: news, title: "News", sources: [news], limit: {limit}}}
"""
T0 = datetime(2026, 12, 6, tzinfo=UTC)


def item(n: int) -> Item:
    when = T0 + timedelta(minutes=n)
    return Item(id=f"bench-{n}", source_id="news", url=f"https://example.org/{n}",
                title=f"Story number {n}", published=when, updated=when,
                summary="A summary " * 20, content="<p>Body</p>" * 50, image=None,
                author=None, categories=(), language="en", published_precision="time",
                content_hash=f"h{n}")


def add(store: Store, n: int) -> None:
    when = T0 + timedelta(minutes=n)
    store.save_run(RunResult(source_id="news", started=when, finished=when, ok=True),
                   [item(n)], [])


def config_text(url: str, output: Path, port: int, *, limit: int = 50) -> str:
    """A config with one feed of one (unreachable) source: what a build and `serve` need."""
    return CONFIG.format(url=url, output=output, port=port, limit=limit)


def wait_served(ports: list[int], needle: bytes, timeout: float = 60) -> list[float]:
    start = time.monotonic()
    delays = [float("nan")] * len(ports)

    def poll(n: int) -> None:
        with httpx.Client(trust_env=False, timeout=10) as client:
            while time.monotonic() - start < timeout:
                try:
                    if needle in client.get(f"http://127.0.0.1:{ports[n]}/news.rss").content:
                        delays[n] = time.monotonic() - start
                        return
                except httpx.TransportError:
                    pass
                time.sleep(POLL_S)

    threads = [threading.Thread(target=poll, args=(n,)) for n in range(len(ports))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return delays


def summary(label: str, values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (f"{label}: n={len(values)} min {ordered[0] * 1000:.0f} ms, median "
            f"{statistics.median(ordered) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
            f"max {ordered[-1] * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--builds", type=int, default=30)
    parser.add_argument("--servers", type=int, default=2)
    args = parser.parse_args()
    processes: list[subprocess.Popen[bytes]] = []
    with throwaway_database(PG_ADMIN_URL, prefix="syndicator_bench") as url:
        store = Store(url)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                root = Path(tmp)
                builder = parse_config(config_text(url, root / "built", 0))
                add(store, 0)
                build_feeds(builder, store, T0)
                ports = []
                for n in range(args.servers):
                    port = free_port()
                    folder = root / f"server{n}"
                    folder.mkdir()
                    (folder / "config.yaml").write_text(config_text(url, folder / "feeds", port))
                    processes.append(subprocess.Popen(
                        [sys.executable, "-m", "syndicator", "--config",
                         str(folder / "config.yaml"), "serve"], cwd=folder,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                    ports.append(port)
                wait_served(ports, b"Story number 0")
                delays: list[float] = []
                builds: list[float] = []
                for n in range(1, args.builds + 1):
                    add(store, n)
                    started = time.monotonic()
                    build_feeds(builder, store, T0 + timedelta(minutes=n), only=["news"])
                    builds.append(time.monotonic() - started)
                    delays += wait_served(ports, f"Story number {n}<".encode())
                    time.sleep(0.2)
                print(summary("build (render, write, share, commit)", builds))
                print(summary(f"build returned -> served by each of {args.servers} servers",
                              delays))
        finally:
            for process in processes:
                process.terminate()
                process.wait(15)
            store.close()


if __name__ == "__main__":
    main()
