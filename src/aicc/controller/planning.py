"""From database rows to the core policy and back: one scheduling decision per cycle.

The scheduler state lives as long as the controller (``controller.state``): a cycle reads only the job rows
stamped since the last one, so its cost follows what changed, not the length of the queue. It is rebuilt from
the database at start, after the leader lock is regained (:meth:`Planner.invalidate`), after an inventory load,
and when the periodic consistency check finds it has drifted from the database (logged as an error).

Dependencies (``afterok``), array throttles (``%N``) and dataset grants are settled here, before the policy sees
the queue: they are facts about jobs, not about capacity. Only the few jobs that have any of them are looked at
again each cycle.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session, selectinload

from aicc.controller.state import SUBMITTED_REASON, Drift, LiveState, placements_of
from aicc.core.benchmarks import explain_choice
from aicc.core.charging import su
from aicc.core.datazone.states import DatasetState, needs_grant
from aicc.core.jobs import JobState
from aicc.core.jobs.reasons import Reason, ReasonCode, columns, render
from aicc.core.scheduling import POLICIES, FlavorChoice, Placement, PolicyConfig, ProjectState, Scheduler
from aicc.core.scheduling.reasons import IDLE
from aicc.core.scheduling.windows import Windows
from aicc.services import metering, reservations
from aicc.services.datazone import grants
from aicc.store import changes
from aicc.store.models import AllocationRow, DatasetRow, FlavorRow, JobRow

__all__ = ["SUBMITTED_REASON", "Decision", "Planner", "placement_json", "placements_of"]
log = logging.getLogger("aicc.controller")
JOBS = cast(Table, JobRow.__table__)
FAILED_DEP = (JobState.FAILED.value, JobState.CANCELLED.value, JobState.TIMED_OUT.value)
PREEMPTING = Reason(ReasonCode.BEING_PREEMPTED)
PREEMPTING_REASON = render(PREEMPTING)
_REASON_ONLY = {"id", "seq", "reason", "reason_code", "reason_params"}
SET_WRITE_MIN = 64
"""Reason-only updates with the same reason, at least this many, are one set-based UPDATE per chunk of ids."""
SET_WRITE_CHUNK = 5000
CHECK_S = 30.0
"""How often (at most) a full cycle compares the state with the database (a digest of the pending and live rows)."""


@dataclass
class Decision:
    admitted: list[int] = field(default_factory=list)
    preempt: list[int] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    """Row changes for pending jobs (admissions, reasons, settled dependencies), written by ``apply``."""
    capped: bool = False
    """The cycle stopped at the policy's ``max_starts``: run the next one at once."""
    kind: str = "light"
    """How the state was brought up to the database: "light" (job deltas), "full" (and projects), "rebuild"."""
    hwm: int = 0
    admissions: dict[int, dict[str, Any]] = field(default_factory=dict)


def _ts(t: dt.datetime) -> float:
    return t.timestamp()


def placement_json(placements: tuple[Placement, ...]) -> list[list[object]]:
    return [[p.node, list(p.devices), p.cpus, p.memory_mb] for p in placements]


def _throughput(s: Session) -> dict[str, dict[str, float]]:
    """The testbed's matrix (valid benchmark results only); empty until something was measured."""
    from aicc.services.testbed import matrix

    return matrix(s)


