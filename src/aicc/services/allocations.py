"""Allocations: what a project may spend (SU budget, window) and hold at once (quota per flavor).

Only center admins grant and amend them (later: through awards of support
programs). Every amendment is versioned through the audit log, so an
allocation's history can be read back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicc.core.allocations import AllocationState, FlavorQuota, derive_state, validate_terms
from aicc.core.errors import InvalidInput, NotFound, StaleVersion
from aicc.services import audit, generation, projects
from aicc.services.paging import Page, page
from aicc.services.principal import Principal
from aicc.store.models import AllocationQuotaRow, AllocationRow, FlavorRow, ProjectRow, utcnow


@dataclass(frozen=True, slots=True)
class AllocationView:
    row: AllocationRow
    project: ProjectRow
    quotas: dict[str, FlavorQuota]
    used_su: float
    state: AllocationState


def used_su(s: Session, allocation_ids: list[int]) -> dict[int, float]:
    """Σ SU charged per allocation, from the usage ledger (see ``services.metering``)."""
    from aicc.services import metering  # the ledger is owned by metering

    return metering.used_by_allocation(s, allocation_ids)


def _flavor_ids(s: Session) -> dict[str, int]:
    return {f.name: f.id for f in s.execute(select(FlavorRow).where(FlavorRow.retired.is_(False))).scalars()}


def _view(s: Session, rows: list[tuple[AllocationRow, ProjectRow]], now: dt.datetime) -> list[AllocationView]:
    names = {f.id: f.name for f in s.execute(select(FlavorRow)).scalars()}
    used = used_su(s, [a.id for a, _ in rows])
    out = []
    for a, p in rows:
        u = used.get(a.id, 0.0)
        quotas = {names[q.flavor_id]: FlavorQuota(q.nominal, q.borrowing_limit) for q in a.quotas}
        state = derive_state(suspended=a.suspended, starts_at=a.starts_at, ends_at=a.ends_at,
                             budget_su=a.budget_su, used_su=u, now=now)
        out.append(AllocationView(a, p, quotas, u, state))
    return out


def get(s: Session, actor: Principal, allocation_id: int) -> AllocationView:
    a = s.get(AllocationRow, allocation_id)
    p = s.get(ProjectRow, a.project_id) if a else None
    if a is None or p is None or not actor.sees_project(p.id, p.organization_id):
        raise NotFound("allocation not found")
    return _view(s, [(a, p)], utcnow())[0]


def list_allocations(
    s: Session,
    actor: Principal,
    *,
    after: int | None,
    limit: int,
    project_id: int | None = None,
    state: AllocationState | None = None,
) -> Page[AllocationView]:
    q = select(AllocationRow).join(ProjectRow, ProjectRow.id == AllocationRow.project_id).where(
        projects.visible(actor))
    if project_id is not None:
        q = q.where(AllocationRow.project_id == project_id)
    # The state is derived, so filter after loading; keyset paging still holds because we
    # keep reading pages until one is full.
    found: list[AllocationView] = []
    cursor = after
    while True:
        pg = page(s, q, AllocationRow.id, cursor, limit)
        pairs = [(a, s.get(ProjectRow, a.project_id)) for a in pg.items]
        views = _view(s, [(a, p) for a, p in pairs if p is not None], utcnow())
        found.extend(v for v in views if state is None or v.state is state)
        if len(found) >= limit or pg.next_after is None:
            more = len(found) > limit or pg.next_after is not None
            found = found[:limit]
            return Page(found, found[-1].row.id if more and found else None)
        cursor = pg.next_after


def _set_quotas(s: Session, a: AllocationRow, quotas: Mapping[str, FlavorQuota]) -> None:
    ids = _flavor_ids(s)
    unknown = sorted(set(quotas) - set(ids))
    if unknown:
        raise InvalidInput(f"unknown flavor(s) {', '.join(unknown)}; the center has {', '.join(sorted(ids))}")
    a.quotas = [AllocationQuotaRow(flavor_id=ids[f], nominal=q.nominal, borrowing_limit=q.borrowing_limit)
                for f, q in sorted(quotas.items())]


def create(
    s: Session,
    actor: Principal,
    *,
    project_id: int,
    name: str,
    budget_su: float,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    quotas: Mapping[str, FlavorQuota],
    weight: float = 1.0,
    note: str = "",
    storage_gib: int = 0,
) -> AllocationView:
    actor.require_center_admin()
    p = projects.get(s, actor, project_id)
    validate_terms(budget_su=budget_su, starts_at=starts_at, ends_at=ends_at, quotas=quotas, weight=weight)
    a = AllocationRow(project_id=p.id, name=name, budget_su=budget_su, starts_at=starts_at, ends_at=ends_at,
                      weight=weight, note=note, storage_gib=storage_gib)
    _set_quotas(s, a, quotas)
    s.add(a)
    s.flush()
    generation.bump()
    audit.record(s, actor, "allocation.create", "allocation", a.id, organization_id=p.organization_id,
                 data={"project": p.name, "budget_su": budget_su, "starts_at": starts_at, "ends_at": ends_at,
                       "quotas": {f: [q.nominal, q.borrowing_limit] for f, q in quotas.items()}, "weight": weight,
                       "storage_gib": storage_gib})
    return get(s, actor, a.id)


def update(
    s: Session, actor: Principal, allocation_id: int, *, version: int, changes: dict[str, Any]
) -> AllocationView:
    actor.require_center_admin()
    view = get(s, actor, allocation_id)
    a = view.row
    if a.version != version:
        raise StaleVersion(f"allocation changed since version {version} (now {a.version}); reload and retry")
    quotas: Mapping[str, FlavorQuota] = changes.pop("quotas", None) or view.quotas
    validate_terms(
        budget_su=changes.get("budget_su", a.budget_su),
        starts_at=changes.get("starts_at", a.starts_at),
        ends_at=changes.get("ends_at", a.ends_at),
        quotas=quotas,
        weight=changes.get("weight", a.weight),
    )
    for key, value in changes.items():
        setattr(a, key, value)
    if quotas != view.quotas:
        _set_quotas(s, a, quotas)
        changes["quotas"] = {f: [q.nominal, q.borrowing_limit] for f, q in quotas.items()}
    s.flush()
    generation.bump()
    audit.record(s, actor, "allocation.amend", "allocation", a.id, organization_id=view.project.organization_id,
                 data={**changes, "version": a.version})
    return get(s, actor, a.id)
