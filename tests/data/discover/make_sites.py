# ruff: noqa: E501
"""Write the `syndicator discover` fixture sites: `python tests/data/discover/make_sites.py`.

Stdlib only; the generated files are committed. Each site copies the markup of a kind of
site found in the wild (not markup made for discover), and writes `expected.json`: the
cards of its first listing page, in order, as {path, title, date}.

  wordpress/  a WordPress blog on the Twenty Twenty-One theme (`<article class="post-N post
              type-post …">`, `h2.entry-title`, `time.entry-date`, `nav.pagination a.next`,
              menus, recent-posts and archive widgets); feed links switched off
  table/      an old municipal site laid out in tables: a menu table, the news in
              `<tr><td>03.06.2021</td><td><a>…</a></td></tr>` without classes; Russian
  ullist/     a Belarusian site: `<ul><li><a>…</a> <i>3 чэрвеня 2021</i></li>`, a menu list
              and a "popular" list in an aside, a text-only "next page" link
  noclass/    cards without any class or id: `<div><div><h3><a>…</a></h3><p>date</p><p>…`
  jsonld/     a Drupal views listing without dates; each article page has a JSON-LD
              NewsArticle (`datePublished`) and OpenGraph, and no visible date
  feedsite/   a Hugo blog (PaperMod theme) that advertises its RSS feed `/index.xml`
  linksonly/  a press-release list of bare links; each release shows "Released: 28 June 2021"
              in its text and has no metadata (no JSON-LD, OpenGraph or <time>)
"""

from __future__ import annotations

import json
import shutil
import struct
import zlib
from collections.abc import Callable
from datetime import date, timedelta
from html import escape
from pathlib import Path

HERE = Path(__file__).resolve().parent
SITES = ("wordpress", "table", "ullist", "noclass", "jsonld", "feedsite", "linksonly")

EN_TITLES = [
    "City council approves the new cycling network plan",
    "Library opens a reading room for young readers",
    "Storm damage: what residents should know about repairs",
    "Local bakery wins a national award for its rye bread",
    "Schools prepare for the new term with extra classes",
    "The river festival returns after a two-year break",
    "Public transport timetable changes from Monday",
    "Volunteers plant 300 trees along the northern park",
    "Museum shows photographs of the old harbour",
    "Hospital extends visiting hours on weekends",
    "Market square repairs finish ahead of schedule",
    "Youth orchestra plays its first concert abroad",
    "Water supply works on Mill Street next week",
    "New walking routes mapped in the forest reserve",
]
RU_TITLES = [
    "Администрация района подвела итоги первого полугодия",
    "В районной библиотеке открылась выставка краеведов",
    "Ремонт моста через Свислочь завершат в июле",
    "Школьники района победили на областной олимпиаде",
    "Изменилось расписание пригородных автобусов",
    "В парке высадили двести молодых лип",
    "Праздник города пройдёт на центральной площади",
    "Поликлиника переходит на новый график работы",
    "Аграрии района начали заготовку кормов",
    "Ветераны встретились с учащимися лицея",
    "Открыт приём заявок на конкурс молодых предпринимателей",
    "На улице Ленина обновят тротуары",
    "Спортсмены района привезли три медали",
    "В музее открылась экспозиция старинных икон",
]
BE_TITLES = [
    "У Мінску прайшоў фестываль беларускай кнігі",
    "Студэнты запусцілі праект па захаванні народных песень",
    "Новы маршрут аўтобуса звяжа тры мікрараёны",
    "У Гродне адкрылася выстава старых паштовак",
    "Настаўнікі атрымалі гранты на школьныя праекты",
    "У парку з'явіцца новая дзіцячая пляцоўка",
    "Бібліятэка праводзіць вечар паэзіі ў пятніцу",
    "Валанцёры прыбралі бераг возера",
    "Музей запрашае на экскурсію па старым горадзе",
    "Фотаконкурс прысвечаны прыродзе Палесся",
    "Аматарскі тэатр паказаў новую пастаноўку",
    "Школа мастацтваў святкуе юбілей",
]
RU_MONTHS = ["января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
             "сентября", "октября", "ноября", "декабря"]
