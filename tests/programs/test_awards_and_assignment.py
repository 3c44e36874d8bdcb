"""An award the scheduler can run (a quota even when the application named no accelerators), and an
assignment that cannot find reviewers says so instead of assigning nobody."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from aicc.core import programs as rules
from aicc.core.errors import InvalidInput
from aicc.services import agreements, allocations, applications, programs, reviews
from aicc.services.principal import SYSTEM
from aicc.store.db import Database
from aicc.store.models import AgreementRow, ReviewRow, utcnow
from tests.programs.helpers import make_program, principal
from tests.world import World


def _submitted(db: Database, world: World, call_id: int, accelerators: dict[str, int]) -> int:
    a_admin = principal(db, world.a.admin_token)
    now = utcnow()
    with db.write() as s:
        a = applications.create(
            s, a_admin, call_id=call_id, project_id=world.a.project_id, track=rules.Track.MEDICAL, title="LLM",
            plan="fine-tune", expected_outcomes="a model", team=[], requested_su={"h100": 1200.0},
            requested_accelerators=accelerators, starts_at=now, ends_at=now + dt.timedelta(days=100))
        applications.submit(s, a_admin, a.id)
        return a.id


def test_assigning_without_enough_reviewers_is_an_error_and_assigns_nobody(db: Database, world: World) -> None:
    setup = make_program(db, reviewers=5)  # the world has three reviewers in all
    app_id = _submitted(db, world, setup.call_id, {"h100": 4})
    with db.write() as s, pytest.raises(InvalidInput, match=r"application \d+ needs 5 more reviewer\(s\) but only"):
        reviews.assign_round_robin(s, SYSTEM, setup.call_id)
    with db.read() as s:
        assert not s.execute(select(ReviewRow).where(ReviewRow.application_id == app_id)).all()


def test_an_award_without_accelerators_gets_a_quota_that_spends_its_su_over_the_period(
        db: Database, world: World) -> None:
    setup = make_program(db)
    app_id = _submitted(db, world, setup.call_id, {})
    with db.write() as s:
        programs.close_call(s, SYSTEM, setup.call_id)
    with db.write() as s:
        reviews.decide(s, SYSTEM, app_id, decision=rules.Decision.AWARD, reason="good")
    with db.write() as s:
        g = s.execute(select(AgreementRow).where(AgreementRow.application_id == app_id)).scalar_one()
        agreements.accept(s, principal(db, world.a.admin_token), g.id)
        allocation_id = g.allocation_id
    assert allocation_id is not None
    with db.read() as s:
        view = allocations.get(s, SYSTEM, allocation_id)
    # 1,200 SU of h100 (rate 2 SU per accelerator-hour in the world) over 100 days: 1 accelerator suffices
    assert set(view.quotas) == {"h100"} and view.quotas["h100"].nominal == 1
