"""Sorting and paging of the portal's growing lists, from the query string."""

from __future__ import annotations

from starlette.requests import Request

from aicc.portal.tables import sort_page


def _request(query: str) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/x", "query_string": query.encode(), "headers": []})


ROWS = [{"id": i, "name": f"n{i % 7}", "score": None if i % 5 == 0 else i % 3} for i in range(1, 61)]
KEYS = {"id": lambda r: r["id"], "name": lambda r: r["name"], "score": lambda r: r["score"]}


def test_default_sort_and_pages() -> None:
    t = sort_page(_request(""), ROWS, KEYS, default="id")
    assert t.total == 60 and t.pages == 3 and t.page == 1
    assert [r["id"] for r in t.items][:3] == [60, 59, 58]
    assert t.aria_sort("id") == "descending" and t.aria_sort("name") == ""


def test_query_picks_column_direction_and_page_and_links_keep_the_rest() -> None:
    t = sort_page(_request("a_sort=score&a_dir=asc&a_page=3&other=1"), ROWS, KEYS, default="id", prefix="a_")
    assert t.sort == "score" and not t.descending and t.page == 3
    assert all(r["score"] is None for r in t.items[-5:])  # empty values last
    assert "other=1" in t.href(page=2) and "a_page=2" in t.href(page=2)
    assert "a_dir=desc" in t.sort_href("score") and "a_dir=asc" in t.sort_href("name")


def test_bad_input_falls_back() -> None:
    t = sort_page(_request("sort=evil&dir=sideways&page=abc"), ROWS, KEYS, default="id")
    assert t.sort == "id" and t.descending and t.page == 1
    assert sort_page(_request("page=99"), ROWS, KEYS, default="id").page == 3
    assert sort_page(_request(""), [], KEYS, default="id").pages == 1
