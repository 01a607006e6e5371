"""Feeds in 16 charsets, each declared in the HTTP header, in the XML declaration, in both
(conflicting: the header is right, RFC 7303), nowhere, and (UTF-16/32) by byte-order mark
only: how many Syndicator reads correctly, next to feedparser on its own.

    python -m bench.charsets [--show-failures]

A feed counts as read when its item's title and description come out exactly as written.
Syndicator: decode.decode_page (what the fetcher does with the body and its Content-Type)
then extract.feed.parse_feed. feedparser: feedparser.parse on the bytes with the same header.
All texts are invented here.
"""

from __future__ import annotations

import argparse
import codecs
import io
from collections.abc import Iterator
from dataclasses import dataclass

FRENCH = ("Le café de la gare a été rénové cet été ; les habitués sont ravis et déjà nombreux "
          "à revenir à l'heure du déjeuner. Même le maître d'hôtel, d'habitude si réservé, a "
          "souri en voyant la façade repeinte — « enfin », a-t-il dit.")
POLISH = ("Zażółć gęślą jaźń. W Warszawie odbyła się konferencja prasowa poświęcona rozwojowi "
          "transportu publicznego; władze obiecują nowe tramwaje i autobusy, a także dłuższe "
          "linie metra, które skrócą podróż mieszkańcom odległych dzielnic.")
CZECH = ("Příliš žluťoučký kůň úpěl ďábelské ódy. V Praze se dnes konala tisková konference o "
         "rozvoji městské hromadné dopravy; radní slíbili nové tramvaje, delší linky metra a "
         "častější spoje do okrajových čtvrtí.")
RUSSIAN = ("Как пережить зиму в большом городе: советы врачей и психологов. Москва готовится к "
           "сильным морозам, синоптики обещают до минус тридцати градусов. Власти открыли "
           "пункты обогрева, а коммунальные службы работают в усиленном режиме.")
GREEK = ("Η κυβέρνηση ανακοίνωσε σήμερα νέο πρόγραμμα στήριξης των μικρών επιχειρήσεων στις "
         "περιφέρειες. Σύμφωνα με τον υπουργό, περισσότερες από χίλιες επιχειρήσεις θα λάβουν "
         "χρήματα μέχρι το τέλος του έτους.")
JAPANESE = ("東京都は新しい地震対策について発表しました。専門家によると、来年には新しい規則が"
            "導入される見込みです。住民の皆さんは非常用の水と食料を準備してください。")
KOREAN = ("서울시는 새로운 교통 정책을 발표했습니다. 전문가들은 이번 조치가 시민들의 생활에 큰 "
          "변화를 가져올 것이라고 말했습니다. 지하철 노선도 연장될 예정입니다.")
SIMPLIFIED = ("北京市政府今天宣布了新的交通政策。专家表示，这项措施将给市民的生活带来很大的变化。"
              "地铁线路也将延长，公交车将更加准时。")
TRADITIONAL = ("台北市政府今天宣布了新的交通政策。專家表示，這項措施將給市民的生活帶來很大的變化。"
               "捷運路線也將延長，公車將更加準時。")
MIXED = "Grüße aus Minsk — Прывітанне, 東京, 서울 ☕ " + FRENCH

# Charset label → the text written in it.
CHARSETS: dict[str, str] = {
    "utf-8": MIXED, "utf-16le": MIXED, "utf-16be": MIXED, "utf-32le": MIXED,
    "utf-32be": MIXED, "windows-1252": FRENCH, "iso-8859-2": POLISH, "windows-1250": CZECH,
    "windows-1251": RUSSIAN, "koi8-r": RUSSIAN, "iso-8859-7": GREEK, "shift_jis": JAPANESE,
    "euc-jp": JAPANESE, "euc-kr": KOREAN, "gb2312": SIMPLIFIED, "big5": TRADITIONAL,
}
MODES = ("header", "declaration", "conflict", "none", "bom")
_WIDE = ("utf-16", "utf-32")


@dataclass(frozen=True)
class Case:
    charset: str
    mode: str
    raw: bytes
    content_type: str
    title: str
    description: str


def _stale(charset: str) -> str:
    """A wrong label for the XML declaration of the conflict cases."""
    return "utf-8" if charset == "windows-1252" else "windows-1252"


def cases() -> Iterator[Case]:
    """Every charset in every mode that applies (a byte-order mark only to UTF-16/32)."""
    for charset, text in CHARSETS.items():
        title, description = text.split(". ", 1)[0], text
        for mode in MODES:
            wide = charset.startswith(_WIDE)
            if mode == "bom" and not wide:
                continue
            label = {"declaration": charset, "conflict": _stale(charset)}.get(mode)
            decl = f' encoding="{label}"' if label else ""
            xml = (f'<?xml version="1.0"{decl}?>\n<rss version="2.0"><channel>'
                   f"<title>Charsets</title><link>https://feed.example/</link>"
                   f"<description>{charset} {mode}</description><item><title>{title}</title>"
                   f"<link>https://feed.example/{charset}/{mode}</link>"
                   f"<description>{description}</description></item></channel></rss>")
            raw = xml.encode(charset)
            if mode == "bom":
                raw = codecs.lookup(charset).encode("\ufeff")[0] + raw
            header = "application/rss+xml"
            if mode in ("header", "conflict"):
                header += f"; charset={charset}"
            yield Case(charset, mode, raw, header, title, description)


def syndicator_reads(case: Case) -> bool:
    from syndicator.decode import decode_page
    from syndicator.errors import ExtractError
    from syndicator.extract.feed import parse_feed
    from syndicator.model import Body

    url = f"https://feed.example/{case.charset}.xml"
    page = decode_page(Body(url=url, final_url=url, status=200, raw=case.raw,
                            content_type=case.content_type))
    try:
        articles = parse_feed(page)
    except ExtractError:
        return False
    return bool(articles) and (articles[0].title, articles[0].summary) == (case.title,
                                                                           case.description)


def feedparser_reads(case: Case) -> bool:
    import feedparser

    parsed = feedparser.parse(io.BytesIO(case.raw),
                              response_headers={"content-type": case.content_type})
    entries = parsed.get("entries") or []
    return bool(entries) and (entries[0].get("title"), entries[0].get("summary")) == (
        case.title, case.description)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--show-failures", action="store_true")
    args = parser.parse_args()
    all_cases = list(cases())
    ours = [syndicator_reads(c) for c in all_cases]
    theirs = [feedparser_reads(c) for c in all_cases]
    print(f"{'charset':<14}" + "".join(f"{m:>13}" for m in MODES))
    for charset in CHARSETS:
        row = []
        for mode in MODES:
            found = [(o, t) for c, o, t in zip(all_cases, ours, theirs, strict=True)
                     if (c.charset, c.mode) == (charset, mode)]
            row.append("".join(f"{'S' if o else '-'}{'F' if t else '-'}" for o, t in found)
                       or "n/a")
        print(f"{charset:<14}" + "".join(f"{cell:>13}" for cell in row))
    print(f"\nS = Syndicator reads it, F = feedparser alone reads it; {len(all_cases)} feeds")
    print(f"Syndicator {sum(ours)}/{len(all_cases)}, feedparser {sum(theirs)}/{len(all_cases)}")
    if args.show_failures:
        for case, good in zip(all_cases, ours, strict=True):
            if not good:
                print(f"  Syndicator misreads {case.charset} ({case.mode})")


if __name__ == "__main__":
    main()
