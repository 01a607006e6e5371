"""`syndicator serve` with `server.workers: 2` (and `auto`: one per CPU), as a real
process: forked workers answer on one socket, and SIGTERM stops them all."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.net_support import free_port

CONFIG = """
site: {{title: "Test feeds", base_url: "http://127.0.0.1:{port}/"}}
storage: "sqlite:///store.db"
output_dir: feeds
server: {{host: 127.0.0.1, port: {port}, workers: {workers}}}
sources:
  - {{id: news, type: feed, url: "http://127.0.0.1:9/feed.xml", language: en}}
feeds:
  - {{id: news, title: "News", sources: [news]}}
"""


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def wait_for_feed(url: str, process: subprocess.Popen[bytes]) -> httpx.Response:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            return httpx.get(url, timeout=5, trust_env=False)
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("serve did not answer")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc")
@pytest.mark.parametrize("setting", ["2", "auto"])
def test_serve_with_workers_answers_and_stops_on_sigterm(tmp_path: Path, setting: str) -> None:
    expected = len(os.sched_getaffinity(0)) if setting == "auto" else int(setting)
    if expected < 2:
        pytest.skip("one CPU: `auto` is one process, no workers")
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(port=port, workers=setting))
    command = [sys.executable, "-m", "syndicator", "--config", str(config)]
    subprocess.run([*command, "build"], cwd=tmp_path, check=True, capture_output=True)
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen([*command, "serve"], cwd=tmp_path, stdout=log,
                               stderr=subprocess.STDOUT)
    try:
        first = wait_for_feed(f"http://127.0.0.1:{port}/news.rss", process)
        assert first.status_code == 200 and b"<rss" in first.content
        workers = children(process.pid)
        assert len(workers) == expected
        # Every answer is the same file, whichever worker took the connection.
        for _ in range(10):
            with httpx.Client(trust_env=False) as client:   # a new connection each time
                again = client.get(f"http://127.0.0.1:{port}/news.rss",
                                   headers={"If-None-Match": first.headers["etag"]})
            assert again.status_code == 304
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        for pid in workers:
            assert not Path(f"/proc/{pid}").exists() or \
                "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    finally:
        if process.poll() is None:
            for pid in children(process.pid):
                os.kill(pid, signal.SIGKILL)
            process.kill()
            process.wait()
        log.close()
    output = (tmp_path / "serve.log").read_text()
    assert f"{expected} workers" in output, output


def established_sockets(port: int) -> set[str]:
    """Socket inodes of established TCP connections whose local port is `port` (IPv4)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == "01":
            inodes.add(fields[9])
    return inodes


def held_by(pid: int, inodes: set[str]) -> int:
    """How many of `inodes` process `pid` has open."""
    held = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            held += 1
    return held


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads /proc")
def test_connections_opened_at_once_are_spread_over_the_workers(tmp_path: Path) -> None:
    """Each worker listens on its own SO_REUSEPORT socket: the kernel spreads connections
    by their addresses instead of the first worker to wake taking all it finds. And a
    second instance on the same port still fails clearly."""
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(port=port, workers=2))
    command = [sys.executable, "-m", "syndicator", "--config", str(config)]
    subprocess.run([*command, "build"], cwd=tmp_path, check=True, capture_output=True)
    process = subprocess.Popen([*command, "serve"], cwd=tmp_path, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    clients: list[socket.socket] = []
    try:
        wait_for_feed(f"http://127.0.0.1:{port}/news.rss", process)
        workers = children(process.pid)
        assert len(workers) == 2
        # 64 connections in one burst (as a load balancer or wrk opens them): non-blocking
        # connects, so that all wait in the accept queue together.
        for _ in range(64):
            client = socket.socket()
            client.setblocking(False)
            client.connect_ex(("127.0.0.1", port))
            clients.append(client)
        pending, deadline = list(clients), time.monotonic() + 10
        while pending and time.monotonic() < deadline:    # connected: writable
            _, writable, _ = select.select([], pending, [], 1)
            pending = [client for client in pending if client not in writable]
        assert not pending
        for client in clients:      # an answer on each: every connection has been accepted
            client.settimeout(10)
            client.sendall(b"GET /news.rss HTTP/1.1\r\nHost: x\r\n\r\n")
        for client in clients:
            assert client.recv(12) == b"HTTP/1.1 200"
        inodes = established_sockets(port)
        spread = [held_by(pid, inodes) for pid in workers]
        assert sum(spread) == 64, spread
        # Even split by hash: fewer than 16 of 64 on one side has odds below 1 in 30,000.
        assert min(spread) >= 16, spread

        second = subprocess.run([*command, "serve"], cwd=tmp_path, capture_output=True,
                                text=True, timeout=30)
        assert second.returncode != 0
        assert f"cannot listen on 127.0.0.1:{port}" in second.stderr, second.stderr
    finally:
        for client in clients:
            client.close()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            for pid in children(process.pid):
                os.kill(pid, signal.SIGKILL)
            process.kill()
            process.wait()
