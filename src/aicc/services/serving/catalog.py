"""Services: create, list, show, update (a new revision), rollback, scale, stop, delete, and their events.

A change here only writes rows: the supervisor (``aicc.controller.serving``) submits, drains and stops
replicas to match, so every path (API, CLI, portal, the autoscaler) moves a service the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicc.config import Settings
from aicc.core.errors import Conflict, InvalidInput, NotFound
from aicc.core.jobs import JobState
from aicc.core.serving import EventKind, ReplicaState, ServiceState, check_health_path, check_port, check_service_name
from aicc.services import audit
from aicc.services import jobs as job_svc
from aicc.services.notify import events as notify_events
from aicc.services.principal import Principal
from aicc.store.models import (
    JobRow,
    ProjectRow,
    ServiceEventRow,
    ServiceRevisionRow,
    ServiceRow,
    utcnow,
)

MAX_REPLICAS = 16
REPLICA_LEASE_S = 3600
"""A replica is admitted, like any run, with budget for this long: one replica-hour. It is not stopped at the
lease's end: the supervisor keeps it while the budget lasts (warnings, then a stop with the reason)."""
LIVE = (JobState.PENDING.value, JobState.ADMITTED.value, JobState.RUNNING.value)


@dataclass(frozen=True, slots=True)
class RevisionSpec:
    command: Sequence[str]
    port: int = 8000
    health_path: str = "/health"
    image: str | None = None
    flavors: Sequence[str] = ()
    accelerators: int = 0
    cpus: int = 1
    memory_mb: int = 2048
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    project_id: int
    name: str
    revision: RevisionSpec
    replicas: int = 1
    min_replicas: int | None = None
    max_replicas: int | None = None
    target_in_flight: float = 4.0


def event(s: Session, service: ServiceRow, kind: EventKind, message: str, job_id: int | None = None) -> None:
    """Record what happened to the service; an unhealthy replica or a failed service is also told to the
    project's people (in this transaction: the notice exists exactly when the event does)."""
    s.add(ServiceEventRow(service_id=service.id, at=utcnow(), kind=kind.value, message=message, job_id=job_id))
    if kind in (EventKind.REPLICA_UNHEALTHY, EventKind.FAILED):
        project = s.get(ProjectRow, service.project_id)
        notify_events.service_unhealthy(
            s, service.project_id, f"svc{service.id}-{kind.value}-{job_id or 0}",
            {"name": service.name, "project": project.name if project else "", "detail": message})


def _check_revision(actor: Principal, settings: Settings, s: Session, project_id: int,
                    spec: RevisionSpec) -> tuple[list[str], str | None]:
    """The run checks of a job (flavor, capacity, image, allocation) on one replica; the usable flavors and
    the normalized image reference."""
    check_port(spec.port)
    check_health_path(spec.health_path)
    if not spec.command and spec.image is None:
        raise InvalidInput("give a command, an image, or both")
    prepared = job_svc.check(actor, settings, job_svc.JobSpec(
        project_id=project_id, command=list(spec.command) or ["true"], flavors=spec.flavors,
        accelerators=spec.accelerators, cpus=spec.cpus, memory_mb=spec.memory_mb,
        time_limit_s=min(REPLICA_LEASE_S, settings.max_time_limit_s), env=spec.env, image=spec.image,
        name="replica"), job_svc.load_reference(s))
    return prepared.flavors, str(prepared.image) if prepared.image else None


def _add_revision(s: Session, service: ServiceRow, number: int, spec: RevisionSpec, flavors: list[str],
                  image: str | None) -> ServiceRevisionRow:
    row = ServiceRevisionRow(service_id=service.id, number=number, image_ref=image, command=list(spec.command),
                             port=spec.port, health_path=spec.health_path, flavors=flavors,
                             accelerators=spec.accelerators, cpus=spec.cpus, memory_mb=spec.memory_mb,
                             env=dict(spec.env), created_at=utcnow())
    s.add(row)
    return row


def _bounds(replicas: int, low: int | None, high: int | None) -> tuple[int, int, int]:
    low = replicas if low is None else low
    high = max(replicas, low) if high is None else high
    if not 0 <= low <= replicas <= high <= MAX_REPLICAS:
        raise InvalidInput(f"replicas must satisfy 0 <= min ({low}) <= replicas ({replicas}) <= max ({high}) "
                           f"<= {MAX_REPLICAS}")
    return replicas, low, high


