"""Listing and article pages → Articles, by the operator's CSS selectors.

Selectors win; a field without a selector, or whose selector found nothing, falls back to the
page's structured metadata (see structured.py), and the article body to a readability-style
guess. Values stay raw here (dates as written); normalise.py interprets them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from syndicator.config import ArticleSelectors, ListSelectors
from syndicator.extract.entries import listing_cards
from syndicator.extract.html import (
    Node,
    absolute_url,
    ancestors,
    attr,
    base_url,
    compile_selector,
    drop_tracking_pixels,
    element_attr,
    element_image,
    element_text,
    find_all,
    inner_html,
    is_inside,
    node_key,
    outer_html,
    page_markup,
    parse_html,
    remove,
    remove_selectors,
    remove_where,
    same,
    select_all,
    select_one,
    select_value,
    select_values,
    set_attr,
    tag_name,
)
from syndicator.extract.structured import extract_structured, page_language
from syndicator.extract.translations import switcher_links, translations_of
from syndicator.extract.values import unique
from syndicator.model import BY_SELECTOR, Article, Listing, Page

__all__ = ["extract_article", "extract_article_markup", "extract_listing", "guess_content",
           "guessed_content"]

# Elements that are never article text, in the content and in the readability guess.
_NOT_CONTENT = ("script", "style", "noscript", "template")
_BOILERPLATE_TAGS = frozenset({"nav", "aside", "footer", "header", "form"})
_BOILERPLATE_NAMES = re.compile(
    r"related|last[-_]?news|latest[-_]?news|share|sharing|social|comments?\b|comment[-_]",
    re.IGNORECASE)
_CONTENT_CANDIDATES = ("[itemprop=articleBody]", "article .entry-content", ".entry-content",
                       ".post-content", "article", "main")
_URL_ATTRS = ("href", "src", "poster")
# The publisher's own marks on the article body: schema.org microdata, WordPress's classes.
_MARKED_BODY = _CONTENT_CANDIDATES[:4]
# trafilatura falls back to a dump of the page's text below this many characters of main
# text (its MIN_EXTRACTED_SIZE).
_SHORT_MAIN_TEXT = 250
# Markup that shows trafilatura kept a body's structure, not only its paragraphs.
_STRUCTURE = "h2, h3, h4, h5, h6, ul, ol, img, figure, table, blockquote, pre"
_MAIN_TEXT = "main text (trafilatura)"
# The container around its paragraphs replaces them when its text is at most this much longer.
_CONTAINER_SLACK = 1.3


# --- listing pages ---------------------------------------------------------------------------

def extract_listing(page: Page, selectors: ListSelectors) -> Listing:
    """One Article per `item` element that has a link; plus the next page's URL, if any."""
    soup = parse_html(page_markup(page))
    base = base_url(soup, page.final_url)
    language = page_language(soup)
    articles: list[Article] = []
    unlinked = 0
    for item in select_all(soup, compile_selector(selectors.item).css):
        article = _card(item, selectors, base, language)
        if article is not None:
            articles.append(article)
        else:
            unlinked += 1
    # Cards that link to one page's #anchors are told apart as a feed's entries are; a card
    # that links to the listing page itself without an anchor of its own has no story link.
    stories = listing_cards(articles, page.url, page.final_url)
    return Listing(articles=tuple(stories), next_url=_next_url(soup, selectors, base, page),
                   unlinked=unlinked + len(articles) - len(stories))


