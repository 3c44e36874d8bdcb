"""Read an output file as a table, whatever it is saved as: CSV, TSV, a text table, Markdown, JSON records.

A small-count table or a copy of rows is as disclosive in ``results.txt`` or
``table.md`` or ``rows.json`` as in ``table.csv``, so the checks read all of them
the same way: a header (when there is one) and rows of cell strings. Text that
is not a table (a sentence, a log) gives None.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

MAX_ROWS = 200_000
MD_RULE = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?$")
WS_SPLIT = re.compile(r"\s{2,}|\t")


@dataclass(frozen=True, slots=True)
class Table:
    header: list[str]
    """Column names as written ([] when the file has none, e.g. ``to_csv(header=False)``)."""
    rows: list[list[str]]
    truncated: bool = False


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _limited(rows: list[list[str]]) -> tuple[list[list[str]], bool]:
    return (rows[:MAX_ROWS], True) if len(rows) > MAX_ROWS else (rows, False)


def _looks_like_header(row: list[str]) -> bool:
    """A header names columns: no cell of it is a number."""
    return bool(row) and all(c.strip() and not _is_number(c) for c in row)


def _is_number(cell: str) -> bool:
    try:
        float(cell.replace(",", ""))
    except ValueError:
        return False
    return True


def from_delimited(text: str, delimiter: str, *, min_columns: int = 2) -> Table | None:
    try:
        rows = [r for r in csv.reader(io.StringIO(text), delimiter=delimiter) if any(c.strip() for c in r)]
    except csv.Error:
        return None
    if not rows or (len(rows) < 2 and min_columns > 1) or max(len(r) for r in rows) < min_columns:
        return None
    header = rows[0] if _looks_like_header(rows[0]) else []
    body, cut = _limited(rows[1:] if header else rows)
    return Table([h.strip() for h in header], body, cut)


def from_markdown(text: str) -> Table | None:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("|") or MD_RULE.match(ln.strip())]
    if len(lines) < 2:
        return None
    rows = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines if not MD_RULE.match(ln)]
    has_rule = any(MD_RULE.match(ln) for ln in lines)
    if not rows or max(len(r) for r in rows) < 2:
        return None
    header = rows[0] if has_rule or _looks_like_header(rows[0]) else []
    body, cut = _limited(rows[1:] if header else rows)
    return Table(header, body, cut)


def from_plain_text(text: str) -> Table | None:
    """A text table: lines of two or more cells split by tabs, commas, pipes or aligned spaces (a printed
    DataFrame), at least two such lines of the same width."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) < 2:
        return None
    if sum(ln.lstrip().startswith("|") for ln in lines) >= 2:
        return from_markdown(text)
    for delimiter in ("\t", ",", ";", "|"):
        if sum(delimiter in ln for ln in lines) >= max(2, len(lines) // 2):
            found = from_delimited(text, delimiter)
            if found is not None:
                return found
    split = [WS_SPLIT.split(ln.strip()) if WS_SPLIT.search(ln.strip()) else ln.split() for ln in lines]
    widths = [len(r) for r in split if len(r) >= 2]
    if len(widths) < 2:
        return None
    common = max(set(widths), key=widths.count)
    if widths.count(common) < max(2, len(split) // 2):
        return None
    rows = [r for r in split if len(r) >= 2]
    header = rows[0] if _looks_like_header(rows[0]) else []
    body, cut = _limited(rows[1:] if header else rows)
    return Table(header, body, cut)


def from_json(text: str) -> Table | None:
    """JSON arrays of records or of arrays, and the ``split``/``columns`` layouts pandas writes."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if isinstance(data, Mapping) and isinstance(data.get("data"), list) and isinstance(data.get("columns"), list):
        data = [dict(zip(map(_cell, data["columns"]), r, strict=False)) if isinstance(r, list) else r
                for r in data["data"]]
    elif isinstance(data, Mapping) and data and all(isinstance(v, Mapping) for v in data.values()):
        index: list[str] = []
        for col in data.values():
            index += [k for k in col if k not in index]
        data = [{c: data[c].get(i) for c in data} for i in index]
    elif isinstance(data, Mapping):
        data = next((v for v in data.values() if isinstance(v, list) and v), None)
    if not isinstance(data, list) or not data:
        return None
    if all(isinstance(r, Mapping) for r in data):
        header: list[str] = []
        for r in data:
            header += [str(k) for k in r if str(k) not in header]
        rows = [[_cell(r.get(h)) for h in header] for r in data]
        body, cut = _limited(rows)
        return Table(header, body, cut)
    if all(isinstance(r, list) for r in data):
        rows = [[_cell(c) for c in r] for r in data]
        body, cut = _limited(rows)
        return Table([], body, cut)
    return None


def parse(text: str, ext: str) -> Table | None:
    """The table in ``text`` for a file of type ``ext`` (".csv", ".tsv", ".txt", ".md", ".json"), or None."""
    if ext == ".csv":
        return from_delimited(text, ",", min_columns=1)
    if ext == ".tsv":
        return from_delimited(text, "\t", min_columns=1)
    if ext == ".md":
        return from_markdown(text) or from_plain_text(text)
    if ext == ".json":
        return from_json(text)
    if ext == ".txt":
        return from_json(text) if text.lstrip()[:1] in "[{" and text.strip() else from_plain_text(text)
    return None
