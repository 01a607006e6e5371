"""The sign-up limits under a flood of junk, over real HTTP to the real web app: only a
valid sign-up is counted, the list's limit counts different mailboxes, and a subscriber's
preferences are never held up by other people's sign-ups."""

from __future__ import annotations

from pathlib import Path

from subscribe_support import NO_SMTP, form_token, get, make_config, post_form, serve, subscribed

from syndicator.app import make_app


def test_junk_posts_from_many_networks_leave_the_list_open(tmp_path: Path) -> None:
    config = make_config(tmp_path, NO_SMTP,
                         signups={"per_ip": 5, "per_target": 10, "window": "1h"})
    with make_app(config) as app, serve(app) as server:
        status, html = get(server.port, "/subscribe/mail")
        token = form_token(html)
        status, html = get(server.port, "/embed/subscribe?target=mail&lang=en")
        embed_token = form_token(html)
        link = subscribed(app, "kay@example.net")
        page_token = form_token(get(server.port, link)[1])
        # 21 networks × 6 junk POSTs (bad addresses, choices not offered): each a 400.
        for network in range(1, 22):
            source = f"127.0.1.{network}"
            for junk in ("", "x", "x@localhost", "a@b"):
                status, _h, _b = post_form(server.port, "/subscribe/mail",
                                           {"email": junk, "form_token": token}, source=source)
                assert status == 400, (source, junk)
            status, _h, _b = post_form(server.port, "/subscribe/mail", {
                "email": f"n{network}@example.net", "form_token": token, "rhythm": "hourly"},
                source=source)
            assert status == 400
            status, _h, _b = post_form(server.port, "/embed/subscribe", {
                "target": "mail", "lang": "en", "email": "nope", "form_token": embed_token},
                source=source)
            assert status == 400
        # A real reader signs up, and a subscriber saves a choice.
        status, _h, body = post_form(server.port, "/subscribe/mail",
                                     {"email": "ann@example.net", "form_token": token},
                                     source="127.0.1.1")
        assert status == 200 and "Check your inbox" in body
        assert post_form(server.port, link, {"form_token": page_token, "action": "save",
                                             "rhythm": "weekly"})[0] == 200
        assert [s.email for s in app.store.signups()] == ["ann@example.net"]


def test_the_lists_limit_counts_mailboxes_and_spares_preference_saves(tmp_path: Path) -> None:
    config = make_config(tmp_path, NO_SMTP,
                         signups={"per_ip": 100, "per_target": 2, "window": "1h"})
    with make_app(config) as app, serve(app) as server:
        token = form_token(get(server.port, "/subscribe/mail")[1])

        def sign_up(address: str, source: str) -> tuple[int, dict[str, str], str]:
            return post_form(server.port, "/subscribe/mail",
                             {"email": address, "form_token": token}, source=source)

        # One mailbox in many spellings, from many networks: one of the list's two.
        for n, address in enumerate(["ann@gmail.com", "A.nn@gmail.com", "ann+x@googlemail.com",
                                     "ANN+news@Gmail.com", "ann@gmail.com"], start=1):
            assert sign_up(address, f"127.0.2.{n}")[0] == 200, address
        assert sign_up("bob@example.net", "127.0.2.9")[0] == 200
        status, headers, body = sign_up("cy@example.net", "127.0.2.10")
        assert status == 429 and "Too many sign-ups to this list" in body
        assert int(headers["retry-after"]) > 0
        # A mailbox already counted may sign up again: it counts against its client only.
        assert sign_up("bob@example.net", "127.0.2.11")[0] == 200
        # The list is closed to new mailboxes; its subscribers' saves are not sign-ups.
        link = subscribed(app, "dee@example.net")
        page_token = form_token(get(server.port, link)[1])
        status, _h, body = post_form(server.port, link, {"form_token": page_token,
                                                         "action": "save", "rhythm": "daily"})
        assert status == 200 and "Saved" in body
        stored = app.store.subscriber("mail", "dee@example.net")
        assert stored is not None and stored.rhythm == "daily"
        # The stored addresses are as given: the mailbox key is for counting only.
        assert "A.nn@gmail.com" in [s.email for s in app.store.signups()]
