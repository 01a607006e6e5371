"""What one client may make the server keep, tried from outside over raw sockets against
`syndicator serve` as a real process, with its memory read from /proc: header values it
sends (conditional.py memoises only short ones), a connection it never reads from
(stalls.py's send timeout); what a health probe costs the database."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serve_support import Served, read_answer, serve, status_of
from sqlalchemy import make_url

from syndicator.web.protocol import PIPELINE_MAX
from tests.pgproxy import PgProxy
from tests.postgres_support import postgres_database

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")

LONG = 60_000           # within the head limit of serve_support (64 KiB)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(tmp_path_factory.mktemp("bounds")) as server:
        yield server


def _long_value(header: str, unique: int) -> str:
    if header == "If-None-Match":
        return ",".join(f'"{unique}-{item}"' for item in range(6000))[:LONG]
    if header == "Accept-Encoding":
        return ",".join(f"x{unique}-{item}" for item in range(6000))[:LONG]
    return (f"{unique}-" * LONG)[:LONG]


def _ask(served: Served, header: str, value: str) -> bytes:
    with served.connect() as sock:
        sock.sendall(f"GET /news.rss HTTP/1.1\r\nHost: x\r\n{header}: {value}\r\n"
                     "Connection: close\r\n\r\n".encode())
        return read_answer(sock)


@pytest.mark.parametrize("header", ["If-None-Match", "If-Modified-Since", "Accept-Encoding"])
def test_long_unique_header_values_are_not_kept(served: Served, header: str) -> None:
    # Memoised whole, 1,100 unique 60 KB If-None-Match values grew the server by ~930 MB
    # for good (600 If-Modified-Since values: +35 MB); 300 here would keep 250 MB and 18 MB.
    for unique in range(20):                # the allocator's first growth is not the leak
        _ask(served, header, _long_value(header, unique))
    before = served.memory_kb()
    for unique in range(20, 320):
        answer = _ask(served, header, _long_value(header, unique))
        assert status_of(answer) == 200, answer[:200]
    growth = served.memory_kb() - before
    print(f"300 unique {header} values of {LONG} bytes: server RSS +{growth} kB")
    assert growth < 8 * 1024, f"{growth} kB"


def test_a_matching_tag_among_the_first_ones_still_gets_304(served: Served) -> None:
    etag = read_answer_head(served)["etag"]
    answer = _ask(served, "If-None-Match", f'"a", W/{etag}, ' + '"b", ' * 3000 + '"c"')
    assert status_of(answer) == 304, answer[:200]
    late = ", ".join(f'"{item}"' for item in range(40)) + ", " + etag
    assert status_of(_ask(served, "If-None-Match", late)) == 200     # past the 32 looked at
    assert status_of(_ask(served, "If-None-Match", "*")) == 304


def read_answer_head(served: Served) -> dict[str, str]:
    answer = _ask(served, "X-Nothing", "1")
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")[1:]
    return {name.lower(): value.strip() for name, _, value in
            (line.partition(":") for line in head)}


@pytest.mark.postgres
def test_a_hammered_healthz_asks_the_database_about_once_a_second(tmp_path: Path) -> None:
    # One connection asking /healthz of `serve` in a loop cost a PostgreSQL transaction per
    # request (438 requests/s → 2,795 transactions in 3 s); the verdict is kept ~1 s.
    for url in postgres_database():
        parsed = make_url(url).set(query={"sslmode": "disable"})
        with PgProxy((parsed.host or "127.0.0.1", parsed.port or 5432)) as relay:
            relayed = parsed.set(host="127.0.0.1", port=relay.port)
            with serve(tmp_path, storage=relayed.render_as_string(hide_password=False)
                       ) as server, httpx.Client(trust_env=False, timeout=10) as client:
                assert client.get(server.url + "/healthz").status_code == 200
                before = sum(relay.counts().values())
                for _ in range(300):
                    assert client.get(server.url + "/healthz").status_code == 200
                messages = sum(relay.counts().values()) - before
        print(f"300 /healthz: {messages} PostgreSQL protocol messages")
        assert messages < 100, messages



SEND_TIMEOUT = 2.0
BIG = 8 * 1024 * 1024       # more than the kernel's socket buffers take (4 MB at most)
TCP_ESTABLISHED = 1
ASK_BIG = b"GET /news.rss HTTP/1.1\r\nHost: x\r\nAccept-Encoding: identity\r\n\r\n"


def _publish_big_feed(served: Served, folder: Path) -> None:
    """An 8 MB news.rss, written as a build would; returns once the server sends it."""
    feed = folder / "feeds" / "news.rss"
    part = feed.with_suffix(".part")
    part.write_bytes(b"<rss>" + b"<!-- padding -->" * (BIG // 16) + b"</rss>\n")
    part.replace(feed)
    with httpx.Client(trust_env=False, timeout=10) as client:
        for _ in range(300):
            answer = client.head(served.url + "/news.rss", headers={"Accept-Encoding": "identity"})
            if int(answer.headers["content-length"]) > BIG:
                return
            time.sleep(0.1)
    raise AssertionError("the server did not pick up the new news.rss")


def _tcp_state(sock: socket.socket) -> int:
    return struct.unpack("B", sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1))[0]


def test_a_client_that_never_reads_is_dropped_after_the_send_timeout(tmp_path: Path) -> None:
    # Clients with a tiny receive buffer asking for an 8 MB feed and never reading: the
    # answer waited in the server's buffers for ever, the connection with it. Now each is
    # aborted once its answer makes no progress for the send timeout, while a slow reader
    # that keeps reading gets all of it, however long that takes.
    with serve(tmp_path, send_timeout=SEND_TIMEOUT) as server:
        _publish_big_feed(server, tmp_path)
        stalled = []
        for _ in range(4):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
            sock.connect(("127.0.0.1", server.port))
            sock.sendall(ASK_BIG)
            stalled.append(sock)
        with socket.socket() as reader:
            reader.connect(("127.0.0.1", server.port))
            reader.sendall(ASK_BIG.replace(b"Host: x", b"Host: x\r\nConnection: close"))
            reader.settimeout(30)
            received = b""
            while chunk := reader.recv(BIG // 8):
                received += chunk
                time.sleep(SEND_TIMEOUT / 4)        # slow, but never a whole send timeout
        assert status_of(received) == 200 and received.endswith(b"</rss>\n")
        assert len(received) > BIG
        for _ in range(int(SEND_TIMEOUT * 10) + 300):
            if all(_tcp_state(sock) != TCP_ESTABLISHED for sock in stalled):
                break
            time.sleep(0.1)
        states = [_tcp_state(sock) for sock in stalled]
        for sock in stalled:
            sock.close()
        # Reset by the server (SO_LINGER 0): its socket and the kernel's buffers are gone.
        assert TCP_ESTABLISHED not in states, states


def test_pipelined_requests_past_the_queue_cap_end_the_connection(served: Served) -> None:
    # Requests for the app (not the fast path) queue behind the one being answered, each
    # with its scope and cycle; a client may queue PIPELINE_MAX, and one more ends it.
    ask = b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n"
    last = b"GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with served.connect() as sock:
        sock.sendall(ask * PIPELINE_MAX + last)
        answers = read_answer(sock, timeout=30)
    assert answers.count(b"HTTP/1.1 200 ") == PIPELINE_MAX + 1
    with served.connect() as sock:
        sock.sendall(ask * (PIPELINE_MAX + 50) + last)
        answers = read_answer(sock, timeout=30)
    assert answers.count(b"HTTP/1.1 ") < PIPELINE_MAX + 1
    assert b" 503 " not in answers          # no answer out of order, just the end


def test_embed_frames_are_kept_and_their_renders_charged(served: Served) -> None:
    # Two connections asking /embed/<feed> in a loop, each request rendered anew, cut the
    # feed's throughput tenfold. A frame is now kept per feed version and parameters, with
    # an ETag; a render not kept takes a query token (burst 20 by default).
    client_address = {"X-Forwarded-For": "10.77.0.1"}
    with httpx.Client(base_url=served.url, trust_env=False, timeout=10,
                      headers=client_address) as client:
        first = client.get("/embed/news", params={"limit": "3", "theme": "dark"})
        assert first.status_code == 200 and "frame-ancestors *" in first.headers[
            "content-security-policy"]
        again = client.get("/embed/news", params={"theme": "dark", "limit": "03"})
        assert again.status_code == 200 and again.headers["etag"] == first.headers["etag"]
        assert again.content == first.content
        unchanged = client.get("/embed/news", params={"limit": "3", "theme": "dark"},
                               headers={"If-None-Match": first.headers["etag"]})
        assert unchanged.status_code == 304 and not unchanged.content
        answers = [client.get("/embed/news", params={"limit": str(n)}) for n in range(4, 50)]
        statuses = [answer.status_code for answer in answers]
        assert statuses[:19] == [200] * 19          # the burst, less the first render
        refused = [answer for answer in answers if answer.status_code == 429]
        assert refused and int(refused[0].headers["retry-after"]) >= 1
        # What is kept is answered whatever the tokens.
        assert client.get("/embed/news", params={"limit": "3", "theme": "dark"}
                          ).status_code == 200
