"""`--host` and `--port` of `run` and `serve` (where they listen) and of `status` (where it
asks the running service): they win over server.host/server.port, and a bad value is
command-line misuse (exit 2) before anything starts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from syndicator.cli import cli
from tests.net_support import free_port

CONFIG = """
storage: "sqlite:///store.db"
output_dir: feeds
server: {{host: 127.0.0.1, port: {port}}}
sources: []
feeds: []
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(port=free_port()))
    return path


@pytest.mark.parametrize("command", ["run", "serve", "status"])
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


def _started(config: Path, folder: Path, command: str, port: int) -> subprocess.Popen[str]:
    """`command` started on 127.0.0.1:`port`, once /healthz answers there."""
    env = {**os.environ}
    env.pop("SYNDICATOR_CONFIG", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "syndicator", "--config", str(config), command,
         "--host", "127.0.0.1", "--port", str(port)],
        cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    answer = None
    deadline = time.monotonic() + 60
    while answer is None and time.monotonic() < deadline and process.poll() is None:
        try:
            answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5,
                               trust_env=False)
        except httpx.TransportError:
            time.sleep(0.2)
    if answer is None:
        _stopped(process)
        pytest.fail(f"nothing answered on port {port}")
    assert answer.status_code in (200, 503)
    return process


def _stopped(process: subprocess.Popen[str]) -> str:
    """Stop the process with SIGTERM; its stderr (it must have exited cleanly)."""
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    return err


@pytest.mark.parametrize("command", ["run", "serve"])
def test_the_options_win_over_the_config(config: Path, tmp_path: Path, command: str) -> None:
    port = free_port()
    process = _started(config, tmp_path, command, port)
    err = _stopped(process)
    assert f"serving http://127.0.0.1:{port}/" in err


def test_status_asks_the_service_where_the_options_say(config: Path, tmp_path: Path) -> None:
    """A `run` started with --port elsewhere than server.port: `status` finds it with the same
    --host/--port, and reads the store without them (nothing answers at server.port)."""
    port = free_port()
    process = _started(config, tmp_path, "run", port)
    try:
        def status(*options: str) -> str:
            result = CliRunner().invoke(cli, ["--config", str(config), "status", *options],
                                        env={"COLUMNS": "200"})
            assert result.exit_code == 0, result.output
            return result.output

        live = status("--host", "127.0.0.1", "--port", str(port))
        assert f"live from http://127.0.0.1:{port}/status.json" in live
        assert "scheduler running" in live
        assert f"live from http://127.0.0.1:{port}/status.json" in status("--port", str(port))
        # 0.0.0.0 (as `run --host 0.0.0.0` listens) is asked on this machine's loopback.
        assert f"live from http://127.0.0.1:{port}/" in status("--host", "0.0.0.0",
                                                              "--port", str(port))
        configured = config.read_text().split("port: ")[1].split("}")[0]
        stored = status()
        assert f"no `syndicator run` answered at http://127.0.0.1:{configured}/" in stored
        assert "scheduler not running" in stored
        assert "no `syndicator run` answered)" in status("--port", "0")
    finally:
        _stopped(process)
