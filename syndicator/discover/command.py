"""The `syndicator discover` command: options → discover() → the report and the YAML block.

stdout carries only YAML (the report as `#` comments, then the block), so it can be
redirected into a file or pasted whole; progress goes to stderr. The fetch settings are the
config's `fetch:` section when a config file is there (`--config`, `$SYNDICATOR_CONFIG` or
./config.yaml), else the defaults: the same robots.txt, delays and address policy as a crawl,
and with a PostgreSQL store the per-host limits every instance on it keeps (app.command_fetcher).
"""

from __future__ import annotations

import re
from pathlib import Path

import click

from syndicator.app import command_fetcher
from syndicator.cli_common import CliState, reported_errors
from syndicator.config import FetchConfig, resolve_config_path
from syndicator.config_base import _ID, check_http_url
from syndicator.discover.propose import Discovery, discover
from syndicator.discover.render import add_to_config
from syndicator.errors import AddressRefused

__all__ = ["report_lines", "run_discover"]


def run_discover(state: CliState, url: str, *, source_id: str | None, write_path: Path | None,
                 scrape: bool, cards: int, allow_private: bool, render: bool) -> None:
    try:
        url = check_http_url(url)      # as a source's url: the proposed block must load
    except ValueError as exc:          # the URL is not shown: it may hold a password
        raise click.BadParameter(str(exc), param_hint="URL") from None
    if source_id is not None and not re.match(_ID, source_id):
        raise click.BadParameter(f"{source_id!r}: lower-case letters, digits, - and _ only",
                                 param_hint="--id")
    with reported_errors():
        settings = FetchConfig()
        timezone = "UTC"
        config = None
        explicit = state.config_path is not None
        path = resolve_config_path(state.config_path)
        if explicit or path.exists():
            config = state.config()
            settings = settings.merged(config.fetch)
            timezone = config.timezone
        private = allow_private and not settings.allow_private
        if allow_private:
            settings = settings.model_copy(update={"allow_private": True})
        with command_fetcher(config, "discover") as fetcher:
            try:
                found = discover(url, fetcher, settings, source_id=source_id,
                                 timezone=timezone, scrape=scrape, cards=cards, articles=cards,
                                 private=private, render=render,
                                 say=lambda line: click.echo(line, err=True))
            except AddressRefused:
                if not allow_private:
                    click.echo("hint: a site on loopback or a private network needs "
                               "--allow-private", err=True)
                raise
        click.echo("\n".join(report_lines(found, timezone)))
        click.echo(found.block, nl=False)
        if write_path is not None:
            add_to_config(write_path, found.block, found.source.id,
                          found.source.title or found.source.id)
            click.echo(f"added source {found.source.id!r} and feed {found.source.id!r} to "
                       f"{write_path}; next: syndicator --config {write_path} check "
                       f"{found.source.id}", err=True)


# What a YAML comment cannot hold: characters YAML refuses anywhere in a stream, and line
# breaks (YAML's \x85, U+2028 and U+2029 besides \r and \n), which would end the comment.
_NOT_IN_COMMENT = re.compile("[^\t\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd"
                             "\U00010000-\U0010ffff]")


def report_lines(found: Discovery, timezone: str) -> list[str]:
    """What was found and what the proposal extracts, as YAML comments (a page's text in
    them with whatever would break the YAML shown as U+FFFD)."""
    return [_NOT_IN_COMMENT.sub("\ufffd", line) for line in _report(found, timezone)]


def _report(found: Discovery, timezone: str) -> list[str]:
    lines = [f"# syndicator discover: a `type: {found.kind}` source for {found.source.url}"]
    lines += [f"# {why}" for why in found.why]
    proposal = found.list_proposal
    if proposal is not None:
        fields = ", ".join(f"{name} {hits}/{total}" for name, (hits, total)
                           in proposal.hits.items())
        lines.append(f"# fields right on the {proposal.cards} cards: {fields}")
        if proposal.date_language:
            lines.append(f"# dates read as language {proposal.date_language!r}")
        if "next" not in proposal.selectors:
            lines.append("# no link to a next page found: one listing page per run")
        if len(found.alternatives) > 1:
            lines.append("# card structures considered (score: the higher the likelier):")
            lines += [f"#   {alt.score:>7.1f}  {alt.selector}   ({alt.reason})"
                      for alt in found.alternatives]
    lines.append(f"# the first {len(found.preview)} item(s) as a crawl reads them "
                 f"(dates in {timezone}):")
    for row in found.preview:
        lines.append(f"#   {row.published:<22} {row.title[:80]}")
        lines.append(f"#   {'':<22} {row.url}")
    return lines
