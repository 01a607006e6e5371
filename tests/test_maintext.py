"""Article bodies without a `content` selector: trafilatura's main text, with its structure.

Issue 22, finding 10: the body used to be guessed only in [itemprop=articleBody],
.entry-content, .post-content, article and main, so a story in any other container had no
body at all (or the sidebar's).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from syndicator.cli import run_sources
from syndicator.config import ArticleSelectors
from syndicator.extract.selectors import extract_article_markup
from tests.conftest import serve_site

PARAGRAPHS = "\n".join(
    f"<p>Paragraph {n} of the story: the council met on Tuesday and argued for hours about "
    f"the bridge, the budget and the weather, as councils do.</p>" for n in range(1, 9))

# The story sits in a <div id="x9">, a container no list of usual names knows, between a
# navigation bar, a sidebar and a footer that are longer than any one of its paragraphs.
STORY = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Bridge vote | The Gazette</title>
<base href="/media/"></head>
<body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/politics/">Politics</a></li>
  <li><a href="/sport/">Sport</a></li><li><a href="/weather/">Weather and more weather</a></li>
</ul></nav>
<div id="x9">
  <h1>Council votes on the bridge</h1>
  <p>The first paragraph has <a href="docs/minutes.pdf">the minutes</a> linked in it, and
  enough words to be part of the story.</p>
  <h2>What was decided</h2>
  <ul><li>The bridge will be repaired next spring.</li>
      <li>The budget grows by two per cent.</li></ul>
  <figure><img src="photos/bridge.jpg" alt="The bridge"><figcaption>The old bridge.
  </figcaption></figure>
  {PARAGRAPHS}
</div>
<aside><h3>Most read</h3><p>Sidebar noise: the ten most read stories of the week, with a
  long teaser that is not part of this article at all.</p></aside>
<footer><p>Footer noise: copyright The Gazette, all rights reserved, terms, privacy,
  cookies, contact, advertise with us.</p></footer>
</body></html>"""


def test_a_body_outside_the_usual_containers_is_extracted_with_its_structure() -> None:
    article = extract_article_markup(STORY, "http://news.test/2024/bridge.html", None)
    body = article.content
    assert body is not None
    assert "Paragraph 1 of the story" in body and "Paragraph 8 of the story" in body
    assert "<h2>What was decided</h2>" in body
    assert "<li>The bridge will be repaired next spring.</li>" in body
    # URLs are absolute, against the page's <base>.
    assert 'src="http://news.test/media/photos/bridge.jpg"' in body
    assert 'href="http://news.test/media/docs/minutes.pdf"' in body
    for noise in ("Sidebar noise", "Footer noise", "Most read", "Politics"):
        assert noise not in body


def test_the_publishers_marked_body_and_a_content_selector_still_win() -> None:
    marked = STORY.replace('<div id="x9">', '<div id="x9"><div itemprop="articleBody">') \
        .replace("</div>\n<aside>", "</div><p>Outside the marked body.</p></div>\n<aside>")
    body = extract_article_markup(marked, "http://news.test/a", None).content
    assert body is not None and "Paragraph 8" in body and "Outside the marked" not in body
    chosen = extract_article_markup(STORY, "http://news.test/a",
                                    ArticleSelectors(content="aside")).content
    assert chosen is not None and "Sidebar noise" in chosen and "Paragraph" not in chosen


def test_a_short_page_keeps_the_container_guess() -> None:
    # Below trafilatura's minimum it falls back to the page's whole text in one paragraph:
    # the usual container is better there.
    html = """<main><article><p>The story itself, told in a few words here.</p></article>
      <p>Subscribe!</p></main>"""
    body = extract_article_markup(html, "http://news.test/a", None).content
    assert body == "<p>The story itself, told in a few words here.</p>"