def create(s: Session, actor: Principal, settings: Settings, spec: ServiceSpec) -> ServiceRow:
    name = check_service_name(spec.name)
    replicas, low, high = _bounds(spec.replicas, spec.min_replicas, spec.max_replicas)
    if spec.target_in_flight <= 0:
        raise InvalidInput("target in-flight requests per replica must be positive")
    flavors, image = _check_revision(actor, settings, s, spec.project_id, spec.revision)
    if s.execute(select(ServiceRow.id).where(ServiceRow.project_id == spec.project_id,
                                             ServiceRow.name == name)).first():
        raise Conflict(f"the project already has a service named {name}")
    row = ServiceRow(project_id=spec.project_id, user_id=actor.user_id, name=name,
                     state=ServiceState.ACTIVE.value, reason="", revision=1, replicas=replicas, min_replicas=low,
                     max_replicas=high, target_in_flight=spec.target_in_flight, failed_starts=0, budget_warned=0,
                     created_at=utcnow(), version=1)
    s.add(row)
    s.flush()
    _add_revision(s, row, 1, spec.revision, flavors, image)
    event(s, row, EventKind.CREATED, f"created with {replicas} replica(s) of revision 1")
    _audit(s, actor, row, "service.create", {"replicas": replicas, "image": image})
    return row


def _audit(s: Session, actor: Principal, row: ServiceRow, action: str, data: Mapping[str, object]) -> None:
    project = s.get(ProjectRow, row.project_id)
    audit.record(s, actor, action, "service", row.id, organization_id=project.organization_id if project else None,
                 data={"name": row.name, **data})


def _visible(s: Session, actor: Principal, row: ServiceRow | None) -> bool:
    if row is None or row.state == ServiceState.DELETED.value:
        return False
    project = s.get(ProjectRow, row.project_id)
    return project is not None and actor.sees_project(project.id, project.organization_id)


def get(s: Session, actor: Principal, service_id: int) -> ServiceRow:
    """Members of the project (and its organization's admins) see and manage its services, as its jobs."""
    row = s.get(ServiceRow, service_id)
    if not _visible(s, actor, row):
        raise NotFound("service not found")
    assert row is not None
    return row


def by_name(s: Session, actor: Principal, project_id: int, name: str) -> ServiceRow:
    row = s.execute(select(ServiceRow).where(ServiceRow.project_id == project_id,
                                             ServiceRow.name == name)).scalar_one_or_none()
    if not _visible(s, actor, row):
        raise NotFound("service not found")
    assert row is not None
    return row


def list_services(s: Session, actor: Principal, project_id: int | None = None) -> list[ServiceRow]:
    q = select(ServiceRow).where(ServiceRow.state != ServiceState.DELETED.value).order_by(ServiceRow.id)
    if project_id is not None:
        q = q.where(ServiceRow.project_id == project_id)
    rows = list(s.execute(q).scalars())
    return [r for r in rows if _visible(s, actor, r)]


@dataclass(frozen=True, slots=True)
class Summary:
    """A service as a list shows it: its row, its project's name, how many replicas are in rotation."""

    row: ServiceRow
    project: str
    ready: int


def summaries(s: Session, actor: Principal) -> list[Summary]:
    out = []
    for row in list_services(s, actor):
        ready = sum(j.replica_state == ReplicaState.READY.value for j in replicas(s, row.id))
        out.append(Summary(row, project_name(s, row), ready))
    return out


def project_name(s: Session, row: ServiceRow) -> str:
    project = s.get(ProjectRow, row.project_id)
    return project.name if project else str(row.project_id)


def revision(s: Session, row: ServiceRow, number: int | None = None) -> ServiceRevisionRow:
    rev = s.execute(select(ServiceRevisionRow).where(
        ServiceRevisionRow.service_id == row.id,
        ServiceRevisionRow.number == (row.revision if number is None else number))).scalar_one_or_none()
    if rev is None:
        raise NotFound(f"revision {number} not found")
    return rev


def update(s: Session, actor: Principal, settings: Settings, service_id: int, *, image: str | None = None,
           command: Sequence[str] | None = None, env: Mapping[str, str] | None = None,
           port: int | None = None, health_path: str | None = None) -> ServiceRow:
    """A new revision from the current one with these changes; replicas roll to it one at a time."""
    row = get(s, actor, service_id)
    cur = revision(s, row)
    spec = RevisionSpec(command=list(cur.command) if command is None else list(command),
                        port=cur.port if port is None else port,
                        health_path=cur.health_path if health_path is None else health_path,
                        image=cur.image_ref if image is None else image, flavors=cur.flavors,
                        accelerators=cur.accelerators, cpus=cur.cpus, memory_mb=cur.memory_mb,
                        env=dict(cur.env) if env is None else dict(env))
    flavors, image_ref = _check_revision(actor, settings, s, row.project_id, spec)
    number = int(s.execute(select(func.max(ServiceRevisionRow.number)).where(
        ServiceRevisionRow.service_id == row.id)).scalar_one()) + 1
    _add_revision(s, row, number, spec, flavors, image_ref)
    row.previous_revision, row.revision = row.revision, number
    _reactivate(row)
    row.version += 1
    event(s, row, EventKind.UPDATED, f"revision {number}" + (f" ({image_ref})" if image_ref else "")
          + f" replaces revision {row.previous_revision}, one replica at a time")
    _audit(s, actor, row, "service.update", {"revision": number, "image": image_ref})
    return row


