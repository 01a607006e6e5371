"""Email subscribers' choices seen by an attacker and by readers, over real HTTP and a real
SMTP server (aiosmtpd): preferences saved against stale state and never rate-limited to
leave, tokens out of the log, confirmation links that scanners open, addresses in other
capitals, every language ticked, a better-language version before the digest, items of no
language, the mails in the reader's language, a list title on several lines, and the
frames' choice of a story's version (`lang=auto`, zh-Hant, be-BY)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from push_support import SmtpServer, email, fetch, with_targets
from serve_support import serve as serve_process
from subscribe_support import (
    NO_SMTP,
    confirm,
    form_token,
    get,
    make_config,
    post_form,
    serve,
    subscribed,
)

from syndicator.app import make_app
from syndicator.config import load_config, parse_config
from syndicator.demo import demo_config_path, demo_site_root
from syndicator.demo.server import SiteServer
from syndicator.push import dispatch_due, send_digest
from syndicator.push.preferences import Choice, open_preferences, save_preferences
from syndicator.push.subscribers import (
    PREFERENCES,
    add_confirmed,
    confirm_url,
    leave,
    make_token,
    preferences_url,
    request_subscription,
    unsubscribe_url,
)
from syndicator.push.subscribers import confirm as confirm_link
from syndicator.store import Store
from syndicator.web.embed_items import frame_language, item_views, story_languages
from syndicator.web.signup_guard import SAVES_PER_HOUR
from tests.conftest import Site, serve_site
from tests.test_translations import _fetch, site  # noqa: F401  (the fixture)
from tests.translation_site import VERSIONS, write_site

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def _token(url: str) -> str:
    return url.rsplit("/", 1)[1]


def test_a_choice_saved_after_the_address_confirmed_or_left_keeps_that(tmp_path: Path) -> None:
    # The preferences POST reads the address when it opens, then the body, then saves: an
    # address confirmed or unsubscribed meanwhile (its mail's other links) must stay so.
    config = make_config(tmp_path, NO_SMTP, feeds=["office-be", "office-all"])
    with make_app(config) as app:
        store = app.store
        store.set_subscriber("mail", "ann@example.net", "pending", T0)
        link = _token(preferences_url(config, "mail", "ann@example.net", T0))
        opened = open_preferences(store, config, link, T0 + timedelta(minutes=1))
        assert opened is not None and opened.subscriber.status == "pending"
        confirmed = confirm_link(store, config, _token(confirm_url(
            config, "mail", "ann@example.net", T0)), T0 + timedelta(minutes=2))
        assert confirmed.kind == "confirmed"
        saved = save_preferences(store, opened, Choice(("ru",), "weekly"),
                                 T0 + timedelta(minutes=3))
        now = store.subscriber("mail", "ann@example.net")
        assert now is not None and saved == now
        assert (now.status, now.languages, now.rhythm) == ("confirmed", ("ru",), "weekly")

        opened = open_preferences(store, config, link, T0 + timedelta(minutes=4))
        assert opened is not None and opened.subscriber.status == "confirmed"
        leave(store, "mail", "ann@example.net", T0 + timedelta(minutes=5))
        assert save_preferences(store, opened, Choice(("be",), "item"),
                                T0 + timedelta(minutes=6)) is None
        left = store.subscriber("mail", "ann@example.net")
        assert left is not None and (left.status, left.languages) == ("unsubscribed", ("ru",))
        # A token of this list opens nothing on another list, nor does an expired one.
        other = make_token(config, PREFERENCES, "other", "ann@example.net",
                           expires=T0 + timedelta(days=1))
        assert open_preferences(store, config, other, T0) is None
        store.set_subscriber("mail", "ann@example.net", "confirmed", T0 + timedelta(minutes=7))
        expired = make_token(config, PREFERENCES, "mail", "ann@example.net",
                             expires=T0 + timedelta(days=1))
        assert open_preferences(store, config, expired, T0) is not None
        assert open_preferences(store, config, expired, T0 + timedelta(days=2)) is None


def _text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert isinstance(body, EmailMessage)
    return str(body.get_content())


def _html(message: EmailMessage) -> str:
    body = message.get_body(("html",))
    assert isinstance(body, EmailMessage)
    return str(body.get_content())


def test_mails_speak_the_readers_first_language(tmp_path: Path) -> None:
    # A list of Belarusian and every other language: its readers' mails (per item, digest,
    # confirmation) are written in their first language, else the list's (its pages').
    with SmtpServer() as smtp, serve_site(demo_site_root(), demo_config_path(),
                                          "SYNDICATOR_DEMO_URL", tmp_path) as demo:
        config = with_targets(demo.config, email("mail", smtp=smtp.smtp_config(),
                                                 feeds=("office-be", "office-all"),
                                                 backfill=2),
                              storage=f"sqlite:///{tmp_path / 'store.db'}")
        with make_app(config) as app:
            for address, languages, rhythm in [("ru@example.net", ("ru",), "item"),
                                               ("en@example.net", ("en",), "item"),
                                               ("be@example.net", (), "daily")]:
                app.store.set_subscriber("mail", address, "confirmed", T0,
                                         languages=languages, rhythm=rhythm)
            fetch(app, "office-en", "office-ru")
            dispatch_due(app, now=T0)
            send_digest(app, "mail", T0)
            request_subscription(app.store, config, "mail", "new@example.net", T0,
                                 languages=("ru",), rhythm="weekly")
            request_subscription(app.store, config, "mail", "all@example.net", T0,
                                 languages=(), rhythm="")
            dispatch_due(app, now=T0)
    [ru, *_] = smtp.to("ru@example.net")
    assert "Читать дальше: " in _text(ru) and "Языки и частота: " in _text(ru)
    assert ">Настройки</a>" in _html(ru) and ">Отписаться</a>" in _html(ru)
    assert ">Читать дальше</a>" in _html(ru) and "Read more" not in _text(ru) + _html(ru)
    # The page is in the reader's language, the story in its own.
    assert '<html lang="ru">' in _html(ru) and 'lang="ru">' in _html(ru)
    assert '<html lang="en">' in _html(smtp.to("en@example.net")[0])
    [en, *_] = smtp.to("en@example.net")
    assert "Read more: " in _text(en) and "Languages and rhythm: " in _text(en)
    assert ">Preferences</a>" in _html(en)
    [digest] = smtp.to("be@example.net")
    assert re.fullmatch(r".+: \d+ новы(я|х)? матэрыял\w*, 2 сакавіка 2026",
                        str(digest["Subject"])), digest["Subject"]
    assert "Мовы і частата: " in _text(digest) and "Адпісацца: " in _text(digest)
    assert '<html lang="be">' in _html(digest) and "сакавіка" in _text(digest)
    assert re.search(r'<h2 [^>]* lang="(en|ru)">', _html(digest))
    [confirmation] = smtp.to("new@example.net")
    assert str(confirmation["Subject"]).startswith("Подтвердите подписку на рассылку «")
    assert "(она действует 7 дней):" in _text(confirmation)
    assert "Подтвердить подписку</a>" in _html(confirmation)
    [other] = smtp.to("all@example.net")          # no language chosen: the list's
    assert str(other["Subject"]).startswith("Пацвердзіце падпіску на рассылку «")


def test_signed_links_are_not_written_to_the_log(tmp_path: Path) -> None:
    # At -vv the access log is on: the path of every request is logged, and the paths of
    # the preferences, unsubscribe and confirmation links are their tokens.
    with serve_process(tmp_path, verbose=2) as served:
        config = load_config(tmp_path / "config.yaml")
        now = datetime.now(UTC)
        links = [preferences_url(config, "mail", "ann@example.org", now),
                 unsubscribe_url(config, "mail", "ann@example.org"),
                 confirm_url(config, "mail", "ann@example.org", now)]
        paths = [urlsplit(link).path for link in links]
        for path in paths:
            assert httpx.get(served.url + path, timeout=20, trust_env=False).status_code \
                in (200, 404, 410)
        deadline = time.monotonic() + 30
        while served.log_text().count('"GET /') < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        log = served.log_text()
    assert '"GET /preferences/' in log and '"GET /subscribe/confirm/' in log
    for path in paths:
        token = path.rsplit("/", 1)[1]
        assert token[:20] not in log and token[-20:] not in log, log


VARIANTS = {"language": "zh-Hans", "items": [{
    "id": "1", "url": "https://news.example/hans", "title": "简体标题", "language": "zh-Hans",
    "date_published": "2026-03-01T10:00:00Z",
    "_syndicator": {"links": [
        {"rel": "alternate", "language": "zh-Hant", "url": "https://news.example/hant",
         "title": "繁體標題"},
        {"rel": "alternate", "language": "be", "url": "https://news.example/be",
         "title": "Беларуская версія"}]}}]}


def test_frames_pick_the_version_of_the_readers_script_and_region() -> None:
    def shown(lang: str) -> str:
        [view] = item_views(VARIANTS, limit=5, lang=lang, timezone="UTC", summaries=False,
                            images=False)
        return view.title

    # zh-Hant and zh-Hans are two versions: each reader gets their script's; a region
    # (be-BY, ru-RU) reads its language's.
    assert [shown(lang) for lang in ("zh-Hant", "ZH-hant", "zh-Hans", "zh", "be-BY", "ru-RU")] \
        == ["繁體標題", "繁體標題", "简体标题", "简体标题", "Беларуская версія", "简体标题"]
    offered = [*story_languages(VARIANTS), "en", "ru", "be"]
    assert offered[:3] == ["zh-Hans", "zh-Hant", "be"]
    # `auto`: the first of the reader's languages the frame has, else the fallback.
    assert frame_language("auto", "en", "de-DE,de;q=0.9,ru;q=0.5", "zh-Hans", offered) == "ru"
    assert frame_language("auto", "en", "de-DE,fr;q=0.9", "zh-Hans", offered) == "en"
    assert frame_language("auto", None, "fr, zh-Hant;q=0.3", "en", offered) == "zh-Hant"
    assert frame_language("auto", None, "be-BY,be;q=0.9", "en", offered) == "be-BY"


def test_a_reader_of_every_language_of_the_list_gets_each_story_once(
        site: Site) -> None:  # noqa: F811  (the fixture imported above)
    # The form says "each story once, in the first of your languages": a reader who ticks
    # every box of a three-language list is such a reader, not one of every item.
    with SmtpServer() as smtp:
        config = with_targets(site.config, email("mail-all", smtp=smtp.smtp_config(),
                                                 feeds=("all",)))
        with make_app(config) as app, serve(app) as server:
            status, page = get(server.port, "/subscribe/mail-all")
            boxes = re.findall(r'name="languages" value="(\w+)"', page)
            assert status == 200 and boxes == ["en", "ru", "be"]
            status, _h, answer = post_form(server.port, "/subscribe/mail-all", {
                "form_token": form_token(page), "email": "ida@example.org",
                "rhythm": "item"}, repeated={"languages": boxes})
            assert status == 200, answer
            dispatch_due(app)
            [confirmation] = smtp.to("ida@example.org")
            path = urlsplit(re.findall(r"https?://\S+/subscribe/confirm/\S+",
                                       _text(confirmation))[0]).path
            assert confirm(server.port, path)[0] == 200
            reader = app.store.subscriber("mail-all", "ida@example.org")
            assert reader is not None and reader.languages == ("en", "ru", "be")
            _fetch(app)
            for day in (2, 3):
                write_site(site.server.root, day=day)
                _fetch(app)
                dispatch_due(app)
    story = {version.title: version.story for version in VERSIONS}
    told = [story[str(message["Subject"])] for message in smtp.to("ida@example.org")[1:]]
    assert sorted(told) == ["border", "decoy", "forum", "storm", "vote"]


def test_a_digest_holds_the_story_in_the_readers_first_language_that_came_before_it(
        site: Site) -> None:  # noqa: F811  (the fixture imported above)
    # `storm` arrives in English, then (the next source's run) in Belarusian, before the
    # morning's digest: a reader of be, en gets it in Belarusian, once.
    start = datetime(2026, 3, 3, 6, 0, tzinfo=UTC)             # a Tuesday, 06:00
    clock = Clock(start)
    with SmtpServer() as smtp:
        config = with_targets(site.config, email("mail-all", smtp=smtp.smtp_config(),
                                                 feeds=("all",)))
        with make_app(config, clock=clock) as app:
            app.store.set_subscriber("mail-all", "dora@example.org", "confirmed", start,
                                     languages=("be", "en"), rhythm="daily")
            _fetch(app)
            for day in (2, 3):
                clock.now += timedelta(minutes=10)
                write_site(site.server.root, day=day)
                _fetch(app)
                dispatch_due(app)
            assert smtp.to("dora@example.org") == []
            clock.now = start + timedelta(hours=1, seconds=5)
            dispatch_due(app)
            dispatch_due(app)
    [digest] = smtp.to("dora@example.org")
    entries = re.findall(r"^\* (.+)$", _text(digest).replace("\r\n", "\n"), flags=re.MULTILINE)
    assert sorted(entries) == sorted(["The border reopens", "An unrelated story",
                                      "Галасы падлічаны", "A forum in Vilnius",
                                      "Бура на поўначы"])


class Clock:
    """The app's clock, moved by the test."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def test_saving_the_preferences_page_keeps_the_readers_order_of_languages(
        tmp_path: Path) -> None:
    # The list's order is be, en, ru; a reader whose first language is English (set by
    # the operator) changes only the rhythm, in a browser that posts the boxes in the
    # page's order: English stays first.
    config = make_config(tmp_path, NO_SMTP, feeds=["office-be", "office-all"])
    with make_app(config) as app, serve(app) as server:
        link = subscribed(app, "eli@example.net", languages=("en", "be"), rhythm="daily")
        status, page = get(server.port, link)
        checked = re.findall(r'name="languages" value="(\w+)" checked', page)
        boxes = re.findall(r'name="languages" value="(\w+)"', page)
        assert status == 200 and checked == ["en", "be"] and boxes == ["en", "be", "ru"]
        status, _h, answer = post_form(server.port, link, {
            "form_token": form_token(page), "action": "save", "rhythm": "weekly"},
            repeated={"languages": checked})
        assert status == 200, answer
        saved = app.store.subscriber("mail", "eli@example.net")
        assert saved is not None and (saved.languages, saved.rhythm) == (("en", "be"), "weekly")
        # A box ticked anew comes after the languages kept; one unticked is gone.
        status, _h, answer = post_form(server.port, link, {
            "form_token": form_token(page), "action": "save", "rhythm": "weekly"},
            repeated={"languages": ["en", "ru"]})
        saved = app.store.subscriber("mail", "eli@example.net")
        assert saved is not None and saved.languages == ("en", "ru")


