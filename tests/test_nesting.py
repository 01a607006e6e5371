"""Hostile nesting: a page is parsed with its elements nested at most MAX_NESTING deep."""

from __future__ import annotations

from syndicator.extract.html import ancestors, parse_html, select_all
from syndicator.extract.nesting import MAX_NESTING, bounded_nesting


def _depth(markup: str | bytes) -> int:
    root = parse_html(markup)
    return max((sum(1 for _ in ancestors(node)) for node in select_all(root, "*")), default=0)


def test_a_page_of_endless_divs_is_cut_at_the_bound() -> None:
    # 200,000 levels: without the bound lexbor would run for hours in C.
    hostile = "<html><body>" + "<div>" * 200_000 + "<p>deep</p>"
    for markup in (hostile, hostile.encode()):
        assert MAX_NESTING <= _depth(markup) <= MAX_NESTING + 4


def test_stray_end_tags_do_not_hide_depth() -> None:
    hostile = "<body>" + "<div></span></x>" * 50_000
    assert _depth(hostile) <= MAX_NESTING + 4


def test_cards_before_the_cut_are_kept_and_closed_nests_cost_nothing() -> None:
    cards = "".join(f'<article><a href="/n/{i}">Story {i}</a></article>' for i in range(300))
    closed = "<section>" * 900 + "</section>" * 900       # deep but closed: not cut
    page = f"<body>{closed}{cards}" + "<div>" * 5_000 + "<article><a href='/late'>x</a>"
    root = parse_html(page)
    links = [node.attributes.get("href") for node in select_all(root, "article a")]
    assert links[:300] == [f"/n/{i}" for i in range(300)]
    assert "/late" not in links


def test_real_markup_is_left_alone() -> None:
    # Optional end tags (li, p, td) and void elements never count as depth; text inside
    # scripts and comments neither.
    rows = "".join(f"<tr><td>{i}<td><img src=x><br>" for i in range(3_000))
    items = "<ul>" + "<li><p>item" * 3_000 + "</ul>"
    script = "<script>var t = '" + "<div>" * 3_000 + "';</script>"
    comment = "<!--" + "<div>" * 3_000 + "-->"
    for page in (f"<table>{rows}</table>", items, script + "<p>after</p>", comment + "<p>x"):
        assert bounded_nesting(page) == page
        assert bounded_nesting(page.encode()) == page.encode()
