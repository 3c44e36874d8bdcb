"""/api/v1/organizations — thin: parse, call a service, shape the answer."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from aicc.api.deps import DB, Actor
from aicc.api.schemas.common import Cursor, Limit, NameFilter, Page, PathId, decode_cursor, encode_cursor
from aicc.api.schemas.tenancy import (
    Invitation,
    Member,
    MemberAdd,
    Organization,
    OrganizationCreate,
    OrganizationUpdate,
)
from aicc.core.tenancy import OrgKind
from aicc.services import invitations as inv_svc
from aicc.services import organizations as svc
from aicc.store.models import InvitationRow, OrganizationRow

router = APIRouter(prefix="/organizations", tags=["organizations"])
mine = APIRouter(prefix="/invitations", tags=["organizations"])
"""The invitee's side: their pending invitations, to accept or decline."""


def _invitation(i: InvitationRow, org: str, username: str) -> Invitation:
    return Invitation(id=i.id, organization_id=i.organization_id, organization=org, username=username, role=i.role,
                      state=i.state, created_at=i.created_at, decided_at=i.decided_at)


@router.get("", response_model=Page[Organization])
def list_organizations(
    db: DB, actor: Actor, limit: Limit = 50, cursor: Cursor = None, kind: OrgKind | None = None,
    name: NameFilter = None,
) -> Page[Organization]:
    with db.read() as s:
        pg = svc.list_orgs(s, actor, after=decode_cursor(cursor), limit=limit, kind=kind, name=name)
        return Page(items=[Organization.model_validate(o) for o in pg.items], next_cursor=encode_cursor(pg.next_after))


@router.post("", response_model=Organization, status_code=201)
def create_organization(db: DB, actor: Actor, body: OrganizationCreate) -> Organization:
    with db.write() as s:
        org = svc.create(s, actor, name=body.name, display_name=body.display_name, kind=body.kind,
                         region=body.region)
        return Organization.model_validate(org)


@router.get("/{org_id}", response_model=Organization)
def get_organization(db: DB, actor: Actor, org_id: PathId) -> Organization:
    with db.read() as s:
        return Organization.model_validate(svc.get(s, actor, org_id))


@router.patch("/{org_id}", response_model=Organization)
def update_organization(db: DB, actor: Actor, org_id: PathId, body: OrganizationUpdate) -> Organization:
    changes = body.model_dump(exclude_unset=True, exclude={"version"})
    with db.write() as s:
        return Organization.model_validate(svc.update(s, actor, org_id, version=body.version, changes=changes))


@router.delete("/{org_id}", status_code=204)
def delete_organization(db: DB, actor: Actor, org_id: PathId) -> Response:
    with db.write() as s:
        svc.delete(s, actor, org_id)
    return Response(status_code=204)


@router.get("/{org_id}/members", response_model=list[Member])
def list_members(db: DB, actor: Actor, org_id: PathId) -> list[Member]:
    with db.read() as s:
        return [Member(user_id=u.id, username=u.username, display_name=u.display_name, role=m.role)
                for m, u in svc.list_members(s, actor, org_id)]


@router.post("/{org_id}/members", response_model=Member, status_code=201)
def add_member(db: DB, actor: Actor, org_id: PathId, body: MemberAdd) -> Member:
    """Center admins add directly; organization admins change the role of existing members and invite others."""
    with db.write() as s:
        m = svc.add_member(s, actor, org_id, username=body.username, role=body.role)
        return Member(user_id=m.user_id, username=body.username, display_name=body.username, role=body.role)


@router.delete("/{org_id}/members/{user_id}", status_code=204)
def remove_member(db: DB, actor: Actor, org_id: PathId, user_id: PathId) -> Response:
    with db.write() as s:
        svc.remove_member(s, actor, org_id, user_id)
    return Response(status_code=204)


@router.post("/{org_id}/invitations", response_model=Invitation, status_code=201)
def invite(db: DB, actor: Actor, org_id: PathId, body: MemberAdd) -> Invitation:
    """Invite an existing user (organization admins); they become a member when they accept."""
    with db.write() as s:
        i = inv_svc.invite(s, actor, org_id, username=body.username, role=body.role)
        return _invitation(i, svc.get(s, actor, org_id).name, body.username)


@router.get("/{org_id}/invitations", response_model=list[Invitation])
def list_invitations(db: DB, actor: Actor, org_id: PathId) -> list[Invitation]:
    with db.read() as s:
        org = svc.get(s, actor, org_id)
        return [_invitation(i, org.name, u) for i, u in inv_svc.of_organization(s, actor, org_id)]


@router.delete("/{org_id}/invitations/{invitation_id}", status_code=204)
def withdraw_invitation(db: DB, actor: Actor, org_id: PathId, invitation_id: PathId) -> Response:
    with db.write() as s:
        inv_svc.withdraw(s, actor, org_id, invitation_id)
    return Response(status_code=204)


@mine.get("", response_model=list[Invitation])
def my_invitations(db: DB, actor: Actor) -> list[Invitation]:
    """Invitations waiting for your answer."""
    with db.read() as s:
        return [_invitation(i, o.name, actor.username) for i, o in inv_svc.mine(s, actor)]


@mine.post("/{invitation_id}/accept", response_model=Invitation)
def accept(db: DB, actor: Actor, invitation_id: PathId) -> Invitation:
    with db.write() as s:
        i = inv_svc.respond(s, actor, invitation_id, accept=True)
        return _invitation(i, _org_name(s, i), actor.username)


@mine.post("/{invitation_id}/decline", response_model=Invitation)
def decline(db: DB, actor: Actor, invitation_id: PathId) -> Invitation:
    with db.write() as s:
        i = inv_svc.respond(s, actor, invitation_id, accept=False)
        return _invitation(i, _org_name(s, i), actor.username)


def _org_name(s: Session, i: InvitationRow) -> str:
    """The invitee may not see the organization yet (declined, or tokens not refreshed): read its name only."""
    org = s.get(OrganizationRow, i.organization_id)
    return org.name if org is not None else ""
