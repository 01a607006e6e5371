"""uvicorn's httptools protocol with the fast path (prepared.py) moved down to the HTTP layer.

Through ASGI, every request costs uvicorn a scope, a request-response cycle object, an
asyncio Event and Task, two awaited sends, header validation and two socket writes: several
times the CPU nginx spends on the same answer, and about as much again as the kernel spends
sending a 200 KB feed over loopback. So for the requests that `FastPath` answers anyway (a
GET or HEAD without a query string that a `PreparedRoute` of the app's route table has an
answer for: feeds, archive pages, the directory pages, static and embed files),
`FeedHttpProtocol` writes the prepared answer straight to the transport, in one
`writelines`, as soon as the request's headers are parsed; every other request takes
uvicorn's path to the ASGI app unchanged.

    uvicorn.Config(app, http=FeedHttpProtocol)        # `syndicator run` / `serve`
    uvicorn --http syndicator.web.protocol:FeedHttpProtocol ...

Two per-request costs of uvicorn's protocol are cut for every request: the ASGI scope is
built only for requests that go to the app, and the keep-alive timer is one lazy timer per
idle connection instead of a timer armed and cancelled for every response (same rule).
A body of 32 KB or more goes out with sendfile from a private file copy (sendfile.py): the
kernel no longer copies it from this process's memory.

The answer is the one `WebApp` gives through ASGI (the same `Prepared` header lines, plus
uvicorn's `date` and `server` default headers), and is counted in the same metrics.
uvicorn's path is taken whenever anything is unusual: no `WebApp` found behind uvicorn's
own wrappers, an access log, a root path, a request still in progress on the connection
(pipelining keeps its order), a paused writer (a slow reader), `Expect: 100-continue`, an
upgrade, a query.

Every request, fast or not, is held here to the head limits of `server: {limits: ...}`
(limits.py; docs/server.md, "Limits"): request line, header count and head size (414/431,
closed; the parser is fed no more of a head than the limit, or twice that when pipelined
requests come many to a read: httptools joins a header's pieces by concatenation), the same
for a chunked body's trailer fields (never kept), deadlines for a complete head and body
(408), the keep-alive timeout, at most PIPELINE_MAX queued pipelined requests, and the send
timeout (stalls.py). uvicorn's httptools protocol has none of them.

This subclasses uvicorn's HttpToolsProtocol and relies on its per-connection attributes
(parser, url, headers, cycle, pipeline, flow, transport, server_state); tests/test_web.py
runs the web tests through it on a real socket, so an uvicorn release that changes them
fails there, not in production; pyproject.toml allows only the tested uvicorn minor
release. The only module besides httpserver.py that imports uvicorn.
"""

from __future__ import annotations

import asyncio
import socket
import time
import urllib.parse
from typing import Any

import httptools
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from syndicator.config import ServerLimits
from syndicator.web import sendfile
from syndicator.web.app import WebApp
from syndicator.web.limits import HeadRefused, log_throttled, refusal
from syndicator.web.stalls import SendWatch

_FAST_METHODS = frozenset({b"GET", b"HEAD"})
_CLOSE = b"connection: close\r\n"
PIPELINE_MAX = 32    # requests queued behind the one being answered; more: connection dropped


def find_web_app(app: Any) -> WebApp | None:
    """The WebApp uvicorn runs, seen through its proxy-headers wrapper (which only rewrites
    the client address and scheme, neither of which a feed answer uses); None for any other
    app or wrapper, which then gets every request through ASGI."""
    while isinstance(app, ProxyHeadersMiddleware):
        app = app.app
    return app if isinstance(app, WebApp) else None


