"""Subscription pages for email push targets (Starlette routes for `create_web_app`).

    GET  /subscribe/{target_id}          the sign-up form (with a signed form token)
    POST /subscribe/{target_id}          sign up: queued; the push job mails a signed link
    GET  /subscribe/confirm/{token}      the link in that mail: a page with one button
    POST /subscribe/confirm/{token}      the button: confirms (double opt-in)
    GET  /unsubscribe/{token}            a page with one button
    POST /unsubscribe/{token}            one-click unsubscribe (RFC 8058): body
                                         `List-Unsubscribe=One-Click`, no login, no
                                         cookies, no redirect, 200
    GET  /preferences/{token}            the link in every mail: languages and rhythm
    POST /preferences/{token}            save them (action=save) or leave (action=leave)

The pages are in the mailing list's language (its first feed's: locales.py, en/ru/be).
Forms are read by web/forms.py (capped: 413 past a few KB). A sign-up passes the guard
(web/signup_guard.py: our own form token, 403; rate limits, 429) and is then only queued,
so the answer is the same page, after the same work, whatever the address's state. The
languages and rhythm chosen on it are checked by push/preferences.py (400 otherwise), and
the address, before the sign-up is counted. A preferences POST passes the same form check
and a per-subscriber bound on saves, not the sign-up limits. Every refusal of remote input
is a 4xx page with a one-line reason.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from syndicator.app import utc_now
from syndicator.config import Config, EmailTarget
from syndicator.errors import AddressInvalid, ChoiceInvalid, StoreError, SyndicatorError
from syndicator.locales import page_language, translations
from syndicator.push.addresses import parse_address
from syndicator.push.email import list_language, list_name
from syndicator.push.preferences import (
    ChoiceView,
    Preferences,
    choice_view,
    leave_list,
    open_preferences,
    read_choice,
    save_preferences,
)
from syndicator.push.subscribers import (
    CONFIRM,
    PREFERENCES,
    UNSUBSCRIBE,
    Confirmation,
    confirm,
    confirmation,
    enabled_email_target,
    read_token,
    request_subscription,
    unsubscribe,
)
from syndicator.store import Store
from syndicator.store.outage import StoreOutage
from syndicator.web.forms import FormTooLarge, read_form
from syndicator.web.signup_guard import guard_for
from syndicator.web.storecalls import SUBSCRIPTION_PAGES, in_store
from syndicator.web.templating import render

log = logging.getLogger(__name__)
T = TypeVar("T")

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

    def store_outage(self) -> StoreOutage: ...


class _Pages:
    """The pages of one request, in its mailing list's language (`text` translates)."""

    def __init__(self, config: Config, target: EmailTarget | None) -> None:
        self.language = page_language(list_language(config, target))
        self.catalog = translations(self.language)
        self.text = self.catalog.gettext

    def page(self, title: str, message: str = "", *, status: int = 200, form: str = "",
             action: str = "", token: str = "", retry_after: int | None = None,
             choice: ChoiceView | None = None) -> HTMLResponse:
        body = render("subscribe.html", language=self.language, title=title,
                      message=message, form=form, action=action, form_token=token,
                      choice=choice)
        headers = dict(_HEADERS)
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        return HTMLResponse(body, status_code=status, headers=headers)

    def too_large(self) -> HTMLResponse:
        _ = self.text
        return self.page(_("Too large"), _("This form is larger than any of ours."),
                         status=413)

    def later(self, message: str) -> HTMLResponse:
        _ = self.text
        return self.page(_("Please try again later"), message, status=503)


