"""Signed links over real HTTP to the real web app: a link has exactly one spelling, and a
service without `secret_key` answers every link with a 4xx page, never a 500."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from subscribe_support import NO_SMTP, get, make_config, post_form, serve, subscribed

from syndicator.app import make_app

LINKS = ("/preferences/", "/unsubscribe/", "/subscribe/confirm/")


def test_without_a_secret_every_link_is_not_found_and_nothing_is_logged(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # A config with no email target needs no secret_key; the routes are still there.
    config = make_config(tmp_path, NO_SMTP)
    config = config.model_copy(update={"push": [], "secret_key": None})
    caplog.set_level(logging.WARNING)
    with make_app(config) as app, serve(app) as server:
        for prefix in LINKS:
            for token in ("x", "eyJwIjoiY29uZmlybSJ9.c2ln"):
                status, page = get(server.port, prefix + token)
                assert 400 <= status < 500 and "not valid" in page, (prefix, status)
                status, _h, page = post_form(server.port, prefix + token,
                                             {"List-Unsubscribe": "One-Click"})
                assert 400 <= status < 500 and "not valid" in page, (prefix, status)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_link_is_taken_only_in_the_spelling_it_was_mailed_in(tmp_path: Path) -> None:
    config = make_config(tmp_path, NO_SMTP)
    with make_app(config) as app, serve(app) as server:
        link = subscribed(app, "ann@example.net")
        assert get(server.port, link)[0] == 200
        body, _, signature = link.rpartition(".")
        variants = [f"{body}.{signature}~~", f"{body}.{signature}!!", f"{body}.{signature}=",
                    f"{body}.{signature[:10]}={signature[10:]}",
                    f"{body}.{signature[:10]}%0A{signature[10:]}",
                    f"{body}.{signature}==", f"{body}=.{signature}",
                    f"{body}.{signature[:-1]}{_sibling(signature[-1])}",
                    f"{body}.{signature.replace('-', '+').replace('_', '/')}"]
        for variant in variants:
            if variant == link:
                continue
            status, _page = get(server.port, variant)
            assert status == 404, variant
        assert get(server.port, link)[0] == 200


def _sibling(last: str) -> str:
    """Another last character decoding to the same bytes (it differs only in unused bits):
    a signature of 32 bytes is 43 characters, the last carrying 4 bits and 2 unused."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    index = alphabet.index(last)
    return alphabet[index ^ 1]
