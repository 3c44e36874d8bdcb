"""Objects named the way people know them: organization, project and user names resolved to ids through the
API (which also decides who may see what), and dates typed as people type them (``today+6m``)."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import Any

from aicc.cli.client import Client, CliError, Exit

_RELATIVE = re.compile(r"today(?:([+-])(\d{1,4})([dwmy]))?")


def find(c: Client, path: str, key: str, value: str, what: str) -> dict[str, Any]:
    if value.isdigit():
        found: dict[str, Any] = c.get(f"{path}/{value}")
        return found
    for item in c.get(path, limit=500, **{key: value})["items"]:
        if item[key] == value:
            return dict(item)
    raise CliError(f"{what} {value!r} not found", Exit.REFUSED)


def org_by(c: Client, ref: str) -> dict[str, Any]:
    return find(c, "/organizations", "name", ref, "organization")


def project_by(c: Client, ref: str) -> dict[str, Any]:
    return find(c, "/projects", "name", ref, "project")


def user_by(c: Client, ref: str) -> dict[str, Any]:
    return find(c, "/users", "username", ref, "user")


def relative_date(value: str, today: dt.date) -> dt.date | None:
    """``today``, ``today+30d``, ``today-1w``, ``today+6m``, ``today+1y`` (calendar months and years, the day
    clamped to the month's last), or None when ``value`` is not relative. Scripts and examples stay valid."""
    m = _RELATIVE.fullmatch(value.strip().lower())
    if not m:
        return None
    if not m.group(1):
        return today
    n = int(m.group(2)) * (1 if m.group(1) == "+" else -1)
    unit = m.group(3)
    if unit in "dw":
        return today + dt.timedelta(days=n * (7 if unit == "w" else 1))
    months = today.year * 12 + today.month - 1 + (n * 12 if unit == "y" else n)
    year, month = divmod(months, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(today.day, last))


def parse_date(value: str, field: str) -> str:
    rel = relative_date(value, dt.datetime.now(dt.UTC).date())
    try:
        parsed = dt.datetime.combine(rel, dt.time()) if rel else dt.datetime.fromisoformat(value)
    except (ValueError, OverflowError) as exc:
        raise CliError(f"{field}: {value!r} is not a date (use 2027-01-31, 2027-01-31T09:00+09:00, today or "
                       "today+30d, with d, w, m or y)") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.isoformat()
