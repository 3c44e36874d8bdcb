"""Projects: the unit that owns jobs and spends allocations; each belongs to one organization."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicc.core.errors import Conflict, InvalidInput, NotFound, StaleVersion
from aicc.core.names import check_slug
from aicc.services import audit, generation, tokens
from aicc.services.paging import Page, page
from aicc.services.principal import Principal
from aicc.store.models import AllocationRow, MembershipRow, OrganizationRow, ProjectMemberRow, ProjectRow, UserRow


def visible(actor: Principal) -> Any:
    """SQL condition for the projects ``actor`` may see."""
    if actor.is_center_admin:
        return True
    admin_of = [o for o in actor.org_roles if actor.is_org_admin(o)]
    return ProjectRow.organization_id.in_(admin_of) | ProjectRow.id.in_(list(actor.projects))


def get(s: Session, actor: Principal, project_id: int) -> ProjectRow:
    p = s.get(ProjectRow, project_id)
    if p is None or not actor.sees_project(p.id, p.organization_id):
        raise NotFound("project not found")
    return p


def by_name(s: Session, actor: Principal, name: str) -> ProjectRow:
    p = s.execute(select(ProjectRow).where(ProjectRow.name == name)).scalar_one_or_none()
    if p is None or not actor.sees_project(p.id, p.organization_id):
        raise NotFound(f"project {name!r} not found")
    return p


def list_projects(
    s: Session, actor: Principal, *, after: int | None, limit: int, organization_id: int | None, name: str | None
) -> Page[ProjectRow]:
    q = select(ProjectRow).where(visible(actor))
    if organization_id is not None:
        q = q.where(ProjectRow.organization_id == organization_id)
    if name:
        q = q.where(ProjectRow.name.startswith(name, autoescape=True))
    return page(s, q, ProjectRow.id, after, limit)


def create(
    s: Session, actor: Principal, *, organization_id: int, name: str, title: str, description: str
) -> ProjectRow:
    org = s.get(OrganizationRow, organization_id)
    if org is None or not actor.sees_org(org.id):
        raise NotFound("organization not found")
    actor.require_org_admin(org.id)
    check_slug(name, "project name")
    if s.execute(select(ProjectRow.id).where(ProjectRow.name == name)).first():
        raise Conflict(f"project {name!r} already exists")
    p = ProjectRow(organization_id=org.id, name=name, title=title, description=description)
    s.add(p)
    s.flush()
    generation.bump()
    audit.record(s, actor, "project.create", "project", p.id, organization_id=org.id, data={"name": name})
    return p


def update(s: Session, actor: Principal, project_id: int, *, version: int, changes: dict[str, Any]) -> ProjectRow:
    p = get(s, actor, project_id)
    actor.require_org_admin(p.organization_id, "project")
    if p.version != version:
        raise StaleVersion(f"project changed since version {version} (now {p.version}); reload and retry")
    for key, value in changes.items():
        setattr(p, key, value)
    s.flush()
    audit.record(s, actor, "project.update", "project", p.id, organization_id=p.organization_id, data=changes)
    return p


def delete(s: Session, actor: Principal, project_id: int) -> None:
    p = get(s, actor, project_id)
    actor.require_org_admin(p.organization_id, "project")
    if s.execute(select(func.count()).select_from(AllocationRow).where(AllocationRow.project_id == p.id)).scalar():
        raise Conflict("project has allocations; it is kept as the record of what they paid for")
    for pm in s.execute(select(ProjectMemberRow).where(ProjectMemberRow.project_id == p.id)).scalars():
        s.delete(pm)
    generation.bump()
    audit.record(s, actor, "project.delete", "project", p.id, organization_id=p.organization_id,
                 data={"name": p.name})
    s.delete(p)
    tokens.invalidate_cache()


def list_members(s: Session, actor: Principal, project_id: int) -> list[UserRow]:
    p = get(s, actor, project_id)
    q = (select(UserRow).join(ProjectMemberRow, ProjectMemberRow.user_id == UserRow.id)
         .where(ProjectMemberRow.project_id == p.id).order_by(UserRow.username))
    return list(s.execute(q).scalars())


def add_member(s: Session, actor: Principal, project_id: int, *, username: str) -> UserRow:
    p = get(s, actor, project_id)
    actor.require_org_admin(p.organization_id, "project")
    user = s.execute(select(UserRow).where(UserRow.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"user {username!r} not found")
    in_org = s.execute(select(MembershipRow.id).where(
        MembershipRow.user_id == user.id, MembershipRow.organization_id == p.organization_id)).first()
    if not in_org:
        raise InvalidInput(f"user {username!r} is not a member of the project's organization")
    if s.get(ProjectMemberRow, (p.id, user.id)) is None:
        s.add(ProjectMemberRow(project_id=p.id, user_id=user.id))
        s.flush()
        audit.record(s, actor, "project.member.add", "project", p.id, organization_id=p.organization_id,
                     data={"user": username})
        tokens.invalidate_cache()
    return user


def remove_member(s: Session, actor: Principal, project_id: int, user_id: int) -> None:
    p = get(s, actor, project_id)
    actor.require_org_admin(p.organization_id, "project")
    pm = s.get(ProjectMemberRow, (p.id, user_id))
    if pm is None:
        raise NotFound("project member not found")
    s.delete(pm)
    audit.record(s, actor, "project.member.remove", "project", p.id, organization_id=p.organization_id,
                 data={"user_id": user_id})
    tokens.invalidate_cache()
