"""Use cases of a project's workspace: who may reach it, how big it may grow, and the audit of what changes.

Every call starts with :func:`open_workspace`, which applies the tenancy rule (another organization's
project is *not found*, whatever the path), gives the project its Unix identity if it has none yet (files
belong to the uid its jobs run as), and makes the workspace with its current quota. Removals, moves and
finished uploads are audit events: nothing leaves a workspace without one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicc.config import Settings
from aicc.core.errors import Conflict
from aicc.core.workspaces import StorageGrant, check_quota_change, quota_bytes
from aicc.services import audit, projects
from aicc.services.principal import SYSTEM, Principal
from aicc.services.unix_ids import project_uids
from aicc.store.db import Database
from aicc.store.models import AllocationRow, ProjectRow, utcnow
from aicc.workspaces.layout import Workspace, Workspaces, for_root


@dataclass(frozen=True, slots=True)
class Opened:
    ws: Workspace
    quota: int
    organization_id: int
    project: str


def workspaces(settings: Settings) -> Workspaces:
    return for_root(settings.workspaces_dir)


def grants_of(s: Session, project_id: int) -> list[StorageGrant]:
    rows = s.execute(select(AllocationRow).where(AllocationRow.project_id == project_id)).scalars()
    return [StorageGrant(a.storage_gib, a.starts_at, a.ends_at, a.suspended, a.id) for a in rows]


def quota_of(s: Session, settings: Settings, project_id: int) -> int:
    """Allocations' storage (an accepted award's included) summed over those active now, at least the default."""
    return quota_bytes(grants_of(s, project_id), utcnow(), settings.workspace_default_gib)


def quota_changing(s: Session, settings: Settings, actor: Principal, project_id: int, old_quota: int, *,
                   force: bool) -> int:
    """Called inside the transaction that changed a project's allocations (amended, suspended, an award's
    storage changed), after the change is flushed: the new quota, or :class:`QuotaBelowUse` (the transaction
    rolls back) when it would be below what the workspace holds and ``force`` is not given. Forced, the data
    stays over quota (writes fail with EDQUOT) and a ``workspace.over_quota`` audit event says so. The caller
    applies the limit with :func:`apply_limit` once the transaction committed."""
    new_quota = quota_of(s, settings, project_id)
    if new_quota == old_quota:
        return new_quota
    used = workspaces(settings).usage(project_id)
    over = check_quota_change(used=used, old_quota=old_quota, new_quota=new_quota, force=force)
    org = s.execute(select(ProjectRow.organization_id).where(ProjectRow.id == project_id)).scalar()
    audit.record(s, actor, "workspace.over_quota" if over else "workspace.quota", "project", project_id,
                 organization_id=org, data={"old_quota_bytes": old_quota, "quota_bytes": new_quota,
                                            "used_bytes": used, "forced": force})
    return new_quota


def apply_limit(settings: Settings, project_id: int, quota: int) -> bool:
    """Write the quota to the file system now (a workspace not made yet gets it when first opened)."""
    return workspaces(settings).set_limit(project_id, quota)


def sync_quotas(db: Database, settings: Settings) -> int:
    """Housekeeping: every workspace's limit brought to its allocations' quota now (an allocation that ended or
    began changes it without anyone asking). A limit that falls below use is applied all the same (the
    window is over) and audited as ``workspace.over_quota``. Returns how many limits changed."""
    spaces = workspaces(settings)
    changed = 0
    for pid in spaces.existing():
        with db.read() as s:
            quota = quota_of(s, settings, pid)
        old = spaces.limit(pid)
        if old == quota or not spaces.set_limit(pid, quota):
            continue
        changed += 1
        used = spaces.usage(pid)
        with db.write() as s:
            org = s.execute(select(ProjectRow.organization_id).where(ProjectRow.id == pid)).scalar()
            audit.record(s, SYSTEM, "workspace.over_quota" if used > quota else "workspace.quota", "project", pid,
                         organization_id=org, data={"old_quota_bytes": old, "quota_bytes": quota,
                                                    "used_bytes": used, "reason": "allocation window"})
    return changed


def open_workspace(db: Database, settings: Settings, actor: Principal, project_id: int) -> Opened:
    with db.read() as s:
        p = projects.get(s, actor, project_id)  # NotFound for another tenant's project
        quota = quota_of(s, settings, p.id)
        org, name = p.organization_id, p.name
    uid = project_uids(db, settings, [project_id]).get(project_id)
    if not isinstance(uid, int):
        raise Conflict(f"the project has no Unix identity for its files: {uid}")
    return Opened(workspaces(settings).ensure(project_id, uid, quota), quota, org, name)


def room(settings: Settings, opened: Opened) -> int:
    """Bytes the workspace may still take (negative when it is over a quota that was lowered)."""
    return opened.quota - workspaces(settings).usage(opened.ws.project_id)


def summary(settings: Settings, opened: Opened) -> dict[str, object]:
    backend = workspaces(settings).backend
    used = workspaces(settings).usage(opened.ws.project_id)
    return {"project_id": opened.ws.project_id, "project": opened.project, "quota_bytes": opened.quota,
            "used_bytes": used, "over_quota": used > opened.quota,
            "enforcement": "filesystem" if backend.enforced else "measured", "backend": backend.name,
            "mount": "/workspace"}


def storage_usage(db: Database, settings: Settings, actor: Principal,
                  project_id: int | None = None) -> list[dict[str, object]]:
    """Bytes each visible project's workspace holds beside its quota, and the SU its storage was charged: the
    storage half of ``aicc usage``. Projects without a workspace yet hold nothing and are listed with 0."""
    from aicc.services import storage_metering

    spaces = workspaces(settings)
    with db.read() as s:
        q = select(ProjectRow).where(projects.visible(actor)).order_by(ProjectRow.name)
        if project_id is not None:
            q = q.where(ProjectRow.id == project_id)
        rows = [(p.id, p.name, quota_of(s, settings, p.id)) for p in s.execute(q).scalars()]
        charged = storage_metering.charged(s, actor, project_id)
        rate = storage_metering.rate(s)
    out: list[dict[str, object]] = []
    for pid, name, quota in rows:
        used = spaces.usage(pid)
        out.append({"project_id": pid, "project": name, "used_bytes": used, "quota_bytes": quota,
                    "used_pct": round(100 * used / quota, 1) if quota else 0.0,
                    "enforcement": "filesystem" if spaces.backend.enforced else "measured",
                    "charged_su": round(charged.get(pid, 0.0), 6), "su_per_gb_month": rate})
    return out


def retire(s: Session, settings: Settings, actor: Principal, project_id: int, organization_id: int) -> None:
    """A deleted project's workspace is kept aside for the retention (``AICC_WORKSPACE_RETENTION_DAYS``),
    then removed by housekeeping; both are audit events. Called inside the deletion's transaction."""
    name = workspaces(settings).retire(project_id, time.time())
    if name is not None:
        audit.record(s, actor, "workspace.retire", "project", project_id, organization_id=organization_id,
                     data={"kept_as": name, "retention_days": settings.workspace_retention_days})


