"""HTTP: the only package that uses `requests` (and urllib3, protego).

Scraping goes through `Fetcher` (below); calls to the APIs we talk to (the Telegram Bot API,
a WebSub hub) through `ApiClient` (api.py), which has none of scraping's rules.

`Fetcher.get(url, settings)` returns a decoded `Page` (or `NotModified` for a 304 answer to a
conditional GET) and raises only `FetchError` and its subclasses `RobotsDisallowed`,
`ResponseTooLarge`, `AddressRefused` and `DeadlineExceeded`. Every `requests`/`urllib3`
exception is wrapped here, once.
`Fetcher.get_body` is the same without decoding (a `Body`): the pipeline hands article
pages to a page worker process undecoded, and decoding happens there (decode.py).

Politeness model
----------------
One `Fetcher` is shared by every thread of the service, and so is its politeness state, kept
per *host* (the host name, whatever the scheme or port: it is the machine we must not
overload) by its `gates` (politeness.py): the process's own, or, on PostgreSQL, shared by
every instance on the database (`ClusterGates`, given by app.py):

* at most `settings.per_host` requests to one host are in flight at a time; a request holds
  its slot from before it is sent until its body is read (or abandoned);
* request *starts* to one host are at least `settings.delay` seconds apart (0 allowed), or
  the host's robots.txt `Crawl-delay` if that is longer (capped at `CRAWL_DELAY_MAX`);
* every attempt counts: retries, each redirect hop and the robots.txt fetch itself go
  through the same gate. A retry gives its slot back while it waits out its backoff, so a
  failing request does not block the other threads.

robots.txt is read once per origin (scheme, host, port) and cached for `ROBOTS_TTL`; rules
match the product token of the user agent (`Syndicator` for `Syndicator/0.1 (+https://…)`).
A missing robots.txt (4xx) allows everything; a broken one (5xx, unreachable, too large)
also allows, with a warning, and is asked again sooner (`ROBOTS_ERROR_TTL`).

Bodies are streamed and capped at `settings.max_bytes` after content decoding, so neither a
huge page nor a gzip bomb is ever held in memory beyond the cap plus one chunk.

A source's own `headers:` and `cookies:` go with every request to its own origins
(headers.py); `render: browser` pages are rendered by headless Chromium, every request of
the page made through this Fetcher (browser.py).

Fetch policy (fetchpolicy.py, connections.py): every connection goes to a public address
unless `settings.allow_private`, checked at connect time so redirects are checked too; a
caller may also keep redirects on some origins (`follow`). Each attempt has an overall
deadline, `settings.request_deadline` for the connection and every read (or the caller's
`deadline`, a source run's, if sooner), enforced by deadline.py: a body dripped one byte at a
time ends there too.

Text is decoded once, by decode.py (BOM, Content-Type charset, `<meta charset>`, UTF-8,
detection).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
import urllib3.exceptions
from protego import Protego
from requests.cookies import extract_cookies_to_jar
from requests.structures import CaseInsensitiveDict

from syndicator.config import FetchConfig
from syndicator.deadline import watch
from syndicator.decode import decode_page
from syndicator.errors import (
    AddressRefused,
    DeadlineExceeded,
    FetchError,
    RobotsDisallowed,
)
from syndicator.fetch.answers import (
    Answer,
    answer_body,
    drain,
    location,
    merge_validators,
    read_capped,
)
from syndicator.fetch.api import ApiAnswer, ApiClient, ApiFailure
from syndicator.fetch.connections import adapter, check_url
from syndicator.fetch.failures import describe, late, transient
from syndicator.fetch.headers import (
    ACCEPT,
    SOURCE_COOKIES,
    SourceHeaders,
    join_cookies,
    request_headers,
)
from syndicator.fetchpolicy import OriginPolicy, check_host, origin
from syndicator.model import Body, NotModified, Page, Validators
from syndicator.politeness import (
    HostGates,
    LocalGates,
    backoff,
    parse_retry_after,
    product_token,
    retry_status,
    retry_wait,
)
from syndicator.uris import redact

if TYPE_CHECKING:
    from syndicator.fetch.browser import Browser

__all__ = ["ApiAnswer", "ApiClient", "ApiFailure", "Fetcher", "parse_retry_after",
           "product_token", "render_problem"]

log = logging.getLogger(__name__)

CRAWL_DELAY_MAX = 30.0


def render_problem(executable: str) -> str | None:
    """Why `render: browser` cannot run on this machine, or None when it can: Playwright
    must import (the `[browser]` extra) and Chromium be an executable file at `executable`.
    The one check: the Fetcher makes it before its first render, `validate` warns with it."""
    try:
        from syndicator.fetch import browser  # noqa: F401 - Playwright, as a render imports it
    except ImportError as exc:
        return f"render: browser needs Playwright: pip install 'syndicator[browser]' ({exc})"
    if not os.path.isfile(executable):
        return (f"render: browser needs Chromium, not found at {executable} "
                "(apt-get install chromium, or set fetch.browser.executable)")
    if not os.access(executable, os.X_OK):
        return (f"render: browser needs Chromium, but {executable} is not executable "
                "(set fetch.browser.executable to the chromium program)")
    return None
ROBOTS_TTL = 3600.0
ROBOTS_ERROR_TTL = 600.0
ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309 asks crawlers to read at least 500 KiB
ROBOTS_MAX_REDIRECTS = 5
# requests' own cookie extraction (untyped): the jar, the request and urllib3's response.
_extract_cookies: Callable[[Any, Any, Any], None] = extract_cookies_to_jar


_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class _Robots:
    rules: Protego | None       # None: everything allowed
    expires: float              # on the monotonic clock


class Fetcher:
    """A polite, size-capped, retrying HTTP client for pages and feeds. Thread-safe."""

    def __init__(self, *, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic,
                 on_response: Callable[[str, float], None] | None = None,
                 gates: HostGates | None = None) -> None:
        """`on_response(host, seconds)` is told how long each answer took (for metrics);
        `gates` keep the politeness per host (default: this process's own, `LocalGates`;
        app.py gives every instance on one PostgreSQL database shared ones)."""
        self.on_response = on_response
        self._owns_session = session is None
        self._session = session if session is not None else _new_session()
        self._sleep = sleep
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._gates = gates if gates is not None else LocalGates(sleep, monotonic)
        self._robots: dict[str, _Robots] = {}
        self._robots_locks: dict[str, threading.Lock] = {}
        self._proxy_cache: dict[str, dict[str, str]] = {}
        self._base_headers = CaseInsensitiveDict(self._session.headers)
        self._source_headers = SourceHeaders()
        self._browser: Browser | None = None      # started by the first `render: browser`
        # Our own session's connections, by policy: see connections.py.
        self._adapters = {False: adapter(allow_private=False), True: adapter(allow_private=True)}

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Release the connection pool (only a session this Fetcher created itself)."""
        if self._browser is not None:
            self._browser.close()
            self._browser = None
        if self._owns_session:
            self._session.close()
            for pooled in self._adapters.values():
                pooled.close()

    def get(self, url: str, settings: FetchConfig, *, validators: Validators | None = None,
            deadline: float | None = None, follow: OriginPolicy | None = None
            ) -> Page | NotModified:
        """Fetch `url` following redirects; a 304 to the validators gives NotModified.

        `deadline` (time.monotonic) bounds every attempt besides `settings.request_deadline`;
        with `follow`, a redirect to an origin it does not allow is refused."""
        answer = self.get_body(url, settings, validators=validators, deadline=deadline,
                               follow=follow)
        return decode_page(answer) if isinstance(answer, Body) else answer

    def get_body(self, url: str, settings: FetchConfig, *, validators: Validators | None = None,
                 deadline: float | None = None, follow: OriginPolicy | None = None
                 ) -> Body | NotModified:
        """`get` without decoding the text: for a caller that decodes elsewhere."""
        if settings.render:
            return self._rendered(url, settings, deadline=deadline, follow=follow)
        headers = request_headers(settings, ACCEPT, validators)
        answer = self._exchange(url, settings, headers=headers, retries=settings.retries,
                                max_bytes=settings.max_bytes,
                                max_redirects=settings.max_redirects, robots=settings.robots,
                                deadline=deadline, follow=follow)
        if answer.status == 304:
            return NotModified(url=url, validators=merge_validators(validators, answer.headers))
        if not 200 <= answer.status < 300:
            raise FetchError(f"HTTP {answer.status}", url=redact(answer.url),
                             status=answer.status)
        return answer_body(url, answer)

    def _rendered(self, url: str, settings: FetchConfig, *, deadline: float | None,
                  follow: OriginPolicy | None) -> Body:
        """The page as headless Chromium renders it (fetch/browser.py), every request it
        makes fetched by this Fetcher. Never conditional: its data may change when the
        document does not."""
        with self._lock:
            if self._browser is None:
                problem = render_problem(settings.browser.executable)
                if problem is not None:
                    raise FetchError(problem, url=redact(url))
            from syndicator.fetch import browser

            if self._browser is None:
                self._browser = browser.Browser(settings.browser.executable,
                                                settings.browser.concurrency)
            chromium = self._browser
        return browser.render_page(self.get_body, chromium, url, settings, deadline=deadline,
                                   follow=follow)

    # --- one document: redirects, robots, retries ------------------------------------------

    def _exchange(self, url: str, settings: FetchConfig, *, headers: Mapping[str, str],
                  retries: int, max_bytes: int, max_redirects: int, robots: bool,
                  deadline: float | None = None, follow: OriginPolicy | None = None) -> Answer:
        """The final answer for `url` after following at most `max_redirects` redirects."""
        current = url
        for _hop in range(max_redirects + 1):
            check_url(current)
            if follow is not None and not follow.allows(current):
                how = "a link to" if current == url else "redirected to"
                raise AddressRefused(f"{how} {origin(current)}, not an origin this source "
                                     "follows (see follow_hosts)", url=redact(url))
            delay = settings.delay
            if robots:
                delay = max(delay, self._robots_check(current, settings))
            try:
                # The source's own headers and cookies, on its own origins only (headers.py).
                answer = self._with_retries(current, settings,
                                            headers=self._source_headers.add(headers, settings,
                                                                             current),
                                            retries=retries, max_bytes=max_bytes, delay=delay,
                                            deadline=deadline)
            except AddressRefused as exc:
                if current == url:
                    raise
                raise AddressRefused(f"redirected to {redact(current)}: {exc.reason}",
                                     url=redact(url)) from None
            if answer.status not in _REDIRECTS:
                return answer
            current = location(answer)
        raise FetchError(f"too many redirects (more than {max_redirects})", url=redact(url))

    def _with_retries(self, url: str, settings: FetchConfig, *, headers: Mapping[str, str],
                      retries: int, max_bytes: int, delay: float,
                      deadline: float | None) -> Answer:
        for attempt in range(retries + 1):
            last = attempt == retries
            try:
                answer = self._attempt(url, settings, headers=headers, max_bytes=max_bytes,
                                       delay=delay, deadline=deadline)
            except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
                if last or not transient(exc):
                    raise FetchError(describe(exc), url=redact(url)) from exc
                self._sleep(backoff(attempt))
                continue
            if last or not retry_status(answer.status):
                return answer
            self._sleep(retry_wait(attempt, answer.headers.get("Retry-After")))
        raise AssertionError("unreachable: the last attempt always returns or raises")

    def _attempt(self, url: str, settings: FetchConfig, *, headers: Mapping[str, str],
                 max_bytes: int, delay: float, deadline: float | None) -> Answer:
        """One request through the host gate, within its deadline (the earlier of
        `settings.request_deadline` from now and the caller's `deadline`)."""
        host = (urlsplit(url).hostname or "").lower()
        with self._gates.slot(host, settings.per_host, delay, deadline=deadline):
            now = time.monotonic()
            until = now + settings.request_deadline
            by_run = deadline is not None and deadline < until   # the run's comes first
            if deadline is not None:
                if deadline <= now:
                    raise DeadlineExceeded("not fetched: the source run's deadline "
                                           "(fetch.run_deadline) has passed", url=redact(url))
                until = min(until, deadline)
            with watch(until, until - now) as watched:
                try:
                    answer = self._request(url, settings, headers, max_bytes)
                except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
                    if watched.expired:
                        raise late(url, watched.seconds, by_run) from exc
                    raise
                except AddressRefused as exc:
                    raise AddressRefused(exc.reason, url=redact(url)) from None
            if watched.expired:  # a body read to the connection's end, cut there
                raise late(url, watched.seconds, by_run)
            return answer

    def _request(self, url: str, settings: FetchConfig, headers: Mapping[str, str],
                 max_bytes: int) -> Answer:
        """One GET; the body is read only for 2xx answers."""
        started = time.perf_counter()
        response = self._send(url, headers, (settings.connect_timeout, settings.timeout),
                              allow_private=settings.allow_private)
        if self.on_response is not None:  # time to the response headers
            self.on_response(urlsplit(url).hostname or "", time.perf_counter() - started)
        try:
            body = b""
            if 200 <= response.status_code < 300:
                body = read_capped(response, max_bytes, url)
            else:
                drain(response)
            return Answer(url=url, status=response.status_code,
                           headers=response.headers, body=body)
        finally:
            # An abandoned body closes the connection; a fully read one returns it to
            # the pool for the next request.
            response.close()

    def _send(self, url: str, headers: Mapping[str, str], timeout: tuple[float, float], *,
              allow_private: bool) -> requests.Response:
        """One GET, redirects not followed, body not read yet."""
        proxies = self._proxies(url)
        if not allow_private and (proxies or not self._owns_session):
            # The connection goes to a proxy, or through a session we did not set up: the
            # address is checked here, and resolved again by whoever connects.
            parts = urlsplit(url)
            check_host(parts.hostname or "", parts.port or (443 if parts.scheme == "https"
                                                             else 80))
        if not self._owns_session:
            # A session given to us keeps everything requests does (its environment, auth,
            # default params): the caller configured it.
            return self._session.get(url, headers=dict(headers), stream=True,
                                     allow_redirects=False, timeout=timeout)
        # Our own session has no auth, params or proxies of its own and trust_env off, so
        # Session.request's merging of session and request settings only copies, through
        # generic helpers that cost a quarter of a 304 GET's CPU. Prepared here instead, with
        # what that merge would give: the session's default headers under ours, its cookie
        # jar (read by prepare, filled from answers by send), credentials from the URL.
        prepared = requests.PreparedRequest()
        merged = self._base_headers.copy()
        merged.update(headers)
        configured = headers.get(SOURCE_COOKIES)
        if configured:
            del merged[SOURCE_COOKIES]
        session = self._session
        prepared.prepare(method="GET", url=url, headers=merged, cookies=session.cookies)
        if configured:
            jar = prepared.headers.get("Cookie")
            prepared.headers["Cookie"] = join_cookies(
                configured, jar if isinstance(jar, str) else None)
        # Session.send's work, less what our own session never needs: no response hooks, no
        # redirect to look ahead to (we follow them ourselves), no `elapsed`. The cookie jar
        # is given the answer only when it sets a cookie (http.cookiejar scans every answer's
        # headers otherwise, for the same jar in the end). Callgrind, 120 KB pages from
        # nginx: 1.99 -> 1.91 M instructions per GET.
        response = self._adapters[allow_private].send(
            prepared, stream=True, timeout=timeout, proxies=proxies,
            verify=True if session.verify is None else session.verify, cert=session.cert)
        headers = response.headers
        if "Set-Cookie" in headers or "Set-Cookie2" in headers:
            _extract_cookies(session.cookies, prepared, response.raw)
        return response

    def _proxies(self, url: str) -> dict[str, str] | None:
        """The environment's proxies for the URL's origin (HTTP(S)_PROXY, NO_PROXY), read once
        per origin; None for a session given to us, which keeps its own settings."""
        if not self._owns_session:
            return None
        key = origin(url)
        with self._lock:
            found = self._proxy_cache.get(key)
            if found is None:
                found = self._proxy_cache[key] = dict(
                    requests.utils.get_environ_proxies(key + "/"))
            return found

    # --- robots.txt --------------------------------------------------------------------------

    def _robots_check(self, url: str, settings: FetchConfig) -> float:
        """Raise RobotsDisallowed if robots.txt forbids `url`; return its crawl delay."""
        rules = self._robots_rules(origin(url), settings)
        if rules is None:
            return 0.0
        token = product_token(settings.user_agent)
        if not rules.can_fetch(url, token):
            raise RobotsDisallowed("disallowed by robots.txt", url=redact(url))
        crawl_delay = rules.crawl_delay(token)
        return min(float(crawl_delay), CRAWL_DELAY_MAX) if crawl_delay else 0.0

    def _robots_rules(self, origin: str, settings: FetchConfig) -> Protego | None:
        with self._lock:
            lock = self._robots_locks.setdefault(origin, threading.Lock())
        # One thread per origin fetches; the others wait for its result instead of a stampede.
        with lock:
            cached = self._robots.get(origin)
            if cached is not None and cached.expires > self._monotonic():
                return cached.rules
            rules, ttl = self._load_robots(origin, settings)
            self._robots[origin] = _Robots(rules=rules, expires=self._monotonic() + ttl)
            return rules

    def _load_robots(self, origin: str, settings: FetchConfig) -> tuple[Protego | None, float]:
        url = origin + "/robots.txt"
        headers = request_headers(settings, "text/plain,*/*;q=0.8", None)
        try:
            answer = self._exchange(url, settings, headers=headers, retries=0,
                                    max_bytes=min(settings.max_bytes, ROBOTS_MAX_BYTES),
                                    max_redirects=ROBOTS_MAX_REDIRECTS, robots=False)
        except FetchError as exc:
            log.warning("robots.txt unavailable, allowing all: %s", exc)
            return None, ROBOTS_ERROR_TTL
        if 200 <= answer.status < 300:
            return Protego.parse(answer.body.decode("utf-8", errors="replace")), ROBOTS_TTL
        if 400 <= answer.status < 500:
            return None, ROBOTS_TTL
        log.warning("robots.txt at %s answered HTTP %s, allowing all", redact(url), answer.status)
        return None, ROBOTS_ERROR_TTL


# --- requests plumbing ------------------------------------------------------------------------

def _new_session() -> requests.Session:
    session = requests.Session()
    # Retries and redirects are ours (they go through the politeness gate), so none here.
    # The Fetcher sends through its own adapters (by address policy); these are the defaults.
    guarded = adapter(allow_private=False)
    session.mount("http://", guarded)
    session.mount("https://", guarded)
    # With trust_env, requests re-reads the whole environment (proxies, CA bundle) and stats
    # ~/.netrc on every request: a quarter of the CPU a page fetch costs. The environment is
    # read here instead (the CA bundle) and once per origin (proxies, see Fetcher._proxies);
    # credentials come from the config, never from ~/.netrc.
    session.trust_env = False
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    return session