BE_MONTHS = ["студзеня", "лютага", "сакавіка", "красавіка", "мая", "чэрвеня", "ліпеня",
             "жніўня", "верасня", "кастрычніка", "лістапада", "снежня"]
SUMMARY = ("The full story tells who was there, what was decided and what it means for the "
           "people of the district in the months to come.")
RU_SUMMARY = "Подробности читайте в материале: что решили, кто участвовал и что изменится."


def slug(text: str, index: int) -> str:
    ascii_part = "".join(c if c.isascii() and c.isalnum() else "-" for c in text.lower())
    words = [w for w in ascii_part.split("-") if w]
    return "-".join(words[:6]) or f"story-{index}"


def dates(count: int, start: date = date(2021, 6, 28)) -> list[date]:
    return [start - timedelta(days=3 * i + (i % 2)) for i in range(count)]


def stories(titles: list[str], path: Callable[[str, int, date], str]) -> list[tuple[str, str, date]]:
    """(path, title, date) per title, newest first."""
    days = dates(len(titles))
    return [(path(t, i, d), t, d) for i, (t, d) in enumerate(zip(titles, days, strict=True))]


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def png(path: Path) -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    raw = zlib.compress(b"\x00" + b"\x80\x90\xa0" * 4, 9)
    header = struct.pack(">IIBBBBB", 4, 1, 8, 2, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw)
                     + chunk(b"IEND", b""))


def expected(site: str, rows: list[tuple[str, str, date]]) -> None:
    write(HERE / site / "expected.json", json.dumps(
        [{"path": p, "title": t, "date": d.isoformat()} for p, t, d in rows],
        ensure_ascii=False, indent=1) + "\n")


def simple_article(title: str, body: str, *, lang: str, head: str = "", extra: str = "") -> str:
    return (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
            f"<title>{escape(title)}</title>{head}</head>\n<body>\n<main><article>"
            f"<h1>{escape(title)}</h1>{extra}\n<p>{escape(body)}</p>\n<p>{escape(body)}</p>"
            "</article></main>\n</body></html>\n")


# --- WordPress, Twenty Twenty-One ------------------------------------------------------------

