"""`syndicator run`, `syndicator serve` and `syndicator status` (registered by cli.py), and
the listening options `run`, `serve` and `demo` share."""

from __future__ import annotations

import ipaddress
import json
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click

from syndicator.cli_common import CliState, reported_errors
from syndicator.config import Config
from syndicator.status import StatusReport

STATUS_TIMEOUT = 2.0   # seconds to wait for a live `run` to answer /status.json
_HOST_NAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")

Command = TypeVar("Command", bound=Callable[..., Any])


def _host(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """An IP address or a host name (exit 2 otherwise)."""
    if value is None:
        return None
    try:
        ipaddress.ip_address(value)
    except ValueError:
        if not _HOST_NAME.fullmatch(value):
            raise click.BadParameter("expected an IP address (127.0.0.1, 0.0.0.0, ::) or a "
                                     "host name") from None
    return value


def listen_options(default_note: str, *, port_zero: str = "0 for any free one",
                   host_note: str = "Address to listen on, e.g. 0.0.0.0 for every interface",
                   port_note: str = "Port to listen on") -> Callable[[Command], Command]:
    """`--host` and `--port` of a command that serves HTTP (or, with other notes, of one
    that asks the service serving there)."""
    def add(command: Command) -> Command:
        command = click.option(
            "--port", type=click.IntRange(0, 65535), default=None,
            help=f"{port_note}, {port_zero} ({default_note}).")(command)
        return click.option(
            "--host", callback=_host, default=None, metavar="ADDRESS",
            help=f"{host_note} ({default_note}).")(command)
    return add


def with_listen(config: Config, host: str | None, port: int | None) -> Config:
    """`config` with `--host`/`--port` over server.host/server.port."""
    changes = {key: value for key, value in (("host", host), ("port", port))
               if value is not None}
    if not changes:
        return config
    return config.model_copy(update={"server": config.server.model_copy(update=changes)})


def local_url(host: str, port: int) -> str:
    """The http URL this machine reaches a server listening on host:port at."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/"


@click.command()
@listen_options("default: server.host and server.port")
@click.pass_obj
def run(state: CliState, host: str | None, port: int | None) -> None:
    """Poll every enabled source on its schedule and serve the feeds over HTTP.

    Feeds that include a source are rebuilt as soon as a run stores new or changed items.
    Stops cleanly on SIGTERM or Ctrl-C. Only one `run` may use a SQLite store at a time.
    """
    from syndicator.service import run_service

    with reported_errors():
        config = with_listen(state.config(check_selectors=True), host, port)
        code = run_service(config, echo=lambda line: click.echo(line, err=True))
    sys.exit(code)


@click.command()
@click.pass_obj
def worker(state: CliState) -> None:
    """Run the jobs (polls, builds, pushes) without serving HTTP.

    With PostgreSQL storage, every `worker` and `run` on the database shares the work
    (procrastinate); with SQLite, this is the one process polling the store. Stops cleanly
    on SIGTERM or Ctrl-C.
    """
    from syndicator.service import run_service

    with reported_errors():
        config = state.config(check_selectors=True)
        code = run_service(config, echo=lambda line: click.echo(line, err=True), http=False)
    sys.exit(code)


@click.command()
@listen_options("default: server.host and server.port")
@click.pass_obj
def serve(state: CliState, host: str | None, port: int | None) -> None:
    """Serve the feeds in output_dir and the status over HTTP, without polling anything.

    Feed files rewritten by another process (`syndicator build`) are picked up within
    seconds. /healthz is healthy while the store can be read.
    """
    from syndicator.serving import serve_only

    with reported_errors():
        config = with_listen(state.config(), host, port)
        code = serve_only(config, echo=lambda line: click.echo(line, err=True))
    sys.exit(code)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@listen_options("default: server.host and server.port", port_zero="0 to read the store only",
                host_note="Address of the running service to ask; 0.0.0.0 and :: ask this "
                          "machine's loopback",
                port_note="Port of the running service to ask")
@click.pass_obj
def status(state: CliState, as_json: bool, host: str | None, port: int | None) -> None:
    """Show every source's last run, health and next run, and every feed's size.

    Asks a live `syndicator run` at server.host:server.port (or --host/--port, as `run`
    was started with) first: it knows the next runs; otherwise reads the store (next runs
    shown as "-").
    """
    with reported_errors():
        config = with_listen(state.config(), host, port)
        url = status_url(config)
        report = fetch_live_status(url) if url else None
        live = report is not None
        if report is None:
            report = _status_from_store(config)
        if as_json:
            click.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
            return
        where = f"live from {url}" if live else (
            "from the store (no `syndicator run` answered"
            + (f" at {url})" if url else ")"))
        print_report(report, config, source_note=where)


def status_url(config: Config) -> str | None:
    if config.server.port == 0:
        return None
    return local_url(config.server.host, config.server.port) + "status.json"


def fetch_live_status(url: str, *, timeout: float = STATUS_TIMEOUT) -> StatusReport | None:
    """The report of a live service, or None when nothing (usable) answers there."""
    # Our own service on this machine: never through an http_proxy from the environment.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            data = json.loads(response.read())
        return StatusReport.from_json(data)
    except (OSError, urllib.error.URLError, ValueError, KeyError, TypeError):
        return None


def _status_from_store(config: Config) -> StatusReport:
    from syndicator.status import ServiceStatus
    from syndicator.store import Store

    store = Store(config.storage_url)
    try:
        return ServiceStatus(config, store).report()
    finally:
        store.close()


def print_report(report: StatusReport, config: Config, *, source_note: str) -> None:
    """Two tables (sources, feeds); what does not fit a cell is listed under the table."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    zone = ZoneInfo(config.timezone)
    today = report.generated.astimezone(zone).date()

    def when(value: datetime | None) -> str:
        if value is None:
            return "-"
        local = value.astimezone(zone)
        return local.strftime("%H:%M:%S" if local.date() == today else "%Y-%m-%d %H:%M")

    console = Console()
    running = "running" if report.scheduler_running else "not running"
    console.print(f"Status at {report.generated.astimezone(zone):%Y-%m-%d %H:%M:%S} "
                  f"({config.timezone}), {source_note}; scheduler {running}")
    sources = Table(title="Sources", title_justify="left", box=box.SIMPLE_HEAD,
                    pad_edge=False)
    sources.add_column("source", overflow="fold")
    sources.add_column("last run", no_wrap=True, min_width=8)
    sources.add_column("outcome", no_wrap=True, min_width=6)
    for column in ("pages", "304", "new", "upd", "items"):
        sources.add_column(column, justify="right", no_wrap=True, min_width=len(column))
    sources.add_column("next run", no_wrap=True, min_width=8)
    notes: list[str] = []
    for s in report.sources:
        run = s.last_run
        outcome = "-" if run is None else "ok" if run.ok else "FAILED"
        if s.consecutive_failures > 1:
            outcome += f" ×{s.consecutive_failures}"
        if s.broken:
            outcome += ", BROKEN"
        if s.stale:
            outcome += ", stale"
        sources.add_row(
            s.source_id, when(run.finished if run else None), outcome,
            _num(run.pages if run else None), _num(run.not_modified if run else None),
            _num(run.new if run else None), _num(run.updated if run else None),
            str(s.items), when(s.next_run))
        if s.broken:
            notes.append(f"{s.source_id}: broken: {s.broken_reason}")
        if run is not None and not run.ok and run.errors:
            notes.append(f"{s.source_id}: last error: {run.errors[0]}")
        if s.backoff_until is not None:
            notes.append(f"{s.source_id}: backing off until {when(s.backoff_until)}")
    console.print(sources)
    for note in notes:
        console.print(f"  {note}", markup=False, highlight=False)
    feeds = Table(title="Feeds", title_justify="left", box=box.SIMPLE_HEAD,
                    pad_edge=False)
    feeds.add_column("feed", no_wrap=True)
    feeds.add_column("items", justify="right")
    feeds.add_column("last build", no_wrap=True)
    for f in report.feeds:
        feeds.add_row(f.feed_id, str(f.items), when(f.last_build))
    console.print(feeds)
    if report.targets:
        console.print("Push targets:")
        for target in report.targets:
            console.print(f"  {_target_line(target)}", markup=False, highlight=False)


def _num(value: int | None) -> str:
    return "-" if value is None else str(value)


def _target_line(target: Any) -> str:
    if isinstance(target, dict):
        return ", ".join(f"{k}: {v}" for k, v in target.items())
    return str(target)
