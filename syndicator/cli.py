"""The `syndicator` command line (click). Maps SyndicatorError to a message and exit code.

Exit codes: 0 success; 1 a source or feed failed (the others still ran); 2 invalid
config or command-line misuse.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from syndicator import __version__, cli_push, cli_service
from syndicator.app import App, make_app
from syndicator.cli_common import EXIT_FAILED, CliState, reported_errors
from syndicator.config import resolve_config_path
from syndicator.jobs.tuning import failover_problem
from syndicator.logsetup import setup_logging
from syndicator.model import RunResult


def _setup_logging(verbose: int) -> None:
    setup_logging(logging.WARNING if verbose == 0 else logging.INFO if verbose == 1
                  else logging.DEBUG)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", metavar="PATH", default=None,
              help="Config file (default: $SYNDICATOR_CONFIG, else ./config.yaml).")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(__version__, prog_name="syndicator")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: int) -> None:
    """Syndicator: scrape or ingest news sites and publish RSS, Atom and JSON feeds."""
    _setup_logging(verbose)
    ctx.obj = CliState(config_path, verbose)


# --- validate --------------------------------------------------------------------------------

@cli.command()
@click.pass_obj
def validate(state: CliState) -> None:
    """Check the config file, every selector and pattern compiled; exit 2 naming the key
    path, line and column of every problem.

    Warns (exit 0) about what the file cannot say: a source in no feed, a `render: browser`
    source this machine cannot render (no Playwright, no Chromium), a `jobs.stalled_after`
    that lets a killed instance's jobs wait over 30 s for another."""
    with reported_errors():
        config = state.config(check_selectors=True)
        path = resolve_config_path(state.config_path)
        click.echo(f"{path}: OK: {len(config.sources)} source(s), {len(config.feeds)} feed(s)")
        unused = {s.id for s in config.sources} - {sid for f in config.feeds for sid in f.sources}
        for source_id in sorted(unused):
            click.echo(f"warning: source {source_id!r} is in no feed", err=True)
        failover = failover_problem(config.jobs.stalled_after)
        if failover is not None:
            click.echo(f"warning: {failover}", err=True)
        rendered = [s for s in config.sources if s.render == "browser"]
        if rendered:
            from syndicator.fetch import render_problem

            for source in rendered:
                problem = render_problem(config.fetch_for(source).browser.executable)
                if problem is not None:
                    click.echo(f"warning: source {source.id!r} cannot run on this machine: "
                               f"{problem}", err=True)


@cli.command()
@click.pass_obj
def migrate(state: CliState) -> None:
    """Bring the store's schema to this version's and exit (every command that opens the
    store does it too; an upgrade of several instances runs this first)."""
    from syndicator.store import Store
    from syndicator.store.outage import describe_store

    with reported_errors():
        config = state.config()
        store = Store(config.storage_url)
        try:
            revision = store.head_revision()
        finally:
            store.close()
        click.echo(f"{describe_store(config.storage_url)}: schema at revision {revision}")


# --- fetch -----------------------------------------------------------------------------------

@cli.command()
@click.argument("source_ids", nargs=-1, metavar="[SOURCE_ID ...]")
@click.option("--max-pages", type=click.IntRange(min=1), default=None,
              help="Override list.max_pages for this run.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar (default: only on a terminal).")
@click.option("--backfill", is_flag=True,
              help="Walk all listing pages of one html source (up to list.backfill_pages), "
                   "resuming where an earlier walk stopped.")
@click.option("--restart", is_flag=True, help="With --backfill: start again at page 1.")
@click.pass_obj
def fetch(state: CliState, source_ids: tuple[str, ...], max_pages: int | None,
          progress: bool | None, backfill: bool, restart: bool) -> None:
    """Scrape or ingest sources and store their items (all enabled sources by default)."""
    if backfill or restart:
        _fetch_backfill(state, source_ids, max_pages=max_pages, restart=restart,
                        backfill=backfill, progress=progress)
        return
    with reported_errors():
        config = state.config(check_selectors=True)
        sources = [config.source(sid) for sid in source_ids] if source_ids else [
            s for s in config.sources if s.enabled]
        with make_app(config) as app:
            results = run_sources(app, [s.id for s in sources], max_pages=max_pages,
                                  show_progress=sys.stderr.isatty() if progress is None
                                  else progress)
        if any(not r.ok for r in results):
            sys.exit(EXIT_FAILED)


def run_sources(app: App, source_ids: Sequence[str], *, max_pages: int | None = None,
                show_progress: bool = False,
                echo: Callable[[str], None] = click.echo) -> list[RunResult]:
    """Run the given sources one after the other, printing one summary line per source."""
    from syndicator.pipeline import run_source

    results: list[RunResult] = []
    for source_id in source_ids:
        source = app.config.source(source_id)
        with _progress_bar(source_id, show_progress) as progress:
            result = run_source(app, source, max_pages=max_pages, progress=progress)
        results.append(result)
        echo(summary_line(result))
    return results


