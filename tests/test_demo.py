"""`syndicator demo` as a user runs it: a real process that fetches the bundled site, serves
the feeds until Ctrl-C, and prints URLs that all work, as does every link on its pages."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
STARTUP = 120.0      # upper bound for the fetch and build before it serves (slow machines)
READERS: list[threading.Thread] = []


class Links(HTMLParser):
    """Every href and src of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.found.append(value)


def links_of(url: str, client: httpx.Client) -> list[str]:
    page = client.get(url)
    assert page.status_code == 200, url
    parser = Links()
    parser.feed(page.text)
    return [urljoin(url, link) for link in parser.found]


def read_until(process: subprocess.Popen[str], marker: str) -> list[str]:
    """The lines the demo prints up to `marker`; fails if it exits or takes too long. The
    output is read to its end (and closed) by a thread, which the caller joins."""
    lines: queue.Queue[str | None] = queue.Queue()
    assert process.stdout is not None
    output = process.stdout

    def drain() -> None:
        with output:
            for line in output:
                lines.put(line.rstrip("\n"))
        lines.put(None)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    READERS.append(reader)
    seen: list[str] = []
    deadline = time.monotonic() + STARTUP
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1.0)
        except queue.Empty:
            continue
        if line is None:
            break
        seen.append(line)
        if marker in line:
            return seen
    raise AssertionError("the demo did not start serving:\n" + "\n".join(seen))


@pytest.mark.slow
def test_demo_serves_until_interrupted_and_every_link_works(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("SYNDICATOR_CONFIG", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "syndicator", "demo", "--output", str(tmp_path)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        printed = read_until(process, "serving until Ctrl-C")
        urls = dict(re.findall(r"^\s+(index|preview|feed|status|builder|news site):\s+(\S+)$",
                               "\n".join(printed), re.MULTILINE))
        assert set(urls) == {"index", "preview", "feed", "status", "builder", "news site"}
        served = urlsplit(urls["index"]).netloc
        site = urlsplit(urls["news site"]).netloc
        with httpx.Client(timeout=10, trust_env=False, follow_redirects=True) as client:
            for url in urls.values():
                assert client.get(url).status_code == 200, url
            # Every page of the feed server the demo's pages lead to (the previews of every
            # feed, the status and builder pages) is read for its links too.
            pages = [urls["index"], urls["index"] + "index.html", urls["preview"],
                     urls["status"], urls["builder"]]
            checked: set[str] = set(pages)
            while pages:
                page = pages.pop()
                for link in links_of(page, client):
                    parts = urlsplit(link)
                    if parts.scheme not in ("http", "https"):
                        continue
                    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
                        continue                      # no test reaches the internet
                    # Nothing points at a loopback port where nothing listens.
                    assert parts.netloc in (served, site), (page, link)
                    target = link.split("#")[0]
                    if target in checked:
                        continue
                    checked.add(target)
                    answer = client.get(target)
                    assert answer.status_code == 200, (page, link, answer.status_code)
                    if (parts.netloc == served and "text/html" in answer.headers.get(
                            "content-type", "") and len(checked) < 400):
                        pages.append(target)
            assert len(checked) > 20                  # feeds, archives, items, assets
    finally:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError("the demo did not stop within 20 s of SIGINT") from None
        for reader in READERS:
            reader.join(10)
    assert code == 0
