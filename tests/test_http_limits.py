"""Bounds on every HTTP request (docs/server.md, "Limits"), tried as an attacker would: raw
sockets against `syndicator serve` as a real process, with its memory read from /proc.

Issue 17: a 1 GB chunked POST to /subscribe/<target> took the process to 1.1 GB; a 150 MB
header on the feed fast path was accepted and stalled every other client; a client sending
its headers slowly held a connection for ever; the Host header was reflected in a
redirect; the subscribe and unsubscribe pages could be framed.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serve_support import (
    BODY_BYTES,
    BODY_TIMEOUT,
    HEADER_BYTES,
    HEADER_TIMEOUT,
    IDLE_TIMEOUT,
    Served,
    read_answer,
    serve,
    status_of,
)
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from test_web import Server, make_config

from syndicator.web.app import create_web_app
from syndicator.web.cache import FeedCache
from syndicator.web.context import WebContext

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")

PIECE = b"a" * 65536
# What a refused client may still get into the server's and the kernel's buffers before it
# notices the connection is gone: the limit, a read, and both sides' socket buffers.
SLACK = 16 * 1024 * 1024


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(tmp_path_factory.mktemp("limits")) as server:
        yield server


class Prober:
    """A second client asking for the feed in a loop on its own connections while an
    attack runs: the slowest answer it waited for, and how many it got."""

    def __init__(self, served: Served) -> None:
        self.url = served.url + "/news.rss"
        self.slowest = 0.0
        self.answers = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                with httpx.Client(trust_env=False, timeout=30) as client:
                    response = client.get(self.url)
                if response.status_code != 200:
                    self.errors.append(str(response.status_code))
            except httpx.HTTPError as exc:
                self.errors.append(repr(exc))
            self.slowest = max(self.slowest, time.monotonic() - started)
            self.answers += 1
            self._stop.wait(0.05)

    def __enter__(self) -> Prober:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def stream_until_refused(sock: socket.socket, first: bytes, piece: bytes,
                         most: int) -> tuple[int, bytes]:
    """Send `first`, then `piece` again and again until the server answers or drops the
    connection, or `most` bytes went out; (bytes sent, what the server answered)."""
    sock.settimeout(10)
    sock.sendall(first)
    sent = len(first)
    while sent < most:
        readable, _, _ = select.select([sock], [], [], 0)
        if readable:
            break
        try:
            sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            return sent, b""
        sent += len(piece)
    return sent, read_answer(sock)


def peak_growth_kb(served: Served, attack: Iterator[None]) -> int:
    """How much the server's resident memory grew at its peak during `attack` (kB)."""
    before = served.memory_kb()
    peak_known = served.reset_peak()
    for _ in attack:
        pass
    after = served.memory_kb("VmHWM") if peak_known else served.memory_kb()
    return after - before


# --- finding 2: request heads -----------------------------------------------------------

@pytest.mark.parametrize("path", ["/news.rss", "/status"])   # fast path, then Starlette
def test_a_head_over_the_limit_gets_431_and_is_closed(served: Served, path: str) -> None:
    with served.connect() as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nX-Big: ".encode()
                     + b"a" * (HEADER_BYTES + 1000))
        answer = read_answer(sock)
    assert status_of(answer) == 431, answer[:200]
    assert b"connection: close" in answer


def test_pipelined_requests_past_the_head_limit_in_one_read_are_all_answered(
        served: Served) -> None:
    # Many small requests sent at once may come in one read larger than the head limit:
    # each head is within it, so each is answered.
    one = b"GET /news.rss HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 900 + b"\r\n\r\n"
    count = 2 * HEADER_BYTES // len(one) + 3
    with served.connect() as sock:
        sock.sendall(one * (count - 1) + one.replace(b"Host: x", b"Host: x\r\nConnection: close"))
        answers = read_answer(sock, timeout=20)
    assert answers.count(b"HTTP/1.1 200 ") == count
    assert b" 431 " not in answers


