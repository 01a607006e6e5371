"""`--host` and `--port` of `run` and `serve`: they win over server.host/server.port, and a
bad value is command-line misuse (exit 2) before anything starts."""

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
from click.testing import CliRunner

from syndicator.cli import cli

CONFIG = """
storage: "sqlite:///store.db"
output_dir: feeds
server: {{host: 127.0.0.1, port: {port}}}
sources: []
feeds: []
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(port=free_port()))
    return path


@pytest.mark.parametrize("command", ["run", "serve"])
@pytest.mark.parametrize(("options", "message"), [
    (["--port", "70000"], "70000 is not in the range 0<=x<=65535"),
    (["--port", "http"], "'http' is not a valid integer"),
    (["--host", "not a host"], "expected an IP address"),
    (["--host", "bad_host!"], "expected an IP address"),
])
def test_a_bad_host_or_port_is_misuse(config: Path, command: str, options: list[str],
                                      message: str) -> None:
    result = CliRunner().invoke(cli, ["--config", str(config), command, *options])
    assert result.exit_code == 2, result.output
    assert message in result.output


@pytest.mark.parametrize("command", ["run", "serve"])
def test_the_options_win_over_the_config(config: Path, tmp_path: Path, command: str) -> None:
    port = free_port()
    env = {**os.environ}
    env.pop("SYNDICATOR_CONFIG", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "syndicator", "--config", str(config), command,
         "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        answer = None
        deadline = time.monotonic() + 60
        while answer is None and time.monotonic() < deadline and process.poll() is None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5,
                                   trust_env=False)
            except httpx.TransportError:
                time.sleep(0.2)
        assert answer is not None, f"nothing answered on port {port}"
        assert answer.status_code in (200, 503)
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert f"serving http://127.0.0.1:{port}/" in err
