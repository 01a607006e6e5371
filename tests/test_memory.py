"""What a build imports, in its own process and in its archive worker, and what a page worker
imports: their imports are most of their memory (bench/README.md, "memory"), so modules they
do not need stay out."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

from syndicator.config import load_config
from syndicator.store import Store

CONFIG = """
site: {title: "Test feeds", base_url: "http://127.0.0.1:8080/"}
storage: "sqlite:///store.db"
output_dir: feeds
sources:
  - {id: news, type: feed, url: "http://127.0.0.1:9/feed.xml", language: en}
feeds:
  - {id: news, title: "News", sources: [news]}
"""

# Reading pages (requests, the extraction stack, dateparser, nh3), migrating (alembic).
NOT_FOR_A_BUILD = {"requests", "selectolax", "dateparser", "nh3", "alembic",
                   "syndicator.fetch", "syndicator.workers", "syndicator.pipeline"}
# The worker renders archive pages and reads items: no SQLAlchemy, no feedgen or lxml (the
# subscription documents' writer), no jinja2 (the index page).
NOT_FOR_A_WORKER = {"sqlalchemy", "alembic", "feedgen", "lxml", "jinja2"}

_REPORT = ("import json\n"
           "print(json.dumps(sorted(m for m in sys.modules if m in WANTED "
           "or m.split('.')[0] in WANTED)))")


def _imported(code: str, wanted: set[str], stdin: bytes = b"") -> list[str]:
    """Which of `wanted` a fresh interpreter has imported after running `code`."""
    script = f"import sys\nWANTED = {sorted(wanted)!r}\n{code}\n{_REPORT}\n"
    done = subprocess.run([sys.executable, "-c", script], input=stdin, capture_output=True,
                          check=True)
    result: list[str] = json.loads(done.stdout)
    return result


def test_a_build_imports_nothing_for_reading_pages(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    Store(load_config(path).storage_url).close()   # the schema exists: nothing to migrate
    code = ("from datetime import UTC, datetime\n"
            "from syndicator.app import make_app\n"
            "from syndicator.config import load_config\n"
            "from syndicator.publish import build_feeds\n"
            f"config = load_config({str(path)!r})\n"
            "with make_app(config) as app:\n"
            "    build_feeds(config, app.store, datetime.now(UTC))\n")
    assert _imported(code, NOT_FOR_A_BUILD) == []
    assert (tmp_path / "feeds" / "news.atom").exists()


def test_the_archive_worker_imports_no_sqlalchemy_and_no_feedgen(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        factory = store.reopener()
    finally:
        store.close()
    # What a build's worker imports (processes.py, then the tasks and their preparation),
    # then it opens the store.
    code = ("import syndicator.processes\n"
            "from syndicator.publish.parallel_worker import keys_task, prepare, render_task\n"
            "prepare()\n"
            "pickle = __import__('pickle')\n"
            "pickle.loads(sys.stdin.buffer.read())().items_for_build(['x'])\n")
    assert _imported(code, NOT_FOR_A_WORKER, pickle.dumps(factory)) == []


# A page worker reads article pages: no feed or sitemap parsing, no HTTP, no storage.
NOT_FOR_A_PAGE_WORKER = {"feedparser", "requests", "urllib3", "sqlalchemy", "alembic",
                         "feedgen", "syndicator.extract.feed", "syndicator.extract.sitemap"}


def test_a_page_worker_imports_only_what_reading_a_page_needs() -> None:
    # What a page worker (processes.py) imports before it says READY.
    code = ("import syndicator.processes\n"
            "from syndicator.workers import prepare_reading, read_body\n"
            "prepare_reading()\n")
    assert _imported(code, NOT_FOR_A_PAGE_WORKER) == []