def test_too_many_headers_get_431(served: Served) -> None:
    with served.connect() as sock:
        sock.sendall(b"GET /news.rss HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 101 + b"\r\n")
        assert status_of(read_answer(sock)) == 431
    with served.connect() as sock:      # 99 more are fine
        sock.sendall(b"GET /news.rss HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     + b"X-A: b\r\n" * 97 + b"\r\n")
        assert status_of(read_answer(sock)) == 200


@pytest.mark.parametrize("path", ["/news.rss", "/status"])   # fast path, then Starlette
def test_a_head_refused_after_an_answer_on_the_connection_gets_its_431(served: Served,
                                                                       path: str) -> None:
    with served.connect() as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        time.sleep(0.5)     # answered (a pipelined refusal is another matter)
        sock.sendall(b"GET /news.rss HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 101 + b"\r\n")
        answers = read_answer(sock)
    assert answers.count(b"HTTP/1.1 ") == 2 and b"HTTP/1.1 431 " in answers, answers[-300:]


@pytest.mark.parametrize("path", ["/news.rss", "/status", "/news.rss?limit=1"])
def test_a_long_request_target_gets_414(served: Served, path: str) -> None:
    with served.connect() as sock:
        sock.sendall(f"GET {path}{'/' if '?' not in path else '&x='}".encode() + b"a" * 9000
                     + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status_of(read_answer(sock)) == 414


def test_a_huge_header_is_cut_off_early_and_others_are_served(served: Served) -> None:
    # 100 MB of one header, as fast as the client can send it, on the feed fast path.
    def attack() -> Iterator[None]:
        with Prober(served) as prober, served.connect() as sock:
            sent, _ = stream_until_refused(sock, b"GET /news.rss HTTP/1.1\r\nX-Big: ", PIECE,
                                           100 * 1024 * 1024)
            result["sent"] = sent
            time.sleep(0.3)
            yield
        result["prober"] = prober

    result: dict[str, object] = {}
    growth = peak_growth_kb(served, attack())
    prober = result["prober"]
    assert isinstance(prober, Prober)
    assert isinstance(result["sent"], int) and result["sent"] < HEADER_BYTES + SLACK
    assert prober.answers > 0 and not prober.errors
    assert prober.slowest < 2.0, prober.slowest     # it stalled them for 5-16 s
    assert growth < 20 * 1024, f"{growth} kB"
    print(f"huge header: refused after {result['sent']} bytes sent, server peak RSS "
          f"+{growth} kB, slowest other answer {prober.slowest * 1000:.0f} ms")


# --- header and idle timeouts --------------------------------------------------------------

def test_slow_heads_are_closed_after_the_header_timeout(served: Served) -> None:
    # Slowloris: 40 connections each sending a header line every 0.3 s never finish their
    # head; each is answered 408 and closed about HEADER_TIMEOUT after it began, while
    # another client is served as usual. A connection that sends nothing is closed too.
    socks = [served.connect() for _ in range(40)]
    silent = served.connect()
    began = time.monotonic()
    try:
        with Prober(served) as prober:
            for sock in socks:
                sock.sendall(b"GET /news.rss HTTP/1.1\r\nHost: x\r\n")
            open_socks = list(socks)
            while open_socks and time.monotonic() - began < HEADER_TIMEOUT + 8:
                for sock in list(open_socks):
                    try:
                        sock.sendall(b"X-Drip: 1\r\n")
                    except (BrokenPipeError, ConnectionResetError):
                        open_socks.remove(sock)
                time.sleep(0.3)
            waited = time.monotonic() - began
        assert not open_socks, f"{len(open_socks)} slow heads still open after {waited:.1f} s"
        assert waited >= HEADER_TIMEOUT - 0.1
        silent.settimeout(5)
        assert silent.recv(100) == b""
        assert prober.answers > 0 and not prober.errors and prober.slowest < 2.0
    finally:
        for sock in [*socks, silent]:
            sock.close()


def test_a_slow_head_gets_408(served: Served) -> None:
    with served.connect() as sock:
        sock.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        answer = read_answer(sock)
        waited = time.monotonic() - started
    assert status_of(answer) == 408
    assert HEADER_TIMEOUT - 0.2 <= waited <= HEADER_TIMEOUT + 5


def test_a_slow_head_after_an_answer_gets_408(served: Served) -> None:
    # On a kept-alive connection the next head is due HEADER_TIMEOUT after the answer.
    with served.connect() as sock:
        sock.sendall(b"GET /news.rss HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while b"</rss>" not in data:
            chunk = sock.recv(65536)
            assert chunk
            data += chunk
        answered = time.monotonic()
        sock.sendall(b"GET /news.rss HTTP/1.1\r\n")
        for _ in range(int(HEADER_TIMEOUT / 0.3) + 20):
            time.sleep(0.3)
            try:
                sock.sendall(b"X-Drip: 1\r\n")
            except (BrokenPipeError, ConnectionResetError):
                break
        waited = time.monotonic() - answered
        answer = read_answer(sock)
    assert status_of(answer) in (408, 0), answer[:100]      # 0: the reset came first
    assert HEADER_TIMEOUT - 0.2 <= waited <= HEADER_TIMEOUT + 5


def test_the_head_deadline_starts_again_for_each_request(served: Served) -> None:
    # A kept-alive connection asking every 0.5 s lives past the header timeout; once
    # quiet it is closed after the idle timeout, without an answer.
    with served.connect() as sock:
        started = quiet = time.monotonic()
        while time.monotonic() - started < HEADER_TIMEOUT + 1:
            time.sleep(0.5)
            sock.sendall(b"GET /news.rss HTTP/1.1\r\nHost: x\r\n\r\n")
            head = b""
            while b"</rss>" not in head:
                chunk = sock.recv(65536)
                assert chunk, "closed while in use"
                head += chunk
            quiet = time.monotonic()
            assert head.startswith(b"HTTP/1.1 200 ")
        assert read_answer(sock) == b""
        assert IDLE_TIMEOUT - 0.2 <= time.monotonic() - quiet <= IDLE_TIMEOUT + 5


# --- finding 1: request bodies -----------------------------------------------------------

CHUNK = b"%x\r\n%s\r\n" % (len(PIECE), PIECE)


@pytest.mark.parametrize("path", ["/subscribe/mail", "/unsubscribe/x", "/status", "/nothing"])
def test_a_declared_body_over_the_limit_gets_413_before_it_is_sent(served: Served,
                                                                    path: str) -> None:
    with served.connect() as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {10 ** 10}\r\n"
                     "Content-Type: application/x-www-form-urlencoded\r\n\r\n".encode())
        answer = read_answer(sock)
    assert status_of(answer) == 413, answer[:200]
    assert b"connection: close" in answer


@pytest.mark.parametrize("path", ["/subscribe/mail", "/unsubscribe/x"])
def test_a_chunked_body_is_refused_as_it_streams(served: Served, path: str) -> None:
    # Up to 300 MB chunked to the form handlers, which read the whole body: refused soon
    # after BODY_BYTES with a 413; the server's memory does not follow.
    def attack() -> Iterator[None]:
        with Prober(served) as prober, served.connect() as sock:
            head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                    "Content-Type: application/x-www-form-urlencoded\r\n\r\n").encode()
            result["sent"], result["answer"] = stream_until_refused(sock, head, CHUNK,
                                                                    300 * 1024 * 1024)
            yield
        result["prober"] = prober

    result: dict[str, object] = {}
    growth = peak_growth_kb(served, attack())
    sent, answer, prober = result["sent"], result["answer"], result["prober"]
    assert isinstance(sent, int) and isinstance(answer, bytes) and isinstance(prober, Prober)
    assert sent < BODY_BYTES + SLACK, sent
    assert not answer or status_of(answer) == 413, answer[:200]
    assert not prober.errors and prober.slowest < 2.0
    assert growth < 20 * 1024, f"{growth} kB"
    print(f"chunked body to {path}: refused after {sent} bytes sent, server peak RSS "
          f"+{growth} kB")


@pytest.mark.parametrize("path", ["/subscribe/mail", "/embed/subscribe?target=mail"])
def test_a_body_dripped_too_slowly_gets_408(served: Served, path: str) -> None:
    with served.connect() as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
                     "Content-Type: application/x-www-form-urlencoded\r\n\r\nemail=".encode())
        started = time.monotonic()
        answer = read_answer(sock)
        waited = time.monotonic() - started
    assert status_of(answer) == 408, answer[:200]
    assert BODY_TIMEOUT - 0.2 <= waited <= BODY_TIMEOUT + 5
    assert "Traceback" not in served.log_text()


def test_a_client_leaving_during_its_body_leaves_no_traceback(served: Served) -> None:
    for path in ["/subscribe/mail", "/unsubscribe/x", "/embed/subscribe?target=mail"]:
        with served.connect() as sock:
            sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
                         "Content-Type: application/x-www-form-urlencoded\r\n\r\n"
                         "email=a".encode())
            time.sleep(0.2)
    time.sleep(0.5)
    assert httpx.get(served.url + "/healthz", trust_env=False).status_code in (200, 503)
    assert "Traceback" not in served.log_text()


def test_a_chunked_body_over_the_limit_gets_413(served: Served) -> None:
    body = b"email=" + b"a" * (BODY_BYTES + 10)
    with served.connect() as sock:
        sock.sendall(b"POST /subscribe/mail HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
                     b"\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n"
                     + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
        answer = read_answer(sock)
    assert status_of(answer) == 413 and b"connection: close" in answer


def test_a_body_within_the_limit_reaches_the_route(served: Served) -> None:
    answer = httpx.post(served.url + "/subscribe/mail", data={"email": "x" * 10_000},
                        trust_env=False)
    assert answer.status_code < 500 and "request body larger than" not in answer.text


async def _read_all(request: Request) -> Response:
    return PlainTextResponse(f"{len(await request.body())} bytes")


def test_the_cap_protects_a_route_that_reads_the_whole_body(tmp_path: Path) -> None:
    # Whatever a route does with its body (this one reads it all, as the subscribe forms
    # did), the web app refuses it past server.limits.body_bytes.
    ctx = WebContext(config=make_config(tmp_path), store=None,  # type: ignore[arg-type]
                     cache=FeedCache(tmp_path), status=None)  # type: ignore[arg-type]
    app = create_web_app(ctx, extra_routes=[Route("/read", _read_all, methods=["POST"])])
    with Server(app) as server:
        url = server.url
        host, port = url.removeprefix("http://").split(":")
        ok = httpx.post(url + "/read", content=b"a" * 60_000, trust_env=False)
        assert ok.status_code == 200 and ok.text == "60000 bytes"
        before = _own_rss_kb()
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sent, answer = stream_until_refused(
                sock, b"POST /read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
                CHUNK, 200 * 1024 * 1024)
        growth = _own_rss_kb() - before
    assert sent < 65536 + SLACK
    assert not answer or status_of(answer) == 413
    assert growth < 20 * 1024, f"{growth} kB"


def _own_rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


# --- trailers: a chunked body's trailer fields are held to the head limits ----------------

TRAILER_FIRST = {
    "/subscribe/mail": b"POST /subscribe/mail HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                       b"Content-Type: application/x-www-form-urlencoded\r\n\r\n",
    "/news.rss": b"GET /news.rss HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
}
SMALL_TRAILERS = b"X-Tn: v\r\n" * 7000


@pytest.mark.parametrize("path", ["/subscribe/mail", "/news.rss"])   # Starlette, fast path
@pytest.mark.parametrize("kind", ["one huge trailer", "many small trailers"])
def test_trailers_are_cut_off_early_and_others_are_served(served: Served, path: str,
                                                          kind: str) -> None:
    # The security review sent 50 MB of one trailer (or 30 MB of small ones) after the last
    # chunk: all accepted over 12.6 s, other clients stalled up to 9.7 s, +98 MB held.
    first = TRAILER_FIRST[path] + b"5\r\nemail\r\n0\r\n"
    if kind == "one huge trailer":
        first, piece, most = first + b"X-Trailer: ", PIECE, 50 * 1024 * 1024
    else:
        piece, most = SMALL_TRAILERS, 30 * 1024 * 1024

    def attack() -> Iterator[None]:
        with Prober(served) as prober, served.connect() as sock:
            started = time.monotonic()
            answered, opening = b"", first
            if path == "/news.rss":     # answered at its head: then the body is streamed
                sock.sendall(first)
                answered, opening = _answers(sock, 1), b""
            result["sent"], answer = stream_until_refused(sock, opening, piece, most)
            result["answer"] = answered + answer
            result["took"] = time.monotonic() - started
            time.sleep(0.3)
            yield
        result["prober"] = prober

    result: dict[str, object] = {}
    growth = peak_growth_kb(served, attack())
    sent, answer, prober = result["sent"], result["answer"], result["prober"]
    assert isinstance(sent, int) and isinstance(answer, bytes) and isinstance(prober, Prober)
    print(f"{kind} to {path}: refused after {sent} bytes sent in {result['took']:.2f} s, "
          f"server peak RSS +{growth} kB, slowest other answer {prober.slowest * 1000:.0f} ms")
    assert sent < HEADER_BYTES + SLACK, sent
    # The form never got its whole body: 431. The feed was answered at its head: its 200,
    # then the connection is closed (a 431 after it would answer a request never made).
    expected = 431 if path == "/subscribe/mail" else 200
    assert not answer or status_of(answer) == expected, answer[:200]
    assert answer.count(b"HTTP/1.1 ") <= 1, answer[:200]
    assert prober.answers > 0 and not prober.errors
    assert prober.slowest < 2.0, prober.slowest
    assert growth < 20 * 1024, f"{growth} kB"
    assert "Traceback" not in served.log_text()


def _answers(sock: socket.socket, count: int) -> bytes:
    """Read until `count` answers ending in `</rss>` or a short text have come."""
    data = b""
    sock.settimeout(10)
    while data.count(b"HTTP/1.1 ") < count or not (data.endswith(b"</rss>\n")
                                                  or data.endswith(b"</rss>")):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_a_few_small_trailers_are_fine_and_the_connection_goes_on(served: Served) -> None:
    trailers = b"X-Checksum: abc\r\nX-Other: 1\r\n\r\n"
    with served.connect() as sock:
        sock.sendall(TRAILER_FIRST["/news.rss"] + b"5\r\nhello\r\n0\r\n" + trailers)
        sock.sendall(b"GET /news.rss HTTP/1.1\r\nHost: x\r\n\r\n")
        answers = _answers(sock, 2)
    assert answers.count(b"HTTP/1.1 200 ") == 2, answers[:300]
    with served.connect() as sock:
        sock.sendall(TRAILER_FIRST["/subscribe/mail"].replace(b"Host: x", b"Host: x\r\n"
                                                              b"Connection: close")
                     + b"9\r\nemail=a@b\r\n0\r\n" + trailers)
        answer = read_answer(sock)
    assert status_of(answer) not in (0, 408, 413, 431) and status_of(answer) < 500, answer[:300]


def test_a_body_in_many_tiny_chunks_is_not_taken_for_trailers(served: Served) -> None:
    # 40,000 one-byte chunks: 200 KB of chunk framing around 40 KB of body, within limits;
    # then the next request on the connection.
    chunks = b"1\r\na\r\n" * 40_000
    with served.connect() as sock:
        sock.sendall(TRAILER_FIRST["/news.rss"] + chunks + b"0\r\n\r\n"
                     + b"GET /news.rss HTTP/1.1\r\nHost: x\r\n\r\n")
        answers = _answers(sock, 2)
    assert answers.count(b"HTTP/1.1 200 ") == 2, answers[:300]


def test_upgrade_requests_are_logged_once_a_minute(served: Served) -> None:
    # Each used to log "Unsupported upgrade request." and "No supported WebSocket library
    # detected": 1,000 requests in 0.28 s wrote ~0.9 MB of log.
    before = len(served.log_text())
    request = (b"GET /news.rss HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
               b"Connection: Upgrade\r\n\r\n")
    with served.connect() as sock:
        for _ in range(200):
            sock.sendall(request)
            answer = _answers(sock, 1)
            assert status_of(answer) == 200, answer[:200]
    time.sleep(0.3)
    logged = served.log_text()[before:]
    lines = [line for line in logged.splitlines()
             if "upgrade" in line.lower() or "websocket" in line.lower()]
    assert len(lines) <= 2, logged[-2000:]


# --- Host, redirects and security headers -------------------------------------------------

@pytest.mark.parametrize(("path", "location"), [
    ("/status/", "/status"), ("/feeds.opml/?a=b", "/feeds.opml?a=b"),
])
def test_slash_redirects_never_name_the_client_host(served: Served, path: str,
                                                    location: str) -> None:
    answer = httpx.get(served.url + path, headers={"Host": "evil.example"}, trust_env=False)
    assert answer.status_code == 307
    assert answer.headers["location"] == location


@pytest.mark.parametrize("path", ["//evil.example/", "/\\evil.example/", "//evil.example"])
def test_no_redirect_to_another_host(served: Served, path: str) -> None:
    with served.connect() as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        answer = read_answer(sock)
    assert b"evil" not in answer.split(b"\r\n\r\n")[0].lower()


@pytest.mark.parametrize("path", ["/subscribe/mail", "/unsubscribe/not-a-token", "/",
                                  "/status", "/feeds/news"])
def test_pages_cannot_be_framed_and_carry_the_security_headers(served: Served,
                                                               path: str) -> None:
    answer = httpx.get(served.url + path, trust_env=False)
    assert answer.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"


def test_the_embed_frame_stays_framable(served: Served) -> None:
    answer = httpx.get(served.url + "/embed/news", trust_env=False)
    assert answer.status_code == 200
    assert "frame-ancestors *" in answer.headers["content-security-policy"]


def test_every_answer_is_nosniff(served: Served) -> None:
    for path in ["/nothing", "/news.rss", "/healthz", "/metrics"]:
        answer = httpx.get(served.url + path, trust_env=False)
        assert answer.headers["x-content-type-options"] == "nosniff", path
