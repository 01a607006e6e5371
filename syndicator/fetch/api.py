"""POSTs to the APIs Syndicator talks to (the Telegram Bot API, a WebSub hub): `ApiClient`.

Part of the `requests` adapter (syndicator.fetch re-exports these names).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
import urllib3.exceptions


@dataclass(frozen=True)
class ApiAnswer:
    """An API's HTTP answer, read in full (API answers are small)."""

    status: int
    body: bytes

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


@dataclass(frozen=True)
class ApiFailure:
    """No answer. `kind` says whether the request may have arrived:

    * "unreachable": the connection was never made (refused, connect timeout): it did not;
    * "timeout": sent, but no answer within the read timeout: it may have;
    * "lost": the connection broke after the request was sent: it may have;
    * "failed": anything else (a bad URL, too many redirects).

    `description` may contain the URL: callers with secrets in URLs scrub it."""

    kind: str
    description: str


class ApiClient:
    """POSTs to the APIs Syndicator talks to (the Telegram Bot API, a WebSub hub).

    Not the Fetcher: none of scraping's rules apply (robots.txt, per-host politeness, size
    caps, conditional GET), and a slow API must not hold the scraper's per-host slots.
    Failures are values, classified by whether the request may have arrived, which is what
    a caller needs to decide between retrying and reporting an unknown outcome.
    """

    def __init__(self, *, timeout: tuple[float, float], user_agent: str | None = None) -> None:
        self._timeout = timeout
        self._session = requests.Session()
        self._session.trust_env = False     # as the Fetcher: no per-request environment reads
        if user_agent:
            self._session.headers["User-Agent"] = user_agent

    def post(self, url: str, *, json_body: Any = None,
             form: Mapping[str, str] | None = None) -> ApiAnswer | ApiFailure:
        try:
            # trust_env is off (no ~/.netrc); proxies still come from the environment.
            proxies = requests.utils.get_environ_proxies(url) or None
            with self._session.post(url, json=json_body, data=form, timeout=self._timeout,
                                    proxies=proxies) as response:
                return ApiAnswer(response.status_code, response.content)
        except requests.ConnectTimeout as exc:
            return ApiFailure("unreachable", f"connect timeout: {exc}")
        except requests.ReadTimeout as exc:
            return ApiFailure("timeout", f"no answer within the read timeout: {exc}")
        except requests.ConnectionError as exc:
            reason = getattr(exc.args[0], "reason", None) if exc.args else None
            if isinstance(reason, urllib3.exceptions.NewConnectionError):
                return ApiFailure("unreachable", f"cannot connect: {reason}")
            return ApiFailure("lost", f"connection lost: {exc}")
        except requests.RequestException as exc:
            return ApiFailure("failed", f"request failed: {exc}")

    def close(self) -> None:
        self._session.close()
