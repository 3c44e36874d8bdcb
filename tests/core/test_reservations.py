"""Recurring class hours: occurrences at the same local wall-clock time, and conflicts on the same capacity."""

from __future__ import annotations

import datetime as dt

import pytest

from aicc.core.errors import InvalidInput
from aicc.core.reservations import Held, Recurrence, conflict, occurrences, validate


def test_weekly_windows_keep_their_local_time_across_a_clock_change() -> None:
    occ = occurrences(Recurrence(dt.datetime(2027, 3, 16, 14, 0), "Europe/Berlin", 180, count=3))
    assert [o.start.strftime("%m-%d %H:%M") for o in occ] == ["03-16 13:00", "03-23 13:00", "03-30 12:00"]
    assert all(o.end - o.start == dt.timedelta(hours=3) for o in occ)


def test_seoul_tuesdays_for_eight_weeks() -> None:
    occ = occurrences(Recurrence(dt.datetime(2027, 3, 2, 14, 0), "Asia/Seoul", 180, count=8))
    assert len(occ) == 8 and occ[0].start == dt.datetime(2027, 3, 2, 5, 0, tzinfo=dt.UTC)
    assert occ[-1].end == dt.datetime(2027, 4, 20, 8, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("bad", [
    Recurrence(dt.datetime(2027, 3, 2, 14), "Nowhere/City", 60),
    Recurrence(dt.datetime(2027, 3, 2, 14, tzinfo=dt.UTC), "UTC", 60),
    Recurrence(dt.datetime(2027, 3, 2, 14), "UTC", 0),
    Recurrence(dt.datetime(2027, 3, 2, 14), "UTC", 60, count=0),
    Recurrence(dt.datetime(2027, 3, 2, 14), "UTC", 3 * 24 * 60, count=2, every_days=1),
])
def test_bad_recurrences_are_refused(bad: Recurrence) -> None:
    with pytest.raises(InvalidInput):
        validate(bad)


def test_a_conflict_names_the_reservation_and_the_time_and_capacity_left_over_is_not_one() -> None:
    held = Held("ai-101", "h100", 6, occurrences(Recurrence(dt.datetime(2027, 3, 2, 14), "UTC", 180, count=8)))
    fourth = occurrences(Recurrence(dt.datetime(2027, 3, 23, 16), "UTC", 120))
    why = conflict("h100", 4, 8, fourth, [held])
    assert why is not None and "ai-101" in why and "2027-03-23 16:00 UTC" in why
    assert conflict("h100", 2, 8, fourth, [held]) is None
    assert conflict("a100", 8, 8, fourth, [held]) is None  # other capacity
    assert conflict("h100", 9, 8, fourth, []) == "9 h100 asked, the center has 8"
    after = occurrences(Recurrence(dt.datetime(2027, 3, 23, 17), "UTC", 60))
    assert conflict("h100", 8, 8, after, [held]) is None  # back to back


def test_a_first_start_out_of_any_sensible_range_is_refused_not_overflowed() -> None:
    for year in (1, 9999):
        with pytest.raises(InvalidInput, match="year"):
            validate(Recurrence(dt.datetime(year, 12, 31, 23), "Pacific/Kiritimati", 60, count=520))
