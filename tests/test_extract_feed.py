"""Feeds → Articles: RSS 0.91 / 2.0, RSS 1.0, Atom, JSON Feed; hostile XML refused."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from syndicator.decode import decode_page
from syndicator.errors import ExtractError, UnsafeDocument
from syndicator.extract import check_xml_safety, parse_feed
from syndicator.model import Article, Body, Page

FEED_URL = "https://news.example/feeds/main.xml"


def make_page(raw: bytes, *, content_type: str = "application/xml", encoding: str = "utf-8",
              text: str | None = None, url: str = FEED_URL) -> Page:
    decoded = raw.decode(encoding, errors="replace") if text is None else text
    return Page(url=url, final_url=url, status=200, text=decoded, encoding=encoding,
                content_type=content_type, raw=raw)


RSS20 = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:media="http://search.yahoo.com/mrss/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
  <title>Example news</title><link>https://news.example/</link>
  <description>All the news</description><language>en-us</language>
  <item>
    <title>First &amp; foremost</title>
    <link>/news/first</link>
    <guid isPermaLink="false">abc-1</guid>
    <pubDate>Mon, 06 May 2024 10:30:00 +0300</pubDate>
    <description>&lt;p&gt;Short &lt;b&gt;summary&lt;/b&gt;&lt;/p&gt;</description>
    <content:encoded><![CDATA[<p>Full <a href="/more">text</a>.</p>]]></content:encoded>
    <dc:creator>Ann Writer</dc:creator>
    <category>Politics</category><category>World</category>
    <media:content url="https://news.example/video.mp4" type="video/mp4"/>
    <media:content url="https://news.example/img/first.jpg" medium="image"/>
  </item>
  <item>
    <title>Second, plain</title>
    <link>https://news.example/news/second</link>
    <pubDate>Tue, 07 May 2024 08:00:00 GMT</pubDate>
    <description>Just text, no markup</description>
    <enclosure url="https://news.example/img/second.png" length="10240" type="image/png"/>
  </item>
  <item>
    <title>Guid is the link</title>
    <guid>https://news.example/news/third</guid>
  </item>
  <item><title>No link at all</title><guid>urn:uuid:1234</guid></item>
</channel></rss>"""


def test_rss20() -> None:
    articles = parse_feed(make_page(RSS20))
    assert [a.url for a in articles] == ["https://news.example/news/first",
                                         "https://news.example/news/second",
                                         "https://news.example/news/third"]
    first, second, third = articles
    assert first.title == "First & foremost"
    assert first.dates == ("2024-05-06T07:30:00Z", "Mon, 06 May 2024 10:30:00 +0300")
    assert first.updated is None
    assert first.summary == "<p>Short <b>summary</b></p>"
    assert first.content is not None and "Full" in first.content
    assert 'href="https://news.example/more"' in first.content
    assert first.author == "Ann Writer"
    assert first.categories == ("Politics", "World")
    assert first.image == "https://news.example/img/first.jpg"
    assert first.language == "en"
    assert second.dates == ("2024-05-07T08:00:00Z", "Tue, 07 May 2024 08:00:00 GMT")
    assert second.summary == "Just text, no markup"
    assert second.content is None  # a plain-text summary is not content
    assert second.image == "https://news.example/img/second.png"
    assert third.title == "Guid is the link" and third.dates == ()


RSS10 = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
  xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://rdf.example/">
    <title>RDF site</title><link>https://rdf.example/</link><description>d</description>
    <dc:language>fr</dc:language>
    <items><rdf:Seq><rdf:li resource="https://rdf.example/a"/></rdf:Seq></items>
  </channel>
  <item rdf:about="https://rdf.example/a">
    <title>Article A</title><link>https://rdf.example/a</link>
    <description>About A</description>
    <dc:date>2024-05-06T10:30:00+02:00</dc:date>
    <dc:creator>Jean</dc:creator><dc:subject>Culture</dc:subject>
  </item>
</rdf:RDF>"""


def test_rss10_rdf() -> None:
    (article,) = parse_feed(make_page(RSS10))
    assert article.url == "https://rdf.example/a"
    assert article.title == "Article A"
    assert article.dates == ("2024-05-06T08:30:00Z", "2024-05-06T10:30:00+02:00")
    assert article.summary == "About A"
    assert article.author == "Jean"
    assert article.categories == ("Culture",)
    assert article.language == "fr"


ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="de-AT" xml:base="https://atom.example/blog/">
  <title>Atom blog</title><id>urn:uuid:feed</id><updated>2024-05-08T00:00:00Z</updated>
  <entry>
    <title type="html">Entry &lt;em&gt;one&lt;/em&gt;</title>
    <link rel="alternate" href="entries/one"/>
    <link rel="enclosure" type="image/jpeg" href="/img/one.jpg"/>
    <id>tag:atom.example,2024:1</id>
    <published>2024-05-06T10:30:00+02:00</published>
    <updated>2024-05-07T09:00:00+02:00</updated>
    <author><name>Max</name></author><author><name>Moritz</name></author>
    <category term="tech" label="Technik"/>
    <summary>The summary</summary>
    <content type="xhtml">
      <div xmlns="http://www.w3.org/1999/xhtml"><p>XHTML body</p></div></content>
  </entry>
  <entry>
    <title>Only updated, date only</title>
    <link href="https://atom.example/two"/>
    <id>https://atom.example/two</id>
    <updated>2024-05-05</updated>
  </entry>
</feed>"""


