"""What a sign-up POST must pass before it is queued: our own form, and the rate limits.

- **Our own form.** Every sign-up form (`/subscribe/<target>` and the embedded
  `/embed/subscribe`) carries a signed form token for its target that expires after
  `FORM_HOURS` (push/subscribers.py). A POST without a valid one is refused with 403, and
  so is one a browser marks as coming from another site (`Sec-Fetch-Site: cross-site` or
  `same-site`, or an `Origin` that is not this service). The embedded form still works on
  partner pages: it is our page inside their frame, so it posts from our own origin, and
  it needs no cookie.
- **Rate limits.** Only a sign-up whose address and choice are valid is counted (junk
  POSTs cannot close a list). Per email target, at most `signups.per_ip` sign-ups from one
  client address (an IPv6 /64 counts as one) and `signups.per_target` different mailboxes
  in all, in any `signups.window`; past them the answer is 429 with Retry-After. Counted
  per process, in memory, over at most MAX_CLIENTS client addresses (the least recently
  seen are forgotten). Preference saves (their link is the subscriber's own) are not
  sign-ups: SAVES_PER_HOUR per subscriber, and leaving is never limited.

One guard serves every route of one web app (`guard_for(store)`), so the two forms share
their counts.
"""

from __future__ import annotations

import gettext
import math
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from starlette.requests import Request

from syndicator.config import Config, EmailTarget
from syndicator.locales import N_
from syndicator.push.addresses import mailbox_key
from syndicator.push.pacing import SlidingWindow
from syndicator.push.subscribers import form_token, form_token_valid
from syndicator.store import Store
from syndicator.web.ratelimit import client_key

MAX_CLIENTS = 10_000
SAVES_PER_HOUR = 20      # preference saves per subscriber
FORM_FIELD = "form_token"
_DEFAULT_PORTS = {"http": "80", "https": "443"}


@dataclass(frozen=True)
class Refusal:
    status: int                       # 403 | 429
    reason: str                       # one line for the page, in English: see `text`
    kind: str                         # "form" | "busy"
    retry_after: int | None = None    # 429: seconds

    def text(self, catalog: gettext.NullTranslations) -> str:
        """The reason in the catalog's language, with the wait in minutes."""
        if self.retry_after is None:
            return catalog.gettext(self.reason)
        minutes = max(1, math.ceil(self.retry_after / 60))
        wait = catalog.ngettext("%(count)s minute", "%(count)s minutes", minutes)
        return catalog.gettext(self.reason) % {"wait": wait % {"count": minutes}}


