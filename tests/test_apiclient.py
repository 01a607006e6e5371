"""fetch.ApiClient: failures classified by whether the request may have arrived, against
real sockets on loopback."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from syndicator.fetch import ApiAnswer, ApiClient, ApiFailure


@contextmanager
def _server(handle: Callable[[socket.socket], None]) -> Iterator[str]:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        with connection:
            handle(connection)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/hook"
    finally:
        listener.close()
        thread.join(timeout=5)


def _read_request(connection: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        body += connection.recv(65536)
    return head + b"\r\n\r\n" + body


def test_an_answer_is_read_in_full_with_its_json() -> None:
    seen: list[bytes] = []

    def answer(connection: socket.socket) -> None:
        seen.append(_read_request(connection))
        body = b'{"ok": true, "result": {"message_id": 7}}'
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                           b"Content-Length: " + str(len(body)).encode() + b"\r\n"
                           b"Connection: close\r\n\r\n" + body)

    client = ApiClient(timeout=(2, 2), user_agent="Syndicator-test")
    with _server(answer) as url:
        found = client.post(url, json_body={"chat_id": "@news", "text": "hello"})
    client.close()
    assert isinstance(found, ApiAnswer)
    assert found.status == 200 and found.json() == {"ok": True, "result": {"message_id": 7}}
    request = seen[0]
    assert request.startswith(b"POST /hook HTTP/1.1")
    assert b"User-Agent: Syndicator-test" in request
    assert request.endswith(b'{"chat_id": "@news", "text": "hello"}')


def test_a_form_body_is_sent_form_encoded() -> None:
    seen: list[bytes] = []

    def answer(connection: socket.socket) -> None:
        seen.append(_read_request(connection))
        connection.sendall(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")

    client = ApiClient(timeout=(2, 2))
    with _server(answer) as url:
        found = client.post(url, form={"hub.mode": "publish", "hub.url": "https://x.org/a"})
    client.close()
    assert isinstance(found, ApiAnswer) and found.status == 204 and found.json() is None
    assert b"application/x-www-form-urlencoded" in seen[0]
    assert seen[0].endswith(b"hub.mode=publish&hub.url=https%3A%2F%2Fx.org%2Fa")


def test_nobody_listening_is_unreachable() -> None:
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        port = placeholder.getsockname()[1]
    client = ApiClient(timeout=(2, 2))
    found = client.post(f"http://127.0.0.1:{port}/", json_body={})
    client.close()
    assert isinstance(found, ApiFailure) and found.kind == "unreachable"


def test_no_answer_in_time_is_a_timeout_that_may_have_arrived() -> None:
    release = threading.Event()

    def silent(connection: socket.socket) -> None:
        _read_request(connection)
        release.wait(timeout=5)

    client = ApiClient(timeout=(2, 0.3))
    with _server(silent) as url:
        found = client.post(url, json_body={"text": "x"})
        release.set()
    client.close()
    assert isinstance(found, ApiFailure) and found.kind == "timeout"


def test_a_connection_closed_after_the_request_is_lost() -> None:
    def hang_up(connection: socket.socket) -> None:
        _read_request(connection)       # the request arrived; no answer, connection closed

    client = ApiClient(timeout=(2, 2))
    with _server(hang_up) as url:
        found = client.post(url, json_body={"text": "x"})
    client.close()
    assert isinstance(found, ApiFailure) and found.kind == "lost"
