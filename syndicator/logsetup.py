"""How Syndicator logs: the one setup, made by the command line and by every process it
starts (processes.py), so that a worker's records look like its parent's."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that say too much at INFO.
NOISY = ("urllib3", "charset_normalizer", "alembic")


def setup_logging(level: int) -> None:
    logging.basicConfig(level=level, format=FORMAT)
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
