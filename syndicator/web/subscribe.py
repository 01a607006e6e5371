"""Subscription pages for email push targets (Starlette routes for `create_web_app`).

    GET  /subscribe/{target_id}          the sign-up form (with a signed form token)
    POST /subscribe/{target_id}          sign up: queued; the push job mails a signed link
    GET  /subscribe/confirm/{token}      the link in that mail: confirms (double opt-in)
    GET  /unsubscribe/{token}            a page with one button
    POST /unsubscribe/{token}            one-click unsubscribe (RFC 8058): body
                                         `List-Unsubscribe=One-Click`, no login, no
                                         cookies, no redirect, 200

Forms are read by web/forms.py (capped: 413 past a few KB). A sign-up passes the guard
(web/signup_guard.py: our own form token, 403; rate limits, 429) and is then only queued,
so the answer is the same page, after the same work, whatever the address's state. Every
refusal of remote input is a 4xx page with a one-line reason.
"""

from __future__ import annotations

import logging
from typing import Protocol

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from syndicator.app import utc_now
from syndicator.config import Config
from syndicator.errors import AddressInvalid, SyndicatorError
from syndicator.push import templating
from syndicator.push.subscribers import (
    confirm,
    enabled_email_target,
    request_subscription,
    unsubscribe,
)
from syndicator.store import Store
from syndicator.web.forms import FormTooLarge, read_form
from syndicator.web.signup_guard import guard_for

log = logging.getLogger(__name__)

_HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex",
            "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                       "form-action 'self'; base-uri 'none'; "
                                       "frame-ancestors 'none'",
            "X-Frame-Options": "DENY"}


class SubscribeContext(Protocol):
    """What the routes need (the web app's WebContext has both)."""

    @property
    def config(self) -> Config: ...

    @property
    def store(self) -> Store: ...


def _page(title: str, message: str = "", *, status: int = 200, form: str = "",
          action: str = "", token: str = "", retry_after: int | None = None) -> HTMLResponse:
    body = templating.render("page.html.j2", title=title, message=message, form=form,
                             action=action, form_token=token)
    headers = dict(_HEADERS)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return HTMLResponse(body, status_code=status, headers=headers)


def _too_large() -> HTMLResponse:
    return _page("Too large", "This form is larger than any of ours.", status=413)


def subscribe_routes(ctx: SubscribeContext) -> list[Route]:
    """The routes; mount them with `create_web_app(ctx, extra_routes=subscribe_routes(ctx))`."""
    guard = guard_for(ctx.store)

    def form_page(target_id: str, action: str, message: str, *, status: int = 200,
                  retry_after: int | None = None) -> HTMLResponse:
        return _page("Subscribe", message, status=status, form="subscribe", action=action,
                     token=guard.token(ctx.config, target_id, utc_now()),
                     retry_after=retry_after)

    async def form(request: Request) -> Response:
        target = enabled_email_target(ctx.config, request.path_params["target_id"])
        if target is None:
            return _page("Not found", "There is no such mailing list.", status=404)
        return form_page(target.id, request.url.path,
                         "Get the news by email. We will send you a link to confirm.")

    async def sign_up(request: Request) -> Response:
        target = enabled_email_target(ctx.config, request.path_params["target_id"])
        if target is None:
            return _page("Not found", "There is no such mailing list.", status=404)
        try:
            fields = await read_form(request)
        except FormTooLarge:
            return _too_large()
        refusal = guard.check(request, fields, ctx.config, target, utc_now())
        if refusal is not None:
            return form_page(target.id, request.url.path, refusal.reason,
                             status=refusal.status, retry_after=refusal.retry_after)
        try:
            await run_in_threadpool(request_subscription, ctx.store, ctx.config, target.id,
                                    fields.get("email", ""), utc_now())
        except AddressInvalid as exc:
            return form_page(target.id, request.url.path, "That is not an email address we "
                             f"can take: {exc.reason}", status=400)
        except SyndicatorError as exc:
            log.error("subscribe %s: %s", target.id, exc)
            return _page("Please try again later", "We could not record your subscription.",
                         status=503)
        return _page("Check your inbox", "If the address is right, a message with a link to "
                     "confirm your subscription is on its way.")

    async def confirm_link(request: Request) -> Response:
        try:
            result = await run_in_threadpool(confirm, ctx.store, ctx.config,
                                             request.path_params["token"], utc_now())
        except SyndicatorError as exc:
            log.error("confirm: %s", exc)
            return _page("Please try again later", "We could not confirm your subscription.",
                         status=503)
        if result.kind == "unknown":
            return _page("Not found", "This mailing list no longer exists.", status=404)
        if result.kind == "stale":
            return _page("Link no longer valid", "This link was replaced or the address was "
                         "unsubscribed since it was sent. Please subscribe again.", status=410)
        if result.subscriber is None:
            return _page("Link not valid", "This confirmation link is wrong or has expired. "
                         "Please subscribe again.", status=400)
        return _page("Subscribed", f"{result.subscriber.email} will receive the news. Every "
                     "message has a link to unsubscribe.")

    async def unsubscribe_page(request: Request) -> Response:
        return _page("Unsubscribe", "Stop receiving these emails?", form="unsubscribe",
                     action=request.url.path)

    async def one_click(request: Request) -> Response:
        # RFC 8058: the body is `List-Unsubscribe=One-Click`; our own button sends the same.
        # The signed token alone authorises it; no cookies, no login, no redirect.
        try:
            fields = await read_form(request)
        except FormTooLarge:
            return _too_large()
        if fields.get("List-Unsubscribe") != "One-Click":
            return _page("Unsubscribe", "Use the button to unsubscribe.", status=400,
                         form="unsubscribe", action=request.url.path)
        try:
            subscriber = await run_in_threadpool(unsubscribe, ctx.store, ctx.config,
                                                 request.path_params["token"], utc_now())
        except SyndicatorError as exc:
            log.error("unsubscribe: %s", exc)
            return _page("Please try again later", "We could not record it; please try "
                         "again.", status=503)
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