def _rss(root: Path, name: str, titles: list[str]) -> None:
    items = "".join(f"<item><title>{title}</title><link>http://wire.example/{name}/{n}</link>"
                    f"<description>Text {n}</description>"
                    f"<pubDate>Mon, 02 Mar 2026 0{n}:00:00 +0000</pubDate></item>"
                    for n, title in enumerate(titles))
    (root / f"{name}.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>W</title>'
        f"<link>http://wire.example/</link>{items}</channel></rss>", encoding="utf-8")


def test_a_story_of_no_known_language_reaches_readers_who_chose_languages(
        tmp_path: Path) -> None:
    # A source with no language whose entries name none: its items are in no other
    # language than the reader's, and a reader of `en` is not to miss them.
    root = tmp_path / "wire"
    root.mkdir()
    _rss(root, "en", ["English one"])
    _rss(root, "misc", ["Unlabelled one"])
    with SiteServer(root) as server, SmtpServer() as smtp:
        text = ("timezone: UTC\nfetch: {delay: 0s, allow_private: true}\n"
                f"storage: sqlite:///{tmp_path / 'store.db'}\n"
                "site: {title: Wire, base_url: 'https://feeds.example.org/'}\nsources:\n"
                f'  - {{id: en, type: feed, url: "{server.url}en.xml", language: en}}\n'
                f'  - {{id: misc, type: feed, url: "{server.url}misc.xml"}}\n'
                "feeds:\n  - {id: news-en, title: News, sources: [en], language: en}\n"
                "  - {id: misc, title: Misc, sources: [misc]}\n")
        config = with_targets(parse_config(text, base_dir=tmp_path),
                              email("mail", smtp=smtp.smtp_config(),
                                    feeds=("news-en", "misc")))
        with make_app(config) as app:
            app.store.set_subscriber("mail", "una@example.org", "confirmed", app.clock(),
                                     languages=("en",), rhythm="item")
            fetch(app, "en", "misc")                  # first sight: held back
            _rss(root, "en", ["English one", "English two"])
            _rss(root, "misc", ["Unlabelled one", "Unlabelled two"])
            fetch(app, "en", "misc")
            dispatch_due(app)
    assert sorted(str(m["Subject"]) for m in smtp.to("una@example.org")) == [
        "English two", "Unlabelled two"]


