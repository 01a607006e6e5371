"""Several instances on one PostgreSQL: polls per second, and what a poll costs the database.

    python -m bench.cluster [--instances 1,2,4] [--sources 600] [--windows 3] [--seconds 15]
                            [--quick] [--statements] [--json FILE]

The local replica site (`bench.sitegen`, served by nginx with ETags) has `--sources`
sources over its listing pages (one page each, `?src=N` apart, so that their articles are
stored once), all due every second: more than the instances can poll, so that the rate
measured is what they can do, not what is asked of them. Each instance count gets a fresh
database; after one `syndicator fetch` of every source, every poll is a 304 poll. Then that
many `syndicator worker` processes (`run` where `worker` does not exist) start, get `--settle`
seconds, then poll through `--windows` windows of `--seconds`: polls per second are the 304
answers nginx logged in a window (the median window is reported; the machine is shared,
and its busy share is given beside each figure), the per-poll costs are over all windows.

PostgreSQL is reached through `tests/pgproxy.py`, which counts the messages clients send:
statements are Execute ('E') and simple Query ('Q') messages, round trips are Sync ('S')
and 'Q' (each one waits for the server's answer). A last window with the sources due only
hourly (once their first poll under that schedule is done) measures what idle instances
cost the database (job polling, heartbeats, the dispatcher), so that the per-poll figures
can be given net of it. `--statements` lists, per instance count, the statements a poll
sends by their text (what each component costs); `--quick` is a short run (1 and 3
instances, 200 sources, one window of 10 s) for comparing before and after a change.
The CPU time of the
instances and of the benchmark database's PostgreSQL backends is read from /proc.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import LANGUAGES, PG_ADMIN_URL, crawl_config, die, write_config
from bench.servers import Vhost, serve
from bench.sitegen import Options, generate
from tests.pgproxy import PgProxy
from tests.postgres_support import throwaway_database

SIZING_SOURCES = 10_000
SIZING_INTERVAL_S = 900.0
SIZING_INSTANCES = (1, 10, 100)
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Window:
    """What one measured window saw."""

    instances: int
    seconds: float
    polls: int
    requests: int
    messages: Counter[str]
    texts: Counter[str]
    instance_cpu: float
    postgres_cpu: float
    machine_busy: float           # share of all CPUs busy, 0..1

    @property
    def statements(self) -> int:
        return self.messages["E"] + self.messages["Q"]

    @property
    def round_trips(self) -> int:
        return self.messages["S"] + self.messages["Q"]

    def as_dict(self) -> dict[str, Any]:
        return {**{k: v for k, v in self.__dict__.items() if k not in ("messages", "texts")},
                "messages": dict(self.messages), "texts": dict(self.texts),
                "statements": self.statements,
                "round_trips": self.round_trips,
                "polls_per_s": self.polls / self.seconds}


# --- /proc -------------------------------------------------------------------------------------

def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process, 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def _processes() -> list[tuple[int, int, str]]:
    """(pid, parent pid, command line) of every process."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(
                errors="replace")
        except OSError:
            continue
        found.append((int(entry.name), int(stat[1]), cmdline))
    return found


def _cpu_of(pids: Sequence[int]) -> dict[int, float]:
    return {pid: _cpu_seconds(pid) for pid in pids}


def _family(roots: Sequence[int]) -> list[int]:
    """The processes and all their descendants (page workers, build workers)."""
    table = _processes()
    family = set(roots)
    grew = True
    while grew:
        grew = False
        for pid, parent, _ in table:
            if parent in family and pid not in family:
                family.add(pid)
                grew = True
    return sorted(family)


def _backends(database_name: str) -> list[int]:
    """PostgreSQL backends serving `database_name` ("postgres: user db host(port) ...")."""
    return [pid for pid, _, cmdline in _processes()
            if cmdline.startswith("postgres: ") and f" {database_name} " in cmdline]


def _machine_ticks() -> tuple[int, int]:
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


# --- the instances -----------------------------------------------------------------------------

def _command(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "syndicator", "--config", str(config), *args]


def _worker_args(config: Path) -> list[str]:
    """`worker` (jobs only) when this version has it, else `run` on a port of its own."""
    probe = subprocess.run(_command(config, "worker", "--help"), capture_output=True,
                           check=False, timeout=120)
    return ["worker"] if probe.returncode == 0 else ["run", "--port", "0"]


