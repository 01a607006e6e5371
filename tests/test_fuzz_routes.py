"""Every route of `syndicator serve` (a real process, raw sockets) driven with random paths,
query strings, headers and bodies: no answer is a 5xx and the log gets no traceback.

Issue 17, finding 7: remote input made 500s with tracebacks (`?limit=²`, addresses with a
trailing dot or a non-ASCII domain, tokens...). The requests come from a seeded generator:
a failure names the seed and the request, and `FUZZ_SEED=<n>` runs another sequence.
"""

from __future__ import annotations

import contextlib
import os
import random
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_support import Served, read_answer, serve, status_of

SEED = int(os.environ.get("FUZZ_SEED", "17"))
REQUESTS = int(os.environ.get("FUZZ_REQUESTS", "1000"))

ROUTES = [
    "/{feed}.rss", "/{feed}.atom", "/{feed}.json", "/{feed}.rss", "/{feed}.json",
    "/subscribe/{target}", "/subscribe/{target}", "/embed/subscribe?target=mail",
    "/status.json", "/", "/index.html",
    "/feeds.opml", "/status", "/healthz", "/metrics", "/static/{any}", "/feeds/{feed}",
    "/archive/{path}", "/embed.js", "/embed/_/{any}", "/embed/subscribe", "/embed/{feed}",
    "/builder", "/subscribe/confirm/{token}", "/subscribe/{target}", "/unsubscribe/{token}",
    "/{any}", "/{path}",
]
METHODS = ["GET"] * 6 + ["HEAD", "POST", "POST", "POST", "OPTIONS", "PUT", "DELETE", "PATCH",
                         "FOO"]
WORDS = ["news", "mail", "nope", "", ".", "..", "%2e%2e", "a" * 300, "index.html", "frame.js",
         "style.css", "2024/05", "ü", "%00", "%ff%fe", "%C2%B2", "a b", "\u2460", "0", "-1"]
QUERY_KEYS = ["limit", "filter", "filterout", "format", "target", "lang", "theme", "items",
              "email", "token", "x", "", "limit[]", "LIMIT"]
QUERY_VALUES = ["1", "0", "-1", "99999999999999999999", "²", "①", "٣", "1.5", "1e3", "",
                "rss", "atom", "json", "xml", "a|b", "(a+)+$", "[", "\\", "(?i)x", ".*" * 40,
                "news", "mail", "en", "be", "dark", "%", "%zz", "\u202e", "a" * 2000]
ADDRESSES = ["a@example.org", "k@example.com.", "user@exämple.com", "a(comment)@example.org",
             "@route:a@example.org", "\"q u\"@example.org", "a@[127.0.0.1]", "a@b", "",
             "x" * 300 + "@example.org", "a@example.org\r\nBcc: b@example.org", "ü@ü.ü",
             "a@xn--bcher-kva.example", "a@-example-.org"]
HEADERS = {
    "Accept-Encoding": ["gzip", "br", "*", "gzip;q=0", "identity;q=0, *;q=0", "\x7f"],
    "If-None-Match": ['"x"', "*", 'W/"a", "b"', "garbage", '"' * 50],
    "If-Modified-Since": ["Sat, 01 Jan 2000 00:00:00 GMT", "yesterday",
                          "Mon, 99 Foo 99999 99:99:99 GMT", "0"],
    "Range": ["bytes=0-10", "bytes=-5", "bytes=9999999-", "lines=1-2"],
    "Content-Type": ["application/x-www-form-urlencoded", "application/json",
                     "multipart/form-data", "multipart/form-data; boundary=",
                     "text/plain; charset=nope", "application/x-www-form-urlencoded; "
                     "charset=utf-16"],
    "Origin": ["http://evil.example", "null", "http://127.0.0.1"],
    "Referer": ["http://evil.example/", "::"],
    "X-Forwarded-For": ["1.2.3.4", "garbage", "::1, 10.0.0.1"],
    "Accept-Language": ["be, en;q=0.5", "*", "q=q"],
    "Cookie": ["a=b", "=", ";;;"],
    "Host": ["evil.example", "", "127.0.0.1:1", "ü.example"],
    "Access-Control-Request-Method": ["GET", "DELETE"],
    "Expect": ["100-continue"],
    "Connection": ["keep-alive", "upgrade"],
    "Upgrade": ["websocket", "h2c"],
}


def quoted(text: str) -> str:
    return text if "%" in text else urllib.parse.quote(text, safe="/.-_~")


def random_path(rng: random.Random) -> str:
    if rng.random() < 0.1:
        return "/" + "".join(rng.choice("ab/%.?#;=&ü~") for _ in range(rng.randrange(30)))
    path = rng.choice(ROUTES)
    # Mostly names that exist, so that requests get past the routing to the handlers.
    for name, real in (("{feed}", "news"), ("{target}", "mail"), ("{any}", None)):
        while name in path:
            word = real if real and rng.random() < 0.75 else rng.choice(WORDS)
            path = path.replace(name, quoted(word), 1)
    while "{token}" in path:
        token = "".join(rng.choice("abcdefXYZ012-_.~%") for _ in range(rng.randrange(80)))
        path = path.replace("{token}", quoted(token), 1)
    while "{path}" in path:
        parts = [quoted(rng.choice(WORDS)) for _ in range(rng.randrange(1, 4))]
        path = path.replace("{path}", "/".join(parts), 1)
    if rng.random() < 0.1:
        path += "/"
    return path