def wordpress() -> None:
    root = HERE / "wordpress"
    posts = [(h, t, d, 400 + 7 * i) for i, (h, t, d) in enumerate(
        stories(EN_TITLES, lambda t, i, d: f"/{d:%Y/%m/%d}/{slug(t, i)}/"))]
    png(root / "wp-content/uploads/2021/06/thumb.png")
    menu = "".join(
        f'<li id="menu-item-{10 + i}" class="menu-item menu-item-type-post_type menu-item-object-page menu-item-{10 + i}"><a href="{href}">{name}</a></li>'
        for i, (href, name) in enumerate([("/", "Home"), ("/about/", "About"), ("/contact/", "Contact"), ("/events/", "Events")]))

    def article(href: str, title: str, day: date, post_id: int, index: int) -> str:
        thumb = index % 4 != 3
        classes = (f"post-{post_id} post type-post status-publish format-standard "
                   f"{'has-post-thumbnail ' if thumb else ''}hentry category-news entry")
        figure = (f'<figure class="post-thumbnail"><a class="post-thumbnail-inner alignwide" href="{href}" aria-hidden="true" tabindex="-1">'
                  f'<img width="1568" height="882" src="/wp-content/uploads/2021/06/thumb.png" class="attachment-post-thumbnail size-post-thumbnail wp-post-image" alt="" loading="lazy" /></a></figure>'
                  if thumb else "")
        return f"""
<article id="post-{post_id}" class="{classes}">
  <header class="entry-header">
    <h2 class="entry-title default-max-width"><a href="{href}">{escape(title)}</a></h2>{figure}
  </header><!-- .entry-header -->
  <div class="entry-content">
    <p>{SUMMARY} <a href="{href}#more-{post_id}" class="more-link">Continue reading<span class="screen-reader-text">{escape(title)}</span></a></p>
  </div><!-- .entry-content -->
  <footer class="entry-footer default-max-width">
    <span class="posted-on">Published <time class="entry-date published updated" datetime="{day.isoformat()}T10:15:00+00:00">{day:%B} {day.day}, {day.year}</time></span>
    <div class="post-taxonomies"><span class="cat-links">Categorized as <a href="/category/news/" rel="category tag">News</a></span></div>
  </footer><!-- .entry-footer -->
</article><!-- #post-{post_id} -->"""

    def page(chunk: list[tuple[str, str, date, int]], offset: int, nav: str) -> str:
        recent = "".join(f'<li><a href="{h}">{escape(t)}</a></li>' for h, t, _d, _p in posts[:5])
        body = "".join(article(h, t, d, p, offset + i) for i, (h, t, d, p) in enumerate(chunk))
        return f"""<!doctype html>
<html lang="en-US">
<head>
<meta charset="UTF-8" />
<meta name="viewport" content="width=device-width, initial-scale=1" />
<title>Northfield Gazette &#8211; News from the valley</title>
<meta name='robots' content='max-image-preview:large' />
<link rel='stylesheet' id='twenty-twenty-one-style-css' href='/wp-content/themes/twentytwentyone/style.css?ver=1.3' media='all' />
<link rel="https://api.w.org/" href="/wp-json/" />
</head>
<body class="home blog wp-embed-responsive is-light-theme no-js hfeed has-main-navigation">
<div id="page" class="site">
  <a class="skip-link screen-reader-text" href="#content">Skip to content</a>
  <header id="masthead" class="site-header has-title-and-tagline has-menu" role="banner">
    <div class="site-branding"><h1 class="site-title">Northfield Gazette</h1><p class="site-description">News from the valley</p></div>
    <nav id="site-navigation" class="primary-navigation" role="navigation" aria-label="Primary menu">
      <div class="primary-menu-container"><ul id="primary-menu-list" class="menu-wrapper">{menu}</ul></div>
    </nav>
  </header>
  <div id="content" class="site-content">
    <div id="primary" class="content-area">
      <main id="main" class="site-main">
{body}
{nav}
      </main><!-- #main -->
    </div><!-- #primary -->
  </div><!-- #content -->
  <aside class="widget-area">
    <section id="search-2" class="widget widget_search"><form role="search" method="get" class="search-form" action="/"><input type="search" name="s" /></form></section>
    <section id="recent-posts-2" class="widget widget_recent_entries"><h2 class="widget-title">Recent Posts</h2><nav aria-label="Recent Posts"><ul>{recent}</ul></nav></section>
    <section id="archives-2" class="widget widget_archive"><h2 class="widget-title">Archives</h2><nav aria-label="Archives"><ul><li><a href="/2021/06/">June 2021</a></li><li><a href="/2021/05/">May 2021</a></li></ul></nav></section>
  </aside><!-- .widget-area -->
  <footer id="colophon" class="site-footer" role="contentinfo">
    <div class="site-info"><div class="site-name">Northfield Gazette</div><div class="powered-by">Proudly powered by <a href="https://wordpress.org/">WordPress</a>.</div></div>
  </footer>
</div><!-- #page -->
</body>
</html>
"""
    first, second = posts[:10], posts[10:]
    nav1 = """<nav class="navigation pagination" aria-label="Posts">
  <h2 class="screen-reader-text">Posts navigation</h2>
  <div class="nav-links"><span aria-current="page" class="page-numbers current">1</span>
<a class="page-numbers" href="/page/2/">2</a>
<a class="next page-numbers" href="/page/2/"><span class="nav-next-text">Older <span class="nav-short">posts</span></span> <svg class="svg-icon" width="24" height="24" aria-hidden="true" role="img" focusable="false" viewBox="0 0 24 24"><path d="m4 13v-2h12l-4-4 1-2 7 7-7 7-1-2 4-4z"></path></svg></a></div>
</nav>"""
    nav2 = """<nav class="navigation pagination" aria-label="Posts">
  <div class="nav-links"><a class="prev page-numbers" href="/">Newer posts</a>
<a class="page-numbers" href="/">1</a>
<span aria-current="page" class="page-numbers current">2</span></div>
</nav>"""
    write(root / "index.html", page(first, 0, nav1))
    write(root / "page/2/index.html", page(second, 10, nav2))
    for href, title, day, post_id in posts:
        write(root / href.strip("/") / "index.html", f"""<!doctype html>
<html lang="en-US"><head><meta charset="UTF-8" /><title>{escape(title)} &#8211; Northfield Gazette</title></head>
<body class="post-template-default single single-post postid-{post_id}">
<main id="main" class="site-main">
<article id="post-{post_id}" class="post-{post_id} post type-post status-publish hentry entry">
<header class="entry-header alignwide"><h1 class="entry-title">{escape(title)}</h1></header>
<div class="entry-content"><p>{SUMMARY}</p><p>{SUMMARY}</p></div>
<footer class="entry-footer default-max-width"><span class="posted-on">Published <time class="entry-date published updated" datetime="{day.isoformat()}T10:15:00+00:00">{day:%B} {day.day}, {day.year}</time></span></footer>
</article></main></body></html>
""")
    for extra in ("about", "contact", "events", "category/news", "2021/06", "2021/05"):
        write(root / extra / "index.html", simple_article(extra.title(), SUMMARY, lang="en-US"))
    expected("wordpress", [(h, t, d) for h, t, d, _p in first])