def subscribe_routes(ctx: SubscribeContext) -> list[Route]:
    """The routes; mount them with `create_web_app(ctx, extra_routes=subscribe_routes(ctx))`."""
    guard = guard_for(ctx.store)
    outage = ctx.store_outage()

    async def stored(call: Callable[..., T], *args: Any) -> T:
        return await in_store(outage, SUBSCRIPTION_PAGES, call, *args)

    def failed(pages: _Pages, exc: SyndicatorError, what: str, message: str) -> HTMLResponse:
        """503 with `message`. A store that does not answer is on the process's outage line
        (one line per outage, web/storecalls.py), not a line per request."""
        if not isinstance(exc, StoreError):
            log.error("%s: %s", what, exc)
        return pages.later(message)

    def of_token(token: str, purpose: str) -> _Pages:
        return read_link(token, purpose)[0]

    def read_link(token: str, purpose: str) -> tuple[_Pages, bool]:
        """The pages of the token's list, and whether the token is good (signed by us, in
        its one spelling, for `purpose`, unexpired; never with no `secret_key`)."""
        data = read_token(ctx.config, token, purpose, utc_now())
        target = enabled_email_target(ctx.config, data.target_id) if data else None
        return _Pages(ctx.config, target), data is not None

    def of_path(request: Request) -> tuple[_Pages, EmailTarget | None]:
        """The enabled email list the URL names (None when there is none), and its pages."""
        target = enabled_email_target(ctx.config, request.path_params["target_id"])
        return _Pages(ctx.config, target), target

    def form_page(pages: _Pages, target: EmailTarget, action: str, message: str, *,
                  status: int = 200, retry_after: int | None = None) -> HTMLResponse:
        _ = pages.text
        return pages.page(_("Subscribe"), message, status=status, form="subscribe",
                          action=action, token=guard.token(ctx.config, target.id, utc_now()),
                          retry_after=retry_after, choice=choice_view(ctx.config, target))

    async def form(request: Request) -> Response:
        pages, target = of_path(request)
        _ = pages.text
        if target is None:
            return pages.page(_("Not found"), _("There is no such mailing list."), status=404)
        return form_page(pages, target, request.url.path,
                         _("Get the news by email. We will send you a link to confirm."))

    async def sign_up(request: Request) -> Response:
        pages, target = of_path(request)
        _ = pages.text
        if target is None:
            return pages.page(_("Not found"), _("There is no such mailing list."), status=404)
        try:
            fields = await read_form(request)
        except FormTooLarge:
            return pages.too_large()
        refusal = guard.check(request, fields, ctx.config, target, utc_now())
        if refusal is None:
            try:
                # Valid first, counted after: a junk POST uses up nobody's sign-ups.
                choice = read_choice(ctx.config, target, fields.get("languages", ""),
                                     fields.get("rhythm", ""))
                email = parse_address(fields.get("email", "")).email
            except ChoiceInvalid as exc:
                return form_page(pages, target, request.url.path,
                                 _("That choice is not offered: %(reason)s") % {"reason": exc},
                                 status=400)
            except AddressInvalid as exc:
                return form_page(pages, target, request.url.path,
                                 _("That is not an email address we can take: %(reason)s")
                                 % {"reason": exc.reason}, status=400)
            refusal = guard.count(request, target, email)
        if refusal is not None:
            return form_page(pages, target, request.url.path, refusal.text(pages.catalog),
                             status=refusal.status, retry_after=refusal.retry_after)
        try:
            await stored(functools.partial(
                request_subscription, ctx.store, ctx.config, target.id, email, utc_now(),
                languages=choice.languages, rhythm=choice.rhythm))
        except SyndicatorError as exc:
            return failed(pages, exc, f"subscribe {target.id}",
                          _("We could not record your subscription."))
        return pages.page(_("Check your inbox"), _("If the address is right, a message with a "
                          "link to confirm your subscription is on its way."))

    async def confirm_page(request: Request) -> Response:
        # Opening the link changes nothing (mail scanners open every link): a page with
        # one button, which posts to the link.
        return await confirm_link(request, confirmation)

    async def confirm_post(request: Request) -> Response:
        return await confirm_link(request, confirm)

    async def confirm_link(request: Request, act: Callable[..., Confirmation]) -> Response:
        token = request.path_params["token"]
        pages = of_token(token, CONFIRM)
        _ = pages.text
        try:
            result = await stored(act, ctx.store, ctx.config, token, utc_now())
        except SyndicatorError as exc:
            return failed(pages, exc, "confirm", _("We could not confirm your subscription."))
        if result.kind == "ready" and result.subscriber is not None:
            target = enabled_email_target(ctx.config, result.subscriber.target_id)
            return pages.page(_("Confirm your subscription"), _(
                "Please confirm that you want to receive %(list)s at %(email)s.") % {
                "list": list_name(ctx.config, target) if target else "",
                "email": result.subscriber.email}, form="confirm", action=request.url.path)
        if result.kind == "unknown":
            return pages.page(_("Not found"), _("This mailing list no longer exists."),
                              status=404)
        if result.kind == "stale":
            return pages.page(_("Link no longer valid"), _(
                "This link was replaced or the address was unsubscribed since it was sent. "
                "Please subscribe again."), status=410)
        if result.subscriber is None:
            return pages.page(_("Link not valid"), _(
                "This confirmation link is wrong or has expired. Please subscribe again."),
                status=400)
        return pages.page(_("Subscribed"), _(
            "%(email)s will receive the news. Every message has a link to unsubscribe.")
            % {"email": result.subscriber.email})

    async def unsubscribe_page(request: Request) -> Response:
        pages, good = read_link(request.path_params["token"], UNSUBSCRIBE)
        _ = pages.text
        if not good:
            return pages.page(_("Link not valid"), _("This unsubscribe link is not valid."),
                              status=404)
        return pages.page(_("Unsubscribe"), _("Stop receiving these emails?"),
                          form="unsubscribe", action=request.url.path)

    async def one_click(request: Request) -> Response:
        # RFC 8058: the body is `List-Unsubscribe=One-Click`; our own button sends the same.
        # The signed token alone authorises it; no cookies, no login, no redirect.
        token = request.path_params["token"]
        pages = of_token(token, UNSUBSCRIBE)
        _ = pages.text
        try:
            fields = await read_form(request)
        except FormTooLarge:
            return pages.too_large()
        if fields.get("List-Unsubscribe") != "One-Click":
            return pages.page(_("Unsubscribe"), _("Use the button to unsubscribe."),
                              status=400, form="unsubscribe", action=request.url.path)
        try:
            subscriber = await stored(unsubscribe, ctx.store, ctx.config,
                                            token, utc_now())
        except SyndicatorError as exc:
            return failed(pages, exc, "unsubscribe",
                          _("We could not record it; please try again."))
        if subscriber is None:
            return pages.page(_("Link not valid"), _("This unsubscribe link is not valid."),
                              status=400)
        return pages.page(_("Unsubscribed"), _(
            "%(email)s will receive no more messages from this list.")
            % {"email": subscriber.email})

    def preferences_form(pages: _Pages, opened: Preferences, action: str, message: str, *,
                         status: int = 200, retry_after: int | None = None) -> HTMLResponse:
        _ = pages.text
        subscriber = opened.subscriber
        return pages.page(_("Your subscription"), message, status=status, form="preferences",
                          action=action, retry_after=retry_after,
                          token=guard.token(ctx.config, opened.target.id, utc_now()),
                          choice=choice_view(ctx.config, opened.target, subscriber.languages,
                                             subscriber.rhythm))

    async def opened_by(request: Request) -> tuple[_Pages, Preferences | HTMLResponse]:
        """The page's list and subscriber, or the answer when there are none to show."""
        token = request.path_params["token"]
        pages = of_token(token, PREFERENCES)
        _ = pages.text
        try:
            opened = await stored(open_preferences, ctx.store, ctx.config,
                                        token, utc_now())
        except SyndicatorError as exc:
            return pages, failed(pages, exc, "preferences",
                                 _("We could not read your subscription."))
        if opened is None:
            return pages, not_open(pages)
        return pages, opened

    def not_open(pages: _Pages) -> HTMLResponse:
        _ = pages.text
        return pages.page(_("Link not valid"), _(
            "This link is wrong, has expired, or the address is no longer subscribed. "
            "The newest message from the list has a fresh link."), status=404)

    async def preferences_page(request: Request) -> Response:
        pages, opened = await opened_by(request)
        if not isinstance(opened, Preferences):
            return opened
        _ = pages.text
        return preferences_form(pages, opened, request.url.path, _(
            "%(email)s: choose your languages and how often we write.")
            % {"email": opened.subscriber.email})

    async def change_preferences(request: Request) -> Response:
        pages, opened = await opened_by(request)
        if not isinstance(opened, Preferences):
            return opened
        _ = pages.text
        try:
            fields = await read_form(request)
        except FormTooLarge:
            return pages.too_large()
        path = request.url.path
        leaving = fields.get("action") == "leave"
        refusal = guard.check(request, fields, ctx.config, opened.target, utc_now())
        if refusal is None and not leaving:
            refusal = guard.count_save(opened.target, opened.subscriber.email)
        if refusal is not None:
            return preferences_form(pages, opened, path, refusal.text(pages.catalog),
                                    status=refusal.status, retry_after=refusal.retry_after)
        try:
            if leaving:
                subscriber = await stored(leave_list, ctx.store, opened,
                                                  utc_now())
                return pages.page(_("Unsubscribed"), _(
                    "%(email)s will receive no more messages from this list.")
                    % {"email": subscriber.email})
            choice = read_choice(ctx.config, opened.target, fields.get("languages", ""),
                                 fields.get("rhythm", ""))
            saved = await stored(save_preferences, ctx.store, opened, choice,
                                   utc_now())
        except ChoiceInvalid as exc:
            return preferences_form(pages, opened, path, _(
                "That choice is not offered: %(reason)s") % {"reason": exc}, status=400)
        except SyndicatorError as exc:
            return failed(pages, exc, "preferences",
                          _("We could not record it; please try again."))
        if saved is None:
            return not_open(pages)       # the address left while the form was posted
        return preferences_form(pages, Preferences(opened.target, saved), path, _(
            "Saved. The next message follows your new choice."))

    return [
        Route("/preferences/{token}", preferences_page, methods=["GET"]),
        Route("/preferences/{token}", change_preferences, methods=["POST"]),
        Route("/subscribe/confirm/{token}", confirm_page, methods=["GET"]),
        Route("/subscribe/confirm/{token}", confirm_post, methods=["POST"]),
        Route("/subscribe/{target_id}", form, methods=["GET"]),
        Route("/subscribe/{target_id}", sign_up, methods=["POST"]),
        Route("/unsubscribe/{token}", unsubscribe_page, methods=["GET"]),
        Route("/unsubscribe/{token}", one_click, methods=["POST"]),
    ]
