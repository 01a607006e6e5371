"""Waiting for a host's request slot is fair and bounded: waiters are served in the order
they asked, within one process (the local gates' threads) and across processes on one
PostgreSQL database (store/rates.py's line), and a waiter whose deadline passes gives up
cleanly, leaving the line to those behind it."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import create_engine, text
from test_push_telegram import wait_for

from syndicator.config import FetchConfig
from syndicator.errors import DeadlineExceeded
from syndicator.fetch import Fetcher
from syndicator.politeness import ClusterGates, LocalGates
from syndicator.store.rates import DatabaseRates
from tests.test_cluster_pacing import pg_url  # noqa: F401 - the fixture

WAITERS = 5


def test_a_hosts_local_slot_goes_to_its_threads_in_turn() -> None:
    gates = LocalGates()
    served: list[int] = []

    def wait(n: int) -> None:
        with gates.slot("news.example", 1, 0.0):
            served.append(n)

    threads = [threading.Thread(target=wait, args=(n,)) for n in range(WAITERS)]
    with gates.slot("news.example", 1, 0.0):
        for n, thread in enumerate(threads):        # each in line before the next comes
            thread.start()
            wait_for(lambda n=n: gates.gate("news.example").waiting == n + 1)
    for thread in threads:
        thread.join()
    assert served == list(range(WAITERS))


def test_a_local_waiter_gives_up_at_its_deadline_and_leaves_the_line() -> None:
    gates = LocalGates()
    with gates.slot("news.example", 1, 0.0):
        with pytest.raises(DeadlineExceeded, match=r"news\.example: not fetched: the source "
                           r"run's deadline \(fetch\.run_deadline\) passed while waiting for "
                           r"a request slot \(per_host 1\)"), \
                gates.slot("news.example", 1, 0.0, deadline=time.monotonic() + 0.2):
            raise AssertionError("entered while the slot was held")
        assert gates.gate("news.example").waiting == 0
    with gates.slot("news.example", 1, 0.0, deadline=time.monotonic() + 60.0):
        assert gates.gate("news.example").waiting == 0


# --- across processes ----------------------------------------------------------------------

# Each thread waits for its turn to come (arrivals SPACING apart, from the start the test
# sends once every process is ready), notes its arrival, asks for the one slot of a host,
# notes when it got it, holds it a moment and prints "turn arrived served". Turn 0 holds it
# until every other waiter is in line.
IN_LINE = """
import sys, threading, time
from sqlalchemy import create_engine, text
from syndicator.store.rates import DatabaseRates

url, spacing, last = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
rates = DatabaseRates(url)
rates.check()
counters = create_engine(url)
with counters.connect() as conn:
    conn.execute(text("SELECT 1"))
print("ready", flush=True)
start = float(sys.stdin.readline())

def count(name):
    with counters.connect() as conn:
        return conn.execute(text(f"SELECT nextval('{name}')")).scalar()

def wait(turn):
    time.sleep(max(0.0, start + turn * spacing - time.time()))
    arrived = count("arrived")
    token = rates.acquire("host:busy.example", 1, 120.0)
    assert token is not None
    served = count("served")
    time.sleep((last + 2) * spacing if turn == 0 else 0.05)
    rates.release("host:busy.example", token)
    print(turn, arrived, served, flush=True)

threads = [threading.Thread(target=wait, args=(int(t),)) for t in sys.argv[4:]]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
rates.close()
"""
PROCESSES = 3
THREADS = 3
SPACING = 0.33


@pytest.mark.postgres
def test_waiters_of_several_processes_and_threads_are_served_in_the_order_they_came(
        pg_url: str) -> None:  # noqa: F811 - the fixture
    counters = create_engine(pg_url)
    with counters.begin() as conn:
        conn.execute(text("CREATE SEQUENCE arrived"))
        conn.execute(text("CREATE SEQUENCE served"))
    counters.dispose()
    waiters = PROCESSES * THREADS
    processes = [subprocess.Popen(
        [sys.executable, "-c", IN_LINE, pg_url, str(SPACING), str(waiters - 1),
         *(str(turn) for turn in range(p, waiters, PROCESSES))],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for p in range(PROCESSES)]
    for process in processes:
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
    start = time.time() + 0.5
    for process in processes:
        assert process.stdin is not None
        process.stdin.write(f"{start}\n")
        process.stdin.flush()
    outputs = [process.communicate(timeout=180) for process in processes]
    for process, (_out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
    rows = [tuple(map(int, line.split())) for out, _err in outputs for line in out.splitlines()]
    assert sorted(turn for turn, _arrived, _served in rows) == list(range(waiters))
    first = next(row for row in rows if row[0] == 0)
    assert first[1] == 1 and first[2] == 1          # everyone else waited in line behind it
    # Turns overtaken: waiters that came later but were served earlier. Two arrivals noted
    # a moment before each asks may swap on a busy machine: one, never more.
    overtaken = {turn: sum(1 for _t, a, s in rows if a > arrived and s < served)
                 for turn, arrived, served in rows}
    assert max(overtaken.values()) <= 1, (rows, overtaken)


def advisory_locks(url: str, granted: bool) -> int:
    """How many advisory locks of the test's database are held (`granted`) or waited for."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted = :g "
                "AND database = (SELECT oid FROM pg_database "
                "WHERE datname = current_database())"), {"g": granted}).scalar_one())
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_waiter_whose_deadline_passes_gives_up_and_those_behind_it_are_served(
        pg_url: str) -> None:  # noqa: F811 - the fixture
    holder, quitter, patient = (DatabaseRates(pg_url) for _ in range(3))
    got: dict[str, object | None] = {}

    def ask(name: str, rates: DatabaseRates, timeout: float) -> None:
        got[name] = rates.acquire("host:slow.example", 1, timeout)

    try:
        token = holder.acquire("host:slow.example", 1, 0.0)
        assert token is not None
        quits = threading.Thread(target=ask, args=("quitter", quitter, 2.0))
        quits.start()
        wait_for(lambda: advisory_locks(pg_url, True) == 2)      # the slot; the line's head
        waits = threading.Thread(target=ask, args=("patient", patient, 120.0))
        waits.start()
        wait_for(lambda: advisory_locks(pg_url, False) == 1)     # in line behind it
        quits.join()
        assert got["quitter"] is None
        # A fetch bounded by its source run's deadline gives up the same way, as a fetch error.
        with Fetcher(gates=ClusterGates(quitter)) as fetcher, \
                pytest.raises(DeadlineExceeded, match="passed while waiting for a request slot"):
            fetcher.get("http://slow.example/", FetchConfig(per_host=1, delay=0, robots=False),
                        deadline=time.monotonic() + 1.0)
        holder.release("host:slow.example", token)
        waits.join()
        assert got["patient"] is not None
        patient.release("host:slow.example", got["patient"])
        # Nobody is left in line, nothing is held: a slot is taken at once.
        assert advisory_locks(pg_url, True) == 0 and advisory_locks(pg_url, False) == 0
        assert holder.acquire("host:slow.example", 1, 0.0) is not None
    finally:
        for rates in (holder, quitter, patient):
            rates.close()