@contextlib.contextmanager
def instances(config: Path, count: int, workdir: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    args = _worker_args(config)
    started = []
    try:
        for n in range(count):
            log = (workdir / f"instance-{count}-{n}.log").open("wb")
            started.append(subprocess.Popen(_command(config, *args), stdout=log,
                                            stderr=subprocess.STDOUT, cwd=workdir))
            log.close()
        yield started
    finally:
        for process in started:
            process.send_signal(signal.SIGTERM)
        for process in started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _config(workdir: Path, storage: str, site_url: str, listings: list[str], sources: int,
            every: str) -> Path:
    data = crawl_config([(f"s{n:04d}", f"{site_url}{listings[n % len(listings)].lstrip('/')}"
                          f"?src={n}", "en", 1) for n in range(sources)], workdir, feeds=[])
    data["storage"] = storage
    for source in data["sources"]:
        source["schedule"] = {"every": every}
    return write_config(data, workdir)


def measure(servers: Any, proxy: Any, processes: list[subprocess.Popen[bytes]],
            database_name: str, seconds: float, settle: float, windows: int) -> list[Window]:
    time.sleep(settle)
    found = []
    for _ in range(windows):
        for process in processes:
            if process.poll() is not None:
                die(f"an instance exited ({process.returncode}) during the measurement")
        found.append(_window(servers, proxy, processes, database_name, seconds))
    return found


def _window(servers: Any, proxy: Any, processes: list[subprocess.Popen[bytes]],
            database_name: str, seconds: float) -> Window:
    pids = [p.pid for p in processes]
    mark, messages, texts = servers.mark(), proxy.counts(), proxy.statements()
    cpu, pg = _cpu_of(_family(pids)), _cpu_of(_backends(database_name))
    busy, total = _machine_ticks()
    started = time.monotonic()
    time.sleep(seconds)
    wall = time.monotonic() - started
    traffic = servers.traffic(mark)
    after, texts_after = proxy.counts(), proxy.statements()
    busy2, total2 = _machine_ticks()
    cpu2, pg2 = _cpu_of(_family(pids)), _cpu_of(_backends(database_name))
    return Window(
        instances=len(processes), seconds=wall, polls=traffic.statuses.get(304, 0),
        requests=traffic.requests, messages=after - messages, texts=texts_after - texts,
        # Processes that started in the window count from 0; ones that ended are lost.
        instance_cpu=sum(v - cpu.get(pid, 0.0) for pid, v in cpu2.items()),
        postgres_cpu=sum(v - pg.get(pid, 0.0) for pid, v in pg2.items()),
        machine_busy=(busy2 - busy) / max(1, total2 - total))


# --- the run -----------------------------------------------------------------------------------

def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir: Path = args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    site = generate(workdir / "site", Options(articles=args.articles))
    listings = [p for lang in LANGUAGES for p in site.listings[lang]]
    windows: list[list[Window]] = []
    with serve([Vhost(site.root, etags=True)], prefer=args.server) as servers:
        # Each instance count on a database of its own, filled the same way: what the
        # previous count left (finished jobs, dead rows) never weighs on the next.
        for count in args.instances:
            with _warm_database(args, workdir, servers.urls[0], listings) as (proxy, name):
                print(f"== {count} instance(s) ...", file=sys.stderr, flush=True)
                with instances(workdir / "config.yaml", count, workdir) as processes:
                    windows.append(measure(servers, proxy, processes, name, args.seconds,
                                           args.settle, args.windows))
                if count == max(args.instances):
                    idle = _idle(args, workdir, servers, proxy, name, listings, count)
    return summarise(windows, idle)


@contextlib.contextmanager
def _warm_database(args: argparse.Namespace, workdir: Path, site_url: str,
                   listings: list[str]) -> Iterator[tuple[Any, str]]:
    """A fresh database, reached through the counting proxy, with every source fetched once
    (`syndicator fetch`), and the config of the sources due every second written."""
    from sqlalchemy.engine import make_url

    with throwaway_database(args.admin_url, prefix="syndicator_bench") as url:
        parsed = make_url(url)
        with PgProxy((parsed.host or "127.0.0.1", parsed.port or 5432)) as proxy:
            storage = parsed.set(host="127.0.0.1", port=proxy.port,
                                 query={"sslmode": "disable"}).render_as_string(
                                     hide_password=False)
            config = _config(workdir, storage, site_url, listings, args.sources, "1s")
            warm = subprocess.run(_command(config, "fetch", "--no-progress"), cwd=workdir,
                                  capture_output=True, text=True, check=False, timeout=1800)
            if warm.returncode != 0:
                die(f"syndicator fetch failed ({warm.returncode}):\n{warm.stderr[-3000:]}")
            yield proxy, parsed.database or ""


def _idle(args: argparse.Namespace, workdir: Path, servers: Any, proxy: Any, name: str,
          listings: list[str], count: int) -> Window:
    """`count` instances with every source due only hourly: once each source's first poll
    under that schedule is done (no request for 3 s), what they send is their idle cost."""
    storage = _storage_of(workdir / "config.yaml")
    config = _config(workdir, storage, servers.urls[0], listings, args.sources, "1h")
    print(f"== {count} idle instance(s) ...", file=sys.stderr, flush=True)
    with instances(config, count, workdir) as processes:
        deadline = time.monotonic() + 120
        time.sleep(args.settle)
        while time.monotonic() < deadline:
            mark = servers.mark()
            time.sleep(3)
            if servers.traffic(mark).requests == 0:
                break
        return measure(servers, proxy, processes, name, args.seconds, 0.0, 1)[0]


def _storage_of(config: Path) -> str:
    import yaml

    return str(yaml.safe_load(config.read_text())["storage"])


def _total(windows: list[Window]) -> Window:
    """The windows of one instance count as one long window (for the per-poll costs)."""
    return Window(instances=windows[0].instances, seconds=sum(w.seconds for w in windows),
                  polls=sum(w.polls for w in windows),
                  requests=sum(w.requests for w in windows),
                  messages=sum((w.messages for w in windows), Counter()),
                  texts=sum((w.texts for w in windows), Counter()),
                  instance_cpu=sum(w.instance_cpu for w in windows),
                  postgres_cpu=sum(w.postgres_cpu for w in windows),
                  machine_busy=statistics.mean(w.machine_busy for w in windows))


def summarise(runs: list[list[Window]], idle: Window) -> dict[str, Any]:
    rates = [statistics.median(w.polls / w.seconds for w in windows) for windows in runs]
    idle_statements = idle.statements / idle.seconds / idle.instances
    idle_trips = idle.round_trips / idle.seconds / idle.instances
    rows = []
    for rate, windows in zip(rates, runs, strict=True):
        window = _total(windows)
        polls = max(1, window.polls)
        # What the instances would have sent idle in these windows, taken off the polls.
        overhead = window.instances * window.seconds
        rows.append({
            "instances": window.instances, "polls_per_s": rate,
            "polls_per_s_each_window": [w.polls / w.seconds for w in windows],
            "ratio": rate / rates[0] if rates[0] else 0.0,
            "statements_per_poll": window.statements / polls,
            "round_trips_per_poll": window.round_trips / polls,
            "net_statements_per_poll": (window.statements - idle_statements * overhead) / polls,
            "net_round_trips_per_poll": (window.round_trips - idle_trips * overhead) / polls,
            "instance_cpu_ms_per_poll": window.instance_cpu / polls * 1000,
            "postgres_cpu_ms_per_poll": window.postgres_cpu / polls * 1000,
            "machine_busy": window.machine_busy,
            "statements_by_text": {text: n / polls
                                   for text, n in window.texts.most_common()},
        })
    one = rows[0]
    # Statements per poll grow with the number of instances (each job's NOTIFY wakes every
    # worker of the cluster, and each looks for a job): a straight line through the rows.
    grows = _slope([(r["instances"], r["net_statements_per_poll"]) for r in rows])
    grows_trips = _slope([(r["instances"], r["net_round_trips_per_poll"]) for r in rows])
    idle_pg = idle.postgres_cpu / idle.seconds / idle.instances
    idle_cpu = idle.instance_cpu / idle.seconds / idle.instances
    polls_needed = SIZING_SOURCES / SIZING_INTERVAL_S
    sizing = []
    for count in SIZING_INSTANCES:
        per_poll = one["net_statements_per_poll"] + grows * (count - 1)
        per_poll_trips = one["net_round_trips_per_poll"] + grows_trips * (count - 1)
        sizing.append({
            "instances": count, "polls_per_s": polls_needed,
            "statements_per_poll": per_poll,
            "statements_per_s": polls_needed * per_poll + count * idle_statements,
            "round_trips_per_s": polls_needed * per_poll_trips + count * idle_trips,
            "instance_cpu_share": polls_needed / count * one["instance_cpu_ms_per_poll"] / 1000
            + idle_cpu,
            "postgres_cpu_share": polls_needed * one["postgres_cpu_ms_per_poll"] / 1000
            + count * idle_pg})
    return {"windows": [[w.as_dict() for w in windows] for windows in runs],
            "idle": idle.as_dict(),
            "idle_statements_per_s_per_instance": idle_statements,
            "idle_round_trips_per_s_per_instance": idle_trips,
            "idle_postgres_cpu_share_per_instance": idle.postgres_cpu / idle.seconds
            / idle.instances,
            "idle_instance_cpu_share": idle.instance_cpu / idle.seconds / idle.instances,
            "statements_per_poll_per_instance": grows,
            "rows": rows, "sizing": sizing}


def _slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x; 0 with fewer than two distinct x."""
    if len({x for x, _ in points}) < 2:
        return 0.0
    mx = statistics.mean(x for x, _ in points)
    my = statistics.mean(y for _, y in points)
    return (sum((x - mx) * (y - my) for x, y in points)
            / sum((x - mx) ** 2 for x, _ in points))


def report(results: dict[str, Any]) -> str:
    lines = ["| instances | 304 polls/s | vs 1 instance | statements / poll (net of idle) "
             "| round trips / poll (net) | instance CPU ms / poll | PostgreSQL CPU ms / poll "
             "| machine busy |", "|---|---|---|---|---|---|---|---|"]
    for row in results["rows"]:
        lines.append(
            f"| {row['instances']} | {row['polls_per_s']:.1f} | {row['ratio']:.2f}× "
            f"| {row['statements_per_poll']:.1f} ({row['net_statements_per_poll']:.1f}) "
            f"| {row['round_trips_per_poll']:.1f} ({row['net_round_trips_per_poll']:.1f}) "
            f"| {row['instance_cpu_ms_per_poll']:.2f} | {row['postgres_cpu_ms_per_poll']:.2f} "
            f"| {row['machine_busy'] * 100:.0f} % |")
    lines += ["", f"Idle, per instance: {results['idle_statements_per_s_per_instance']:.2f} "
                  f"statements/s, {results['idle_round_trips_per_s_per_instance']:.2f} round "
                  f"trips/s, {results['idle_postgres_cpu_share_per_instance'] * 1000:.1f} ms "
                  "of PostgreSQL CPU per second", "",
              f"Sizing on paper: {SIZING_SOURCES:,} sources every "
              f"{SIZING_INTERVAL_S / 60:.0f} min = {SIZING_SOURCES / SIZING_INTERVAL_S:.1f} "
              "polls/s; per poll the 1-instance statements plus "
              f"{results['statements_per_poll_per_instance']:.2f} per further instance (the "
              "line through the rows above), plus each instance's idle cost:",
              "", "| instances | statements / poll | statements/s on PostgreSQL "
              "| round trips/s | CPU per instance | PostgreSQL CPU |", "|---|---|---|---|---|---|"]
    for row in results["sizing"]:
        lines.append(f"| {row['instances']} | {row['statements_per_poll']:.0f} "
                     f"| {row['statements_per_s']:,.0f} | {row['round_trips_per_s']:,.0f} "
                     f"| {row['instance_cpu_share'] * 100:.1f} % of a core "
                     f"| {row['postgres_cpu_share'] * 100:.0f} % of a core |")
    return "\n".join(lines)


def statements_report(results: dict[str, Any], top: int = 40) -> str:
    """The statements a poll sends, by text, per instance count (idle: per second)."""
    lines = []
    idle = results["idle"]
    for row in results["rows"]:
        lines += ["", f"Statements per 304 poll, {row['instances']} instance(s):"]
        lines += [f"{n:8.2f}  {text[:150]}" for text, n
                  in list(row["statements_by_text"].items())[:top]]
    lines += ["", f"Idle statements per second per instance ({idle['instances']} instance(s)):"]
    per_s = idle["seconds"] * idle["instances"]
    lines += [f"{n / per_s:8.2f}  {text[:150]}" for text, n
              in Counter(idle["texts"]).most_common(top)]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", default="1,2,4",
                        help="comma-separated instance counts; the first is the baseline")
    parser.add_argument("--sources", type=int, default=600)
    parser.add_argument("--articles", type=int, default=600,
                        help="articles on the generated site (20 per listing page)")
    parser.add_argument("--seconds", type=float, default=15.0, help="one measured window")
    parser.add_argument("--windows", type=int, default=3,
                        help="measured windows per instance count (the median rate is shown)")
    parser.add_argument("--settle", type=float, default=15.0,
                        help="seconds between starting the instances and measuring")
    parser.add_argument("--server", choices=["nginx", "python"], default="nginx")
    parser.add_argument("--admin-url", default=PG_ADMIN_URL,
                        help="a PostgreSQL URL allowed to create databases")
    parser.add_argument("--workdir", type=Path,
                        default=Path(tempfile.gettempdir()) / "syndicator-bench" / "cluster")
    parser.add_argument("--json", type=Path, help="write the raw numbers here")
    parser.add_argument("--quick", action="store_true",
                        help="1 and 3 instances, 200 sources, one 10 s window after 10 s")
    parser.add_argument("--statements", action="store_true",
                        help="also list the statements a poll sends, by their text")
    args = parser.parse_args(argv)
    if args.quick:
        args.instances, args.sources, args.windows = "1,3", 200, 1
        args.seconds, args.settle = 10.0, 10.0
    args.instances = [int(n) for n in args.instances.split(",") if n]
    results = run(args)
    print(report(results))
    if args.statements:
        print(statements_report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    return results


if __name__ == "__main__":
    main()