def random_query(rng: random.Random) -> str:
    if rng.random() < 0.4:
        return ""
    pairs = []
    for _ in range(rng.randrange(1, 5)):
        key = rng.choice(QUERY_KEYS[:4] if rng.random() < 0.7 else QUERY_KEYS)
        value = rng.choice(QUERY_VALUES)
        pairs.append(urllib.parse.quote(key) + ("" if rng.random() < 0.1 else
                                                "=" + urllib.parse.quote(value)))
    return "?" + "&".join(pairs)


def random_body(rng: random.Random) -> bytes:
    kind = rng.random()
    if kind < 0.6:
        fields = {"email": rng.choice(ADDRESSES)}
        for name in rng.sample(["target", "token", "lang", "csrf", "form_token", "website",
                                "List-Unsubscribe", "x"], rng.randrange(4)):
            fields[name] = rng.choice(QUERY_VALUES)
        return urllib.parse.urlencode(fields).encode()
    if kind < 0.8:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(200)))
    if kind < 0.9:
        return b"email=" + b"%" * rng.randrange(70_000)
    return b'{"email": "a@example.org"}'


def random_request(rng: random.Random) -> bytes:
    method = rng.choice(METHODS)
    path, query = random_path(rng), random_query(rng)
    target = path + (query.replace("?", "&", 1) if "?" in path else query)
    headers = {"Host": "127.0.0.1"}
    for name in rng.sample(sorted(HEADERS), rng.randrange(4)):
        headers[name] = rng.choice(HEADERS[name])
    body = random_body(rng) if method in ("POST", "PUT", "PATCH") else b""
    if body and "Content-Type" not in headers:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    head = f"{method} {target} HTTP/1.1\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    chunked = bool(body) and rng.random() < 0.3
    if chunked:
        head += "Transfer-Encoding: chunked\r\n"
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if body else b"0\r\n\r\n"
    elif body or method == "POST":
        head += f"Content-Length: {len(body)}\r\n"
    head += "Connection: close\r\n\r\n"
    raw = head.encode("utf-8") + body
    return mutated(rng, raw) if rng.random() < 0.15 else raw


FRAMING = [b"Content-Length: 5\r\nContent-Length: 7\r\n", b"Content-Length: -1\r\n",
           b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n",
           b"Transfer-Encoding: gzip, chunked\r\n", b"X-Folded: a\r\n b\r\n",
           b" Leading: space\r\n", b"Bad Name: x\r\n", b"X-Nul: \x00\r\n",
           b"Content-Length: 99999999999999999999\r\n", b"X-Bare-LF: a\n"]


def mutated(rng: random.Random, raw: bytes) -> bytes:
    """`raw` broken at the HTTP level: a byte changed, bytes inserted or dropped, odd
    framing headers, or a broken chunk."""
    data = bytearray(raw)
    kind = rng.randrange(4)
    if kind == 0:
        for _ in range(rng.randrange(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif kind == 1:
        at = rng.randrange(len(data))
        data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 20)))
    elif kind == 2:
        at = rng.randrange(len(data))
        del data[at:at + rng.randrange(1, 20)]
    else:
        at = data.find(b"\r\n") + 2
        data[at:at] = rng.choice(FRAMING)
        if rng.random() < 0.3:
            data += b"zz\r\nabc\r\n0\r\n\r\n"
    return bytes(data)


def exchange(served: Served, raw: bytes) -> bytes:
    with served.connect(timeout=20) as sock:
        # Refused before the whole body went out: the answer may be there all the same.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(raw)
        return read_answer(sock, timeout=20)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    # Short timeouts: a broken request that never completes its head or body (a byte
    # dropped, a length that lies) costs the test that long.
    with serve(tmp_path_factory.mktemp("fuzz"), header_timeout=0.5, body_timeout=0.5) as server:
        yield server


@pytest.mark.skipif(not Path("/proc").exists(), reason="a real serve process")
def test_random_requests_get_no_5xx_and_no_traceback(served: Served) -> None:
    rng = random.Random(SEED)
    failures: list[str] = []
    statuses: dict[int, int] = {}
    for number in range(REQUESTS):
        raw = random_request(rng)
        answer = exchange(served, raw)
        while answer.startswith(b"HTTP/1.1 100 "):       # Expect: 100-continue
            answer = answer.split(b"\r\n\r\n", 1)[1]
        status = status_of(answer)
        statuses[status] = statuses.get(status, 0) + 1
        path = raw.split(b" ", 2)[1]
        # /healthz and /status.json say 503 when the service is unhealthy (no source has
        # run in this test): that is their answer, not a failure.
        expected_503 = status == 503 and path.split(b"?")[0] in (b"/healthz", b"/status.json")
        if status >= 500 and not expected_503:
            failures.append(f"#{number} {status}: {raw[:300]!r}")
        head = answer.split(b"\r\n\r\n", 1)[0].lower()
        for line in head.split(b"\r\n"):
            # A redirect stays on this server: a path, or the configured base_url.
            if line.startswith(b"location:"):
                location = line.split(b":", 1)[1].strip()
                if not ((location.startswith(b"/") and location[1:2] not in (b"/", b"\\"))
                        or location.startswith(served.url.encode())):
                    failures.append(f"#{number} Location {location!r}: {raw[:300]!r}")
    log = served.log_text()
    assert not failures, f"seed {SEED}: {len(failures)} 5xx:\n" + "\n".join(failures[:20])
    assert "Traceback" not in log, log[-5000:]
    # Unparsable requests are counted in one line a minute, not logged one by one.
    assert log.count("Invalid HTTP request") <= 2, log[-5000:]
    print(f"seed {SEED}: statuses {sorted(statuses.items())}")
    assert 0 not in statuses or statuses[0] < REQUESTS // 100, statuses   # answered at all
