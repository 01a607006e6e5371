"""Generate a large local replica of the office site for the benchmarks.

The markup follows `syndicator/demo/site/` (a WordPress press-office theme), so the demo
config's selectors apply unchanged. What makes the pages realistic, and heavy, is what real
WordPress pages carry around the story: a mega-menu with a few hundred links, an inline SVG
icon sprite, inline CSS, inline scripts (analytics, a localised theme config blob), a Yoast
JSON-LD graph, "last news" and "most read" sidebars, share buttons, a cookie banner and a
footer sitemap. Each page is padded to a size drawn from `--min-kb`..`--max-kb`.

    python -m bench.sitegen OUT_DIR [--articles 2000] [--per-page 20] [--seed 1]

Layout (per language en, ru, be):

    /robots.txt
    /{lang}/news/index.html, /{lang}/news/page/{n}/index.html     listings, newest first
    /{lang}/events/news/{id}.html                                 article pages

Output is deterministic for given arguments; `generate()` skips the work when OUT_DIR already
holds a site made with the same arguments (a stamp file records them).
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import random
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

LANGUAGES = ("en", "ru", "be")
STAMP = ".sitegen.json"
SITE_NAME = {
    "en": "Sviatlana Tsikhanouskaya",
    "ru": "Светлана Тихановская",
    "be": "Святлана Ціханоўская",
}
NEWS = {"en": "News", "ru": "Новости", "be": "Навіны"}
LOCALE = {"en": "en-US", "ru": "ru-RU", "be": "be-BY"}
MONTHS = {
    "en": [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    "ru": [
        "января",
        "февраля",
        "марта",
        "апреля",
        "мая",
        "июня",
        "июля",
        "августа",
        "сентября",
        "октября",
        "ноября",
        "декабря",
    ],
    "be": [
        "студзеня",
        "лютага",
        "сакавіка",
        "красавіка",
        "мая",
        "чэрвеня",
        "ліпеня",
        "жніўня",
        "верасня",
        "кастрычніка",
        "лістапада",
        "снежня",
    ],
}
WORDS = {
    "en": [
        "office",
        "coalition",
        "platform",
        "forum",
        "students",
        "scholarship",
        "media",
        "journalists",
        "consultation",
        "documents",
        "volunteers",
        "initiative",
        "partners",
        "education",
        "reform",
        "culture",
        "festival",
        "Vilnius",
        "Warsaw",
        "Berlin",
        "diaspora",
        "prisoners",
        "solidarity",
        "statement",
        "meeting",
        "parliament",
        "council",
        "conference",
        "report",
        "results",
        "week",
        "support",
        "program",
    ],
    "ru": [
        "офис",
        "коалиция",
        "платформа",
        "форум",
        "студенты",
        "стипендия",
        "медиа",
        "журналисты",
        "консультация",
        "документы",
        "волонтёры",
        "инициатива",
        "партнёры",
        "образование",
        "реформа",
        "культура",
        "фестиваль",
        "Вильнюс",
        "Варшава",
        "Берлин",
        "диаспора",
        "политзаключённые",
        "солидарность",
        "заявление",
        "встреча",
        "парламент",
        "совет",
        "конференция",
        "отчёт",
        "результаты",
        "неделя",
        "поддержка",
        "программа",
    ],
    "be": [
        "офіс",
        "кааліцыя",
        "платформа",
        "форум",
        "студэнты",
        "стыпендыя",
        "медыя",
        "журналісты",
        "кансультацыя",
        "дакументы",
        "валанцёры",
        "ініцыятыва",
        "партнёры",
        "адукацыя",
        "рэформа",
        "культура",
        "фестываль",
        "Вільня",
        "Варшава",
        "Берлін",
        "дыяспара",
        "палітвязні",
        "салідарнасць",
        "заява",
        "сустрэча",
        "парламент",
        "рада",
        "канферэнцыя",
        "справаздача",
        "вынікі",
        "тыдзень",
        "падтрымка",
        "праграма",
    ],
}
SENTENCES = {
    "en": [
        "Organisers said the event was prepared together with partner organisations in "
        "Lithuania, Poland and Germany.",
        "Recordings of all sessions will be published on the website in the coming days.",
        "Further information is available in the Support section of the website.",
        "According to the organisers, the next meeting in this format is planned for the "
        "coming months.",
        "Participants discussed how initiatives can report on the way donations are used.",
        "The office thanked the volunteers who helped to prepare the programme.",
    ],
    "ru": [
        "Организаторы отметили, что мероприятие подготовлено вместе с партнёрскими "
        "организациями из Литвы, Польши и Германии.",
        "Записи всех сессий будут опубликованы на сайте в ближайшие дни.",
        "Дополнительная информация доступна в разделе «Поддержка» на сайте.",
        "По словам организаторов, следующая встреча в таком формате запланирована на "
        "ближайшие месяцы.",
        "Участники обсудили, как инициативы могут отчитываться об использовании пожертвований.",
        "Офис поблагодарил волонтёров, которые помогли подготовить программу.",
    ],
    "be": [
        "Арганізатары адзначылі, што мерапрыемства падрыхтавана разам з партнёрскімі "
        "арганізацыямі з Літвы, Польшчы і Германіі.",
        "Запісы ўсіх сесій будуць апублікаваныя на сайце ў бліжэйшыя дні.",
        "Дадатковая інфармацыя даступная ў раздзеле «Падтрымка» на сайце.",
        "Паводле арганізатараў, наступная сустрэча ў такім фармаце запланавана на "
        "бліжэйшыя месяцы.",
        "Удзельнікі абмеркавалі, як ініцыятывы могуць справаздачыцца пра выкарыстанне "
        "ахвяраванняў.",
        "Офіс падзякаваў валанцёрам, якія дапамаглі падрыхтаваць праграму.",
    ],
}
TZ_OFFSET = timedelta(hours=3)  # Europe/Minsk, what the demo config's timezone says
NEWEST = datetime(2025, 11, 20, 18, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Options:
    articles: int = 2000
    per_page: int = 20
    min_kb: int = 80
    max_kb: int = 150
    seed: int = 1

    def stamp(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)


@dataclass(frozen=True)
class Story:
    lang: str
    id: str
    title: str
    published: datetime  # UTC
    excerpt: str
    image: str | None
    author: str

    @property
    def path(self) -> str:
        return f"/{self.lang}/events/news/{self.id}.html"


@dataclass(frozen=True)
class SiteInfo:
    root: Path
    options: Options
    listings: dict[str, list[str]]  # lang -> listing paths, first page first
    stories: dict[str, list[Story]]  # lang -> stories, newest first

    @property
    def pages(self) -> int:
        return sum(len(v) for v in self.listings.values()) + self.options.articles


def listing_path(lang: str, page: int) -> str:
    return f"/{lang}/news/" if page == 1 else f"/{lang}/news/page/{page}/"


def generate(root: Path, options: Options = Options()) -> SiteInfo:
    """Write the site under `root` (reusing it when made with the same options)."""
    stories = _stories(options)
    listings = {
        lang: [listing_path(lang, n + 1) for n in range(_page_count(len(items), options.per_page))]
        for lang, items in stories.items()
    }
    info = SiteInfo(root=root, options=options, listings=listings, stories=stories)
    stamp = root / STAMP
    if stamp.is_file() and stamp.read_text() == options.stamp():
        return info
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    rng = random.Random(options.seed)
    (root / "robots.txt").write_text(
        "User-agent: *\nDisallow: /wp-admin/\nAllow: /wp-admin/admin-ajax.php\n"
    )
    for lang, items in stories.items():
        pages = listings[lang]
        for number, path in enumerate(pages, start=1):
            cards = items[(number - 1) * options.per_page : number * options.per_page]
            body = _listing(lang, number, len(pages), cards, rng, options)
            _write(root, path + "index.html", body)
        for position, story in enumerate(items):
            latest = [s for s in items[max(0, position - 6) : position + 6] if s is not story][:10]
            _write(root, story.path, _article(story, latest, rng, options))
    stamp.write_text(options.stamp())
    return info


def _page_count(items: int, per_page: int) -> int:
    return max(1, -(-items // per_page))


def _write(root: Path, path: str, text: str) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


# --- content -----------------------------------------------------------------------------------


def _stories(options: Options) -> dict[str, list[Story]]:
    rng = random.Random(options.seed * 7919)
    result: dict[str, list[Story]] = {lang: [] for lang in LANGUAGES}
    for index in range(options.articles):
        lang = LANGUAGES[index % len(LANGUAGES)]
        words = WORDS[lang]
        title = " ".join(rng.choice(words) for _ in range(rng.randint(5, 10)))
        title = f"{title[0].upper()}{title[1:]} #{index}"
        published = NEWEST - timedelta(hours=7 * index, minutes=rng.randint(0, 59))
        excerpt = " ".join(rng.sample(SENTENCES[lang], 2))[:220] + " […]"
        image = (
            f"/wp-content/uploads/{published:%Y/%m}/story-{index}.jpg"
            if rng.random() < 0.7
            else None
        )
        ident = hashlib.sha1(f"{lang}-{index}".encode()).hexdigest()[:15]
        result[lang].append(
            Story(
                lang,
                ident,
                title,
                published,
                excerpt,
                image,
                rng.choice(["Iryna Varonka", "Aliaksei Kot", "Volha Zhuk"]),
            )
        )
    return result


def visible_date(lang: str, when: datetime) -> str:
    local = when + TZ_OFFSET
    if lang == "en":
        return f"{MONTHS['en'][local.month - 1]} {local.day:02d}, {local.year}"
    return f"{local.day} {MONTHS[lang][local.month - 1]} {local.year}"


def _iso(when: datetime) -> str:
    return (when + TZ_OFFSET).replace(tzinfo=None).isoformat() + "+03:00"


def _paragraphs(lang: str, rng: random.Random, count: int) -> list[str]:
    out = []
    for _ in range(count):
        sentences = [rng.choice(SENTENCES[lang]) for _ in range(rng.randint(2, 5))]
        out.append(" ".join(sentences))
    return out


# --- chrome: what surrounds the story ------------------------------------------------------------


def _head(lang: str, title: str, canonical: str, extra_meta: str, ld: object) -> str:
    e = html.escape
    return f"""<!DOCTYPE html>
