"""Tables for people, JSON for scripts. Rich is imported only when a table is printed; ``plain`` tables (``aicc
jobs``, as ``squeue`` prints them) need no Rich at all, which keeps the hottest command's start-up short."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any


def done(message: str, data: Any, *, as_json: bool) -> None:
    """A command that changed something: its one confirmation line for people, or with ``--json`` what changed
    (the server's answer, or the identifiers acted on when the server answers with no body)."""
    if as_json:
        emit(data, as_json=True)
    else:
        print(message)


def emit(data: Any, *, as_json: bool, columns: Sequence[str] = (), title: str | None = None) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
        return
    rows = data if isinstance(data, list) else [data]
    if isinstance(data, dict) and not columns:
        _pairs(data)
        return
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*[_cell(row.get(c)) for c in columns])
    _console().print(table)


def _pairs(data: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    for k, v in data.items():
        table.add_row(k, _cell(v))
    _console().print(table)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _console() -> Any:
    """A terminal gets its own width; a pipe or file gets wide lines instead of wrapped cells."""
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 200)


def plain(rows: Sequence[dict[str, Any]], columns: Sequence[str], headers: Sequence[str] = (),
          last_wide: bool = True) -> None:
    """Columns separated by two spaces under UPPERCASE headers, as ``squeue`` prints them: what ``awk`` and
    ``grep`` expect, and no Rich to import. The last column is never padded (a long reason reads whole)."""
    names = list(headers) or [c.upper() for c in columns]
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(names[i]), *(len(row[i]) for row in cells)]) for i in range(len(columns))]
    out = []
    for row in [names, *cells]:
        parts = [v.ljust(widths[i]) if i < len(row) - 1 or not last_wide else v for i, v in enumerate(row)]
        out.append("  ".join(parts).rstrip())
    sys.stdout.write("\n".join(out) + "\n")
