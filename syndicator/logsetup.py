"""How Syndicator logs: the one setup, made by the command line and by every process it
starts (processes.py), so that a worker's records look like its parent's. Every line is
written without the user:password@ of the URLs in it (uris.redact), and without the
signed tokens of subscribers' links, whoever logged it (the access log at -vv has the
paths of /preferences/TOKEN, /unsubscribe/TOKEN, /subscribe/confirm/TOKEN)."""

from __future__ import annotations

import logging
import re

from syndicator.uris import redact

# push/subscribers.py's tokens: base64url of a JSON object ("{" is "eyJ"), a dot, and
# base64url of an HMAC-SHA256 (43 characters). Whoever holds one may act for the address.
_SIGNED_TOKEN = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])")

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that say too much at INFO.
NOISY = ("urllib3", "charset_normalizer", "alembic")


class RedactingFormatter(logging.Formatter):
    """The format, then every URL's credentials out (a library's message or a traceback
    may quote a URL as it was given)."""

    def format(self, record: logging.LogRecord) -> str:
        return _SIGNED_TOKEN.sub("***", redact(super().format(record)))


def setup_logging(level: int) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter(FORMAT))
    logging.basicConfig(level=level, handlers=[handler])
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
