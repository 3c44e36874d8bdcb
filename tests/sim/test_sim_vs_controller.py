"""The simulator and the live controller make the same admission decisions for the same small workload.

The controller side is the real thing: the API takes the submits, a real :class:`Controller` over a real
database runs cycles, the real local executor runs the jobs as processes. What is compared, wave by wave
(one wave per instant at which something happens), is the ordered list of admissions with the flavor each
job got and whether it borrowed, and the jobs preempted.

Timing is taken out of the comparison. Each job is a real process that waits on a gate file; the test
keeps a virtual clock for the controller run from the jobs' durations alone (a preempted job keeps its
progress, as in the simulator) and opens the gate of whichever admitted job ends next, then cycles the
controller until it is quiet. So completions reach the controller in virtual-time order, one at a time,
however slow the machine. Time limits are minutes to an hour while a run takes seconds, so backfill
decisions (``now + time limit`` against a reservation) cannot flip on the few seconds the real run takes.

The workload (one burst at t = 0) exercises fair-share order across three projects of different weights,
the cheapest acceptable flavor, borrowing by backfill before a reservation, a reservation that holds
back a job, preemption of borrowed capacity for a job within its nominal quota (and the victim's return
in its original place), and an 8-accelerator gang across two nodes. A second workload does the same under
reserved windows (class hours) made through the reservations service on the controller's side and as
``[[reservations]]`` in the simulator's center, their starts counted from the burst.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from aicc.config import Settings
from aicc.controller import planning
from aicc.controller.loop import Controller
from aicc.core.allocations import FlavorQuota
from aicc.core.scheduling import POLICIES, CycleResult, PolicyConfig, Scheduler
from aicc.executors.local import LocalExecutor
from aicc.services import allocations, projects, reservations
from aicc.services.principal import SYSTEM
from aicc.sim.center import LOSSLESS, ProjectSpec, SimReservation, parse_center
from aicc.sim.engine import simulate
from aicc.sim.trace import SimJob, Trace
from aicc.store.db import Database
from aicc.store.models import JobRow, ProjectRow, utcnow
from tests.controller.conftest import Harness
from tests.world import INVENTORY, World


class Spec(NamedTuple):
    project: str
    gpus: int
    flavors: tuple[str, ...]
    duration: float
    """Virtual seconds of run time (the same on every flavor)."""
    limit: int
    """Time limit in seconds."""


# tests/world.py gives proj-a and proj-b h100 4 + 4 and cpu 8 + 8; proj-c is added here.
QUOTAS: dict[str, dict[str, FlavorQuota]] = {
    "proj-a": {"h100": FlavorQuota(4, 4), "cpu": FlavorQuota(8, 8)},
    "proj-b": {"h100": FlavorQuota(4, 4), "cpu": FlavorQuota(8, 8)},
    "proj-c": {"a100": FlavorQuota(4, 0), "h100": FlavorQuota(0, 4)},
}
WEIGHTS = {"proj-a": 1.0, "proj-b": 1.0, "proj-c": 2.0}

WORKLOAD = [
    Spec("proj-a", 4, ("h100",), 30, 3600),  # 0: A's nominal h100
    Spec("proj-b", 2, ("h100",), 10, 600),  # 1: B within nominal
    Spec("proj-b", 4, ("h100",), 5, 600),  # 2: would borrow; reserved; within nominal once 1 ends: preempts 3
    Spec("proj-a", 2, ("h100",), 40, 300),  # 3: A borrows by backfill (ends before 2's reservation)
    Spec("proj-c", 2, ("a100", "h100"), 12, 1800),  # 4: cheapest flavor (a100)
    Spec("proj-c", 4, ("a100", "h100"), 6, 1800),  # 5: waits for a100 (h100 full)
    Spec("proj-a", 4, ("h100",), 7, 600),  # 6: held back by the 8-gang's reservation
    Spec("proj-b", 8, ("h100",), 4, 1200),  # 7: a gang over both h100 nodes, borrowed
    Spec("proj-c", 1, ("a100",), 3, 600),  # 8
    Spec("proj-c", 2, ("h100", "a100"), 8, 900),  # 9: asks h100 first; gets a100, the cheaper
    Spec("proj-b", 1, ("a100", "h100"), 2, 600),  # 10: no a100 quota for B: h100
]

Wave = tuple[float, tuple[tuple[int, str, bool], ...], tuple[int, ...]]
"""(virtual time, admissions in order as (job, flavor, borrowed), preempted jobs)."""


def _policy(harness: Harness) -> PolicyConfig:
    """The controller's policy: the AICC preset with the harness's preemption exemption (none)."""
    return dataclasses.replace(POLICIES["aicc"], preempt_after_s=harness.settings.preempt_after_s)


def simulated_waves(policy: PolicyConfig, workload: list[Spec] = WORKLOAD,
                    held: tuple[SimReservation, ...] = ()) -> list[Wave]:
    """``held``: reserved windows, their starts from the burst's submit time (0)."""
    specs = {p: ProjectSpec(p, WEIGHTS[p], {f: q.nominal for f, q in qs.items()},
                            {f: q.borrowing_limit for f, q in qs.items()}) for p, qs in QUOTAS.items()}
    center = dataclasses.replace(parse_center(INVENTORY, "test.toml"), projects=specs, reservations=held)
    jobs = [SimJob(i, s.project, 0.0, s.gpus, dict.fromkeys(s.flavors, float(s.duration)), None, float(s.limit))
            for i, s in enumerate(workload)]
    # the controller side's virtual clock lets a victim stop at once and keep its progress: so must the simulator
    result = simulate(Trace(jobs), center, policy, decision_log=True, preemption=LOSSLESS)
    assert result.unschedulable == 0
    waves: dict[float, tuple[list[tuple[int, str, bool]], list[int]]] = {}
    for d in result.decisions:
        admitted, preempted = waves.setdefault(round(d["t"], 6), ([], []))
        admitted.extend((int(i), str(f), bool(b)) for i, f, b in d["admitted"])
        preempted.extend(int(v) for v in d["preempted"])
    return [(t, tuple(a), tuple(p)) for t, (a, p) in waves.items() if a or p]


