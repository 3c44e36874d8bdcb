"""Jobs as people browse them: filtered, sorted by any column, in numbered pages.

The API pages by id with an opaque cursor (right for scripts); a person wants
"page 3 of 12, sorted by state", so this uses OFFSET with a bounded page size.
Visibility is the API's (``services.jobs.query``): another tenant's jobs never
enter the query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicc.services import jobs
from aicc.services.principal import Principal
from aicc.store.models import JobRow, ProjectRow

SORTS: dict[str, Any] = {
    "id": JobRow.id, "name": JobRow.name, "state": JobRow.state, "project": ProjectRow.name,
    "submitted": JobRow.submitted_at, "accelerators": JobRow.accelerators,
}
MAX_PER_PAGE = 100


@dataclass(frozen=True, slots=True)
class JobPage:
    items: list[tuple[JobRow, str]]
    """(job, project name)."""
    total: int
    page: int
    pages: int


def search(
    s: Session, actor: Principal, *, project_id: int | None = None, states: Sequence[str] = (), mine: bool = False,
    sort: str = "id", descending: bool = True, page: int = 1, per_page: int = 25,
) -> JobPage:
    q = jobs.query(actor)
    if project_id is not None:
        q = q.where(JobRow.project_id == project_id)
    if states:
        q = q.where(JobRow.state.in_(list(states)))
    if mine:
        q = q.where(JobRow.user_id == actor.user_id)
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    total = int(s.execute(q.with_only_columns(func.count(JobRow.id)).order_by(None)).scalar_one())
    pages = max(1, -(-total // per_page))
    page = max(1, min(page, pages))
    column = SORTS.get(sort, JobRow.id)
    order = [column.desc() if descending else column.asc()]
    if column is not JobRow.id:
        order.append(JobRow.id.desc() if descending else JobRow.id.asc())
    rows = s.execute(q.add_columns(ProjectRow.name).order_by(*order).offset((page - 1) * per_page)
                     .limit(per_page)).all()
    return JobPage([(j, name) for j, name in rows], total, page, pages)


def state_counts(s: Session, actor: Principal, *, mine: bool = False) -> dict[str, int]:
    q = jobs.query(actor).with_only_columns(JobRow.state, func.count(JobRow.id)).group_by(JobRow.state)
    if mine:
        q = q.where(JobRow.user_id == actor.user_id)
    return {state: int(n) for state, n in s.execute(q).all()}


def visible_projects(s: Session, actor: Principal) -> list[ProjectRow]:
    from aicc.services.projects import visible

    return list(s.execute(select(ProjectRow).where(visible(actor)).order_by(ProjectRow.name)).scalars())
