"""Grants: a project's permission to use a dataset, for a purpose, until an expiry, approved by its custodian.

A project asks; the custodian approves or rejects; the custodian may revoke at
any time. Revocation stops new jobs at once (the scheduler admits no job without
a live grant) and, when the custodian says so, cancels the running ones too.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicc.core.datazone.states import Action, DatasetState, GrantState, move, needs_grant
from aicc.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from aicc.core.jobs import JobState
from aicc.core.jobs.reasons import Reason, ReasonCode
from aicc.core.notify import Event
from aicc.services import audit, generation, projects
from aicc.services.datazone.datasets import is_custodian
from aicc.services.notify import events as notify_events
from aicc.services.principal import Principal
from aicc.store.models import DatasetRow, GrantRow, JobRow, ProjectRow, utcnow

MAX_GRANT_DAYS = 3 * 365


def _visible(s: Session, actor: Principal, g: GrantRow) -> tuple[DatasetRow, ProjectRow] | None:
    ds = s.get(DatasetRow, g.dataset_id)
    p = s.get(ProjectRow, g.project_id)
    if ds is None or p is None:
        return None
    if actor.sees_org(ds.organization_id) or actor.sees_project(p.id, p.organization_id):
        return ds, p
    return None


def get(s: Session, actor: Principal, grant_id: int) -> GrantRow:
    g = s.get(GrantRow, grant_id)
    if g is None or _visible(s, actor, g) is None:
        raise NotFound("grant not found")
    return g


def list_grants(s: Session, actor: Principal, *, dataset_id: int | None = None,
                project_id: int | None = None) -> list[GrantRow]:
    q = select(GrantRow).order_by(GrantRow.id)
    if dataset_id is not None:
        q = q.where(GrantRow.dataset_id == dataset_id)
    if project_id is not None:
        q = q.where(GrantRow.project_id == project_id)
    return [g for g in s.execute(q).scalars() if _visible(s, actor, g) is not None]


def request(s: Session, actor: Principal, *, dataset_name: str, project_id: int, purpose: str,
            expires_at: dt.datetime) -> GrantRow:
    """A project member asks for access; the custodian decides. Dataset names are known from the catalog."""
    p = projects.get(s, actor, project_id)
    ds = s.execute(select(DatasetRow).where(DatasetRow.name == dataset_name)).scalar_one_or_none()
    if ds is None or ds.state == DatasetState.WITHDRAWN:
        raise NotFound(f"dataset {dataset_name!r} not found")
    if not needs_grant(ds.classification):
        raise InvalidInput(f"dataset {dataset_name!r} is open: every project may use it without a grant")
    now = utcnow()
    if expires_at.tzinfo is None:
        raise InvalidInput("expires_at must carry a time zone")
    if not now < expires_at <= now + dt.timedelta(days=MAX_GRANT_DAYS):
        raise InvalidInput(f"expires_at must be in the future and at most {MAX_GRANT_DAYS} days away")
    if len(purpose.strip()) < 10:
        raise InvalidInput("purpose: say in a sentence what the data will be used for (at least 10 characters)")
    open_ = s.execute(select(GrantRow.id).where(
        GrantRow.dataset_id == ds.id, GrantRow.project_id == p.id,
        GrantRow.state.in_((GrantState.REQUESTED, GrantState.APPROVED)), GrantRow.expires_at > now)).first()
    if open_:
        raise Conflict(f"project {p.name} already has a grant or request for {ds.name} (grant {open_[0]})")
    g = GrantRow(dataset_id=ds.id, project_id=p.id, purpose=purpose.strip(), expires_at=expires_at,
                 state=GrantState.REQUESTED.value, requested_by=actor.user_id, comment="")
    s.add(g)
    s.flush()
    audit.record(s, actor, "grant.request", "grant", g.id, organization_id=p.organization_id,
                 data={"dataset": ds.name, "project": p.name, "purpose": g.purpose, "expires_at": expires_at})
    return g


def _custodian_grant(s: Session, actor: Principal, grant_id: int) -> tuple[GrantRow, DatasetRow, ProjectRow]:
    g = s.get(GrantRow, grant_id)
    seen = _visible(s, actor, g) if g is not None else None
    if g is None or seen is None:
        raise NotFound("grant not found")
    ds, p = seen
    if not is_custodian(actor, ds.organization_id):
        raise Forbidden("only the dataset's custodians may decide on its grants")
    return g, ds, p


def decide(s: Session, actor: Principal, grant_id: int, *, approve: bool, comment: str,
           expires_at: dt.datetime | None = None) -> GrantRow:
    g, ds, p = _custodian_grant(s, actor, grant_id)
    state = move(f"grant {g.id}", GrantState(g.state), Action.DECIDE,
                 GrantState.APPROVED if approve else GrantState.REJECTED)
    if expires_at is not None:
        if expires_at > g.expires_at or expires_at <= utcnow():
            raise InvalidInput("a custodian may shorten a grant, not extend it, and not into the past")
        g.expires_at = expires_at
    g.state = state.value
    g.decided_by, g.decided_at, g.comment = actor.user_id, utcnow(), comment
    generation.bump()
    audit.record(s, actor, f"grant.{g.state}", "grant", g.id, organization_id=ds.organization_id,
                 data={"dataset": ds.name, "project": p.name, "comment": comment, "expires_at": g.expires_at})
    notify_events.decided(s, Event.GRANT_DECIDED, [g.requested_by], f"grant{g.id}",
                          {"dataset": ds.name, "project": p.name, "decision": g.state})
    return g


def revoke(s: Session, actor: Principal, grant_id: int, *, comment: str, stop_running: bool) -> list[int]:
    """Revoke; with ``stop_running``, cancel the project's admitted and running jobs on the dataset."""
    g, ds, p = _custodian_grant(s, actor, grant_id)
    g.state = move(f"grant {g.id}", GrantState(g.state), Action.REVOKE, GrantState.REVOKED).value
    g.comment, g.decided_by, g.decided_at = comment, actor.user_id, utcnow()
    stopped: list[int] = []
    if stop_running:
        live = s.execute(select(JobRow).where(
            JobRow.project_id == p.id, JobRow.state.in_((JobState.ADMITTED.value, JobState.RUNNING.value)))).scalars()
        for job in live:
            if ds.id in (job.datasets or []) and not job.cancel_requested:
                job.cancel_requested = True
                job.set_reason(Reason(ReasonCode.GRANT_REVOKED, {"dataset": ds.name}))
                stopped.append(job.id)
    generation.bump()
    audit.record(s, actor, "grant.revoke", "grant", g.id, organization_id=ds.organization_id,
                 data={"dataset": ds.name, "project": p.name, "comment": comment, "stopped_jobs": stopped})
    return stopped


def live_grants(s: Session, now: dt.datetime) -> set[tuple[int, int]]:
    """(project, dataset) pairs that may run now."""
    return {(pid, did) for pid, did in s.execute(select(GrantRow.project_id, GrantRow.dataset_id).where(
        GrantRow.state == GrantState.APPROVED, GrantRow.expires_at > now))}