class FeedHttpProtocol(HttpToolsProtocol):
    """HttpToolsProtocol answering feed requests without going through ASGI."""

    # uvicorn's default headers (date, server) change once a second; their lines are
    # joined once per change, shared by every connection of the process.
    _defaults: list[tuple[bytes, bytes]] | None = None
    _default_lines = b""
    # The head limits and header timeout; `with_limits` makes a class with the configured ones.
    limits = ServerLimits()

    @classmethod
    def with_limits(cls, limits: ServerLimits) -> type[FeedHttpProtocol]:
        """This protocol with `limits` (uvicorn.Config takes a class, not an instance)."""
        return type(cls.__name__, (cls,), {"limits": limits})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # uvicorn logs access lines when its access logger has handlers (self.access_log);
        # answers written here would be missing from that log, so they are written here
        # only when the operator turned the access log off. Deciding by the setting, not
        # the handlers: test runners attach capture handlers to every logger.
        logging_access = self.config.access_log and self.access_log
        self._web = None if logging_access or self.root_path else find_web_app(self.app)
        self._answered = False      # the current request was answered here
        # Reading a request's line and headers (or waiting for them), and how many more
        # bytes that head may have; see data_received. The limits the per-request path
        # reads are copied here as plain numbers.
        limits = self.limits
        self._head_max = limits.header_bytes
        self._line_max = limits.request_line
        self._fields_max = limits.headers
        # a later request's head deadline, from the keep-alive deadline of the answer before
        self._head_after_idle = limits.header_timeout - self.timeout_keep_alive
        self._in_head = True
        self._head_room = self._head_max
        # After a head, how many more bytes that are not body (chunk framing, trailers) the
        # parser may get before the next body byte; see data_received.
        self._tail_room = self._head_max
        self._trailers = 0          # trailer fields of the current request so far
        # When the connection is closed unless it gets on (loop time): the end of the
        # header timeout while a head is read or awaited, of the keep-alive timeout while
        # idle after a response (`_idle`); None while a request is being answered.
        self._deadline: float | None = None
        self._idle = False
        self._timer_at = 0.0        # when timeout_keep_alive_task fires
        self._socket: socket.socket | None = None      # for sendfile; see connection_made
        self._watch: SendWatch | None = None            # the send timeout (stalls.py)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch = SendWatch(self.loop, transport, self.limits.send_timeout)
        self._set_deadline(self.loop.time() + self.limits.header_timeout)
        # Large feed bodies go out with sendfile on this connection's socket (sendfile.py):
        # a socket object over the transport's descriptor (uvloop's own stand-in cannot
        # send with flags), detached in connection_lost so that it never closes it. Plain
        # TCP only: through TLS every byte must pass the transport.
        if self._web is None or not sendfile.AVAILABLE or self.scheme != "http":
            return
        raw = transport.get_extra_info("socket")
        if raw is None or raw.family not in (socket.AF_INET, socket.AF_INET6):
            return
        try:
            own = socket.socket(raw.family, raw.type, fileno=raw.fileno())
        except OSError:
            return
        try:
            own.setblocking(False)  # never wait in the event loop, whatever the default
        except OSError:
            own.detach()
            return
        self._socket = own

    def on_message_begin(self) -> None:
        # uvicorn builds the request's ASGI scope here (a dict, a copy of the app state):
        # wasted on a request answered here, so it is built only when uvicorn's path takes
        # the request (_to_asgi). on_url and on_header fill these three.
        self.url = b""
        self.headers = []
        self.expect_100_continue = False

    def data_received(self, data: bytes | memoryview) -> None:
        if self._in_head:
            if self._idle:
                # A kept-alive connection's next request: its head must be complete within
                # the header timeout of the previous answer (moved from the keep-alive
                # deadline set then: no clock read on this path).
                self._idle = False
                if self._deadline is not None:
                    self._deadline += self._head_after_idle
                    if self._head_after_idle < 0:   # sooner than the timer: re-arm it
                        self._set_deadline(self._deadline)
            if len(data) > self._head_room:
                self._head_overflow(data)
                return
            self._head_room -= len(data)        # full again when the head is complete
        elif len(data) > self._tail_room:
            self._tail_overflow(data)
            return
        else:
            self._tail_room -= len(data)        # full again at a body byte (on_body)
        try:                                    # inlined _feed: the path of every request
            self.parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            self._parse_failed(exc)

    def _head_overflow(self, data: bytes | memoryview) -> None:
        """The parser gets no more of a head than the limit: what fits first; if no head
        was completed in it, the head is too large; otherwise the rest goes on (a body,
        or more requests: pipelined ones can come many to a read). The head begun in
        that slice is counted afresh from the rest, so it is refused at twice the limit
        at most."""
        room = self._head_room
        self._head_room = 0             # on_headers_complete fills it again
        view = memoryview(data)
        self._feed(view[:room])
        if self.transport.is_closing():
            return
        if self._in_head and self._head_room == 0:
            self._refuse(431, f"request head larger than {self._head_max} bytes")
        else:
            self.data_received(view[room:])

    def _tail_overflow(self, data: bytes | memoryview) -> None:
        """The same after a head: past the head limit of bytes that are no body (a chunked
        body's trailer fields, which httptools also joins by concatenation, and chunk
        lines) with no body byte among them, the request is refused. The last read with a
        body byte is not counted, so that is refused at the limit plus one read at most."""
        room = self._tail_room
        self._tail_room = 0             # on_body or on_headers_complete fills it again
        view = memoryview(data)
        self._feed(view[:room])
        if self.transport.is_closing():
            return
        if not self._in_head and self._tail_room == 0:
            self._refuse(431, f"request trailers larger than {self._head_max} bytes")
        else:
            self.data_received(view[room:])

    def _feed(self, data: bytes | memoryview) -> None:
        try:
            self.parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            self._parse_failed(exc)

    def _parse_failed(self, exc: Exception) -> None:
        """uvicorn's data_received's handling of parser errors, with a limit's refusal
        (raised by a callback) answered as such."""
        if isinstance(exc, httptools.HttpParserUpgrade):
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        elif isinstance(exc.__context__, HeadRefused):
            self._refuse(exc.__context__.status, exc.__context__.reason)
        else:
            self._log_throttled("Invalid HTTP request received")
            self.send_400_response("Invalid HTTP request received.")

    def _unsupported_upgrade_warning(self) -> None:
        # uvicorn's two warnings for every upgrade request it does not take (any upgrade
        # without a WebSocket library installed), as one throttled line.
        if self._should_upgrade_to_ws():
            self._log_throttled("Unsupported upgrade request")
        else:
            self._log_throttled("Unsupported upgrade request; no WebSocket library installed: "
                                "uvicorn[standard], websockets or wsproto")

    def _log_throttled(self, message: str) -> None:
        log_throttled(self.logger, message, self.loop.time())

    def _refuse(self, status: int, reason: str) -> None:
        """Answer `status` with `reason` and close. Not logged: a client sending such
        requests by the thousand must not fill the log. A request already answered (here
        at its head, or by the app) while its body or trailers were still coming gets no
        second answer: the connection is just closed."""
        cycle = self.cycle
        if self._in_head:
            answer = cycle is None or cycle.response_complete or not cycle.response_started
        else:
            answer = not self._answered and (cycle is None or not cycle.response_started)
        if self.transport.is_closing():
            return                          # dropped already (too many pipelined requests)
        if answer:
            self.transport.write(refusal(status, reason, self._lines_of_defaults()))
        # else: an answer is being written on this connection; it is cut short
        self._close()

    def _close(self) -> None:
        """Close once what was written is sent; aborted if that stalls (stalls.py)."""
        assert self._watch is not None
        self._watch.close()

    def pause_writing(self) -> None:
        super().pause_writing()
        assert self._watch is not None
        self._watch.arm()

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._watch is not None and not self.transport.is_closing():
            self._watch.disarm()

    def timeout_keep_alive_handler(self) -> None:
        if not self.transport.is_closing():
            self._close()

    def _lines_of_defaults(self) -> bytes:
        defaults = self.server_state.default_headers
        if defaults is not FeedHttpProtocol._defaults:
            FeedHttpProtocol._default_lines = b"".join(
                name + b": " + value + b"\r\n" for name, value in defaults)
            FeedHttpProtocol._defaults = defaults
        return FeedHttpProtocol._default_lines

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._in_head:
            self._on_trailer()
            return
        # uvicorn's on_header (inlined: a call less for every header of every request)
        name = name.lower()
        value = value.rstrip(b" \t")        # llhttp keeps trailing whitespace (RFC 9110 5.5)
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        self.headers.append((name, value))

    def _on_trailer(self) -> None:
        """A trailer field (after a chunked body; httptools reports them as headers, and
        uvicorn appended them to the headers the app had already been given). Counted
        against the header count limit, and dropped: no ASGI app can read them."""
        self._trailers += 1
        if self._trailers > self._fields_max:
            raise HeadRefused(431, f"more than {self._fields_max} trailer fields")

    def on_headers_complete(self) -> None:
        # checked while still in the head: _refuse answers a refused head, whatever came
        # before it on the connection
        if len(self.url) > self._line_max:
            raise HeadRefused(414, f"request target longer than {self._line_max} bytes")
        if len(self.headers) > self._fields_max:
            raise HeadRefused(431, f"more than {self._fields_max} header fields")
        self._in_head = False
        self._head_room = self._head_max
        self._tail_room = self._head_max
        self._trailers = 0
        self._deadline = None           # busy until the answer is complete
        self._answered = False
        web = self._web
        if (web is not None and not self.expect_100_continue and not self.flow.write_paused
                and not self.transport.is_closing()
                and (self.cycle is None or self.cycle.response_complete)
                and not self.pipeline and self.parser.get_method() in _FAST_METHODS
                and not self.parser.should_upgrade() and self._answer(web)):
            self._answered = True
            return
        if len(self.pipeline) >= PIPELINE_MAX:
            # A client queueing requests it does not read the answers of: each holds a
            # scope and a cycle. It gets no answer out of order, just the end.
            self.transport.abort()
            raise HeadRefused(503, f"more than {PIPELINE_MAX} pipelined requests")
        self._to_asgi()

    def _to_asgi(self) -> None:
        """Hand the request to uvicorn's path: its on_message_begin makes the scope (and
        resets url, headers and the expect flag, which are put back), then its
        on_headers_complete starts the ASGI cycle. Its body, if any, must be complete
        within limits.body_timeout."""
        self._set_deadline(self.loop.time() + self.limits.body_timeout)
        url, headers, expect = self.url, self.headers, self.expect_100_continue
        super().on_message_begin()
        self.url, self.expect_100_continue = url, expect
        self.headers.extend(headers)        # the list the scope holds as "headers"
        super().on_headers_complete()

    # Deadlines. uvicorn arms a timer (loop.call_later) after every response and cancels
    # it when the next request's data arrives: two timer operations per request, a fifth
    # of the Python time of a feed answer. Here a connection has at most one timer: when it
    # fires it closes the connection if its deadline has passed, and otherwise re-arms
    # itself for what is left; a deadline moved later costs no timer operation. Deadlines:
    # a complete head within `limits.header_timeout` of the connection's opening or of the
    # previous answer on a kept-alive connection (else 408, or a silent close when nothing
    # came); a complete body within `limits.body_timeout` of its head (else 408); and
    # uvicorn's rule while idle: closed `timeout_keep_alive` seconds after the last
    # response unless a new request has begun.

    def _set_deadline(self, when: float) -> None:
        self._deadline = when
        task = self.timeout_keep_alive_task
        if task is not None and self._timer_at <= when:
            return
        if task is not None:
            task.cancel()
        self._timer_at = when
        self.timeout_keep_alive_task = self.loop.call_at(when, self._deadline_due)

    def _unset_keepalive_if_required(self) -> None:
        # uvicorn calls this when the connection is lost (and, in its own data_received and
        # on_response_complete, both replaced here).
        if self.timeout_keep_alive_task is not None:
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = None

    def on_response_complete(self) -> None:
        # uvicorn's on_response_complete, with the lazy timer.
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            assert self._watch is not None
            self._watch.arm()       # uvicorn closed it (Connection: close): bounded too
            return
        self.flow.resume_reading()
        if self.pipeline:
            self._deadline = None
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        self._idle = True
        when = self.loop.time() + self.timeout_keep_alive
        self._deadline = when
        if self.timeout_keep_alive_task is None or self._timer_at > when:
            self._set_deadline(when)

    def _deadline_due(self) -> None:
        self.timeout_keep_alive_task = None
        deadline = self._deadline
        if deadline is None or self.transport.is_closing():
            return                  # busy now: the response's completion sets a deadline
        left = deadline - self.loop.time()
        if left > 0:
            self._timer_at = deadline
            self.timeout_keep_alive_task = self.loop.call_at(deadline, self._deadline_due)
        elif self._idle or (self._in_head and self._head_room == self._head_max):
            self.timeout_keep_alive_handler()       # nothing asked: close without a word
        elif self._in_head:
            self._refuse(408, f"request head not complete within "
                              f"{self.limits.header_timeout:g} s")
        else:
            self._refuse(408, f"request body not complete within "
                              f"{self.limits.body_timeout:g} s")

    def _forget_socket(self) -> None:
        if self._socket is not None:
            self._socket.detach()           # the descriptor is the transport's to close
            self._socket = None

    def connection_lost(self, exc: Exception | None) -> None:
        self._forget_socket()
        if self._watch is not None:
            self._watch.disarm()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self) -> None:
        # The transport goes to another protocol and this one is dropped without a
        # connection_lost: its socket object must not close the descriptor when collected.
        self._forget_socket()
        super().handle_websocket_upgrade()
        if self.timeout_keep_alive_task is not None:
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = None

    def _answer(self, web: WebApp) -> bool:
        started = time.perf_counter()
        try:
            parsed = httptools.parse_url(self.url)
        except httptools.HttpParserInvalidURLError:
            return False
        if parsed.query is not None:
            return False
        try:
            path = parsed.path.decode("ascii")
        except UnicodeDecodeError:
            return False
        if "%" in path:
            path = urllib.parse.unquote(path)     # as uvicorn builds scope["path"]
        chosen = web.fast.select(path, self.headers)
        if chosen is None:
            return False
        _, variant, status, route = chosen
        method = "GET" if self.parser.get_method() == b"GET" else "HEAD"
        default_lines = self._lines_of_defaults()
        keep_alive = (self.parser.get_http_version() != "1.0"
                      and self.parser.should_keep_alive())
        if status == 304:
            head = [STATUS_LINE[304], default_lines,
                    variant.not_modified_lines]
            body = b""
        else:
            head = [STATUS_LINE[200], default_lines, variant.ok_lines]
            body = variant.data if method == "GET" else b""
        if not keep_alive:
            head.append(_CLOSE)
        head.append(b"\r\n")
        fd = (web.fast.file_descriptor(variant)
              if body and self._socket is not None and not self.transport.get_write_buffer_size()
              else None)
        if fd is not None:
            self._send_file(b"".join(head), body, fd)
        else:
            self.transport.writelines((b"".join(head), body) if body else head)
        if not keep_alive:
            self._close()
        web.metrics.http_request(route, method, status, time.perf_counter() - started)
        self.on_response_complete()     # counts the request, arms the keep-alive timer
        return True

    def _send_file(self, head: bytes, body: bytes, fd: int) -> None:
        """Head and body straight to the socket, the body by sendfile from `fd` (a file
        holding exactly `body`); what did not go out at once follows through the
        transport, in order (its buffer was empty, so nothing can come between)."""
        assert self._socket is not None
        head_sent, body_sent = sendfile.send_head_and_file(self._socket, head, fd, len(body))
        if head_sent < len(head):
            self.transport.writelines((head[head_sent:], body))
        elif body_sent < len(body):
            self.transport.write(memoryview(body)[body_sent:])

    def on_body(self, body: bytes) -> None:
        self._tail_room = self._head_max
        if not self._answered:      # a body sent with a GET we answered: nobody reads it
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._in_head = True            # what comes next is the next request's head
        if not self._idle:
            self._deadline = None       # read whole: the body deadline is met
        if not self._answered:
            super().on_message_complete()
