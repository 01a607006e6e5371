"""What every answer of the web app carries, whichever route made it, and redirects that
never name a host a client sent.

`SecurityHeaders` (ASGI middleware, app.py) adds, when the route did not set them itself:

    every answer     X-Content-Type-Options: nosniff
    every HTML page  Referrer-Policy: no-referrer
                     Content-Security-Policy: FALLBACK_CSP (frame-ancestors 'none')

so a page is never framable unless its route says so: the embed iframe pages (embed.py) set
their own policy with `frame-ancestors *`, which is kept as it is. Routes that know their
page (app.py's pages, embed.py) set a tighter policy; the fallback covers the others
(subscribe and unsubscribe pages, whose templates carry an inline style sheet, and error
pages).

`slash_redirect` replaces Starlette's redirect_slashes, which builds an absolute URL from the
request's Host header: `GET /status/` with `Host: evil.example` was sent to
`http://evil.example/status`. Here the Location is the path alone (and the query), so it
stays on whatever host the client is talking to.
"""

from __future__ import annotations

import urllib.parse

from starlette.responses import RedirectResponse
from starlette.routing import Match, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["FALLBACK_CSP", "SecurityHeaders", "slash_redirect"]

# No script at all; inline style allowed (the subscribe pages' templates have one).
FALLBACK_CSP = ("default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' https: "
                "data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
_NOSNIFF = (b"x-content-type-options", b"nosniff")
_REFERRER = (b"referrer-policy", b"no-referrer")
_CSP = (b"content-security-policy", FALLBACK_CSP.encode("ascii"))


def _with_security(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    names = {name.lower() for name, _ in headers}
    added = [] if _NOSNIFF[0] in names else [_NOSNIFF]
    html = any(name.lower() == b"content-type" and value.lower().startswith(b"text/html")
               for name, value in headers)
    if html:
        added += [header for header in (_REFERRER, _CSP) if header[0] not in names]
    return [*headers, *added] if added else headers


class SecurityHeaders:
    """ASGI middleware adding the headers above to every http.response.start."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message,
                           "headers": _with_security(list(message.get("headers", ())))}
            await send(message)

        await self.app(scope, receive, secured)


def slash_redirect(router: Router) -> ASGIApp:
    """The router's default app (for paths no route takes): a 307 to the same path with the
    trailing slash added or removed when a route takes that one, as Starlette's
    redirect_slashes does, but with a relative Location; otherwise the router's 404.
    Turns the router's own redirect_slashes off."""
    router.redirect_slashes = False
    not_found = router.not_found

    async def default(scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] == "http" and path not in ("", "/"):
            other = path.rstrip("/") if path.endswith("/") else path + "/"
            # "//host" or "/\host" would be read by browsers as another host.
            if other.startswith("/") and other[1:2] not in ("/", "\\"):
                moved = {**scope, "path": other}
                if any(route.matches(moved)[0] is not Match.NONE for route in router.routes):
                    location = urllib.parse.quote(other, safe="/:@!$&'()*+,;=~")
                    query = scope.get("query_string", b"")
                    if query:
                        location += "?" + query.decode("latin-1")
                    await RedirectResponse(location, 307)(scope, receive, send)
                    return
        await not_found(scope, receive, send)

    return default