def summary_line(result: RunResult) -> str:
    seconds = (result.finished - result.started).total_seconds()
    status = "ok" if result.ok else "FAILED"
    line = (f"{result.source_id}: {status}: {result.pages} page(s) fetched, "
            f"{result.not_modified} not modified, {result.items_seen} item(s) seen, "
            f"{result.new} new, {result.updated} updated in {seconds:.1f}s")
    if result.errors:
        line += f"; {len(result.errors)} error(s): {result.errors[0]}"
        if len(result.errors) > 1:
            line += f" (and {len(result.errors) - 1} more)"
    elif result.warnings:
        line += f"; warning: {result.warnings[0]}"
    return line


@contextmanager
def _progress_bar(source_id: str, enabled: bool) -> Iterator[Callable[[str, str], None]]:
    if not enabled:
        yield lambda event, detail: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  transient=True, console=_stderr_console()) as bar:
        task = bar.add_task(f"{source_id}: listing", total=None)

        def update(event: str, detail: str) -> None:
            if event == "page":
                bar.update(task, description=f"{source_id}: listing {detail}")
            elif event == "articles":
                bar.update(task, description=f"{source_id}: articles", total=int(detail),
                           completed=0)
            elif event == "article":
                bar.advance(task)

        yield update


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def _fetch_backfill(state: CliState, source_ids: tuple[str, ...], *, max_pages: int | None,
                    restart: bool, backfill: bool, progress: bool | None) -> None:
    """`fetch --backfill SOURCE_ID`: the whole history of one source (see backfill.py)."""
    import signal
    import threading

    from syndicator.backfill import backfill as walk
    from syndicator.backfill import summary_line as backfill_line

    if not backfill:
        raise click.UsageError("--restart goes with --backfill")
    if len(source_ids) != 1 or max_pages is not None:
        raise click.UsageError("--backfill takes exactly one SOURCE_ID (and no --max-pages: "
                               "the bound is the source's list.backfill_pages)")
    with reported_errors():
        config = state.config(check_selectors=True)
        source = config.source(source_ids[0])
        stop = threading.Event()

        def on_interrupt(signum: int, frame: object) -> None:
            # First Ctrl-C: finish the page under way (it is stored whole), then stop.
            # A second one interrupts at once: the default handler is back.
            click.echo("stopping after the current page (Ctrl-C again to abort)", err=True)
            stop.set()
            signal.signal(signal.SIGINT, signal.default_int_handler)

        show = sys.stderr.isatty() if progress is None else progress
        previous = signal.signal(signal.SIGINT, on_interrupt)
        try:
            with make_app(config) as app, _backfill_bar(source.id, show) as on_page:
                result = walk(app, source, restart=restart, stop=stop, on_page=on_page)
        finally:
            signal.signal(signal.SIGINT, previous)
        click.echo(backfill_line(result))
        if not result.ok:
            sys.exit(EXIT_FAILED)


@contextmanager
def _backfill_bar(source_id: str, enabled: bool) -> Iterator[Callable[[int, int, str], None]]:
    """Pages done / list.backfill_pages on a terminal."""
    if not enabled:
        yield lambda done, bound, url: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  transient=True, console=_stderr_console()) as bar:
        task = bar.add_task(f"{source_id}: backfill", total=None)

        def update(done: int, bound: int, url: str) -> None:
            bar.update(task, total=bound, completed=done,
                       description=f"{source_id}: backfill {url}")

        yield update


# --- build -----------------------------------------------------------------------------------

@cli.command()
@click.option("--feed", "feed_ids", multiple=True, metavar="FEED_ID",
              help="Build only this feed (repeatable).")
@click.option("--prune-removed", is_flag=True,
              help="On PostgreSQL: also delete, from every instance's output folder, the "
                   "files of feeds this configuration does not have (run it once every "
                   "instance runs this configuration).")
@click.pass_obj
def build(state: CliState, feed_ids: tuple[str, ...], prune_removed: bool) -> None:
    """Write every feed (RSS, Atom, JSON Feed), index.html and feeds.opml to output_dir."""
    with reported_errors():
        config = state.config()
        if prune_removed and feed_ids:
            raise click.BadParameter("--prune-removed builds every feed: leave out --feed",
                                     param_hint="--prune-removed")
        known = {f.id for f in config.feeds}
        for feed_id in feed_ids:
            if feed_id not in known:
                raise click.BadParameter(f"unknown feed {feed_id!r} (known: "
                                         f"{', '.join(sorted(known)) or 'none'})",
                                         param_hint="--feed")
        with make_app(config) as app:
            build_and_report(app, only=feed_ids or None, prune_removed=prune_removed)


def build_and_report(app: App, *, only: Sequence[str] | None = None,
                     echo: Callable[[str], None] = click.echo,
                     prune_removed: bool = False) -> None:
    from syndicator.publish import build_feeds

    # After `fetch` in one process (demo), the idle page workers help with the archives.
    result = build_feeds(app.config, app.store, app.clock(), only=only,
                         workers=app.workers_if_made, prune_removed=prune_removed)
    for summary in result.feeds:
        echo(f"{summary.feed.id}: {summary.items} item(s)")
    echo(f"wrote {len(result.written)} file(s), {len(result.unchanged)} unchanged, "
         f"in {app.config.output_path}")


