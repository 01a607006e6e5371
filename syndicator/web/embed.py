"""Embeds for partner sites: the widget script, iframe pages, the subscribe frame, the builder.

    GET  /embed.js                  the widget (static/embed.js): renders [data-syndicator-feed]
                                    from /<feed>.json and [data-syndicator-subscribe] as a frame
    GET  /embed/<feed>              iframe page: the feed's latest items rendered on the server
                                    (?limit=5&summary=1&images=1&lang=be&theme=dark)
    GET  /embed/subscribe           iframe page: the email sign-up form (?target=<id>&lang=)
    POST /embed/subscribe           double opt-in through push.subscribers.request_subscription
                                    (form token and rate limits: web/signup_guard.py)
    GET  /embed/_/<asset>           frame.js, frame.css, builder.js, builder.css
    GET  /builder                   pick a feed and options, live preview, copy the snippet

The widget reads the published JSON Feed (`/<feed>.json`, CORS `*` for GET, served by the
feed cache), so there is no second data format. The iframe pages carry no feed data in any
script: items are rendered here with autoescaping, under a Content-Security-Policy that
allows only the service's own script and style (and, with `images=1`, exactly the image
hosts of the items shown). `subscribe` is therefore not usable as a feed id for embeds.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from syndicator.config import Config, EmailTarget, FeedConfig
from syndicator.errors import AddressInvalid, ChoiceInvalid, StoreError, SyndicatorError
from syndicator.locales import LANGUAGES, N_, translations
from syndicator.push.addresses import parse_address
from syndicator.push.email import list_language
from syndicator.push.preferences import choice_view, read_choice
from syndicator.push.subscribers import request_subscription
from syndicator.store import Store
from syndicator.store.outage import StoreOutage
from syndicator.web.app import WebApp
from syndicator.web.cache import CachedFile, make_cached
from syndicator.web.embed_items import frame_language, item_views, story_languages
from syndicator.web.forms import FormTooLarge, read_form
from syndicator.web.prepared import Prepared, PreparedRoute
from syndicator.web.ratelimit import REFUSED, retry_after
from syndicator.web.signup_guard import Refusal, guard_for
from syndicator.web.storecalls import SUBSCRIPTION_PAGES, in_store
from syndicator.web.templating import render

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
DEFAULT_LIMIT = 5
MAX_LIMIT = 50
ASSETS: dict[str, str] = {          # /embed/_/<name> → media type
    "frame.js": "text/javascript; charset=utf-8",
    "frame.css": "text/css; charset=utf-8",
    "builder.js": "text/javascript; charset=utf-8",
    "builder.css": "text/css; charset=utf-8",
}
SCRIPT_MEDIA_TYPE = "text/javascript; charset=utf-8"
_HTML = "text/html; charset=utf-8"
ASSET_CACHE = "public, max-age=3600"     # partners link a fixed URL: revalidate hourly (ETag)
PAGE_CACHE = "public, max-age=60"

_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-]+(?::\d{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$")
_TRUE = frozenset({"1", "true", "yes", "on"})

# Everything the embed pages say, in English; the catalogs (locales.py) hold ru and be.
MESSAGES: dict[str, str] = {
    "more": N_("All news (RSS feed)"),
    "empty": N_("No news yet."),
    "subscribe_title": N_("News by email"),
    "email": N_("Email address"),
    "button": N_("Subscribe"),
    "ok": N_("Almost done: we sent a confirmation link to {email}. "
             "Open it to start receiving the news."),
    "invalid": N_("This does not look like an email address. Please check it."),
    "unavailable": N_("Subscribing is not possible right now. Please try again later."),
    "unknown": N_("This subscription does not exist."),
    "form": N_("This form has expired. Please reload the page and try again."),
    "busy": N_("Too many sign-ups just now. Please try again later."),
    "too_large": N_("This form is too large."),
    "choice": N_("That choice is not offered: %(reason)s"),
}


class EmbedContext(Protocol):
    """What the embed routes need of the server's WebContext."""

    @property
    def config(self) -> Config: ...

    @property
    def store(self) -> Store: ...

    @property
    def cache(self) -> FeedCacheLike: ...

    def store_outage(self) -> StoreOutage: ...


class FeedCacheLike(Protocol):
    def get(self, url_path: str) -> CachedFile | None: ...


