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