def test_atom() -> None:
    one, two = parse_feed(make_page(ATOM, content_type="application/atom+xml"))
    assert one.url == "https://atom.example/blog/entries/one"
    assert one.title == "Entry <em>one</em>"
    assert one.dates == ("2024-05-06T08:30:00Z", "2024-05-06T10:30:00+02:00")
    assert one.updated == "2024-05-07T07:00:00Z"
    assert one.author == "Max, Moritz"
    assert one.categories == ("tech",)
    assert one.image == "https://atom.example/img/one.jpg"
    assert one.summary == "The summary"
    assert one.content is not None and "<p>XHTML body</p>" in one.content
    assert one.language == "de"
    # A date without a time of day stays one: not feedparser's midnight UTC of that day.
    assert two.dates == ("2024-05-05",)
    assert two.updated == "2024-05-05"


JSON_FEED = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "JSON blog", "home_page_url": "https://json.example/",
    "feed_url": "https://json.example/feed.json", "language": "es-ES",
    "authors": [{"name": "Feed Author"}],
    "items": [
        {"id": "1", "url": "/posts/1", "title": "Uno", "content_html": "<p>Hola</p>",
         "summary": "Resumen", "image": "/img/1.jpg", "date_published": "2024-05-06T10:30:00+02:00",
         "date_modified": "2024-05-07T10:30:00+02:00", "tags": ["a", "b", "a"],
         "authors": [{"name": "Ana"}, {"url": "https://x.example"}], "language": "ca"},
        {"id": "https://json.example/posts/2", "content_text": "Line one.\n\nLine <two>.",
         "banner_image": "https://cdn.example/2.png"},
        {"id": "not-a-url", "content_text": "skipped"},
        "not an object",
    ],
}


def test_json_feed_11() -> None:
    raw = json.dumps(JSON_FEED).encode("utf-8")
    one, two = parse_feed(make_page(raw, content_type="application/feed+json"))
    assert one.url == "https://json.example/posts/1"
    assert one.title == "Uno"
    assert one.content == "<p>Hola</p>"
    assert one.summary == "Resumen"
    assert one.image == "https://json.example/img/1.jpg"
    assert one.dates == ("2024-05-06T10:30:00+02:00",)
    assert one.updated == "2024-05-07T10:30:00+02:00"
    assert one.categories == ("a", "b")
    assert one.author == "Ana"
    assert one.language == "ca"
    assert two.url == "https://json.example/posts/2"
    assert two.content == "<p>Line one.</p>\n<p>Line &lt;two&gt;.</p>"
    assert two.image == "https://cdn.example/2.png"
    assert two.author == "Feed Author"
    assert two.language == "es"


def test_json_feed_10_author_and_sniffed_without_content_type() -> None:
    feed = {"version": "https://jsonfeed.org/version/1", "title": "t",
            "author": {"name": "Old Style"},
            "items": [{"id": "x", "url": "https://json.example/x", "title": "X"}]}
    raw = b"\xef\xbb\xbf  " + json.dumps(feed).encode()
    (article,) = parse_feed(make_page(raw, content_type="text/plain"))
    assert article.author == "Old Style"


@pytest.mark.parametrize("body", [b"{not json", b'{"items": []}', b"[1, 2]",
                                  b'{"version": "https://jsonfeed.org/version/1.1"}'])
def test_json_that_is_not_a_feed(body: bytes) -> None:
    with pytest.raises(ExtractError, match="not a feed"):
        parse_feed(make_page(body, content_type="application/json"))


RSS091 = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"
  "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91"><channel>
  <title>Old school</title><link>http://old.example/</link><description>d</description>
  <language>en</language>
  <item><title>Caf\xe9 opens</title><link>http://old.example/cafe</link>
    <description>A new caf\xe9 &amp; bar</description></item>
</channel></rss>"""


def test_rss091_with_netscape_doctype_and_latin1() -> None:
    (article,) = parse_feed(make_page(RSS091, encoding="iso-8859-1"))
    assert article.url == "http://old.example/cafe"
    assert article.title == "Café opens"
    assert article.summary == "A new café & bar"
    assert article.dates == ()
    assert article.language == "en"


def test_windows_1251_rss_from_bytes() -> None:
    raw = ("""<?xml version="1.0" encoding="windows-1251"?>