def embed_routes(ctx: EmbedContext, *,
                 clock: Callable[[], datetime] | None = None) -> list[BaseRoute]:
    """The routes to mount at the service root (order matters: fixed paths first)."""
    embed = _Embed(ctx, clock or (lambda: datetime.now(UTC)))
    return [
        PreparedRoute("/embed.js", embed.script),
        PreparedRoute("/embed/_/{name}", embed.asset),
        Route("/embed/subscribe", embed.subscribe, methods=["GET", "HEAD", "POST"]),
        Route("/embed/{feed_id}", embed.frame, methods=["GET", "HEAD"]),
        Route("/builder", embed.builder, methods=["GET", "HEAD"]),
    ]


# --- pure helpers -----------------------------------------------------------------------------

def messages(lang: str) -> dict[str, str]:
    """MESSAGES in `lang` (English where there is no catalog)."""
    catalog = translations(lang)
    return {key: catalog.gettext(text) for key, text in MESSAGES.items()}


def url_origin(url: str) -> str | None:
    """scheme://host[:port] of an http(s) URL, only when it is safe to write into a CSP."""
    parts = urlsplit(url)
    origin = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
    if "@" in parts.netloc or not _ORIGIN.match(origin):
        return None
    return origin


def frame_csp(image_origins: Sequence[str] = ()) -> str:
    """Only the service's own script and style; images from exactly the hosts shown."""
    images = " ".join(["'self'", *image_origins])
    return ("default-src 'none'; script-src 'self'; style-src 'self'; "
            f"img-src {images}; form-action 'self'; base-uri 'none'; frame-ancestors *")


BUILDER_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
               "img-src 'self' https: http:; frame-src 'self'; form-action 'none'; "
               "base-uri 'none'; frame-ancestors 'none'")


def _flag(params: Mapping[str, str], name: str) -> bool:
    return params.get(name, "").strip().lower() in _TRUE


def _limit(raw: str | None) -> int:
    """The widget's item count: ASCII digits, clamped to 1..MAX_LIMIT; anything else (also
    "²" or "①", which `str.isdigit` accepts and `int` refuses) is the default."""
    text = (raw or "").strip()
    if not (text.isascii() and text.isdigit()):
        return DEFAULT_LIMIT
    digits = text.lstrip("0")
    if len(digits) > 6:                 # no int() of a 5000-digit string
        return MAX_LIMIT
    return max(1, min(int(digits or "0"), MAX_LIMIT))


# --- the routes -------------------------------------------------------------------------------

_PAGE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_ASSET_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # Partner pages load them cross-origin, also those that require CORP (COEP pages).
    "Cross-Origin-Resource-Policy": "cross-origin",
    "Access-Control-Allow-Origin": "*",
}


