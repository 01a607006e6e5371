"""The `site:`, `server:` and `websub:` sections: what the published feeds and the HTTP server
are."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import (
    Field,
    field_validator,
)

from syndicator.config_base import Duration, HttpUrl, Model, Size
from syndicator.jobs.tuning import (
    STALLED_DEFAULT,
    STALLED_MAX,
    STALLED_MIN,
)


class SiteConfig(Model):
    title: str = "Syndicator feeds"
    base_url: HttpUrl = "http://127.0.0.1:8080/"
    description: str = ""

    @field_validator("base_url")
    @classmethod
    def _slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"



class ServerLimits(Model):
    """`server: {limits: ...}` bounds on every HTTP request (docs/server.md, "Limits")."""

    request_line: Size = Field(default=8 * 1024, ge=256, le=1024 * 1024)     # 414 above
    headers: int = Field(default=100, ge=8, le=10_000)          # how many; 431 above
    header_bytes: Size = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)  # 431
    body_bytes: Size = Field(default=64 * 1024, ge=1024, le=1024 * 1024 * 1024)  # 413
    # From a connection's opening, or the previous answer on it, to the end of a request's
    # headers.
    header_timeout: Duration = Field(default=10.0, gt=0, le=600)
    # An idle keep-alive connection is closed after this long without a new request.
    idle_timeout: Duration = Field(default=5.0, gt=0, le=600)
    # From the end of a request's headers to the end of its body (else 408).
    body_timeout: Duration = Field(default=30.0, gt=0, le=3600)
    # Answers that make no progress to the client this long: the connection is aborted.
    send_timeout: Duration = Field(default=60.0, gt=0, le=3600)


class ServerConfig(Model):
    """`server:` where `syndicator run` / `serve` listen (base_url may differ behind a proxy)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    limits: ServerLimits = ServerLimits()
    # Feed views with ?limit/filter/filterout/format that miss the cache, per client address:
    # `query_burst` at once, refilled at `query_rate` per second; then 429 (web/ratelimit.py).
    query_rate: float = Field(default=1.0, gt=0, le=10_000)
    query_burst: int = Field(default=20, ge=1, le=100_000)
    # `serve` only: processes answering on the one socket (`run` keeps one: its scheduler).
    # "auto": one per CPU this process may run on, as nginx's `worker_processes auto`.
    workers: int | Literal["auto"] = 1

    @field_validator("workers", mode="before")
    @classmethod
    def _workers(cls, value: object) -> object:
        # One message for both forms, instead of one per member of the union.
        if value == "auto" or (isinstance(value, int) and not isinstance(value, bool)
                               and 1 <= value <= 64):
            return value
        raise ValueError(f"must be a number of processes from 1 to 64, or auto (got {value!r})")

    def processes(self) -> int:
        """How many processes `serve` forks: `workers`, with "auto" resolved."""
        if self.workers != "auto":
            return self.workers
        try:
            cpus = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):     # not on Linux
            cpus = os.cpu_count() or 1
        return max(1, min(64, cpus))


class JobsConfig(Model):
    """`jobs:` how many jobs (polls, builds, pushes) one `run` or `worker` process runs at
    once; unset: one per enabled source up to 8 in process, 4 per process in a cluster.
    `stalled_after` (cluster only): seconds without a heartbeat after which a process is
    taken for dead and its jobs run by another (jobs/tuning.py)."""

    concurrency: int | None = Field(default=None, ge=1, le=64)
    stalled_after: Duration = STALLED_DEFAULT

    @field_validator("stalled_after")
    @classmethod
    def _stalled_after(cls, value: float) -> float:
        if not STALLED_MIN <= value <= STALLED_MAX:
            raise ValueError(f"must be from {STALLED_MIN:g} s (three heartbeats) to "
                             f"{STALLED_MAX:g} s (got {value:g} s)")
        return value


class WebSubConfig(Model):
    """`websub:` a hub to advertise in every feed and to ping after a feed changed."""

    hub: HttpUrl | None = None
    timeout: Duration = 10.0
    retries: int = Field(default=3, ge=0, le=10)


