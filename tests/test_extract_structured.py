"""JSON-LD / OpenGraph / meta fallbacks, alone and through extract_article(page, None)."""

from __future__ import annotations

import json

from syndicator.config import ArticleSelectors
from syndicator.extract import extract_article, extract_structured, parse_html
from syndicator.model import Page

URL = "https://blog.example/2024/05/06/hello-world/"


def make_page(html: str, url: str = URL) -> Page:
    return Page(url=url, final_url=url, status=200, text=html, encoding="utf-8",
                content_type="text/html")


def ld(data: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


YOAST_GRAPH = {
    "@context": "https://schema.org",
    "@graph": [
        {"@type": "WebPage", "@id": URL, "url": URL, "name": "Hello world - Blog",
         "datePublished": "2024-05-06T09:00:00+00:00", "description": "Page description",
         "breadcrumb": {"@id": URL + "#breadcrumb"}, "inLanguage": "en-US"},
        {"@type": "Article", "@id": URL + "#article", "isPartOf": {"@id": URL},
         "author": {"name": "Jane Doe", "@id": "https://blog.example/#/schema/person/1"},
         "headline": "Hello world!", "datePublished": "2024-05-06T09:00:00+00:00",
         "dateModified": "2024-05-08T12:30:00+00:00",
         "image": {"@id": URL + "#primaryimage"},
         "thumbnailUrl": "https://blog.example/wp-content/uploads/thumb.jpg",
         "keywords": ["Python", "Feeds"], "articleSection": ["News"],
         "inLanguage": "en-US"},
        {"@type": "ImageObject", "@id": URL + "#primaryimage",
         "url": "https://blog.example/wp-content/uploads/hello.jpg", "width": 1200},
        {"@type": "BreadcrumbList", "@id": URL + "#breadcrumb", "itemListElement": [
            {"@type": "ListItem", "position": 1, "name": "Home"}]},
        {"@type": "Person", "@id": "https://blog.example/#/schema/person/1",
         "name": "Jane Doe"},
        {"@type": "Organization", "@id": "https://blog.example/#organization",
         "name": "Blog Inc"},
    ],
}


def test_yoast_graph_picks_the_article_node_and_resolves_references() -> None:
    html = f"<html><head>{ld(YOAST_GRAPH)}<title>Hello world - Blog</title></head></html>"
    article = extract_structured(parse_html(html), URL)
    assert article.url == URL
    assert article.title == "Hello world!"
    assert article.dates[0] == "2024-05-06T09:00:00+00:00"
    assert article.updated == "2024-05-08T12:30:00+00:00"
    assert article.author == "Jane Doe"
    assert article.image == "https://blog.example/wp-content/uploads/hello.jpg"
    assert article.categories == ("News", "Python", "Feeds")
    assert article.language == "en"


def test_json_ld_list_with_several_authors_and_image_list() -> None:
    data = [
        {"@context": "https://schema.org", "@type": "Organization", "name": "Paper"},
        {"@context": "https://schema.org", "@type": ["ReportageNewsArticle"],
         "name": "Name is second choice", "headline": "Report from the field",
         "datePublished": "2024-03-01T08:15:00+01:00",
         "description": "What happened.",
         "articleBody": "First paragraph.\n\nSecond <paragraph> & more.",
         "image": [{"@type": "ImageObject", "contentUrl": "/img/a.jpg"}, "/img/b.jpg"],
         "author": [{"@type": "Person", "name": "A. One"}, {"@type": "Person", "name": "B. Two"},
                    "A. One"],
         "keywords": "war, peace , war"},
    ]
    article = extract_structured(parse_html(f"<head>{ld(data)}</head>"), URL)
    assert article.title == "Report from the field"
    assert article.dates == ("2024-03-01T08:15:00+01:00",)
    assert article.summary == "What happened."
    assert article.content == "<p>First paragraph.</p>\n<p>Second &lt;paragraph&gt; &amp; more.</p>"
    assert article.image == "https://blog.example/img/a.jpg"
    assert article.author == "A. One, B. Two"
    assert article.categories == ("war", "peace")


def test_invalid_json_ld_is_ignored_and_opengraph_used() -> None:
    html = """<html><head>
      <script type="application/ld+json">{"@type": "NewsArticle", "headline": </script>
      <script type="application/ld+json">not json at all</script>
      <script type="application/ld+json"></script>
      <meta property="og:title" content="OG title">
      </head></html>"""
    article = extract_structured(parse_html(html), URL)
    assert article.title == "OG title"


def test_repairable_json_ld_is_repaired() -> None:
    escaped = ('<script type="application/ld+json">{&quot;@type&quot;: &quot;BlogPosting&quot;, '
               '&quot;headline&quot;: &quot;Escaped&quot;}</script>')
    trailing = ('<script type="application/ld+json">//<![CDATA[\n'
                '{"@type": "schema:Article", "headline": "Trailing\tcomma",'
                ' "keywords": ["a", "b",],}\n//]]></script>')
    assert extract_structured(parse_html(escaped), URL).title == "Escaped"
    # A CDATA wrapper with // comments is too broken to repair: ignored, not fatal.
    assert extract_structured(parse_html(trailing), URL).title is None
    fixed = trailing.replace("//<![CDATA[", "<![CDATA[").replace("//]]>", "]]>")
    article = extract_structured(parse_html(fixed), URL)
    assert article.title == "Trailing comma"
    assert article.categories == ("a", "b")


def test_opengraph_only_page() -> None:
    html = """<html lang=""><head>
      <title>Site | Title tag</title>
      <meta property="og:title" content="OG title">
      <meta property="og:description" content="OG description">
      <meta property="og:image" content="/og.png">
      <meta property="og:url" content="https://blog.example/canonical/">
      <meta property="og:locale" content="de_DE">
      <meta property="article:published_time" content="2024-05-06T10:00:00+02:00">
      <meta property="article:modified_time" content="2024-05-06T11:00:00+02:00">
      <meta property="article:author" content="https://facebook.com/someone">
      <meta name="author" content="Real Name">
      <meta property="article:section" content="Tech">
      <meta property="article:tag" content="Python"><meta property="article:tag" content="python">
      <meta name="description" content="Plain description">
    </head><body><aside><time datetime="2020-01-01">old</time></aside></body></html>"""
    article = extract_structured(parse_html(html), URL)
    assert article.title == "OG title"
    assert article.summary == "OG description"
    assert article.image == "https://blog.example/og.png"
    assert article.canonical == "https://blog.example/canonical/"
    assert article.dates == ("2024-05-06T10:00:00+02:00",)
    assert article.updated == "2024-05-06T11:00:00+02:00"
    assert article.author == "Real Name"
    assert article.categories == ("Tech", "Python")
    assert article.language == "de"


def test_plain_meta_fallbacks() -> None:
    html = """<html lang="EN-us"><head><title> Plain   title </title>
      <link rel="canonical" href="/c/1"><meta name="description" content="Meta desc">
      </head><body><nav><time datetime="2019-01-01">nav</time></nav>
      <article><p>x</p><time datetime="2024-02-03">3 Feb</time></article></body></html>"""
    article = extract_structured(parse_html(html), URL)
    assert article.title == "Plain title"
    assert article.summary == "Meta desc"
    assert article.canonical == "https://blog.example/c/1"
    assert article.dates == ("2024-02-03",)
    assert article.language == "en"
    assert article.author is None and article.image is None and article.content is None


def test_extract_article_without_selectors_on_a_json_ld_only_page() -> None:
    html = f"""<html><head>{ld(YOAST_GRAPH)}</head><body>
      <div class="entry-content"><p>The body of the post.</p></div></body></html>"""
    article = extract_article(make_page(html), None)
    assert article.title == "Hello world!"
    assert article.dates == ("2024-05-06T09:00:00+00:00",)
    assert "T09:00:00" in article.dates[0]  # the time of day is kept
    assert article.image == "https://blog.example/wp-content/uploads/hello.jpg"
    assert article.content == "<p>The body of the post.</p>"
    # The Article node has no description; OpenGraph / meta would be next, none here.
    assert article.summary is None


def test_extract_article_without_selectors_on_an_og_only_page() -> None:
    html = """<html><head>
      <meta property="og:title" content="Only OG">
      <meta property="og:description" content="Summary from OG">
      <meta property="og:image" content="https://cdn.example/i.jpg">
      <meta property="article:published_time" content="2024-05-06T10:00:00Z">
    </head><body><main><p>Text.</p></main></body></html>"""
    article = extract_article(make_page(html), None)
    assert article.title == "Only OG"
    assert article.summary == "Summary from OG"
    assert article.image == "https://cdn.example/i.jpg"
    assert article.dates == ("2024-05-06T10:00:00Z",)
    assert article.content == "<p>Text.</p>"


def test_selector_results_win_and_empty_selectors_fall_back() -> None:
    html = f"""<html><head>{ld(YOAST_GRAPH)}</head><body>
      <h1>Visible title</h1><span class="when">6 May 2024</span>
      <div class="text"><p>Body</p></div></body></html>"""
    selectors = ArticleSelectors(title="h1", date=".when", content=".text",
                                 author=".missing-author", image=".missing@src")
    article = extract_article(make_page(html), selectors)
    assert article.title == "Visible title"
    assert article.dates == ("6 May 2024", "2024-05-06T09:00:00+00:00")
    assert article.author == "Jane Doe"
    assert article.image == "https://blog.example/wp-content/uploads/hello.jpg"
    assert article.content == "<p>Body</p>"
