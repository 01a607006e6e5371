"""The process model's costs, on its own: `python -m bench.processes [--tasks N]`.

Pages of 100 KB sent to one worker process and answered with their length, by 4 threads
keeping up to 3 pages each in flight (as the crawl's fetch threads do): the parent's CPU and
the wall time per page, and the worker's peak memory, for processes.Pool (fresh interpreters
over a socket each) and for ProcessPoolExecutor with multiprocessing's spawn and forkserver
starts. The command line is imported first, as under `python -m syndicator`: what a spawned
or forkserver child re-imports with the parent's main module.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

import syndicator.cli  # noqa: F401  (as under `python -m syndicator`)
from bench.common import emit
from syndicator import processes

PAGE = b"x" * 100_000
THREADS = 4
IN_FLIGHT = 3


def _pages(submit: Callable[..., Future[Any]], tasks: int) -> tuple[float, float]:
    """(parent CPU µs, wall µs) per page."""
    per_thread = tasks // THREADS

    def hand_over() -> None:
        pending: list[Future[Any]] = []
        for _ in range(per_thread):
            pending.append(submit(len, PAGE))
            if len(pending) >= IN_FLIGHT:
                pending.pop(0).result()
        for future in pending:
            future.result()

    threads = [threading.Thread(target=hand_over) for _ in range(THREADS)]
    cpu, wall = time.process_time(), time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done = per_thread * THREADS
    return ((time.process_time() - cpu) / done * 1e6, (time.perf_counter() - wall) / done * 1e6)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=4000)
    args = parser.parse_args(argv)
    with contextlib.closing(processes.Pool(1)) as pool:
        pool.start()
        pool.wait_ready(60)

        def submit(function: Callable[..., Any], *task: Any) -> Future[Any]:
            future = pool.submit(function, *task)
            assert future is not None
            return future

        _pages(submit, args.tasks // 4)       # warm
        cpu, wall = _pages(submit, args.tasks)
        peak = submit(processes.peak_rss_mb).result()
    emit(task="processes.Pool", parent_cpu_us=round(cpu), wall_us=round(wall),
         worker_peak_mb=round(peak))
    for method in ("spawn", "forkserver"):
        context = multiprocessing.get_context(method)
        with ProcessPoolExecutor(1, mp_context=context) as executor:
            executor.submit(len, b"").result()
            _pages(executor.submit, args.tasks // 4)
            cpu, wall = _pages(executor.submit, args.tasks)
            peak = executor.submit(processes.peak_rss_mb).result()
        emit(task=f"ProcessPoolExecutor {method}", parent_cpu_us=round(cpu),
             wall_us=round(wall), worker_peak_mb=round(peak))


if __name__ == "__main__":
    main()
