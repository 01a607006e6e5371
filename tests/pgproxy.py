"""A TCP proxy in front of PostgreSQL that can be cut, and that counts protocol messages.

Tests put it between the processes and the machine's PostgreSQL: `stop()` is an outage as
clients see one (new connections refused, open ones reset), `start()` on the same port is
the database coming back. It also reads the frontend (client → server) half of the
PostgreSQL wire protocol and counts its messages by type, so a benchmark can say what a
unit of work costs the database: a simple Query ('Q') or a Sync ('S') ends a round trip,
an Execute ('E') or a simple Query runs a statement. Connections that switch to TLS are
passed through uncounted (use `sslmode=disable` to count). `statements()` counts the
statements run by their text (a prepared statement's Execute by the text it was parsed from),
to tell which component sends what.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections import Counter

_SSL_REQUEST = 80877103
_GSS_REQUEST = 80877104
_CANCEL_REQUEST = 80877102


class _Frontend:
    """Splits one connection's client → server bytes into protocol messages."""

    def __init__(self, counts: Counter[str], texts: Counter[str],
                 lock: threading.Lock) -> None:
        self._counts = counts
        self._texts = texts
        self._lock = lock
        self._parsed: dict[bytes, str] = {}     # statement name → its text
        self._bound = "?"                       # text of the statement last bound
        self._buffer = b""
        self._startup = True           # untyped messages until the StartupMessage
        self.blind = False             # TLS negotiated: nothing more can be read

    def feed(self, data: bytes) -> None:
        if self.blind:
            return
        self._buffer += data
        seen: list[str] = []
        texts: list[str] = []
        while True:
            if self._startup:
                if len(self._buffer) < 8:
                    break
                length, code = struct.unpack("!II", self._buffer[:8])
                if len(self._buffer) < length:
                    break
                self._buffer = self._buffer[length:]
                if code in (_SSL_REQUEST, _GSS_REQUEST):
                    seen.append("ssl-request")     # answered 'N' (no TLS) or TLS follows
                    continue
                if code != _CANCEL_REQUEST:
                    seen.append("startup")
                self._startup = False
                continue
            if len(self._buffer) < 5:
                break
            kind = chr(self._buffer[0])
            (length,) = struct.unpack("!I", self._buffer[1:5])
            if len(self._buffer) < 1 + length:
                break
            body, self._buffer = self._buffer[5:1 + length], self._buffer[1 + length:]
            seen.append(kind)
            ran = self._statement(kind, body)
            if ran is not None:
                texts.append(ran)
        if seen:
            with self._lock:
                self._counts.update(seen)
                self._texts.update(texts)

    def _statement(self, kind: str, body: bytes) -> str | None:
        """The text of the statement a message runs (Execute, Query), else None."""
        if kind == "P":
            name, _, rest = body.partition(b"\0")
            self._parsed[name] = _text(rest.partition(b"\0")[0])
        elif kind == "B":
            _portal, _, rest = body.partition(b"\0")
            self._bound = self._parsed.get(rest.partition(b"\0")[0], "?")
        elif kind == "E":
            return self._bound
        elif kind == "Q":
            return _text(body.partition(b"\0")[0])
        return None

    def upstream_said(self, data: bytes) -> None:
        """The server's first byte after an SSLRequest: 'S' means TLS, unreadable here."""
        if self._startup and data[:1] == b"S":
            self.blind = True


class PgProxy:
    """Forwards a loopback port to `target` until stopped; can start again on its port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self.connections = 0
        self._counts: Counter[str] = Counter()
        self._texts: Counter[str] = Counter()
        self._server: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> PgProxy:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self.port = server.getsockname()[1]
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True,
                         name="pgproxy-accept").start()
        return self

    @property
    def running(self) -> bool:
        return self._server is not None

    def counts(self) -> Counter[str]:
        """Frontend messages seen so far, by type byte ('Q', 'P', 'B', 'E', 'S', ...)."""
        with self._lock:
            return Counter(self._counts)

    def statements(self) -> Counter[str]:
        """Statements run so far, by their text (whitespace folded)."""
        with self._lock:
            return Counter(self._texts)

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                continue
            frontend = _Frontend(self._counts, self._texts, self._lock)
            with self._lock:
                if self._server is not server:      # cut while connecting
                    doomed = True
                else:
                    doomed = False
                    self._sockets += [client, upstream]
                    self.connections += 1
            if doomed:
                _reset(client)
                _reset(upstream)
                continue
            threading.Thread(target=self._pipe, args=(client, upstream, frontend.feed),
                             daemon=True, name="pgproxy-up").start()
            threading.Thread(target=self._pipe, args=(upstream, client, frontend.upstream_said),
                             daemon=True, name="pgproxy-down").start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket, observe: object) -> None:
        assert callable(observe)
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                observe(data)
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        """The outage: the port refuses connections and every open one is reset."""
        server, self._server = self._server, None
        if server is not None:
            # shutdown() wakes the accept() blocked in the proxy's thread (close alone does
            # not: that accept would go on taking connections).
            with contextlib.suppress(OSError):
                server.shutdown(socket.SHUT_RDWR)
            server.close()
        with self._lock:
            doomed, self._sockets = self._sockets, []
        for sock in doomed:
            _reset(sock)

    def __enter__(self) -> PgProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _text(query: bytes) -> str:
    return " ".join(query.decode(errors="replace").split())


def _reset(sock: socket.socket) -> None:
    """Close with a TCP RST rather than a FIN, as a crashed or unplugged server does.

    shutdown() first: close() alone does not end a recv() another thread is blocked in
    (the pipe threads always are), and the kernel keeps that socket open, so the client
    would see neither RST nor FIN and wait on its query forever."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
