"""The headers of a scraping request: ours (User-Agent, Accept, conditional GET) and a
source's own (`headers:` and `cookies:` in its config). Part of the `requests` adapter.

A source's headers and cookies may carry credentials (a paywall session, an API key), so
they go only to the source's own origins: its URL's and those `follow_hosts` lists
(fetchpolicy.OriginPolicy, the rule content links follow). A redirect to any other origin,
or a link to one, is fetched without them. They are never logged.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from syndicator.config import FetchConfig
from syndicator.fetchpolicy import OriginPolicy
from syndicator.model import Validators

ACCEPT = ("text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,"
          "application/feed+json,application/xml;q=0.9,application/json;q=0.9,*/*;q=0.8")
ACCEPT_ENCODING = "gzip, deflate"
# The Cookie header a source's configured cookies make, under this key until the request is
# prepared, where the cookie jar's own cookies for the URL join them (fetch/__init__.py).
SOURCE_COOKIES = "Cookie"


def request_headers(settings: FetchConfig, accept: str,
                    validators: Validators | None) -> dict[str, str]:
    headers = {"User-Agent": settings.user_agent, "Accept": accept,
               "Accept-Encoding": ACCEPT_ENCODING}
    if validators is not None and validators.etag:
        headers["If-None-Match"] = validators.etag
    if validators is not None and validators.last_modified:
        headers["If-Modified-Since"] = validators.last_modified
    return headers


class SourceHeaders:
    """Which URLs get a source's headers and cookies; one policy per source, kept."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._policies: dict[tuple[str, tuple[str, ...]], OriginPolicy] = {}

    def add(self, headers: Mapping[str, str], settings: FetchConfig,
            url: str) -> Mapping[str, str]:
        """`headers` with the source's own when `url` is on one of its origins."""
        if not (settings.headers or settings.cookies) or settings.source_url is None:
            return headers
        if not self._policy(settings.source_url, settings.follow_hosts).allows(url):
            return headers
        merged = dict(headers)
        merged.update(settings.headers)
        if settings.cookies:
            merged[SOURCE_COOKIES] = "; ".join(f"{name}={value}"
                                               for name, value in settings.cookies)
        return merged

    def _policy(self, url: str, follow_hosts: tuple[str, ...]) -> OriginPolicy:
        key = (url, follow_hosts)
        with self._lock:
            policy = self._policies.get(key)
            if policy is None:
                policy = self._policies[key] = OriginPolicy(url, follow_hosts)
            return policy


def join_cookies(configured: str, from_jar: str | None) -> str:
    """One Cookie header: the configured cookies, then the jar's (cookies the site set)
    whose names the configuration does not give."""
    if not from_jar:
        return configured
    names = {part.split("=", 1)[0].strip() for part in configured.split(";")}
    kept = [part.strip() for part in from_jar.split(";")
            if part.strip() and part.split("=", 1)[0].strip() not in names]
    return "; ".join([configured, *kept])
