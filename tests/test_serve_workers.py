"""`syndicator serve` with `server.workers: 2` (and `auto`: one per CPU), as a real
process: forked workers answer on one socket, and SIGTERM stops them all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
