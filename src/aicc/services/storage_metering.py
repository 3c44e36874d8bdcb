"""Charging workspace storage: each project's workspace sampled by the controller's housekeeping (about hourly)
and charged in SU per GiB-month into the usage ledger, beside its runs.

One formula (``aicc.core.charging.storage_su``: the unit-hours of runs, the rate per month spread over its hours)
and one ledger: a storage row (``kind = "storage"``, flavor ``storage``) covers [the project's last storage
row's end, now) at the size sampled now, charged to the allocation ``core.workspaces.charged_grant`` picks.
The ledger's key (kind, project, 0, 0, the interval's first Unix minute) makes a repeated sample a no-op, so two
controllers or a crash neither lose nor double an interval. Storage held while no allocation is active is not
charged (there is no budget to charge it to); the interval then starts again at the next sample.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicc.config import Settings
from aicc.core.charging import STORAGE_FLAVOR, STORAGE_KIND, storage_su
from aicc.core.workspaces import GIB, charged_grant
from aicc.services import projects
from aicc.services.principal import Principal
from aicc.services.workspaces import grants_of, workspaces
from aicc.store.db import Database
from aicc.store.models import ProjectRow, SiteRow, UsageRow

STORAGE = STORAGE_KIND
FIRST_INTERVAL = dt.timedelta(hours=1)
"""A workspace never sampled before is charged from one housekeeping period back."""
MIN_INTERVAL = dt.timedelta(minutes=1)


def rate(s: Session) -> float:
    """SU per GiB-month from the inventory's ``[storage]`` table (0: storage is metered but free)."""
    value = s.execute(select(func.max(SiteRow.storage_su_per_gb_month))).scalar()
    return float(value or 0.0)


def last_charged(s: Session, project_id: int) -> dt.datetime | None:
    return s.execute(select(func.max(UsageRow.ended_at))
                     .where(UsageRow.kind == STORAGE, UsageRow.project_id == project_id)).scalar()


def charge_project(s: Session, project_id: int, used_bytes: int, now: dt.datetime, su_per_gb_month: float
                   ) -> UsageRow | None:
    """One storage row for the project up to ``now`` at ``used_bytes``, or None when nothing is due."""
    grant = charged_grant(grants_of(s, project_id), now)
    if grant is None:
        return None
    start = last_charged(s, project_id) or now - FIRST_INTERVAL
    start = max(start, grant.starts_at)
    if now - start < MIN_INTERVAL:
        return None
    interval = int(start.timestamp() // 60)
    exists = s.execute(select(UsageRow.id).where(
        UsageRow.kind == STORAGE, UsageRow.project_id == project_id, UsageRow.job_id == 0, UsageRow.attempt == 0,
        UsageRow.interval == interval)).first()
    if exists:
        return None
    gib = used_bytes / GIB
    row = UsageRow(kind=STORAGE, job_id=0, attempt=0, interval=interval, allocation_id=grant.allocation_id,
                   project_id=project_id, flavor=STORAGE_FLAVOR, accelerators=0, cpus=0, started_at=start,
                   ended_at=now, gib=gib,
                   su=storage_su(gib=gib, seconds=(now - start).total_seconds(), su_per_gb_month=su_per_gb_month))
    s.add(row)
    s.flush()
    return row


def charge_all(db: Database, settings: Settings, now: dt.datetime) -> int:
    """Housekeeping: sample every workspace and charge it. The size is read outside any transaction (a
    ``btrfs qgroup show`` per project); each project's row is its own short transaction."""
    spaces = workspaces(settings)
    with db.read() as s:
        su_rate = rate(s)
    done = 0
    for pid in spaces.existing():
        used = spaces.usage(pid)
        with db.write() as s:
            if charge_project(s, pid, used, now, su_rate) is not None:
                done += 1
    return done


def charged(s: Session, actor: Principal, project_id: int | None = None,
            since: dt.datetime | None = None) -> dict[int, float]:
    """SU charged for storage per visible project (optionally for intervals ending after ``since``)."""
    q = (select(UsageRow.project_id, func.sum(UsageRow.su)).join(ProjectRow, ProjectRow.id == UsageRow.project_id)
         .where(UsageRow.kind == STORAGE, projects.visible(actor)).group_by(UsageRow.project_id))
    if project_id is not None:
        q = q.where(UsageRow.project_id == project_id)
    if since is not None:
        q = q.where(UsageRow.ended_at > since)
    return {pid: float(su or 0.0) for pid, su in s.execute(q).all()}
