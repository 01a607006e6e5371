"""Extraction quality on public test sets of real pages: article bodies and publication dates.

    python -m bench.extraction --corpus AEB_DIR [--dates HTMLDATE_DIR] [--json out.json]

`--corpus` is a checkout of github.com/scrapinghub/article-extraction-benchmark (its
`ground-truth.json` and `html/*.html.gz`: 181 news pages with their article body as text).
Each contender's body text is scored as that benchmark's `evaluate.py` does: shingles of 4
word tokens (`\\w+`); per page true/false positives and false negatives normalised to sum to
1; precision and recall averaged over the pages, F1 from the two averages (± is the standard
deviation of 1,000 bootstrap resamples of the pages, seeded). Contenders:

    syndicator   extract_article_markup(page, url, no selectors).content, sanitised, as text
    old guess    what it was before trafilatura: the JSON-LD articleBody, else the best of
                 [itemprop=articleBody], .entry-content, .post-content, article, main
    trafilatura  trafilatura.extract(page, include_comments=False), as the benchmark runs it

`--dates` is a checkout of github.com/adbar/htmldate: its evaluation set (tests/eval_*.json,
the pages under tests/eval, tests/cache and tests/test_set, the publication day of each).
A page counts as right when the day found is the expected one (htmldate's `evaluate_result`:
a date on a page without one, or a wrong day, is a false positive; none found where one is
expected, a false negative). Syndicator's date is the one normalise.py would publish the
page with (dates.choose_date over the page's candidates; no selectors), its day as the page
wrote it; htmldate's figures are find_date's, as its own comparison.py runs it
(original_date, with and without extensive_search).

Nothing of either corpus is stored in this repository: pass the checkouts.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from syndicator.dates import choose_date, parse_date
from syndicator.extract.html import base_url, parse_html
from syndicator.extract.selectors import extract_article_markup, guessed_content
from syndicator.extract.structured import extract_structured
from syndicator.sanitise import clean_text, sanitize_html

_TOKEN = re.compile(r"\w+")
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
SHINGLE = 4
BOOTSTRAP = 1000
TpFpFn = tuple[float, float, float]


# --- body text -------------------------------------------------------------------------------

def shingle_counts(text: str, n: int = SHINGLE) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    return Counter(tuple(tokens[i:i + n]) for i in range(max(1, len(tokens) - n + 1))
                   if tokens[i:i + n])


def tp_fp_fn(true: str, pred: str) -> TpFpFn:
    """One page's shingle matches, normalised so that a long page weighs no more."""
    expected, found = shingle_counts(true), shingle_counts(pred)
    tp = sum((expected & found).values())
    fp = sum((found - expected).values())
    fn = sum((expected - found).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def _precision(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fp == 0 else tp / (tp + fp)


def _recall(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fn == 0 else tp / (tp + fn)


def scores(rows: Sequence[TpFpFn]) -> dict[str, float]:
    # Pages where nothing was predicted count for recall only (as in evaluate.py); no
    # prediction at all is precision 0, not an error.
    precision = _mean([_precision(*r) for r in rows if r[0] + r[1] > 0])
    recall = _mean([_recall(*r) for r in rows if r[0] + r[2] > 0])
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"f1": f1, "precision": precision, "recall": recall}


def _mean(values: Sequence[float]) -> float:
    return statistics.mean(values) if values else 0.0


def with_spread(rows: Sequence[TpFpFn]) -> dict[str, float]:
    result = scores(rows)
    rng = random.Random(0)
    samples = [scores([rows[rng.randrange(len(rows))] for _ in rows]) for _ in range(BOOTSTRAP)]
    for key in ("f1", "precision", "recall"):
        result[f"{key}_std"] = statistics.stdev(s[key] for s in samples)
    return result


def syndicator_body(html: str, url: str) -> str:
    article = extract_article_markup(html, url, None)
    return clean_text(sanitize_html(article.content or "", base_url=url))


def old_guess_body(html: str, url: str) -> str:
    soup = parse_html(html)
    body = extract_structured(soup, url).content or guessed_content(soup, base_url(soup, url))
    return clean_text(sanitize_html(body or "", base_url=url))


def trafilatura_body(html: str, url: str) -> str:
    import trafilatura

    return trafilatura.extract(html, include_comments=False) or ""


BODY_CONTENDERS: dict[str, Callable[[str, str], str]] = {
    "syndicator": syndicator_body,
    "old guess": old_guess_body,
    "trafilatura": trafilatura_body,
}


@dataclass
class Contender:
    rows: list[Any] = field(default_factory=list)
    seconds: float = 0.0


def bench_bodies(corpus: Path) -> dict[str, dict[str, float]]:
    truth: dict[str, dict[str, str]] = json.loads((corpus / "ground-truth.json").read_text())
    results = {name: Contender() for name in BODY_CONTENDERS}
    for key, expected in truth.items():
        with gzip.open(corpus / "html" / f"{key}.html.gz", "rt", encoding="utf-8") as f:
            html = f.read()
        url = expected.get("url") or "https://example.org/"
        for name, extract in BODY_CONTENDERS.items():
            started = time.perf_counter()
            text = extract(html, url)
            results[name].seconds += time.perf_counter() - started
            results[name].rows.append(tp_fp_fn(expected.get("articleBody", ""), text))
    return {name: {**with_spread(c.rows), "pages": len(c.rows),
                   "ms_per_page": 1000 * c.seconds / len(c.rows)}
            for name, c in results.items()}


# --- dates -----------------------------------------------------------------------------------

def _read_page(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
        return str(best) if best is not None else data.decode("utf-8", errors="replace")


def date_pages(checkout: Path) -> list[tuple[str, Path, str | None]]:
    """(url, file, expected day or None) for each page of htmldate's evaluation set."""
    tests = checkout / "tests"
    pages: list[tuple[str, Path, str | None]] = []
    for name in ("eval_mediacloud_2020.json", "eval_default.json"):
        for url, data in json.loads((tests / name).read_text(encoding="utf-8")).items():
            for directory in ("test_set", "cache", "eval"):
                path = tests / directory / data["file"]
                if path.is_file():
                    pages.append((url, path, data.get("date")))
                    break
    return pages


def syndicator_date(html: str, url: str) -> str | None:
    """The day of the date Syndicator would publish the page with, as the page wrote it: the
    chosen candidate's own YYYY-MM-DD when it starts with one (Syndicator keeps the instant
    in UTC, whose day can differ from the page's by one), else the UTC day."""
    article = extract_article_markup(html, url, None)
    now = datetime.now(UTC)
    chosen = choose_date(article.dates, language=article.language, timezone="UTC", now=now)
    if chosen is None:
        return None
    for candidate in article.dates:
        written = _ISO_DAY.match(candidate.strip())
        if written and parse_date(candidate, language=article.language, timezone="UTC",
                                  now=now) == chosen:
            return written.group(0)
    return chosen.value.astimezone(UTC).date().isoformat()


def htmldate_date(extensive: bool) -> Callable[[str, str], str | None]:
    def run(html: str, url: str) -> str | None:
        from htmldate import find_date

        found = find_date(html, original_date=True, extensive_search=extensive)
        return str(found) if found else None
    return run


DATE_CONTENDERS: dict[str, Callable[[str, str], str | None]] = {
    "syndicator": syndicator_date,
    "htmldate (extensive)": htmldate_date(True),
    "htmldate (fast)": htmldate_date(False),
}


def bench_dates(checkout: Path) -> dict[str, dict[str, float]]:
    pages = date_pages(checkout)
    results = {name: Contender() for name in DATE_CONTENDERS}
    for url, path, expected in pages:
        html = _read_page(path)
        for name, find in DATE_CONTENDERS.items():
            started = time.perf_counter()
            try:
                found = find(html, url)
            except Exception as exc:  # a contender's crash is a miss, and reported
                print(f"{name}: {path.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
                found = None
            results[name].seconds += time.perf_counter() - started
            results[name].rows.append(_date_outcome(found, expected))
    return {name: {**_date_scores(c.rows), "pages": len(c.rows),
                   "ms_per_page": 1000 * c.seconds / len(c.rows)}
            for name, c in results.items()}


def _date_outcome(found: str | None, expected: str | None) -> str:
    if found is None:
        return "tn" if expected is None else "fn"
    return "tp" if found == expected else "fp"


def _date_scores(outcomes: Sequence[str]) -> dict[str, float]:
    count = Counter(outcomes)
    tp, fp, fn, tn = count["tp"], count["fp"], count["fn"], count["tn"]
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"accuracy": (tp + tn) / len(outcomes), "precision": precision, "recall": recall,
            "f1": f1, "right": tp, "wrong": fp, "missed": fn}


# --- report ----------------------------------------------------------------------------------

def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


def body_table(results: dict[str, dict[str, float]]) -> str:
    lines = ["| contender | F1 | precision | recall | ms/page |", "|---|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['f1']:.3f} ± {r['f1_std']:.3f} "
                     f"| {r['precision']:.3f} ± {r['precision_std']:.3f} "
                     f"| {r['recall']:.3f} ± {r['recall_std']:.3f} | {r['ms_per_page']:.1f} |")
    return "\n".join(lines)


def date_table(results: dict[str, dict[str, float]]) -> str:
    lines = ["| contender | accuracy | precision | recall | F1 | right / wrong / missed "
             "| ms/page |", "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['accuracy']:.3f} | {r['precision']:.3f} "
                     f"| {r['recall']:.3f} | {r['f1']:.3f} "
                     f"| {r['right']:.0f} / {r['wrong']:.0f} / {r['missed']:.0f} "
                     f"| {r['ms_per_page']:.1f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True,
                        help="checkout of scrapinghub/article-extraction-benchmark")
    parser.add_argument("--dates", type=Path, help="checkout of adbar/htmldate")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    versions = {p: _version(p) for p in ("trafilatura", "htmldate")}
    print("versions: " + ", ".join(f"{p} {v}" for p, v in versions.items()))
    out: dict[str, Any] = {"versions": versions}
    out["bodies"] = bench_bodies(args.corpus)
    pages = next(iter(out["bodies"].values()))["pages"]
    print(f"\nArticle bodies ({pages:.0f} pages, 4-word shingles):\n")
    print(body_table(out["bodies"]))
    if args.dates:
        out["dates"] = bench_dates(args.dates)
        pages = next(iter(out["dates"].values()))["pages"]
        print(f"\nPublication days ({pages:.0f} pages):\n")
        print(date_table(out["dates"]))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
