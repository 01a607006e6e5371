"""What several extractors do to the values they collect (dates, categories, author names)."""

from __future__ import annotations

from collections.abc import Iterable


def unique(values: Iterable[str | None], *, fold_case: bool = False) -> tuple[str, ...]:
    """The non-empty values, each once, in their first order; with `fold_case`, values that
    differ only in case are one (the first spelling kept)."""
    seen: set[str] = set()
    result: list[str] = []
    for value in values:
        if not value:
            continue
        key = value.casefold() if fold_case else value
        if key not in seen:
            seen.add(key)
            result.append(value)
    return tuple(result)
