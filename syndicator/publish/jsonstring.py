"""JSON string literals as UTF-8 bytes: the one orjson adapter.

A full build writes every stored item's content into JSON Feed archive pages; escaping a
content of a few KB with the standard library's C escaper (json.encoder.encode_basestring)
and encoding the result costs over ten times what orjson does, which also hands back the
UTF-8 bytes the pages are made of. The bytes are the same as
`encode_basestring(value).encode("utf-8")` for every code point (tests/test_feed_writer.py
checks all of them): both escape only the quote, the backslash and control characters, and
leave the rest as is (ensure_ascii=False).
"""

from __future__ import annotations

from json.encoder import encode_basestring

import orjson


def quote(value: str) -> bytes:
    """`value` as a JSON string literal (quotes included), UTF-8."""
    try:
        return orjson.dumps(value)
    except TypeError:
        # A lone surrogate, which UTF-8 cannot hold: fail as the standard library's escaper
        # followed by an encode does (UnicodeEncodeError), whatever orjson's message says.
        return str(encode_basestring(value)).encode("utf-8")
