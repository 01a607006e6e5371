"""Persistence: the one package that talks to the database (SQLAlchemy Core + Alembic).

`Store` and `safe_url` are imported on first use (PEP 562): a build's archive worker imports
only store.reader, without SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from syndicator.store.store import Store, safe_url

__all__ = ["Store", "safe_url"]


def __getattr__(name: str) -> object:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from syndicator.store import store

    value = getattr(store, name)
    globals()[name] = value
    return value
