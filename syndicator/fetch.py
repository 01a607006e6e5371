"""HTTP: the only module that uses `requests` (and urllib3, protego).

Scraping goes through `Fetcher` (below); calls to the APIs we talk to (the Telegram Bot API,
a WebSub hub) through `ApiClient` (at the end), which has none of scraping's rules.

`Fetcher.get(url, settings)` returns a decoded `Page` (or `NotModified` for a 304 answer to a
conditional GET) and raises only `FetchError` and its subclasses `RobotsDisallowed` and
`ResponseTooLarge`. Every `requests`/`urllib3` exception is wrapped here, once.
`Fetcher.get_body` is the same without decoding (a `Body`): the pipeline hands article
pages to a page worker process undecoded, and decoding happens there (decode.py).

Politeness model
----------------
One `Fetcher` is shared by every thread of the service, and so is its politeness state, kept
per *host* (the host name, whatever the scheme or port: it is the machine we must not
overload):

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

Text is decoded once, by decode.py (BOM, Content-Type charset, `<meta charset>`, UTF-8,
detection).
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
import urllib3.exceptions
from protego import Protego
from requests.adapters import HTTPAdapter
from requests.cookies import extract_cookies_to_jar
from requests.structures import CaseInsensitiveDict
from requests.utils import requote_uri

from syndicator.config import FetchConfig
from syndicator.decode import decode_page
from syndicator.errors import FetchError, ResponseTooLarge, RobotsDisallowed
from syndicator.model import Body, NotModified, Page, Validators

log = logging.getLogger(__name__)

ACCEPT = ("text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,"
          "application/feed+json,application/xml;q=0.9,application/json;q=0.9,*/*;q=0.8")
ACCEPT_ENCODING = "gzip, deflate"
BACKOFF_BASE = 0.5            # seconds before the first retry; doubles with every retry
BACKOFF_MAX = 8.0
RETRY_AFTER_MAX = 30.0        # a server's Retry-After is honoured up to this many seconds
CRAWL_DELAY_MAX = 30.0
ROBOTS_TTL = 3600.0
ROBOTS_ERROR_TTL = 600.0
ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309 asks crawlers to read at least 500 KiB
ROBOTS_MAX_REDIRECTS = 5
CHUNK = 64 * 1024
# requests' own cookie extraction (untyped): the jar, the request and urllib3's response.
_extract_cookies: Callable[[Any, Any, Any], None] = extract_cookies_to_jar

# A page body is read in pieces of this size: most pages in one read, where 64 KB pieces
# took two or three, each through urllib3's and http.client's layers (callgrind, 120 KB pages
# from nginx: 1.91 -> 1.80 M instructions per GET).
BODY_CHUNK = 512 * 1024

_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class _Answer:
    """One HTTP exchange that was read: the body only for 2xx answers."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes = b""


@dataclass(frozen=True)
class _Robots:
    rules: Protego | None       # None: everything allowed
    expires: float              # on the monotonic clock


class _HostGate:
    """Politeness state of one host: concurrent slots and the time of the last start."""

    def __init__(self) -> None:
        self._slots = threading.Condition()
        self._active = 0
        self._starts = threading.Lock()
        self._last_start: float | None = None

    @contextmanager
    def slot(self, limit: int, delay: float, sleep: Callable[[float], None],
             monotonic: Callable[[], float]) -> Iterator[None]:
        with self._slots:
            # The limit comes with each call (sources may differ), so it is checked per call.
            while self._active >= limit:
                self._slots.wait()
            self._active += 1
        try:
            self._space_start(delay, sleep, monotonic)
            yield
        finally:
            with self._slots:
                self._active -= 1
                self._slots.notify_all()

    def _space_start(self, delay: float, sleep: Callable[[float], None],
                     monotonic: Callable[[], float]) -> None:
        # Holding the lock while sleeping queues the starts: each waits for the previous one.
        with self._starts:
            if self._last_start is not None and delay > 0:
                wait = self._last_start + delay - monotonic()
                if wait > 0:
                    sleep(wait)
            self._last_start = monotonic()


