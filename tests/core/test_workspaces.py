"""Pure rules of workspaces: which paths a request may name, the quota an allocation grants, byte ranges."""

from __future__ import annotations

import datetime as dt

import pytest

from aicc.core.errors import InvalidInput
from aicc.core.workspaces import GIB, StorageGrant, check_path, parse_range, quota_bytes

NOW = dt.datetime(2026, 12, 3, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


@pytest.mark.parametrize("raw", ["", "/abs", "a/../b", "..", "a//b", "a/./b", "a/", "nul\x00", "tab\tname",
                                 "bidi\u202eexe.txt", "zero\u200bwidth", "bad\ufffd", "lone\udcff", "x" * 256,
                                 ".aicc-staging", "a/" * 2100])
def test_paths_a_request_may_not_name(raw: str) -> None:
    with pytest.raises(InvalidInput):
        check_path(raw)


@pytest.mark.parametrize(("raw", "parts"), [("data/train.csv", ("data", "train.csv")), ("모델/가중치 1.bin",
                                            ("모델", "가중치 1.bin")), (".hidden", (".hidden",)), ("a..b", ("a..b",))])
def test_paths_that_are_fine(raw: str, parts: tuple[str, ...]) -> None:
    assert check_path(raw) == parts


def test_the_top_is_named_only_where_allowed() -> None:
    assert check_path("", allow_root=True) == ()
    with pytest.raises(InvalidInput):
        check_path("/", allow_root=True)


def test_the_quota_sums_active_allocations_and_never_falls_below_the_default() -> None:
    active = StorageGrant(100, NOW - DAY, NOW + DAY)
    assert quota_bytes([active, StorageGrant(50, NOW - DAY, NOW + DAY)], NOW, 10) == 150 * GIB
    expired = StorageGrant(500, NOW - 3 * DAY, NOW - DAY)
    future = StorageGrant(500, NOW + DAY, NOW + 3 * DAY)
    suspended = StorageGrant(500, NOW - DAY, NOW + DAY, suspended=True)
    assert quota_bytes([expired, future, suspended], NOW, 10) == 10 * GIB
    assert quota_bytes([], NOW, 0) == 0


@pytest.mark.parametrize(("header", "span"), [(None, None), ("bytes=0-9", (0, 9)), ("bytes=5-", (5, 99)),
                                              ("bytes=-10", (90, 99)), ("bytes=90-500", (90, 99)),
                                              ("bytes=0-1,5-6", None), ("items=0-1", None)])
def test_one_range_is_honoured(header: str | None, span: tuple[int, int] | None) -> None:
    assert parse_range(header, 100) == span


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=5-2", "bytes=x-", "bytes=-0"])
def test_ranges_that_cannot_be_satisfied(header: str) -> None:
    with pytest.raises(ValueError):
        parse_range(header, 100)


def test_a_quota_change_below_use_is_refused_forced_it_is_over_quota_and_raising_is_always_fine() -> None:
    from aicc.core.workspaces import QuotaBelowUse, check_quota_change

    with pytest.raises(QuotaBelowUse, match="holds 300 bytes"):
        check_quota_change(used=300, old_quota=1000, new_quota=200, force=False)
    assert check_quota_change(used=300, old_quota=1000, new_quota=200, force=True) is True
    assert check_quota_change(used=300, old_quota=1000, new_quota=400, force=False) is False  # still above use
    assert check_quota_change(used=300, old_quota=100, new_quota=200, force=False) is False  # raised, still over


def test_storage_is_charged_to_the_active_allocation_granting_the_most() -> None:
    from aicc.core.workspaces import charged_grant

    now = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    day = dt.timedelta(days=1)
    base = StorageGrant(0, now - day, now + 30 * day, allocation_id=1)
    award = StorageGrant(50, now - day, now + 10 * day, allocation_id=2)
    ended = StorageGrant(500, now - 9 * day, now - day, allocation_id=3)
    suspended = StorageGrant(900, now - day, now + day, suspended=True, allocation_id=4)
    assert charged_grant([base, award, ended, suspended], now) == award
    assert charged_grant([base, ended], now) == base
    assert charged_grant([ended, suspended], now) is None


def test_a_gib_month_costs_the_rate_through_the_one_unit_hour_formula() -> None:
    from aicc.core.charging import HOURS_PER_MONTH, storage_su, su

    assert storage_su(gib=1.0, seconds=HOURS_PER_MONTH * 3600, su_per_gb_month=0.5) == pytest.approx(0.5)
    assert storage_su(gib=10.0, seconds=3600, su_per_gb_month=0.5) == pytest.approx(su(10, 3600, 0.5 / 730))
    assert storage_su(gib=3.0, seconds=-5, su_per_gb_month=0.5) == 0.0
