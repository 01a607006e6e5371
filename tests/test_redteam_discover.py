"""Red team: `syndicator discover` prints only YAML ("redirected into a file or pasted
whole"), its report as `#` comments. A hostile listing page whose titles hold control
characters (`&#1;`) or YAML line breaks (`&#x85;`, `&#x2028;`) made that output a file no
YAML loader reads ("unacceptable character #x0001"), or ended a comment early."""

from __future__ import annotations

from pathlib import Path

import yaml

from syndicator.demo.server import SiteServer
from tests.test_cli import run_cli

CARD = ('<article class="card"><h2 class="card-title"><a href="/news/story-{i}.html">'
        'Story &#1;number {i}&#x85;about&#x2028;x: 1&#x2029;the harbour</a></h2>'
        '<time datetime="2025-03-{day:02d}">March</time></article>')


def test_the_report_of_a_hostile_page_is_still_yaml(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    cards = "".join(CARD.format(i=i, day=i + 1) for i in range(8))
    (site / "index.html").write_text(f'<html lang="en"><title>T&#1;itle</title><body><main>'
                                     f"{cards}</main></body></html>", encoding="utf-8")
    with SiteServer(site) as server:
        done = run_cli("discover", "--allow-private", server.url, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Story" in done.stdout and "the harbour" in done.stdout
    [source] = yaml.safe_load(done.stdout)
    assert set(source) >= {"id", "type", "url", "list"}     # no key the page put there
    assert source["list"]["item"] == "article.card"