class SignupGuard:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: OrderedDict[tuple[str, str], SlidingWindow] = OrderedDict()
        self._targets: dict[str, SlidingWindow] = {}
        # Per target: the mailboxes counted in its window, oldest first.
        self._mailboxes: dict[str, OrderedDict[str, float]] = {}
        self._saves: OrderedDict[tuple[str, str], SlidingWindow] = OrderedDict()

    def token(self, config: Config, target_id: str, now: datetime) -> str:
        """The form token to put into a sign-up form for the target."""
        return form_token(config, target_id, now)

    def check(self, request: Request, fields: dict[str, str], config: Config,
              target: EmailTarget, now: datetime) -> Refusal | None:
        """None when the POST comes from our own form for the target (403 otherwise).
        Counts nothing: a sign-up is counted (`count`) only once its address and choice
        are valid, and nothing else (leaving, saving preferences) counts as a sign-up."""
        if _cross_site(request, config):
            return Refusal(403, N_("Sign-ups are taken only through the form on this site."),
                           "form")
        if not form_token_valid(config, fields.get(FORM_FIELD, ""), target.id, now):
            return Refusal(403, N_("This form has expired or did not come from this site: "
                              "reload it and try again."), "form")
        return None

    def count(self, request: Request, target: EmailTarget, email: str) -> Refusal | None:
        """None when this valid sign-up may be queued (and then it is counted): at most
        `per_ip` from the client's network and `per_target` different mailboxes
        (`mailbox_key`) to the list in any window; signing one mailbox up again counts
        against the client only, as it brings no new confirmation mail."""
        limits = target.signups
        mailbox = mailbox_key(email)
        moment = time.monotonic()
        with self._lock:
            key = (target.id, _client_key(request))
            per_client = self._clients.get(key)
            if per_client is None or per_client.limit != limits.per_ip:
                per_client = SlidingWindow(limits.per_ip, limits.window)
            per_target = self._targets.get(target.id)
            if per_target is None or per_target.limit != limits.per_target:
                per_target = self._targets[target.id] = SlidingWindow(limits.per_target,
                                                                      limits.window)
            self._clients[key] = per_client
            self._clients.move_to_end(key)
            while len(self._clients) > MAX_CLIENTS:
                self._clients.popitem(last=False)
            seen = self._mailboxes.setdefault(target.id, OrderedDict())
            while seen and next(iter(seen.values())) <= moment - limits.window:
                seen.popitem(last=False)
            wait = per_client.wait_time(moment)
            if wait > 0:
                return Refusal(429, N_("Too many sign-ups from your network: try again in "
                                       "%(wait)s."), "busy", math.ceil(wait))
            new = mailbox not in seen
            wait = per_target.wait_time(moment) if new else 0.0
            if wait > 0:
                return Refusal(429, N_("Too many sign-ups to this list just now: try again in "
                                       "%(wait)s."), "busy", math.ceil(wait))
            per_client.record(moment)
            if new:
                per_target.record(moment)
                seen[mailbox] = moment
        return None

    def count_save(self, target: EmailTarget, email: str) -> Refusal | None:
        """None when the subscriber may save their preferences once more (and then it is
        counted): SAVES_PER_HOUR per address, apart from the sign-up limits (the page's
        link is the subscriber's own; nobody else's saves can use it up)."""
        moment = time.monotonic()
        with self._lock:
            key = (target.id, mailbox_key(email))
            window = self._saves.pop(key, None) or SlidingWindow(SAVES_PER_HOUR, 3600.0)
            self._saves[key] = window
            while len(self._saves) > MAX_CLIENTS:
                self._saves.popitem(last=False)
            wait = window.wait_time(moment)
            if wait > 0:
                return Refusal(429, N_("Too many changes just now: try again in %(wait)s."),
                               "busy", math.ceil(wait))
            window.record(moment)
        return None


_guards: weakref.WeakKeyDictionary[Store, SignupGuard] = weakref.WeakKeyDictionary()
_guards_lock = threading.Lock()


def guard_for(store: Store) -> SignupGuard:
    """The guard of the web app serving this store (one per app, shared by its routes)."""
    with _guards_lock:
        guard = _guards.get(store)
        if guard is None:
            guard = _guards[store] = SignupGuard()
        return guard


def _client_key(request: Request) -> str:
    return client_key(request.client.host if request.client else "")


def _netloc(scheme: str, netloc: str) -> str:
    """host[:port], lower-cased, without the scheme's default port."""
    netloc = netloc.lower()
    default = _DEFAULT_PORTS.get(scheme.lower())
    if default and netloc.endswith(":" + default):
        return netloc[:-len(default) - 1]
    return netloc


def _cross_site(request: Request, config: Config) -> bool:
    """Whether a browser says the POST comes from another site's page."""
    if request.headers.get("sec-fetch-site", "").lower() in ("cross-site", "same-site"):
        return True
    origin = request.headers.get("origin", "").strip()
    if not origin or origin == "null":
        # No Origin (not a browser), or "null": what a browser sends for a form posted
        # under `Referrer-Policy: no-referrer`, as our pages set.
        return False
    parts = urlsplit(origin)
    theirs = _netloc(parts.scheme, parts.netloc)
    base = urlsplit(config.site.base_url)
    ours = {_netloc(request.url.scheme, request.headers.get("host", "")),
            _netloc(base.scheme, base.netloc)}
    return theirs not in ours
