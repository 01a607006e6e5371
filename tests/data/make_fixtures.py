# ruff: noqa: E501
"""Write the offline test and demo sites: `python tests/data/make_fixtures.py`.

Stdlib only. The generated files are committed; this script is kept so they can be remade
after an edit (it deletes and rewrites only the folders it owns, never the hand-written
`config.yaml`, `README.md` or `tests/data/*/expected.json` of sites it does not own).

Sites:
  syndicator/demo/site/        replica of a WordPress press-office site (en/ru/be)
  tests/data/office/           expected items for the demo site
  tests/data/cp1251/           a windows-1251 Russian news site (+ expected.json)
  tests/data/jsonld/           pages whose data is only in JSON-LD / OpenGraph (+ expected.json)
  tests/data/feeds/            RSS 0.91/1.0/2.0, Atom, JSON Feed, hostile XML (+ expected.json)

The expected items are written from the same tables the pages are rendered from (the
tables are the ground truth); the UTC conversion is done here explicitly from the local
time and the fixed offset the page states.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from html import escape
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "syndicator" / "demo" / "site"
DATA = REPO / "tests" / "data"

MINSK = timezone(timedelta(hours=3))  # Europe/Minsk has been UTC+3 all year since 2011


# --- images ----------------------------------------------------------------------------------

def png_bytes(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A valid solid-colour RGB PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    row = b"\x00" + bytes(rgb) * width
    raw = zlib.compress(row * height, 9)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


class _Bits:
    def __init__(self) -> None:
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def put(self, code: int, length: int) -> None:
        for i in range(length - 1, -1, -1):
            self.acc = (self.acc << 1) | ((code >> i) & 1)
            self.n += 1
            if self.n == 8:
                self.out.append(self.acc)
                if self.acc == 0xFF:
                    self.out.append(0)  # byte stuffing
                self.acc = self.n = 0

    def flush(self) -> bytes:
        while self.n:
            self.put(1, 1)  # pad with 1-bits
        return bytes(self.out)


def _huffman(symbols: list[int]) -> tuple[bytes, dict[int, tuple[int, int]]]:
    """A table giving every symbol the same length, short enough that no code is all ones."""
    length = 1
    while (1 << length) <= len(symbols):
        length += 1
    counts = [0] * 16
    counts[length - 1] = len(symbols)
    codes = {sym: (i, length) for i, sym in enumerate(symbols)}
    return bytes(counts) + bytes(symbols), codes


def jpeg_bytes(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A valid baseline JPEG of one colour (DC coefficients only), written with the stdlib."""
    r, g, b = rgb
    comps = [0.299 * r + 0.587 * g + 0.114 * b,
             128 - 0.168736 * r - 0.331264 * g + 0.5 * b,
             128 + 0.5 * r - 0.418688 * g - 0.081312 * b]
    dcs = [round(8 * (c - 128)) for c in comps]  # DC of a flat 8x8 block, quantiser 1
    cats = sorted({0, *(abs(d).bit_length() for d in dcs)})
    dc_table, dc_codes = _huffman(cats)
    ac_table, ac_codes = _huffman([0x00])  # only end-of-block is ever needed

    def segment(marker: int, data: bytes) -> bytes:
        return struct.pack(">HH", marker, len(data) + 2) + data

    head = b"\xff\xd8" + segment(0xFFE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    head += segment(0xFFDB, b"\x00" + bytes([1] * 64))
    head += segment(0xFFC0, struct.pack(">BHHB", 8, height, width, 3)
                    + b"\x01\x11\x00\x02\x11\x00\x03\x11\x00")
    head += segment(0xFFC4, b"\x00" + dc_table) + segment(0xFFC4, b"\x10" + ac_table)
    head += segment(0xFFDA, b"\x03\x01\x00\x02\x00\x03\x00\x00\x3f\x00")
    bits = _Bits()
    previous = [0, 0, 0]
    for _ in range((width // 8) * (height // 8)):
        for index, dc in enumerate(dcs):
            diff = dc - previous[index]
            previous[index] = dc
            cat = abs(diff).bit_length()
            bits.put(*dc_codes[cat])
            if cat:
                bits.put(diff if diff > 0 else diff + (1 << cat) - 1, cat)
            bits.put(*ac_codes[0x00])
    return head + bits.flush() + b"\xff\xd9"


JPEGS = [jpeg_bytes(16, 8, c) for c in ((59, 110, 165), (192, 57, 43), (46, 139, 87), (127, 140, 141))]


# --- writing ---------------------------------------------------------------------------------

def write(path: Path, data: str | bytes, encoding: str = "utf-8") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_bytes(data.encode(encoding))
    else:
        path.write_bytes(data)


def write_json(path: Path, data: Any) -> None:
    write(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def ld_json(data: Any) -> str:
    """JSON for a <script type=application/ld+json>: `<` escaped so it cannot end the script."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e")


def utc_z(local: datetime) -> str:
    return local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def reset(folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)


# =============================================================================================
# The press-office demo site
# =============================================================================================

@dataclass(frozen=True)
class Story:
    lang: str
    key: str                      # ascii slug: image names and the article id
    when: str                     # local time "YYYY-MM-DD HH:MM" (Europe/Minsk, +03:00)
    title: str                    # plain text
    lead: str
    image: str | None = "card"    # "card": card + og:image; "og": only og:image; None: none
    author: int = 0
    report: bool = False          # a weekly report (bullet list in the body)
    title_html: str | None = None  # markup of the title when it is not just escape(title)

    @property
    def local(self) -> datetime:
        return datetime.strptime(self.when, "%Y-%m-%d %H:%M").replace(tzinfo=MINSK)

    @property
    def hexid(self) -> str:
        return hashlib.sha1(f"demo:{self.lang}:{self.key}".encode()).hexdigest()[:15]

    @property
    def path(self) -> str:
        return f"/{self.lang}/events/news/{self.hexid}.html"

    @property
    def image_path(self) -> str | None:
        if self.image is None:
            return None
        d = self.local
        return f"/wp-content/uploads/{d:%Y}/{d:%m}/{self.key}.jpg"

    @property
    def html_title(self) -> str:
        return self.title_html if self.title_html is not None else escape(self.title, quote=False)


HOSTILE_TITLE = 'Statement on "freedom" & <rights> now'
HOSTILE_TITLE_HTML = "Statement on &quot;freedom&quot; &amp; &lt;rights&gt; <b>now</b>"
WEEK = "Results of the work of Sviatlana Tsikhanouskaya’s Office for the week of "

EN = [
    Story("en", "consultation-documents", "2025-10-28 11:20",
          "Office hosts open consultation on document renewal for Belarusians abroad",
          "More than two hundred people joined an online consultation on Tuesday where lawyers and volunteers explained how Belarusians living abroad can renew expired passports, register births and obtain certified translations of their documents.", author=0),
    Story("en", "weekly-october-6-12", "2025-10-13 18:00", WEEK + "October 6-12",
          "This week the Office held twelve meetings with partners, published two analytical notes and continued its programmes for students, independent media and families in need of legal support.", author=1, report=True),
    Story("en", "statement-freedom", "2025-09-30 16:45", HOSTILE_TITLE,
          "The Office publishes a statement on freedom of expression & the rights of people detained for their views, calling on partners to keep the issue on the agenda.",
          author=2, title_html=HOSTILE_TITLE_HTML),
    Story("en", "media-forum-vilnius", "2025-09-05 10:00",
          "Independent media forum gathers journalists in Vilnius",
          "Around one hundred and fifty editors, reporters and media managers met in Vilnius for a two-day forum on the sustainability of independent Belarusian journalism in exile.", author=0),
    Story("en", "scholarship-autumn", "2025-08-19 09:30",
          "New scholarship round opens for Belarusian students",
          "Applications are now open for the autumn round of the scholarship programme that helps Belarusian students continue their studies at universities in the European Union.", author=1),
    Story("en", "help-desk-families", "2025-07-24 15:10",
          "Volunteers launch help desk for families of political prisoners",
          "A team of volunteers has opened a help desk that answers questions from families of political prisoners about parcels, letters, legal fees and psychological support.", image="og", author=2),
    Story("en", "history-course", "2025-06-03 12:00",
          "Online course on Belarusian history starts in June",
          "A free eight-week online course on Belarusian history, from the Grand Duchy of Lithuania to the present day, begins this month with lectures in Belarusian and English.", author=0),
    Story("en", "night-vigil", "2025-05-16 00:40",
          "Night vigil held in solidarity with detained journalists",
          "Several hundred people gathered late on Thursday evening for a candlelight vigil in solidarity with journalists who remain behind bars, reading their names aloud until after midnight.", author=1),
    Story("en", "local-self-government", "2025-04-22 13:15",
          "Conference discusses the future of local self-government",
          "Experts in municipal law, former local councillors and civic activists met to discuss how local self-government could be rebuilt in a democratic Belarus.", author=2),
    Story("en", "legal-aid-guide", "2025-03-11 17:40",
          "Guide on legal aid for migrants published in three languages",
          "A new practical guide explains where Belarusians who have recently moved abroad can find free legal aid, how to apply for residence permits and which deadlines matter most.", author=0),
    Story("en", "cultural-calendar", "2025-02-27 10:05",
          "Diaspora organisations agree on joint cultural calendar",
          "Representatives of more than forty diaspora organisations agreed on a shared calendar of cultural events for the year, so that concerts, exhibitions and book fairs no longer clash.", image="og", author=1),
    Story("en", "annual-report", "2025-01-15 14:00",
          "Office presents annual report on human rights monitoring",
          "The annual report summarises a year of monitoring by partner organisations, documenting cases of detention, pressure on civil society and restrictions on the freedom of assembly.", author=2),
    Story("en", "winter-fair", "2024-12-09 19:30",
          "Winter charity fair supports independent culture",
          "Handmade toys, books and paintings were sold at a winter charity fair whose proceeds will support independent Belarusian musicians, writers and theatre groups.", image=None, author=0),
    Story("en", "education-roundtable", "2024-11-03 11:00",
          "Roundtable on education reform held in Warsaw",
          "Teachers, university lecturers and parents took part in a roundtable in Warsaw on principles for a future education reform built on academic freedom and inclusion.", author=1),
    Story("en", "civil-society-platform", "2024-10-01 14:30",
          "Civil society coalition launches new online platform",
          "A coalition of civil society organisations has launched an online platform where initiatives can publish their projects, look for volunteers and report on how donations are used.", author=2),
]

UPDATES = [
    Story("en", "weekly-october-20-26", "2025-10-27 18:00", WEEK + "October 20-26",
          "During the week the Office took part in a conference on democratic transition, met representatives of diaspora organisations and launched a call for project proposals from civic initiatives.", author=1, report=True),
    Story("en", "weekly-october-13-19", "2025-10-20 18:30", WEEK + "October 13-19",
          "The main events of the week were a meeting of the advisory council, a public discussion on the rights of migrants and new support for independent media projects.", author=1, report=True),
    EN[1],  # the same article is listed in /en/news/ too
    Story("en", "weekly-september-29-october-5", "2025-10-06 17:45", WEEK + "September 29 – October 5",
          "The Office summed up the results of the scholarship programme, held consultations for Belarusians abroad and presented a report on the situation of political prisoners.", image="og", author=1, report=True),
]

RU = [
    Story("ru", "ru-lithuania-meeting", "2025-10-21 12:30",
          "Офис провёл открытую встречу с белорусами Литвы",
          "Во вторник в Вильнюсе прошла открытая встреча с представителями белорусской диаспоры, на которой обсуждали легализацию, образование детей и поддержку культурных инициатив.", author=0),
    Story("ru", "ru-scholarship", "2025-09-09 10:15",
          "Стартовал новый набор в программу стипендий для студентов",
          "Открыт приём заявок на осенний набор стипендиальной программы, которая помогает белорусским студентам продолжить обучение в университетах Европейского союза.", author=1),
    Story("ru", "ru-hotline", "2025-07-17 16:00",
          "Волонтёры открыли горячую линию для семей политзаключённых",
          "Команда волонтёров запустила горячую линию, где родственники политзаключённых могут получить консультацию о передачах, письмах, оплате адвокатов и психологической помощи.", author=2),
    Story("ru", "ru-media-forum", "2025-06-03 14:30",
          "В Варшаве прошёл форум независимых медиа",
          "Около ста пятидесяти редакторов, журналистов и менеджеров медиа собрались в Варшаве на двухдневный форум, посвящённый устойчивости независимой журналистики.", author=0),
    Story("ru", "ru-legal-aid", "2025-05-12 11:00",
          "Опубликовано руководство по бесплатной юридической помощи",
          "Новое практическое руководство рассказывает, где белорусы, недавно переехавшие за границу, могут получить бесплатную юридическую помощь и какие сроки важно не пропустить.", author=1),
    Story("ru", "ru-self-government", "2025-04-08 18:20",
          "Конференция обсудила будущее местного самоуправления",
          "Эксперты в области муниципального права, бывшие депутаты местных советов и гражданские активисты обсудили, как можно восстановить местное самоуправление в демократической Беларуси.", image="og", author=2),
    Story("ru", "ru-cultural-calendar", "2025-03-25 13:45",
          "Диаспорные организации согласовали общий календарь культурных событий",
          "Представители более сорока диаспорных организаций договорились о едином календаре культурных событий на год, чтобы концерты, выставки и книжные ярмарки больше не совпадали по времени.", author=0),
    Story("ru", "ru-night-vigil", "2025-01-30 02:10",
          "Ночная акция солидарности с задержанными журналистами",
          "Несколько сотен человек собрались поздно вечером на акцию солидарности с журналистами, которые остаются за решёткой, и до глубокой ночи зачитывали их имена.", author=1),
    Story("ru", "ru-winter-fair", "2024-12-19 19:00",
          "Зимняя благотворительная ярмарка поддержала независимую культуру",
          "На зимней благотворительной ярмарке продавали игрушки ручной работы, книги и картины; все собранные средства направят на поддержку независимых музыкантов, писателей и театров.", image=None, author=2),
    Story("ru", "ru-history-course", "2024-11-06 12:00",
          "Запущен онлайн-курс по истории Беларуси",
          "Начинается бесплатный восьминедельный онлайн-курс по истории Беларуси — от Великого княжества Литовского до наших дней; лекции пройдут на белорусском и русском языках.", author=0),
]

BE = [
    Story("be", "be-poland-meeting", "2025-10-09 12:00",
          "Офіс правёў адкрытую сустрэчу з беларусамі Польшчы",
          "У чацвер у Варшаве адбылася адкрытая сустрэча з прадстаўнікамі беларускай дыяспары, на якой абмяркоўвалі легалізацыю, адукацыю дзяцей і падтрымку культурных ініцыятыў.", author=0),
    Story("be", "be-scholarship", "2025-08-28 10:30",
          "Пачаўся новы набор у стыпендыяльную праграму для студэнтаў",
          "Адкрыты прыём заявак на восеньскі набор стыпендыяльнай праграмы, якая дапамагае беларускім студэнтам працягнуць навучанне ва ўніверсітэтах Еўрапейскага саюза.", author=1),
    Story("be", "be-hotline", "2025-07-01 15:20",
          "Валанцёры адкрылі гарачую лінію для сем’яў палітвязняў",
          "Каманда валанцёраў запусціла гарачую лінію, дзе сваякі палітвязняў могуць атрымаць кансультацыю пра перадачы, лісты, аплату адвакатаў і псіхалагічную дапамогу.", author=2),
    Story("be", "be-media-forum", "2025-06-13 11:45",
          "У Вільні прайшоў форум незалежных медыя",
          "Каля ста пяцідзесяці рэдактараў, журналістаў і медыяменеджараў сабраліся ў Вільні на двухдзённы форум, прысвечаны ўстойлівасці незалежнай беларускай журналістыкі.", author=0),
    Story("be", "be-legal-aid", "2025-05-20 09:00",
          "Апублікаваны даведнік пра бясплатную юрыдычную дапамогу",
          "Новы практычны даведнік тлумачыць, дзе беларусы, якія нядаўна пераехалі за мяжу, могуць атрымаць бясплатную юрыдычную дапамогу і якія тэрміны важна не прапусціць.", image="og", author=1),
    Story("be", "be-self-government", "2025-04-16 17:00",
          "Канферэнцыя абмеркавала будучыню мясцовага самакіравання",
          "Эксперты ў галіне муніцыпальнага права, былыя дэпутаты мясцовых саветаў і грамадскія актывісты абмеркавалі, як аднавіць мясцовае самакіраванне ў дэмакратычнай Беларусі.", author=2),
    Story("be", "be-cultural-calendar", "2025-03-04 13:10",
          "Дыяспарныя арганізацыі ўзгаднілі агульны культурны каляндар",
          "Прадстаўнікі больш як сарака дыяспарных арганізацый дамовіліся пра адзіны каляндар культурных падзей на год, каб канцэрты, выставы і кніжныя кірмашы больш не супадалі па часе.", author=0),
    Story("be", "be-winter-fair", "2025-02-18 19:40",
          "Зімовы дабрачынны кірмаш падтрымаў незалежную культуру",
          "На зімовым дабрачынным кірмашы прадавалі цацкі ручной работы, кнігі і карціны; усе сабраныя сродкі пойдуць на падтрымку незалежных музыкаў, пісьменнікаў і тэатраў.", author=1),
    Story("be", "be-solidarity-postcards", "2025-01-09 00:20",
          "Валанцёры падвялі вынікі навагодняй акцыі салідарнасці",
          "Апоўначы валанцёры падвялі вынікі акцыі салідарнасці: за некалькі дзён удзельнікі напісалі больш за тысячу паштовак палітвязням і іх сем’ям.", author=2),
    Story("be", "be-history-course", "2024-12-02 12:30",
          "Пачынаецца анлайн-курс па гісторыі Беларусі",
          "Пачынаецца бясплатны васьмітыднёвы анлайн-курс па гісторыі Беларусі — ад Вялікага Княства Літоўскага да нашых дзён; лекцыі пройдуць на беларускай мове.", image=None, author=0),
]

MONTHS = {
    "ru": ["января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
           "сентября", "октября", "ноября", "декабря"],
    "be": ["студзеня", "лютага", "сакавіка", "красавіка", "мая", "чэрвеня", "ліпеня", "жніўня",
           "верасня", "кастрычніка", "лістапада", "снежня"],
}
EN_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December"]

UI: dict[str, dict[str, Any]] = {
    "en": {
        "html_lang": "en-US", "og_locale": "en_US", "site": "Sviatlana Tsikhanouskaya",
        "org": "Office of Sviatlana Tsikhanouskaya", "news": "News", "last": "Last news",
        "share": "Share", "next": "Next", "prev": "Previous", "updates": "Updates of work",
        "nav": [("news/", "News"), ("office/", "Office"), ("new-belarus/", "New Belarus"),
                ("partners/", "Partners"), ("support/", "Support"), ("contacts/", "Contacts")],
        "cookie": "We use cookies to understand how the site is used. You can accept or refuse them.",
        "accept": "Accept", "refuse": "Refuse", "popular": "Most read", "subscribe": "Subscribe to the newsletter",
        "email": "Your e-mail", "rights": "All rights reserved. Materials may be reused with a link to the source.",
        "read_more": "All news", "home_intro": "Official website of the Office: news, weekly reports and ways to support civil society.",
        "authors": ["Alena Shumskaya", "Pavel Lahun", "Iryna Varonka"],
        "paras": [
            "Organisers said the event was prepared together with partner organisations in Lithuania, Poland and Germany, and that recordings of all sessions will be published on the website in the coming days.",
            "Participants were able to ask questions in Belarusian, Russian and English. The most frequent questions concerned residence permits, recognition of diplomas and access to health care.",
            "The Office thanked the volunteers who helped with preparation, translation and technical support, and invited everyone interested to join future events.",
            "Further information, including contacts of the coordinators and a list of frequently asked questions, is available in the Support section of the website.",
            "According to the organisers, the next meeting in this format is planned for the coming months; the exact date will be announced in the news section.",
            "The materials of the event are available free of charge, and partners are welcome to distribute them in their own communities.",
        ],
        "quotes": [
            ("It is important that people know they are not alone and that help is available wherever they live.", "Maryna Kalesnik, programme coordinator"),
            ("Our task is to keep these conversations open and practical, so that they lead to real changes.", "Andrei Lutsevich, adviser on civil society"),
            ("Every question we received today will help us improve the next edition.", "Volha Zhuk, volunteer"),
        ],
        "report": ["Meetings with partners and international organisations", "Consultations for Belarusians abroad",
                   "Support for independent media and culture", "Publications and analytical notes"],
        "more": "Read also",
        "caption": "Photo: press service",
    },
    "ru": {
        "html_lang": "ru-RU", "og_locale": "ru_RU", "site": "Светлана Тихановская",
        "org": "Офис Светланы Тихановской", "news": "Новости", "last": "Последние новости",
        "share": "Поделиться", "next": "Далее", "prev": "Назад", "updates": "Итоги работы",
        "nav": [("news/", "Новости"), ("office/", "Офис"), ("new-belarus/", "Новая Беларусь"),
                ("partners/", "Партнёры"), ("support/", "Поддержать"), ("contacts/", "Контакты")],
        "cookie": "Мы используем файлы cookie, чтобы понимать, как используется сайт. Вы можете принять или отклонить их.",
        "accept": "Принять", "refuse": "Отклонить", "popular": "Самое читаемое", "subscribe": "Подписка на рассылку",
        "email": "Ваш e-mail", "rights": "Все права защищены. При использовании материалов ссылка на источник обязательна.",
        "read_more": "Все новости", "home_intro": "Официальный сайт Офиса: новости, еженедельные итоги и способы поддержать гражданское общество.",
        "authors": ["Алёна Шумская", "Павел Лагун", "Ирина Воронко"],
        "paras": [
            "Организаторы отметили, что мероприятие подготовлено вместе с партнёрскими организациями из Литвы, Польши и Германии, а записи всех выступлений будут опубликованы на сайте в ближайшие дни.",
            "Участники могли задавать вопросы на белорусском, русском и английском языках. Чаще всего спрашивали о виде на жительство, признании дипломов и доступе к медицинской помощи.",
            "Офис благодарит волонтёров, которые помогали с подготовкой, переводом и технической поддержкой, и приглашает всех желающих присоединиться к следующим встречам.",
            "Подробная информация, контакты координаторов и ответы на частые вопросы доступны в разделе «Поддержка» на сайте.",
            "По словам организаторов, следующая встреча в таком формате запланирована на ближайшие месяцы; точная дата будет объявлена в разделе новостей.",
            "Материалы мероприятия распространяются бесплатно, и партнёры могут делиться ими в своих сообществах.",
        ],
        "quotes": [
            ("Важно, чтобы люди знали: они не одни, и помощь доступна, где бы они ни жили.", "Марина Колесник, координатор программы"),
            ("Наша задача — сохранять этот разговор открытым и практичным, чтобы он приводил к реальным изменениям.", "Андрей Луцевич, советник по вопросам гражданского общества"),
            ("Каждый вопрос, который мы сегодня получили, поможет нам сделать следующую встречу лучше.", "Ольга Жук, волонтёр"),
        ],
        "report": [], "more": "Читайте также", "caption": "Фото: пресс-служба",
    },
    "be": {
        "html_lang": "be", "og_locale": "be_BY", "site": "Святлана Ціханоўская",
        "org": "Офіс Святланы Ціханоўскай", "news": "Навіны", "last": "Апошнія навіны",
        "share": "Падзяліцца", "next": "Далей", "prev": "Назад", "updates": "Вынікі працы",
        "nav": [("news/", "Навіны"), ("office/", "Офіс"), ("new-belarus/", "Новая Беларусь"),
                ("partners/", "Партнёры"), ("support/", "Падтрымаць"), ("contacts/", "Кантакты")],
        "cookie": "Мы выкарыстоўваем файлы cookie, каб разумець, як карыстаюцца сайтам. Вы можаце прыняць або адхіліць іх.",
        "accept": "Прыняць", "refuse": "Адхіліць", "popular": "Найбольш чытанае", "subscribe": "Падпіска на рассылку",
        "email": "Ваш e-mail", "rights": "Усе правы абароненыя. Пры выкарыстанні матэрыялаў спасылка на крыніцу абавязковая.",
        "read_more": "Усе навіны", "home_intro": "Афіцыйны сайт Офіса: навіны, штотыднёвыя вынікі і спосабы падтрымаць грамадзянскую супольнасць.",
        "authors": ["Алена Шумская", "Павел Лагун", "Ірына Варонка"],
        "paras": [
            "Арганізатары адзначылі, што мерапрыемства падрыхтавана разам з партнёрскімі арганізацыямі з Літвы, Польшчы і Германіі, а запісы ўсіх выступаў будуць апублікаваныя на сайце ў бліжэйшыя дні.",
            "Удзельнікі маглі задаваць пытанні па-беларуску, па-руску і па-англійску. Часцей за ўсё пыталіся пра від на жыхарства, прызнанне дыпломаў і доступ да медычнай дапамогі.",
            "Офіс дзякуе валанцёрам, якія дапамагалі з падрыхтоўкай, перакладам і тэхнічнай падтрымкай, і запрашае ўсіх ахвочых далучацца да наступных сустрэч.",
            "Падрабязная інфармацыя, кантакты каардынатараў і адказы на частыя пытанні даступныя ў раздзеле «Падтрымка» на сайце.",
            "Паводле арганізатараў, наступная сустрэча ў такім фармаце запланаваная на бліжэйшыя месяцы; дакладная дата будзе абвешчана ў раздзеле навін.",
            "Матэрыялы мерапрыемства распаўсюджваюцца бясплатна, і партнёры могуць дзяліцца імі ў сваіх супольнасцях.",
        ],
        "quotes": [
            ("Важна, каб людзі ведалі: яны не адны, і дапамога даступная, дзе б яны ні жылі.", "Марына Калеснік, каардынатарка праграмы"),
            ("Наша задача — захоўваць гэтую размову адкрытай і практычнай, каб яна вяла да рэальных зменаў.", "Андрэй Луцэвіч, дарадца па пытаннях грамадзянскай супольнасці"),
            ("Кожнае пытанне, якое мы сёння атрымалі, дапаможа нам зрабіць наступную сустрэчу лепшай.", "Вольга Жук, валанцёрка"),
        ],
        "report": [], "more": "Чытайце таксама", "caption": "Фота: прэс-служба",
    },
}


def visible_date(lang: str, when: datetime) -> str:
    """The listing/article date as the site prints it: `October 01, 2025`, `1 октября 2025`."""
    if lang == "en":
        return f"{EN_MONTHS[when.month - 1]} {when.day:02d}, {when.year}"
    return f"{when.day} {MONTHS[lang][when.month - 1]} {when.year}"


def excerpt(story: Story) -> str:
    """WordPress-style excerpt: the first 30 words of the text, then ` […]`."""
    ui = UI[story.lang]
    words = (story.lead + " " + ui["paras"][0]).split()
    return " ".join(words[:30]) + " […]"


def author_name(story: Story) -> str:
    return str(UI[story.lang]["authors"][story.author])


def person_id(story: Story) -> str:
    return "/#/schema/person/" + hashlib.md5(author_name(story).encode()).hexdigest()


ANALYTICS = """<script>
window.dataLayer = window.dataLayer || [];
function gtag(){dataLayer.push(arguments);}
gtag('js', new Date());
gtag('config', 'G-DEMO0000');
</script>"""

STYLE = """body{font-family:Georgia,serif;margin:0;color:#1d1d1f;background:#fafafa}
a{color:#1f5fa8}.site-header{background:#fff;border-bottom:3px solid #c0392b;padding:12px 24px;display:flex;gap:24px;align-items:center;flex-wrap:wrap}
.site-logo{font-weight:bold;font-size:1.2em;text-decoration:none;color:#1d1d1f}.main-nav ul{list-style:none;display:flex;gap:16px;margin:0;padding:0}
.lang-switcher{margin-left:auto}.container{display:flex;gap:32px;max-width:1100px;margin:24px auto;padding:0 16px}
.site-main{flex:3}.sidebar{flex:1;font-size:.9em}.news-card{display:flex;gap:16px;background:#fff;padding:16px;margin-bottom:16px}
.news-card__image{width:160px;height:90px;object-fit:cover;background:#ddd}.news-card__title{font-size:1.2em;margin:0 0 8px}
.news-card__date,.single-news__date{color:#777;font-size:.85em}.pagination a,.pagination span{margin-right:8px}
.single-news{background:#fff;padding:24px}.single-news figure img{max-width:100%;height:auto}
.last-news{margin-top:24px}.share-buttons{margin-top:24px;border-top:1px solid #eee;padding-top:12px}
.site-footer{background:#222;color:#ccc;padding:24px;margin-top:32px}.site-footer a{color:#fff}
.cookie-banner{position:fixed;bottom:0;left:0;right:0;background:#333;color:#fff;padding:12px 24px}
"""

SCRIPT = """document.addEventListener('DOMContentLoaded', function () {
  var banner = document.querySelector('.cookie-banner');
  if (banner && localStorage.getItem('cookies-answered')) { banner.remove(); }
  document.querySelectorAll('.cookie-banner button').forEach(function (b) {
    b.addEventListener('click', function () { localStorage.setItem('cookies-answered', '1'); banner.remove(); });
  });
});
"""


def header(lang: str) -> str:
    ui = UI[lang]
    items = []
    for slug, label in ui["nav"]:
        if slug == "office/":
            items.append(f'<li class="menu-item menu-item-has-children"><a href="/{lang}/{slug}">{label}</a>'
                         f'<ul class="sub-menu"><li class="menu-item"><a href="/{lang}/updates-of-work/">'
                         f'{escape(ui["updates"])}</a></li></ul></li>')
        else:
            items.append(f'<li class="menu-item"><a href="/{lang}/{slug}">{escape(label)}</a></li>')
    langs = []
    for code in ("en", "ru", "be"):
        current = ' class="current-lang"' if code == lang else ""
        langs.append(f'<a href="/{code}/news/" hreflang="{code}"{current}>{code.upper()}</a>')
    menu = "\n    ".join(items)
    return f"""<header class="site-header">
  <a class="site-logo" href="/{lang}/"><img src="/wp-content/themes/office/logo.png" alt="" width="32" height="32"> {escape(ui["site"])}</a>
  <nav class="main-nav" aria-label="Main menu"><ul id="menu-main" class="menu">
    {menu}
  </ul></nav>
  <div class="lang-switcher">{" ".join(langs)}</div>
</header>"""


def footer(lang: str) -> str:
    ui = UI[lang]
    return f"""<footer class="site-footer">
  <div class="footer-widgets">
    <p>{escape(ui["org"])}</p>
    <ul class="social"><li><a href="https://t.me/s/example_office" rel="noopener">Telegram</a></li><li><a href="https://www.youtube.com/@example-office" rel="noopener">YouTube</a></li></ul>
    <p><a href="/{lang}/contacts/">{escape(dict(ui["nav"])["contacts/"])}</a> · <a href="/{lang}/support/">{escape(dict(ui["nav"])["support/"])}</a></p>
  </div>
  <p class="copyright">© 2020–2025 {escape(ui["org"])}. {escape(ui["rights"])}</p>
</footer>
<div class="cookie-banner" role="dialog" aria-live="polite">
  <p>{escape(ui["cookie"])}</p>
  <button type="button" class="cookie-banner__accept">{escape(ui["accept"])}</button>
  <button type="button" class="cookie-banner__refuse">{escape(ui["refuse"])}</button>
</div>
<script src="/wp-content/themes/office/main.js?ver=1.4.2" id="office-main-js"></script>"""


def sidebar(lang: str, stories: list[Story]) -> str:
    ui = UI[lang]
    popular = "\n".join(
        f'      <li class="popular__item"><a href="{s.path}">{s.html_title}</a></li>'
        for s in stories[:4])
    return f"""<aside class="sidebar widget-area">
  <section class="widget widget-popular"><h3 class="widget-title">{escape(ui["popular"])}</h3>
    <ul class="popular">
{popular}
    </ul>
  </section>
  <section class="widget widget-subscribe"><h3 class="widget-title">{escape(ui["subscribe"])}</h3>
    <form class="subscribe-form" action="/wp-admin/admin-post.php" method="post">
      <input type="hidden" name="action" value="subscribe"><input type="email" name="email" placeholder="{escape(ui["email"])}">
      <button type="submit">OK</button>
    </form>
  </section>
</aside>"""


def head(lang: str, title: str, canonical: str, extra: str = "") -> str:
    ui = UI[lang]
    return f"""<!DOCTYPE html>
<html lang="{ui["html_lang"]}">
<head>
<meta charset="UTF-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - {escape(ui["site"])}</title>
<link rel="canonical" href="{canonical}">
<meta name="robots" content="index, follow, max-image-preview:large">
{extra}<link rel="stylesheet" id="office-style-css" href="/wp-content/themes/office/style.css?ver=1.4.2" media="all">
<link rel="icon" href="/wp-content/themes/office/logo.png" sizes="32x32">
{ANALYTICS}
</head>"""


def card(story: Story) -> str:
    image = ""
    if story.image == "card":
        image = (f'\n    <div class="news-card__thumb"><img class="news-card__image" src="{story.image_path}" '
                 f'alt="" loading="lazy" width="300" height="169"></div>')
    return f"""  <article class="news-card post-{story.hexid[:6]}">{image}
    <div class="news-card__body">
      <a class="news-card__link" href="{story.path}"><h2 class="news-card__title">{story.html_title}</h2></a>
      <div class="news-card__excerpt">{escape(excerpt(story), quote=False)}</div>
      <span class="news-card__date">{visible_date(story.lang, story.local)}</span>
    </div>
  </article>"""


def pagination(lang: str, base: str, page: int, pages: int) -> str:
    if pages == 1:
        return ""
    ui = UI[lang]

    def href(n: int) -> str:
        return base if n == 1 else f"{base}page/{n}/"
    parts = []
    if page > 1:
        parts.append(f'<a class="prev page-numbers" href="{href(page - 1)}">{escape(ui["prev"])}</a>')
    for n in range(1, pages + 1):
        if n == page:
            parts.append(f'<span aria-current="page" class="page-numbers current">{n}</span>')
        else:
            parts.append(f'<a class="page-numbers" href="{href(n)}">{n}</a>')
    if page < pages:
        parts.append(f'<a class="next page-numbers" href="{href(page + 1)}">{escape(ui["next"])}</a>')
    return '<nav class="pagination" aria-label="Pagination">\n  ' + "\n  ".join(parts) + "\n</nav>"


def listing_page(lang: str, heading: str, base: str, stories: list[Story], page: int, pages: int,
                 all_stories: list[Story]) -> str:
    url = base if page == 1 else f"{base}page/{page}/"
    rel = ""
    if page > 1:
        rel += f'<link rel="prev" href="{base if page == 2 else f"{base}page/{page - 1}/"}">\n'
    if page < pages:
        rel += f'<link rel="next" href="{base}page/{page + 1}/">\n'
    ui = UI[lang]
    graph = {"@context": "https://schema.org", "@graph": [
        {"@type": "CollectionPage", "@id": url, "url": url, "name": f"{heading} - {ui['site']}",
         "isPartOf": {"@id": "/#website"}, "inLanguage": ui["html_lang"]},
        {"@type": "WebSite", "@id": "/#website", "url": "/", "name": ui["site"],
         "publisher": {"@id": "/#organization"}},
        {"@type": "Organization", "@id": "/#organization", "name": ui["org"], "url": "/",
         "logo": {"@type": "ImageObject", "url": "/wp-content/themes/office/logo.png"}},
    ]}
    extra = (rel + f'<meta property="og:locale" content="{ui["og_locale"]}">\n'
             f'<meta property="og:type" content="website">\n'
             f'<meta property="og:title" content="{escape(heading)} - {escape(ui["site"])}">\n'
             f'<meta property="og:url" content="{url}">\n'
             f'<meta property="og:site_name" content="{escape(ui["site"])}">\n'
             f'<script type="application/ld+json" class="yoast-schema-graph">{ld_json(graph)}</script>\n')
    cards = "\n".join(card(s) for s in stories)
    paging = pagination(lang, base, page, pages)
    title = escape(heading) + (f" - Page {page} of {pages}" if page > 1 else "")
    return f"""{head(lang, title, url, extra)}
<body class="archive category paged-{page}">
{header(lang)}
<div class="container">
<main id="main" class="site-main">
<h1 class="page-title">{escape(heading)}</h1>
<div class="news-list">
{cards}
</div>
{paging}
</main>
{sidebar(lang, all_stories)}
</div>
{footer(lang)}
</body>
</html>
"""


def figure(story: Story, ui: dict[str, Any]) -> str:
    path = story.image_path
    if path is None:
        return ""
    stem = path[:-4]
    return (f'<figure class="wp-block-image size-large"><img src="{stem}-1024x576.jpg" '
            f'srcset="{stem}-300x169.jpg 300w, {stem}-1024x576.jpg 1024w, {path} 1200w" '
            f'sizes="(max-width: 1024px) 100vw, 1024px" alt="" width="1024" height="576" '
            f'decoding="async"><figcaption>{escape(ui["caption"])}</figcaption></figure>')


def share(story: Story, ui: dict[str, Any]) -> str:
    quoted = story.path.replace("/", "%2F")
    return (f'<div class="share-buttons"><span>{escape(ui["share"])}:</span> '
            f'<a class="share-fb" href="https://www.facebook.com/sharer/sharer.php?u={quoted}" target="_blank" rel="noopener">Facebook</a> '
            f'<a class="share-x" href="https://twitter.com/intent/tweet?url={quoted}" target="_blank" rel="noopener">X</a> '
            f'<a class="share-tg" href="https://t.me/share/url?url={quoted}" target="_blank" rel="noopener">Telegram</a></div>')


HOSTILE_BODY = """<p>The Office publishes a statement on freedom of expression &amp; the rights of people detained for their views, calling on partners to keep the issue on the agenda.
<p>The statement was prepared after consultations with human rights organisations and <b>lawyers</b> who work with families of detainees.
<script>alert(1)</script>
<img src=x onerror="alert(2)">
<p>Read the <a href="javascript:alert(3)">full text</a> or the <a href="jav&#x09;ascript:alert(4)">summary</a>.</p>
<iframe src="https://tracker.example/frame" width="600" height="400"></iframe>
<style>body{display:none}</style>
<img src="https://tracker.example/pixel.gif" width="1" height="1" alt="">
<img src="https://tracker.example/pixel-style.gif" style="width:1px;height:1px;border:0" alt="">
<svg onload="alert(5)"><circle r="1"></circle></svg>
<form action="https://tracker.example/steal" method="post"><input name=p><button>Sign</button></form>
<object data="https://tracker.example/x.swf" type="application/x-shockwave-flash"></object>
<div onclick="alert(6)">Click to sign the appeal</div>
<p>Also available as a <a href="data:text/html;base64,PHNjcmlwdD5hbGVydCg3KTwvc2NyaXB0Pg==">web page</a>.</p>
<meta http-equiv="refresh" content="0;url=https://tracker.example/">
<ul><li>Release of everyone detained for their views<li>An end to pressure on <em>independent media<li>Respect for the freedom of assembly</ul>
<p>The statement is open for signature by organisations until the end of the month.</span></p>
"""


def article_body(story: Story, index: int) -> str:
    ui = UI[story.lang]
    if story.title_html is not None:
        return HOSTILE_BODY + share(story, ui)
    paras = ui["paras"]
    quote, who = ui["quotes"][index % len(ui["quotes"])]
    others = [s for s in ALL_BY_LANG[story.lang] if s is not story]
    link = others[index % len(others)]
    parts = [f"<p>{escape(story.lead, quote=False)}</p>", f"<p>{escape(paras[0], quote=False)}</p>"]
    if story.report and ui["report"]:
        parts.append("<ul>" + "".join(f"<li>{escape(x)}</li>" for x in ui["report"]) + "</ul>")
    parts.append(figure(story, ui))
    parts.append(f'<p>{escape(paras[1 + index % 3], quote=False)} {escape(ui["more"])}: '
                 f'<a href="{link.path}">{link.html_title}</a>.</p>')
    parts.append(f'<blockquote class="wp-block-quote"><p>{escape(quote, quote=False)}</p><cite>{escape(who)}</cite></blockquote>')
    parts.append(f"<p>{escape(paras[4 + index % 2], quote=False)}</p>")
    parts.append(share(story, ui))
    return "\n".join(p for p in parts if p)


def article_page(story: Story, index: int) -> str:
    ui = UI[story.lang]
    published = story.local
    modified = published + timedelta(hours=1, minutes=25)
    url = story.path
    plain_title = story.title
    author = author_name(story)
    article_node: dict[str, Any] = {
        "@type": "NewsArticle", "@id": f"{url}#article", "isPartOf": {"@id": url},
        "author": {"name": author, "@id": person_id(story)}, "headline": plain_title,
        "datePublished": published.isoformat(), "dateModified": modified.isoformat(),
        "mainEntityOfPage": {"@id": url}, "wordCount": 240 + index * 7,
        "publisher": {"@id": "/#organization"}, "articleSection": [ui["news"]],
        "inLanguage": ui["html_lang"],
    }
    webpage: dict[str, Any] = {
        "@type": "WebPage", "@id": url, "url": url, "name": f"{plain_title} - {ui['site']}",
        "isPartOf": {"@id": "/#website"}, "datePublished": published.isoformat(),
        "dateModified": modified.isoformat(), "description": excerpt(story),
        "breadcrumb": {"@id": f"{url}#breadcrumb"}, "inLanguage": ui["html_lang"],
        "potentialAction": [{"@type": "ReadAction", "target": [url]}],
    }
    graph: list[dict[str, Any]] = [article_node, webpage]
    og_image = ""
    if story.image_path:
        article_node["image"] = {"@id": f"{url}#primaryimage"}
        article_node["thumbnailUrl"] = story.image_path
        webpage["primaryImageOfPage"] = {"@id": f"{url}#primaryimage"}
        graph.append({"@type": "ImageObject", "inLanguage": ui["html_lang"], "@id": f"{url}#primaryimage",
                      "url": story.image_path, "contentUrl": story.image_path, "width": 1200, "height": 675})
        og_image = (f'<meta property="og:image" content="{story.image_path}">\n'
                    f'<meta property="og:image:width" content="1200">\n<meta property="og:image:height" content="675">\n'
                    f'<meta property="og:image:type" content="image/jpeg">\n')
    graph += [
        {"@type": "BreadcrumbList", "@id": f"{url}#breadcrumb", "itemListElement": [
            {"@type": "ListItem", "position": 1, "name": ui["site"], "item": f"/{story.lang}/"},
            {"@type": "ListItem", "position": 2, "name": ui["news"], "item": f"/{story.lang}/news/"},
            {"@type": "ListItem", "position": 3, "name": plain_title}]},
        {"@type": "WebSite", "@id": "/#website", "url": "/", "name": ui["site"],
         "publisher": {"@id": "/#organization"}, "inLanguage": ui["html_lang"]},
        {"@type": "Organization", "@id": "/#organization", "name": ui["org"], "url": "/",
         "logo": {"@type": "ImageObject", "@id": "/#/schema/logo/image/",
                  "url": "/wp-content/themes/office/logo.png", "width": 32, "height": 32},
         "sameAs": ["https://t.me/s/example_office"]},
        {"@type": "Person", "@id": person_id(story), "name": author,
         "url": f"/{story.lang}/author/{hashlib.md5(author.encode()).hexdigest()[:8]}/"},
    ]
    ld = {"@context": "https://schema.org", "@graph": graph}
    attr_title = escape(plain_title)
    extra = (f'<meta property="og:locale" content="{ui["og_locale"]}">\n'
             f'<meta property="og:type" content="article">\n'
             f'<meta property="og:title" content="{attr_title}">\n'
             f'<meta property="og:description" content="{escape(excerpt(story))}">\n'
             f'<meta property="og:url" content="{url}">\n'
             f'<meta property="og:site_name" content="{escape(ui["site"])}">\n'
             f'<meta property="article:published_time" content="{published.isoformat()}">\n'
             f'<meta property="article:modified_time" content="{modified.isoformat()}">\n'
             f'{og_image}<meta name="author" content="{escape(author)}">\n'
             f'<meta name="twitter:card" content="summary_large_image">\n'
             f'<script type="application/ld+json" class="yoast-schema-graph">{ld_json(ld)}</script>\n')
    last = [s for s in ALL_BY_LANG[story.lang] if s is not story][:5]
    last_items = "\n".join(
        f'    <li class="last-news__item"><a href="{s.path}">{s.html_title}</a> '
        f'<span class="last-news__date">{visible_date(s.lang, s.local)}</span></li>' for s in last)
    return f"""{head(story.lang, attr_title, url, extra)}
<body class="news-template-default single single-news postid-{int(story.hexid[:5], 16)}">
{header(story.lang)}
<div class="container">
<main id="main" class="site-main">
<article class="single-news">
<nav class="breadcrumbs"><a href="/{story.lang}/">{escape(ui["site"])}</a> » <a href="/{story.lang}/news/">{escape(ui["news"])}</a></nav>
<h1 class="single-news__title">{story.html_title}</h1>
<div class="single-news__date">{visible_date(story.lang, published)}</div>
<div class="single-news__content">
{article_body(story, index)}
</div>
</article>
<section class="last-news">
  <h3>{escape(ui["last"])}</h3>
  <ul>
{last_items}
  </ul>
</section>
</main>
{sidebar(story.lang, ALL_BY_LANG[story.lang])}
</div>
{footer(story.lang)}
</body>
</html>
"""


def stub_page(lang: str, slug: str, label: str) -> str:
    ui = UI[lang]
    return f"""{head(lang, escape(label), f"/{lang}/{slug}")}
<body class="page">
{header(lang)}
<div class="container">
<main id="main" class="site-main">
<h1 class="page-title">{escape(label)}</h1>
<div class="entry-content"><p>{escape(ui["home_intro"])}</p></div>
</main>
</div>
{footer(lang)}
</body>
</html>
"""


def home_page(lang: str) -> str:
    ui = UI[lang]
    stories = NEWS_BY_LANG[lang][:3]
    cards = "\n".join(card(s) for s in stories)
    return f"""{head(lang, escape(ui["site"]), f"/{lang}/")}
<body class="home page">
{header(lang)}
<div class="container">
<main id="main" class="site-main">
<section class="intro"><p>{escape(ui["home_intro"])}</p></section>
<div class="news-list">
{cards}
</div>
<p><a class="more-link" href="/{lang}/news/">{escape(ui["read_more"])}</a></p>
</main>
{sidebar(lang, stories)}
</div>
{footer(lang)}
</body>
</html>
"""


ROOT_INDEX = """<!DOCTYPE html>
<html lang="en-US">
<head><meta charset="UTF-8"><title>Sviatlana Tsikhanouskaya — demo replica</title>
<link rel="stylesheet" href="/wp-content/themes/office/style.css?ver=1.4.2"></head>
<body class="home">
<main class="container"><div class="site-main">
<h1>Offline demo site</h1>
<p>A bundled replica of a WordPress press-office site, served on loopback by <code>syndicator demo</code>.
All content is invented.</p>
<ul>
<li><a href="/en/news/">News (English)</a> · <a href="/en/updates-of-work/">Updates of work</a></li>
<li><a href="/ru/news/">Новости (русский)</a></li>
<li><a href="/be/news/">Навіны (беларуская)</a></li>
</ul>
</div></main>
</body>
</html>
"""

ROBOTS = """User-agent: *
Disallow: /wp-admin/
Allow: /wp-admin/admin-ajax.php
"""

NEWS_BY_LANG = {"en": EN, "ru": RU, "be": BE}
ALL_BY_LANG = {"en": EN + [u for u in UPDATES if u not in EN], "ru": RU, "be": BE}


def build_demo() -> None:
    reset(DEMO)
    write(DEMO / "robots.txt", ROBOTS)
    write(DEMO / "index.html", ROOT_INDEX)
    theme = DEMO / "wp-content" / "themes" / "office"
    write(theme / "style.css", STYLE)
    write(theme / "main.js", SCRIPT)
    write(theme / "logo.png", png_bytes(32, 32, (192, 57, 43)))
    for lang, per_page in (("en", 6), ("ru", 5), ("be", 5)):
        news = NEWS_BY_LANG[lang]
        pages = [news[i:i + per_page] for i in range(0, len(news), per_page)]
        heading = str(UI[lang]["news"])
        for number, chunk in enumerate(pages, start=1):
            folder = DEMO / lang / "news" if number == 1 else DEMO / lang / "news" / "page" / str(number)
            write(folder / "index.html", listing_page(lang, heading, f"/{lang}/news/", chunk, number,
                                                      len(pages), news))
        write(DEMO / lang / "index.html", home_page(lang))
        for slug, label in UI[lang]["nav"]:
            if slug != "news/":
                write(DEMO / lang / slug / "index.html", stub_page(lang, slug, label))
    write(DEMO / "en" / "updates-of-work" / "index.html",
          listing_page("en", "Updates of work", "/en/updates-of-work/", UPDATES, 1, 1, UPDATES))
    for lang in ("ru", "be"):
        write(DEMO / lang / "updates-of-work" / "index.html",
              stub_page(lang, "updates-of-work/", str(UI[lang]["updates"])))
    for stories in ALL_BY_LANG.values():
        for index, story in enumerate(stories):
            write(DEMO / story.path.lstrip("/"), article_page(story, index))
            if story.image_path:
                data = JPEGS[index % len(JPEGS)]
                stem = story.image_path[:-4].lstrip("/")
                for suffix in ("", "-300x169", "-1024x576"):
                    write(DEMO / f"{stem}{suffix}.jpg", data)


def office_expected() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    listings = [("office-en", EN), ("office-ru", RU), ("office-be", BE), ("office-updates-en", UPDATES)]
    for source, stories in listings:
        for story in stories:
            rows.append({
                "url": story.path,
                "source": source,
                "title": story.title,
                "published": utc_z(story.local),
                "listing_date": visible_date(story.lang, story.local),
                "summary_startswith": excerpt(story)[:40].rstrip(),
                "image": story.image_path,
                "author": author_name(story),
                "language": story.lang,
            })
    return rows


# =============================================================================================
# tests/data/cp1251 — an old-style Russian regional news site in windows-1251
# =============================================================================================

@dataclass(frozen=True)
class Cp:
    folder: str      # "articles" (header + meta charset) or "nometa" (nothing declared)
    slug: str
    when: str        # "dd.mm.yyyy HH:MM", Europe/Minsk
    title: str
    lead: str
    body: tuple[str, ...]
    author: str

    @property
    def path(self) -> str:
        return f"/{self.folder}/{self.slug}.html"

    @property
    def local(self) -> datetime:
        return datetime.strptime(self.when, "%d.%m.%Y %H:%M").replace(tzinfo=MINSK)


CP_ARTICLES = [
    Cp("articles", "2022-01-01-novogodnyaya-noch", "01.01.2022 01:15",
       "Новогодняя ночь в Заречье прошла спокойно",
       "В первую ночь нового года на главной площади собралось около трёх тысяч человек; происшествий не зафиксировано.",
       ("Праздничная программа началась в десять вечера: выступали самодеятельные коллективы, а ровно в полночь над рекой зажёгся салют.",
        "Ещё до рассвета коммунальные службы убрали площадь, а к утру в город вернулось привычное движение общественного транспорта."),
       "Мария Ёлкина"),
    Cp("articles", "2021-11-12-festival-zolotaya-listva", "12.11.2021 09:05",
       "Фестиваль «Золотая листва» собрал более тысячи гостей",
       "Осенний фестиваль «Золотая листва» прошёл в городском парке в третий раз и собрал больше гостей, чем в прошлом году.",
       ("Мастера из соседних районов показывали плетение из лозы и роспись по дереву, а дети участвовали в конкурсе рисунков «Моя улица».",
        "Организаторы говорят, что в следующем году фестиваль продлится два дня и переедет на набережную."),
       "Пётр Зорин"),
    Cp("articles", "2021-09-20-novyj-most", "20.09.2021 17:45",
       "Ремонт моста через Припять завершат до конца октября",
       "Подрядчик уложил новый асфальт на мосту и приступил к установке ограждений; движение по одной полосе сохранится ещё месяц.",
       ("На объекте работают две смены. Инженеры проверили несущие конструкции и не нашли серьёзных повреждений.",
        "Жителей просят заранее планировать поездки: в часы пик у въезда на мост образуются заторы."),
       "Мария Ёлкина"),
    Cp("articles", "2021-06-03-vypusknoj", "03.06.2021 14:30",
       "Выпускники школ получили аттестаты на общем празднике",
       "Триста двенадцать выпускников собрались в Доме культуры, чтобы получить аттестаты и попрощаться со школой.",
       ("Лучших учеников наградили грамотами, а учителям вручили цветы от родительского комитета.",
        "Вечером на набережной прошёл концерт, который завершился общим вальсом выпускников."),
       "Пётр Зорин"),
    Cp("nometa", "2021-04-15-biblioteka", "15.04.2021 10:00",
       "Городская библиотека открыла читальный зал после обновления",
       "После полугодового ремонта в центральной библиотеке снова работает читальный зал: новые окна, удобная мебель и свободный доступ к интернету.",
       ("Посетители уже оценили светлое пространство с большими столами. Отдельный уголок отдан детской литературе, а у окна поставили кресла для тех, кто любит читать неторопливо, с чашкой чая.",
        "Фонд пополнился почти двумя тысячами книг: это и новинки современной прозы, и справочники, и краеведческие издания о истории Заречья. Часть книг подарили жители города, которые откликнулись на объявление о сборе.",
        "Библиотекари рассказывают, что по субботам в зале будут проходить встречи клуба любителей чтения, занятия для пенсионеров по работе с компьютером и лекции о местной истории. Вход на все встречи свободный.",
        "Читальный зал открыт ежедневно, кроме понедельника, с девяти утра до семи вечера. Записаться в библиотеку можно по паспорту, а ещё — получить электронный читательский билет."),
       "Анна Крылова"),
    Cp("articles", "2021-02-28-lyzhnya", "28.02.2021 08:20",
       "Последнюю лыжню зимы проложили в сосновом бору",
       "Любители лыжных прогулок вышли на традиционный забег «Лыжня Заречья», который закрывает зимний сезон.",
       ("Дистанция в пять километров проходила по сосновому бору; самым юным участникам было по шесть лет.",
        "После финиша всех угощали горячим чаем с блинами, а победителям вручили призы от районного спорткомитета."),
       "Мария Ёлкина"),
]

CP_HEAD = """<!DOCTYPE html PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" "http://www.w3.org/TR/html4/loose.dtd">
<html lang="ru">
<head>
{meta}<title>{title} — Новости Заречья</title>
<link rel="stylesheet" type="text/css" href="/css/main.css">
</head>
<body>
<table class="layout" width="100%" cellpadding="0" cellspacing="0"><tr><td class="top">
<a href="/" class="logo">Новости Заречья</a> | <a href="/news/">Все новости</a> | <a href="/contacts.html">Редакция</a>
</td></tr><tr><td class="content">
"""
CP_FOOT = """</td></tr><tr><td class="bottom">© 2005–2022 «Новости Заречья». Перепечатка материалов — только с разрешения редакции.</td></tr></table>
</body>
</html>
"""
CP_META = '<meta charset="windows-1251">\n'


def cp_listing(items: list[Cp], next_href: str | None, prev_href: str | None, page: int) -> str:
    rows = []
    for a in items:
        rows.append(f"""<div class="news-item">
  <span class="news-date">{a.when}</span>
  <a class="news-item__title" href="{a.path}">{escape(a.title, quote=False)}</a>
  <p class="news-lead">{escape(a.lead, quote=False)}</p>
</div>""")
    pager = '<div class="pager">'
    if prev_href:
        pager += f'<a class="pager-prev" href="{prev_href}">« Предыдущая страница</a> '
    pager += f"<b>{page}</b>"
    if next_href:
        pager += f' <a class="pager-next" href="{next_href}">Следующая страница »</a>'
    pager += "</div>"
    return (CP_HEAD.format(meta=CP_META, title="Новости") + "<h1>Новости</h1>\n"
            + "\n".join(rows) + "\n" + pager + "\n" + CP_FOOT)


def cp_article(a: Cp) -> str:
    meta = CP_META if a.folder == "articles" else ""
    body = "\n".join(f"<p>{escape(p, quote=False)}</p>" for p in (a.lead, *a.body))
    return (CP_HEAD.format(meta=meta, title=escape(a.title, quote=False))
            + f"""<h1 class="article-title">{escape(a.title, quote=False)}</h1>
<div class="article-meta"><span class="article-date">{a.when}</span> | <span class="article-author">{escape(a.author)}</span></div>
<div class="article-text">
{body}
</div>
<div class="article-tags">Теги: <a href="/tags/gorod/">город</a>, <a href="/tags/sobytiya/">события</a></div>
<div class="counter"><img src="/counter.gif?id=1" width="88" height="31" alt=""></div>
""" + CP_FOOT)


def build_cp1251() -> None:
    root = DATA / "cp1251"
    for name in ("news", "articles", "nometa", "css"):
        if (root / name).exists():
            shutil.rmtree(root / name)
    write(root / ".charset", "none\n")
    write(root / "articles" / ".charset", "windows-1251\n")
    write(root / "nometa" / ".charset", "none\n")
    write(root / "css" / "main.css", "body{font:13px Verdana,sans-serif}.news-date{color:#888}\n")
    write(root / "news" / "index.html", cp_listing(CP_ARTICLES[:4], "/news/page2.html", None, 1), "cp1251")
    write(root / "news" / "page2.html", cp_listing(CP_ARTICLES[4:], None, "/news/", 2), "cp1251")
    for a in CP_ARTICLES:
        write(root / a.path.lstrip("/"), cp_article(a), "cp1251")
    write_json(root / "expected.json", [{
        "url": a.path, "source": "zarechye-news", "title": a.title,
        "published": utc_z(a.local), "summary_startswith": a.lead[:40].rstrip(),
        "image": None, "author": a.author, "language": "ru",
        "declared_charset": "header+meta" if a.folder == "articles" else "none",
    } for a in CP_ARTICLES])


# =============================================================================================
# tests/data/jsonld — data only in JSON-LD or OpenGraph
# =============================================================================================

JL_BODY = {
    1: ("Riverside library extends opening hours",
        "The riverside branch library will open until nine in the evening on weekdays from next month.",
        "Staff say the change follows a survey in which most readers asked for later opening hours. The reading room, the children's corner and the computer desks will all be available in the evening."),
    2: ("Community garden opens twelve new plots",
        "Twelve new plots are available in the community garden behind the old railway station.",
        "Applications are accepted until the end of the month; priority goes to households without a garden of their own. Tools and seeds are shared."),
    3: ("Volunteer repair café celebrates its first year",
        "The volunteer repair café has fixed more than four hundred lamps, toasters and bicycles in its first year.",
        "Volunteers meet on the first Saturday of every month. Visitors bring broken things and learn to repair them together with the volunteers."),
    4: ("New bus line connects the hospital and the station",
        "A new bus line now links the central station with the regional hospital every twenty minutes.",
        "The line runs from six in the morning to eleven at night. Tickets bought for the city network are valid on the new line."),
}


def jl_page(n: int, head_extra: str) -> str:
    title, lead, more = JL_BODY[n]
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(title)} | Riverside Notes</title>
<link rel="canonical" href="/p/{n}.html">
{head_extra}</head>
<body>
<header><a href="/blog/">Riverside Notes</a></header>
<main>
<h2 class="post-heading">{escape(title)}</h2>
<div class="entry-content">
<p>{escape(lead)}</p>
<p>{escape(more)}</p>
</div>
</main>
<footer>Riverside Notes — a community blog</footer>
</body>
</html>
"""


def build_jsonld() -> None:
    root = DATA / "jsonld"
    for name in ("blog", "p", "img"):
        if (root / name).exists():
            shutil.rmtree(root / name)
    for n in range(1, 5):
        write(root / "img" / f"{n}.jpg", JPEGS[n % len(JPEGS)])
    # 1: a Yoast-style @graph; the author is named inline and as a Person node
    graph = {"@context": "https://schema.org", "@graph": [
        {"@type": "Article", "@id": "/p/1.html#article", "isPartOf": {"@id": "/p/1.html"},
         "author": {"name": "Jane Roe", "@id": "/#/schema/person/1"},
         "headline": JL_BODY[1][0], "description": JL_BODY[1][1],
         "datePublished": "2024-03-10T09:15:00+00:00", "dateModified": "2024-03-11T08:00:00+00:00",
         "mainEntityOfPage": {"@id": "/p/1.html"}, "image": {"@id": "/p/1.html#primaryimage"},
         "thumbnailUrl": "/img/1.jpg", "keywords": ["library", "city"], "inLanguage": "en"},
        {"@type": "WebPage", "@id": "/p/1.html", "url": "/p/1.html", "name": JL_BODY[1][0] + " | Riverside Notes",
         "description": JL_BODY[1][1], "datePublished": "2024-03-10T09:15:00+00:00"},
        {"@type": "ImageObject", "@id": "/p/1.html#primaryimage", "url": "/img/1.jpg", "contentUrl": "/img/1.jpg"},
        {"@type": "Person", "@id": "/#/schema/person/1", "name": "Jane Roe"},
        {"@type": "Organization", "@id": "/#organization", "name": "Riverside Notes"},
    ]}
    # 2: a plain NewsArticle object; negative offset across a leap day
    news = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": JL_BODY[2][0],
            "description": JL_BODY[2][1], "articleBody": JL_BODY[2][1] + " " + JL_BODY[2][2],
            "datePublished": "2024-02-29T23:30:00-05:00", "dateModified": "2024-03-01T10:00:00-05:00",
            "image": ["/img/2.jpg", "/img/2-wide.jpg"],
            "author": [{"@type": "Person", "name": "John Doe"}],
            "publisher": {"@type": "Organization", "name": "Riverside Notes"}}
    write(root / "img" / "2-wide.jpg", JPEGS[0])
    # 3: a BlogPosting inside a top-level list; the timestamp has no offset (source time zone)
    blog = [{"@context": "https://schema.org", "@type": "BreadcrumbList", "itemListElement": [
                {"@type": "ListItem", "position": 1, "name": "Blog", "item": "/blog/"}]},
            {"@context": "https://schema.org", "@type": "BlogPosting", "headline": JL_BODY[3][0],
             "description": JL_BODY[3][1], "datePublished": "2024-01-15T12:00:00",
             "image": "/img/3.jpg", "author": {"@type": "Person", "name": "Ana Lima"}}]
    # 4: OpenGraph + article:* only
    og = (f'<meta property="og:type" content="article">\n'
          f'<meta property="og:title" content="{escape(JL_BODY[4][0])}">\n'
          f'<meta property="og:description" content="{escape(JL_BODY[4][1])}">\n'
          f'<meta property="og:url" content="/p/4.html">\n<meta property="og:image" content="/img/4.jpg">\n'
          f'<meta property="article:published_time" content="2023-12-31T23:45:00+02:00">\n'
          f'<meta property="article:modified_time" content="2024-01-02T09:00:00+02:00">\n'
          f'<meta property="article:section" content="Transport">\n')
    pages = {
        1: f'<script type="application/ld+json" class="yoast-schema-graph">{ld_json(graph)}</script>\n',
        2: f'<script type="application/ld+json">\n{json.dumps(news, indent=2, ensure_ascii=False)}\n</script>\n',
        3: f'<script type="application/ld+json">{ld_json(blog)}</script>\n',
        4: og,
    }
    for n, extra in pages.items():
        write(root / "p" / f"{n}.html", jl_page(n, extra))
    links = [("/p/1.html", 1), ("/p/2.html?utm_source=blog&utm_medium=list", 2), ("/p/3.html", 3),
             ("/p/4.html", 4)]
    items = "\n".join(f'  <li><a href="{escape(href)}">{escape(JL_BODY[n][0])}</a></li>' for href, n in links)
    write(root / "blog" / "index.html", f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Riverside Notes</title></head>
<body>
<header><a href="/blog/">Riverside Notes</a></header>
<h1>Latest posts</h1>
<ul class="posts">
{items}
</ul>
<ul class="tags"><li><a href="/tags/city/">city</a></li></ul>
</body>
</html>
""")
    published = {1: "2024-03-10T09:15:00Z", 2: "2024-03-01T04:30:00Z",
                 3: "2024-01-15T11:00:00Z", 4: "2023-12-31T21:45:00Z"}
    authors = {1: "Jane Roe", 2: "John Doe", 3: "Ana Lima", 4: None}
    kinds = {1: "yoast-graph", 2: "newsarticle", 3: "blogposting-list", 4: "opengraph"}
    write_json(root / "expected.json", [{
        "url": f"/p/{n}.html", "source": "riverside-blog", "title": JL_BODY[n][0],
        "published": published[n], "summary_startswith": JL_BODY[n][1][:40].rstrip(),
        "image": f"/img/{n}.jpg", "author": authors[n], "language": "en", "kind": kinds[n],
    } for n in range(1, 5)])


# =============================================================================================
# tests/data/feeds
# =============================================================================================

RSS2 = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:media="http://search.yahoo.com/mrss/" xmlns:atom="http://www.w3.org/2005/Atom">
<channel>
  <title>City Hall News</title>
  <link>https://news.example.org/</link>
  <description>News from the city council</description>
  <language>en-gb</language>
  <lastBuildDate>Tue, 14 May 2024 09:00:00 +0200</lastBuildDate>
  <atom:link href="https://news.example.org/feed/" rel="self" type="application/rss+xml"/>
  <image><url>https://news.example.org/logo.png</url><title>City Hall News</title><link>https://news.example.org/</link></image>
  <item>
    <title>Council approves new cycling routes</title>
    <link>https://news.example.org/2024/05/cycling-routes</link>
    <guid isPermaLink="true">https://news.example.org/2024/05/cycling-routes</guid>
    <pubDate>Tue, 14 May 2024 08:30:00 +0200</pubDate>
    <dc:creator><![CDATA[Jane Roe]]></dc:creator>
    <category>Transport</category>
    <category>City</category>
    <description>Four new protected cycling routes will link the suburbs with the centre by next spring.</description>
    <content:encoded><![CDATA[<p>Four new protected cycling routes will link the suburbs with the centre by next spring.</p><p><img src="https://news.example.org/img/cycling-inline.jpg" alt=""> The routes total 14 km.</p>]]></content:encoded>
    <media:content url="https://news.example.org/img/cycling.jpg" medium="image" type="image/jpeg" width="1200" height="675"/>
  </item>
  <item>
    <title>Heating season ends on Friday</title>
    <link>https://news.example.org/2024/05/heating-season</link>
    <guid isPermaLink="true">https://news.example.org/2024/05/heating-season</guid>
    <pubDate>Mon, 13 May 2024 17:00:00 GMT</pubDate>
    <dc:creator>John Doe</dc:creator>
    <category>Utilities</category>
    <description>&lt;p&gt;District heating will be switched off on &lt;b&gt;Friday&lt;/b&gt; as temperatures rise.&lt;/p&gt;</description>
    <enclosure url="https://news.example.org/img/heating.jpg" length="12345" type="image/jpeg"/>
  </item>
  <item>
    <title>Parks &amp; recreation budget published</title>
    <link>https://news.example.org/2024/05/parks-budget</link>
    <guid isPermaLink="false">news-example-8812</guid>
    <pubDate>Sun, 12 May 2024 22:15:00 EST</pubDate>
    <dc:creator>Ana Lima</dc:creator>
    <category>Budget</category>
    <description>The draft budget for parks and recreation is open for comments until June.</description>
    <media:thumbnail url="https://news.example.org/img/parks.jpg" width="300" height="169"/>
  </item>
  <item>
    <title><![CDATA[Open day at the water works]]></title>
    <link>https://news.example.org/2024/05/open-day</link>
    <guid>https://news.example.org/2024/05/open-day</guid>
    <pubDate>Sat, 11 May 2024 09:00:00 +0000</pubDate>
    <description>Residents can visit the water treatment plant on Saturday between ten and four.</description>
  </item>
</channel>
</rss>
"""

RSS1 = """<?xml version="1.0" encoding="UTF-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://rdf.example.net/">
    <title>Science Desk</title>
    <link>https://rdf.example.net/</link>
    <description>Short science news</description>
    <items><rdf:Seq>
      <rdf:li rdf:resource="https://rdf.example.net/items/comet"/>
      <rdf:li rdf:resource="https://rdf.example.net/items/moss"/>
      <rdf:li rdf:resource="https://rdf.example.net/items/tides"/>
    </rdf:Seq></items>
  </channel>
  <item rdf:about="https://rdf.example.net/items/comet">
    <title>A comet will be visible next week</title>
    <link>https://rdf.example.net/items/comet</link>
    <description>Observers in the northern hemisphere can see the comet without a telescope.</description>
    <dc:date>2024-04-02T10:00:00+02:00</dc:date>
    <dc:creator>Mira Stone</dc:creator>
    <dc:subject>Astronomy</dc:subject>
  </item>
  <item rdf:about="https://rdf.example.net/items/moss">
    <title>Moss survives a year in orbit</title>
    <link>https://rdf.example.net/items/moss</link>
    <description>Samples of moss returned from the space station still grew after a year outside.</description>
    <dc:date>2024-04-01T23:30:00-04:00</dc:date>
    <dc:creator>Mira Stone</dc:creator>
  </item>
  <item rdf:about="https://rdf.example.net/items/tides">
    <title>Why tides differ along one coast</title>
    <link>https://rdf.example.net/items/tides</link>
    <description>The shape of the seabed explains why neighbouring harbours see different tides.</description>
    <dc:date>2024-03-31T12:00:00Z</dc:date>
  </item>
</rdf:RDF>
"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
  <title>Harbour Log</title>
  <id>urn:uuid:4f3c0e2a-1111-4c2b-9d55-3b0f1e7a0001</id>
  <updated>2024-06-10T12:00:00Z</updated>
  <link rel="self" href="https://atom.example.com/feed.atom"/>
  <link rel="alternate" href="https://atom.example.com/"/>
  <author><name>Harbour Office</name></author>
  <entry>
    <title>Ferry timetable changes for summer</title>
    <id>tag:atom.example.com,2024:ferry-summer</id>
    <link rel="alternate" type="text/html" href="https://atom.example.com/posts/ferry-summer"/>
    <link rel="enclosure" type="image/jpeg" href="https://atom.example.com/img/ferry.jpg" length="2048"/>
    <published>2024-06-10T08:00:00+02:00</published>
    <updated>2024-06-10T09:30:00+02:00</updated>
    <author><name>Lena Berg</name></author>
    <category term="Transport"/>
    <summary>Ferries will run every thirty minutes from the first of July.</summary>
    <content type="html">&lt;p&gt;Ferries will run every thirty minutes from the first of July.&lt;/p&gt;</content>
  </entry>
  <entry>
    <title type="html">Harbour &lt;em&gt;festival&lt;/em&gt; programme</title>
    <id>tag:atom.example.com,2024:festival</id>
    <link href="https://atom.example.com/posts/festival"/>
    <updated>2024-06-05T16:20:00Z</updated>
    <author><name>Lena Berg</name></author>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>The harbour festival opens with a parade of <strong>historic boats</strong>.</p><p>Boats gather at the <a href="https://atom.example.com/map">north pier</a>.</p></div></content>
  </entry>
  <entry>
    <title>Lighthouse restored</title>
    <id>tag:atom.example.com,2024:lighthouse</id>
    <link rel="alternate" href="https://atom.example.com/posts/lighthouse"/>
    <published>2024-06-01T10:00:00+05:30</published>
    <updated>2024-06-01T10:00:00+05:30</updated>
    <author><name>Harbour Office</name></author>
    <summary type="text">The old lighthouse at the north pier shines again after two years of restoration.</summary>
  </entry>
</feed>
"""

JSON_FEED = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "Mountain Weather Notes",
    "home_page_url": "https://json.example.org/",
    "feed_url": "https://json.example.org/feed.json",
    "language": "en",
    "authors": [{"name": "Weather Team"}],
    "items": [
        {"id": "https://json.example.org/notes/snow-line", "url": "https://json.example.org/notes/snow-line",
         "title": "Snow line rises to 2,400 metres",
         "content_html": "<p>The snow line has risen to <b>2,400 metres</b> after a warm week.</p>",
         "summary": "The snow line has risen to 2,400 metres after a warm week.",
         "image": "https://json.example.org/img/snow.jpg",
         "date_published": "2024-07-03T06:45:00+02:00", "date_modified": "2024-07-03T07:00:00+02:00",
         "tags": ["snow", "alps"], "authors": [{"name": "Tom Field", "url": "https://json.example.org/tom"}]},
        {"id": "storm-warning-2024-07-01", "url": "https://json.example.org/notes/storm-warning",
         "title": "Storm warning for the western valleys",
         "content_text": "Strong winds and hail are expected in the western valleys on Monday afternoon.",
         "date_published": "2024-07-01T12:00:00Z", "tags": ["storm"],
         "authors": [{"name": "Ria Moss"}]},
        {"id": "https://json.example.org/notes/trail-reopened", "url": "https://json.example.org/notes/trail-reopened",
         "title": "Ridge trail reopened",
         "content_html": "<p>The ridge trail is open again after repairs to the bridge.</p>",
         "banner_image": "https://json.example.org/img/trail-banner.jpg",
         "image": "https://json.example.org/img/trail.jpg",
         "date_published": "2024-06-28T18:30:00-01:00", "tags": ["trails"],
         "authors": [{"name": "Weather Team"}]},
    ],
}

RSS091 = """<?xml version="1.0" encoding="ISO-8859-1"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91">
<channel>
<title>Old Town Bulletin</title>
<link>http://bulletin.example.com/</link>
<description>A very old feed format</description>
<language>en-us</language>
<item>
<title>Market moves to the square</title>
<link>http://bulletin.example.com/market.html</link>
<description>The weekly market moves to the town square for the summer.</description>
</item>
<item>
<title>Caf\xe9 reopens</title>
<link>http://bulletin.example.com/cafe.html</link>
<description>The caf\xe9 by the bridge reopens after renovation.</description>
</item>
</channel>
</rss>
"""

RSS_CP1251 = """<?xml version="1.0" encoding="windows-1251"?>
<rss version="2.0">
<channel>
<title>Новости Заречья</title>
<link>https://zarechye.example.ru/</link>
<description>Городские новости</description>
<language>ru</language>
<item>
<title>Фестиваль «Золотая листва» собрал более тысячи гостей</title>
<link>https://zarechye.example.ru/articles/festival.html</link>
<description>Осенний фестиваль прошёл в городском парке в третий раз.</description>
<pubDate>Fri, 12 Nov 2021 09:05:00 +0300</pubDate>
<category>Культура</category>
</item>
<item>
<title>Ещё один мост отремонтируют к зиме</title>
<link>https://zarechye.example.ru/articles/most.html</link>
<description>Подрядчик приступил к ремонту второго моста через реку.</description>
<pubDate>Mon, 20 Sep 2021 17:45:00 +0300</pubDate>
</item>
</channel>
</rss>
"""


def laughs() -> str:
    entities = ['  <!ENTITY lol "lol">']
    previous = "lol"
    for level in range(1, 10):
        name = f"lol{level}"
        entities.append(f'  <!ENTITY {name} "' + f"&{previous};" * 10 + '">')
        previous = name
    return ("<?xml version=\"1.0\"?>\n<!DOCTYPE rss [\n" + "\n".join(entities) + "\n]>\n"
            "<rss version=\"2.0\"><channel><title>Laughs</title><link>https://laughs.example/</link>\n"
            "<description>&lol9;</description>\n<item><title>&lol9;</title>"
            "<link>https://laughs.example/1</link><description>&lol9;</description></item>\n"
            "</channel></rss>\n")


XXE = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE rss [
  <!ENTITY xxe SYSTEM "file:///etc/passwd">
]>
<rss version="2.0">
<channel>
<title>Innocent feed</title>
<link>https://xxe.example/</link>
<description>Nothing to see here</description>
<item>
<title>&xxe;</title>
<link>https://xxe.example/1</link>
<description>Secret: &xxe;</description>
</item>
</channel>
</rss>
"""


def build_feeds() -> None:
    root = DATA / "feeds"
    root.mkdir(parents=True, exist_ok=True)
    # No charset in the Content-Type: the XML declaration (or JSON's UTF-8) decides.
    write(root / ".charset", "none\n")
    write(root / "rss2.xml", RSS2)
    write(root / "rss1.rdf", RSS1)
    write(root / "atom.xml", ATOM)
    write(root / "feed.json", json.dumps(JSON_FEED, ensure_ascii=False, indent=2) + "\n")
    write(root / "rss091.xml", RSS091, "iso-8859-1")
    write(root / "rss-cp1251.xml", RSS_CP1251, "cp1251")
    write(root / "laughs.xml", laughs())
    write(root / "xxe.xml", XXE)

    def item(url: str, title: str, published: str | None, summary: str, image: str | None,
             author: str | None, categories: list[str]) -> dict[str, Any]:
        return {"url": url, "title": title, "published": published,
                "summary_startswith": summary[:40].rstrip(), "image": image, "author": author,
                "categories": categories}
    expected = {
        "rss2.xml": {"source": "feed-rss2", "format": "rss20", "items": [
            item("https://news.example.org/2024/05/cycling-routes", "Council approves new cycling routes",
                 "2024-05-14T06:30:00Z", "Four new protected cycling routes will link the suburbs",
                 "https://news.example.org/img/cycling.jpg", "Jane Roe", ["Transport", "City"]),
            item("https://news.example.org/2024/05/heating-season", "Heating season ends on Friday",
                 "2024-05-13T17:00:00Z", "District heating will be switched off on Friday",
                 "https://news.example.org/img/heating.jpg", "John Doe", ["Utilities"]),
            item("https://news.example.org/2024/05/parks-budget", "Parks & recreation budget published",
                 "2024-05-13T03:15:00Z", "The draft budget for parks and recreation is open",
                 "https://news.example.org/img/parks.jpg", "Ana Lima", ["Budget"]),
            item("https://news.example.org/2024/05/open-day", "Open day at the water works",
                 "2024-05-11T09:00:00Z", "Residents can visit the water treatment plant",
                 None, None, []),
        ]},
        "rss1.rdf": {"source": "feed-rss1", "format": "rss10", "items": [
            item("https://rdf.example.net/items/comet", "A comet will be visible next week",
                 "2024-04-02T08:00:00Z", "Observers in the northern hemisphere can see", None,
                 "Mira Stone", ["Astronomy"]),
            item("https://rdf.example.net/items/moss", "Moss survives a year in orbit",
                 "2024-04-02T03:30:00Z", "Samples of moss returned from the space station", None,
                 "Mira Stone", []),
            item("https://rdf.example.net/items/tides", "Why tides differ along one coast",
                 "2024-03-31T12:00:00Z", "The shape of the seabed explains why", None, None, []),
        ]},
        "atom.xml": {"source": "feed-atom", "format": "atom10", "items": [
            item("https://atom.example.com/posts/ferry-summer", "Ferry timetable changes for summer",
                 "2024-06-10T06:00:00Z", "Ferries will run every thirty minutes from the first",
                 "https://atom.example.com/img/ferry.jpg", "Lena Berg", ["Transport"]),
            item("https://atom.example.com/posts/festival", "Harbour festival programme",
                 "2024-06-05T16:20:00Z", "The harbour festival opens with a parade of historic boats",
                 None, "Lena Berg", []),
            item("https://atom.example.com/posts/lighthouse", "Lighthouse restored",
                 "2024-06-01T04:30:00Z", "The old lighthouse at the north pier shines again", None,
                 "Harbour Office", []),
        ]},
        "feed.json": {"source": "feed-json", "format": "json11", "items": [
            item("https://json.example.org/notes/snow-line", "Snow line rises to 2,400 metres",
                 "2024-07-03T04:45:00Z", "The snow line has risen to 2,400 metres after a warm week.",
                 "https://json.example.org/img/snow.jpg", "Tom Field", ["snow", "alps"]),
            item("https://json.example.org/notes/storm-warning", "Storm warning for the western valleys",
                 "2024-07-01T12:00:00Z", "Strong winds and hail are expected in the western valleys",
                 None, "Ria Moss", ["storm"]),
            item("https://json.example.org/notes/trail-reopened", "Ridge trail reopened",
                 "2024-06-28T19:30:00Z", "The ridge trail is open again after repairs to the bridge.",
                 "https://json.example.org/img/trail.jpg", "Weather Team", ["trails"]),
        ]},
        "rss091.xml": {"source": "feed-rss091", "format": "rss091", "items": [
            item("http://bulletin.example.com/market.html", "Market moves to the square", None,
                 "The weekly market moves to the town square for the summer.", None, None, []),
            item("http://bulletin.example.com/cafe.html", "Café reopens", None,
                 "The café by the bridge reopens after renovation.", None, None, []),
        ]},
        "rss-cp1251.xml": {"source": "feed-cp1251", "format": "rss20", "items": [
            item("https://zarechye.example.ru/articles/festival.html",
                 "Фестиваль «Золотая листва» собрал более тысячи гостей", "2021-11-12T06:05:00Z",
                 "Осенний фестиваль прошёл в городском парке в третий раз.", None, None, ["Культура"]),
            item("https://zarechye.example.ru/articles/most.html", "Ещё один мост отремонтируют к зиме",
                 "2021-09-20T14:45:00Z", "Подрядчик приступил к ремонту второго моста через реку.",
                 None, None, []),
        ]},
        "laughs.xml": {"source": "feed-laughs", "error": "UnsafeDocument", "items": []},
        "xxe.xml": {"source": "feed-xxe", "error": "UnsafeDocument", "items": []},
    }
    write_json(root / "expected.json", expected)


def main() -> None:
    build_demo()
    write_json(DATA / "office" / "expected.json", office_expected())
    build_cp1251()
    build_jsonld()
    build_feeds()


if __name__ == "__main__":
    main()