def _card(item: Node, selectors: ListSelectors, base: str,
          language: str | None) -> Article | None:
    link_element, href = _find_link(item, selectors.link)
    url = absolute_url(base, href, anchors=True)
    if url is None:
        return None  # a card without a usable link is not an article (teaser, ad, ...)
    origins = {"link": BY_SELECTOR if selectors.link else
               "the card" if same(link_element, item) else "first link in the card"}
    title = select_value(item, selectors.title) if selectors.title else None
    if title:
        origins["title"] = BY_SELECTOR
    # The link's text is a title only when the link is an <a>, not e.g. the whole card.
    elif link_element is not None and tag_name(link_element) == "a":
        title = element_text(link_element)
        origins["title"] = "link text"
        if not title:
            title = element_attr(link_element, "title")
            origins["title"] = "link title attribute"
        if not title:
            del origins["title"]
    dates = _date_candidates(item, selectors.date)
    summary = select_value(item, selectors.summary) if selectors.summary else None
    image = absolute_url(base, _image(item, selectors.image)) if selectors.image else None
    author = _joined(select_values(item, selectors.author)) if selectors.author else None
    categories = unique(select_values(item, selectors.category)) if selectors.category else ()
    for field, value in (("date", dates), ("summary", summary), ("image", image),
                         ("author", author), ("category", categories)):
        if value:
            origins[field] = BY_SELECTOR
    return Article(url=url, title=title or None, dates=dates, summary=summary, image=image,
                   author=author, categories=categories, language=language, origins=origins)


def _find_link(node: Node, selector: str | None) -> tuple[Node | None, str | None]:
    """The link element and its href: by selector (`css` → its href, or its first a[href];
    `css@attr` → that attribute), else the node itself if it is an <a>, else its first a[href]."""
    if selector:
        css, attr = compile_selector(selector)
        for element in select_all(node, css):
            if attr:
                value = element_attr(element, attr)
            else:
                anchor = _anchor(element)
                element = anchor if anchor is not None else element
                value = element_attr(element, "href")
            if value:
                return element, value
        return None, None
    anchor = _anchor(node)
    return (anchor, element_attr(anchor, "href")) if anchor is not None else (None, None)


def _anchor(node: Node) -> Node | None:
    if tag_name(node) == "a" and attr(node, "href"):
        return node
    return select_one(node, "a[href]")


def _next_url(soup: Node, selectors: ListSelectors, base: str,
              page: Page) -> str | None:
    if not selectors.next:
        return None
    _element, href = _find_link(soup, selectors.next)
    url = absolute_url(base, href)
    if url is None:
        return None
    here = {_no_fragment(page.url), _no_fragment(page.final_url)}
    return None if _no_fragment(url) in here else url


def _no_fragment(url: str) -> str:
    return url.split("#", 1)[0]


_MACHINE_DATED = frozenset({"time", "abbr"})


def _date_candidates(node: Node, selector: str | None) -> tuple[str, ...]:
    """The visible date text first, then a machine-readable value found on the same element
    (`<time datetime>`, `datetime=`/`content=` attributes, a <time datetime> inside)."""
    if not selector:
        return ()
    css, attr = compile_selector(selector)
    for element in select_all(node, css):
        if attr:
            value = element_attr(element, attr)
            if value:
                return (value,)
            continue
        attrs = [element_attr(element, "datetime"), element_attr(element, "content")]
        if tag_name(element) in _MACHINE_DATED or element_attr(element, "itemprop"):
            # <time>, <abbr title> and microdata carry the date itself in an attribute;
            # their text is often only part of it ("2:33 PM").
            candidates = [*attrs, element_attr(element, "title"), element_text(element)]
        else:
            candidates = [element_text(element), *attrs]
        inner = select_one(element, "time[datetime]")
        if inner is not None:
            candidates.append(element_attr(inner, "datetime"))
        found = unique(c for c in candidates if c)
        if found:
            return found
    return ()


def _image(node: Node, selector: str) -> str | None:
    css, attr = compile_selector(selector)
    for element in select_all(node, css):
        value = element_attr(element, attr) if attr else element_image(element)
        if value:
            return value
    return None


# --- article pages ---------------------------------------------------------------------------

def extract_article(page: Page, selectors: ArticleSelectors | None) -> Article:
    """An article page → Article: selectors first, structured metadata for the rest."""
    return extract_article_markup(page_markup(page), page.final_url, selectors)


