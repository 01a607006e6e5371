"""The cluster engine's numbers that others read too, without procrastinate: its clock
(jobs/queue.py runs it, config_server.py bounds `jobs.stalled_after` by it) and how many
jobs a process runs at once (the store sizes its connection pool by it).

A killed process's job is run again by another at most

    stalled_after + SWEEP_EVERY + FETCH_POLL

seconds after the kill: its last heartbeat is at most as old as the kill, the first sweep
that finds it older than `stalled_after` comes within SWEEP_EVERY, and an idle `jobs`
worker looks for the job within FETCH_POLL (`pickup_bound`). The deployment guide promises
FAILOVER_PROMISE.
"""

from __future__ import annotations

HEARTBEAT = 2.0          # seconds between a worker's heartbeats
SWEEP_EVERY = 2          # seconds between sweeps (a whole number: a cron's step)
FETCH_POLL = 1.0         # seconds between looks for jobs of an idle `jobs` worker
STALLED_DEFAULT = 15.0   # seconds without a heartbeat after which a worker is taken for dead
# Bounds of `jobs.stalled_after`: three heartbeats, so that one late heartbeat (a busy
# machine) never has a live worker's jobs run twice; five minutes, past which a killed
# instance's jobs wait longer than any reader would.
STALLED_MIN = 3 * HEARTBEAT
STALLED_MAX = 300.0
FAILOVER_PROMISE = 30.0  # seconds from a kill to another instance running its jobs
DEFAULT_CONCURRENCY = 4  # jobs one process runs at once unless jobs.concurrency says


def cluster_concurrency(configured: int | None) -> int:
    """How many jobs one process of the cluster runs at once (`jobs.concurrency`)."""
    return configured or DEFAULT_CONCURRENCY


def pickup_bound(stalled_after: float) -> float:
    """The longest time from a process's kill to another running its jobs."""
    return stalled_after + SWEEP_EVERY + FETCH_POLL


def failover_problem(stalled_after: float) -> str | None:
    """Why `jobs.stalled_after` breaks the failover promise, or None when it keeps it."""
    bound = pickup_bound(stalled_after)
    if bound <= FAILOVER_PROMISE:
        return None
    return (f"jobs.stalled_after: {stalled_after:g} s, plus a sweep ({SWEEP_EVERY} s) and a "
            f"look for jobs ({FETCH_POLL:g} s), lets the jobs of a killed instance wait up "
            f"to {bound:g} s for another, over the {FAILOVER_PROMISE:g} s of failover "
            f"(docs/deploy.md); at most "
            f"{FAILOVER_PROMISE - SWEEP_EVERY - FETCH_POLL:g} s keeps it")
