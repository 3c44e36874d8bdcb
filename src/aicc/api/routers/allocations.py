"""/api/v1/allocations."""

from __future__ import annotations

from fastapi import APIRouter, Query

from aicc.api.deps import DB, Actor, Config
from aicc.api.schemas.allocations import Allocation, AllocationCreate, AllocationUpdate, Quota
from aicc.api.schemas.common import MAX_ID, Cursor, Limit, Page, PathId, decode_cursor, encode_cursor
from aicc.core.allocations import AllocationState, FlavorQuota
from aicc.services import allocations as svc

router = APIRouter(prefix="/allocations", tags=["allocations"])


def _out(v: svc.AllocationView) -> Allocation:
    a = v.row
    return Allocation(
        id=a.id, project_id=a.project_id, project=v.project.name, name=a.name, budget_su=a.budget_su,
        used_su=round(v.used_su, 6), remaining_su=round(a.budget_su - v.used_su, 6), starts_at=a.starts_at,
        ends_at=a.ends_at, weight=a.weight,
        quotas={f: Quota(nominal=q.nominal, borrowing_limit=q.borrowing_limit) for f, q in v.quotas.items()},
        state=v.state, suspended=a.suspended, note=a.note, storage_gib=a.storage_gib, created_at=a.created_at,
        version=a.version,
    )


def _quotas(q: dict[str, Quota]) -> dict[str, FlavorQuota]:
    return {f: FlavorQuota(v.nominal, v.borrowing_limit) for f, v in q.items()}


@router.get("", response_model=Page[Allocation])
def list_allocations(
    db: DB, actor: Actor, limit: Limit = 50, cursor: Cursor = None,
    project_id: int | None = Query(None, ge=1, le=MAX_ID), state: AllocationState | None = None,
) -> Page[Allocation]:
    with db.read() as s:
        pg = svc.list_allocations(s, actor, after=decode_cursor(cursor), limit=limit, project_id=project_id,
                                  state=state)
        return Page(items=[_out(v) for v in pg.items], next_cursor=encode_cursor(pg.next_after))


@router.post("", response_model=Allocation, status_code=201)
def create_allocation(db: DB, actor: Actor, body: AllocationCreate) -> Allocation:
    with db.write() as s:
        return _out(svc.create(s, actor, project_id=body.project_id, name=body.name, budget_su=body.budget_su,
                               starts_at=body.starts_at, ends_at=body.ends_at, quotas=_quotas(body.quotas),
                               weight=body.weight, note=body.note, storage_gib=body.storage_gib))


@router.get("/{allocation_id}", response_model=Allocation)
def get_allocation(db: DB, actor: Actor, allocation_id: PathId) -> Allocation:
    with db.read() as s:
        return _out(svc.get(s, actor, allocation_id))


@router.patch("/{allocation_id}", response_model=Allocation)
def amend_allocation(db: DB, actor: Actor, config: Config, allocation_id: PathId, body: AllocationUpdate) -> Allocation:
    """A change that lowers the project's workspace quota below what it holds is refused (409) unless
    ``force_below_use``; the new quota is applied to the file system once the change committed."""
    from aicc.services import workspaces

    changes = body.model_dump(exclude_unset=True, exclude={"version", "quotas", "force_below_use"})
    if body.quotas is not None:
        changes["quotas"] = _quotas(body.quotas)
    actor.require_center_admin()  # before anything is looked up, as the service itself does
    with db.write() as s:
        project_id = svc.get(s, actor, allocation_id).row.project_id
        before = workspaces.quota_of(s, config, project_id)
        out = _out(svc.update(s, actor, allocation_id, version=body.version, changes=changes))
        quota = workspaces.quota_changing(s, config, actor, project_id, before, force=body.force_below_use)
    if quota != before:
        workspaces.apply_limit(config, project_id, quota)
    return out
