"""`syndicator serve` as a real process on a loopback port, for tests that attack it from
outside: raw sockets, many connections, the process's memory (tests/test_http_limits.py,
tests/test_fuzz_routes.py). One published feed, an email push target (so the subscribe
and unsubscribe forms are routed) and short header and idle timeouts, so that the tests of
those timeouts take seconds."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.net_support import free_port

HEADER_TIMEOUT = 1.5
IDLE_TIMEOUT = 1.0
BODY_TIMEOUT = 2.0
BODY_BYTES = 65536
HEADER_BYTES = 65536
SEND_TIMEOUT = 60.0

CONFIG = """
site: {{title: "Test feeds", base_url: "http://127.0.0.1:{port}/"}}
storage: "{storage}"
output_dir: feeds
secret_key: "serve-support-secret-0123456789abcdef"
server:
  host: 127.0.0.1
  port: {port}
  limits: {{header_timeout: {header_timeout}, idle_timeout: {idle_timeout},
            body_timeout: {body_timeout}, body_bytes: {body_bytes},
            header_bytes: {header_bytes}, send_timeout: {send_timeout}}}
sources:
  - {{id: news, type: feed, url: "http://127.0.0.1:9/feed.xml", language: en}}
feeds:
  - {{id: news, title: "News", sources: [news]}}
push:
  - id: mail
    type: email
    feeds: [news]
    smtp: {{host: 127.0.0.1, port: 9, security: none, timeout: 2s}}
    from: "News <news@example.org>"
"""


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def connect(self, timeout: float = 10) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def memory_kb(self, field: str = "VmRSS") -> int:
        """A memory figure of the server process from /proc (VmRSS, VmHWM: its peak)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise AssertionError(f"no {field} in /proc/{self.process.pid}/status")

    def reset_peak(self) -> bool:
        """Start VmHWM afresh from the current RSS (Linux clear_refs 5); False if refused."""
        try:
            Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")
        except OSError:
            return False
        return True

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def read_answer(sock: socket.socket, timeout: float = 10) -> bytes:
    """Everything the server sends until it closes the connection (or `timeout`)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def status_of(answer: bytes) -> int:
    """The status of the (first) answer in `answer`; 0 when there is none."""
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


@contextmanager
def serve(folder: Path, *, header_timeout: float = HEADER_TIMEOUT,
          body_timeout: float = BODY_TIMEOUT, verbose: int = 0,
          storage: str = "sqlite:///store.db",
          send_timeout: float = SEND_TIMEOUT) -> Iterator[Served]:
    """The server; `verbose` 2: logging at debug (-vv), the access log on."""
    port = free_port()
    config = folder / "config.yaml"
    config.write_text(CONFIG.format(port=port, header_timeout=header_timeout,
                                    idle_timeout=IDLE_TIMEOUT, body_timeout=body_timeout,
                                    body_bytes=BODY_BYTES, header_bytes=HEADER_BYTES,
                                    storage=storage, send_timeout=send_timeout))
    command = [sys.executable, "-m", "syndicator", "--config", str(config)]
    subprocess.run([*command, "build"], cwd=folder, check=True, capture_output=True)
    log = folder / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen([*command, *["-v"] * verbose, "serve"], cwd=folder,
                                   stdout=out,
                                   stderr=subprocess.STDOUT)
    served = Served(process, port, log)
    try:
        wait_until_answered(process, served.url + "/news.rss", log)
        yield served
    finally:
        stop_process(process)


def wait_until_answered(process: subprocess.Popen[bytes], url: str, log: Path, *,
                        timeout: float = 30) -> None:
    """Wait until a GET of `url` answers 200; fail with the log when the process exits or
    `timeout` passes first."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{url}: the server did not start:\n"
                                 f"{log.read_text(errors='replace')}")
        try:
            if httpx.get(url, timeout=5, trust_env=False).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not exited 15 s later."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