# --- an old table layout (Russian) -----------------------------------------------------------

def table() -> None:
    root = HERE / "table"
    items = stories(RU_TITLES, lambda _t, i, _d: f"/news/{1043 - i}.html")
    menu = "".join(f'<tr><td class="menu"><a href="{h}">{n}</a></td></tr>' for h, n in [
        ("/", "Главная"), ("/about.html", "О районе"), ("/news/", "Новости"),
        ("/docs.html", "Документы"), ("/contacts.html", "Контакты")])
    rows = "".join(f'<tr>\n<td width="90" valign="top">{d:%d.%m.%Y}</td>\n<td><a href="{h}">{escape(t)}</a></td>\n</tr>\n'
                   for h, t, d in items[:12])
    write(root / "news/index.html", f"""<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">
<html>
<head>
<meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<title>Новости - Официальный сайт райисполкома</title>
</head>
<body bgcolor="#FFFFFF" leftmargin="0" topmargin="0">
<table width="100%" border="0" cellspacing="0" cellpadding="0">
<tr><td colspan="2" height="90" bgcolor="#2B5797"><font color="#FFFFFF" size="5">Райисполком</font></td></tr>
<tr>
<td width="200" valign="top" bgcolor="#E8EEF7">
<table width="100%" border="0" cellspacing="2" cellpadding="4">
{menu}
</table>
</td>
<td valign="top">
<h1>Новости</h1>
<table width="100%" border="0" cellspacing="0" cellpadding="4">
<tr><th>Дата</th><th>Заголовок</th></tr>
{rows}</table>
<p><a href="/news/archive.html">Архив новостей</a></p>
</td>
</tr>
<tr><td colspan="2" align="center"><font size="1">&copy; 2005-2021 Райисполком</font></td></tr>
</table>
</body>
</html>
""")
    for href, title, day in items:
        write(root / href.lstrip("/"), f"""<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"><title>{escape(title)}</title></head>
<body><table width="100%"><tr><td valign="top"><h2>{escape(title)}</h2><p><i>{day:%d.%m.%Y}</i></p>
<p>{RU_SUMMARY}</p><p>{RU_SUMMARY}</p></td></tr></table></body></html>
""")
    for extra in ("about.html", "docs.html", "contacts.html", "news/archive.html"):
        write(root / extra, simple_article("Раздел", RU_SUMMARY, lang="ru"))
    write(root / "index.html", simple_article("Райисполком", RU_SUMMARY, lang="ru"))
    expected("table", items[:12])


