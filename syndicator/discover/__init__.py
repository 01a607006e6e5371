"""`syndicator discover URL`: propose a source block for a site never seen before.

    propose.py   fetch the page (the crawl's Fetcher), feed or scrape, article check, preview
    listing.py   the `list:` selectors: card structure, fields, next page
    cards.py     finding the repeated card structure and ranking the candidates
    fields.py    each field's selector within the cards; the date language; the next link
    tree.py      the page's elements and the stable selectors that name them
    render.py    the YAML block, and `--write` into a config file
"""

from __future__ import annotations

from syndicator.discover.propose import Discovery, Preview, discover
from syndicator.discover.render import add_to_config

__all__ = ["Discovery", "Preview", "add_to_config", "discover"]
