"""Organizations and their members (use cases for center and organization admins).

Membership needs consent: an organization admin *invites* an existing user (``services.invitations``) and
the membership starts when they accept. A center admin may still add someone directly (``add_member``,
audited as ``org.member.set`` with ``direct: true``), as the center creates accounts for organizations
anyway. Every change is kept in ``membership_periods``, which conflict-of-interest checks read.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicc.core.errors import Conflict, InvalidInput, NotFound, StaleVersion
from aicc.core.names import check_slug
from aicc.core.tenancy import OrgKind, OrgRole
from aicc.services import audit, tokens
from aicc.services.paging import Page, page
from aicc.services.principal import Principal
from aicc.store.models import (
    MembershipPeriodRow,
    MembershipRow,
    OrganizationRow,
    ProjectMemberRow,
    ProjectRow,
    UserRow,
    utcnow,
)


def get(s: Session, actor: Principal, org_id: int) -> OrganizationRow:
    org = s.get(OrganizationRow, org_id)
    if org is None or not actor.sees_org(org.id):
        raise NotFound("organization not found")
    return org


def by_name(s: Session, actor: Principal, name: str) -> OrganizationRow:
    org = s.execute(select(OrganizationRow).where(OrganizationRow.name == name)).scalar_one_or_none()
    if org is None or not actor.sees_org(org.id):
        raise NotFound("organization not found")
    return org


def list_orgs(
    s: Session, actor: Principal, *, after: int | None, limit: int, kind: OrgKind | None = None, name: str | None = None
) -> Page[OrganizationRow]:
    q = select(OrganizationRow)
    if not actor.is_center_admin:
        q = q.where(OrganizationRow.id.in_(list(actor.org_roles)))
    if kind:
        q = q.where(OrganizationRow.kind == kind.value)
    if name:
        q = q.where(OrganizationRow.name.startswith(name, autoescape=True))
    return page(s, q, OrganizationRow.id, after, limit)


def create(
    s: Session, actor: Principal, *, name: str, display_name: str, kind: OrgKind, region: str | None
) -> OrganizationRow:
    actor.require_center_admin()
    check_slug(name, "organization name")
    if s.execute(select(OrganizationRow.id).where(OrganizationRow.name == name)).first():
        raise Conflict(f"organization {name!r} already exists")
    org = OrganizationRow(name=name, display_name=display_name, kind=kind.value, region=region)
    s.add(org)
    s.flush()
    audit.record(s, actor, "org.create", "organization", org.id, organization_id=org.id,
                 data={"name": name, "kind": kind.value})
    return org


def update(s: Session, actor: Principal, org_id: int, *, version: int, changes: dict[str, Any]) -> OrganizationRow:
    org = get(s, actor, org_id)
    actor.require_org_admin(org.id)
    if "kind" in changes or "region" in changes:
        actor.require_center_admin()  # eligibility for support programs depends on them
    if org.version != version:
        raise StaleVersion(f"organization changed since version {version} (now {org.version}); reload and retry")
    for key, value in changes.items():
        setattr(org, key, value.value if isinstance(value, OrgKind) else value)
    s.flush()
    audit.record(s, actor, "org.update", "organization", org.id, organization_id=org.id, data=changes)
    return org


def delete(s: Session, actor: Principal, org_id: int) -> None:
    org = get(s, actor, org_id)
    actor.require_center_admin()
    if s.execute(select(func.count()).select_from(ProjectRow).where(ProjectRow.organization_id == org.id)).scalar():
        raise Conflict("organization still has projects; delete or move them first")
    audit.record(s, actor, "org.delete", "organization", org.id, organization_id=org.id, data={"name": org.name})
    s.delete(org)


def list_members(s: Session, actor: Principal, org_id: int) -> list[tuple[MembershipRow, UserRow]]:
    org = get(s, actor, org_id)
    q = (select(MembershipRow, UserRow).join(UserRow, UserRow.id == MembershipRow.user_id)
         .where(MembershipRow.organization_id == org.id).order_by(UserRow.username))
    return [(m, u) for m, u in s.execute(q).all()]


def set_membership(s: Session, user_id: int, org_id: int, role: OrgRole) -> MembershipRow:
    """Make ``user_id`` a member with ``role`` and keep the history; callers authorize and audit."""
    existing = s.execute(select(MembershipRow).where(
        MembershipRow.user_id == user_id, MembershipRow.organization_id == org_id)).scalar_one_or_none()
    if existing is not None and existing.role == role.value:
        return existing
    _end_period(s, user_id, org_id)
    s.add(MembershipPeriodRow(user_id=user_id, organization_id=org_id, role=role.value, started_at=utcnow()))
    if existing is not None:
        existing.role = role.value
        membership = existing
    else:
        membership = MembershipRow(user_id=user_id, organization_id=org_id, role=role.value)
        s.add(membership)
    s.flush()
    tokens.invalidate_cache()
    return membership


def _end_period(s: Session, user_id: int, org_id: int) -> None:
    for p in s.execute(select(MembershipPeriodRow).where(
            MembershipPeriodRow.user_id == user_id, MembershipPeriodRow.organization_id == org_id,
            MembershipPeriodRow.ended_at.is_(None))).scalars():
        p.ended_at = utcnow()


def add_member(s: Session, actor: Principal, org_id: int, *, username: str, role: OrgRole) -> MembershipRow:
    """Center admins add directly; organization admins may change the role of someone already a member, and
    invite anyone else (``services.invitations.invite``): joining needs the user's consent."""
    org = get(s, actor, org_id)
    actor.require_org_admin(org.id)
    if role is OrgRole.DATA_CUSTODIAN and not actor.is_center_admin:
        raise InvalidInput("only a center admin may appoint a data custodian")
    user = s.execute(select(UserRow).where(UserRow.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"user {username!r} not found")
    existing = s.execute(select(MembershipRow).where(
        MembershipRow.user_id == user.id, MembershipRow.organization_id == org.id)).scalar_one_or_none()
    if existing is None and not actor.is_center_admin:
        raise InvalidInput(f"{username!r} is not a member; joining needs their consent: invite them "
                           f"(aicc admin members invite {org.name} {username})")
    if existing is not None and existing.role == role.value:
        return existing
    membership = set_membership(s, user.id, org.id, role)
    audit.record(s, actor, "org.member.set", "organization", org.id, organization_id=org.id,
                 data={"user": username, "role": role.value, "direct": existing is None})
    return membership


def remove_member(s: Session, actor: Principal, org_id: int, user_id: int) -> None:
    org = get(s, actor, org_id)
    actor.require_org_admin(org.id)
    m = s.execute(select(MembershipRow).where(
        MembershipRow.user_id == user_id, MembershipRow.organization_id == org.id)).scalar_one_or_none()
    if m is None:
        raise NotFound("membership not found")
    project_ids = select(ProjectRow.id).where(ProjectRow.organization_id == org.id)
    for pm in s.execute(select(ProjectMemberRow).where(
            ProjectMemberRow.user_id == user_id, ProjectMemberRow.project_id.in_(project_ids))).scalars():
        s.delete(pm)
    s.delete(m)
    _end_period(s, user_id, org.id)
    tokens.invalidate_cache()
    audit.record(s, actor, "org.member.remove", "organization", org.id, organization_id=org.id,
                 data={"user_id": user_id})
