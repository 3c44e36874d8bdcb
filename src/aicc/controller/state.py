"""The controller's one long-lived scheduler state, kept equal to the database by deltas.

The database is the source of truth. Every transaction that changes a job stamps it with a number that grows
in commit order (``store.changes``); each cycle reads only the rows stamped since the last look and applies them
to the mirror of pending and live jobs and to the :class:`Scheduler` (submit, cancel, start, finish, requeue,
preemption, a user's hold, release and update: a held job is mirrored but kept out of the queue). Allocation and
quota changes refresh the projects; an inventory load (nodes, flavors, the testbed's matrix, a project's default
workload class) rebuilds. A delta that cannot be applied (a stale version, a live job
this controller never admitted) raises :class:`Drift`, and the caller rebuilds: never a wrong admission.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from typing import Any, NamedTuple

from sqlalchemy import DateTime, Text, cast, func, select, type_coerce
from sqlalchemy.orm import Session

from aicc.core.jobs import LIVE, JobState, RunKind
from aicc.core.jobs.reasons import Reason, ReasonCode, render
from aicc.core.scheduling import FlavorInfo, NodeInfo, PendingJob, Placement, PolicyConfig, RunningJob, Scheduler
from aicc.store import changes
from aicc.store.models import FlavorRow, JobRow, NodeRow, ProjectRow

PENDING = JobState.PENDING.value
SUBMITTED_REASON = render(Reason(ReasonCode.SUBMITTED))
"""The text a job is submitted with (``services.jobs``): a job still showing it has not been told why it waits."""


class Drift(Exception):
    """The in-memory state and the database disagree in a way a delta cannot mend: rebuild."""


class JobFacts(NamedTuple):
    """What scheduling needs of one job row, pending or live (light: the queue can be long)."""

    id: int
    project_id: int
    state: str
    flavors: tuple[str, ...]
    accelerators: int
    cpus: int
    memory_mb: int
    time_limit_s: int
    priority: int
    submitted_at: dt.datetime
    workload_class: str | None
    depends_on: tuple[int, ...]
    array_id: int | None
    array_max_running: int | None
    reason: str
    datasets: tuple[int, ...]
    change_seq: int
    flavor: str | None
    placement: Any
    allocation_id: int | None
    admitted_at: dt.datetime | None
    started_at: dt.datetime | None
    metered_until: dt.datetime | None
    borrowed: bool
    preempt_requested: bool
    kind: str
    held: bool = False
    """Held by a user (``aicc hold``): mirrored, but kept out of the scheduler's queue until released."""

    @property
    def gated(self) -> bool:
        """Its eligibility depends on other rows (grants, dependencies, its array's throttle): checked each cycle."""
        return bool(self.datasets or self.depends_on or self.array_max_running)


_MAY_BORROW = {k.value: k.may_borrow for k in RunKind}

_RAW_TIME = DateTime(timezone=True)
"""The time columns read as the driver gives them (aware on PostgreSQL, naive UTC on SQLite) and made aware UTC
below, only where they are set: the column type's converter, called 400,000 times, was a tenth of a rebuild."""
_COLS = (JobRow.id, JobRow.project_id, JobRow.state, cast(JobRow.flavors, Text), JobRow.accelerators, JobRow.cpus,
         JobRow.memory_mb, JobRow.time_limit_s, JobRow.priority, type_coerce(JobRow.submitted_at, _RAW_TIME),
         JobRow.workload_class, cast(JobRow.depends_on, Text), JobRow.array_id, JobRow.array_max_running,
         JobRow.reason, cast(JobRow.datasets, Text), JobRow.change_seq, JobRow.flavor, JobRow.placement,
         JobRow.allocation_id, type_coerce(JobRow.admitted_at, _RAW_TIME), type_coerce(JobRow.started_at, _RAW_TIME),
         type_coerce(JobRow.metered_until, _RAW_TIME), JobRow.borrowed, JobRow.preempt_requested,
         JobRow.kind, JobRow.held_by)
_UTC = dt.UTC