def expire_retired(db: Database, settings: Settings) -> int:
    spaces = workspaces(settings)
    names = spaces.expired(time.time() - settings.workspace_retention_days * 86400)
    if not names:
        return 0
    with db.write() as s:
        for name in names:
            audit.record(s, SYSTEM, "workspace.expire", "workspace", name,
                         data={"retention_days": settings.workspace_retention_days})
    for name in names:  # after the audit events committed: nothing is deleted without one
        spaces.remove_retired(name)
    return len(names)


UPLOAD_TTL_S = 7 * 86400
"""An upload not finished within a week is abandoned: its part file is removed (audited) to free the quota."""


def expire_uploads(db: Database, settings: Settings) -> int:
    from aicc.workspaces import uploads

    spaces = workspaces(settings)
    done = 0
    for pid in spaces.existing():
        ws = Workspace(pid, -1, spaces.path_of(pid))
        old = uploads.stale(ws, time.time() - UPLOAD_TTL_S)
        if not old:
            continue
        with db.write() as s:
            org = s.execute(select(ProjectRow.organization_id).where(ProjectRow.id == pid)).scalar()
            audit.record(s, SYSTEM, "workspace.upload_expire", "project", pid, organization_id=org,
                         data={"uploads": [{"path": u.path, "size": u.size, "sent": u.offset} for u in old]})
        for u in old:
            uploads.abort(ws, u.id)
        done += len(old)
    return done


def record(db: Database, actor: Principal, opened: Opened, action: str, data: dict[str, object]) -> None:
    with db.write() as s:
        audit.record(s, actor, f"workspace.{action}", "project", opened.ws.project_id,
                     organization_id=opened.organization_id, data={"project": opened.project, **data})