class Fetcher:
    """A polite, size-capped, retrying HTTP client for pages and feeds. Thread-safe."""

    def __init__(self, *, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic,
                 on_response: Callable[[str, float], None] | None = None) -> None:
        """`on_response(host, seconds)` is told how long each answer took (for metrics)."""
        self.on_response = on_response
        self._owns_session = session is None
        self._session = session if session is not None else _new_session()
        self._sleep = sleep
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._gates: dict[str, _HostGate] = {}
        self._robots: dict[str, _Robots] = {}
        self._robots_locks: dict[str, threading.Lock] = {}
        self._proxy_cache: dict[str, dict[str, str]] = {}
        self._base_headers = CaseInsensitiveDict(self._session.headers)

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Release the connection pool (only a session this Fetcher created itself)."""
        if self._owns_session:
            self._session.close()

    def get(self, url: str, settings: FetchConfig, *,
            validators: Validators | None = None) -> Page | NotModified:
        """Fetch `url` following redirects; a 304 to the validators gives NotModified."""
        answer = self.get_body(url, settings, validators=validators)
        return decode_page(answer) if isinstance(answer, Body) else answer

    def get_body(self, url: str, settings: FetchConfig, *,
                 validators: Validators | None = None) -> Body | NotModified:
        """`get` without decoding the text: for a caller that decodes elsewhere."""
        headers = _request_headers(settings, ACCEPT, validators)
        answer = self._exchange(url, settings, headers=headers, retries=settings.retries,
                                max_bytes=settings.max_bytes,
                                max_redirects=settings.max_redirects, robots=settings.robots)
        if answer.status == 304:
            return NotModified(url=url, validators=_merge(validators, answer.headers))
        if not 200 <= answer.status < 300:
            raise FetchError(f"HTTP {answer.status}", url=_redact(answer.url),
                             status=answer.status)
        return _body(url, answer)

    # --- one document: redirects, robots, retries ------------------------------------------

    def _exchange(self, url: str, settings: FetchConfig, *, headers: Mapping[str, str],
                  retries: int, max_bytes: int, max_redirects: int, robots: bool) -> _Answer:
        """The final answer for `url` after following at most `max_redirects` redirects."""
        current = url
        for _hop in range(max_redirects + 1):
            _check_scheme(current)
            delay = settings.delay
            if robots:
                delay = max(delay, self._robots_check(current, settings))
            answer = self._with_retries(current, settings, headers=headers, retries=retries,
                                        max_bytes=max_bytes, delay=delay)
            if answer.status not in _REDIRECTS:
                return answer
            current = _location(answer)
        raise FetchError(f"too many redirects (more than {max_redirects})", url=_redact(url))

    def _with_retries(self, url: str, settings: FetchConfig, *, headers: Mapping[str, str],
                      retries: int, max_bytes: int, delay: float) -> _Answer:
        for attempt in range(retries + 1):
            last = attempt == retries
            try:
                answer = self._attempt(url, settings, headers=headers, max_bytes=max_bytes,
                                       delay=delay)
            except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
                if last or not _transient(exc):
                    raise FetchError(_describe(exc), url=_redact(url)) from exc
                self._sleep(_backoff(attempt))
                continue
            if last or not _retry_status(answer.status):
                return answer
            self._sleep(_retry_wait(attempt, answer.headers.get("Retry-After")))
        raise AssertionError("unreachable: the last attempt always returns or raises")

    def _attempt(self, url: str, settings: FetchConfig, *, headers: Mapping[str, str],
                 max_bytes: int, delay: float) -> _Answer:
        """One request through the host gate; the body is read only for 2xx answers."""
        gate = self._gate(url)
        with gate.slot(settings.per_host, delay, self._sleep, self._monotonic):
            started = time.perf_counter()
            response = self._send(url, headers, (settings.connect_timeout, settings.timeout))
            if self.on_response is not None:  # time to the response headers
                self.on_response(urlsplit(url).hostname or "", time.perf_counter() - started)
            try:
                body = b""
                if 200 <= response.status_code < 300:
                    body = _read_capped(response, max_bytes, url)
                else:
                    _drain(response)
                return _Answer(url=url, status=response.status_code,
                               headers=response.headers, body=body)
            finally:
                # An abandoned body closes the connection; a fully read one returns it to
                # the pool for the next request.
                response.close()

    def _send(self, url: str, headers: Mapping[str, str],
              timeout: tuple[float, float]) -> requests.Response:
        """One GET, redirects not followed, body not read yet."""
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
        session = self._session
        prepared.prepare(method="GET", url=url, headers=merged, cookies=session.cookies)
        # Session.send's work, less what our own session never needs: no response hooks, no
        # redirect to look ahead to (we follow them ourselves), no `elapsed`. The cookie jar
        # is given the answer only when it sets a cookie (http.cookiejar scans every answer's
        # headers otherwise, for the same jar in the end). Callgrind, 120 KB pages from
        # nginx: 1.99 -> 1.91 M instructions per GET.
        response = session.get_adapter(url).send(
            prepared, stream=True, timeout=timeout, proxies=self._proxies(url),
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
        origin = _origin(url)
        with self._lock:
            found = self._proxy_cache.get(origin)
            if found is None:
                found = self._proxy_cache[origin] = dict(
                    requests.utils.get_environ_proxies(origin + "/"))
            return found

    def _gate(self, url: str) -> _HostGate:
        host = (urlsplit(url).hostname or "").lower()
        with self._lock:
            gate = self._gates.get(host)
            if gate is None:
                gate = self._gates[host] = _HostGate()
            return gate

    # --- robots.txt --------------------------------------------------------------------------

    def _robots_check(self, url: str, settings: FetchConfig) -> float:
        """Raise RobotsDisallowed if robots.txt forbids `url`; return its crawl delay."""
        rules = self._robots_rules(_origin(url), settings)
        if rules is None:
            return 0.0
        token = product_token(settings.user_agent)
        if not rules.can_fetch(url, token):
            raise RobotsDisallowed("disallowed by robots.txt", url=_redact(url))
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
        headers = _request_headers(settings, "text/plain,*/*;q=0.8", None)
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
        log.warning("robots.txt at %s answered HTTP %s, allowing all", _redact(url), answer.status)
        return None, ROBOTS_ERROR_TTL


# --- requests plumbing ------------------------------------------------------------------------

def _new_session() -> requests.Session:
    session = requests.Session()
    # Retries and redirects are ours (they go through the politeness gate), so none here; a
    # pool big enough for many threads avoids discarding connections.
    adapter = HTTPAdapter(pool_connections=16, pool_maxsize=32, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    # With trust_env, requests re-reads the whole environment (proxies, CA bundle) and stats
    # ~/.netrc on every request: a quarter of the CPU a page fetch costs. The environment is
    # read here instead (the CA bundle) and once per origin (proxies, see Fetcher._proxies);
    # credentials come from the config, never from ~/.netrc.
    session.trust_env = False
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    return session


def _request_headers(settings: FetchConfig, accept: str,
                     validators: Validators | None) -> dict[str, str]:
    headers = {"User-Agent": settings.user_agent, "Accept": accept,
               "Accept-Encoding": ACCEPT_ENCODING}
    if validators is not None and validators.etag:
        headers["If-None-Match"] = validators.etag
    if validators is not None and validators.last_modified:
        headers["If-Modified-Since"] = validators.last_modified
    return headers


def _read_capped(response: requests.Response, max_bytes: int, url: str) -> bytes:
    """The decoded body, or ResponseTooLarge as soon as it is known to exceed `max_bytes`."""
    length = response.headers.get("Content-Length", "").strip()
    if length.isdigit() and int(length) > max_bytes:
        raise ResponseTooLarge(f"Content-Length {length} exceeds the cap of {max_bytes} bytes",
                               url=_redact(url), status=response.status_code)
    chunks: list[bytes] = []
    total = 0
    for chunk in response.iter_content(chunk_size=BODY_CHUNK):
        total += len(chunk)
        if total > max_bytes:
            raise ResponseTooLarge(f"body exceeds the cap of {max_bytes} bytes",
                                   url=_redact(url), status=response.status_code)
        chunks.append(chunk)
    return b"".join(chunks)


def _drain(response: requests.Response) -> None:
    """Read away a small error or redirect body so its connection can be reused."""
    length = response.headers.get("Content-Length", "").strip()
    if length.isdigit() and int(length) > CHUNK:
        return
    read = 0
    for chunk in response.iter_content(chunk_size=CHUNK):
        read += len(chunk)
        if read > CHUNK:
            return


def _location(answer: _Answer) -> str:
    location = answer.headers.get("Location")
    if not location:
        raise FetchError(f"HTTP {answer.status} without a Location", url=_redact(answer.url),
                         status=answer.status)
    # http.client reads headers as latin-1; servers mostly send UTF-8 (as requests assumes).
    location = location.encode("latin-1", errors="replace").decode("utf-8", errors="replace")
    return requote_uri(urljoin(answer.url, location))


def _check_scheme(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError("not an http(s) URL", url=_redact(url))


def _transient(exc: Exception) -> bool:
    """Worth another try: the network failed, not the request or a certificate."""
    if isinstance(exc, requests.exceptions.SSLError | requests.exceptions.InvalidURL):
        return False
    return isinstance(exc, requests.ConnectionError | requests.Timeout
                      | requests.exceptions.ChunkedEncodingError)


def _retry_status(status: int) -> bool:
    return status == 429 or (status >= 500 and status not in (501, 505))


def _backoff(attempt: int) -> float:
    return min(BACKOFF_BASE * 2.0**attempt, BACKOFF_MAX)


def _retry_wait(attempt: int, retry_after: str | None) -> float:
    """Seconds to wait before the next attempt: Retry-After (capped) or the backoff."""
    seconds = parse_retry_after(retry_after) if retry_after else None
    if seconds is None:
        return _backoff(attempt)
    return min(seconds, RETRY_AFTER_MAX)


def parse_retry_after(value: str) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date; None if unreadable."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _describe(exc: Exception) -> str:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connect timeout"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "read timeout"
    if isinstance(exc, requests.exceptions.SSLError):
        return f"TLS error: {_reason(exc)}"
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema
                  | requests.exceptions.InvalidSchema):
        return f"invalid URL: {exc}"
    if isinstance(exc, requests.ConnectionError):
        return f"connection failed: {_reason(exc)}"
    return f"{type(exc).__name__}: {_reason(exc)}"


def _reason(exc: Exception) -> str:
    """The useful part of urllib3's nested messages (MaxRetryError wraps the real cause)."""
    inner = exc.args[0] if exc.args else None
    reason = getattr(inner, "reason", None)
    return str(reason if reason is not None else exc)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    default = 443 if parts.scheme == "https" else 80
    port = parts.port or default
    netloc = host if port == default else f"{host}:{port}"
    return f"{parts.scheme}://{netloc}"


def _redact(url: str) -> str:
    """`url` without user:password@, for messages and logs."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def product_token(user_agent: str) -> str:
    """`Syndicator/0.1 (+https://…)` → `Syndicator`: what robots.txt groups are matched with."""
    token = re.split(r"[/\s]", user_agent.strip(), maxsplit=1)[0]
    return token or user_agent


def _merge(validators: Validators | None, headers: Mapping[str, str]) -> Validators:
    """Validators of an answer; a 304 may omit them, then the ones we sent stay valid."""
    old = validators or Validators()
    return Validators(etag=headers.get("ETag") or old.etag,
                      last_modified=headers.get("Last-Modified") or old.last_modified)


def _body(url: str, answer: _Answer) -> Body:
    return Body(url=url, final_url=answer.url, status=answer.status, raw=answer.body,
                content_type=answer.headers.get("Content-Type"),
                validators=_merge(None, answer.headers))


# --- API calls -------------------------------------------------------------------------------

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
