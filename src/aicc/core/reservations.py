"""Reservations for class hours: a recurring window of a flavor's capacity, expanded into occurrences.

A reservation says "4 h100 for course ai-101, Tuesdays 14:00-17:00 for eight weeks, Asia/Seoul". It is kept as
the operator said it (the first start in local wall-clock time, the time zone, the length, the repeat) and
expanded here into occurrences in UTC: each occurrence starts at the same *wall-clock* time, so a reservation
that spans a daylight-saving change still starts at 14:00 local (Seoul has none; Europe/Berlin does).

Two reservations conflict when they hold the same flavor at the same time and together ask for more than the
flavor has: the second is refused with the first clash named (which reservation, which occurrence).
Pure: no I/O (the time-zone database is read through :mod:`zoneinfo`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from aicc.core.errors import InvalidInput

MAX_OCCURRENCES = 520
"""Ten years of weekly classes: a longer series is a mistake (and the scheduler reads every occurrence)."""
MAX_LENGTH_MIN = 7 * 24 * 60


@dataclass(frozen=True, slots=True)
class Recurrence:
    first: dt.datetime
    """The first start, naive, in ``timezone``'s wall-clock time."""
    timezone: str
    length_min: int
    count: int = 1
    every_days: int = 7


@dataclass(frozen=True, slots=True)
class Occurrence:
    start: dt.datetime
    """Aware, UTC."""
    end: dt.datetime


@dataclass(frozen=True, slots=True)
class Held:
    """An existing reservation as the conflict check reads it."""

    name: str
    flavor: str
    units: int
    occurrences: Sequence[Occurrence]


def zone(name: str) -> ZoneInfo:
    if not name or len(name) > 64 or name not in available_timezones():
        raise InvalidInput(f"unknown time zone {name!r} (an IANA name such as Asia/Seoul)")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:  # pragma: no cover - listed yet unreadable
        raise InvalidInput(f"unknown time zone {name!r}") from exc


def validate(r: Recurrence) -> None:
    zone(r.timezone)
    if r.first.tzinfo is not None:
        raise InvalidInput("first start: a local date and time without an offset (the time zone says where)")
    if not 2000 <= r.first.year <= 2200:
        raise InvalidInput("first start: a year from 2000 to 2200")
    if not 1 <= r.length_min <= MAX_LENGTH_MIN:
        raise InvalidInput(f"length: 1 to {MAX_LENGTH_MIN} minutes")
    if not 1 <= r.count <= MAX_OCCURRENCES:
        raise InvalidInput(f"count: 1 to {MAX_OCCURRENCES} occurrences")
    if not 1 <= r.every_days <= 366:
        raise InvalidInput("every_days: 1 to 366")
    if r.count > 1 and r.length_min > r.every_days * 24 * 60:
        raise InvalidInput("an occurrence may not be longer than the time between two starts")


def occurrences(r: Recurrence) -> list[Occurrence]:
    """Each occurrence in UTC, starting at the same local wall-clock time (a time skipped by a clock change
    moves forward with it, as :mod:`zoneinfo` resolves it)."""
    tz = zone(r.timezone)
    out = []
    for k in range(r.count):
        local = (r.first + dt.timedelta(days=k * r.every_days)).replace(tzinfo=tz)
        start = local.astimezone(dt.UTC)
        end = (local + dt.timedelta(minutes=r.length_min)).astimezone(dt.UTC)
        out.append(Occurrence(start, end))
    return out


def conflict(flavor: str, units: int, capacity: int, mine: Sequence[Occurrence], others: Iterable[Held]) -> str | None:
    """Why a reservation of ``units`` on ``flavor`` may not be made beside ``others``; None if it may.
    ``capacity``: the flavor's units in the inventory."""
    if units > capacity:
        return f"{units} {flavor} asked, the center has {capacity}"
    same = [h for h in others if h.flavor == flavor]
    for occ in mine:
        overlapping = [(h, o) for h in same for o in h.occurrences if o.start < occ.end and occ.start < o.end]
        # the most held at once during occ: check at each start inside it (where the sum can only rise)
        points = [occ.start, *(o.start for _, o in overlapping if o.start > occ.start)]
        for t in points:
            at = [(h, o) for h, o in overlapping if o.start <= t < o.end]
            held = sum(h.units for h, _ in at)
            if held + units > capacity:
                names = ", ".join(sorted({h.name for h, _ in at}))
                return (f"overlaps reservation {names} on {flavor} at {t:%Y-%m-%d %H:%M} UTC: {held} of {capacity} "
                        f"already reserved, {units} more asked")
    return None
