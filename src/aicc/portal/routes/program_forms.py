"""What the support-program pages share: form fields, parsing of typed values, notices, paging helpers.

Parsing here turns a person's typing (a date in the center's zone, "name; weight; max" rubric lines,
``su_<flavor>`` fields) into the values the services take; every rule about what is allowed stays in the services.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Form
from sqlalchemy.orm import Session

from aicc.core import programs as rules
from aicc.core.errors import InvalidInput
from aicc.portal.forms import checked
from aicc.portal.i18n import N_
from aicc.portal.view import View
from aicc.services import (
    organizations,
)
from aicc.services.paging import Page
from aicc.store.models import CallRow

Csrf = Annotated[str, Form(max_length=100)]
Text = Annotated[str, Form(max_length=20_000)]
Short = Annotated[str, Form(max_length=200)]
LIMIT = 1000
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NOTICES = {
    "created": N_("Draft saved. Check it, then submit it before the call closes."),
    "saved": "Saved.",
    "attached": N_("File attached."),
    "submitted": N_("Application submitted. Reviewers score it after assignment."),
    "withdrawn": N_("Application withdrawn. Edit it or submit it again before the call closes."),
    "decided": N_("Decision recorded; the applicant sees it with its reason."),
    "accepted": N_("Agreement accepted: the project's allocation now exists."),
    "declined": N_("Agreement declined."),
    "outcome": N_("Outcome report received. Thank you."),
    "scored": N_("Scores submitted. The other reviewers' scores are shown below, without names."),
    "conflict": N_("Conflict of interest recorded; the application leaves your list."),
    "assigned": N_("Reviewers assigned."),
    "closed": N_("The call is closed; decisions may follow."),
    "call": N_("Call created."),
    "program": N_("Program created. Add its first call below."),
    "reclaim": N_("Reclaim proposal decided."),
    "auto": N_("Auto-award done."),
}
T = TypeVar("T")
MOST = 20_000
"""Rows a page sorts in memory at most (a center has hundreds of applications a round, not tens of thousands)."""


def local_time(view: View, value: str, what: str) -> dt.datetime:
    """A date (or date and time) typed in the center's time zone."""
    value = value.strip()
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{what}: give a date like 2027-03-01") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=view.f.tz)
    return parsed.astimezone(dt.UTC)


def amounts(form: dict[str, str], prefix: str, *, integer: bool = False) -> dict[str, Any]:
    """``su_h100=1200`` fields of a form into ``{"h100": 1200.0}``; blank and zero fields are left out."""
    out: dict[str, Any] = {}
    for key, raw in form.items():
        if key.startswith(prefix) and raw.strip():
            try:
                value = int(raw) if integer else float(raw)
            except ValueError:
                raise InvalidInput(f"{key[len(prefix):]}: {raw!r} is not a number") from None
            if value:
                out[key[len(prefix):]] = value
    return out


def team(text: str) -> list[dict[str, str]]:
    """One member per line, "name, role"."""
    out = []
    for line in text.splitlines():
        if line.strip():
            name, _, role = line.partition(",")
            out.append({"name": name.strip()[:100], "role": role.strip()[:100]})
    return out[:50]


def every(fetch: Callable[[int | None], Page[T]]) -> list[T]:
    """All rows of a cursor-paged service list, page after page."""
    out: list[T] = []
    after: int | None = None
    while True:
        got = fetch(after)
        out += got.items
        if got.next_after is None or len(out) >= MOST:
            return out
        after = got.next_after


def call_state(c: CallRow, now: dt.datetime) -> str:
    return "upcoming" if now < c.opens_at else "accepting" if now < c.closes_at else "closed"


def org_names(s: Session, view: View) -> dict[int, str]:
    return {o.id: o.display_name or o.name
            for o in every(lambda after: organizations.list_orgs(s, view.principal, after=after, limit=LIMIT))}


def rubric_of(text: str) -> list[rules.Criterion]:
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = [x.strip() for x in line.split(";")]
        if len(parts) != 3:
            raise InvalidInput(f"rubric line {line.strip()!r}: write name; weight; maximum score")
        try:
            out.append(rules.Criterion(parts[0], float(parts[1]), float(parts[2])))
        except ValueError:
            raise InvalidInput(f"rubric line {line.strip()!r}: weight and maximum score are numbers") from None
    return out


def opt_float(raw: str, what: str) -> float | None:
    if not raw.strip():
        return None
    try:
        return float(raw)
    except ValueError:
        raise InvalidInput(f"{what}: {raw!r} is not a number") from None


def draft_fields(view: View, form: dict[str, str], default_track: str) -> dict[str, Any]:
    try:
        track = rules.Track(form.get("track") or default_track)
    except ValueError:
        raise InvalidInput(f"track {form.get('track')!r} is not one of this call's tracks") from None
    return {"track": track, "title": form.get("title", "").strip()[:200] or "(untitled)",
            "plan": form.get("plan", "")[:20_000], "expected_outcomes": form.get("expected_outcomes", "")[:20_000],
            "team": team(form.get("team", "")), "requested_su": amounts(form, "su_"),
            "requested_accelerators": amounts(form, "acc_", integer=True),
            "starts_at": local_time(view, form.get("starts_at", ""), "start"),
            "ends_at": local_time(view, form.get("ends_at", ""), "end"), "youth": form.get("youth") == "on",
            "requested_storage_gib": gib(form.get("requested_storage_gib", ""), "workspace storage") or 0}


def gib(raw: str, what: str) -> int | None:
    """A whole number of GiB from a form (None when blank): the API's bounds (0 to 1,000,000)."""
    if not raw.strip():
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{what}: {raw!r} is not a whole number of GiB") from None
    if not 0 <= value <= 1_000_000:
        raise InvalidInput(f"{what}: {value} GiB is not between 0 and 1,000,000")
    return value


async def form_fields(view: View) -> dict[str, str]:
    """The posted form's text fields, once its CSRF token is checked."""
    form = {k: v for k, v in (await view.request.form()).items() if isinstance(v, str)}
    checked(view, form.get("csrf", ""))
    return form