class _Embed:
    def __init__(self, ctx: EmbedContext, clock: Callable[[], datetime]) -> None:
        self._ctx = ctx
        self._clock = clock
        self._assets = {name: _load_asset(name, media_type) for name, media_type in
                        {"embed.js": SCRIPT_MEDIA_TYPE, **ASSETS}.items()}
        self._guard = guard_for(ctx.store)
        # Parsed JSON Feeds by ETag: the iframe pages re-read a feed only after a rebuild.
        self._parsed: dict[str, tuple[str, dict[str, Any]]] = {}

    @property
    def config(self) -> Config:
        return self._ctx.config

    # static files ----------------------------------------------------------------------------

    def script(self, params: Mapping[str, str]) -> Prepared | None:
        return self._assets["embed.js"]

    def asset(self, params: Mapping[str, str]) -> Prepared | None:
        name = params["name"]
        return self._assets.get(name) if name != "embed.js" else None

    # the feed iframe -------------------------------------------------------------------------

    async def frame(self, request: Request) -> Response | Prepared:
        """The feed's iframe page. Rendered once per feed version and normalised parameters
        (the language they resolve to, item count, flags) and kept in the app's render LRU
        with an ETag (304s); a render that is not kept costs the client a query token, as a
        feed view does (ratelimit.py): each is milliseconds, a kept page microseconds."""
        feed = self._feed(request.path_params["feed_id"])
        if feed is None:
            return Response("no such feed\n", status_code=404, media_type="text/plain",
                            headers=_PAGE_HEADERS)
        params = request.query_params
        document, version = self._document(feed.id)
        lang = frame_language(params.get("lang"), params.get("fallback"),
                              request.headers.get("accept-language", ""),
                              _feed_language(feed, document),
                              [*story_languages(document), *LANGUAGES])
        shape = _FrameShape(lang, _limit(params.get("limit")), _flag(params, "summary"),
                            _flag(params, "images"), params.get("theme") == "dark",
                            (params.get("lang") or "").strip().lower() == "auto")
        web = request.app if isinstance(request.app, WebApp) else None
        key = ("embed", feed.id, version, shape)
        page = web.rendered.get(key) if web is not None else None
        if page is None:
            if web is not None and web.gate is not None:
                wait = web.gate.take(request.client.host if request.client else "")
                if wait > 0:
                    return Response(REFUSED + "\n", status_code=429, media_type="text/plain",
                                    headers={**_PAGE_HEADERS, "Retry-After": retry_after(wait)})
            page = self._render_frame(feed, document, shape)
            if web is not None:
                web.rendered.put(key, page)
        return page

    def _render_frame(self, feed: FeedConfig, document: Mapping[str, Any],
                      shape: _FrameShape) -> Prepared:
        items = item_views(document, limit=shape.limit, lang=shape.lang,
                           timezone=self.config.timezone, summaries=shape.summaries,
                           images=shape.images)
        origins = sorted({o for item in items if item.image
                          for o in [url_origin(item.image)] if o})
        if shape.images:   # an image whose host cannot be written into the CSP is not shown
            items = [item if item.image and url_origin(item.image) else
                     replace(item, image=None) for item in items]
        title = document.get("title")
        html = render("embed_feed.html",
            lang=shape.lang, feed_id=feed.id, items=items, text=messages(shape.lang),
            title=title if isinstance(title, str) else feed.title,
            rss=f"{self.config.site.base_url}{feed.id}.rss", dark=shape.dark,
        )
        headers = {**_PAGE_HEADERS, "Content-Security-Policy": frame_csp(origins)}
        if shape.auto:
            headers["Vary"] = "Accept-Language"
        return Prepared(make_cached(f"/embed/{feed.id}", html, media_type=_HTML,
                                    mtime=time.time()), PAGE_CACHE, headers)

    def _feed(self, feed_id: str) -> FeedConfig | None:
        return next((f for f in self.config.feeds if f.id == feed_id), None)

    def _document(self, feed_id: str) -> tuple[dict[str, Any], str]:
        """The feed's parsed JSON Feed and its ETag (its version; "" when unpublished)."""
        cached = self._ctx.cache.get(f"/{feed_id}.json")
        if cached is None:
            return {}, ""
        known = self._parsed.get(feed_id)
        if known is not None and known[0] == cached.etag:
            return known[1], cached.etag
        try:
            document = json.loads(cached.body)
        except ValueError:
            log.warning("embed: /%s.json is not valid JSON; showing no items", feed_id)
            document = {}
        if not isinstance(document, dict):
            document = {}
        self._parsed[feed_id] = (cached.etag, document)
        return document, cached.etag

    # the subscribe iframe ------------------------------------------------------------------

    async def subscribe(self, request: Request) -> Response:
        fields: dict[str, str] = {}
        if request.method == "POST":
            try:
                fields = await read_form(request)
            except FormTooLarge:
                lang = frame_language(request.query_params.get("lang"), None, "", None)
                return self._subscribe_page(lang, "", messages(lang)["too_large"], "error",
                                            status=413)
        target_id = fields.get("target") or request.query_params.get("target", "")
        target = self._email_target(target_id)
        lang = frame_language(fields.get("lang") or request.query_params.get("lang"), None,
                              "", list_language(self.config, target))
        text = messages(lang)
        if target is None:
            return self._subscribe_page(lang, "", text["unknown"], "error", status=404)
        if request.method != "POST":
            return self._subscribe_page(lang, target.id)
        refusal = self._guard.check(request, fields, self.config, target, self._clock())
        if refusal is not None:
            return self._refused(lang, target.id, refusal)
        if fields.get("website"):
            # The honeypot field humans never see: answer as if it worked, do nothing.
            return self._subscribe_page(lang, target.id, text["ok"].format(email=""), "ok")
        address = fields.get("email", "")
        try:
            # Valid first, counted after: a junk POST uses up nobody's sign-ups.
            choice = read_choice(self.config, target, fields.get("languages", ""),
                                 fields.get("rhythm", ""))
            email = parse_address(address).email
        except ChoiceInvalid as exc:
            return self._subscribe_page(lang, target.id, text["choice"] % {"reason": exc},
                                        "error", status=400, email=address)
        except AddressInvalid as exc:
            return self._subscribe_page(lang, target.id, f"{text['invalid']} ({exc.reason})",
                                        "error", status=400, email=address)
        refusal = self._guard.count(request, target, email)
        if refusal is not None:
            return self._refused(lang, target.id, refusal)
        try:
            await in_store(self._ctx.store_outage(), SUBSCRIPTION_PAGES,
                           functools.partial(
                               request_subscription, self._ctx.store, self.config, target.id,
                               email, self._clock(), languages=choice.languages,
                               rhythm=choice.rhythm))
        except SyndicatorError as exc:
            if not isinstance(exc, StoreError):     # that one is on the outage line
                log.warning("embed: subscription to %s failed: %s", target.id, exc)
            return self._subscribe_page(lang, target.id, text["unavailable"], "error",
                                        status=503)
        return self._subscribe_page(lang, target.id, text["ok"].format(email=address.strip()),
                                    "ok")

    def _refused(self, lang: str, target_id: str, refusal: Refusal) -> Response:
        response = self._subscribe_page(lang, target_id, messages(lang)[refusal.kind],
                                        "error", status=refusal.status)
        if refusal.retry_after is not None:
            response.headers["Retry-After"] = str(refusal.retry_after)
        return response

    def _email_target(self, target_id: str) -> EmailTarget | None:
        for target in self.config.push:
            if isinstance(target, EmailTarget) and target.id == target_id and target.enabled:
                return target
        return None

    def _subscribe_page(self, lang: str, target_id: str, message: str = "", kind: str = "",
                        *, status: int = 200, email: str = "") -> Response:
        target = self._email_target(target_id)
        show_form = target is not None and kind != "ok"
        html = render("embed_subscribe.html", language=lang,
            lang=lang, target_id=target_id, text=messages(lang), message=message, kind=kind,
            email=email, form=show_form, form_token=self._guard.token(
                self.config, target_id, self._clock()) if show_form else "",
            choice=choice_view(self.config, target) if target is not None else None,
        )
        return _page(html, frame_csp(), status=status, cache=False)

    # the builder ---------------------------------------------------------------------------

    async def builder(self, request: Request) -> Response:
        del request
        feeds = [{"id": f.id, "title": f.title, "language": f.language or ""}
                 for f in self.config.feeds]
        targets = [t.id for t in self.config.push if isinstance(t, EmailTarget) and t.enabled]
        html = render("builder.html",
            site=self.config.site, base=self.config.site.base_url, feeds=feeds,
            targets=targets, languages=sorted(LANGUAGES), max_limit=MAX_LIMIT,
            default_limit=DEFAULT_LIMIT,
        )
        return _page(html, BUILDER_CSP, cache=False)


def _feed_language(feed: FeedConfig, document: Mapping[str, Any]) -> str | None:
    language = document.get("language")
    return language if isinstance(language, str) and language else feed.language


def _page(html: bytes, csp: str, *, status: int = 200, cache: bool = True) -> Response:
    headers = {**_PAGE_HEADERS, "Content-Security-Policy": csp,
               "Cache-Control": PAGE_CACHE if cache else "no-store"}
    return Response(html, status_code=status, media_type=_HTML, headers=headers)


@dataclass(frozen=True)
class _FrameShape:
    """What a feed iframe page depends on besides the feed: its parameters, normalised."""

    lang: str
    limit: int
    summaries: bool
    images: bool
    dark: bool
    auto: bool          # lang=auto: the page varies with Accept-Language


def _load_asset(name: str, media_type: str) -> Prepared:
    path = HERE / "static" / name
    url_path = "/embed.js" if name == "embed.js" else f"/embed/_/{name}"
    return Prepared(make_cached(url_path, path.read_bytes(), media_type=media_type,
                                mtime=path.stat().st_mtime), ASSET_CACHE, _ASSET_HEADERS)
