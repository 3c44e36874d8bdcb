"""A user's hands on a job after submit, as Slurm's ``scontrol`` gives them: hold, release, requeue, update.

Each is one transaction, authorized as cancel is (the submitter, or an admin of the project's organization),
checked against the one move table of ``core.jobs.state`` (only a pending job is held, released or updated),
and audited. The controller sees each as a row change (the job's stamp, ``store.changes``), so its long-lived
scheduler state takes them as deltas: a held job leaves the queue and is never admitted, a released or updated
one comes back in with its new shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session

from aicc.config import Settings
from aicc.core.errors import Conflict, Forbidden, InvalidInput
from aicc.core.jobs import FINISHED, JobEvent, JobState, RunKind, transition
from aicc.core.jobs.reasons import Reason, ReasonCode
from aicc.services import audit
from aicc.services import jobs as jobs_svc
from aicc.services.principal import Principal
from aicc.store.models import JobRow, ProjectRow, utcnow

UPDATABLE = frozenset({"time_limit_s", "priority", "flavors", "name", "accelerators", "cpus", "memory_mb"})
"""What ``aicc update`` may change on a pending job; each value is checked as submit checks it."""


def _controlled(s: Session, actor: Principal, job_id: int, verb: str) -> tuple[JobRow, int | None]:
    """The job, if ``actor`` may act on it (else NotFound or Forbidden), and its organization."""
    job = jobs_svc.get(s, actor, job_id)
    project = s.get(ProjectRow, job.project_id)
    org = project.organization_id if project is not None else None
    if job.user_id != actor.user_id and (org is None or not actor.is_org_admin(org)):
        raise Forbidden(f"only the submitter or an organization admin may {verb} this job")
    if job.kind != RunKind.JOB.value:
        raise InvalidInput(f"job {job.id} is a {job.kind}: {verb} works on batch jobs")
    return job, org


def _move(job: JobRow, event: JobEvent) -> JobState:
    return transition(JobState(job.state), event)


def hold(s: Session, actor: Principal, job_id: int) -> JobRow:
    """Keep a pending job from starting until it is released. Holding it twice is refused (409)."""
    job, org = _controlled(s, actor, job_id, "hold")
    job.state = _move(job, JobEvent.HOLD).value
    if job.held_by is not None:
        raise Conflict(f"job {job.id} is already held by {job.held_by}")
    job.held_by = actor.username
    job.set_reason(Reason(ReasonCode.HELD_BY, {"user": actor.username}))
    audit.record(s, actor, "job.hold", "job", job.id, organization_id=org)
    return job


def release(s: Session, actor: Principal, job_id: int) -> JobRow:
    """Let a held job be scheduled again, in its original place in the queue."""
    job, org = _controlled(s, actor, job_id, "release")
    job.state = _move(job, JobEvent.RELEASE).value
    if job.held_by is None:
        raise Conflict(f"job {job.id} is not held")
    audit.record(s, actor, "job.release", "job", job.id, organization_id=org, data={"held_by": job.held_by})
    job.held_by = None
    job.set_reason(Reason(ReasonCode.SUBMITTED))  # the controller tells it why it waits next cycle
    return job


def requeue(s: Session, actor: Principal, job_id: int) -> JobRow:
    """Run the job again as a new attempt: an ended one goes back to pending at once (at the end of the queue);
    a running one is stopped by the controller (SIGTERM, grace, SIGKILL) and then requeued in its
    original place, as a preempted job is (one still starting is refused: try again once it runs)."""
    job, org = _controlled(s, actor, job_id, "requeue")
    state = JobState(job.state)
    target = _move(job, JobEvent.REQUEUE)  # a pending job cannot: it is queued already
    if state in FINISHED:
        if job.datasets:
            raise InvalidInput(f"job {job.id} read datasets: its outputs are kept for review as they are; "
                               "submit it again instead")
        _fresh_attempt(job)
        job.state = target.value
        job.set_reason(Reason(ReasonCode.REQUEUED_BY, {"user": actor.username}))
    else:
        if state is JobState.ADMITTED:
            raise Conflict(f"job {job.id} is starting: requeue it once it runs")
        if job.cancel_requested:
            raise Conflict(f"job {job.id} is being cancelled")
        if job.preempt_requested:
            raise Conflict(f"job {job.id} is already being stopped to run again")
        job.preempt_requested = True  # the controller stops it; lifecycle requeues it as REQUEUED_BY
        job.set_reason(Reason(ReasonCode.REQUEUE_REQUESTED_BY, {"user": actor.username}))
    audit.record(s, actor, "job.requeue", "job", job.id, organization_id=org,
                 data={"from": state.value, "attempt": job.attempt})
    return job


def _fresh_attempt(job: JobRow) -> None:
    """An ended job's row made ready for its next attempt: the run reset as the controller's requeue resets it,
    and how the last attempt ended forgotten too (it queues anew, from now)."""
    job.next_attempt()
    job.submitted_at = utcnow()
    job.ended_at = job.exit_code = job.allocation_id = None
    job.cancel_requested = False
    job.held_by = None  # a job cancelled while held runs again unheld: requeue is the user saying "run it"


def update(s: Session, actor: Principal, settings: Settings, job_id: int, changes: Mapping[str, Any]) -> JobRow:
    """Change a pending job's limits, priority, flavors or name; the new shape is checked as at submit (a job no
    flavor could run, a time limit over the center's maximum, … are refused with the same words)."""
    unknown = set(changes) - UPDATABLE
    if unknown or not changes:
        raise InvalidInput(f"update one or more of {', '.join(sorted(UPDATABLE))}")
    job, org = _controlled(s, actor, job_id, "update")
    job.state = _move(job, JobEvent.UPDATE).value
    spec = jobs_svc.JobSpec(
        project_id=job.project_id, command=list(job.command or []), script=job.script, name=job.name,
        flavors=list(job.flavors or []), accelerators=job.accelerators, cpus=job.cpus, memory_mb=job.memory_mb,
        time_limit_s=job.time_limit_s, priority=job.priority, env=dict(job.env or {}),
        workload_class=job.workload_class, tasks_per_node=job.tasks_per_node or 1, mpi=job.mpi)
    new: dict[str, Any] = {k: (list(v) if k == "flavors" else v) for k, v in changes.items()}
    spec = replace(spec, **new)
    prepared = jobs_svc.check(actor, settings, spec, jobs_svc.load_reference(s))
    before = {k: getattr(job, k) for k in changes}
    job.time_limit_s, job.priority = spec.time_limit_s, spec.priority
    job.accelerators, job.cpus, job.memory_mb = spec.accelerators, spec.cpus, spec.memory_mb
    job.flavors = prepared.flavors
    if "name" in changes:
        job.name = prepared.name
    audit.record(s, actor, "job.update", "job", job.id, organization_id=org,
                 data={"before": before, "after": {k: getattr(job, k) for k in changes}})
    return job