def test_trafilatura_is_not_imported_when_a_content_selector_is_given() -> None:
    # It costs ~0.3 s to import and ~20 ms a page: sources with a selector never pay for it.
    code = textwrap.dedent(f"""
        import sys
        from syndicator.config import ArticleSelectors
        from syndicator.extract.selectors import extract_article_markup
        html = {STORY!r}
        extract_article_markup(html, "http://news.test/a", ArticleSelectors(content="#x9"))
        assert "trafilatura" not in sys.modules, "imported with a selector"
        extract_article_markup(html, "http://news.test/a", None)
        assert "trafilatura" in sys.modules, "not used without a selector"
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr


def test_hostile_markup_without_selectors_does_not_crash() -> None:
    for html in ("<div>" * 5000 + "deep" + "</div>" * 10, "", "text only",
                 "<html><body><p>" + "word " * 20000 + "</p></body></html>",
                 "<p>" + "<b>" * 3000 + "x"):
        extract_article_markup(html, "http://news.test/a", None)


CONFIG = """\
fetch:
  delay: 0s
  allow_private: true   # the fixture site is served on loopback
sources:
  - id: gazette
    title: "The Gazette"
    type: html
    url: "${SITE_URL}news/"
    list:
      item: "ul.stories li"
      link: "a@href"
feeds:
  - id: gazette
    title: "The Gazette"
    sources: [gazette]
"""


def test_a_source_with_only_item_and_link_publishes_the_full_body(tmp_path: Path) -> None:
    root = tmp_path / "site"
    (root / "news").mkdir(parents=True)
    (root / "news" / "index.html").write_text(
        '<html><body><ul class="stories"><li><a href="/2024/bridge.html">Bridge vote</a></li>'
        "</ul></body></html>", encoding="utf-8")
    (root / "2024").mkdir()
    (root / "2024" / "bridge.html").write_text(STORY, encoding="utf-8")
    (tmp_path / "config.yaml").write_text(CONFIG, encoding="utf-8")
    with serve_site(root, tmp_path / "config.yaml", "SITE_URL", tmp_path) as site, \
            site.app() as app:
        results = run_sources(app, ["gazette"], echo=lambda line: None)
        assert results[0].ok and results[0].new == 1, results[0].errors
        [item] = app.store.latest(["gazette"], limit=10)
        site_url = site.url
    assert "Paragraph 8 of the story" in item.content
    assert "<h2>What was decided</h2>" in item.content
    assert f'src="{site_url}media/photos/bridge.jpg"' in item.content
    assert "Sidebar noise" not in item.content and "Footer noise" not in item.content


def test_the_extraction_benchmark_runs_on_a_tiny_corpus(tmp_path: Path) -> None:
    """bench/extraction.py on two pages laid out as its public corpora are, so that it
    cannot rot; the figures are the benchmark's business, not this test's."""
    import gzip
    import json

    from bench import extraction

    corpus = tmp_path / "aeb"
    (corpus / "html").mkdir(parents=True)
    with gzip.open(corpus / "html" / "p1.html.gz", "wt", encoding="utf-8") as f:
        f.write(STORY)
    truth = {"p1": {"url": "http://news.test/2024/bridge.html", "articleBody": "\n".join(
        f"Paragraph {n} of the story: the council met on Tuesday and argued for hours about "
        f"the bridge, the budget and the weather, as councils do." for n in range(1, 9))}}
    (corpus / "ground-truth.json").write_text(json.dumps(truth), encoding="utf-8")
    dates = tmp_path / "htmldate" / "tests"
    (dates / "eval").mkdir(parents=True)
    (dates / "eval" / "d1.html").write_text(
        '<html><head><meta property="article:published_time" content="2019-03-04T10:00:00Z">'
        "</head><body><p>Text</p></body></html>", encoding="utf-8")
    (dates / "eval_default.json").write_text(json.dumps(
        {"http://dated.test/a": {"file": "d1.html", "date": "2019-03-04"}}), encoding="utf-8")
    (dates / "eval_mediacloud_2020.json").write_text("{}", encoding="utf-8")
    out = tmp_path / "out.json"
    assert extraction.main(["--corpus", str(corpus), "--dates", str(dates.parent),
                            "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert set(figures["bodies"]) == {"syndicator", "old guess", "trafilatura"}
    assert figures["bodies"]["syndicator"]["f1"] > 0.8
    assert figures["bodies"]["old guess"]["f1"] == 0.0      # no body found before
    assert figures["dates"]["syndicator"]["right"] == 1
    assert extraction.tp_fp_fn("one two three four five", "one two three four five") \
        == (1.0, 0.0, 0.0)