# --- check -----------------------------------------------------------------------------------

@cli.command()
@click.argument("source_id")
@click.option("--cards", type=click.IntRange(min=1), default=3, show_default=True,
              help="How many listing cards to print.")
@click.pass_obj
def check(state: CliState, source_id: str, cards: int) -> None:
    """Dry run: fetch one listing page and one article, print every field; writes nothing."""
    from syndicator.check import check_source

    with reported_errors():
        config = state.config(check_selectors=True)
        source = config.source(source_id)
        from syndicator.app import command_fetcher

        with command_fetcher(config, "check") as fetcher:
            ok = check_source(config, source, fetcher, cards=cards, echo=click.echo)
        if not ok:
            sys.exit(EXIT_FAILED)


# --- discover --------------------------------------------------------------------------------

@cli.command()
@click.argument("url")
@click.option("--id", "source_id", metavar="ID", default=None,
              help="Id of the proposed source (default: from the URL's host and path).")
@click.option("--write", "write_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Add the source, and a feed of it, to this config file.")
@click.option("--scrape", is_flag=True,
              help="Propose scraping the page even when it advertises a feed.")
@click.option("--cards", type=click.IntRange(min=1), default=5, show_default=True,
              help="How many cards to show as the proposal extracts them.")
@click.option("--allow-private", is_flag=True,
              help="Allow a site on loopback or a private network (as fetch.allow_private).")
@click.option("--render", is_flag=True,
              help="Render the listing in headless Chromium (render: browser), for lists "
                   "built by JavaScript.")
@click.pass_obj
def discover(state: CliState, url: str, source_id: str | None, write_path: Path | None,
             scrape: bool, cards: int, allow_private: bool, render: bool) -> None:
    """Propose a config source block for the listing page at URL (printed as YAML)."""
    from syndicator.discover.command import run_discover

    run_discover(state, url, source_id=source_id, write_path=write_path, scrape=scrape,
                 cards=cards, allow_private=allow_private, render=render)


# --- demo ------------------------------------------------------------------------------------

@cli.command()
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the database and feeds (default: a new temporary folder).")
@click.option("--once", is_flag=True,
              help="Fetch and build, print where the files are, and exit (for CI and scripts).")
@cli_service.listen_options("default: 127.0.0.1, any free port")
def demo(output: Path | None, once: bool, host: str | None, port: int | None) -> None:
    """Serve the bundled demo site on loopback, fetch and build it, and serve the feeds
    (index, previews, /status, /builder) until Ctrl-C; --once builds and exits."""
    from syndicator.demo import demo_config, demo_links, demo_site_root
    from syndicator.demo.server import SiteServer
    from syndicator.httpserver import listen

    try:
        with reported_errors(), contextlib.ExitStack() as cleanup:
            folder = output or Path(tempfile.mkdtemp(prefix="syndicator-demo-"))
            folder.mkdir(parents=True, exist_ok=True)
            site = cleanup.enter_context(SiteServer(demo_site_root()))
            click.echo(f"demo site: {site.url}en/news/")
            # Bound before the build, so every page and feed links to where it is served.
            sock = None if once else listen(host or "127.0.0.1", port or 0)
            served_at = None
            if sock is not None:
                cleanup.callback(sock.close)
                served_at = cli_service.local_url(*sock.getsockname()[:2])
            config = demo_config(site.url, folder, served_at=served_at, env=dict(os.environ))
            with make_app(config) as app:
                results = run_sources(app, [s.id for s in config.sources],
                                      show_progress=sys.stderr.isatty())
                build_and_report(app)
            failed = any(not r.ok for r in results)
            click.echo(f"feeds: {config.output_path}")
            if once:
                for feed in config.feeds:
                    click.echo(f"  {config.output_path / (feed.id + '.rss')}")
                sys.exit(EXIT_FAILED if failed else 0)
            from syndicator.service import run_service

            click.echo("open in a browser:")
            for what, url in demo_links(config, site.url):
                click.echo(f"  {what + ':':<11}{url}")
            click.echo("serving until Ctrl-C")
            code = run_service(config, echo=lambda line: click.echo(line, err=True), sock=sock)
        sys.exit(code or (EXIT_FAILED if failed else 0))
    except KeyboardInterrupt:      # during the first fetch; serving handles its own
        click.echo("demo: interrupted", err=True)
        sys.exit(130)


# The commands of the service and of push live in their own modules.
cli.add_command(cli_service.run)
cli.add_command(cli_service.serve)
cli.add_command(cli_service.worker)
cli.add_command(cli_service.status)
cli.add_command(cli_push.push_command)
cli.add_command(cli_push.subscribers_group)


def main() -> None:
    cli(prog_name="syndicator")
