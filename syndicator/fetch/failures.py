"""How the Fetcher tells failures apart: which are worth a retry, and their one-line
descriptions (requests' and urllib3's nested messages made readable, URLs without
credentials). Part of the `requests` adapter."""

from __future__ import annotations

import re

import requests

from syndicator.errors import DeadlineExceeded
from syndicator.uris import redact

# urllib3 starts a connection error's text with the connection object's repr:
# "<urllib3.connection.HTTPSConnection object at 0x7f...>: Failed to resolve ...".
_OBJECT = re.compile(r"<[\w.]+ object at 0x[0-9a-fA-F]+>:?\s*")


def transient(exc: Exception) -> bool:
    """Worth another try: the network failed, not the request or a certificate."""
    if isinstance(exc, requests.exceptions.SSLError | requests.exceptions.InvalidURL):
        return False
    return isinstance(exc, requests.ConnectionError | requests.Timeout
                      | requests.exceptions.ChunkedEncodingError)


def late(url: str, seconds: float, run: bool) -> DeadlineExceeded:
    """The error for a request cut by its deadline: the source run's (`run`) or its own."""
    if run:
        return DeadlineExceeded("the source run's deadline (fetch.run_deadline) passed during "
                                "this request", url=redact(url))
    return DeadlineExceeded(f"no complete answer within {seconds:.3g} s (fetch.request_deadline)",
                            url=redact(url))


def describe(exc: Exception) -> str:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connect timeout"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "read timeout"
    if isinstance(exc, requests.exceptions.SSLError):
        return f"TLS error: {_reason(exc)}"
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema
                  | requests.exceptions.InvalidSchema):
        return f"invalid URL: {exc}"
    if isinstance(exc, requests.ConnectionError):
        return f"connection failed: {_reason(exc)}"
    return f"{type(exc).__name__}: {_reason(exc)}"


def _reason(exc: Exception) -> str:
    """The useful part of urllib3's nested messages (MaxRetryError wraps the real cause)."""
    inner = exc.args[0] if exc.args else None
    reason = getattr(inner, "reason", None)
    return _OBJECT.sub("", str(reason if reason is not None else exc))