def test_opening_the_links_of_a_confirmation_mail_subscribes_nobody(tmp_path: Path) -> None:
    # Somebody types the address of a reader who left into the form. The reader's mail
    # gateway opens every link of the confirmation mail, as scanners do: the address must
    # not be subscribed by that, only by the reader's press of the button.
    with SmtpServer() as smtp:
        config = make_config(tmp_path, smtp.smtp_config())
        with make_app(config) as app, serve(app) as server:
            app.store.set_subscriber("mail", "left@example.net", "unsubscribed", app.clock())
            status, page = get(server.port, "/subscribe/mail")
            assert post_form(server.port, "/subscribe/mail", {
                "form_token": form_token(page), "email": "left@example.net"})[0] == 200
            dispatch_due(app)
            [mail] = smtp.to("left@example.net")
            links = re.findall(r"https://feeds\.example\.org(/\S+)", _text(mail))
            assert any("/subscribe/confirm/" in link for link in links)
            for link in links:
                assert get(server.port, link)[0] == 200
            pending = app.store.subscriber("mail", "left@example.net")
            assert pending is not None and pending.status == "pending"
            [confirm_path] = [link for link in links if "/subscribe/confirm/" in link]
            status, page = get(server.port, confirm_path)
            assert '<form method="post" action="' + confirm_path in page
            status, _h, answer = post_form(server.port, confirm_path, {})
            assert status == 200 and "left@example.net" in answer
            confirmed = app.store.subscriber("mail", "left@example.net")
            assert confirmed is not None and confirmed.status == "confirmed"