# --- a <ul> list with Belarusian dates in the text -------------------------------------------

def ullist() -> None:
    root = HERE / "ullist"
    items = stories(BE_TITLES, lambda _t, i, d: f"/be/news/{d:%Y-%m-%d}-{i + 1}.html")

    def page(chunk: list[tuple[str, str, date]], more: str) -> str:
        lines = "".join(f'<li><a href="{h}">{escape(t)}</a> <i>{d.day} {BE_MONTHS[d.month - 1]} {d.year}</i></li>\n'
                        for h, t, d in chunk)
        popular = "".join(f'<li><a href="{h}">{escape(t)}</a></li>' for h, t, _d in items[3:8])
        return f"""<!DOCTYPE html>
<html lang="be">
<head><meta charset="utf-8"><title>Навіны — Культурная ініцыятыва</title>
<link rel="stylesheet" href="/css/site.css"></head>
<body>
<div id="top"><a href="/be/"><img src="/img/logo.png" alt="Культурная ініцыятыва"></a>
<ul class="menu"><li><a href="/be/">Галоўная</a></li><li><a href="/be/news/">Навіны</a></li><li><a href="/be/projects.html">Праекты</a></li><li><a href="/be/about.html">Пра нас</a></li><li><a href="/be/contacts.html">Кантакты</a></li></ul>
</div>
<div id="wrap">
<div class="content">
<h1>Навіны</h1>
<ul>
{lines}</ul>
{more}
</div>
<aside><h3>Папулярнае</h3><ul>{popular}</ul></aside>
</div>
<div id="footer">© Культурная ініцыятыва, 2021</div>
</body></html>
"""
    write(root / "be/news/index.html", page(items[:10], '<p><a href="/be/news/page2.html">Наступная старонка →</a></p>'))
    write(root / "be/news/page2.html", page(items[10:], '<p><a href="/be/news/">← Папярэдняя старонка</a></p>'))
    png(root / "img/logo.png")
    for href, title, day in items:
        write(root / href.lstrip("/"), simple_article(
            title, "Падрабязнасці ў тэксце навіны: хто, дзе і калі.", lang="be",
            extra=f"<p><i>{day.day} {BE_MONTHS[day.month - 1]} {day.year}</i></p>"))
    for extra in ("be/index.html", "be/projects.html", "be/about.html", "be/contacts.html"):
        write(root / extra, simple_article("Старонка", "Тэкст старонкі.", lang="be"))
    expected("ullist", items[:10])


# --- cards without any classes ---------------------------------------------------------------