class Planner:
    def __init__(self, config: PolicyConfig | None = None) -> None:
        self.config = config or POLICIES["aicc"]
        self.state: LiveState | None = None
        self._last_check = time.monotonic()
        self.rebuilds = 0

    def invalidate(self) -> None:
        """Forget the state: the next cycle rebuilds it from the database (e.g. after regaining the lock)."""
        self.state = None

    def plan(self, s: Session, now: dt.datetime, available: dict[str, bool] | None = None, *,
             full: bool = True) -> Decision:
        """One cycle on a read snapshot. ``available``: the engine's view of its nodes (a node it does not list,
        or lists as unavailable, gets no new work); None when the engine is this machine and always available.
        ``full``: also refresh the projects' budgets and the engine's node view, and now and then check that the
        state still matches the database."""
        kind = self._sync(s, now, available, full)
        state = self.state
        assert state is not None
        sched = state.sched
        updates = self._gate(s, state, now)
        result = sched.cycle(_ts(now))
        decision = Decision(preempt=list(result.preemptions), capped=result.capped,
                            kind=kind, hwm=state.hwm)
        throughput = sched.throughput
        su = {f: fl.su_rate for f, fl in sched.flavors.items()}
        spread = set(result.spread)
        for a in result.admissions:
            why = ""
            job = state.pending.get(a.job_id)
            cls = state.pending_job(job).workload_class if job is not None else None
            if throughput and job is not None and cls in throughput:
                why = "; " + explain_choice(throughput, cls or "", a.flavor, su, list(job.flavors))
            if a.job_id in spread:
                why += "; across switches: no one switch had room for the whole gang"
            row = {
                "id": a.job_id, "state": JobState.ADMITTED.value, "flavor": a.flavor,
                "placement": placement_json(a.placements), "borrowed": a.borrowed, "allocation_id": a.allocation_id,
                "admitted_at": now,
                **columns(Reason(ReasonCode.STARTING_BORROWED if a.borrowed else ReasonCode.STARTING,
                                 {"flavor": a.flavor, "note": why})),
            }
            updates[a.job_id] = row
            decision.admitted.append(a.job_id)
            decision.admissions[a.job_id] = row
            self._charge(state, a.job_id, a.flavor)
        for job_id, reason in result.reasons.items():
            waiting = state.pending.get(job_id)
            if waiting is not None and job_id not in updates:
                rc = columns(reason)
                if waiting.reason != rc["reason"]:
                    updates[job_id] = {"id": job_id, **rc}
        for job_id in state.fresh:
            if job_id not in updates and job_id in sched.pending:
                # a job of a project skipped whole (no room for any of its jobs) reads that project's reason
                blocked = result.blocked_projects.get(sched.pending[job_id].project)
                updates[job_id] = {"id": job_id, **columns(blocked or result.idle_reason or IDLE)}
        for u in updates.values():
            u["seq"] = state.pending[u["id"]].change_seq
        decision.updates = list(updates.values())
        return decision

    def _sync(self, s: Session, now: dt.datetime, available: dict[str, bool] | None, full: bool) -> str:
        """Bring the state up to the database: "light" (deltas), "full" (and the projects), or "rebuild"."""
        state = self.state
        if state is not None:
            try:
                counters = state.sync(s)
                if counters[changes.INVENTORY] > state.counters[changes.INVENTORY]:
                    raise Drift("an inventory was loaded")  # nodes, flavors or the matrix changed: rebuild
                refresh = full or counters[changes.ALLOCATIONS] > state.counters[changes.ALLOCATIONS]
                state.counters = counters
                if full and time.monotonic() - self._last_check >= CHECK_S:
                    self._last_check = time.monotonic()
                    mine, theirs = state.digest(), state.db_digest(s, state.hwm)
                    if mine != theirs:
                        log.error("SCHEDULER STATE DRIFT: in memory %s pending+live jobs (id sum %s, stamp sum "
                                  "%s), database %s (%s, %s); rebuilding from the database", *mine, *theirs)
                        raise Drift("the consistency check failed")
                if full:
                    state.set_available(available)
                if refresh:
                    self._projects(s, state, now)
                return "full" if refresh else "light"
            except Drift as exc:
                if str(exc) != "the consistency check failed":
                    log.warning("rebuilding the scheduler state: %s", exc)
        throughput = _throughput(s) if self.config.placement is FlavorChoice.THROUGHPUT else {}
        gc.disable()  # a rebuild allocates ~10 objects per job and frees none: collections would only rescan them
        try:
            self.state = state = LiveState.build(s, self.config, now, available, throughput, Scheduler)
        finally:
            gc.enable()
        self._projects(s, state, now)
        self._last_check = time.monotonic()
        self.rebuilds += 1
        return "rebuild"

    def wrote(self, decision: Decision, seq: int | None, complete: bool) -> None:
        """After :meth:`apply` and the preemption requests committed (one transaction, stamped ``seq``): mirror
        our own writes, or (some rows had changed meanwhile) read them back at the next cycle."""
        if self.state is not None and seq is not None and complete:
            self.state.wrote(seq, decision.updates, decision.admissions, decision.preempt, PREEMPTING_REASON)

    @staticmethod
    def _charge(state: LiveState, job_id: int, flavor: str) -> None:
        """An admission commits its project's budget for its whole time limit, as a rebuild would count it."""
        running = state.sched.running.get(job_id)
        project = state.sched.projects.get(running.project) if running else None
        if running is None or project is None or project.budget_left == float("inf"):
            return
        cost = su(running.units, running.time_limit_s, state.rates[flavor][0])
        state.sched.set_project(replace(project, budget_left=project.budget_left - cost))

    @staticmethod
    def apply(s: Session, decision: Decision) -> tuple[int | None, bool]:
        """Write a plan made on a read snapshot, only to jobs unchanged since (a cancel may have come): the row
        must still be pending with the stamp the plan saw. Returns (our stamp, whether every row was written).

        Planning only reads, so submissions are not kept waiting while a cycle thinks; this short step
        is all that holds the write lock. Grouped by the set of columns: one executemany each."""
        if not decision.updates:
            return None, True
        seq = changes.stamp(s, changes.JOBS)
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        alike: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        for u in decision.updates:
            if u.keys() == _REASON_ONLY:
                alike.setdefault((u["reason"], u["reason_code"], json.dumps(u["reason_params"], sort_keys=True)),
                                 []).append(u)
            else:
                groups.setdefault(tuple(sorted(u)), []).append(u)
        written = 0
        for rows in alike.values():
            if len(rows) < SET_WRITE_MIN:
                groups.setdefault(tuple(sorted(rows[0])), []).extend(rows)
            else:
                written += _write_reason(s, rows, seq, decision.hwm)
        table = JOBS
        for cols, rows in groups.items():
            stmt = (update(table)
                    .where(table.c.id == bindparam("v_id"), table.c.state == JobState.PENDING.value,
                           table.c.change_seq == bindparam("v_seq"))
                    .values({"change_seq": seq, **{c: bindparam(f"v_{c}") for c in cols if c not in ("id", "seq")}}))
            result = s.execute(stmt, [{f"v_{k}": v for k, v in row.items()} for row in rows])
            written += max(getattr(result, "rowcount", 0) or 0, 0)
        return seq, written == len(decision.updates)

    def _projects(self, s: Session, state: LiveState, now: dt.datetime) -> None:
        """Each project with the allocation to charge: the active one that ends first (use it or lose it)."""
        allocations = list(s.execute(select(AllocationRow).where(AllocationRow.ends_at > now)
                                     .order_by(AllocationRow.ends_at).options(selectinload(AllocationRow.quotas)))
                           .scalars())
        used = metering.used_by_allocation(s, [a.id for a in allocations])
        rates = state.rates
        committed: dict[int, float] = {}
        for job in state.live.values():
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
        names = dict(s.execute(select(FlavorRow.id, FlavorRow.name)).all())
        sched = state.sched
        for project_id in [p for p in sched.projects if p not in chosen]:
            sched.remove_project(project_id)
        for project_id, a in chosen.items():
            left = a.budget_su - used.get(a.id, 0.0) - committed.get(a.id, 0.0)
            project = ProjectState(
                project_id, weight=a.weight,
                nominal={names[q.flavor_id]: q.nominal for q in a.quotas},
                borrowing_limit={names[q.flavor_id]: q.borrowing_limit for q in a.quotas},
                budget_left=left, window_start=_ts(a.starts_at), window_end=_ts(a.ends_at),
                active=not a.suspended, allocation_id=a.id)
            if sched.projects.get(project_id) != project:
                sched.set_project(project)
        # reserved windows (class hours): a reservation's rows stamp the allocations counter, so a change is read
        # at the next cycle; set_windows is a no-op when they are the same
        sched.set_windows(Windows(reservations.windows(s, now)))

    def _gate(self, s: Session, state: LiveState, now: dt.datetime) -> dict[int, dict[str, Any]]:
        """The jobs waiting on grants, dependencies or their array's throttle go into the policy's queue when
        they may run, and out of it when they may not; returns the row updates that say why they wait."""
        updates: dict[int, dict[str, Any]] = {}
        if not state.gated:
            return updates
        eligible, updates = self._eligible_pending(s, now, state)
        sched = state.sched
        for job_id in sorted(state.gated):
            if job_id in eligible:
                if job_id not in sched.pending:
                    sched.submit(state.pending_job(state.pending[job_id]))
            elif job_id in sched.pending:
                sched.cancel(job_id)
        return updates

    @staticmethod
    def _data_access(s: Session, now: dt.datetime) -> tuple[set[tuple[int, int]], set[int], dict[int, str]]:
        """Live grants, published open datasets and dataset names: a job runs only on data it may read now."""
        granted = grants.live_grants(s, now)
        rows = s.execute(select(DatasetRow.id, DatasetRow.name, DatasetRow.classification, DatasetRow.state)).all()
        published = {r.id for r in rows if r.state == DatasetState.PUBLISHED}
        granted = {(p, d) for p, d in granted if d in published}
        open_data = {r.id for r in rows if r.id in published and not needs_grant(r.classification)}
        return granted, open_data, {r.id: r.name for r in rows}

    def _eligible_pending(
        self, s: Session, now: dt.datetime, state: LiveState
    ) -> tuple[set[int], dict[int, dict[str, Any]]]:
        """The gated jobs whose grants are live, whose dependencies succeeded and whose array has room; plus the
        updates that settle the others."""
        pending = [state.pending[i] for i in sorted(state.gated)]
        dep_ids = {d for j in pending for d in j.depends_on}
        dep_state: dict[int, str] = {}
        if dep_ids:
            dep_state = {i: st for i, st in s.execute(select(JobRow.id, JobRow.state).where(JobRow.id.in_(dep_ids)))}
        running_per_array: dict[int, int] = {}
        if any(j.array_max_running for j in pending):
            for j in state.live.values():
                if j.array_id is not None:
                    running_per_array[j.array_id] = running_per_array.get(j.array_id, 0) + 1
        granted, open_data, names = self._data_access(s, now) if any(j.datasets for j in pending) else (
            set(), set(), {})
        out: set[int] = set()
        updates: dict[int, dict[str, Any]] = {}
        for job in pending:
            blocked = [d for d in job.datasets if d not in open_data and (job.project_id, d) not in granted]
            if blocked:
                rc = columns(Reason(ReasonCode.NO_LIVE_GRANT, {"dataset": str(names.get(blocked[0], blocked[0]))}))
                if job.reason != rc["reason"]:
                    updates[job.id] = {"id": job.id, **rc}
                continue
            failed = [d for d in job.depends_on if dep_state.get(d) in FAILED_DEP]
            if failed:
                updates[job.id] = {"id": job.id, "state": JobState.CANCELLED.value, "ended_at": now,
                                   **columns(Reason(ReasonCode.DEPENDENCY_FAILED,
                                                    {"job": failed[0], "state": dep_state[failed[0]]}))}
                continue
            waiting = [d for d in job.depends_on if dep_state.get(d) != JobState.SUCCEEDED.value]
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
            out.add(job.id)
        return out, updates


def _write_reason(s: Session, rows: list[dict[str, Any]], seq: int, hwm: int) -> int:
    """Tell many pending jobs one same reason (a burst of fresh jobs told the center is full): one UPDATE per
    chunk of ids instead of one statement per row, which was 6-10 s for 100,000 fresh jobs after a start.
    The guard is the plan's snapshot: a row still pending with a stamp at most ``hwm`` is the version the plan
    saw (a later change has a larger stamp), as the per-row ``change_seq`` guard says for the other updates.
    Returns how many rows were written."""
    first = rows[0]
    values = {"change_seq": seq, "reason": first["reason"], "reason_code": first["reason_code"],
              "reason_params": first["reason_params"]}
    ids = sorted(r["id"] for r in rows)
    written = 0
    for i in range(0, len(ids), SET_WRITE_CHUNK):
        stmt = (update(JOBS).where(JOBS.c.id.in_(ids[i:i + SET_WRITE_CHUNK]), JOBS.c.state == JobState.PENDING.value,
                                   JOBS.c.change_seq <= hwm).values(values))
        written += max(getattr(s.execute(stmt), "rowcount", 0) or 0, 0)
    return written