def test_leaving_through_the_preferences_page_is_never_told_to_wait(tmp_path: Path) -> None:
    # Saving a choice has its own bound per subscriber (not the sign-ups of the reader's
    # network); leaving has none (as the unsubscribe link never has).
    config = make_config(tmp_path, NO_SMTP, signups={"per_ip": 1})
    with make_app(config) as app, serve(app) as server:
        link = subscribed(app, "fay@example.net")
        status, page = get(server.port, link)
        token = form_token(page)
        for n in range(SAVES_PER_HOUR):
            rhythm = ("daily", "weekly")[n % 2]
            assert post_form(server.port, link, {"form_token": token, "action": "save",
                                                 "rhythm": rhythm})[0] == 200, n
        status, headers, body = post_form(server.port, link, {
            "form_token": token, "action": "save", "rhythm": "daily"})
        assert status == 429 and int(headers["retry-after"]) > 0
        assert "Too many changes" in body
        # Leaving still needs the page's own form.
        assert post_form(server.port, link, {"action": "leave"})[0] == 403
        status, _h, answer = post_form(server.port, link, {"form_token": token,
                                                           "action": "leave"})
        assert status == 200 and "fay@example.net" in answer
        left = app.store.subscriber("mail", "fay@example.net")
        assert left is not None and (left.status, left.rhythm) == ("unsubscribed", "weekly")


