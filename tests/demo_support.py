"""The bundled demo config's selectors (syndicator/demo/config.yaml), for the configs of
sites in the demo site's markup: copies of the demo site, the cluster tests' site
(tests/cluster_site.py) and the benchmarks' generated site (bench/sitegen.py)."""

from __future__ import annotations

import json
from typing import Any

import yaml

from syndicator.demo import demo_config_path


def demo_selectors() -> tuple[dict[str, Any], dict[str, Any]]:
    """The `list` and `article` selectors of the demo config's sources (new dicts each call)."""
    source = yaml.safe_load(demo_config_path().read_text(encoding="utf-8"))["sources"][0]
    return dict(source["list"]), dict(source["article"])


def selectors_yaml(*, indent: int = 4, leave_out: tuple[str, ...] = (),
                   **list_changes: Any) -> str:
    """The demo selectors as a source's `list:` and `article:` lines in a YAML config, `indent`
    spaces in: without the list keys in `leave_out`, with `list_changes` (e.g. max_pages)."""
    listing, article = demo_selectors()
    listing = {k: v for k, v in listing.items() if k not in leave_out} | list_changes
    pad = " " * indent
    return f"{pad}list: {json.dumps(listing)}\n{pad}article: {json.dumps(article)}\n"
