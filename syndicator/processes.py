"""Other processes: the one way Syndicator starts them, gives them work and stops them
(docs/architecture.md, "The process model", says why this way).

Every child is a fresh interpreter running this module (`python -m syndicator.processes`,
with this process's sys.path), joined to its parent by a socket pair: not a fork (a fork of
a threaded process can inherit a held lock), not multiprocessing's spawn or forkserver
(they re-import the parent's main module, the whole command line). Its first message says
what it is for and names its functions by reference (pickle imports their modules):

- `Pool`: worker processes running typed tasks, `pool.submit(read_body, body, ...)`;
  pipelined (any thread sends, the worker answers in order, a receiver thread hands each
  answer to the oldest waiting future). The crawl reads article pages with one
  (workers.py), a build renders archive pages with one (publish/parallel.py).
- `start_process(main, *args, sockets=...)`: a long-running process (`syndicator serve`'s
  HTTP processes) calling `main(*args, *sockets)`; `supervise` waits for a group of them.

Stopping is the parent's decision: children ignore SIGINT, pool workers SIGTERM too, and
the parent stops a child through its socket. A pool worker answers what it has and exits;
a long-running process sends itself SIGTERM, so that its own stop handling runs (before
`main` installs one, it exits at once). A child whose parent died sees its socket close
and stops the same way: no orphans.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from syndicator.errors import WorkerFailed
from syndicator.logsetup import setup_logging

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# A pool worker's first answer: its preparation is done and it takes tasks.
READY = "ready"
# How long a stopping pool worker may take before it is killed (it has only its answers to
# send: the parent waits for their futures before it stops a pool).
POOL_STOP_WAIT = 5.0


@dataclass(frozen=True)
class _Work:
    """The first message to a pool worker: `prepare()` runs before it says READY (imports
    its tasks need, so that the first task does not pay for them)."""

    prepare: Callable[[], object] | None
    log_level: int


@dataclass(frozen=True)
class _Run:
    """The first message to a long-running process: `main(*args, *sockets)`."""

    main: Callable[..., object]
    args: tuple[Any, ...]
    log_level: int


@dataclass(frozen=True)
class _Task:
    function: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class _Raised:
    """A task raised `error` (re-raised by its future in the parent)."""

    error: BaseException


class Channel:
    """Pickles both ways over one end of a socket pair, streamed through buffered files:
    a large message (a history's keys) is never held whole as bytes beside its objects."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._reader = sock.makefile("rb")
        self._writer = sock.makefile("wb")

    def send(self, message: object) -> None:
        pickle.dump(message, self._writer, pickle.HIGHEST_PROTOCOL)
        self._writer.flush()

    def send_pickled(self, message: bytes) -> None:
        self._writer.write(message)
        self._writer.flush()

    def recv(self) -> Any:
        """The next message; EOFError when the other side is gone."""
        return pickle.load(self._reader)

    def close(self) -> None:
        for closing in (self._reader, self._writer, self._sock):
            with contextlib.suppress(OSError):
                closing.close()


class Child:
    """A started process and the parent's end of its socket."""

    def __init__(self, first: _Work | _Run, sockets: Sequence[socket.socket] = ()) -> None:
        ours, theirs = socket.socketpair()
        fds = [theirs.fileno(), *(sock.fileno() for sock in sockets)]
        kind = "run" if isinstance(first, _Run) else "work"
        # The child imports from where this process imports (a source checkout on
        # sys.path, say), not only from what the interpreter finds on its own.
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        try:
            with theirs:
                self.process = subprocess.Popen(
                    [sys.executable, "-m", "syndicator.processes", kind, *map(str, fds)],
                    pass_fds=fds, stdin=subprocess.DEVNULL, close_fds=True, env=env)
        except BaseException:
            ours.close()
            raise
        self.channel = Channel(ours)
        self.channel.send(first)

    @property
    def pid(self) -> int:
        return self.process.pid

    def ask_to_stop(self) -> None:
        """Tell the child to finish (it may already be gone)."""
        with contextlib.suppress(OSError, ValueError):
            self.channel.send(None)

    def wait(self, timeout: float) -> int:
        """Its exit status, killed first if it has not exited within `timeout` seconds."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def peak_rss_mb(pid: int | None = None) -> float:
    """Peak resident memory of a process (this one by default), in MB: Linux's VmHWM, 0
    elsewhere. Not getrusage: after exec Linux keeps the forked copy of the parent's size
    in a child's ru_maxrss."""
    try:
        with open(f"/proc/{pid or 'self'}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


# --- pools ----------------------------------------------------------------------------------

class Worker:
    """One pool worker process and the tasks sent to it and not answered yet.

    Any thread may send a task at any time; the worker answers them in order, and a receiver
    thread hands each answer to the oldest waiting future, so the worker goes straight on to
    the next queued task instead of idling until the sender gets the GIL back."""

    def __init__(self, prepare: Callable[[], object] | None,
                 on_failure: Callable[[Worker, BaseException], None]) -> None:
        self.child = Child(_Work(prepare, logging.getLogger().getEffectiveLevel()))
        self._pending: deque[Future[Any]] = deque()
        # Two locks: sends are serialised (so the futures' order is the answers' order), but
        # the receiver takes only the pending lock. A sender may block on a full socket while
        # the worker blocks on a full socket back to us: the receiver must go on reading.
        self._send_lock = threading.Lock()
        self._pending_lock = threading.Lock()
        self._stopping = False
        self.ready = threading.Event()
        self.sent = 0               # tasks sent so far (for monitoring and tests)
        self._on_failure = on_failure
        self._receiver = threading.Thread(target=self._receive, daemon=True,
                                          name=f"worker-{self.child.pid}")
        self._receiver.start()

    @property
    def pid(self) -> int:
        return self.child.pid

    @property
    def load(self) -> int:
        """Tasks sent and not answered yet."""
        return len(self._pending)

    def submit(self, function: Callable[P, R], *args: P.args,
               **kwargs: P.kwargs) -> Future[R]:
        """Run `function(*args, **kwargs)` there: a module-level function (sent by
        reference) with picklable arguments. Raises WorkerFailed when it cannot be sent,
        and pickle's error when it cannot be pickled."""
        # Pickled first: a task that cannot be (a lambda, say) raises here, sends nothing.
        message = pickle.dumps(_Task(function, args, kwargs), pickle.HIGHEST_PROTOCOL)
        future: Future[R] = Future()
        with self._send_lock:
            with self._pending_lock:
                self._pending.append(future)
            try:
                self.child.channel.send_pickled(message)
            except (OSError, ValueError) as exc:
                with self._pending_lock:
                    if future in self._pending:
                        self._pending.remove(future)
                raise WorkerFailed(f"cannot send to worker process {self.pid}: {exc}") from exc
            self.sent += 1
        return future

    def _receive(self) -> None:
        channel = self.child.channel
        try:
            hello = channel.recv()
        except Exception as exc:    # it died (EOFError, OSError) or sent what cannot load
            self._fail_all(exc)
            return
        if hello != READY:
            self._fail_all(WorkerFailed(f"unexpected greeting {hello!r}"))
            return
        self.ready.set()
        while True:
            try:
                answer = channel.recv()
            except Exception as exc:
                self._fail_all(exc)
                return
            with self._pending_lock:
                future = self._pending.popleft() if self._pending else None
            if future is None:
                self._fail_all(WorkerFailed(f"unexpected answer {type(answer).__name__}"))
                return
            if isinstance(answer, _Raised):
                future.set_exception(answer.error)
            else:
                future.set_result(answer)

    def _fail_all(self, exc: BaseException) -> None:
        with self._pending_lock:
            waiting, self._pending = list(self._pending), deque()
        if not self._stopping:
            self._on_failure(self, exc)
        for future in waiting:
            future.set_exception(WorkerFailed(str(exc) or type(exc).__name__))

    def stop(self) -> None:
        """Ask the worker to exit (it answers what it has first), then close the socket once
        the receiver has seen the end: closing a socket another thread reads from could
        hand that thread someone else's file descriptor."""
        with self._send_lock:
            self._stopping = True
            self.child.ask_to_stop()
        self.child.wait(POOL_STOP_WAIT)
        self._receiver.join(timeout=POOL_STOP_WAIT)
        self.child.channel.close()


class Pool:
    """Up to `processes` worker processes (0: none; the caller does the work itself).

    They start on `start()` and say READY once `prepare()` has run there. A worker that dies
    or misbehaves breaks the pool: its unanswered futures raise WorkerFailed, and from then
    on `submit` returns None, so that the caller does the work itself."""

    def __init__(self, processes: int, *, prepare: Callable[[], object] | None = None,
                 purpose: str = "work") -> None:
        self.processes = max(0, processes)
        self._prepare = prepare
        self._purpose = purpose      # for the log: what falls back to this process
        self._all: list[Worker] = []
        self._lock = threading.Lock()
        self.broken = False

    def start(self) -> bool:
        """Start the worker processes not started yet; they prepare while the caller goes
        on. False when there are none to have (0 processes, broken, cannot start)."""
        if self.processes == 0 or self.broken:
            return False
        with self._lock:
            try:
                while len(self._all) < self.processes:
                    self._all.append(Worker(self._prepare, self._give_up))
            except OSError as exc:
                log.warning("cannot start worker processes (%s); doing the %s in this "
                            "process", exc, self._purpose)
                self.broken = True
        return not self.broken

    @property
    def workers(self) -> list[Worker]:
        """The started worker processes."""
        return list(self._all)

    @property
    def started(self) -> int:
        return len(self._all)

    @property
    def pids(self) -> list[int]:
        return [worker.pid for worker in self._all]

    @property
    def ready(self) -> int:
        """Workers that take tasks now (0 when none was started or the pool is broken)."""
        return 0 if self.broken else sum(1 for w in self._all if w.ready.is_set())

    def wait_ready(self, timeout: float) -> bool:
        """Wait until every started worker takes tasks; False if one is not ready by then
        or the pool broke."""
        return all(w.ready.wait(timeout) for w in list(self._all)) and not self.broken

    def idlest(self, *, ready: bool = True) -> Worker | None:
        """The worker with the fewest unanswered tasks (among those READY, unless `ready`
        is False: a task sent before READY waits there for the preparation); None when
        there is none or the pool is broken."""
        workers = [w for w in self._all if w.ready.is_set() or not ready]
        if self.broken or not workers:
            return None
        return min(workers, key=lambda w: w.load)

    def submit(self, function: Callable[P, R], *args: P.args,
               **kwargs: P.kwargs) -> Future[R] | None:
        """`function(*args, **kwargs)` in the least busy ready worker, else in the least
        busy one still preparing (queued there); None when none was started or the pool is
        broken: the caller does the work itself then. The future raises what the function
        raised, or WorkerFailed if the worker died."""
        worker = self.idlest() or self.idlest(ready=False)
        if worker is None:
            return None
        try:
            return worker.submit(function, *args, **kwargs)
        except WorkerFailed:
            return None

    def peaks_mb(self) -> list[float]:
        """Each running worker's peak memory so far."""
        return [peak_rss_mb(worker.pid) for worker in self._all]

    def _give_up(self, worker: Worker, exc: BaseException) -> None:
        with self._lock:
            if not self.broken:
                log.warning("worker process %d failed (%s: %s); doing the %s in this process "
                            "from now on", worker.pid, type(exc).__name__, exc, self._purpose)
            self.broken = True
        worker.child.process.kill()

    def close(self) -> None:
        with self._lock:
            workers, self._all = self._all, []
        for worker in workers:
            worker.stop()


# --- long-running processes -----------------------------------------------------------------

def start_process(main: Callable[..., object], *args: Any,
                  sockets: Sequence[socket.socket] = ()) -> Child:
    """A process calling `main(*args, *sockets)` (a module-level function; the sockets
    inherited, as socket objects) until it returns or its parent asks it to stop."""
    return Child(_Run(main, args, logging.getLogger().getEffectiveLevel()), sockets)


def supervise(children: Sequence[Child], stop: threading.Event, deadline: float) -> int:
    """Wait for `children` to exit. When `stop` is set, ask each to stop and kill those still
    running `deadline` seconds later. A child that exits on its own stops the others: 1
    then (a supervisor such as systemd restarts the whole service), else 0."""
    running = {child.pid: child for child in children}
    code = 0
    kill_at: float | None = None
    while running:
        if stop.is_set() and kill_at is None:
            kill_at = time.monotonic() + deadline
            for child in running.values():
                child.ask_to_stop()
        for pid, child in list(running.items()):
            status = child.process.poll()
            if status is None:
                continue
            del running[pid]
            if not stop.is_set():
                log.error("process %d exited unexpectedly (status %d); stopping", pid, status)
                code = 1
                stop.set()
        if kill_at is not None and running and time.monotonic() > kill_at:
            for child in running.values():
                child.process.kill()
        if running:     # once stopping, polled often: returns soon after the last exit
            stop.wait(0.2) if kill_at is None else time.sleep(0.05)
    for child in children:
        child.channel.close()
    return code


# --- the child's side -----------------------------------------------------------------------

def child_main(kind: str, fds: Sequence[int]) -> None:
    """A child's life: `kind` "work" (a pool worker) or "run" (a long-running process), its
    first message what exactly. The signals are settled before anything is imported."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A pool worker leaves stopping to its parent; a long-running process asked to stop
    # before `main` took over SIGTERM has nothing to finish.
    signal.signal(signal.SIGTERM, signal.SIG_IGN if kind == "work"
                  else lambda signum, frame: hard_exit(0))
    channel = Channel(socket.socket(fileno=fds[0]))
    first = channel.recv()
    setup_logging(first.log_level)
    if isinstance(first, _Run):
        _run(channel, first, [socket.socket(fileno=fd) for fd in fds[1:]])
    else:
        _work(channel, first)


def _work(channel: Channel, work: _Work) -> None:
    """A pool worker's loop: tasks in, one answer each, until told to stop or the parent is
    gone."""
    if work.prepare is not None:
        work.prepare()
    channel.send(READY)
    while True:
        try:
            task = channel.recv()
        except (EOFError, OSError, pickle.UnpicklingError):     # the parent is gone
            return
        if task is None:
            # The parent is done with us, and every answer is in the socket already (sent
            # unbuffered): skip the interpreter's teardown of a heap it would only free,
            # which the parent waits for.
            os._exit(0)
        answer = _answer(task)
        # Not kept until the next task: a large task would sit under the next one's work.
        del task
        # Streamed: a large answer is not copied into bytes first. One that cannot be
        # pickled ends this worker (the stream is spoilt); its pool does the work itself.
        channel.send(answer)
        del answer


def _answer(task: _Task) -> object:
    try:
        return task.function(*task.args, **task.kwargs)
    except Exception as exc:
        try:    # the parent must be able to load it again
            pickle.loads(pickle.dumps(exc))
        except Exception:
            exc = RuntimeError(f"{type(exc).__name__}: {exc}")
        return _Raised(exc)


def _run(channel: Channel, run: _Run, sockets: list[socket.socket]) -> None:
    """A long-running process: `main` in the main thread; a thread waits for the parent's
    word (or its end) and turns it into SIGTERM, which `main`'s own handlers take."""

    def watch() -> None:
        with contextlib.suppress(Exception):     # its word, or its end
            channel.recv()
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
    code = 1
    try:
        run.main(*run.args, *sockets)
        code = 0
    except BaseException:
        log.exception("process %d failed", os.getpid())
    finally:
        hard_exit(code)


def hard_exit(code: int) -> None:
    """Exit now, without waiting for other threads (a stop deadline counts)."""
    logging.shutdown()
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    # The module's own copy (not this __main__ one), so that its messages unpickle as
    # syndicator.processes classes.
    from syndicator.processes import child_main as main

    main(sys.argv[1], [int(fd) for fd in sys.argv[2:]])
