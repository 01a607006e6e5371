"""Hostile load (issue 17): does a feed stay fast while others abuse the server?

    python -m bench.load --workdir DIR [--seconds 60] [--json FILE]

One `syndicator serve` process (one worker, default limits) serves a ~200 KB feed
(bench.serving.prepare). First wrk alone: 64 connections on the feed for `seconds` (the
unloaded figure). Then the same wrk again while
  - 16 connections ask for the feed with a unique `?filter=` each time (wrk with a Lua
    script): each would be a fresh render; the per-client rate limit answers them 429,
  - 200 slowloris connections hold sockets by sending one header line every 2 s and never
    ending their headers; each one the server closes (header timeout) is opened again.
With `--rounds N` the two alternate N times, `seconds / N` each (on a shared machine the
background load then weighs on both alike). Reported: feed requests/s unloaded and loaded
and their ratio, the feed's errors (socket errors and non-2xx answers, which must be 0), the
abusers' answers, how often slowloris had to reconnect, and the server's RSS before, at
peak and after the loaded run.
Targets (the issue): ratio ≥ 0.5, 0 errors, RSS growth ≤ 50 MB. All on loopback; wrk comes
from Debian's package (bench.servers.ensure_tools installs it when missing, as root).

With two CPUs or more the server runs on CPU 0 and every client on the others, so that the
ratio tells what the abuse costs the server, not how the clients share the CPUs with it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.servers import ensure_tools
from bench.serving import FEED, _serve_command, parse_wrk, prepare

FEED_CONNECTIONS = 64
FILTER_CLIENTS = 16
SLOWLORIS = 200
DRIP_S = 2.0            # one more header line per slowloris connection this often

# Every request a new filter: a fresh render each time if nothing stopped it.
FILTER_SCRIPT = """
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", "/FEED.rss?filter=w" .. math.random(1, 1000000000) .. "q" .. counter)
end
""".replace("FEED", FEED)


@dataclass
class WrkRun:
    requests_per_s: float
    requests: int
    non_2xx: int
    socket_errors: int
    p99_ms: float


@dataclass
class LoadReport:
    seconds: int
    unloaded: WrkRun
    loaded: WrkRun
    ratio: float
    abusers: WrkRun
    slowloris_reconnects: int
    slowloris_open_at_end: int
    rss_before_mb: float
    rss_peak_mb: float
    rss_after_mb: float
    rss_growth_mb: float

    def ok(self) -> bool:
        return (self.ratio >= 0.5 and self.loaded.non_2xx == 0 and self.loaded.socket_errors == 0
                and self.unloaded.non_2xx == 0 and self.unloaded.socket_errors == 0
                and self.rss_growth_mb <= 50)


def wrk(url: str, seconds: int, connections: int, threads: int = 2,
        script: Path | None = None) -> WrkRun:
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
            "--timeout", "10s"]
    if script is not None:
        args += ["-s", str(script)]
    done = subprocess.run([*args, url], capture_output=True, text=True, check=True)
    figures = parse_wrk(done.stdout)
    total = re.search(r"(\d+) requests in", done.stdout)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                        done.stdout)
    return WrkRun(requests_per_s=figures["rps"], requests=int(total.group(1)) if total else 0,
                  non_2xx=int(figures["non_2xx_3xx"]),
                  socket_errors=sum(int(n) for n in sockets.groups()) if sockets else 0,
                  p99_ms=figures["p99_ms"])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Slowloris:
    """`count` connections that never finish their request headers, kept open (reopened
    when the server closes one), on an event loop in a thread of its own."""

    def __init__(self, host: str, port: int, count: int) -> None:
        self.host, self.port, self.count = host, port, count
        self.reconnects = 0
        self.open = 0
        self._stop: asyncio.Event | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_until_complete,
                                        args=(self._main(),), daemon=True)

    def __enter__(self) -> Slowloris:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)
        if not self._thread.is_alive():
            self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        holders = [asyncio.create_task(self._hold(n)) for n in range(self.count)]
        await self._stop.wait()
        for task in holders:
            task.cancel()
        await asyncio.gather(*holders, return_exceptions=True)

    async def _hold(self, n: int) -> None:
        assert self._stop is not None
        first = True
        while not self._stop.is_set():
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port)
            except OSError:
                await asyncio.sleep(0.5)
                continue
            self.open += 1
            if not first:
                self.reconnects += 1
            first = False
            try:
                writer.write(f"GET /{FEED}.rss HTTP/1.1\r\nHost: x\r\n".encode())
                line = 0
                while not self._stop.is_set():
                    try:
                        # Anything back (a 408, or the end of the stream) ends this socket.
                        await asyncio.wait_for(reader.read(4096), DRIP_S)
                        break
                    except TimeoutError:
                        line += 1
                        writer.write(f"X-Drip-{n}-{line}: a\r\n".encode())
                        await writer.drain()
            except (OSError, ConnectionError):
                pass
            finally:
                self.open -= 1
                writer.close()


@contextmanager
def rss_sampler(pid: int) -> Iterator[list[float]]:
    samples: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.25):
            try:
                samples.append(rss_mb(pid))
            except OSError:
                return

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join()


@contextmanager
def pinned(pid: int) -> Iterator[None]:
    """Every thread of `pid` on CPU 0, this process (and the clients it starts) on the
    others, while in the block; nothing with fewer than two CPUs."""
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    if len(cpus) < 2:
        yield
        return
    server = min(cpus)
    for task in Path(f"/proc/{pid}/task").iterdir():
        os.sched_setaffinity(int(task.name), {server})
    os.sched_setaffinity(0, cpus - {server})
    try:
        yield
    finally:
        os.sched_setaffinity(0, cpus)


def run(workdir: Path, seconds: int = 60, rounds: int = 1) -> LoadReport:
    if shutil.which("wrk") is None and ensure_tools().get("wrk") is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    config = prepare(workdir)
    process, base = _serve_command(config, 1)
    url = f"{base}{FEED}.rss"
    script = workdir / "filters.lua"
    script.write_text(FILTER_SCRIPT)
    try:
        with pinned(process.pid):
            return _measure(process.pid, url, seconds, script, rounds)
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stderr is not None:
            process.stderr.close()


def _measure(pid: int, url: str, seconds: int, script: Path, rounds: int) -> LoadReport:
    """`rounds` pairs of (feed alone, feed under attack), `seconds / rounds` each: more
    rounds cancel out what else the machine does meanwhile (the ratio compares sums)."""
    split = urlsplit(url)
    step = max(1, round(seconds / rounds))
    wrk(url, 2, FEED_CONNECTIONS)                              # warm up
    alone: list[WrkRun] = []
    attacked: list[WrkRun] = []
    abused: list[WrkRun] = []
    reconnects = open_at_end = 0
    before = after = float("nan")
    samples: list[float] = []
    for _ in range(rounds):
        alone.append(wrk(url, step, FEED_CONNECTIONS))
        if not alone[1:]:
            before = rss_mb(pid)
        abusers: dict[str, WrkRun] = {}
        with Slowloris(split.hostname or "127.0.0.1", split.port or 80, SLOWLORIS) as slow, \
                rss_sampler(pid) as sampled:
            time.sleep(1.0)                                           # let them connect
            attack = threading.Thread(target=_attack, args=(abusers, url, step + 2, script))
            attack.start()
            time.sleep(0.5)
            attacked.append(wrk(url, step, FEED_CONNECTIONS))
            attack.join()
            open_at_end = slow.open
        reconnects += slow.reconnects
        abused.append(abusers["run"])
        samples += sampled
        after = rss_mb(pid)
    unloaded, loaded = _total(alone), _total(attacked)
    peak = max([before, after, *samples])
    return LoadReport(
        seconds=step * rounds, unloaded=unloaded, loaded=loaded,
        ratio=loaded.requests_per_s / unloaded.requests_per_s, abusers=_total(abused),
        slowloris_reconnects=reconnects, slowloris_open_at_end=open_at_end,
        rss_before_mb=round(before, 1), rss_peak_mb=round(peak, 1),
        rss_after_mb=round(after, 1), rss_growth_mb=round(max(peak, after) - before, 1))


def _attack(into: dict[str, WrkRun], url: str, seconds: int, script: Path) -> None:
    into["run"] = wrk(url, seconds, FILTER_CLIENTS, threads=1, script=script)


def _total(runs: list[WrkRun]) -> WrkRun:
    """Runs of equal length as one: mean rate, summed counts, the worst p99."""
    return WrkRun(requests_per_s=round(sum(r.requests_per_s for r in runs) / len(runs), 1),
                  requests=sum(r.requests for r in runs),
                  non_2xx=sum(r.non_2xx for r in runs),
                  socket_errors=sum(r.socket_errors for r in runs),
                  p99_ms=max(r.p99_ms for r in runs))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=1,
                        help="alternate alone/attacked this many times (default: once each)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    report = run(args.workdir, args.seconds, args.rounds)
    data: dict[str, Any] = {**asdict(report), "ok": report.ok()}
    text = json.dumps(data, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0 if report.ok() else 1


if __name__ == "__main__":
    sys.exit(main())
