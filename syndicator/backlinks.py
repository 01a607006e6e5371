"""The translation claims a source run saves (store/translations.py joins items into one
story only when each names the other), and the pages it reads again to confirm them.

A story's versions are rarely published together: the English page goes out on Monday,
naming no translation yet; the Belarusian one on Wednesday names the English one, whose
page now names it back, but whose stored claims (Monday's) do not, and whose listing card
has not changed, so no run would read it again. So when a run's pages name a stored item
that does not name them back, that item's page is read once more here (on the run's
origins, within its deadline, at most MAX_PAGES a run) and its current claims are saved
with the run's. A decoy naming somebody else's story costs one such read and joins nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from syndicator.app import App
from syndicator.config import FetchConfig
from syndicator.errors import ConfigError, FetchError
from syndicator.extract import extract_article
from syndicator.model import Item, Page, Translations
from syndicator.normalise import translation_claims
from syndicator.runlog import RunLog

MAX_PAGES = 10


def run_claims(app: App, settings: FetchConfig, run: RunLog,
               items: Sequence[Item]) -> dict[str, Translations]:
    """What the run's read pages claim, by item id, with the current claims of stored items
    they name that did not name them back (read again)."""
    claims = {item.id: item.translation_claims for item in items
              if item.translation_claims is not None}
    named = {item.url: item.translation_claims for item in items if item.translation_claims}
    for target in app.store.unanswered_claims(named)[:MAX_PAGES]:
        if target.id in claims or run.expired() or not run.policy.allows(target.url):
            continue
        read = _read_claims(app, settings, run, target)
        if read is not None:
            claims[target.id] = read
    return claims


def _read_claims(app: App, settings: FetchConfig, run: RunLog,
                 target: Item) -> Translations | None:
    try:
        source = app.config.source(target.source_id)
        answer = app.fetcher.get(target.url, settings, deadline=run.deadline,
                                 follow=run.policy)
    except ConfigError:         # an item of a source no longer configured
        return None
    except FetchError as exc:
        run.warn(f"translation {exc}: its link back was not checked")
        return None
    if not isinstance(answer, Page):
        return None
    run.pages += 1
    article = extract_article(answer, source.article)
    return translation_claims(article.translations, target.url)