def rollback(s: Session, actor: Principal, service_id: int) -> ServiceRow:
    row = get(s, actor, service_id)
    if row.previous_revision is None:
        raise Conflict("there is no earlier revision to roll back to")
    row.revision, row.previous_revision = row.previous_revision, row.revision
    _reactivate(row)
    row.version += 1
    event(s, row, EventKind.ROLLED_BACK, f"back to revision {row.revision} (from {row.previous_revision})")
    _audit(s, actor, row, "service.rollback", {"revision": row.revision})
    return row


def _reactivate(row: ServiceRow) -> None:
    """A change by a person gives a failed service a fresh start (a fixed image deserves one)."""
    if row.state == ServiceState.FAILED.value:
        row.state, row.reason = ServiceState.ACTIVE.value, ""
    row.failed_starts, row.next_start_at = 0, None


def scale(s: Session, actor: Principal, service_id: int, *, replicas: int | None = None,
          min_replicas: int | None = None, max_replicas: int | None = None) -> ServiceRow:
    row = get(s, actor, service_id)
    want = row.replicas if replicas is None else replicas
    low = row.min_replicas if min_replicas is None else min_replicas
    high = row.max_replicas if max_replicas is None else max_replicas
    if replicas is not None and min_replicas is None and max_replicas is None:
        low, high = min(low, want), max(high, want)
    want, low, high = _bounds(want, low, high)
    row.replicas, row.min_replicas, row.max_replicas = want, low, high
    row.scaled_at = utcnow()
    row.version += 1
    event(s, row, EventKind.SCALED, f"{want} replica(s) (min {low}, max {high})")
    _audit(s, actor, row, "service.scale", {"replicas": want, "min": low, "max": high})
    return row


def stop(s: Session, row: ServiceRow, state: ServiceState, reason: str, actor: Principal) -> None:
    """Every replica is cancelled; the service keeps its revisions and keys (``update`` or ``scale`` after a
    top-up starts it again)."""
    row.state, row.reason = state.value, reason
    row.version += 1
    for job in s.execute(select(JobRow).where(JobRow.service_id == row.id, JobRow.state.in_(LIVE))).scalars():
        job_svc.cancel(s, actor, job.id)
    kinds = {ServiceState.FAILED: EventKind.FAILED, ServiceState.DELETED: EventKind.DELETED}
    event(s, row, kinds.get(state, EventKind.STOPPED), reason)


def halt(s: Session, actor: Principal, service_id: int) -> ServiceRow:
    """Stop on request: no replica runs (nor is charged) until ``start``; revisions and keys are kept."""
    row = get(s, actor, service_id)
    if row.state != ServiceState.STOPPED.value:
        stop(s, row, ServiceState.STOPPED, f"stopped by {actor.username}", actor)
        _audit(s, actor, row, "service.stop", {})
    return row


def start(s: Session, actor: Principal, service_id: int) -> ServiceRow:
    """A stopped or failed service runs again (after a budget top-up, or a fix)."""
    row = get(s, actor, service_id)
    row.state, row.reason, row.budget_warned = ServiceState.ACTIVE.value, "", 0
    _reactivate(row)
    row.version += 1
    event(s, row, EventKind.SCALED, f"started again with {row.replicas} replica(s)")
    _audit(s, actor, row, "service.start", {})
    return row


def delete(s: Session, actor: Principal, service_id: int) -> ServiceRow:
    row = get(s, actor, service_id)
    stop(s, row, ServiceState.DELETED, f"deleted by {actor.username}", actor)
    _audit(s, actor, row, "service.delete", {})
    row.name = f"~{row.id}-{row.name}"[:63]  # frees the name for a new service of the project
    return row


def events(s: Session, actor: Principal, service_id: int, *, after: int = 0, limit: int = 200
           ) -> list[ServiceEventRow]:
    get(s, actor, service_id)
    return list(s.execute(select(ServiceEventRow).where(
        ServiceEventRow.service_id == service_id, ServiceEventRow.id > after)
        .order_by(ServiceEventRow.id.desc()).limit(limit)).scalars())[::-1]


def replicas(s: Session, service_id: int) -> list[JobRow]:
    return list(s.execute(select(JobRow).where(JobRow.service_id == service_id, JobRow.state.in_(LIVE))
                          .order_by(JobRow.id)).scalars())
