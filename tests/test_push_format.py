"""Telegram HTML: conversion into the accepted tags, UTF-16 budgets, tag-safe splitting.

Every produced text is checked with the strict fake's own parser, the one that decides what
the fake Bot API accepts.
"""

from __future__ import annotations

import pytest
from fake_telegram import ParseError, parse_html

from syndicator.push.render import hashtags
from syndicator.push.tghtml import (
    escape,
    split_html,
    to_telegram_html,
    truncate,
    utf16_len,
    visible_len,
    visible_text,
)

HOSTILE_CONTENT = """<p>Rights &amp; <b>freedom</b> now.</p>
<script>alert(1)</script><style>p{}</style>
<h2>Demands</h2><ul><li>One <em>thing</em><li>Two</ul>
<p>Read the <a href="https://example.org/a?x=1&amp;y=2">full <b>text</b></a> or
<a href="javascript:alert(3)">this</a>.<br>New line <img src="https://tracker.example/p.gif">
<iframe src="https://tracker.example/frame"></iframe></p>
<blockquote><p>Quote <blockquote>nested</blockquote></p></blockquote>
<pre><code class="x">a &lt; b</code></pre><div onclick="x()">1 &lt; 2 &gt; 0</div>"""


def test_the_fake_parser_refuses_what_telegram_refuses() -> None:
    for bad in ("<p>x</p>", "a <br> b", "<b>x", "x</b>", "<b><i>x</b></i>", "a < b",
                "a & b", "&nbsp;", "<a href='javascript:x'>x</a>", '<b class="x">x</b>',
                "<img src=x>", "a > b", '<span class="x">s</span>',
                "<blockquote><blockquote>x</blockquote></blockquote>",
                "<pre><b>x</b></pre>", '<a href="https://a"><a href="https://b">x</a></a>'):
        with pytest.raises(ParseError):
            parse_html(bad)
    assert parse_html('<b>a</b> &lt;&gt;&amp;&quot;&#34;&#x41; <a href="https://x/?a=1&amp;'
                      'b=2">l</a> <pre><code class="language-py">x</code></pre>'
                      ' <tg-spoiler>s</tg-spoiler>') == 'a <>&""A l x s'


def test_item_html_becomes_telegram_html_with_text_kept() -> None:
    out = to_telegram_html(HOSTILE_CONTENT)
    shown = parse_html(out)           # accepted by the strict parser
    assert "alert" not in shown and "p{}" not in shown and "tracker.example" not in out
    assert "javascript" not in out
    assert '<a href="https://example.org/a?x=1&amp;y=2">full <b>text</b></a>' in out
    assert "<b>Demands</b>" in out and "• One <i>thing</i>" in out and "• Two" in out
    assert "Rights & freedom now." in shown and "a < b" in shown and "1 < 2 > 0" in shown
    assert "\n\n" in out and "\n\n\n" not in out
    assert out.count("<blockquote>") == 1


def test_escape_and_budgets_in_utf16() -> None:
    assert escape('<a href="x">&') == '&lt;a href="x"&gt;&amp;'
    assert utf16_len("a😀") == 3 and utf16_len("дзякуй") == 6
    assert visible_len("<b>&lt;😀&gt;</b>") == 4
    assert truncate("one two three four", 10) == "one two…"
    assert utf16_len(truncate("😀" * 10, 7)) <= 7


def test_a_long_text_is_split_at_paragraphs_without_breaking_tags() -> None:
    paragraph = "<b>Bold " + "word " * 150 + "end.</b> Next sentence here."
    text = "\n\n".join([paragraph] * 12) + '\n\n<a href="https://x.org/">link</a>'
    parts = split_html(text, 4096)
    assert len(parts) > 1
    for part in parts:
        shown = parse_html(part)                  # every part is valid on its own
        assert 0 < utf16_len(shown) <= 4096
        assert not shown.startswith((" ", "\n")) and not shown.endswith((" ", "\n"))
        assert shown.endswith(("here.", "link"))   # cut at a paragraph boundary
    joined = "\n\n".join(visible_text(p) for p in parts)
    assert joined == visible_text(text)


def test_a_paragraph_longer_than_the_budget_splits_at_sentences_then_words() -> None:
    sentence = "This is a sentence with <i>some emphasis</i> and 😀 emoji. "
    text = "<b>" + sentence * 200 + "</b>"
    parts = split_html(text, 1000, first_limit=300)
    assert utf16_len(parse_html(parts[0])) <= 300
    for part in parts:
        shown = parse_html(part)
        assert utf16_len(shown) <= 1000 and shown.endswith("emoji.")
        assert part.startswith("<b>") and part.endswith("</b>")
    words = "<i>" + "word " * 2000 + "</i>"
    for part in split_html(words, 500):
        assert utf16_len(parse_html(part)) <= 500


def test_an_unbreakable_run_is_cut_hard_but_never_inside_a_character() -> None:
    parts = split_html("😀" * 3000, 4096)
    assert [utf16_len(parse_html(p)) for p in parts] == [4096, 1904]


def test_hashtags_from_categories() -> None:
    assert hashtags(("News", "Human rights", "2024", "Навіны", "C++", "News")) == [
        "#News", "#Human_rights", "#Навіны", "#C"]