<rss version="2.0"><channel><title>Новости</title><link>https://ru.example/</link>
<description>Лента</description><language>ru</language>
<item><title>Привет, мир</title><link>https://ru.example/1</link>
<description>Съешь же ещё этих мягких французских булок</description>
<category>Общество</category>
<pubDate>Mon, 06 May 2024 10:30:00 +0300</pubDate></item></channel></rss>""").encode("cp1251")
    # A server's default charset the bytes are not valid in gives way to the declaration.
    page = decode_page(Body(url=FEED_URL, final_url=FEED_URL, status=200, raw=raw,
                            content_type="text/xml; charset=utf-8"))
    (article,) = parse_feed(page)
    assert article.title == "Привет, мир"
    assert article.summary == "Съешь же ещё этих мягких французских булок"
    assert article.categories == ("Общество",)
    assert article.language == "ru"


def test_text_only_page_is_parsed_as_utf8() -> None:
    text = RSS20.decode("utf-8").replace("First &amp; foremost", "Тест")
    page = Page(url=FEED_URL, final_url=FEED_URL, status=200, text=text,
                encoding="utf-8", content_type="application/rss+xml")
    assert parse_feed(page)[0].title == "Тест"


def test_http_charset_used_when_document_declares_none() -> None:
    raw = ("<rss version='2.0'><channel><title>t</title><item><title>Ёлка</title>"
           "<link>https://ru.example/e</link></item></channel></rss>").encode("koi8-r")
    page = make_page(raw, content_type="application/rss+xml", encoding="koi8-r")
    assert parse_feed(page)[0].title == "Ёлка"


# --- hostile and broken input ----------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol9;</title><link>https://evil.example/</link></item></channel></rss>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>t</title>
<item><title>&xxe;</title><link>https://evil.example/a</link><description>&xxe;</description>
</item></channel></rss>"""


def _passwd_marker() -> str:
    try:
        first = Path("/etc/passwd").read_text(encoding="utf-8").splitlines()[0]
    except (OSError, IndexError):
        return "root:x:0:0"
    return first


@pytest.mark.parametrize("raw", [
    BILLION_LAUGHS,
    BILLION_LAUGHS.replace(b"<!ENTITY", b"<!entity"),
    BILLION_LAUGHS.decode().encode("utf-16"),
    XXE,
    # A DOCTYPE padded beyond the first 64 KB still cannot hide its entities.
    XXE.replace(b"<!DOCTYPE rss [", b"<!DOCTYPE rss [" + b"<!-- pad -->" * 8000),
])
def test_entity_declarations_are_refused(raw: bytes) -> None:
    with pytest.raises(UnsafeDocument, match="entity declarations are refused") as caught:
        parse_feed(make_page(raw, encoding="latin-1"))
    assert _passwd_marker() not in str(caught.value)
    assert "lollol" not in str(caught.value)


def test_check_xml_safety_passes_ordinary_feeds() -> None:
    check_xml_safety(RSS20)
    check_xml_safety(RSS091)


def test_external_dtd_is_not_loaded() -> None:
    raw = b"""<?xml version="1.0"?><!DOCTYPE rss SYSTEM "file:///etc/passwd">
<rss version="2.0"><channel><title>t</title><item><title>x</title>
<link>https://ok.example/x</link></item></channel></rss>"""
    articles = parse_feed(make_page(raw))
    dumped = json.dumps([asdict(a) for a in articles])
    assert _passwd_marker() not in dumped
    assert [a.url for a in articles] == ["https://ok.example/x"]


@pytest.mark.parametrize("raw", [
    b"<!doctype html><html><head><title>Not a feed</title></head><body><p>hi</p></body></html>",
    b"",
    b"\x00\x01\x02 garbage \xff\xfe",
    b"just some text",
])
def test_not_a_feed(raw: bytes) -> None:
    with pytest.raises(ExtractError, match="not a feed"):
        parse_feed(make_page(raw, content_type="text/html"))


def test_truncated_feed_still_gives_its_complete_entries() -> None:
    truncated = RSS20[: RSS20.index(b"<item>\n    <title>Guid")]
    articles: tuple[Article, ...] = parse_feed(make_page(truncated))
    assert [a.title for a in articles] == ["First & foremost", "Second, plain"]


def test_malformed_entries_do_not_crash() -> None:
    raw = b"""<rss version="2.0"><channel><title>t</title>
      <item><title></title><link>javascript:alert(1)</link></item>
      <item><link>  https://ok.example/a  </link><pubDate>not a date</pubDate>
        <media:content xmlns:media="http://search.yahoo.com/mrss/" url="/i.gif"/></item>
      <item><title>x</title><link>http://[::1</link></item>
    </channel></rss>"""
    articles = parse_feed(make_page(raw))
    assert [(a.url, a.title, a.dates) for a in articles] == [
        ("https://ok.example/a", None, ("not a date",))]
    assert articles[0].image == "https://news.example/i.gif"