def extract_article_markup(markup: str | bytes, final_url: str,
                           selectors: ArticleSelectors | None) -> Article:
    """extract_article of a page given as what to parse (text, or UTF-8 bytes) and the URL
    it came from (a page worker reads bodies it never decodes)."""
    sel = selectors or ArticleSelectors()
    soup = parse_html(markup)
    # `remove` goes first so that nothing (not even the fallbacks) sees those blocks.
    remove_selectors(soup, sel.remove)
    base = base_url(soup, final_url)
    meta = extract_structured(soup, final_url)
    # Before the body is cut out and cleaned, which may take the switcher with it.
    translations = translations_of(meta.translations or (),
                                   switcher_links(soup, sel.translations, base))

    title = select_value(soup, sel.title) if sel.title else None
    visible_dates = _date_candidates(soup, sel.date)
    updated = select_value(soup, sel.updated) if sel.updated else None
    summary = select_value(soup, sel.summary) if sel.summary else None
    image = absolute_url(base, _image(soup, sel.image)) if sel.image else None
    author = _joined(select_values(soup, sel.author)) if sel.author else None
    categories = unique(select_values(soup, sel.category)) if sel.category else ()
    content = _content(soup, sel.content, base)
    body, body_origin = (content, BY_SELECTOR) if content else _body(soup, base, meta.content)

    origins = {"content": body_origin} if body else {}
    for field, own, fallback in (
            ("title", title, meta.title), ("date", visible_dates, meta.dates),
            ("updated", updated, meta.updated), ("summary", summary, meta.summary),
            ("image", image, meta.image), ("author", author, meta.author),
            ("category", categories, meta.categories), ("canonical", None, meta.canonical)):
        if own:
            origins[field] = BY_SELECTOR
        elif fallback and field in meta.origins:
            origins[field] = meta.origins[field]
    return Article(
        url=final_url,
        title=title or meta.title,
        dates=unique([*visible_dates, *meta.dates]),
        updated=updated or meta.updated,
        summary=summary or meta.summary,
        content=body,
        image=image or meta.image,
        author=author or meta.author,
        categories=categories or meta.categories,
        canonical=meta.canonical,
        language=meta.language,
        translations=translations,
        origins=origins,
    )


def _content(soup: Node, selector: str | None, base: str) -> str | None:
    """The HTML of the selected content: inner HTML of one match, or the matches joined."""
    if not selector:
        return None
    css, _attr = compile_selector(selector)
    matches = select_all(soup, css)
    # Several matches (e.g. `.story p`): keep the outermost ones, in document order.
    ids = {node_key(m) for m in matches}
    outer = [m for m in matches if not any(node_key(p) in ids for p in ancestors(m))]
    if not outer:
        return None
    for element in outer:
        _clean(element, base)
    html = inner_html(outer[0]) if len(outer) == 1 else "\n".join(outer_html(m) for m in outer)
    return html or None


def _body(soup: Node, base: str, structured: str | None) -> tuple[str | None, str]:
    """The body of a page whose source gives no `content` selector (or whose selector found
    nothing), and where it came from. The order was chosen on the article-extraction
    benchmark (bench/extraction.py): a container the publisher marked as the body
    (microdata, WordPress's classes), then trafilatura's main text, then the JSON-LD
    articleBody (plain text, and often cut at ~500 characters), then the guess among the
    usual containers. A main text shorter than trafilatura's own minimum is its rescue (the
    page's text in one paragraph, say): a container found by the guess is better then."""
    marked = guess_content(soup, _MARKED_BODY)
    if marked is not None:
        return _cleaned_body(marked, base), "the publisher's body container"
    main, length = _main_text(soup, base)
    if main is not None and length >= _SHORT_MAIN_TEXT:
        return main, _MAIN_TEXT
    if structured:
        return structured, "JSON-LD articleBody"
    guessed = guessed_content(soup, base)
    return (guessed, "a guessed body container") if guessed else (main, _MAIN_TEXT)


def _main_text(soup: Node, base: str) -> tuple[str | None, int]:
    """trafilatura's main text of the page as it is now (after `remove`), URLs resolved
    against the page's <base>; and the length of its text."""
    from syndicator.extract.maintext import main_text_html  # trafilatura: only when needed

    extracted = main_text_html(outer_html(soup))
    body = select_one(parse_html(extracted), "body") if extracted else None
    if body is None:
        return None, 0
    length = len(element_text(body))
    if select_one(body, _STRUCTURE) is None:
        container = _container_of(soup, body, length)
        if container is not None:
            return _cleaned_body(container, base), length
    _clean(body, base)
    return inner_html(body) or None, length


