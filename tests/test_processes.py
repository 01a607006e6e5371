"""processes.py, the one way Syndicator runs other processes: long-running children that
inherit a listening socket and stop when their parent says so or dies, and pool workers
whose tasks are imported functions. (Pools at work: test_workers.py, test_build_lent.py,
test_archive_parallel.py; `syndicator serve` with workers: test_serve_workers.py.)"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType

import pytest

from syndicator import processes


def answer_with(banner: bytes, sock: socket.socket) -> None:
    """A long-running child: answer every connection with `banner` until SIGTERM."""
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    sock.settimeout(0.1)
    while not stopping.is_set():
        try:
            connection, _ = sock.accept()
        except TimeoutError:
            continue
        with connection:
            connection.sendall(banner + b" " + str(os.getpid()).encode())


def exit_at_once() -> None:
    """A long-running child that ends by itself."""


def _ask(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
        client.settimeout(30)
        return client.recv(100)


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return True
    return state == "Z"


def test_children_serve_on_an_inherited_socket_and_stop_when_asked() -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        children = [processes.start_process(answer_with, b"hello", sockets=[listening])
                    for _ in range(2)]
    # This process's copy is closed: the children answer on theirs.
    banner, pid = _ask(port).split()
    assert banner == b"hello" and int(pid) in {child.pid for child in children}
    stop = threading.Event()
    stop.set()
    assert processes.supervise(children, stop, deadline=30) == 0
    assert all(child.process.returncode == 0 for child in children)


def test_a_child_that_exits_on_its_own_stops_the_others() -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        server = processes.start_process(answer_with, b"hi", sockets=[listening])
        quitter = processes.start_process(exit_at_once)
    stop = threading.Event()
    assert processes.supervise([server, quitter], stop, deadline=30) == 1
    assert stop.is_set()
    assert server.process.returncode == 0      # asked to stop, and it did


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize("kind", ["pool", "long-running"])
def test_children_of_a_killed_parent_stop(tmp_path: Path, kind: str) -> None:
    """No orphans: a child whose parent died sees its socket close and stops."""
    start = ("pool = processes.Pool(1); pool.start(); pool.wait_ready(30); "
             "pids = pool.pids" if kind == "pool" else
             "sock = socket.create_server(('127.0.0.1', 0)); "
             "pids = [processes.start_process(test_processes.answer_with, b'x', "
             "sockets=[sock]).pid]")
    script = ("import socket, sys, time\n"
              "from syndicator import processes\n"
              "from tests import test_processes\n"
              f"{start}\n"
              "print(pids[0], flush=True)\n"
              "time.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                              cwd=Path(__file__).parent.parent,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert parent.stdout is not None
    with parent.stdout:
        child = int(parent.stdout.readline())
        assert not _gone(child)
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 30
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(child)


def test_a_pool_task_is_an_imported_function_and_its_errors_come_back() -> None:
    with contextlib.closing(processes.Pool(1)) as pool:
        assert pool.submit(os.getpid) is None            # not started: the caller works
        assert pool.start()
        found = pool.submit(os.getpid)
        assert found is not None and found.result(timeout=30) in pool.pids
        failing = pool.submit(int, "x")
        assert failing is not None
        with pytest.raises(ValueError, match="invalid literal"):
            failing.result(timeout=30)
        with pytest.raises(AttributeError, match="local object"):
            pool.submit(lambda: None)                     # not importable: refused here
        peak = pool.submit(processes.peak_rss_mb)
        assert peak is not None and 0 < peak.result(timeout=30) < 1000
        assert pool.workers[0].sent == 3
    assert pool.started == 0
