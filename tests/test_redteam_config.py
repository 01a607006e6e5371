"""Red team: a secret written as a header or cookie *name* (`{"Authorization: Bearer …"}`,
`{"sid=…"}`: a colon or `=` where the YAML wanted a key and a value) is never echoed by a
config error (`validate`, `check`, the service's start), as a value is not."""

from __future__ import annotations

import pytest

from syndicator.config import parse_config
from syndicator.errors import ConfigError

SECRET = "s3cr3t-Zq9x"


@pytest.mark.parametrize(("block", "expected"), [
    (f'headers: {{"Authorization: Bearer {SECRET}": ""}}', "is not a header name"),
    (f'headers: {{"Authorization: Bearer {SECRET}": x}}', "is not a header name"),
    (f'cookies: {{"sid={SECRET}": ""}}', "is not a cookie name"),
])
def test_a_secret_written_as_a_name_is_not_echoed(block: str, expected: str) -> None:
    text = f"""
sources:
  - id: guarded
    url: "https://news.example.org/"
    list: {{item: article, link: a@href}}
    {block}
"""
    with pytest.raises(ConfigError) as caught:
        parse_config(text, env={})
    message = str(caught.value)
    assert "sources[0]" in message and expected in message
    assert SECRET not in message and "Bearer" not in message
