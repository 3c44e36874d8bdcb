"""Sorting and paging of lists that can grow (applications, grants, output requests, audit events).

The services return plain lists; a page sorts them by one column and cuts one page
out, from the query string (``?sort=state&dir=asc&page=2``), with no script needed.
Unknown columns fall back to the default; every link keeps the page's other
parameters (a table is identified by a prefix, so one page can hold several).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

from fastapi import Request

T = TypeVar("T")
PER_PAGE = 25


def _key(value: Any) -> tuple[int, Any]:
    """None sorts last; numbers and strings each among themselves."""
    if value is None:
        return (2, "")
    if isinstance(value, (int, float)):
        return (0, value)
    return (1, str(value).lower())


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    numeric: bool = False


@dataclass
class Sorted(Generic[T]):
    items: list[T]
    total: int
    page: int
    pages: int
    sort: str
    descending: bool
    prefix: str
    request_query: Mapping[str, str]

    def href(self, **changes: Any) -> str:
        q = dict(self.request_query)
        for k, v in changes.items():
            q[self.prefix + k] = str(v)
        return "?" + urlencode(q)

    def sort_href(self, key: str) -> str:
        descending = not self.descending if key == self.sort else False
        return self.href(sort=key, dir="desc" if descending else "asc", page=1)

    def aria_sort(self, key: str) -> str:
        if key != self.sort:
            return ""
        return "descending" if self.descending else "ascending"


def sort_page(request: Request, rows: Sequence[T], keys: Mapping[str, Callable[[T], Any]], *, default: str,
              descending: bool = True, prefix: str = "", per_page: int = PER_PAGE) -> Sorted[T]:
    q = request.query_params
    sort = q.get(prefix + "sort", default)
    sort = sort if sort in keys else default
    direction = q.get(prefix + "dir")
    desc = descending if direction not in ("asc", "desc") else direction == "desc"
    try:
        page = max(1, min(int(q.get(prefix + "page", "1")), 1_000_000))
    except ValueError:
        page = 1
    ordered = sorted(rows, key=lambda r: _key(keys[sort](r)), reverse=desc)
    pages = max(1, math.ceil(len(ordered) / per_page))
    page = min(page, pages)
    return Sorted(ordered[(page - 1) * per_page: page * per_page], len(ordered), page, pages, sort, desc, prefix,
                  dict(q))
