"""The controller's long-lived scheduler state equals a full rebuild from the database after any operations.

Random sequences of what users, admins and the engine do (submits, arrays with throttles, dependencies, cancels,
scheduling cycles, starts, ends, losses, preemptions, quota amendments, suspensions, a user's hold, release,
update and requeue) run through the services and
the controller's own code; after each, the state the controller keeps by deltas is compared with one built from
scratch. A write that bypasses the change stamps is found by the consistency check, which rebuilds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from aicc.config import Settings
from aicc.controller import planning
from aicc.controller.lifecycle import apply_status
from aicc.controller.loop import Controller
from aicc.controller.planning import Planner
from aicc.core.allocations import FlavorQuota
from aicc.core.errors import Conflict, DomainError
from aicc.executors.base import RunPhase, RunStatus
from aicc.executors.local import LocalExecutor
from aicc.services import allocations, job_control, metering, reservations, tokens
from aicc.services import jobs as job_service
from aicc.store.db import Database
from aicc.store.models import JobRow, utcnow
from tests.world import World

FLAVORS = (["h100"], ["a100"], ["h100", "a100"], ["cpu"])
OP = st.one_of(
    st.tuples(st.just("submit"), st.sampled_from("ab"), st.integers(1, 4), st.sampled_from(range(len(FLAVORS))),
              st.integers(0, 2), st.sampled_from(["plain", "plain", "array", "after"])),
    st.tuples(st.just("cancel"), st.integers(0, 50)),
    st.tuples(st.just("cycle"), st.booleans()),
    st.tuples(st.just("start"), st.integers(0, 50)),
    st.tuples(st.just("end"), st.integers(0, 50), st.sampled_from([RunPhase.SUCCEEDED, RunPhase.FAILED,
                                                                    RunPhase.LOST, RunPhase.CANCELLED])),
    st.tuples(st.just("quota"), st.sampled_from("ab"), st.integers(0, 8)),
    st.tuples(st.just("suspend"), st.sampled_from("ab"), st.booleans()),
    st.tuples(st.just("hold"), st.integers(0, 50)),
    st.tuples(st.just("release"), st.integers(0, 50)),
    st.tuples(st.just("update"), st.integers(0, 50), st.integers(1, 4), st.integers(-2, 2)),
    st.tuples(st.just("requeue"), st.integers(0, 50)),
    st.tuples(st.just("reserve"), st.sampled_from("ab"), st.integers(1, 6), st.sampled_from([-30, 5, 120])),
    st.tuples(st.just("unreserve"), st.integers(0, 5)),
)


def snapshot_of(planner: Planner) -> dict[str, Any]:
    """What the policy sees: queue, running jobs, preemptions under way, projects (budgets aside), free capacity."""
    state = planner.state
    assert state is not None
    sched = state.sched
    return {
        "pending": dict(sched.pending),
        "gated": set(state.gated),
        "running": dict(sched.running),
        "preempting": set(sched.preempting) & set(sched.running),
        "projects": {p: dataclasses.replace(v, budget_left=0.0) for p, v in sched.projects.items()},
        "free": {f: (pool.free, pool.total) for f, pool in sched.pools.items()},
        "windows": sched.windows.all,
        "mirror": ({i: j.change_seq for i, j in state.pending.items()},
                   {i: j.change_seq for i, j in state.live.items()}),
    }


def compare_with_rebuild(db: Database, controller: Controller) -> None:
    now = utcnow()
    planner = controller.planner
    with db.snapshot() as s:
        planner._sync(s, now, None, full=False)
        assert planner.state is not None
        planner._gate(s, planner.state, now)
        fresh = Planner(planner.config)
        fresh._sync(s, now, None, full=True)
        assert fresh.state is not None
        fresh._gate(s, fresh.state, now)
    assert snapshot_of(planner) == snapshot_of(fresh)
    assert planner.rebuilds == 1, "a delta could not be applied: the state was rebuilt"


class Driver:
    def __init__(self, db: Database, world: World, controller: Controller) -> None:
        self.db, self.world, self.controller = db, world, controller
        with db.read() as s:
            self.members = {t: tokens.authenticate(s, getattr(world, t).member_token) for t in "ab"}
            self.admin = tokens.authenticate(s, world.admin_token)
        self.jobs: list[int] = []
        self.mine: dict[str, list[int]] = {"a": [], "b": []}
        self.reserved: list[str] = []

    def _job(self, i: int, *states: str) -> JobRow | None:
        with self.db.read() as s:
            rows = list(s.execute(select(JobRow).where(JobRow.state.in_(states)).order_by(JobRow.id)).scalars())
        return rows[i % len(rows)] if rows else None

    def run(self, op: tuple[Any, ...]) -> None:
        kind = op[0]
        if kind == "submit":
            _, tenant, gpus, flavors, priority, shape = op
            cpu = FLAVORS[flavors] == ["cpu"]
            spec = job_service.JobSpec(
                project_id=getattr(self.world, tenant).project_id, command=["true"], flavors=FLAVORS[flavors],
                accelerators=0 if cpu else gpus, cpus=gpus, priority=priority, time_limit_s=600,
                array="0-2%1" if shape == "array" else None,
                depends_on=[self.mine[tenant][-1]] if shape == "after" and self.mine[tenant] else ())
            with self.db.write() as s:
                ids = job_service.submit(s, self.members[tenant], self.controller.settings, spec).ids
            self.jobs += ids
            self.mine[tenant] += ids
        elif kind == "cancel":
            job = self._job(op[1], "pending", "admitted", "running")
            if job is not None:
                with self.db.write() as s:
                    job_service.cancel(s, self.admin, job.id)
        elif kind == "cycle":
            self.controller._schedule(utcnow(), probe=op[1])
        elif kind in ("start", "end"):
            job = self._job(op[1], "admitted") if kind == "start" else self._job(op[1], "admitted", "running")
            if job is None:
                return
            phase = RunPhase.RUNNING if kind == "start" else op[2]
            if phase is RunPhase.CANCELLED and not (job.cancel_requested or job.preempt_requested):
                phase = RunPhase.SUCCEEDED
            with self.db.write() as s:
                row = s.get(JobRow, job.id)
                assert row is not None
                apply_status(row, RunStatus(row.id, row.attempt, "x", phase, exit_code=0), utcnow(),
                             metering.flavor_rates(s), s)
        elif kind in ("hold", "release", "update", "requeue"):
            states = ("pending",) if kind != "requeue" else ("running", "failed", "succeeded", "cancelled")
            job = self._job(op[1], *states)
            if job is None:
                return
            try:
                with self.db.write() as s:
                    if kind == "update":
                        cpu = job.flavors == ["cpu"]
                        job_control.update(s, self.admin, self.controller.settings, job.id,
                                           {"cpus": op[2], "priority": op[3]} if cpu else
                                           {"accelerators": op[2], "priority": op[3]})
                    else:
                        getattr(job_control, kind)(s, self.admin, job.id)
            except DomainError:
                pass  # refused (held twice, not held, a job that read data, …): nothing changed
        elif kind == "quota":
            tenant = getattr(self.world, op[1])
            with self.db.write() as s:
                view = allocations.get(s, self.admin, tenant.allocation_id)
                allocations.update(s, self.admin, tenant.allocation_id, version=view.row.version,
                                   changes={"quotas": {"h100": FlavorQuota(op[2], 4), "cpu": FlavorQuota(8, 8)}})
        elif kind == "reserve":  # class hours for a tenant's project, in force now or soon
            _, tenant, units, offset = op
            start = (utcnow() + dt.timedelta(minutes=offset)).replace(tzinfo=None, second=0, microsecond=0)
            with self.db.write() as s:
                try:
                    reservations.create(s, self.admin, name=f"r{len(self.reserved)}", flavor="h100", units=units,
                                        first_local=start, timezone="UTC", length_min=60, count=2,
                                        project_id=getattr(self.world, tenant).project_id)
                except Conflict:
                    return  # more than the flavor has at once: refused, nothing written
            self.reserved.append(f"r{len(self.reserved)}")
        elif kind == "unreserve":
            if self.reserved:
                name = self.reserved.pop(op[1] % len(self.reserved))
                with self.db.write() as s:
                    reservations.remove(s, self.admin, reservations.by_name(s, name).id)
        elif kind == "suspend":
            tenant = getattr(self.world, op[1])
            with self.db.write() as s:
                view = allocations.get(s, self.admin, tenant.allocation_id)
                allocations.update(s, self.admin, tenant.allocation_id, version=view.row.version,
                                   changes={"suspended": op[2]})


@pytest.fixture
def controller(settings: Settings, db: Database) -> Controller:
    fast = dataclasses.replace(settings, preempt_after_s=0.0)
    return Controller(fast, db, LocalExecutor(fast.jobs_dir, grace_s=0.5))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(ops=st.lists(OP, min_size=1, max_size=30))
def test_incremental_state_equals_a_rebuild_after_every_operation(db: Database, world: World,
                                                                   controller: Controller,
                                                                   ops: list[tuple[Any, ...]]) -> None:
    controller.planner = Planner(controller.planner.config)  # a controller (re)starting on what the DB holds
    driver = Driver(db, world, controller)
    driver.run(("cycle", True))
    for op in ops:
        driver.run(op)
        compare_with_rebuild(db, controller)


def test_a_live_job_this_controller_never_admitted_rebuilds_and_admits_nothing_twice(
        db: Database, world: World, controller: Controller) -> None:
    driver = Driver(db, world, controller)
    driver.run(("submit", "a", 4, 0, 0, "plain"))
    driver.run(("cycle", False))
    first = driver.jobs[0]
    driver.run(("submit", "a", 4, 0, 0, "plain"))
    driver.run(("submit", "a", 4, 0, 0, "plain"))
    with db.write() as s:  # another controller (the lock lost and regained) admitted a job meanwhile
        taken = s.get(JobRow, first)
        assert taken is not None and taken.placement
        node = next(n for n in ("h100-node-1", "h100-node-2") if n != taken.placement[0][0])
        row = s.get(JobRow, driver.jobs[2])
        assert row is not None and row.state == "pending"
        row.state, row.flavor, row.placement = "admitted", "h100", [[node, [0, 1, 2, 3], 1, 4096]]
        row.admitted_at = utcnow()
    driver.run(("cycle", False))
    assert controller.planner.rebuilds == 2
    with db.read() as s:
        states = dict(s.execute(select(JobRow.id, JobRow.state).where(JobRow.id.in_(driver.jobs))).all())
    assert states[first] == "admitted" and states[driver.jobs[2]] == "admitted"
    assert states[driver.jobs[1]] == "pending"  # both h100 nodes are taken: nothing is placed on them twice
    controller.planner.rebuilds = 1
    compare_with_rebuild(db, controller)


def test_a_write_that_escapes_the_stamps_is_found_by_the_check_and_rebuilt_loudly(
        db: Database, world: World, controller: Controller, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    driver = Driver(db, world, controller)
    driver.run(("submit", "a", 4, 0, 0, "plain"))
    driver.run(("submit", "b", 4, 0, 0, "plain"))
    driver.run(("cycle", True))
    with db.write() as s:  # a hand-made repair in SQL, no stamp
        s.execute(text("UPDATE jobs SET state = 'cancelled' WHERE id = :i"), {"i": driver.jobs[1]})
    driver.run(("cycle", False))
    assert controller.planner.rebuilds == 1  # a light cycle trusts the stamps
    monkeypatch.setattr(planning, "CHECK_S", 0.0)
    with caplog.at_level(logging.ERROR, logger="aicc.controller"):
        driver.run(("cycle", True))
    assert controller.planner.rebuilds == 2
    assert any("DRIFT" in r.getMessage() for r in caplog.records)
    assert driver.jobs[1] not in controller.planner.state.pending  # type: ignore[union-attr]



def test_a_preemption_and_the_victims_requeue_keep_the_state_equal_to_a_rebuild(
        db: Database, world: World, controller: Controller) -> None:
    driver = Driver(db, world, controller)
    for _ in range(2):  # a borrows the second h100 node
        driver.run(("submit", "a", 4, 0, 0, "plain"))
    driver.run(("cycle", False))
    driver.run(("start", 0))
    driver.run(("start", 0))
    driver.run(("submit", "b", 4, 0, 0, "plain"))  # within b's quota: a's borrowed run must make room
    driver.run(("cycle", False))
    with db.read() as s:
        asked = s.execute(select(JobRow.id).where(JobRow.preempt_requested.is_(True))).scalars().all()
    assert len(asked) == 1
    compare_with_rebuild(db, controller)
    with db.write() as s:  # the engine reports the run stopped: it goes back to the queue
        row = s.get(JobRow, asked[0])
        assert row is not None
        apply_status(row, RunStatus(row.id, row.attempt, "x", RunPhase.CANCELLED), utcnow(),
                     metering.flavor_rates(s), s)
    compare_with_rebuild(db, controller)
    driver.run(("cycle", True))
    compare_with_rebuild(db, controller)


def test_an_inventory_load_rebuilds_the_state_on_the_new_nodes(db: Database, world: World,
                                                               controller: Controller) -> None:
    from aicc.services import inventory
    from aicc.services.principal import SYSTEM
    from tests.world import INVENTORY

    driver = Driver(db, world, controller)
    driver.run(("submit", "a", 4, 0, 0, "plain"))
    driver.run(("cycle", False))
    with db.write() as s:
        inventory.load(s, SYSTEM, INVENTORY.replace("count = 2", "count = 3"), "test.toml")
    driver.run(("cycle", False))
    assert controller.planner.rebuilds == 2
    assert controller.planner.state is not None
    assert controller.planner.state.sched.pools["h100"].total == 12
    controller.planner.rebuilds = 1
    compare_with_rebuild(db, controller)


def test_a_burst_of_fresh_jobs_is_told_why_it_waits_in_a_few_statements_and_a_job_changed_meanwhile_is_kept(
        db: Database, world: World, controller: Controller) -> None:
    """100 fresh array tasks get one same reason: written set-based (a handful of UPDATEs, not one per row),
    guarded by the plan's snapshot, so a task cancelled between the plan and its write keeps its cancel."""
    from sqlalchemy import event

    from aicc.controller.state import SUBMITTED_REASON

    driver = Driver(db, world, controller)
    spec = job_service.JobSpec(project_id=world.a.project_id, command=["true"], flavors=["h100"], accelerators=4,
                               cpus=1, time_limit_s=600, array="0-99")
    with db.write() as s:
        ids = job_service.submit(s, driver.members["a"], controller.settings, spec).ids
    with db.snapshot() as s:
        decision = controller.planner.plan(s, utcnow())
    told = [u for u in decision.updates if u.keys() == planning._REASON_ONLY]
    assert len(told) >= planning.SET_WRITE_MIN
    cancelled = told[-1]["id"]
    with db.write() as s:
        job_service.cancel(s, driver.admin, cancelled)
    updates: list[str] = []  # one entry per statement the database runs (an executemany runs one per row)

    def count(_conn: Any, _cursor: Any, statement: str, params: Any, _ctx: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("UPDATE JOBS"):
            updates.extend([statement] * (len(params) if many else 1))

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        with db.write() as s:
            seq, complete = controller.planner.apply(s, decision)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert not complete and len(updates) <= 4
    controller.planner.wrote(decision, seq, complete)
    with db.read() as s:
        rows = dict(s.execute(select(JobRow.id, JobRow.reason).where(JobRow.id.in_(ids))).all())
        state = s.execute(select(JobRow.state).where(JobRow.id == cancelled)).scalar_one()
    assert state == "cancelled" and rows[cancelled] != told[-1]["reason"]
    assert all(rows[u["id"]] == u["reason"] != SUBMITTED_REASON for u in told[:-1])
    compare_with_rebuild(db, controller)


def test_the_states_rows_carry_the_same_utc_times_as_the_orm_on_either_database(
        db: Database, world: World, controller: Controller) -> None:
    """``load_facts`` reads the time columns raw (the converter was a tenth of a rebuild): the instants and the
    UTC zone must be what the ORM says, naive SQLite values included."""
    import datetime as dt

    from aicc.controller.state import load_facts

    driver = Driver(db, world, controller)
    for _ in range(2):
        driver.run(("submit", "a", 4, 0, 0, "plain"))
    driver.run(("cycle", False))
    driver.run(("start", 0))
    with db.read() as s:
        facts = {f.id: f for f in load_facts(s, JobRow.id.in_(driver.jobs))}
        rows = {r.id: r for r in s.execute(select(JobRow).where(JobRow.id.in_(driver.jobs))).scalars()}
    assert any(r.started_at for r in rows.values())
    for job_id, row in rows.items():
        got = facts[job_id]
        for name in ("submitted_at", "admitted_at", "started_at", "metered_until"):
            mine, theirs = getattr(got, name), getattr(row, name)
            assert mine == theirs and (mine is None or mine.utcoffset() == dt.timedelta(0)), name


def test_a_reservation_made_and_removed_reaches_the_live_state_as_a_delta(
        db: Database, world: World, controller: Controller) -> None:
    driver = Driver(db, world, controller)
    driver.run(("cycle", False))
    driver.run(("reserve", "a", 4, -30))
    compare_with_rebuild(db, controller)
    state = controller.planner.state
    assert state is not None and [w.name for w in state.sched.windows.all] == ["r0", "r0"]  # two occurrences
    driver.run(("reserve", "b", 8, -30))  # with r0's 4, more than the 8 h100 at once: refused
    assert driver.reserved == ["r0"]
    driver.run(("unreserve", 0))
    compare_with_rebuild(db, controller)
    assert not state.sched.windows
