"""The one exception tree of Syndicator.

    SyndicatorError                 root; everything we raise on purpose derives from it
    ├── ConfigError                 config file missing, unreadable or invalid (key path + line)
    ├── FetchError                  a URL could not be fetched (url, status)
    │   ├── RobotsDisallowed        robots.txt forbids the URL for our user agent
    │   ├── ResponseTooLarge        the body exceeded the configured size cap
    │   ├── AddressRefused          the host is private/loopback/metadata, or off the origin policy
    │   └── DeadlineExceeded        no complete answer within the request or source-run deadline
    ├── ExtractError                a page or feed could not be turned into articles (url)
    │   ├── UnsafeDocument          XML with entity declarations (billion laughs, XXE) refused
    │   └── InvalidSelector         a configured CSS selector the CSS engine cannot parse
    ├── AddressInvalid              an email address refused (the address and why)
    ├── DeliveryRefused             deliveries an operator named that are missing or in a state
    │                               the action does not apply to (each id and its state)
    ├── StoreError                  the database refused or is unreachable
    │   └── SchemaError             the schema cannot be brought to this version's (newer, or a
    │                               migration failed): waiting will not fix it
    └── PublishError                a feed could not be written (feed id, path)

Foreign exceptions are wrapped once, where they enter (fetch, store, publish); programming
errors (TypeError, KeyError, ...) are never wrapped so that bugs stay loud.
"""

from __future__ import annotations


class SyndicatorError(Exception):
    """Root of every error Syndicator raises on purpose."""


class ConfigError(SyndicatorError):
    """The configuration is invalid: `path` is the key path, `line` and `column` are 1-based
    positions in `file`. Shown as `file:line:column: path: message`, the form editors and
    terminals jump to."""

    def __init__(self, message: str, *, path: str = "", line: int | None = None,
                 column: int | None = None, file: str = "") -> None:
        self.path = path
        self.line = line
        self.column = column
        self.file = file
        where = file
        if line is not None:
            position = f"{line}:{column}" if column is not None else str(line)
            where = f"{where}:{position}" if where else f"line {position}"
        prefix = ": ".join(p for p in (where, path) if p)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class FetchError(SyndicatorError):
    """A URL could not be fetched."""

    def __init__(self, message: str, *, url: str, status: int | None = None) -> None:
        self.url = url
        self.status = status
        super().__init__(f"{url}: {message}")


class RobotsDisallowed(FetchError):
    """robots.txt of the host disallows the URL for our user agent."""


class ResponseTooLarge(FetchError):
    """The response body exceeded the size cap and was abandoned."""


class AddressRefused(FetchError):
    """The URL's host resolves to an address the fetch policy refuses (loopback, private,
    link-local, cloud metadata, ...), or a redirect left the origins the source may follow.
    `reason` is the message without the URL."""

    def __init__(self, message: str, *, url: str, status: int | None = None) -> None:
        self.reason = message
        super().__init__(message, url=url, status=status)


class DeadlineExceeded(FetchError):
    """The request's overall deadline (connect and every read) or the source run's passed."""


class ExtractError(SyndicatorError):
    """A page or feed could not be turned into articles."""

    def __init__(self, message: str, *, url: str = "") -> None:
        self.url = url
        super().__init__(f"{url}: {message}" if url else message)


class UnsafeDocument(ExtractError):
    """An XML document declares entities (entity expansion / external entities): refused."""


class DiscoveryError(SyndicatorError):
    """`syndicator discover` found nothing to propose on a page (not HTML, no repeated
    structure, no stable selector)."""


class InvalidSelector(ExtractError):
    """A configured selector (`css` or `css@attr`) that cannot be used: `selector` exactly
    as written, `reason` why (config loading adds the key path and line)."""

    def __init__(self, selector: str, reason: str) -> None:
        self.selector = selector
        self.reason = reason
        super().__init__(f"invalid CSS selector '{selector}': {reason}")


class AddressInvalid(SyndicatorError):
    """An email address refused at the door (form, CLI, import) or when sending: the message
    names the address and says why in one line."""

    def __init__(self, address: str, reason: str) -> None:
        self.address = address
        self.reason = reason
        super().__init__(f"{address!r}: {reason}")


class DeliveryRefused(SyndicatorError):
    """Deliveries an operator named by id (`syndicator push --resend / --mark-sent`) that
    do not exist, or are in a state the action does not apply to: the message names each
    one and its state, and none of the named deliveries was changed."""


class ChoiceInvalid(SyndicatorError):
    """A subscriber's posted choice of languages or rhythm that the list does not offer
    (push/preferences.py; the form answers 400 with the message)."""


class NotConfiguredHere(SyndicatorError):
    """A cluster job names a feed, source or push target this process's configuration does
    not have (instances running different configurations, e.g. during a rollout): the job
    is given back to the queue for another instance rather than dropped."""


class StoreError(SyndicatorError):
    """The database refused an operation or cannot be reached."""


class SchemaError(StoreError):
    """The database's schema cannot be migrated to this version's: it is newer (another
    version migrated it) or a migration failed. Unlike an outage, waiting will not fix it."""


class PublishError(SyndicatorError):
    """A feed or page could not be written."""

    def __init__(self, message: str, *, feed: str = "", path: str = "") -> None:
        self.feed = feed
        self.path = path
        where = " ".join(p for p in (feed, path) if p)
        super().__init__(f"{where}: {message}" if where else message)


class WorkerFailed(SyndicatorError):
    """A worker process died, could not be reached or answered nonsense (its work is then
    done in this process)."""
