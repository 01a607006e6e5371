"""Subscription pages for email push targets (Starlette routes for `create_web_app`).

    GET  /subscribe/{target_id}          the sign-up form
    POST /subscribe/{target_id}          sign up: a confirmation mail with a signed link
    GET  /subscribe/confirm/{token}      the link in that mail: confirms (double opt-in)
    GET  /unsubscribe/{token}            a page with one button
    POST /unsubscribe/{token}            one-click unsubscribe (RFC 8058): body
                                         `List-Unsubscribe=One-Click`, no login, no
                                         cookies, no redirect, 200

Forms are parsed here (application/x-www-form-urlencoded) so no multipart package is
needed. Answers never say whether an address was already subscribed.
"""

from __future__ import annotations

import logging
from typing import Protocol
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from syndicator.app import utc_now
from syndicator.config import Config, EmailTarget
from syndicator.errors import SyndicatorError
from syndicator.push import templating
from syndicator.push.subscribers import confirm, request_subscription, unsubscribe
from syndicator.store import Store

log = logging.getLogger(__name__)

_MAX_FORM = 4096
_HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex",
            "Referrer-Policy": "no-referrer"}


class SubscribeContext(Protocol):
    """What the routes need (the web app's WebContext has both)."""

    @property
    def config(self) -> Config: ...

    @property
    def store(self) -> Store: ...


def _page(title: str, message: str = "", *, status: int = 200, form: str = "",
          action: str = "") -> HTMLResponse:
    body = templating.render("page.html.j2", title=title, message=message, form=form,
                             action=action)
    return HTMLResponse(body, status_code=status, headers=_HEADERS)


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > _MAX_FORM:
        return {}
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        return {}
    return {key: values[0] for key, values in fields.items()}


def subscribe_routes(ctx: SubscribeContext) -> list[Route]:
    """The routes; mount them with `create_web_app(ctx, extra_routes=subscribe_routes(ctx))`."""

    def target_of(target_id: str) -> EmailTarget | None:
        for target in ctx.config.push:
            if target.id == target_id and isinstance(target, EmailTarget) and target.enabled:
                return target
        return None

    async def form(request: Request) -> Response:
        target = target_of(request.path_params["target_id"])
        if target is None:
            return _page("Not found", "There is no such mailing list.", status=404)
        return _page("Subscribe", "Get the news by email. We will send you a link to confirm.",
                     form="subscribe", action=str(request.url.path))

    async def sign_up(request: Request) -> Response:
        target = target_of(request.path_params["target_id"])
        if target is None:
            return _page("Not found", "There is no such mailing list.", status=404)
        address = (await _form(request)).get("email", "")
        try:
            ok = await run_in_threadpool(request_subscription, ctx.store, ctx.config,
                                         target.id, address, utc_now())
        except SyndicatorError as exc:
            log.error("subscribe %s: %s", target.id, exc)
            return _page("Please try again later", "We could not record your subscription.",
                         status=503)
        if not ok:
            return _page("Subscribe", "That does not look like an email address.",
                         status=400, form="subscribe", action=str(request.url.path))
        return _page("Check your inbox", "If the address is right, a message with a link to "
                     "confirm your subscription is on its way.")

    async def confirm_link(request: Request) -> Response:
        subscriber = await run_in_threadpool(confirm, ctx.store, ctx.config,
                                             request.path_params["token"], utc_now())
        if subscriber is None:
            return _page("Link not valid", "This confirmation link is wrong or has expired. "
                         "Please subscribe again.", status=400)
        return _page("Subscribed", f"{subscriber.email} will receive the news. Every message "
                     "has a link to unsubscribe.")

    async def unsubscribe_page(request: Request) -> Response:
        return _page("Unsubscribe", "Stop receiving these emails?", form="unsubscribe",
                     action=str(request.url.path))

    async def one_click(request: Request) -> Response:
        # RFC 8058: the body is `List-Unsubscribe=One-Click`; our own button sends the same.
        # The signed token alone authorises it; no cookies, no login, no redirect.
        fields = await _form(request)
        if fields.get("List-Unsubscribe") != "One-Click":
            return _page("Unsubscribe", "Use the button to unsubscribe.", status=400,
                         form="unsubscribe", action=str(request.url.path))
        subscriber = await run_in_threadpool(unsubscribe, ctx.store, ctx.config,
                                             request.path_params["token"], utc_now())
        if subscriber is None:
            return _page("Link not valid", "This unsubscribe link is not valid.", status=400)
        return _page("Unsubscribed", f"{subscriber.email} will receive no more messages "
                     "from this list.")

    return [
        Route("/subscribe/confirm/{token}", confirm_link, methods=["GET"]),
        Route("/subscribe/{target_id}", form, methods=["GET"]),
        Route("/subscribe/{target_id}", sign_up, methods=["POST"]),
        Route("/unsubscribe/{token}", unsubscribe_page, methods=["GET"]),
        Route("/unsubscribe/{token}", one_click, methods=["POST"]),
    ]
