"""From database rows to the core policy and back: one scheduling decision per cycle.

The scheduler state is rebuilt from the database every cycle. That is the
simplest way to be right after a restart, a cancel or an amended allocation, and
cheap at the size of a real queue (thousands of jobs); the policy itself is
incremental-capable (see ``bench/scheduling_cycle.py``) for when queues grow.

Dependencies (``afterok``) and array throttles (``%N``) are settled here, before
the policy sees the queue: they are facts about jobs, not about capacity.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from aicc.core.benchmarks import explain_choice
from aicc.core.charging import su
from aicc.core.jobs import JobState
from aicc.core.jobs.reasons import Reason, ReasonCode, columns, render
from aicc.core.scheduling import (
    POLICIES,
    FlavorInfo,
    NodeInfo,
    PendingJob,
    Placement,
    PolicyConfig,
    ProjectState,
    RunningJob,
    Scheduler,
)
from aicc.core.scheduling.reasons import IDLE
from aicc.services import metering
from aicc.services.datazone import grants
from aicc.store.models import AllocationRow, DatasetRow, FlavorRow, JobRow, NodeRow, ProjectRow

SUBMITTED = Reason(ReasonCode.SUBMITTED)
SUBMITTED_REASON = render(SUBMITTED)
JOBS = cast(Table, JobRow.__table__)
LIVE = (JobState.ADMITTED.value, JobState.RUNNING.value)
FAILED_DEP = (JobState.FAILED.value, JobState.CANCELLED.value, JobState.TIMED_OUT.value)


@dataclass
class Decision:
    admitted: list[int] = field(default_factory=list)
    preempt: list[int] = field(default_factory=list)
    examined: int = 0
    updates: list[dict[str, Any]] = field(default_factory=list)
    """Row changes for pending jobs (admissions, reasons, settled dependencies), written by ``apply``."""
    capped: bool = False
    """The cycle stopped at the policy's ``max_starts``: run the next one at once."""


def _ts(t: dt.datetime) -> float:
    return t.timestamp()


def placement_json(placements: tuple[Placement, ...]) -> list[list[object]]:
    return [[p.node, list(p.devices), p.cpus, p.memory_mb] for p in placements]


def placements_of(job: JobRow) -> tuple[Placement, ...]:
    out = []
    for item in job.placement or []:
        node, devices = item[0], item[1]
        cpus = item[2] if len(item) > 2 else job.cpus
        mem = item[3] if len(item) > 3 else job.memory_mb
        out.append(Placement(str(node), tuple(int(d) for d in devices), int(cpus), int(mem)))
    return tuple(out)


def _throughput(s: Session) -> dict[str, dict[str, float]]:
    """The testbed's matrix (valid benchmark results only); empty until something was measured."""
    from aicc.services.testbed import matrix

    return matrix(s)