def test_an_address_in_other_capitals_is_the_same_reader(tmp_path: Path) -> None:
    # Ann signed up on her phone as "Ann@…", later on her laptop as "ann@…": one mailbox,
    # so one subscriber and one mail per story, not two.
    with SmtpServer() as smtp:
        config = make_config(tmp_path, smtp.smtp_config(), signups={"per_ip": 50})
        with make_app(config) as app, serve(app) as server:
            _status, page = get(server.port, "/subscribe/mail")
            assert post_form(server.port, "/subscribe/mail", {
                "form_token": form_token(page), "email": "Ann@example.org"})[0] == 200
            dispatch_due(app)
            [mail] = smtp.to("Ann@example.org")
            path = re.findall(r"https://feeds\.example\.org(/subscribe/confirm/\S+)",
                              _text(mail))[0]
            assert confirm(server.port, path)[0] == 200
            assert post_form(server.port, "/subscribe/mail", {
                "form_token": form_token(page), "email": "ann@example.org"})[0] == 200
            dispatch_due(app)
            add_confirmed(app.store, config, "mail", [("ANN@example.org", ("en",), None)],
                          app.clock())
            readers = app.store.subscribers("mail")
    assert [(r.email, r.status, r.languages) for r in readers] == [
        ("Ann@example.org", "confirmed", ("en",))]
    assert len(smtp.received) == 1


