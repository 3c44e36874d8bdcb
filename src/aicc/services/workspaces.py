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
from aicc.core.workspaces import StorageGrant, quota_bytes
from aicc.services import audit, projects
from aicc.services.principal import SYSTEM, Principal
from aicc.services.unix_ids import project_uids
from aicc.store.db import Database
from aicc.store.models import AllocationRow, utcnow
from aicc.workspaces.layout import Workspace, Workspaces, for_root


@dataclass(frozen=True, slots=True)
class Opened:
    ws: Workspace
    quota: int
    organization_id: int
    project: str


def workspaces(settings: Settings) -> Workspaces:
    return for_root(settings.workspaces_dir)


def quota_of(s: Session, settings: Settings, project_id: int) -> int:
    rows = s.execute(select(AllocationRow).where(AllocationRow.project_id == project_id)).scalars()
    grants = [StorageGrant(a.storage_gib, a.starts_at, a.ends_at, a.suspended) for a in rows]
    return quota_bytes(grants, utcnow(), settings.workspace_default_gib)


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
    """Bytes each visible project's workspace holds beside its quota: the storage half of ``aicc usage``.
    Projects without a workspace yet hold nothing and are listed with 0."""
    from aicc.store.models import ProjectRow

    spaces = workspaces(settings)
    with db.read() as s:
        q = select(ProjectRow).where(projects.visible(actor)).order_by(ProjectRow.name)
        if project_id is not None:
            q = q.where(ProjectRow.id == project_id)
        rows = [(p.id, p.name, quota_of(s, settings, p.id)) for p in s.execute(q).scalars()]
    out: list[dict[str, object]] = []
    for pid, name, quota in rows:
        used = spaces.usage(pid)
        out.append({"project_id": pid, "project": name, "used_bytes": used, "quota_bytes": quota,
                    "used_pct": round(100 * used / quota, 1) if quota else 0.0,
                    "enforcement": "filesystem" if spaces.backend.enforced else "measured"})
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
    from aicc.store.models import ProjectRow
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