<html lang="{LOCALE[lang]}">
<head>
<meta charset="UTF-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)} - {e(SITE_NAME[lang])}</title>
<link rel="canonical" href="{canonical}">
<meta name="robots" content="index, follow, max-image-preview:large">
<meta property="og:locale" content="{LOCALE[lang].replace("-", "_")}">
<meta property="og:site_name" content="{e(SITE_NAME[lang])}">
{extra_meta}
<script type="application/ld+json" class="yoast-schema-graph">{_json(ld)}</script>
<link rel="stylesheet" id="office-style-css" href="{STYLE}" media="all">
<link rel="icon" href="/wp-content/themes/office/logo.png" sizes="32x32">
<style id="global-styles-inline-css">{_inline_css()}</style>
<script>
window.dataLayer = window.dataLayer || [];
function gtag(){{dataLayer.push(arguments);}}
gtag('js', new Date());
gtag('config', 'G-DEMO0000');
</script>
</head>
"""


STYLE = "/wp-content/themes/office/style.css?ver=1.4.2"


def _json(data: object) -> str:
    return json.dumps(data, ensure_ascii=False)


def _inline_css() -> str:
    rules = [
        f".wp-block-{name}{{margin:0 0 {n}px;padding:{n % 7}px;color:var(--wp--preset--"
        f"color--c{n});}}"
        for n, name in enumerate(
            [
                "group",
                "columns",
                "column",
                "cover",
                "image",
                "gallery",
                "quote",
                "pullquote",
                "table",
                "button",
                "buttons",
                "separator",
                "spacer",
                "embed",
                "video",
                "audio",
                "file",
                "code",
                "preformatted",
                "list",
                "heading",
                "paragraph",
                "media-text",
                "latest-posts",
                "search",
                "navigation",
            ]
        )
    ]
    variables = "".join(f"--wp--preset--color--c{n}:#{n * 9973 % 0xFFFFFF:06x};" for n in range(60))
    return f"body{{{variables}}}" + "".join(rules)


def _mega_menu(lang: str, rng: random.Random) -> str:
    """A WordPress mega-menu: sections with sub-menus, a few hundred links in all."""
    sections = []
    for s in range(12):
        links = "".join(
            f'<li class="menu-item menu-item-type-taxonomy menu-item-{4000 + s * 40 + i}">'
            f'<a href="/{lang}/topics/{s}-{i}/">{html.escape(rng.choice(WORDS[lang]))} '
            f"{html.escape(rng.choice(WORDS[lang]))}</a></li>"
            for i in range(rng.randint(14, 26))
        )
        sections.append(
            f'<li class="menu-item menu-item-has-children"><a href="/{lang}/section/{s}/">'
            f'{html.escape(rng.choice(WORDS[lang]).title())}</a><ul class="sub-menu">{links}'
            "</ul></li>"
        )
    return (
        f'<nav class="main-nav" aria-label="Main menu"><ul id="menu-main" class="menu">'
        f'<li class="menu-item"><a href="/{lang}/news/">{NEWS[lang]}</a></li>'
        + "".join(sections)
        + "</ul></nav>"
    )


def _icon_sprite(rng: random.Random) -> str:
    symbols = "".join(
        f'<symbol id="icon-{n}" viewBox="0 0 24 24"><path d="M{rng.randint(0, 24)} '
        f"{rng.randint(0, 24)}l{rng.randint(-9, 9)} {rng.randint(-9, 9)}h{rng.randint(1, 9)}"
        f'v{rng.randint(1, 9)}z"/></symbol>'
        for n in range(40)
    )
    return f'<svg xmlns="http://www.w3.org/2000/svg" style="display:none">{symbols}</svg>'


def _header(lang: str, rng: random.Random) -> str:
    switch = " ".join(
        f'<a href="/{other}/news/" hreflang="{other}"'
        f"{' class=' + chr(34) + 'current-lang' + chr(34) if other == lang else ''}>"
        f"{other.upper()}</a>"
        for other in LANGUAGES
    )
    return (
        f'{_icon_sprite(rng)}\n<header class="site-header">\n  <a class="site-logo" '
        f'href="/{lang}/"><img src="/wp-content/themes/office/logo.png" alt="" width="32" '
        f'height="32"> {html.escape(SITE_NAME[lang])}</a>\n  {_mega_menu(lang, rng)}\n'
        f'  <div class="lang-switcher">{switch}</div>\n</header>\n'
    )


def _sidebar(lang: str, latest: list[Story]) -> str:
    popular = "".join(
        f'<li class="popular__item"><a href="{s.path}">{html.escape(s.title)}</a></li>'
        for s in latest[:6]
    )
    return (
        f'<aside class="sidebar widget-area">\n  <section class="widget widget-popular">'
        f'<h3 class="widget-title">Most read</h3><ul class="popular">{popular}</ul>'
        '</section>\n  <section class="widget widget-subscribe"><h3 class="widget-title">'
        'Subscribe</h3><form class="subscribe-form" action="/wp-admin/admin-post.php" '
        'method="post"><input type="hidden" name="action" value="subscribe"><input '
        'type="email" name="email"><button type="submit">OK</button></form></section>\n'
        "</aside>\n"
    )


def _footer(lang: str, rng: random.Random, pad_to: int, so_far: int) -> str:
    """The footer, sized so that the page reaches `pad_to` bytes: an eighth of the missing
    bytes go into a footer sitemap (markup the parser must build), the rest into the theme's
    inline config blob (WordPress inlines these by the tens of kilobytes)."""
    tail = (
        '<script src="/wp-content/themes/office/main.js?ver=1.4.2" id="office-main-js">'
        "</script>\n</body>\n</html>\n"
    )
    fixed = (
        '\n  <ul class="social"><li><a href="https://t.me/s/example_office" rel="noopener">'
        'Telegram</a></li></ul></div>\n  <p class="copyright">© 2020–2025 Office.</p>\n'
        '</footer>\n<div class="cookie-banner" role="dialog"><p>We use cookies.</p><button '
        'type="button" class="cookie-banner__accept">Accept</button></div>\n'
    )
    room = pad_to - so_far - len((tail + fixed).encode()) - 200
    links: list[str] = []
    size = 0
    words = WORDS[lang]
    while size < room // 8:
        n = len(links)
        link = (
            f'<li class="footer-sitemap__item"><a href="/{lang}/archive/{n}/">'
            f"{rng.choice(words)} {rng.choice(words)}</a></li>"
        )
        links.append(link)
        size += len(link.encode())
    entries: list[str] = []
    while size < room:
        n = len(entries)
        entry = f'"i18n_{n}":"{rng.choice(words)} {rng.choice(words)} {n}"'
        entries.append(entry)
        size += len(entry.encode()) + 1
    return (
        '<footer class="site-footer">\n  <div class="footer-widgets"><ul class="footer-'
        f'sitemap">{"".join(links)}</ul>{fixed}<script id="office-config-js-extra">'
        f"var officeConfig = {{{','.join(entries)}}};</script>\n{tail}"
    )


# --- pages ---------------------------------------------------------------------------------------


def _listing(
    lang: str, number: int, total: int, cards: list[Story], rng: random.Random, options: Options
) -> str:
    path = listing_path(lang, number)
    ld = {
        "@context": "https://schema.org",
        "@graph": [
            {
                "@type": "CollectionPage",
                "@id": path,
                "url": path,
                "name": NEWS[lang],
                "inLanguage": LOCALE[lang],
            },
            {"@type": "WebSite", "@id": "/#website", "url": "/", "name": SITE_NAME[lang]},
        ],
    }
    meta = '<meta property="og:type" content="website">'
    if number < total:
        meta += f'\n<link rel="next" href="{listing_path(lang, number + 1)}">'
    parts = [
        _head(lang, NEWS[lang], path, meta, ld),
        f'<body class="archive category paged-{number}">\n',
        _header(lang, rng),
        '<div class="container">\n<main id="main" class="site-main">\n'
        f'<h1 class="page-title">{NEWS[lang]}</h1>\n<div class="news-list">\n',
    ]
    for story in cards:
        thumb = (
            f'    <div class="news-card__thumb"><img class="news-card__image" '
            f'src="{story.image}" alt="" loading="lazy" width="300" height="169"></div>\n'
            if story.image
            else ""
        )
        parts.append(
            f'  <article class="news-card post-{story.id[:6]}">\n{thumb}'
            '    <div class="news-card__body">\n'
            f'      <a class="news-card__link" href="{story.path}"><h2 class="news-card__title">'
            f"{html.escape(story.title)}</h2></a>\n"
            f'      <div class="news-card__excerpt">{html.escape(story.excerpt)}</div>\n'
            f'      <span class="news-card__date">{visible_date(lang, story.published)}</span>\n'
            "    </div>\n  </article>\n"
        )
    parts.append('</div>\n<nav class="pagination" aria-label="Pagination">\n')
    if number > 1:
        parts.append(
            f'  <a class="prev page-numbers" href="{listing_path(lang, number - 1)}">Previous</a>\n'
        )
    for n in range(max(1, number - 2), min(total, number + 2) + 1):
        parts.append(
            f'  <span aria-current="page" class="page-numbers current">{n}</span>\n'
            if n == number
            else f'  <a class="page-numbers" href="{listing_path(lang, n)}">{n}</a>\n'
        )
    if number < total:
        parts.append(
            f'  <a class="next page-numbers" href="{listing_path(lang, number + 1)}">Next</a>\n'
        )
    parts.append("</nav>\n</main>\n")
    parts.append(_sidebar(lang, cards))
    parts.append("</div>\n")
    return _finish(parts, lang, rng, options)


def _article(story: Story, latest: list[Story], rng: random.Random, options: Options) -> str:
    e = html.escape
    lang = story.lang
    paragraphs = _paragraphs(lang, rng, rng.randint(6, 18))
    ld = {
        "@context": "https://schema.org",
        "@graph": [
            {
                "@type": "NewsArticle",
                "@id": f"{story.path}#article",
                "headline": story.title,
                "datePublished": _iso(story.published),
                "dateModified": _iso(story.published + timedelta(minutes=85)),
                "author": {"name": story.author},
                "articleSection": [NEWS[lang]],
                "inLanguage": LOCALE[lang],
                "mainEntityOfPage": {"@id": story.path},
                "wordCount": sum(len(p.split()) for p in paragraphs),
                **({"thumbnailUrl": story.image} if story.image else {}),
            },
            {
                "@type": "WebPage",
                "@id": story.path,
                "url": story.path,
                "name": story.title,
                "description": story.excerpt,
                "inLanguage": LOCALE[lang],
            },
            {
                "@type": "BreadcrumbList",
                "@id": f"{story.path}#breadcrumb",
                "itemListElement": [
                    {
                        "@type": "ListItem",
                        "position": 1,
                        "name": SITE_NAME[lang],
                        "item": f"/{lang}/",
                    },
                    {
                        "@type": "ListItem",
                        "position": 2,
                        "name": NEWS[lang],
                        "item": f"/{lang}/news/",
                    },
                    {"@type": "ListItem", "position": 3, "name": story.title},
                ],
            },
            {"@type": "Organization", "@id": "/#organization", "name": "Office", "url": "/"},
        ],
    }
    meta = (
        f'<meta property="og:type" content="article">\n'
        f'<meta property="og:title" content="{e(story.title)}">\n'
        f'<meta property="og:description" content="{e(story.excerpt)}">\n'
        f'<meta property="og:url" content="{story.path}">\n'
        f'<meta property="article:published_time" content="{_iso(story.published)}">\n'
        + (f'<meta property="og:image" content="{story.image}">\n' if story.image else "")
        + f'<meta name="author" content="{e(story.author)}">'
    )
    body = []
    for n, text in enumerate(paragraphs):
        if n == 2 and story.image:
            body.append(
                f'<figure class="wp-block-image size-large"><img src="{story.image}" '
                f'srcset="{story.image} 1200w" alt="" width="1024" height="576" '
                'decoding="async"><figcaption>Photo: press service</figcaption></figure>'
            )
        if n == 4 and latest:
            body.append(f'<p>{e(text)} <a href="{latest[0].path}">{e(latest[0].title)}</a>.</p>')
            continue
        if n == 5:
            body.append(f'<blockquote class="wp-block-quote"><p>{e(text)}</p></blockquote>')
            continue
        body.append(f"<p>{e(text)}</p>")
    body.append('<img src="https://pixel.example.net/t.gif?id=1" width="1" height="1" alt="">')
    body.append(
        '<div class="share-buttons"><span>Share:</span> <a class="share-fb" '
        f'href="https://www.facebook.com/sharer/sharer.php?u={story.path}">Facebook</a>'
        f' <a class="share-tg" href="https://t.me/share/url?url={story.path}">Telegram'
        "</a></div>"
    )
    last = "".join(
        f'<li class="last-news__item"><a href="{s.path}">{e(s.title)}</a> '
        f'<span class="last-news__date">{visible_date(lang, s.published)}</span></li>'
        for s in latest
    )
    parts = [
        _head(lang, story.title, story.path, meta, ld),
        '<body class="news-template-default single single-news">\n',
        _header(lang, rng),
        '<div class="container">\n<main id="main" class="site-main">\n'
        '<article class="single-news">\n'
        f'<nav class="breadcrumbs"><a href="/{lang}/">{e(SITE_NAME[lang])}</a> » '
        f'<a href="/{lang}/news/">{NEWS[lang]}</a></nav>\n'
        f'<h1 class="single-news__title">{e(story.title)}</h1>\n'
        f'<div class="single-news__date">{visible_date(lang, story.published)}</div>\n'
        '<div class="single-news__content">\n' + "\n".join(body) + "\n</div>\n</article>\n"
        f'<section class="last-news"><h3>Last news</h3><ul>{last}</ul></section>\n'
        "</main>\n",
        _sidebar(lang, latest),
        "</div>\n",
    ]
    return _finish(parts, lang, rng, options)


def _finish(parts: list[str], lang: str, rng: random.Random, options: Options) -> str:
    text = "".join(parts)
    target = rng.randint(options.min_kb, options.max_kb) * 1024
    return text + _footer(lang, rng, target, len(text.encode()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--articles", type=int, default=Options.articles)
    parser.add_argument("--per-page", type=int, default=Options.per_page)
    parser.add_argument("--min-kb", type=int, default=Options.min_kb)
    parser.add_argument("--max-kb", type=int, default=Options.max_kb)
    parser.add_argument("--seed", type=int, default=Options.seed)
    args = parser.parse_args()
    info = generate(
        args.out, Options(args.articles, args.per_page, args.min_kb, args.max_kb, args.seed)
    )
    print(f"{info.pages} pages under {info.root}")


if __name__ == "__main__":
    main()
