"""Large feed answers sent with sendfile (syndicator/web/sendfile.py) over a real socket:
every byte arrives, in order, whatever the reader's pace, and always the bytes in memory
(which the headers describe), whatever happens to the published file meanwhile."""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from syndicator.web import sendfile
from syndicator.web.app import WebApp
from syndicator.web.cache import FeedCache
from syndicator.web.protocol import FeedHttpProtocol
from tests.test_web import _exchange, start

pytestmark = pytest.mark.skipif(not sendfile.AVAILABLE, reason="no sendfile/MSG_MORE here")


@dataclass
class Served:
    web: WebApp
    cache: FeedCache
    folder: Path
    url: str
    client: httpx.Client

    @property
    def open_files(self) -> int:
        return len(self.web.fast._open_files)

    def publish(self, name: str, body: bytes) -> Path:
        """Write a file as the publisher does (a new file renamed over the old one)."""
        path = self.folder / name
        temporary = path.with_name(f".{name}.tmp")
        temporary.write_bytes(body)
        temporary.replace(path)
        return path


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    for env in start(tmp_path):       # test_web's server, on FeedHttpProtocol
        assert isinstance(env.web, WebApp)
        yield Served(env.web, env.cache, env.config.output_path,
                     str(env.client.base_url).rstrip("/"), env.client)