def _container_of(soup: Node, extracted: Node, length: int) -> Node | None:
    """The page's element around trafilatura's paragraphs when it holds little else.

    In a container with no telling class or id, trafilatura keeps the paragraphs and drops
    the headings, lists and figures between them; the container itself, cleaned as a
    guessed body is, has them all."""
    texts = [t for t in (element_text(p) for p in find_all(extracted, "p")) if len(t) > 20]
    if len(texts) < 2:
        return None
    paragraphs = find_all(soup, "p")
    first = next((p for p in paragraphs if element_text(p) == texts[0]), None)
    last = next((p for p in reversed(paragraphs) if element_text(p) == texts[-1]), None)
    if first is None or last is None:
        return None
    around_first = {node_key(a) for a in ancestors(first)}
    container = next((a for a in ancestors(last) if node_key(a) in around_first), None)
    if container is None or tag_name(container) in ("html", "body"):
        return None
    return container if len(element_text(container)) <= _CONTAINER_SLACK * length else None


def guessed_content(soup: Node, base: str) -> str | None:
    """The body as guessed among the usual containers, cleaned (the fallback of last resort)."""
    element = guess_content(soup)
    return None if element is None else _cleaned_body(element, base)


def _cleaned_body(element: Node, base: str) -> str | None:
    """The element's inner HTML without share/related/comment blocks and non-content tags."""
    for block in _boilerplate_blocks(element):
        if is_inside(block, element):      # not gone with an enclosing block already
            remove(block)
    _clean(element, base)
    return inner_html(element) or None


def guess_content(soup: Node, candidates: tuple[str, ...] = _CONTENT_CANDIDATES) -> Node | None:
    """The likeliest article body: among the usual containers (or `candidates`), the one
    with the most paragraph text outside navigation, asides, forms and share/related/comment
    blocks."""
    best: Node | None = None
    best_score = 0
    seen: set[int] = set()
    for css in candidates:
        for candidate in select_all(soup, css):
            if node_key(candidate) in seen:
                continue
            seen.add(node_key(candidate))
            score = _paragraph_score(candidate)
            # A wider container (e.g. <main> around the <article>) wins only with clearly more
            # text: what it adds is more often promos than story.
            needed = best_score * 1.25 if best is not None and is_inside(best, candidate) \
                else best_score
            if score > needed:
                best, best_score = candidate, score
    return best


def _paragraph_score(candidate: Node) -> int:
    score = 0
    for paragraph in find_all(candidate, "p"):
        if not _in_boilerplate(paragraph, candidate):
            score += len(element_text(paragraph))
    return score


def _in_boilerplate(element: Node, stop: Node) -> bool:
    for parent in ancestors(element):
        if same(parent, stop):
            return False
        if _is_boilerplate(parent):
            return True
    return False


def _is_boilerplate(element: Node) -> bool:
    if tag_name(element) in _BOILERPLATE_TAGS:
        return True
    classes = attr(element, "class") or ""
    ident = attr(element, "id") or ""
    if not classes and not ident:
        return False
    return bool(_BOILERPLATE_NAMES.search(f"{classes} {ident}"))


def _boilerplate_blocks(element: Node) -> list[Node]:
    return [d for d in find_all(element) if _is_boilerplate(d)]


def _clean(element: Node, base: str) -> None:
    """Strip non-content elements and tracking pixels; make URLs absolute (against the page's
    <base>, which the sanitiser later cannot know) and promote lazy-loaded image sources."""
    remove_where(element, lambda _junk: True, *_NOT_CONTENT)
    drop_tracking_pixels(element)
    for img in find_all(element, "img"):
        real = element_image(img)
        if real and real != attr(img, "src"):
            set_attr(img, "src", real)
    for tag in find_all(element):
        for name in _URL_ATTRS:
            value = attr(tag, name)
            if value and value.strip() and not value.startswith("#"):
                resolved = absolute_url(base, value)
                if resolved:
                    set_attr(tag, name, resolved)


# --- helpers ---------------------------------------------------------------------------------

def _joined(values: Iterable[str]) -> str | None:
    return ", ".join(unique(values)) or None
