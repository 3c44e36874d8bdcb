"""/api/v1/projects and their members."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from aicc.api.deps import DB, Actor, Config
from aicc.api.schemas.common import MAX_ID, Cursor, Limit, NameFilter, Page, PathId, decode_cursor, encode_cursor
from aicc.api.schemas.tenancy import Project, ProjectCreate, ProjectMember, ProjectMemberAdd, ProjectUpdate
from aicc.services import projects as svc

router = APIRouter(prefix="/projects", tags=["projects"])


@router.get("", response_model=Page[Project])
def list_projects(
    db: DB, actor: Actor, limit: Limit = 50, cursor: Cursor = None,
    organization_id: int | None = Query(None, ge=1, le=MAX_ID), name: NameFilter = None,
) -> Page[Project]:
    with db.read() as s:
        pg = svc.list_projects(s, actor, after=decode_cursor(cursor), limit=limit,
                               organization_id=organization_id, name=name)
        return Page(items=[Project.model_validate(p) for p in pg.items], next_cursor=encode_cursor(pg.next_after))


@router.post("", response_model=Project, status_code=201)
def create_project(db: DB, actor: Actor, body: ProjectCreate) -> Project:
    with db.write() as s:
        return Project.model_validate(svc.create(s, actor, organization_id=body.organization_id, name=body.name,
                                                 title=body.title, description=body.description))


@router.get("/{project_id}", response_model=Project)
def get_project(db: DB, actor: Actor, project_id: PathId) -> Project:
    with db.read() as s:
        return Project.model_validate(svc.get(s, actor, project_id))


@router.patch("/{project_id}", response_model=Project)
def update_project(db: DB, actor: Actor, project_id: PathId, body: ProjectUpdate) -> Project:
    changes = body.model_dump(exclude_unset=True, exclude={"version"})
    with db.write() as s:
        return Project.model_validate(svc.update(s, actor, project_id, version=body.version, changes=changes))


@router.delete("/{project_id}", status_code=204)
def delete_project(db: DB, actor: Actor, config: Config, project_id: PathId) -> Response:
    from aicc.services import workspaces

    with db.write() as s:
        org = svc.get(s, actor, project_id).organization_id
        svc.delete(s, actor, project_id)
        workspaces.retire(s, config, actor, project_id, org)  # moved aside in the same transaction
    return Response(status_code=204)


@router.get("/{project_id}/members", response_model=list[ProjectMember])
def list_members(db: DB, actor: Actor, project_id: PathId) -> list[ProjectMember]:
    with db.read() as s:
        return [ProjectMember.model_validate(u) for u in svc.list_members(s, actor, project_id)]


@router.post("/{project_id}/members", response_model=ProjectMember, status_code=201)
def add_member(db: DB, actor: Actor, project_id: PathId, body: ProjectMemberAdd) -> ProjectMember:
    with db.write() as s:
        return ProjectMember.model_validate(svc.add_member(s, actor, project_id, username=body.username))


@router.delete("/{project_id}/members/{user_id}", status_code=204)
def remove_member(db: DB, actor: Actor, project_id: PathId, user_id: PathId) -> Response:
    with db.write() as s:
        svc.remove_member(s, actor, project_id, user_id)
    return Response(status_code=204)
