"""The service supervisor: keeps each service's replicas at its wanted count, healthy, on its revision.

Every ``interval_s`` (only in the process that holds the controller's lock): check the health of each running
replica through its socket (outside any transaction), then in one transaction: take failing replicas out of
rotation at once, restart those that stay unhealthy, record replicas that ended and why, count starts that
never became ready (backoff, then the service fails with its last log lines), apply the plan of
``core.serving`` (start, drain, stop), autoscale, and warn then stop a service whose budget runs out.

Replicas are runs like any other: this module submits and cancels rows of ``jobs``; the controller admits and
starts them by the one policy. It holds no resources and runs no second scheduler.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicc.config import Settings
from aicc.core.charging import su
from aicc.core.errors import DomainError
from aicc.core.jobs import JobState
from aicc.core.serving import EventKind, Replica, ReplicaState, ServiceState, ServiceView, backoff_s, plan
from aicc.core.serving.autoscale import Scaling, wanted_replicas
from aicc.core.serving.budget import budget_step, hours_text
from aicc.services import jobs as job_svc
from aicc.services import metering
from aicc.services.principal import SYSTEM
from aicc.services.serving import catalog, replicas
from aicc.services.serving.traffic import Traffic
from aicc.store.db import Database
from aicc.store.models import AllocationRow, JobRow, ServiceRevisionRow, ServiceRow, utcnow

log = logging.getLogger("aicc.serving")
ENDED = "ended"
"""``replica_state`` of a finished replica whose end the supervisor has recorded."""
RETIRED = "retired"
"""``replica_state`` of a replica the supervisor cancelled (drained, restarted, timed out): its end is expected."""


@dataclass
class ServingConfig:
    interval_s: float = 0.5
    probe_timeout_s: float = 1.0
    unhealthy_restart_after: int = 3
    """Failed checks in a row before an unhealthy replica is restarted (it left rotation at the first)."""
    startup_timeout_s: float = 180.0
    max_failed_starts: int = 3
    drain_s: float = 2.0
    """Out of rotation this long before being stopped: requests in flight finish (the gateway's view of the
    replicas is at most ``gateway.REFRESH_S`` old)."""
    up_cooldown_s: float = 10.0
    down_cooldown_s: float = 60.0
    budget_every_s: float = 30.0


@dataclass
class _Seen:
    """What the supervisor remembers between ticks (lost at a failover, which costs only a slower drain)."""

    fails: dict[int, int] = field(default_factory=dict)
    since: dict[int, dt.datetime] = field(default_factory=dict)
    why: dict[int, str] = field(default_factory=dict)
    rolling: set[int] = field(default_factory=set)
    budget_at: dt.datetime | None = None


class Supervisor:
    def __init__(self, settings: Settings, db: Database, *, wake: Callable[[], None] = lambda: None,
                 leads: Callable[[], bool] = lambda: True, traffic: Traffic | None = None,
                 config: ServingConfig | None = None) -> None:
        self.settings, self.db, self.wake, self.leads = settings, db, wake, leads
        self.traffic = traffic or Traffic()
        self.config = config or ServingConfig()
        self.seen = _Seen()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="aicc-probe")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="aicc-serving", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._pool.shutdown(wait=False)

    def _run(self) -> None:
        while not self._stop.wait(self.config.interval_s):
            if not self.leads():
                continue
            try:
                self.tick()
            except Exception:  # the loop must survive any one bad tick
                log.exception("service supervision failed; retrying")

    # -- one tick -------------------------------------------------------------------------------
    def tick(self, now: dt.datetime | None = None) -> None:
        with self.db.read() as s:
            live = list(s.execute(select(JobRow).where(
                JobRow.service_id.is_not(None), JobRow.state.in_(catalog.LIVE))).scalars())
            services = {r.id: r for r in s.execute(select(ServiceRow).where(
                ServiceRow.state == ServiceState.ACTIVE.value)).scalars()}
            revs = {(r.service_id, r.number): (r.port, r.health_path) for r in s.execute(
                select(ServiceRevisionRow).where(ServiceRevisionRow.service_id.in_(
                    {j.service_id for j in live if j.service_id is not None}))).scalars()}
            ended = s.execute(select(JobRow.id).where(
                JobRow.service_id.is_not(None), JobRow.state.not_in(catalog.LIVE),
                JobRow.replica_state.is_distinct_from(ENDED)).limit(500)).scalars().all()
            s.expunge_all()
        probed = [j for j in live if j.state == JobState.RUNNING.value and j.replica_state in (
            ReplicaState.STARTING.value, ReplicaState.READY.value, ReplicaState.UNHEALTHY.value)]
        results = dict(zip([j.id for j in probed], self._pool.map(lambda j: self._probe(j, revs), probed),
                           strict=True))
        if not (probed or ended or services):
            return
        now = now or utcnow()
        nudge = False
        with self.db.write() as s:
            for job_id in ended:
                self._ended(s, job_id, now)
            for job_id, error in results.items():
                nudge |= self._checked(s, job_id, error, now, revs)
            averages = self.traffic.average()
            for service in s.execute(select(ServiceRow).where(
                    ServiceRow.state == ServiceState.ACTIVE.value)).scalars():
                try:
                    nudge |= self._keep(s, service, now, averages.get(service.id))
                except DomainError as exc:  # a replica that can never run (the allocation ended)
                    catalog.stop(s, service, ServiceState.STOPPED, f"cannot start a replica: {exc.detail}", SYSTEM)
                    nudge = True
            if self.seen.budget_at is None or (now - self.seen.budget_at).total_seconds() >= \
                    self.config.budget_every_s:
                self.seen.budget_at = now
                nudge |= self._budgets(s)
        if nudge:
            self.wake()

    def _probe(self, job: JobRow, revs: dict[tuple[int, int], tuple[int, str]]) -> str | None:
        port, health = revs.get((job.service_id or 0, job.service_revision or 0), (0, "/"))
        return replicas.probe(replicas.address(self.settings, job.id, job.attempt), health, port,
                              self.config.probe_timeout_s)

    # -- replicas -------------------------------------------------------------------------------
    def _ended(self, s: Session, job_id: int, now: dt.datetime) -> None:
        job = s.get(JobRow, job_id)
        service = s.get(ServiceRow, job.service_id) if job is not None else None
        if job is None or service is None:
            return
        was, job.replica_state = job.replica_state, ENDED
        self.seen.fails.pop(job.id, None)
        self.seen.since.pop(job.id, None)
        if was == RETIRED or service.state != ServiceState.ACTIVE.value:
            return
        why = f"replica {job.id} ended ({job.state}): {job.reason}"
        catalog.event(s, service, EventKind.REPLICA_EXITED, why, job.id)
        if was == ReplicaState.STARTING.value and job.state != JobState.CANCELLED.value:
            self._failed_start(s, service, job, why, now)

    def _failed_start(self, s: Session, service: ServiceRow, job: JobRow, why: str, now: dt.datetime) -> None:
        service.failed_starts += 1
        if service.failed_starts >= self.config.max_failed_starts:
            tail = replicas.last_lines(self.settings, job.id)
            catalog.stop(s, service, ServiceState.FAILED,
                         f"{service.failed_starts} replica starts in a row never became ready; last: {why}; "
                         f"last log lines: {tail}", SYSTEM)
            return
        wait = backoff_s(service.failed_starts)
        service.next_start_at = now + dt.timedelta(seconds=wait)
        catalog.event(s, service, EventKind.REPLICA_RESTARTED,
                      f"start {service.failed_starts} never became ready; next start in {wait:g} s", job.id)

    def _checked(self, s: Session, job_id: int, error: str | None, now: dt.datetime,
                 revs: dict[tuple[int, int], tuple[int, str]]) -> bool:
        job = s.get(JobRow, job_id)
        if job is None or job.state != JobState.RUNNING.value or job.service_id is None:
            return False
        service = s.get(ServiceRow, job.service_id)
        if service is None:
            return False
        state = job.replica_state
        if error is None:
            self.seen.fails.pop(job.id, None)
            if state in (ReplicaState.STARTING.value, ReplicaState.UNHEALTHY.value):
                job.replica_state = ReplicaState.READY.value
                self.seen.since[job.id] = now
                if state == ReplicaState.STARTING.value:
                    service.failed_starts, service.next_start_at = 0, None
                catalog.event(s, service, EventKind.REPLICA_READY, f"replica {job.id} (revision "
                              f"{job.service_revision}) is ready and in rotation", job.id)
            return False
        fails = self.seen.fails[job.id] = self.seen.fails.get(job.id, 0) + 1
        if state == ReplicaState.READY.value:
            job.replica_state = ReplicaState.UNHEALTHY.value
            catalog.event(s, service, EventKind.REPLICA_UNHEALTHY,
                          f"replica {job.id} out of rotation: {error}", job.id)
        elif state == ReplicaState.UNHEALTHY.value and fails >= self.config.unhealthy_restart_after:
            self._retire(s, job)
            catalog.event(s, service, EventKind.REPLICA_RESTARTED,
                          f"replica {job.id} restarted after {fails} failed checks: {error}", job.id)
            return True
        elif state == ReplicaState.STARTING.value and job.started_at is not None and \
                (now - job.started_at).total_seconds() >= self.config.startup_timeout_s:
            port, health = revs.get((service.id, job.service_revision or 0), (0, "/"))
            why = (f"replica {job.id}: no healthy answer on port {port} at {health} within "
                   f"{self.config.startup_timeout_s:g} s ({error})")
            self._retire(s, job)
            catalog.event(s, service, EventKind.REPLICA_UNHEALTHY, why, job.id)
            self._failed_start(s, service, job, why, now)
            return True
        return False

    def _retire(self, s: Session, job: JobRow) -> None:
        job.replica_state = RETIRED
        job_svc.cancel(s, SYSTEM, job.id)

    def _keep(self, s: Session, service: ServiceRow, now: dt.datetime, in_flight: float | None) -> bool:
        """Autoscale, then start, drain and stop replicas by the plan."""
        nudge = False
        if in_flight is not None:
            rule = Scaling(service.min_replicas, service.max_replicas, service.target_in_flight,
                           self.config.up_cooldown_s, self.config.down_cooldown_s)
            want = wanted_replicas(rule, service.replicas, in_flight, service.scaled_at, now)
            if want is not None:
                catalog.event(s, service, EventKind.AUTOSCALED, f"{service.replicas} -> {want} replica(s): "
                              f"{in_flight:.1f} requests in flight, aim {service.target_in_flight:g} per replica")
                service.replicas, service.scaled_at = want, now
        rows = list(s.execute(select(JobRow).where(
            JobRow.service_id == service.id, JobRow.state.in_(catalog.LIVE),
            JobRow.replica_state.not_in((RETIRED, ENDED)), JobRow.cancel_requested.is_(False))).scalars())
        for j in rows:  # requeued by the engine (its node lost): it must prove itself again before any request
            if j.state != JobState.RUNNING.value and j.replica_state != ReplicaState.STARTING.value:
                j.replica_state = ReplicaState.STARTING.value
        view = [Replica(j.id, j.service_revision or 0, ReplicaState(j.replica_state or "starting"),
                        self.seen.since.get(j.id) or j.started_at or j.submitted_at) for j in rows]
        p = plan(ServiceView(service.revision, service.replicas, service.next_start_at), view, now,
                 drain_s=self.config.drain_s)
        by_id = {j.id: j for j in rows}
        for job_id in p.drain:
            job = by_id[job_id]
            if job.state == JobState.PENDING.value or job.replica_state != ReplicaState.READY.value:
                self._retire(s, job)  # never served or not serving: nothing to drain
                nudge = True
                continue
            job.replica_state = ReplicaState.DRAINING.value
            self.seen.since[job.id] = now
            catalog.event(s, service, EventKind.REPLICA_DRAINED, f"replica {job.id} (revision "
                          f"{job.service_revision}) out of rotation, stopping in {self.config.drain_s:g} s", job.id)
        for job_id in p.stop:
            self._retire(s, by_id[job_id])
            nudge = True
        if p.start:
            rev = catalog.revision(s, service)
            for _ in range(p.start):
                job_id = replicas.submit(s, self.settings, service, rev)
                catalog.event(s, service, EventKind.REPLICA_SUBMITTED,
                              f"replica {job_id} of revision {rev.number} submitted", job_id)
            nudge = True
        if any(r.revision != service.revision for r in view):
            self.seen.rolling.add(service.id)
        elif p.rollout_done and service.id in self.seen.rolling:
            self.seen.rolling.discard(service.id)
            catalog.event(s, service, EventKind.ROLLOUT_DONE,
                          f"all {service.replicas} replica(s) run revision {service.revision} and are ready")
        return nudge

    # -- budget ---------------------------------------------------------------------------------
    def _budgets(self, s: Session) -> bool:
        """Warn as each active service's allocation falls below 24, 4 and 1 hours of its replicas; stop it,
        with the reason, when the allocation is spent."""
        running = list(s.execute(select(JobRow).where(
            JobRow.service_id.is_not(None), JobRow.state == JobState.RUNNING.value,
            JobRow.allocation_id.is_not(None))).scalars())
        if not running:
            return False
        rates = metering.flavor_rates(s)
        burn: dict[int, float] = {}
        alloc: dict[int, int] = {}
        for j in running:
            rate, cpu = rates.get(j.flavor or "", (0.0, False))
            burn[j.service_id or 0] = burn.get(j.service_id or 0, 0.0) + su(j.cpus if cpu else j.accelerators,
                                                                            3600, rate)
            alloc[j.service_id or 0] = j.allocation_id or 0
        used = metering.used_by_allocation(s, list(set(alloc.values())))
        nudge = False
        for service_id, allocation_id in alloc.items():
            service = s.get(ServiceRow, service_id)
            a = s.get(AllocationRow, allocation_id)
            if service is None or a is None or service.state != ServiceState.ACTIVE.value:
                continue
            left = a.budget_su - used.get(a.id, 0.0)
            step, level = budget_step(left, burn[service_id], service.budget_warned)
            if step == "stop":
                catalog.stop(s, service, ServiceState.STOPPED,
                             f"stopped: the budget of allocation {a.name} is spent ({left:.2f} SU left)", SYSTEM)
                nudge = True
            elif step == "warn":
                service.budget_warned = level
                catalog.event(s, service, EventKind.BUDGET_WARNING,
                              f"allocation {a.name} has {left:.1f} SU left: {hours_text(left, burn[service_id])} "
                              f"of this service's {burn[service_id]:g} SU/h; it stops when the budget is spent")
        return nudge
