"""The usage ledger: charging run intervals (write side) and balances and burn rates (read side).

Charging happens at start, periodically while a job runs and at its end. Each
call writes one interval [metered_until, until) and advances the job's
``metered_until`` in the same transaction, and the ledger's unique key
(job, attempt, interval) makes a repeated write a no-op: a crash between two
calls neither loses nor double-charges a second.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicc.core.charging import service_units
from aicc.services import projects
from aicc.services.principal import Principal
from aicc.store.models import AllocationRow, FlavorRow, JobRow, ProjectRow, UsageRow, utcnow

BURN_WINDOW = dt.timedelta(days=7)


def used_by_allocation(s: Session, allocation_ids: list[int]) -> dict[int, float]:
    if not allocation_ids:
        return {}
    q = (select(UsageRow.allocation_id, func.sum(UsageRow.su))
         .where(UsageRow.allocation_id.in_(allocation_ids)).group_by(UsageRow.allocation_id))
    return {a: float(total or 0.0) for a, total in s.execute(q).all()}


def charge(s: Session, job: JobRow, until: dt.datetime, rates: dict[str, tuple[float, bool]]) -> UsageRow | None:
    """Charge ``job``'s current attempt up to ``until``; ``rates`` maps flavor -> (SU rate, is CPU flavor)."""
    if job.started_at is None or job.allocation_id is None or job.flavor is None:
        return None
    start = job.metered_until or job.started_at
    if until <= start:
        return None
    rate, cpu_flavor = rates.get(job.flavor, (0.0, False))
    su = service_units(accelerators=job.accelerators, cpus=job.cpus, seconds=(until - start).total_seconds(),
                       rate=rate, cpu_flavor=cpu_flavor)
    exists = s.execute(select(UsageRow.id).where(
        UsageRow.job_id == job.id, UsageRow.attempt == job.attempt, UsageRow.interval == job.metered_intervals)
    ).first()
    row = None
    if not exists:
        row = UsageRow(job_id=job.id, attempt=job.attempt, interval=job.metered_intervals,
                       allocation_id=job.allocation_id, project_id=job.project_id, flavor=job.flavor,
                       accelerators=job.accelerators, cpus=job.cpus, started_at=start, ended_at=until, su=su)
        s.add(row)
    job.metered_until = until
    job.metered_intervals += 1
    return row


def flavor_rates(s: Session) -> dict[str, tuple[float, bool]]:
    return {f.name: (f.su_rate, f.is_cpu) for f in s.execute(select(FlavorRow)).scalars()}


@dataclass(frozen=True, slots=True)
class UsageSummary:
    project: str
    project_id: int
    allocation_id: int
    allocation: str
    budget_su: float
    used_su: float
    remaining_su: float
    burn_su_per_day: float
    projected_exhaustion: dt.datetime | None
    ends_at: dt.datetime
    starts_at: dt.datetime | None = None
    """An allocation whose window has not begun yet cannot be spent now: pages count it apart."""

    def current(self, now: dt.datetime) -> bool:
        """Its window has begun and not ended: what can be spent now."""
        return (self.starts_at is None or self.starts_at <= now) and now < self.ends_at


def summaries(
    s: Session, actor: Principal, *, project_id: int | None = None, now: dt.datetime | None = None
) -> list[UsageSummary]:
    """Budget, use, burn rate over the last week and when, at that rate, the budget runs out."""
    now = now or utcnow()
    q = (select(AllocationRow, ProjectRow).join(ProjectRow, ProjectRow.id == AllocationRow.project_id)
         .where(projects.visible(actor)).order_by(ProjectRow.name, AllocationRow.id))
    if project_id is not None:
        q = q.where(ProjectRow.id == project_id)
    rows = s.execute(q).all()
    ids = [a.id for a, _ in rows]
    used = used_by_allocation(s, ids)
    recent: dict[int, float] = {}
    if ids:
        rq = (select(UsageRow.allocation_id, func.sum(UsageRow.su))
              .where(UsageRow.allocation_id.in_(ids), UsageRow.ended_at > now - BURN_WINDOW)
              .group_by(UsageRow.allocation_id))
        recent = {a: float(v or 0.0) for a, v in s.execute(rq).all()}
    out = []
    for a, p in rows:
        u = used.get(a.id, 0.0)
        remaining = a.budget_su - u
        burn = recent.get(a.id, 0.0) / BURN_WINDOW.total_seconds() * 86400
        exhaustion = None
        if burn > 0 and remaining > 0:
            days = remaining / burn
            exhaustion = now + dt.timedelta(days=days) if days < 36_500 else None  # "never at this rate"
        elif remaining <= 0:
            exhaustion = now
        out.append(UsageSummary(p.name, p.id, a.id, a.name, a.budget_su, u, remaining, burn, exhaustion, a.ends_at,
                                a.starts_at))
    return out


def ledger(
    s: Session, actor: Principal, *, project_id: int | None, since: dt.datetime | None, until: dt.datetime | None,
    limit: int = 1_000_000,
) -> list[tuple[UsageRow, str]]:
    q = (select(UsageRow, ProjectRow.name).join(ProjectRow, ProjectRow.id == UsageRow.project_id)
         .where(projects.visible(actor)).order_by(UsageRow.id))
    if project_id is not None:
        q = q.where(UsageRow.project_id == project_id)
    if since is not None:
        q = q.where(UsageRow.ended_at > since)
    if until is not None:
        q = q.where(UsageRow.started_at < until)
    return [(r, n) for r, n in s.execute(q.limit(limit)).all()]


def ledger_csv(rows: Iterable[tuple[UsageRow, str]]) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["id", "job_id", "attempt", "interval", "project", "allocation_id", "flavor", "accelerators", "cpus",
                "started_at", "ended_at", "seconds", "su", "kind", "gib"])
    for r, name in rows:
        w.writerow([r.id, r.job_id, r.attempt, r.interval, name, r.allocation_id, r.flavor, r.accelerators, r.cpus,
                    r.started_at.isoformat(), r.ended_at.isoformat(),
                    round((r.ended_at - r.started_at).total_seconds(), 3), round(r.su, 6), r.kind,
                    "" if r.gib is None else round(r.gib, 6)])
    return out.getvalue()