def _big(size: int, mark: bytes = b"a") -> bytes:
    line = b"<!-- " + mark * 70 + b" -->\n"
    return (b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>\n'
            + line * (size // len(line)) + b"</channel></rss>\n")


def test_a_large_feed_is_sent_from_its_file(served: Served) -> None:
    body = _big(600_000)
    served.cache.reload([served.publish("office-en.rss", body)])
    etag = served.cache.get("/office-en.rss").etag  # type: ignore[union-attr]
    for _ in range(20):                           # one keep-alive connection
        answer = served.client.get("/office-en.rss", headers={"Accept-Encoding": "identity"})
        assert answer.status_code == 200
        assert answer.content == body
        assert answer.headers["content-length"] == str(len(body))
        assert answer.headers["etag"] == etag
    assert served.open_files == 1                 # sent from one copy, made once
    packed = served.client.get("/office-en.rss", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip"    # ~2 KB: from memory
    assert packed.content == body                          # (httpx inflates it)
    small = served.client.get("/office-be.json", headers={"Accept-Encoding": "identity"})
    assert small.content == (served.folder / "office-be.json").read_bytes()
    assert served.open_files == 1                 # small files go out from memory
    head = served.client.head("/office-en.rss", headers={"Accept-Encoding": "identity"})
    assert head.content == b"" and head.headers["content-length"] == str(len(body))


def test_a_slow_reader_gets_every_byte_in_order(served: Served) -> None:
    # 16 MB does not fit the socket buffers at once: sendfile sends what fits, the transport
    # the rest, and a pipelined second request is answered after all of the first.
    body = _big(16_000_000, b"b")
    served.cache.reload([served.publish("office-en.rss", body)])
    request = b"GET /office-en.rss HTTP/1.1\r\nHost: x\r\n\r\n"
    host, port = served.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16_384)
        sock.sendall(request)
        time.sleep(0.3)                           # the server's first send fills the buffers
        sock.sendall(request)
        reader = sock.makefile("rb")
        for _ in range(2):
            status = reader.readline()
            assert status.startswith(b"HTTP/1.1 200"), status
            length = None
            while (line := reader.readline()) != b"\r\n":
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            assert length == len(body)
            assert reader.read(length) == body


def test_pipelined_and_closing_requests_for_a_large_feed(served: Served) -> None:
    body = _big(300_000, b"c")
    served.cache.reload([served.publish("office-en.rss", body)])
    url = served.url
    raw = (b"GET /office-en.rss HTTP/1.1\r\nHost: x\r\n\r\n"
           b"GET /office-be.json HTTP/1.1\r\nHost: x\r\n\r\n"
           b"GET /office-en.rss HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    responses, closed = _exchange(url, raw)
    assert [r[2] for r in responses] == [body, (served.folder / "office-be.json").read_bytes(),
                                         body]
    assert closed


def test_a_replaced_or_rewritten_file_never_changes_an_answer(served: Served) -> None:
    old = _big(300_000, b"d")
    path = served.publish("office-en.rss", old)
    served.cache.reload([path])
    first = served.client.get("/office-en.rss", headers={"Accept-Encoding": "identity"})
    assert first.content == old and served.open_files == 1
    # A build replaces the file, then a tool rewrites it in place; the cache has not
    # reloaded. The answers stay the version the cache holds (and its ETag describes).
    served.publish("office-en.rss", _big(300_000, b"e"))
    with path.open("r+b") as handle:
        handle.write(_big(300_000, b"f"))
    for _ in range(3):
        again = served.client.get("/office-en.rss", headers={"Accept-Encoding": "identity"})
        assert again.content == old
        assert again.headers["etag"] == first.headers["etag"]
    served.cache.reload([path])                   # now the new version, from a new copy
    fresh = served.client.get("/office-en.rss", headers={"Accept-Encoding": "identity"})
    assert fresh.content == _big(300_000, b"f")
    assert served.open_files == 1


def test_a_large_gzip_body_is_sent_from_a_copy_too(served: Served) -> None:
    body = os.urandom(200_000).hex().encode()      # compresses to ~50 %: stays above 32 KB
    served.cache.reload([served.publish("office-en.json", body)])
    packed = served.cache.get("/office-en.json")
    assert packed is not None and packed.gzip is not None and len(packed.gzip) > 100_000
    host, port = served.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /office-en.json HTTP/1.1\r\nHost: x\r\n"
                     b"Accept-Encoding: gzip\r\n\r\n")
        reader = sock.makefile("rb")
        assert reader.readline().startswith(b"HTTP/1.1 200")
        headers = {}
        while (line := reader.readline()) != b"\r\n":
            name, _, value = line.partition(b":")
            headers[name.lower()] = value.strip()
        assert headers[b"content-encoding"] == b"gzip"
        assert reader.read(int(headers[b"content-length"])) == packed.gzip
    assert served.open_files == 1


def test_open_files_are_few_exact_and_closed(tmp_path: Path) -> None:
    files = sendfile.OpenFiles(tmp_path, limit=1)
    big, other, small = _big(100_000), _big(100_000, b"h"), b"<rss/>"
    fd = files.fd_for(big)
    assert fd is not None
    assert os.pread(fd, len(big) + 10, 0) == big  # exactly the bytes
    assert files.fd_for(big) == fd                # kept, not copied again
    assert files.fd_for(big[:-1] + big[-1:]) is None   # another body, equal bytes: over the limit
    assert files.fd_for(small) is None            # small: from memory
    assert files.fd_for(other) is None            # over the limit: from memory
    assert list(tmp_path.iterdir()) == []         # the copies have no name
    files.close_all()
    assert len(files) == 0
    with pytest.raises(OSError):
        os.fstat(fd)
    missing = sendfile.OpenFiles(tmp_path / "gone")
    assert missing.fd_for(big) is None            # no folder: from memory, no error


class _Echo(asyncio.Protocol):
    """Stands in for a WebSocket protocol: uvicorn hands it the upgraded connection."""

    def __init__(self, **_: object) -> None:
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:   # uvloop's, not an asyncio.Transport
        self.transport = transport
        transport.write(b"UPGRADED\n")

    def data_received(self, data: bytes) -> None:
        if self.transport is not None and b"\r\n\r\n" not in data:   # not the replayed request
            self.transport.write(data)


def test_an_upgraded_connection_keeps_its_socket(served: Served) -> None:
    # FeedHttpProtocol holds a socket object over the connection's descriptor; when uvicorn
    # hands the connection to a WebSocket protocol, this one is dropped without a
    # connection_lost, and collecting it must not close the descriptor under the new owner.
    config = uvicorn.Config(served.web, host="127.0.0.1", port=0, log_level="warning",
                            lifespan="off", ws=_Echo, access_log=False, http=FeedHttpProtocol)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive()
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /office-en.rss HTTP/1.1\r\nHost: x\r\n\r\n")
            head = sock.recv(65536)
            assert head.startswith(b"HTTP/1.1 200")
            sock.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                         b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                         b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
            line = b""
            while not line.endswith(b"UPGRADED\n"):
                chunk = sock.recv(65536)
                assert chunk, "closed before the upgrade"
                line = (line + chunk)[-64:]
            for _ in range(3):
                gc.collect()
            time.sleep(0.2)
            sock.sendall(b"ping")
            assert sock.recv(4) == b"ping"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
