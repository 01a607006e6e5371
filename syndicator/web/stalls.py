"""The send timeout: a connection whose answers make no progress for `limits.send_timeout`
seconds is aborted, as nginx's `send_timeout`.

A client that asks and never reads keeps what the server wrote for it: the answers in the
transport's buffer (the fast path writes a whole feed at once; pipelined requests add one
each) and the kernel's socket buffers, for as long as the connection lives. Nothing else
ends such a connection: while an answer is being written no other deadline runs, and
`transport.close()` waits for the buffer to drain first, for ever when nobody reads.

`SendWatch` is armed whenever the transport holds unsent bytes that it cannot pass on at
once: when the transport pauses writing (its buffer passed the high-water mark) and when
the connection is closed with bytes still in it. Every `timeout` seconds it looks: an empty
buffer is done; more bytes acknowledged by the client than last time is progress (a slow
reader still reading is never cut off, however long the whole answer takes); none is a
stall: the transport is aborted, its buffer dropped and the socket closed with a reset
(SO_LINGER 0), so that the kernel drops what it held for the client too. Progress is read
from the kernel (TCP_INFO's tcpi_bytes_acked, Linux): uvloop counts a write as buffered
until all of it is sent, so the buffer's size does not shrink while a large answer drains;
where TCP_INFO cannot be read, a smaller buffer is the progress. The watch costs nothing
on the path of a reader that keeps up: it is armed only when bytes wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct

_TCP_INFO = getattr(socket, "TCP_INFO", None)
_BYTES_ACKED = 120              # offset of the u64 tcpi_bytes_acked in Linux's struct tcp_info


class SendWatch:
    """Aborts `transport` when its write buffer stops draining for `timeout` seconds."""

    __slots__ = ("_handle", "_loop", "_sent", "_socket", "_timeout", "_transport")

    def __init__(self, loop: asyncio.AbstractEventLoop, transport: asyncio.Transport,
                 timeout: float) -> None:
        self._loop = loop
        self._transport = transport
        self._timeout = timeout
        self._handle: asyncio.TimerHandle | None = None
        self._sent = 0
        raw = transport.get_extra_info("socket")
        self._socket = (raw if _TCP_INFO is not None and raw is not None
                        and raw.family in (socket.AF_INET, socket.AF_INET6) else None)

    def _buffered(self) -> int:
        return self._transport.get_write_buffer_size()

    def _progress(self) -> int:
        """A number that grows as the client takes what was written to it."""
        if self._socket is not None:
            try:
                info = self._socket.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, _BYTES_ACKED + 8)
            except OSError:
                info = b""
            if len(info) == _BYTES_ACKED + 8:
                acked: int = struct.unpack_from("=Q", info, _BYTES_ACKED)[0]
                return acked
        return -self._buffered()

    def arm(self) -> None:
        """Start watching (no-op when already watching or nothing waits)."""
        if self._handle is None and self._buffered():
            self._sent = self._progress()
            self._handle = self._loop.call_later(self._timeout, self._check)

    def disarm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def close(self) -> None:
        """Close the connection: at once when nothing waits to be sent, else once it is
        sent, or aborted if that stalls."""
        self._transport.close()
        self.arm()

    def _check(self) -> None:
        self._handle = None
        if not self._buffered():
            return
        if self._progress() > self._sent:   # the client read some: watch on
            self.arm()
            return
        if self._socket is not None:
            # A reset, not a FIN queued behind what the kernel holds: that goes too.
            with contextlib.suppress(OSError):
                self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                        struct.pack("ii", 1, 0))
        self._transport.abort()
