"""The center's dashboards: burn-down by day, busy share per flavor, the queue, allocations to watch."""

from __future__ import annotations

import datetime as dt

import pytest

from aicc.config import Settings
from aicc.core.errors import Forbidden
from aicc.services import metering, tokens, utilization
from aicc.services.metering import UsageSummary
from aicc.store.db import Database
from aicc.store.models import UsageRow
from tests.portal.helpers import submit
from tests.world import World

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def _charge(db: Database, world: World, flavor: str, units: int, start: dt.datetime, hours: float, su: float,
            job_id: int = 1) -> None:
    with db.write() as s:
        s.add(UsageRow(job_id=job_id, attempt=0, interval=0, allocation_id=world.a.allocation_id,
                       project_id=world.a.project_id, flavor=flavor, accelerators=units, cpus=1, started_at=start,
                       ended_at=start + dt.timedelta(hours=hours), su=su))


def test_burndown_subtracts_each_days_use_from_the_budget(db: Database, world: World) -> None:
    now = dt.datetime.now(dt.UTC)
    _charge(db, world, "h100", 2, now - dt.timedelta(hours=30), 2, 100.0, job_id=1)
    _charge(db, world, "h100", 2, now - dt.timedelta(hours=3), 1, 50.0, job_id=2)
    with db.read() as s:
        actor = tokens.authenticate(s, world.a.member_token)
        summaries = metering.summaries(s, actor, now=now)
        series = utilization.burndown(s, summaries, now)[world.a.allocation_id]
    assert len(series) in (2, 3) and series[0][1] <= 1000.0  # the window started yesterday (UTC days)
    assert series[-1] == (now, 850.0)
    assert [p[1] for p in series] == sorted((p[1] for p in series), reverse=True)


def test_flavor_utilization_spreads_intervals_over_days(db: Database, world: World) -> None:
    day0 = dt.datetime(2026, 11, 30, 0, 0, tzinfo=dt.UTC)
    # 4 of h100's 8 accelerators for 12 h across midnight: 6 h on each day
    _charge(db, world, "h100", 4, day0 - dt.timedelta(hours=6), 12, 10.0)
    with db.read() as s:
        root = tokens.authenticate(s, world.admin_token)
        use = {u.flavor: u for u in utilization.flavor_utilization(s, root, NOW, days=3)}
        with pytest.raises(Forbidden):
            utilization.flavor_utilization(s, tokens.authenticate(s, world.a.admin_token), NOW)
    h100 = use["h100"]
    assert h100.capacity == 8
    fractions = [round(f, 4) for _, f in h100.daily]
    assert fractions == [round(4 * 6 / (8 * 24), 4), round(4 * 6 / (8 * 24), 4), 0.0]
    assert all(f == 0 for _, f in use["a100"].daily)


def test_queue_by_project_counts_only_what_the_caller_sees(db: Database, world: World, settings: Settings) -> None:
    submit(db, settings, world.a.member_token, world.a.project_id, "a", n=3)
    submit(db, settings, world.b.member_token, world.b.project_id, "b", n=1)
    with db.read() as s:
        root = utilization.queue_by_project(s, tokens.authenticate(s, world.admin_token))
        mine = utilization.queue_by_project(s, tokens.authenticate(s, world.a.member_token))
    assert [(q.project, q.pending) for q in root] == [("proj-a", 3), ("proj-b", 1)]
    assert [q.project for q in mine] == ["proj-a"]
    assert root[0].oldest is not None and root[0].oldest.tzinfo is not None


def _summary(budget: float, used: float, ends_in_days: float, exhaustion_in_days: float | None) -> UsageSummary:
    exhaustion = NOW + dt.timedelta(days=exhaustion_in_days) if exhaustion_in_days is not None else None
    return UsageSummary("p", 1, 1, "grant", budget, used, budget - used, 1.0, exhaustion,
                        NOW + dt.timedelta(days=ends_in_days))


@pytest.mark.parametrize(("summary", "started_days_ago", "near", "under"), [
    (_summary(1000, 950, 30, 40), 30, True, False),     # 5 % left
    (_summary(1000, 400, 30, 10), 30, True, False),     # empty 20 days before the end at this rate
    (_summary(1000, 100, 30, None), 30, False, True),   # half the window gone, 10 % spent
    (_summary(1000, 450, 30, 90), 30, False, False),    # on track
    (_summary(1000, 0, 300, None), 10, False, False),   # too early to say
    (_summary(1000, 0, -1, None), 30, False, False),    # ended: nothing to do any more
])
def test_allocation_health(summary: UsageSummary, started_days_ago: float, near: bool, under: bool) -> None:
    health = utilization.allocation_health([summary], {1: NOW - dt.timedelta(days=started_days_ago)}, NOW)
    assert (summary in health.near_exhaustion, summary in health.under_used) == (near, under)
