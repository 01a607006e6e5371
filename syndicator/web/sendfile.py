"""Large feed answers sent with sendfile(2), as nginx sends files.

Writing a 200 KB answer from memory makes the kernel copy it into the socket buffers first;
`sendfile` hands it page-cache pages instead. With the head sent with MSG_MORE and the body
with sendfile, a large answer takes about a third less CPU than one `writev` from memory,
close to what nginx spends on it.

The file sent is a private copy of the bytes in memory, not the published file: an
unlinked file (O_TMPFILE) in the output folder's file system, written once when the body is
first sent after a (re)load. No other program can change it, so what goes out is always
exactly the bytes the headers (ETag, Content-Length) describe, even while a build replaces
the published file, or a tool rewrites it in place; and gzip bodies, which have no file of
their own, go out the same way. Only bodies of 32 KB or more, over plain TCP (never TLS:
the bytes must go through the transport's encryption), when nothing is waiting in the
transport's buffer (the answer must follow what was sent before it). Whatever sendfile
could not send at once goes through the transport.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

log = logging.getLogger(__name__)

# Below this size one writev from memory costs less than the two calls sendfile needs.
SENDFILE_MIN_BYTES = 32 * 1024
# Copies kept for sendfile: a server's traffic is a few popular feeds, and every descriptor
# kept is one fewer for connections. Bodies asked for once this many are kept are answered
# from memory until the next reload.
MAX_OPEN_FILES = 64

AVAILABLE = hasattr(os, "sendfile") and hasattr(socket, "MSG_MORE")


class OpenFiles:
    """Private file copies of large bodies, made on first use, for one event loop thread
    (not thread-safe). A descriptor stays valid until `close_all`, which the owner calls
    when it drops the bodies (a cache reload)."""

    def __init__(self, folder: Path, limit: int = MAX_OPEN_FILES) -> None:
        self._folder = folder
        self._limit = limit
        # id(body) -> (body, descriptor): the body is kept, so its id is not reused.
        self._open: dict[int, tuple[bytes, int]] = {}
        self._unsupported = not AVAILABLE or not hasattr(os, "O_TMPFILE")

    def __len__(self) -> int:
        return len(self._open)

    def fd_for(self, body: bytes) -> int | None:
        """A descriptor of a file holding exactly `body`, or None: a small body, the limit
        reached, or no unlinked files here (the answer then comes from memory)."""
        if len(body) < SENDFILE_MIN_BYTES or self._unsupported:
            return None
        kept = self._open.get(id(body))
        if kept is not None and kept[0] is body:
            return kept[1]
        if len(self._open) >= self._limit:
            return None
        try:
            fd = os.open(self._folder, os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o600)
        except OSError as exc:      # a file system without O_TMPFILE, a read-only folder
            log.info("feed bodies are sent from memory: no unlinked file in %s (%s)",
                     self._folder, exc)
            self._unsupported = True
            return None
        try:
            view = memoryview(body)
            while view:
                view = view[os.write(fd, view):]
        except OSError as exc:      # a full disk: this body goes out from memory
            log.warning("cannot copy a feed body for sendfile into %s: %s", self._folder, exc)
            os.close(fd)
            return None
        self._open[id(body)] = (body, fd)
        return fd

    def close_all(self) -> None:
        open_now, self._open = self._open, {}
        for _, fd in open_now.values():
            os.close(fd)


def send_head_and_file(sock: socket.socket, head: bytes, fd: int, size: int
                       ) -> tuple[int, int]:
    """Send `head`, then up to `size` bytes of file `fd` from its start, without blocking.
    Returns how much of each went out: the caller sends the rest of the head, then the
    rest of the body, through the transport. MSG_MORE keeps the head in the socket until
    the body follows, so that both leave in full segments (nginx's tcp_nopush)."""
    try:
        head_sent = sock.send(head, socket.MSG_MORE)
    except (BlockingIOError, InterruptedError):
        return 0, 0
    except OSError:
        return 0, 0                     # a broken connection: the transport will see it
    if head_sent < len(head):
        return head_sent, 0
    try:
        return head_sent, os.sendfile(sock.fileno(), fd, 0, size)
    except OSError:                     # EAGAIN, or a broken connection, as above
        return head_sent, 0