class Planner:
    def __init__(self, config: PolicyConfig | None = None) -> None:
        self.config = config or POLICIES["aicc"]

    def invalidate(self) -> None:
        """Kept for the loop's sake: state is rebuilt every cycle, so nothing is cached to drop."""

    def plan(self, s: Session, now: dt.datetime, available: dict[str, bool] | None = None) -> Decision:
        """One cycle. ``available``: the engine's view of its nodes (a node it does not list, or lists as
        unavailable, gets no new work); None when the engine is this machine and always available."""
        flavors = {f.id: f for f in s.execute(select(FlavorRow).where(FlavorRow.retired.is_(False))).scalars()}
        infos = [FlavorInfo(f.name, f.su_rate, f.vendor == "cpu") for f in flavors.values()]
        nodes = [NodeInfo(n.name, flavors[n.flavor_id].name, n.accelerators, n.cpus, n.memory_gb * 1024)
                 for n in s.execute(select(NodeRow).where(NodeRow.retired.is_(False))).scalars()
                 if n.flavor_id in flavors]
        if available is not None:
            nodes = [replace(n, available=available.get(n.name, False)) for n in nodes]
        throughput = _throughput(s) if self.config.placement == "throughput" else {}
        sched = Scheduler(infos, nodes, self.config, throughput)
        rates = {f.name: (f.su_rate, f.vendor == "cpu") for f in flavors.values()}
        live = list(s.execute(select(JobRow).where(JobRow.state.in_(LIVE))).scalars())
        self._projects(s, sched, now, live, rates)
        for job in live:
            if job.flavor in sched.pools and job.placement:
                units = job.cpus if rates[job.flavor][1] else job.accelerators
                start = _ts(job.started_at or job.admitted_at or now)
                # A node an inventory load has retired (or given another flavor) holds no capacity any more;
                # its running jobs still count against their project's quota until they end.
                known = sched.pools[job.flavor].nodes
                placements = tuple(p for p in placements_of(job) if p.node in known)
                sched.add_running(RunningJob(job.id, job.project_id, job.flavor, placements, start,
                                             job.time_limit_s, job.priority, job.borrowed, units))
                if job.preempt_requested:
                    sched.preempting.add(job.id)
                    sched._borrowing.discard(job.id)
        pending, updates = self._eligible_pending(s, now, live)
        project_class = {pid: cls for pid, cls in s.execute(
            select(ProjectRow.id, ProjectRow.workload_class).where(ProjectRow.workload_class.is_not(None)))}
        classes = {job.id: job.workload_class or project_class.get(job.project_id) for job in pending}
        for job in pending:
            sched.submit(PendingJob(job.id, job.project_id, tuple(job.flavors), job.accelerators, job.cpus,
                                    job.memory_mb, job.time_limit_s, job.priority, _ts(job.submitted_at),
                                    classes[job.id]))
        result = sched.cycle(_ts(now))
        by_id = {j.id: j for j in pending}
        decision = Decision(preempt=list(result.preemptions), examined=result.examined, capped=result.capped)
        su = {f.name: f.su_rate for f in flavors.values()}
        for a in result.admissions:
            why = ""
            job_row = by_id.get(a.job_id)
            cls = classes.get(a.job_id)
            if throughput and job_row is not None and cls in throughput:
                why = "; " + explain_choice(throughput, cls, a.flavor, su, job_row.flavors)
            updates[a.job_id] = {
                "id": a.job_id, "state": JobState.ADMITTED.value, "flavor": a.flavor,
                "placement": placement_json(a.placements), "borrowed": a.borrowed, "allocation_id": a.allocation_id,
                "admitted_at": now,
                **columns(Reason(ReasonCode.STARTING_BORROWED if a.borrowed else ReasonCode.STARTING,
                                 {"flavor": a.flavor, "note": why})),
            }
            decision.admitted.append(a.job_id)
        for job_id, reason in result.reasons.items():
            waiting = by_id.get(job_id)
            if waiting is not None and job_id not in updates:
                rc = columns(reason)
                if waiting.reason != rc["reason"]:
                    updates[job_id] = {"id": job_id, **rc}
        for job in pending:
            if job.reason == SUBMITTED_REASON and job.id not in updates:
                updates[job.id] = {"id": job.id, **columns(result.idle_reason or IDLE)}
        decision.updates = list(updates.values())
        return decision

    @staticmethod
    def apply(s: Session, decision: Decision) -> None:
        """Write a plan made on a read snapshot, only to jobs still pending (a cancel may have come since).

        Planning only reads, so submissions are not kept waiting while a cycle thinks; this short step
        is all that holds the write lock. Grouped by the set of columns: one executemany each."""
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for u in decision.updates:
            groups.setdefault(tuple(sorted(u)), []).append(u)
        table = JOBS
        for cols, rows in groups.items():
            stmt = (update(table)
                    .where(table.c.id == bindparam("v_id"), table.c.state == JobState.PENDING.value)
                    .values({c: bindparam(f"v_{c}") for c in cols if c != "id"}))
            s.execute(stmt, [{f"v_{k}": v for k, v in row.items()} for row in rows])

    def _projects(self, s: Session, sched: Scheduler, now: dt.datetime, live: list[JobRow],
                  rates: dict[str, tuple[float, bool]]) -> None:
        """Each project with the allocation to charge: the active one that ends first (use it or lose it)."""
        allocations = list(s.execute(select(AllocationRow).where(AllocationRow.ends_at > now)
                                     .order_by(AllocationRow.ends_at)).scalars())
        used = metering.used_by_allocation(s, [a.id for a in allocations])
        committed: dict[int, float] = {}
        for job in live:
            if job.allocation_id is None or job.flavor not in rates:
                continue
            rate, cpu = rates[job.flavor]
            started = job.started_at or job.admitted_at or now
            left_s = max(job.time_limit_s - (now - started).total_seconds(), 0.0)
            metered = (job.metered_until or started) if job.started_at else started
            unmetered_s = max((now - metered).total_seconds(), 0.0) if job.started_at else 0.0
            units = job.cpus if cpu else job.accelerators
            committed[job.allocation_id] = committed.get(job.allocation_id, 0.0) + su(units, left_s + unmetered_s, rate)
        chosen: dict[int, AllocationRow] = {}
        for a in allocations:
            current = chosen.get(a.project_id)
            left = a.budget_su - used.get(a.id, 0.0) - committed.get(a.id, 0.0)
            usable = not a.suspended and a.starts_at <= now and left > 0
            if current is None:
                chosen[a.project_id] = a
                continue
            current_left = current.budget_su - used.get(current.id, 0.0) - committed.get(current.id, 0.0)
            current_usable = not current.suspended and current.starts_at <= now and current_left > 0
            if usable and not current_usable:
                chosen[a.project_id] = a
        names = {f.id: f.name for f in s.execute(select(FlavorRow)).scalars()}
        for project_id, a in chosen.items():
            left = a.budget_su - used.get(a.id, 0.0) - committed.get(a.id, 0.0)
            sched.set_project(ProjectState(
                project_id, weight=a.weight,
                nominal={names[q.flavor_id]: q.nominal for q in a.quotas},
                borrowing_limit={names[q.flavor_id]: q.borrowing_limit for q in a.quotas},
                budget_left=left, window_start=_ts(a.starts_at), window_end=_ts(a.ends_at),
                active=not a.suspended, allocation_id=a.id))

    @staticmethod
    def _data_access(s: Session, now: dt.datetime) -> tuple[set[tuple[int, int]], set[int], dict[int, str]]:
        """Live grants, published open datasets and dataset names: a job runs only on data it may read now."""
        granted = grants.live_grants(s, now)
        rows = s.execute(select(DatasetRow.id, DatasetRow.name, DatasetRow.classification, DatasetRow.state)).all()
        published = {r.id for r in rows if r.state == "published"}
        granted = {(p, d) for p, d in granted if d in published}
        open_data = {r.id for r in rows if r.state == "published" and r.classification == "open"}
        return granted, open_data, {r.id: r.name for r in rows}

    def _eligible_pending(
        self, s: Session, now: dt.datetime, live: list[JobRow]
    ) -> tuple[list[Any], dict[int, dict[str, Any]]]:
        """Pending jobs whose dependencies succeeded and whose array has room, as light rows (not ORM objects:
        the queue can be long); plus the updates that settle the others."""
        cols = (JobRow.id, JobRow.project_id, JobRow.flavors, JobRow.accelerators, JobRow.cpus, JobRow.memory_mb,
                JobRow.time_limit_s, JobRow.priority, JobRow.submitted_at, JobRow.workload_class, JobRow.depends_on,
                JobRow.array_id, JobRow.array_max_running, JobRow.reason, JobRow.datasets)
        pending = s.execute(select(*cols).where(JobRow.state == JobState.PENDING.value).order_by(JobRow.id)).all()
        dep_ids = {d for j in pending for d in (j.depends_on or [])}
        dep_state: dict[int, str] = {}
        if dep_ids:
            dep_state = {i: st for i, st in s.execute(select(JobRow.id, JobRow.state).where(JobRow.id.in_(dep_ids)))}
        running_per_array: dict[int, int] = {}
        for j in live:
            if j.array_id is not None:
                running_per_array[j.array_id] = running_per_array.get(j.array_id, 0) + 1
        granted, open_data, names = self._data_access(s, now) if any(j.datasets for j in pending) else (
            set(), set(), {})
        out = []
        updates: dict[int, dict[str, Any]] = {}
        for job in pending:
            blocked = [d for d in job.datasets or [] if d not in open_data and (job.project_id, d) not in granted]
            if blocked:
                rc = columns(Reason(ReasonCode.NO_LIVE_GRANT, {"dataset": str(names.get(blocked[0], blocked[0]))}))
                if job.reason != rc["reason"]:
                    updates[job.id] = {"id": job.id, **rc}
                continue
            failed = [d for d in job.depends_on or [] if dep_state.get(d) in FAILED_DEP]
            if failed:
                updates[job.id] = {"id": job.id, "state": JobState.CANCELLED.value, "ended_at": now,
                                   **columns(Reason(ReasonCode.DEPENDENCY_FAILED,
                                                    {"job": failed[0], "state": dep_state[failed[0]]}))}
                continue
            waiting = [d for d in job.depends_on or [] if dep_state.get(d) != JobState.SUCCEEDED.value]
            if waiting:
                rc = columns(Reason(ReasonCode.AFTEROK, {"job": waiting[0]}))
                if job.reason != rc["reason"]:
                    updates[job.id] = {"id": job.id, **rc}
                continue
            if job.array_id is not None and job.array_max_running:
                n = running_per_array.get(job.array_id, 0)
                if n >= job.array_max_running:
                    rc = columns(Reason(ReasonCode.ARRAY_LIMIT, {"limit": job.array_max_running}))
                    if job.reason != rc["reason"]:
                        updates[job.id] = {"id": job.id, **rc}
                    continue
                running_per_array[job.array_id] = n + 1
            out.append(job)
        return out, updates
