"""Program steps that people wait for queue notifications in the same transaction: the decision on an
application, an under-use warning and a reclaim proposal reach the applicant organization's admins."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from aicc.core import programs as rules
from aicc.services import agreements, reviews
from aicc.services.principal import SYSTEM
from aicc.store.db import Database
from aicc.store.models import AgreementRow, OutboxRow, UserRow
from tests.programs.helpers import ledger, principal
from tests.programs.test_journey import _through_review
from tests.world import World


def test_decision_underuse_and_reclaim_are_queued_for_the_organization_admins(db: Database, world: World) -> None:
    _, app_id, _ = _through_review(db, world, {"h100": 1000.0})
    with db.write() as s:
        for u in s.execute(select(UserRow)).scalars():
            u.email = f"{u.username}@uni.example"
    a_admin = principal(db, world.a.admin_token)
    with db.write() as s:
        reviews.decide(s, SYSTEM, app_id, decision=rules.Decision.AWARD, reason="excellent")
        g = s.execute(select(AgreementRow).where(AgreementRow.application_id == app_id)).scalar_one()
        agreements.accept(s, a_admin, g.id)
    assert g.allocation_id is not None
    ledger(db, g.allocation_id, world.a.project_id, [(g.starts_at + dt.timedelta(days=1), 50.0)])
    with db.write() as s:
        agreements.check_utilization(s, SYSTEM, now=g.starts_at + dt.timedelta(days=40))
    with db.write() as s:
        agreements.check_utilization(s, SYSTEM, now=g.starts_at + dt.timedelta(days=71))
    with db.read() as s:
        rows = list(s.execute(select(OutboxRow).order_by(OutboxRow.id)).scalars())
    assert [(r.event, r.target) for r in rows] == [
        ("application.decided", "a-admin@uni.example"),
        ("allocation.underuse", "a-admin@uni.example"),
        ("allocation.reclaim", "a-admin@uni.example"),
    ]
    decision = rows[0].payload["data"]["decision"]
    assert decision == "awarded" and decision in rows[0].payload["body"]
    assert rows[2].payload["data"]["su"] == "660"


def test_the_applicant_hears_how_far_the_review_is_without_learning_who_or_what(db: Database,
                                                                               world: World) -> None:
    with db.write() as s:
        for u in s.execute(select(UserRow)).scalars():
            u.email = f"{u.username}@uni.example"
    _through_review(db, world, {"h100": 1000.0})
    with db.read() as s:
        rows = [r for r in s.execute(select(OutboxRow).order_by(OutboxRow.id)).scalars()
                if r.event == "application.reviewed"]
    assert [(r.target, r.payload["data"]["step"]) for r in rows] == [
        ("a-admin@uni.example", "1 of 2 reviews are in"), ("a-admin@uni.example", "2 of 2 reviews are in")]
    assert all("strong" not in r.payload["body"] and "9" not in r.payload["data"]["step"] for r in rows)


def test_a_budget_spent_fast_is_foretold_once_a_week(db: Database, world: World) -> None:
    from aicc.services.notify import events

    with db.write() as s:
        for u in s.execute(select(UserRow)).scalars():
            u.email = f"{u.username}@uni.example"
    now = dt.datetime(2027, 3, 10, 12, tzinfo=dt.UTC)
    # 1,000 SU budget; 140 SU over the last week (20 a day) leaves 700 SU: 35 days, no warning yet
    ledger(db, world.a.allocation_id, world.a.project_id, [(now - dt.timedelta(days=30), 160.0)] +
           [(now - dt.timedelta(days=d), 20.0) for d in range(1, 8)])
    with db.write() as s:
        assert events.budget_thresholds(s, [world.a.allocation_id], now=now) == 0
    # another 600 SU this week: 100 left at 105 a day -> about a day
    ledger(db, world.a.allocation_id, world.a.project_id, [(now - dt.timedelta(hours=h), 100.0) for h in range(1, 7)],
           job_id=9001)
    for _ in range(2):  # the next ending in the same week adds nothing
        with db.write() as s:
            events.budget_thresholds(s, [world.a.allocation_id], now=now)
    with db.read() as s:
        rows = [r for r in s.execute(select(OutboxRow)).scalars() if r.event == "budget.projected"]
    assert rows and {r.payload["data"]["days"] for r in rows} == {1}
    assert len({r.target for r in rows}) == len(rows)  # each person once