def noclass() -> None:
    root = HERE / "noclass"
    items = stories(EN_TITLES, lambda t, i, _d: f"/stories/{slug(t, i)}/")
    png(root / "img/photo.png")
    cards = "".join(
        "  <div>\n"
        + (f'    <a href="{h}"><img src="/img/photo.png" alt=""></a>\n' if i % 3 == 0 else "")
        + f'    <h3><a href="{h}">{escape(t)}</a></h3>\n    <p>{d:%B} {d.day}, {d.year}</p>\n    <p>{SUMMARY}</p>\n  </div>\n'
        for i, (h, t, d) in enumerate(items[:12]))
    write(root / "index.html", f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Valley Weekly</title></head>
<body>
<div>
 <div><a href="/">Valley Weekly</a> | <a href="/about/">About us</a> | <a href="/advertise/">Advertise</a></div>
 <div>
  <h1>Latest stories</h1>
 <div>
{cards} </div>
 </div>
 <div><p>Valley Weekly, 12 Market Street. Call us on 555 0100.</p></div>
</div>
</body>
</html>
""")
    for href, title, day in items:
        write(root / href.strip("/") / "index.html", simple_article(
            title, SUMMARY, lang="en", extra=f"<p>{day:%B} {day.day}, {day.year}</p>"))
    for extra in ("about", "advertise"):
        write(root / extra / "index.html", simple_article(extra.title(), SUMMARY, lang="en"))
    expected("noclass", items[:10])


# --- Drupal views listing; dates only in each article's JSON-LD -------------------------------

def jsonld() -> None:
    root = HERE / "jsonld"
    items = stories(EN_TITLES, lambda t, i, _d: f"/news/{slug(t, i)}")
    png(root / "sites/default/files/styles/teaser/public/photo.png")
    rows = "".join(f"""<div class="views-row"><article role="article" about="{h}" class="node node--type-article node--promoted node--view-mode-teaser">
  <h2 class="node__title"><a href="{h}" rel="bookmark"><span class="field field--name-title field--type-string field--label-hidden">{escape(t)}</span></a></h2>
  <div class="node__content">
    <div class="field field--name-field-image field--type-image field--label-hidden field__item"><a href="{h}" hreflang="en"><img loading="lazy" src="/sites/default/files/styles/teaser/public/photo.png" width="220" height="146" alt="" /></a></div>
    <div class="clearfix text-formatted field field--name-body field--type-text-with-summary field--label-hidden field__item"><p>{SUMMARY}</p></div>
    <ul class="links inline"><li class="node-readmore"><a href="{h}" rel="tag" title="{escape(t)}" hreflang="en">Read more<span class="visually-hidden"> about {escape(t)}</span></a></li></ul>
  </div>
</article></div>
""" for h, t, _d in items[:10])
    write(root / "news/index.html", f"""<!DOCTYPE html>
<html lang="en" dir="ltr">
<head><meta charset="utf-8" /><meta name="Generator" content="Drupal 9 (https://www.drupal.org)" />
<title>News | Riverbend District</title></head>
<body class="path-news">
<div class="dialog-off-canvas-main-canvas" data-off-canvas-main-canvas>
<header role="banner"><nav role="navigation" aria-labelledby="block-main-menu" id="block-main"><ul class="menu"><li class="menu-item"><a href="/" data-drupal-link-system-path="&lt;front&gt;">Home</a></li><li class="menu-item menu-item--active-trail"><a href="/news">News</a></li><li class="menu-item"><a href="/services">Services</a></li></ul></nav></header>
<main role="main"><div class="layout-content">
<div class="views-element-container"><div class="view view-frontpage view-id-frontpage view-display-id-page_1 js-view-dom-id-4f1d2c">
<div class="view-content">
{rows}</div>
<nav class="pager" role="navigation" aria-labelledby="pagination-heading"><h4 id="pagination-heading" class="visually-hidden">Pagination</h4>
<ul class="pager__items js-pager__items"><li class="pager__item is-active"><a href="?page=0" title="Current page">1</a></li><li class="pager__item"><a href="?page=1" title="Go to page 2">2</a></li>
<li class="pager__item pager__item--next"><a href="?page=1" title="Go to next page" rel="next"><span class="visually-hidden">Next page</span><span aria-hidden="true">››</span></a></li></ul></nav>
</div></div></div></main>
<footer role="contentinfo"><p>Riverbend District Council</p></footer>
</div></body></html>
""")
    for i, (href, title, day) in enumerate(items):
        stamp = f"{day.isoformat()}T{9 + i % 8:02d}:30:00+02:00"
        data = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": title,
                "datePublished": stamp, "dateModified": stamp,
                "image": ["/sites/default/files/styles/teaser/public/photo.png"],
                "author": {"@type": "Organization", "name": "Riverbend District"}}
        head = (f'<meta property="og:title" content="{escape(title)}" /><meta property="og:type" content="article" />'
                f'<meta property="og:image" content="/sites/default/files/styles/teaser/public/photo.png" />'
                f'<script type="application/ld+json">{json.dumps(data)}</script>')
        write(root / href.strip("/") / "index.html", simple_article(f"{title} | Riverbend District", SUMMARY, lang="en", head=head))
    write(root / "services/index.html", simple_article("Services", SUMMARY, lang="en"))
    write(root / "index.html", simple_article("Riverbend District", SUMMARY, lang="en"))
    expected("jsonld", items[:10])


# --- a Hugo blog that advertises its feed ------------------------------------------------------

def feedsite() -> None:
    root = HERE / "feedsite"
    items = stories(EN_TITLES[:12], lambda t, i, _d: f"/posts/{slug(t, i)}/")
    entries = "".join(f"""<article class="post-entry">
  <header class="entry-header"><h2>{escape(t)}</h2></header>
  <div class="entry-content"><p>{SUMMARY}</p></div>
  <footer class="entry-footer"><span title='{d.isoformat()} 08:00:00 +0000 UTC'>{d:%B} {d.day}, {d.year}</span></footer>
  <a class="entry-link" aria-label="post link to {escape(t)}" href="{h}"></a>
</article>
""" for h, t, d in items)
    write(root / "index.html", f"""<!DOCTYPE html>
<html lang="en" dir="auto">
<head><meta charset="utf-8"><meta name="generator" content="Hugo 0.88.1" />
<title>Field Notes</title>
<link rel="alternate" type="application/rss+xml" href="/index.xml" title="Field Notes">
</head>
<body class="list" id="top">
<header class="header"><nav class="nav"><div class="logo"><a href="/" accesskey="h" title="Field Notes (Alt + H)">Field Notes</a></div>
<ul id="menu"><li><a href="/archives/" title="Archive"><span>Archive</span></a></li><li><a href="/tags/" title="Tags"><span>Tags</span></a></li></ul></nav></header>
<main class="main">
{entries}</main>
</body></html>
""")
    feed_items = "".join(f"""    <item>
      <title>{escape(t)}</title>
      <link>https://notes.example.org{h}</link>
      <pubDate>{d:%a, %d %b %Y} 08:00:00 +0000</pubDate>
      <guid>https://notes.example.org{h}</guid>
      <description>{escape(SUMMARY)}</description>
    </item>
""" for h, t, d in items)
    write(root / "index.xml", f"""<?xml version="1.0" encoding="utf-8" standalone="yes"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
  <channel>
    <title>Field Notes</title>
    <link>https://notes.example.org/</link>
    <description>Recent content on Field Notes</description>
    <generator>Hugo -- gohugo.io</generator>
    <language>en</language>
{feed_items}  </channel>
</rss>
""")
    for href, title, _day in items:
        write(root / href.strip("/") / "index.html", simple_article(title, SUMMARY, lang="en"))
    expected("feedsite", items[:10])


# --- a list of bare links; the dates only in each release's text ------------------------------

def linksonly() -> None:
    root = HERE / "linksonly"
    items = stories(EN_TITLES, lambda t, _i, d: f"/press/{d.year}/{slug(t, 0)}.html")
    links = "".join(f'  <li><a href="{h}">{escape(t)}</a></li>\n' for h, t, _d in items[:12])
    write(root / "press/index.html", f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Press releases — Harbour Trust</title></head>
<body>
<div id="header"><a href="/">Harbour Trust</a>
<ul id="nav"><li><a href="/">Home</a></li><li><a href="/press/">Press</a></li><li><a href="/contact.html">Contact</a></li></ul></div>
<div id="content">
<h1>Press releases</h1>
<ul>
{links}</ul>
<p>Journalists: call the press office on 555 0199.</p>
</div>
</body></html>
""")
    for href, title, day in items:
        write(root / href.lstrip("/"), f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)} — Harbour Trust</title></head>
<body><div id="content"><h1>{escape(title)}</h1>
<p class="meta">Released: {day.day} {day:%B} {day.year}</p>
<p>{SUMMARY}</p><p>{SUMMARY}</p>
<p><a href="/press/">All press releases</a></p></div></body></html>
""")
    write(root / "index.html", simple_article("Harbour Trust", SUMMARY, lang="en"))
    write(root / "contact.html", simple_article("Contact", SUMMARY, lang="en"))
    expected("linksonly", items[:10])


def main() -> None:
    for site in SITES:
        shutil.rmtree(HERE / site, ignore_errors=True)
    wordpress()
    table()
    ullist()
    noclass()
    jsonld()
    feedsite()
    linksonly()


if __name__ == "__main__":
    main()
