"""What the data zone's pages show, read in a few batched queries: the hub, a dataset, an output request.

The portal renders these and decides nothing: who may publish, decide or see a file is answered here, by the
same rules the API uses (:func:`datasets.is_custodian`, :func:`outputs.visible_files`), and names are looked up
with one ``IN`` query per kind instead of one ``get`` per row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicc.core.errors import NotFound
from aicc.core.tenancy import OrgRole
from aicc.services import job_search
from aicc.services.datazone import datasets, grants, outputs
from aicc.services.principal import Principal
from aicc.store.models import (
    DatasetRow,
    GrantRow,
    JobRow,
    OrganizationRow,
    OutputFileRow,
    OutputRequestRow,
    ProjectRow,
    UserRow,
)

Row = TypeVar("Row", DatasetRow, ProjectRow, OrganizationRow, UserRow)


def _by_id(s: Session, model: type[Row], ids: Iterable[int]) -> dict[int, Row]:
    wanted = set(ids)
    if not wanted:
        return {}
    return {r.id: r for r in s.execute(select(model).where(model.id.in_(wanted))).scalars()}


def acts_for(actor: Principal, ds: DatasetRow) -> bool:
    """``actor`` publishes the dataset and decides on its grants (a custodian of the owning organization)."""
    return datasets.is_custodian(actor, ds.organization_id) and actor.sees_org(ds.organization_id)


def is_custodian_anywhere(actor: Principal) -> bool:
    return actor.is_center_admin or any(r in (OrgRole.DATA_CUSTODIAN, OrgRole.ORG_ADMIN)
                                        for r in actor.org_roles.values())


@dataclass(frozen=True, slots=True)
class Hub:
    datasets: list[DatasetRow]
    grants: list[GrantRow]
    requests: list[OutputRequestRow]
    dataset_of: dict[int, DatasetRow]
    project_names: dict[int, str]
    org_names: dict[int, str]
    file_counts: dict[int, int]
    decides: dict[int, bool]
    """grant id -> the actor may decide on it"""
    can_publish: dict[int, bool]
    projects: list[ProjectRow]
    """Projects the actor may ask grants for."""
    custodian: bool


def hub(s: Session, actor: Principal) -> Hub:
    sets = datasets.list_datasets(s, actor)
    grant_rows = grants.list_grants(s, actor)
    requests = outputs.list_requests(s, actor)
    dataset_of = _by_id(s, DatasetRow, (g.dataset_id for g in grant_rows))
    projects = _by_id(s, ProjectRow, [g.project_id for g in grant_rows] + [r.project_id for r in requests])
    orgs = _by_id(s, OrganizationRow, (d.organization_id for d in sets))
    counts: dict[int, int] = dict(s.execute(
        select(OutputFileRow.request_id, func.count(OutputFileRow.id))
        .where(OutputFileRow.request_id.in_([r.id for r in requests])).group_by(OutputFileRow.request_id)).all())
    return Hub(
        datasets=sets, grants=grant_rows, requests=requests, dataset_of=dataset_of,
        project_names={i: p.name for i, p in projects.items()},
        org_names={i: o.display_name or o.name for i, o in orgs.items()},
        file_counts={r.id: counts.get(r.id, 0) for r in requests},
        decides={g.id: g.dataset_id in dataset_of and acts_for(actor, dataset_of[g.dataset_id]) for g in grant_rows},
        can_publish={d.id: acts_for(actor, d) for d in sets},
        projects=job_search.visible_projects(s, actor), custodian=is_custodian_anywhere(actor))


@dataclass(frozen=True, slots=True)
class DatasetPage:
    dataset: DatasetRow
    organization: OrganizationRow | None
    grants: list[GrantRow]
    project_names: dict[int, str]
    files: int
    size: int
    custodian: bool


def dataset_page(s: Session, actor: Principal, dataset_id: int) -> DatasetPage:
    ds = datasets.get(s, actor, dataset_id)
    rows = grants.list_grants(s, actor, dataset_id=ds.id)
    files: dict[str, Any] = (ds.manifest or {}).get("published") or (ds.manifest or {}).get("source") or {}
    return DatasetPage(
        dataset=ds, organization=s.get(OrganizationRow, ds.organization_id), grants=rows,
        project_names={i: p.name for i, p in _by_id(s, ProjectRow, (g.project_id for g in rows)).items()},
        files=len(files), size=sum(int(f["bytes"]) for f in files.values()), custodian=acts_for(actor, ds))


@dataclass(frozen=True, slots=True)
class OutputPage:
    request: OutputRequestRow
    access: outputs.Access
    files: list[OutputFileRow]
    """Those the actor may see listed: every file for a custodian, released ones for the project."""
    held: int
    job: JobRow | None
    project: ProjectRow | None
    dataset_names: dict[int, str]
    deciders: dict[int, str]
    own_job: bool

    @property
    def may_decide(self) -> bool:
        """A custodian decides, but never on the outputs of their own job."""
        return self.access.custodian and not self.own_job


def output_page(s: Session, actor: Principal, request_id: int) -> OutputPage:
    req, access = outputs.get(s, actor, request_id)
    rows, held = outputs.visible_files(s, access, req.id)
    job = s.get(JobRow, req.job_id)
    return OutputPage(
        request=req, access=access, files=rows, held=held, job=job, project=s.get(ProjectRow, req.project_id),
        dataset_names={i: d.name for i, d in _by_id(s, DatasetRow, req.dataset_ids).items()},
        deciders={i: u.username for i, u in _by_id(s, UserRow, (f.decided_by for f in rows if f.decided_by)).items()},
        own_job=job is not None and job.user_id == actor.user_id)


def visible_file(s: Session, actor: Principal, request_id: int, file_id: int) -> tuple[OutputRequestRow,
                                                                                       OutputFileRow, bool]:
    """A file the actor may see listed (404 otherwise, as for one that does not exist), and whether the actor
    is a custodian of the request."""
    req, access = outputs.get(s, actor, request_id)
    f = next((x for x in outputs.visible_files(s, access, req.id)[0] if x.id == file_id), None)
    if f is None:
        raise NotFound("output file not found")
    return req, f, access.custodian