def _utc(t: dt.datetime) -> dt.datetime:
    if t.tzinfo is _UTC:
        return t
    return t.replace(tzinfo=_UTC) if t.tzinfo is None else t.astimezone(_UTC)


def load_facts(s: Session, *where: Any) -> list[JobFacts]:
    """Rows as :class:`JobFacts`. The JSON lists are read as text and decoded once per distinct value: a queue
    of 100,000 jobs holds a handful of distinct flavor lists, and decoding each row was most of a rebuild."""
    memo: dict[str | None, tuple[Any, ...]] = {None: (), "null": (), "[]": ()}

    def lst(raw: str | None) -> tuple[Any, ...]:
        hit = memo.get(raw)
        if hit is None:
            hit = memo[raw] = tuple(json.loads(raw or "[]") or ())
        return hit

    out = []
    utc = _utc
    # Core, not ORM, execution: nothing here needs identity or objects, and the ORM's per-row work was a third
    # of a rebuild; all rows in one fetch (the driver's, not one call per row). No ORDER BY: the state keeps
    # dicts, and the few gated jobs are sorted where order matters.
    for r in s.connection().execute(select(*_COLS).where(*where)).fetchall():
        t = r[9]
        out.append(JobFacts(r[0], r[1], r[2], lst(r[3]), r[4], r[5], r[6], r[7], r[8] or 0,
                            t if t.tzinfo is _UTC else utc(t), r[10], lst(r[11]), r[12], r[13], r[14] or "",
                            lst(r[15]), r[16] or 0, r[17], r[18], r[19], utc(r[20]) if r[20] else None,
                            utc(r[21]) if r[21] else None, utc(r[22]) if r[22] else None, bool(r[23]), bool(r[24]),
                            r[25] or RunKind.JOB.value, r[26] is not None))
    return out


def _ts(t: dt.datetime) -> float:
    return t.timestamp()


def placements_of(job: Any) -> tuple[Placement, ...]:
    out = []
    for item in job.placement or []:
        node, devices = item[0], item[1]
        cpus = item[2] if len(item) > 2 else job.cpus
        mem = item[3] if len(item) > 3 else job.memory_mb
        out.append(Placement(str(node), tuple(int(d) for d in devices), int(cpus), int(mem)))
    return tuple(out)


