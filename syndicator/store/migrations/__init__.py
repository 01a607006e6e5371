"""Alembic migrations of the store (a package so that they are installed with it)."""
