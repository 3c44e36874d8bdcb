"""Keyset pagination: stable under inserts, cheap on big tables (no OFFSET)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_after: int | None
    """Key of the last item when more follow; the API turns it into an opaque cursor."""


def page(s: Session, q: Select[Any], key: InstrumentedAttribute[int], after: int | None, limit: int, *,
         descending: bool = False) -> Page[Any]:
    """``limit`` rows after the key ``after`` (before it, newest first, with ``descending``)."""
    if after is not None:
        q = q.where(key < after if descending else key > after)
    rows = list(s.execute(q.order_by(key.desc() if descending else key).limit(limit + 1)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, getattr(rows[-1], key.key) if more and rows else None)
