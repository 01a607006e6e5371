"""Persistence: the one package that talks to the database (SQLAlchemy Core + Alembic)."""

from syndicator.store.store import Store, safe_url

__all__ = ["Store", "safe_url"]
