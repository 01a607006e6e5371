"""The one reader of posted forms (sign-up, unsubscribe, the embedded sign-up): small
`application/x-www-form-urlencoded` bodies, streamed and refused past a few KB.

A declared Content-Length over the cap is refused before a byte of the body is read; a
chunked body is read only until it passes the cap. Either way the route answers 413, and
the rest of the body is never held in memory.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import Request

from syndicator.errors import SyndicatorError

MAX_FORM_BYTES = 4096      # our forms send a few short fields
MAX_FIELDS = 20


class FormTooLarge(SyndicatorError):
    """The posted body passed the cap; the route answers 413 (it never leaves a route)."""


async def read_form(request: Request, *, limit: int = MAX_FORM_BYTES) -> dict[str, str]:
    """The form's fields; a field sent several times (the language boxes of a sign-up
    form) has its values joined by commas. {} for a body that is not a form."""
    declared = request.headers.get("content-length", "")
    if declared.strip().isascii() and declared.strip().isdigit() and int(declared) > limit:
        raise FormTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise FormTooLarge
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True,
                          max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {key: ",".join(values) for key, values in fields.items() if values}
