"""How Syndicator logs: the one setup, made by the command line and by every process it
starts (processes.py), so that a worker's records look like its parent's. Every line is
written without the user:password@ of the URLs in it (uris.redact), whoever logged it."""

from __future__ import annotations

import logging

from syndicator.uris import redact

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that say too much at INFO.
NOISY = ("urllib3", "charset_normalizer", "alembic")


class RedactingFormatter(logging.Formatter):
    """The format, then every URL's credentials out (a library's message or a traceback
    may quote a URL as it was given)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def setup_logging(level: int) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter(FORMAT))
    logging.basicConfig(level=level, handlers=[handler])
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