class LiveState:
    """The scheduler plus the rows it was fed, and how far into the change stamps it has read."""

    def __init__(self, sched: Scheduler, rates: dict[str, tuple[float, bool]], node_flavor: dict[str, str],
                 project_class: dict[int, str], counters: dict[str, int]) -> None:
        self.sched = sched
        self.rates = rates
        self.node_flavor = node_flavor
        self.project_class = project_class
        self.counters = counters
        self.hwm = counters[changes.SEQ]
        self.pending: dict[int, JobFacts] = {}
        self.live: dict[int, JobFacts] = {}
        self.gated: set[int] = set()
        self.fresh: set[int] = set()  # pending with the submission's reason, not yet told "waiting"
        self.own: set[int] = set()  # stamps of our own writes, already applied here
        self.available: dict[str, bool] | None = None

    # -- building ---------------------------------------------------------------------------------
    @classmethod
    def build(cls, s: Session, config: PolicyConfig, now: dt.datetime, available: dict[str, bool] | None,
              throughput: dict[str, dict[str, float]], factory: type[Scheduler] = Scheduler) -> LiveState:
        """Everything from the database, in one snapshot: at start, after regaining the lock, after an
        inventory load, and when the consistency check finds drift."""
        counters = changes.read(s)
        flavors = {f.id: f for f in s.execute(select(FlavorRow).where(FlavorRow.retired.is_(False))).scalars()}
        infos = [FlavorInfo(f.name, f.su_rate, f.is_cpu) for f in flavors.values()]
        nodes = [NodeInfo(n.name, flavors[n.flavor_id].name, n.accelerators, n.cpus, n.memory_gb * 1024,
                          switch=n.switch)
                 for n in s.execute(select(NodeRow).where(NodeRow.retired.is_(False))).scalars()
                 if n.flavor_id in flavors]
        if available is not None:
            nodes = [replace(n, available=available.get(n.name, False)) for n in nodes]
        sched = factory(infos, nodes, config, throughput)
        project_class = {pid: c for pid, c in s.execute(
            select(ProjectRow.id, ProjectRow.workload_class).where(ProjectRow.workload_class.is_not(None))) if c}
        state = cls(sched, {f.name: (f.su_rate, f.is_cpu) for f in flavors.values()},
                    {n.name: n.flavor for n in nodes}, project_class, counters)
        state.available = available
        batch: list[PendingJob] = []  # the queue goes in at once: each of its lists sorted once
        for job in load_facts(s, JobRow.state.in_((PENDING, *LIVE)), JobRow.change_seq <= state.hwm):
            state._add(job, batch)
        sched.submit_many(batch)
        return state

    # -- deltas -----------------------------------------------------------------------------------
    def sync(self, s: Session) -> dict[str, int]:
        """Apply every row stamped since the last look; return the counters read (the caller decides what a
        change of allocations or inventory needs). Raises :class:`Drift` when the rows cannot be applied."""
        counters = changes.read(s)
        if counters[changes.SEQ] < self.hwm:
            raise Drift(f"the change counter went back from {self.hwm} to {counters[changes.SEQ]}")
        if counters[changes.JOBS] > self.hwm:
            cond = [JobRow.change_seq > self.hwm, JobRow.change_seq <= counters[changes.SEQ]]
            if self.own:
                cond.append(JobRow.change_seq.not_in(sorted(self.own)))
            for job in load_facts(s, *cond):
                self.apply(job)
        self.hwm = counters[changes.SEQ]
        self.own = {n for n in self.own if n > self.hwm}
        return counters

    def apply(self, job: JobFacts) -> None:
        """One row as the database has it now."""
        known = self.pending.get(job.id) or self.live.get(job.id)
        if known is not None and job.change_seq < known.change_seq:
            raise Drift(f"job {job.id}: stamp {job.change_seq} is older than the {known.change_seq} applied")
        sched = self.sched
        if job.state == PENDING:
            if self.live.pop(job.id, None) is not None or job.id in sched.running:
                sched.finish(job.id)  # requeued (preempted or lost)
            old = self.pending.get(job.id)
            if old is not None and self._pending_job(old) == self._pending_job(job) and old.gated == job.gated \
                    and old.held == job.held:
                self._remember_pending(job)  # only its reason changed
                return
            self._forget_pending(job.id)
            self._add(job)
        elif job.state in LIVE:
            if self.pending.get(job.id) is not None:
                if job.id not in sched.running:
                    raise Drift(f"job {job.id} is {job.state} but this controller did not admit it")
                self._forget_pending(job.id, keep_sched=True)
            elif job.id not in self.live and job.id not in sched.running:
                raise Drift(f"job {job.id} is {job.state} but was never seen pending here")
            self._add(job)
        else:  # ended
            self._forget_pending(job.id)
            if self.live.pop(job.id, None) is not None or job.id in sched.running:
                sched.finish(job.id)

    def _add(self, job: JobFacts, batch: list[PendingJob] | None = None) -> None:
        sched = self.sched
        if job.state == PENDING:
            self._remember_pending(job)
            if job.held:
                return  # never admitted while held; a release is a delta that brings it back
            if job.gated:
                self.gated.add(job.id)
            elif batch is not None:
                batch.append(self._pending_job(job))
            else:
                sched.submit(self._pending_job(job))
            return
        self.live[job.id] = job
        running = self._running_job(job)
        if running is None:
            return
        current = sched.running.get(job.id)
        if current != running:
            if current is not None:
                sched.finish(job.id)
            sched.add_running(running)
        if job.preempt_requested and job.id not in sched.preempting:
            sched.mark_preempting(job.id)

    def _remember_pending(self, job: JobFacts) -> None:
        self.pending[job.id] = job
        if job.reason == SUBMITTED_REASON:
            self.fresh.add(job.id)
        else:
            self.fresh.discard(job.id)

    def _forget_pending(self, job_id: int, *, keep_sched: bool = False) -> None:
        if self.pending.pop(job_id, None) is None:
            return
        self.gated.discard(job_id)
        self.fresh.discard(job_id)
        if not keep_sched:
            self.sched.cancel(job_id)

    def pending_job(self, job: JobFacts) -> PendingJob:
        return self._pending_job(job)

    def _pending_job(self, job: JobFacts) -> PendingJob:
        return PendingJob(job.id, job.project_id, job.flavors, job.accelerators, job.cpus, job.memory_mb,
                          job.time_limit_s, job.priority, _ts(job.submitted_at),
                          job.workload_class or self.project_class.get(job.project_id),
                          _MAY_BORROW[job.kind])

    def _running_job(self, job: JobFacts) -> RunningJob | None:
        if job.flavor not in self.sched.pools or not job.placement:
            return None
        units = job.cpus if self.rates[job.flavor][1] else job.accelerators
        start = job.started_at or job.admitted_at
        # A node an inventory load has retired (or given another flavor) holds no capacity any more;
        # its running jobs still count against their project's quota until they end.
        known = self.sched.pools[job.flavor].nodes
        placements = tuple(p for p in placements_of(job) if p.node in known)
        return RunningJob(job.id, job.project_id, job.flavor, placements, _ts(start) if start else 0.0,
                          job.time_limit_s, job.priority, job.borrowed, units)

    # -- our own writes -----------------------------------------------------------------------------
    def wrote(self, seq: int, updates: list[dict[str, Any]], admitted: dict[int, dict[str, Any]],
              preempted: list[int], reason: str) -> None:
        """The planner's writes, all applied (stamped ``seq``): mirror them without reading them back. The
        preemptions were written in the same transaction (the scheduler has marked them already)."""
        for job_id in preempted:
            job = self.live.get(job_id)
            if job is not None:
                self.live[job_id] = job._replace(preempt_requested=True, reason=reason, change_seq=seq)
        for u in updates:
            job = self.pending.get(u["id"])
            if job is None:
                continue
            if u["id"] in admitted:
                a = admitted[u["id"]]
                self._forget_pending(job.id, keep_sched=True)
                self.live[job.id] = job._replace(
                    state=JobState.ADMITTED.value, flavor=a["flavor"], placement=a["placement"],
                    borrowed=a["borrowed"], allocation_id=a["allocation_id"], admitted_at=a["admitted_at"],
                    reason=a["reason"], change_seq=seq)
            elif u.get("state") == JobState.CANCELLED.value:
                self._forget_pending(job.id)
            else:
                self._remember_pending(job._replace(reason=u.get("reason", job.reason), change_seq=seq))
        self.own.add(seq)

    # -- the consistency check ----------------------------------------------------------------------
    def digest(self) -> tuple[int, int, int]:
        """(count, Σ id, Σ stamp) of the pending and live jobs this state holds."""
        jobs = [*self.pending.values(), *self.live.values()]
        return len(jobs), sum(j.id for j in jobs), sum(j.change_seq for j in jobs)

    @staticmethod
    def db_digest(s: Session, upto: int) -> tuple[int, int, int]:
        row = s.execute(select(func.count(), func.coalesce(func.sum(JobRow.id), 0),
                               func.coalesce(func.sum(JobRow.change_seq), 0))
                        .where(JobRow.state.in_((PENDING, *LIVE)), JobRow.change_seq <= upto)).one()
        return int(row[0]), int(row[1]), int(row[2])

    def set_available(self, available: dict[str, bool] | None) -> None:
        """The engine's view of its nodes changed (Slurm drained or resumed one)."""
        if available == self.available:
            return
        for node, flavor in self.node_flavor.items():
            was = True if self.available is None else self.available.get(node, False)
            now = True if available is None else available.get(node, False)
            if was != now:
                self.sched.set_node_available(node, flavor, now)
        self.available = available
