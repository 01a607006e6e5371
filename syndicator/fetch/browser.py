"""Pages that build their content with JavaScript: headless Chromium driven by Playwright.
The only playwright user; imported by the Fetcher when a source has `render: browser`, so
an install without the `[browser]` extra runs every other source.

The browser is Debian's `chromium` (`fetch.browser.executable`); no browser is ever
downloaded. It never touches the network itself: every request the page makes is taken over
(`page.route`) and answered with what the Fetcher fetched, so a rendered page gets exactly
the rules of any other fetch: robots.txt, the per-host limit and delay, the size cap, the
address policy (no loopback, private or metadata addresses unless `allow_private`), the
source's origins (its URL's, the document's, `follow_hosts`) and its headers and cookies.
What a page needs for its DOM is fetched (documents and frames, scripts, XHR and fetch()
data); images, styles, fonts and media are not, nor anything but GET. As a second wall,
Chromium is started with a proxy that does not exist and WebSockets are answered by
nobody, so a request the route did not see fails instead of leaving the machine.

One browser process serves the whole service (started at the first render, in a thread of
its own: Playwright's objects belong to the event loop that made them); each render gets a
fresh context (no cookies or storage shared between pages), at most
`fetch.browser.concurrency` at a time, each bounded by `fetch.browser.timeout` and the
caller's deadline. The rendered DOM (`page.content()`) is returned as a UTF-8 HTML `Body`
without validators: the document's own ETag says nothing of the data its scripts load.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from playwright.async_api import Browser as PlaywrightBrowser
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Playwright, Route, WebSocketRoute, async_playwright

from syndicator.config import FetchConfig
from syndicator.errors import DeadlineExceeded, FetchError, ResponseTooLarge
from syndicator.fetchpolicy import OriginPolicy
from syndicator.model import Body, NotModified
from syndicator.uris import redact

log = logging.getLogger(__name__)

CHROMIUM_ARGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--mute-audio", "--dns-prefetch-disable",
    # Nothing listens there: a request the route did not answer cannot reach anything.
    "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
)
LAUNCH_TIMEOUT = 30.0
# What a page needs to build its DOM; every other resource type is refused unfetched.
FETCHED_TYPES = frozenset({"document", "script", "xhr", "fetch"})

# One GET through the Fetcher's rules (raises FetchError).
GetBody = Callable[..., Body | NotModified]
# A request of a rendered page, fetched by the Fetcher by a time.monotonic() deadline.
Fetch = Callable[[str, float], Body]


class BrowserMissing(FetchError):
    """Chromium does not start (that Playwright and Chromium are installed is checked
    before: fetch.render_problem)."""


def render_page(get_body: GetBody, browser: Browser, url: str, settings: FetchConfig, *,
                deadline: float | None, follow: OriginPolicy | None) -> Body:
    """`url` fetched by the Fetcher (`get_body`, not rendered), then rendered by Chromium
    with every further request of the page fetched by the Fetcher too."""
    plain = settings.model_copy(update={"render": False, "render_articles": False})
    document = get_body(url, plain, deadline=deadline, follow=follow)
    if isinstance(document, NotModified):  # not asked for: no validators were sent
        raise FetchError("304 answer to an unconditional request", url=redact(url))
    # The page's own requests: the source's origins and the document's, as content links.
    policy = OriginPolicy(settings.source_url or url, settings.follow_hosts)
    policy.add(url)
    policy.add(document.final_url)

    def fetch(resource: str, until: float) -> Body:
        answer = get_body(resource, plain, deadline=until, follow=policy)
        if isinstance(answer, NotModified):
            raise FetchError("304 answer to an unconditional request", url=redact(resource))
        return answer

    html = browser.render(document, fetch, timeout=settings.browser.timeout, deadline=deadline,
                          user_agent=settings.user_agent)
    raw = html.encode("utf-8")
    # The cap of a fetched body holds for the DOM a page's scripts built too.
    if len(raw) > settings.max_bytes:
        raise ResponseTooLarge(f"the rendered page exceeds the cap of {settings.max_bytes} "
                               "bytes", url=redact(url))
    return Body(url=url, final_url=document.final_url, status=document.status,
                raw=raw, content_type="text/html; charset=utf-8")


class Browser:
    """One headless Chromium for the whole process; `render` is thread-safe."""

    def __init__(self, executable: str, concurrency: int) -> None:
        self.executable = executable
        self._slots = threading.BoundedSemaphore(max(1, concurrency))
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._playwright: Playwright | None = None
        self._browser: PlaywrightBrowser | None = None
        self._launching = asyncio.Lock()     # used in the browser's thread only
        # The Fetcher's blocking GETs for the pages' requests (a route handler must not
        # block the browser's event loop).
        self._fetches = ThreadPoolExecutor(max_workers=4 * max(1, concurrency),
                                           thread_name_prefix="browser-fetch")

    def render(self, document: Body, fetch: Fetch, *, timeout: float, deadline: float | None,
               user_agent: str) -> str:
        """The DOM of `document` once its scripts ran and the network is idle, or as it is
        `timeout` seconds after a browser tab was free for it (or at `deadline`,
        time.monotonic, if sooner). Waits for a free tab until `deadline`."""
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not self._slots.acquire(timeout=wait):
            raise DeadlineExceeded("no browser tab free before the source run's deadline "
                                   "(fetch.browser.concurrency)", url=redact(document.url))
        try:
            until = time.monotonic() + timeout
            if deadline is not None:
                until = min(until, deadline)
            loop = self._started(document.url)
            job = asyncio.run_coroutine_threadsafe(
                self._render(document, fetch, until, user_agent), loop)
            try:
                return job.result(max(0.0, until - time.monotonic()) + 5.0)
            except TimeoutError:
                job.cancel()
                raise DeadlineExceeded("the browser did not finish the page in time",
                                       url=redact(document.url)) from None
            except PlaywrightError as exc:
                raise FetchError(f"browser: {_first_line(exc)}",
                                 url=redact(document.url)) from None
        finally:
            self._slots.release()

    def close(self) -> None:
        with self._lock:
            loop, self._loop = self._loop, None
            if loop is not None:
                try:
                    asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(10.0)
                except Exception as exc:  # closing: say so and go on
                    log.warning("browser did not close cleanly: %s", _first_line(exc))
                _stop(loop, self._thread)
                self._playwright = self._browser = None
        self._fetches.shutdown(wait=False, cancel_futures=True)

    # --- the browser's own thread ------------------------------------------------------------

    def _started(self, url: str) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                # Playwright and the executable were checked by the Fetcher (render_problem).
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="browser", daemon=True)
                thread.start()
                try:
                    asyncio.run_coroutine_threadsafe(self._launch(), loop).result(
                        LAUNCH_TIMEOUT)
                except Exception as exc:
                    with contextlib.suppress(Exception):   # the driver, if it started
                        asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(10.0)
                    _stop(loop, thread)
                    self._playwright = self._browser = None
                    raise BrowserMissing(f"Chromium at {self.executable} did not start: "
                                         f"{_first_line(exc)}", url=redact(url)) from None
                self._loop, self._thread = loop, thread
            return self._loop

    async def _launch(self) -> PlaywrightBrowser:
        """The browser, started now if it is not running (the first time, or after Chromium
        died)."""
        async with self._launching:
            if self._browser is None or not self._browser.is_connected():
                if self._playwright is None:
                    self._playwright = await async_playwright().start()
                self._browser = await self._playwright.chromium.launch(
                    executable_path=self.executable, args=list(CHROMIUM_ARGS))
            return self._browser

    async def _shutdown(self) -> None:
        if self._browser is not None:
            await self._browser.close()
        if self._playwright is not None:
            await self._playwright.stop()

    async def _render(self, document: Body, fetch: Fetch, until: float,
                      user_agent: str) -> str:
        browser = await self._launch()
        loop = asyncio.get_running_loop()
        refused: list[str] = []
        context = await browser.new_context(user_agent=user_agent,
                                                  service_workers="block",
                                                  accept_downloads=False)
        try:
            page = await context.new_page()
            served = False

            async def answer(route: Route) -> None:
                nonlocal served
                request = route.request
                try:
                    if (not served and request.is_navigation_request()
                            and request.frame.parent_frame is None):
                        served = True   # the document, fetched already
                        await route.fulfill(status=200, body=document.raw,
                                            headers=_headers(document.content_type))
                        return
                    if request.method == "OPTIONS":   # a CORS preflight: our own answer
                        await route.fulfill(status=204, headers=_cors(request.headers))
                        return
                    if request.method != "GET" or request.resource_type not in FETCHED_TYPES:
                        await route.abort("blockedbyclient")
                        return
                    try:
                        body = await loop.run_in_executor(self._fetches, fetch, request.url,
                                                          until)
                    except FetchError as exc:
                        refused.append(str(exc))
                        await route.abort("blockedbyclient")
                        return
                    await route.fulfill(status=body.status, body=body.raw, headers={
                        **_headers(body.content_type), **_cors(request.headers)})
                except PlaywrightError:
                    pass   # the page or its context closed meanwhile

            await page.route("**/*", answer)
            await page.route_web_socket("**", _no_websocket)
            left = _milliseconds(until)
            await page.goto(document.final_url, wait_until="load", timeout=left)
            with contextlib.suppress(PlaywrightError):   # still busy: the DOM as it is
                await page.wait_for_load_state("networkidle", timeout=_milliseconds(until))
            html = await page.content()
            # A navigation that was not fetched leaves Chromium's own error page, not the
            # site's: an error, not a listing without cards.
            if page.url.startswith("chrome-error:"):
                why = refused[-1] if refused else "it failed"
                raise FetchError(f"the page navigated to a page that was not fetched: {why}",
                                 url=redact(document.url))
        finally:
            await context.close()
        if refused:
            log.info("rendering %s: %d request(s) of the page not fetched: %s",
                     redact(document.url), len(refused), "; ".join(refused[:3]))
        return html


def _stop(loop: asyncio.AbstractEventLoop, thread: threading.Thread | None) -> None:
    """Stop the browser's event loop and close it once its thread has returned."""
    loop.call_soon_threadsafe(loop.stop)
    if thread is not None:
        thread.join(10.0)
    if thread is None or not thread.is_alive():
        loop.close()


async def _no_websocket(socket: WebSocketRoute) -> None:
    """A WebSocket is answered by nobody: it never connects to a server."""
    await socket.close()


def _headers(content_type: str | None) -> dict[str, str]:
    return {"content-type": content_type} if content_type else {}


def _cors(request_headers: dict[str, str]) -> dict[str, str]:
    """A page's cross-origin requests reach only origins the source follows, checked before
    they are fetched; the browser is told they may read the answer."""
    origin = request_headers.get("origin")
    if not origin:
        return {}
    return {"access-control-allow-origin": origin, "access-control-allow-credentials": "true",
            "access-control-allow-headers": request_headers.get(
                "access-control-request-headers", "*"),
            "access-control-allow-methods": "GET"}


def _milliseconds(until: float) -> float:
    return max(1.0, (until - time.monotonic()) * 1000.0)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]
