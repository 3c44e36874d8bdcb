"""The live controller honours class hours: the reservation, made through the service, reaches the policy; a
batch job that would run into the class waits (and says for whom), the class's runs start when it opens, and
before it the capacity is used by jobs that end in time."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import select

from aicc.config import Settings
from aicc.controller.lifecycle import apply_status
from aicc.controller.loop import Controller
from aicc.executors.base import RunPhase, RunStatus
from aicc.executors.local import LocalExecutor
from aicc.services import jobs as job_service
from aicc.services import metering, reservations, tokens
from aicc.store.db import Database
from aicc.store.models import JobRow, utcnow
from tests.world import World


@pytest.fixture
def controller(settings: Settings, db: Database) -> Controller:
    fast = dataclasses.replace(settings, preempt_after_s=0.0)
    return Controller(fast, db, LocalExecutor(fast.jobs_dir, grace_s=0.5))


def _submit(db: Database, settings: Settings, token: str, project_id: int, gpus: int, minutes: int) -> int:
    with db.write() as s:
        who = tokens.authenticate(s, token)
        spec = job_service.JobSpec(project_id=project_id, command=["true"], flavors=["h100"], accelerators=gpus,
                                   time_limit_s=minutes * 60)
        return job_service.submit(s, who, settings, spec).ids[0]


def _row(db: Database, job_id: int) -> JobRow:
    with db.read() as s:
        row = s.get(JobRow, job_id)
        assert row is not None
        s.expunge(row)
        return row


def test_a_batch_job_does_not_delay_the_class_and_the_capacity_serves_others_before_it(
        db: Database, world: World, settings: Settings, controller: Controller) -> None:
    opens = (utcnow() + dt.timedelta(hours=3)).replace(second=0, microsecond=0)
    with db.write() as s:
        admin = tokens.authenticate(s, world.admin_token)
        reservations.create(s, admin, name="ai-101-lab", flavor="h100", units=8, project_id=world.a.project_id,
                            first_local=opens.replace(tzinfo=None), timezone="UTC", length_min=180)
    early = _submit(db, settings, world.b.member_token, world.b.project_id, 4, 30)
    controller._schedule(opens - dt.timedelta(hours=2))
    assert _row(db, early).state == "admitted"  # ends an hour and a half before the class: runs
    with db.write() as s:
        row = s.get(JobRow, early)
        assert row is not None
        apply_status(row, RunStatus(row.id, row.attempt, "x", RunPhase.SUCCEEDED, exit_code=0), utcnow(),
                     metering.flavor_rates(s), s)
    late = _submit(db, settings, world.b.member_token, world.b.project_id, 4, 60)
    controller._schedule(opens - dt.timedelta(minutes=5))  # 16:55 for a 17:00 class
    row = _row(db, late)
    assert row.state == "pending" and row.reason_code == "window_coming"
    assert "reserved for ai-101-lab from" in row.reason
    students = [_submit(db, settings, world.a.member_token, world.a.project_id, 1, 120) for _ in range(8)]
    controller._schedule(opens + dt.timedelta(minutes=1))
    with db.read() as s:
        states = dict(s.execute(select(JobRow.id, JobRow.borrowed).where(JobRow.id.in_(students),
                                                                         JobRow.state == "admitted")).all())
    assert states == dict.fromkeys(students, False)  # all 8, beyond its nominal quota of 4: none preemptible
    row = _row(db, late)
    assert row.state == "pending" and row.reason_code == "window_held"
