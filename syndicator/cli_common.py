"""What every `syndicator` command module shares: the exit codes, the command-line state
(which config file, how verbose) and the mapping of SyndicatorError to a message and an
exit code. cli.py, cli_push.py and cli_service.py import it; it imports none of them."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click

from syndicator.config import Config, load_config, resolve_config_path
from syndicator.errors import ConfigError, SyndicatorError

EXIT_FAILED = 1
EXIT_USAGE = 2


class CliState:
    def __init__(self, config_path: str | None, verbose: int) -> None:
        self.config_path = config_path
        self.verbose = verbose

    def config(self, *, check_selectors: bool = False) -> Config:
        """The loaded config; `check_selectors` for the commands that read pages (the CSS
        engine is not imported by the others)."""
        return load_config(resolve_config_path(self.config_path),
                           check_selectors=check_selectors)


def fail_config(exc: ConfigError) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(EXIT_USAGE)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn our errors into one clear line and an exit code; never a traceback."""
    try:
        yield
    except ConfigError as exc:
        fail_config(exc)
    except SyndicatorError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FAILED)
