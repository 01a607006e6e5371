"""An HTTP answer as the Fetcher reads it: the body within its cap, error and redirect
bodies drained, the Location of a redirect, the validators. Part of the `requests` adapter."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urljoin

import requests
from requests.utils import requote_uri

from syndicator.errors import FetchError, ResponseTooLarge
from syndicator.model import Body, Validators
from syndicator.uris import redact

CHUNK = 64 * 1024
# A page body is read in pieces of this size: most pages in one read, where 64 KB pieces
# took two or three, each through urllib3's and http.client's layers (a few percent of the
# CPU of a GET).
BODY_CHUNK = 512 * 1024


@dataclass(frozen=True)
class Answer:
    """One HTTP exchange that was read: the body only for 2xx answers."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes = b""


def read_capped(response: requests.Response, max_bytes: int, url: str) -> bytes:
    """The decoded body, or ResponseTooLarge as soon as it is known to exceed `max_bytes`."""
    length = response.headers.get("Content-Length", "").strip()
    if length.isdigit() and int(length) > max_bytes:
        raise ResponseTooLarge(f"Content-Length {length} exceeds the cap of {max_bytes} bytes",
                               url=redact(url), status=response.status_code)
    chunks: list[bytes] = []
    total = 0
    for chunk in response.iter_content(chunk_size=BODY_CHUNK):
        total += len(chunk)
        if total > max_bytes:
            raise ResponseTooLarge(f"body exceeds the cap of {max_bytes} bytes",
                                   url=redact(url), status=response.status_code)
        chunks.append(chunk)
    return b"".join(chunks)


def drain(response: requests.Response) -> None:
    """Read away a small error or redirect body so its connection can be reused."""
    length = response.headers.get("Content-Length", "").strip()
    if length.isdigit() and int(length) > CHUNK:
        return
    read = 0
    for chunk in response.iter_content(chunk_size=CHUNK):
        read += len(chunk)
        if read > CHUNK:
            return


def location(answer: Answer) -> str:
    location = answer.headers.get("Location")
    if not location:
        raise FetchError(f"HTTP {answer.status} without a Location", url=redact(answer.url),
                         status=answer.status)
    # http.client reads headers as latin-1; servers mostly send UTF-8 (as requests assumes).
    location = location.encode("latin-1", errors="replace").decode("utf-8", errors="replace")
    return requote_uri(urljoin(answer.url, location))


def merge_validators(validators: Validators | None, headers: Mapping[str, str]) -> Validators:
    """Validators of an answer; a 304 may omit them, then the ones we sent stay valid."""
    old = validators or Validators()
    return Validators(etag=headers.get("ETag") or old.etag,
                      last_modified=headers.get("Last-Modified") or old.last_modified)


def answer_body(url: str, answer: Answer) -> Body:
    return Body(url=url, final_url=answer.url, status=answer.status, raw=answer.body,
                content_type=answer.headers.get("Content-Type"),
                validators=merge_validators(None, answer.headers))
