"""Bounds on every HTTP request: the one home of the request limits (`server: {limits: ...}`).

    request line   > limits.request_line bytes     414, connection closed   (protocol.py)
    headers        > limits.headers of them         431, connection closed   (protocol.py)
    whole head     > limits.header_bytes bytes      431, connection closed   (protocol.py)
    trailers       the same two limits as headers   431, connection closed   (protocol.py)
    head not complete within limits.header_timeout  408 (or a silent close), (protocol.py)
    body not complete within limits.body_timeout    408, connection closed   (protocol.py)
    body           > limits.body_bytes bytes        413, connection closed   (BodyLimit here)
    pipelined      > PIPELINE_MAX queued requests   connection dropped       (protocol.py)
    answers making no progress for limits.send_timeout: aborted             (stalls.py)

The head limits are enforced in FeedHttpProtocol (protocol.py), the HTTP layer that parses
every request of `syndicator run` / `serve`, feeds of the fast path included: uvicorn's
httptools protocol has no such limits of its own (only its h11 protocol bounds a head, with
`h11_max_incomplete_event_size`, which httpserver.py sets too for the day it is used).
The body limit is an ASGI middleware in front of every route (app.py): a declared
Content-Length over the cap is refused before a byte of the body is read, and a chunked
body is counted as the route reads it and refused as soon as it passes the cap. uvicorn
reads at most 64 KB ahead of what the route has read, so neither kind is ever held whole.
Starlette's own RequestBodyLimitMiddleware is not used: its 413 keeps the connection open,
so the rest of an oversized body would still be read off the socket and thrown away.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from syndicator.config import ServerLimits
from syndicator.errors import SyndicatorError

__all__ = ["BodyLimit", "BodyTooLarge", "HeadRefused", "ServerLimits", "log_throttled",
           "refusal"]

LOG_EVERY = 60.0     # seconds between two log lines about the same kind of bad request
# Bad requests logged once a minute (log_throttled), shared by every connection of the
# process: for each message, how many came since its last line and when that was.
_throttled: dict[str, tuple[int, float]] = {}


def log_throttled(logger: logging.Logger, message: str, now: float) -> None:
    """uvicorn logs a warning for every unparsable request and every upgrade request it does
    not take: a client sending them by the thousand would fill the log. One line a minute
    at most for each message, with the count; `now` is the event loop's clock."""
    count, logged = _throttled.get(message, (0, -LOG_EVERY))
    if now - logged >= LOG_EVERY:
        logger.warning("%s (%d since the last such line)", message, count + 1)
        _throttled[message] = (0, now)
    else:
        _throttled[message] = (count + 1, logged)

REASONS = {
    400: "Bad Request",
    408: "Request Timeout",
    413: "Content Too Large",
    414: "URI Too Long",
    431: "Request Header Fields Too Large",
}


class HeadRefused(SyndicatorError):
    """A request's line or headers passed a limit; `status` is the answer (414 or 431)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class BodyTooLarge(SyndicatorError):
    """A request body passed `limits.body_bytes` while a route was reading it."""


def refusal(status: int, reason: str, default_lines: bytes = b"") -> bytes:
    """A complete HTTP/1.1 answer refusing a request, closing the connection: a status line,
    `default_lines` (uvicorn's date/server lines), and `reason` as a one-line text body."""
    body = reason.encode("ascii", "replace") + b"\n"
    return b"".join((
        f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\n".encode("ascii"),
        default_lines,
        b"content-type: text/plain; charset=utf-8\r\n",
        b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
        b"x-content-type-options: nosniff\r\n",
        b"connection: close\r\n\r\n",
        body,
    ))


async def _unless_gone(answering: Awaitable[None]) -> None:
    """Await a route's answer; a client that left while the route read its body (or that
    the body timeout dropped) is no error of ours, and leaves no traceback in the log."""
    with contextlib.suppress(ClientDisconnect):
        await answering


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:      # llhttp refuses such a request before it gets here
                return None
    return None


class BodyLimit:
    """ASGI middleware: a request body larger than `max_bytes` gets 413 and the connection
    is closed, whichever route it was sent to and however it is framed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None:
            # The parser delivers exactly the declared length: nothing to count.
            if declared > self.max_bytes:
                await self._refuse(send)
            else:
                await _unless_gone(self.app(scope, receive, send))
            return
        seen = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(f"request body over {self.max_bytes} bytes")
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await _unless_gone(self.app(scope, counted_receive, watched_send))
        except BodyTooLarge:
            if started:     # too late for a 413: end the answer by dropping the connection
                raise
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = f"request body larger than {self.max_bytes} bytes\n".encode("ascii")
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode("ascii")),
            (b"x-content-type-options", b"nosniff"),
            # uvicorn closes the connection after this answer, so the rest of the body is
            # never read off the socket.
            (b"connection", b"close"),
        ]})
        await send({"type": "http.response.body", "body": body})