class _Recorder:
    """Every cycle result of the controller's planner (its one Scheduler, built at start and at each rebuild)."""

    def __init__(self) -> None:
        self.results: list[CycleResult] = []

    def scheduler_class(self) -> type[Scheduler]:
        results = self.results

        class Recording(Scheduler):
            def cycle(self, now: float) -> CycleResult:
                res = super().cycle(now)
                results.append(res)
                return res

        return Recording


def _add_project_c(harness: Harness) -> None:
    now = utcnow()
    with harness.db.write() as s:
        org = s.execute(select(ProjectRow).where(ProjectRow.name == "proj-a")).scalar_one().organization_id
        p = projects.create(s, SYSTEM, organization_id=org, name="proj-c", title="Project c", description="")
        projects.add_member(s, SYSTEM, p.id, username="a-member")
        allocations.create(s, SYSTEM, project_id=p.id, name="grant c", budget_su=1000,
                           starts_at=now - dt.timedelta(days=1), ends_at=now + dt.timedelta(days=30),
                           quotas=QUOTAS["proj-c"], weight=WEIGHTS["proj-c"])


def _reserve(harness: Harness, held: tuple[SimReservation, ...]) -> None:
    """The simulator's reservations as the admin makes them, their starts counted from now (whole seconds, so a
    window that starts at 0 is in force from the first cycle on); the controller reads them from the database."""
    base = utcnow().replace(microsecond=0, tzinfo=None)
    with harness.db.write() as s:
        for r in held:
            pid = s.execute(select(ProjectRow.id).where(ProjectRow.name == r.project)).scalar_one()
            assert r.length_s % 60 == 0 and r.count == 1
            reservations.create(s, SYSTEM, name=r.name, flavor=r.flavor, units=r.units,
                                first_local=base + dt.timedelta(seconds=r.start_s), timezone="UTC",
                                length_min=int(r.length_s // 60), project_id=pid)


def controller_waves(harness: Harness, gates: Path, monkeypatch: pytest.MonkeyPatch,
                     workload: list[Spec] = WORKLOAD, held: tuple[SimReservation, ...] = ()) -> list[Wave]:
    recorder = _Recorder()
    monkeypatch.setattr(planning, "Scheduler", recorder.scheduler_class())
    _add_project_c(harness)
    _reserve(harness, held)
    tokens = {"proj-a": harness.world.a.member_token, "proj-b": harness.world.b.member_token,
              "proj-c": harness.world.a.member_token}
    ids = [harness.submit(tokens[s.project], project=s.project, accelerators=s.gpus, flavors=list(s.flavors),
                          time_limit_s=s.limit,
                          command=["sh", "-c", 'while [ ! -e "$HOME/gate" ]; do sleep 0.02; done'])
           for i, s in enumerate(workload)]
    index = {job_id: i for i, job_id in enumerate(ids)}

    def states() -> dict[int, JobRow]:
        with harness.db.read() as s:
            rows = s.execute(select(JobRow).where(JobRow.id.in_(ids))).scalars().all()
            for r in rows:
                s.expunge(r)
            return {index[r.id]: r for r in rows}

    def cycle_until(done: object, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            harness.controller.cycle()
            if done():  # type: ignore[operator]
                return
            time.sleep(0.02)
        raise AssertionError("the controller did not settle")

    def settle() -> None:
        """Cycle until two cycles in a row decide nothing and nothing is starting or being preempted."""
        quiet = [0]

        def done() -> bool:
            last = recorder.results[-1]
            rows = states().values()
            busy = any(r.state == "admitted" or (r.preempt_requested and r.state == "running") for r in rows)
            quiet[0] = 0 if busy or last.admissions or last.preemptions else quiet[0] + 1
            return quiet[0] >= 2

        cycle_until(done)

    vt = 0.0
    left = [float(s.duration) for s in workload]  # virtual work still to do
    began: dict[int, float] = {}  # running now, since
    waves: list[Wave] = []
    seen = 0
    while True:
        settle()
        admitted: list[tuple[int, str, bool]] = []
        preempted: list[int] = []
        for res in recorder.results[seen:]:
            admitted += [(index[a.job_id], a.flavor, a.borrowed) for a in res.admissions]
            preempted += [index[v] for v in res.preemptions]
        seen = len(recorder.results)
        for v in preempted:
            left[v] -= vt - began.pop(v)
        for i, _, _ in admitted:
            began[i] = vt
        if admitted or preempted:
            waves.append((round(vt, 6), tuple(admitted), tuple(preempted)))
        if not began:
            break
        ends = {i: since + left[i] for i, since in began.items()}
        vt = min(ends.values())
        finishing = [i for i, t in ends.items() if t == vt]
        assert len(finishing) == 1, f"the workload must not end two jobs at once (t={vt}: {finishing})"
        (done_job,) = finishing
        del began[done_job]
        (gates / str(ids[done_job]) / "gate").touch()  # a job sees only its own directory
        cycle_until(lambda j=done_job: states()[j].state == "succeeded")
    pending = [i for i, r in states().items() if r.state != "succeeded"]
    assert not pending, f"jobs never ran under the controller: {pending}"
    return waves


@pytest.fixture
def live(app_client: TestClient, world: World, settings: Settings, db: Database) -> Harness:
    """tests/controller's harness: a real controller and local executor, no preemption exemption."""
    fast = dataclasses.replace(settings, preempt_grace_s=0.5, preempt_after_s=0.0)
    app_client.app.state.settings = fast  # type: ignore[attr-defined]
    return Harness(app_client, world, fast, db, Controller(fast, db, LocalExecutor(fast.jobs_dir, grace_s=0.5)))


@pytest.fixture
def gates(live: Harness) -> Iterator[Path]:
    """The jobs directory: job <id> ends once ``<id>/gate`` exists in its own directory."""
    path = live.settings.jobs_dir
    yield path
    for job_dir in path.iterdir() if path.exists() else []:  # let any process still waiting end
        if job_dir.name.isdigit():
            (job_dir / "gate").touch()


def test_simulator_and_controller_admit_the_same_jobs_in_the_same_order(
        live: Harness, gates: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = simulated_waves(_policy(live))
    # the workload does what it claims: borrowing, a preemption, both flavors for two-flavor jobs
    assert any(p for _, _, p in expected)
    assert any(b for _, a, _ in expected for _, _, b in a)
    assert {f for _, a, _ in expected for i, f, _ in a if len(WORKLOAD[i].flavors) > 1} == {"a100", "h100"}
    assert controller_waves(live, gates, monkeypatch) == expected


# Class hours on both sides: h100 4 of 8 for proj-c from 30 minutes on (coming throughout: the run takes seconds
# of real time and at most a few hundred of virtual time), and a100 2 of 4 for proj-a in force from the first
# cycle. Time limits are either well inside the coming window's start or well past it.
HELD = (SimReservation("lab-hours", "h100", 4, "proj-c", 1800.0, 3600.0),
        SimReservation("ai-101", "a100", 2, "proj-a", 0.0, 7200.0))

WINDOWED = [
    Spec("proj-a", 4, ("h100",), 30, 3600),  # 0: runs into the h100 window, but leaves it its 4: starts
    Spec("proj-b", 4, ("h100",), 20, 3600),  # 1: would run into it with 0 to spare: waits until 0 ends
    Spec("proj-b", 4, ("h100",), 10, 600),  # 2: ends before it starts: uses the reserved units meanwhile
    Spec("proj-c", 2, ("h100",), 15, 600),  # 3: a member before its window: its own quota (borrowed) only
    Spec("proj-c", 4, ("a100",), 12, 600),  # 4: not a member: lent the a100 class's units once no member waits
    Spec("proj-a", 2, ("a100",), 8, 600),  # 5: a member in its window: within the reservation, not borrowed
    Spec("proj-c", 2, ("a100",), 5, 600),  # 6: the a100 left beside the class: its own
]


def test_simulator_and_controller_honour_reserved_windows_alike(
        live: Harness, gates: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = simulated_waves(_policy(live), WINDOWED, HELD)
    started = {i: t for t, a, _ in expected for i, _, _ in a}
    borrowed = {i for _, a, _ in expected for i, _, b in a if b}
    # the scenario does what it claims: the crossing batch job waits for the run that keeps the window's units
    # busy, the short one takes reserved capacity before the window, the a100 class's units are lent when idle
    assert started[0] == 0 and started[2] == 0 and started[1] == 30
    assert started[5] == 0 and 5 not in borrowed and 4 in borrowed and started[4] >= 8
    assert controller_waves(live, gates, monkeypatch, WINDOWED, HELD) == expected
