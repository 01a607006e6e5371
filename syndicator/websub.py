"""WebSub publisher pings: tell the hub a feed changed, without ever holding up a build.

    build ──changed feed ids──▶ hook_for(config) ──self URLs──▶ WebSubPinger.notify() (returns)
                                                       worker thread ──POST──▶ hub
                                                       hub.mode=publish & hub.url=<self URL>

`notify()` only puts URLs into a pending set (a URL already waiting is not queued twice) and
returns; one daemon thread posts them, one request per URL (every hub understands a single
`hub.url`; not every hub accepts several). Connection errors, 5xx and 429 answers are
retried with exponential backoff; other 4xx answers are logged and dropped, since repeating
the same request cannot succeed. `close()` gives the queue a bounded time to drain.

Pings go through fetch.ApiClient, not fetch.Fetcher: the Fetcher is built for scraping
(robots.txt, per-host politeness delays, response size caps, conditional GET), none of
which applies to a POST to our own hub, and a slow hub must not occupy the scraper's
per-host slots.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence

from syndicator import __version__
from syndicator.config import Config
from syndicator.fetch import ApiClient, ApiFailure
from syndicator.publish.common import FORMATS, feed_url

log = logging.getLogger(__name__)

USER_AGENT = f"Syndicator/{__version__} (WebSub publisher)"
# Backoff before retry k (k = 1, 2, ...): backoff * 2**(k-1), at most MAX_BACKOFF seconds.
DEFAULT_BACKOFF = 2.0
MAX_BACKOFF = 300.0


class WebSubPinger:
    """Queue + one worker thread posting publish pings to `hub`."""

    def __init__(self, hub: str, *, timeout: float = 10.0, retries: int = 3,
                 backoff: float = DEFAULT_BACKOFF, user_agent: str = USER_AGENT) -> None:
        self.hub = hub
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._client = ApiClient(timeout=(timeout, timeout), user_agent=user_agent)
        self._pending: dict[str, None] = {}     # insertion-ordered set
        self._busy = False                      # a URL is being delivered right now
        self._closing = False
        self._stopped = False
        self._cond = threading.Condition()
        self.sent = 0                           # successful pings (for tests and metrics)
        self.failed = 0                         # URLs given up on
        self._thread = threading.Thread(target=self._work, name="websub-pinger", daemon=True)
        self._thread.start()

    def notify(self, self_urls: Iterable[str]) -> None:
        """Queue pings for these feed URLs and return at once."""
        with self._cond:
            if self._closing:
                log.warning("websub: pinger closed; not notifying %s", ", ".join(self_urls))
                return
            for url in self_urls:
                self._pending.setdefault(url, None)
            self._cond.notify_all()

    def pending(self) -> int:
        """URLs waiting or in flight."""
        with self._cond:
            return len(self._pending) + (1 if self._busy else 0)

    def close(self, timeout: float = 10.0) -> bool:
        """Stop taking URLs, deliver what is queued for up to `timeout` seconds, then stop.
        True when everything was delivered (or given up on) in time."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)
        drained = not self._thread.is_alive()
        with self._cond:
            self._stopped = True          # cut a backoff wait short; abandon the rest
            left = list(self._pending)
            self._pending.clear()
            self._cond.notify_all()
        if left:
            log.warning("websub: %d ping(s) not sent before shutdown: %s", len(left),
                        ", ".join(left))
        self._client.close()
        return drained and not left

    # -- worker --------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closing and not self._stopped:
                    self._cond.wait()
                if self._stopped or not self._pending:
                    return                # closing with an empty queue, or stopped
                url = next(iter(self._pending))
                del self._pending[url]
                self._busy = True
            try:
                self._deliver(url)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _deliver(self, url: str) -> None:
        for attempt in range(self.retries + 1):
            if attempt:
                delay = min(self.backoff * 2 ** (attempt - 1), MAX_BACKOFF)
                if not self._wait(delay):
                    return
            outcome = self._post(url)
            if outcome == "ok":
                with self._cond:
                    self.sent += 1
                log.info("websub: hub notified of %s", url)
                return
            if outcome == "fatal":
                break
        with self._cond:
            self.failed += 1
        log.error("websub: giving up notifying %s of %s", self.hub, url)

    def _post(self, url: str) -> str:
        """One ping: "ok", "retry" (worth trying again) or "fatal"."""
        answer = self._client.post(self.hub, form={"hub.mode": "publish", "hub.url": url})
        if isinstance(answer, ApiFailure):
            log.warning("websub: hub %s unreachable for %s: %s", self.hub, url,
                        answer.description)
            return "retry"
        status = answer.status
        if 200 <= status < 300:
            return "ok"
        log.warning("websub: hub %s answered %d for %s", self.hub, status, url)
        return "retry" if status >= 500 or status == 429 else "fatal"

    def _wait(self, seconds: float) -> bool:
        """Sleep for a backoff unless stopped meanwhile; False when stopped."""
        deadline = time.monotonic() + seconds
        with self._cond:
            while not self._stopped:
                left = deadline - time.monotonic()
                if left <= 0:
                    return True
                self._cond.wait(left)
            return False


class HubNotifier:
    """The scheduler's after-build hook: feed ids → self URLs of every format → pinger."""

    def __init__(self, config: Config, pinger: WebSubPinger) -> None:
        self._config = config
        self.pinger = pinger
        self._feeds = {feed.id: feed for feed in config.feeds}

    def __call__(self, feed_ids: Sequence[str]) -> None:
        urls = [feed_url(self._config.site, self._feeds[fid], ext)
                for fid in feed_ids if fid in self._feeds for ext in FORMATS]
        if urls:
            self.pinger.notify(urls)

    def close(self, timeout: float = 10.0) -> bool:
        return self.pinger.close(timeout)


def hook_for(config: Config) -> HubNotifier | None:
    """A hook that pings the configured hub about changed feeds; None without `websub.hub`.

    Call `close(timeout)` on shutdown to drain the queue."""
    if not config.websub.hub:
        return None
    pinger = WebSubPinger(config.websub.hub, timeout=config.websub.timeout,
                          retries=config.websub.retries)
    return HubNotifier(config, pinger)