def test_the_store_finds_an_address_whatever_its_capitals(
        db_url: str) -> None:
    store = Store(db_url)
    try:
        store.set_subscriber("mail", "Ann@example.org", "confirmed", T0)
        store.set_subscriber("mail", "bob@example.org", "confirmed", T0)
        found = store.subscriber_like("mail", "aNN@example.org")
        assert found is not None and found.email == "Ann@example.org"
        store.set_subscriber("mail", "ann@example.org", "pending", T0)   # an older row
        exact = store.subscriber_like("mail", "ann@example.org")
        assert exact is not None and (exact.email, exact.status) == ("ann@example.org",
                                                                    "pending")
        assert store.subscriber_like("other", "ann@example.org") is None
    finally:
        store.close()


def test_a_list_title_written_as_a_folded_yaml_block_still_mails(tmp_path: Path) -> None:
    # `title: >` in YAML ends the title with a line break; a mail header cannot hold one.
    with SmtpServer() as smtp:
        config = make_config(tmp_path, smtp.smtp_config())
        feeds = tuple(feed.model_copy(update={"title": f"Office\n news {feed.id}\n"})
                      for feed in config.feeds)
        config = config.model_copy(update={"feeds": feeds})
        with make_app(config) as app:
            request_subscription(app.store, config, "mail", "gil@example.org", T0)
            report = dispatch_due(app)
    [mail] = smtp.to("gil@example.org")
    assert [note for t in report.targets for note in t.notes] == ["1 confirmation mail(s) sent"]
    assert str(mail["Subject"]) == "Confirm your subscription to Office news office-en"
