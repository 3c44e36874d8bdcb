"""The supervisor's decisions on rows alone (no replica processes): fast, on both databases."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, update

from aicc.config import Settings
from aicc.controller.serving import Supervisor
from aicc.services.principal import Principal
from aicc.services.serving import catalog
from aicc.store.db import Database
from aicc.store.models import AllocationRow, JobRow, ServiceEventRow, ServiceRow, utcnow
from tests.world import World


def _service(db: Database, settings: Settings, world: World, replicas: int = 2) -> int:
    with db.write() as s:
        member = Principal(world.a.member_id, "a-member", projects=frozenset({world.a.project_id}))
        row = catalog.create(s, member, settings, catalog.ServiceSpec(
            project_id=world.a.project_id, name="ocr", replicas=replicas,
            revision=catalog.RevisionSpec(command=["python3", "-m", "aicc.testbed.serve"], flavors=["cpu"])))
        return row.id


def _replicas(db: Database, service_id: int) -> list[JobRow]:
    with db.read() as s:
        rows = list(s.execute(select(JobRow).where(JobRow.service_id == service_id).order_by(JobRow.id)).scalars())
        s.expunge_all()
        return rows


def test_a_tick_submits_the_wanted_replicas_as_service_runs_once(db: Database, world: World,
                                                                 tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", database_url=db.url, controller=False)
    sid = _service(db, settings, world)
    woke: list[int] = []
    sup = Supervisor(settings, db, wake=lambda: woke.append(1))
    sup.tick()
    sup.tick()  # nothing more: the two are pending
    reps = _replicas(db, sid)
    assert [(r.kind, r.state, r.replica_state, r.service_revision) for r in reps] == [
        ("service", "pending", "starting", 1)] * 2
    assert reps[0].env["AICC_SERVICE_PORT"] == "8000" and reps[0].project_id == world.a.project_id
    assert woke == [1]


def test_a_requeued_replica_must_prove_itself_again(db: Database, world: World, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", database_url=db.url, controller=False)
    sid = _service(db, settings, world, replicas=1)
    sup = Supervisor(settings, db)
    sup.tick()
    job_id = _replicas(db, sid)[0].id
    with db.write() as s:  # as if it had been ready, and its node was lost: back to pending
        s.execute(update(JobRow).where(JobRow.id == job_id).values(replica_state="ready", attempt=1))
    sup.tick()
    assert _replicas(db, sid)[0].replica_state == "starting"


def test_a_service_whose_allocation_ended_stops_with_the_reason(db: Database, world: World,
                                                                tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", database_url=db.url, controller=False)
    sid = _service(db, settings, world, replicas=1)
    with db.write() as s:
        s.execute(update(AllocationRow).where(AllocationRow.id == world.a.allocation_id).values(ends_at=utcnow()))
    Supervisor(settings, db).tick()
    with db.read() as s:
        svc = s.get(ServiceRow, sid)
        assert svc is not None and svc.state == "stopped"
        assert svc.reason.startswith("cannot start a replica: project proj-a has no current or upcoming allocation")
        kinds = list(s.execute(select(ServiceEventRow.kind).where(ServiceEventRow.service_id == sid)).scalars())
    assert kinds == ["created", "stopped"] and _replicas(db, sid) == []


def test_an_unhealthy_replica_is_told_to_the_project_once_per_replica(db: Database, world: World,
                                                                      tmp_path: Path) -> None:
    from aicc.core.serving.model import EventKind
    from aicc.store.models import OutboxRow, UserRow

    settings = Settings(home=tmp_path / "home", database_url=db.url, controller=False)
    sid = _service(db, settings, world, replicas=1)
    with db.write() as s:  # an address to tell
        member = s.get(UserRow, world.a.member_id)
        assert member is not None
        member.email = "ops@haneul.ai"
    for _ in range(2):  # the same replica failing its checks twice: one notice
        with db.write() as s:
            svc = s.get(ServiceRow, sid)
            assert svc is not None
            catalog.event(s, svc, EventKind.REPLICA_UNHEALTHY, "GET /health answered 500", job_id=7)
    with db.write() as s:
        svc = s.get(ServiceRow, sid)
        assert svc is not None
        catalog.event(s, svc, EventKind.REPLICA_READY, "ready", job_id=7)  # not a problem: nobody is told
    with db.read() as s:
        notes = [o for o in s.execute(select(OutboxRow)).scalars() if o.event == "service.unhealthy"]
    assert notes and {o.user_id for o in notes} >= {world.a.member_id}
    assert len({(o.user_id, o.channel, o.target) for o in notes}) == len(notes)  # each person once
    assert "GET /health answered 500" in notes[0].payload["body"] and "ocr" in notes[0].payload["subject"]
