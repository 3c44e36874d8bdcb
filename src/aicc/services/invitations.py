"""Invitations: an organization admin asks an existing user to join; the user accepts or declines.

Joining an organization changes what a person may see and whom they may review, so it needs their
consent (an attack session had an org admin add an assigned reviewer to her organization unasked).
Every step is an audit event on the organization: ``org.member.invite``, ``org.member.accept``,
``org.member.decline``, ``org.member.withdraw``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicc.core.errors import Conflict, InvalidInput, NotFound
from aicc.core.tenancy import InvitationState, OrgRole, invitation_transition
from aicc.services import audit
from aicc.services import organizations as orgs
from aicc.services.principal import Principal
from aicc.store.models import InvitationRow, MembershipRow, OrganizationRow, UserRow, utcnow


def invite(s: Session, actor: Principal, org_id: int, *, username: str, role: OrgRole) -> InvitationRow:
    org = orgs.get(s, actor, org_id)
    actor.require_org_admin(org.id)
    if role is OrgRole.DATA_CUSTODIAN and not actor.is_center_admin:
        raise InvalidInput("only a center admin may appoint a data custodian")
    user = s.execute(select(UserRow).where(UserRow.username == username)).scalar_one_or_none()
    if user is None or user.disabled:
        raise NotFound(f"user {username!r} not found")
    if s.execute(select(MembershipRow.id).where(MembershipRow.user_id == user.id,
                                                MembershipRow.organization_id == org.id)).first():
        raise Conflict(f"{username!r} is already a member; change their role instead")
    pending = s.execute(select(InvitationRow).where(
        InvitationRow.organization_id == org.id, InvitationRow.user_id == user.id,
        InvitationRow.state == InvitationState.PENDING.value)).scalar_one_or_none()
    if pending is not None:
        return pending
    inv = InvitationRow(organization_id=org.id, user_id=user.id, role=role.value, invited_by=actor.user_id,
                        state=InvitationState.PENDING.value)
    s.add(inv)
    s.flush()
    audit.record(s, actor, "org.member.invite", "organization", org.id, organization_id=org.id,
                 data={"user": username, "role": role.value, "invitation_id": inv.id})
    return inv


def of_organization(s: Session, actor: Principal, org_id: int) -> list[tuple[InvitationRow, str]]:
    """The organization's invitations (any state), newest first, with the invitee's username."""
    org = orgs.get(s, actor, org_id)
    actor.require_org_admin(org.id)
    q = (select(InvitationRow, UserRow.username).join(UserRow, UserRow.id == InvitationRow.user_id)
         .where(InvitationRow.organization_id == org.id).order_by(InvitationRow.id.desc()).limit(500))
    return [(i, u) for i, u in s.execute(q).all()]


def mine(s: Session, actor: Principal, *, pending_only: bool = True) -> list[tuple[InvitationRow, OrganizationRow]]:
    """The invitations addressed to the caller (pending ones by default), with their organizations."""
    q = (select(InvitationRow, OrganizationRow).join(OrganizationRow, OrganizationRow.id ==
                                                     InvitationRow.organization_id)
         .where(InvitationRow.user_id == actor.user_id).order_by(InvitationRow.id.desc()).limit(500))
    if pending_only:
        q = q.where(InvitationRow.state == InvitationState.PENDING.value)
    return [(i, o) for i, o in s.execute(q).all()]


def _step(inv: InvitationRow, action: str) -> None:
    try:
        inv.state = invitation_transition(InvitationState(inv.state), action).value
    except ValueError as exc:
        raise Conflict(str(exc)) from None
    inv.decided_at = utcnow()


def respond(s: Session, actor: Principal, invitation_id: int, *, accept: bool) -> InvitationRow:
    """The invitee's answer; only they may give it (anyone else gets 404, as for others' objects)."""
    inv = s.get(InvitationRow, invitation_id)
    if inv is None or inv.user_id != actor.user_id:
        raise NotFound("invitation not found")
    _step(inv, "accept" if accept else "decline")
    if accept:
        orgs.set_membership(s, inv.user_id, inv.organization_id, OrgRole(inv.role))
    audit.record(s, actor, "org.member.accept" if accept else "org.member.decline", "organization",
                 inv.organization_id, organization_id=inv.organization_id,
                 data={"user": actor.username, "role": inv.role, "invitation_id": inv.id})
    return inv


def withdraw(s: Session, actor: Principal, org_id: int, invitation_id: int) -> InvitationRow:
    org = orgs.get(s, actor, org_id)
    actor.require_org_admin(org.id)
    inv = s.get(InvitationRow, invitation_id)
    if inv is None or inv.organization_id != org.id:
        raise NotFound("invitation not found")
    _step(inv, "withdraw")
    audit.record(s, actor, "org.member.withdraw", "organization", org.id, organization_id=org.id,
                 data={"invitation_id": inv.id})
    return inv


def add_or_invite(s: Session, actor: Principal, org_id: int, *, username: str, role: OrgRole) -> str:
    """The portal's one form: a center admin adds; an org admin changes an existing member's role or invites.
    Returns "added" or "invited"."""
    org = orgs.get(s, actor, org_id)
    user = s.execute(select(UserRow).where(UserRow.username == username)).scalar_one_or_none()
    member = user is not None and s.execute(select(MembershipRow.id).where(
        MembershipRow.user_id == user.id, MembershipRow.organization_id == org.id)).first() is not None
    if actor.is_center_admin or member:
        orgs.add_member(s, actor, org.id, username=username, role=role)
        return "added"
    invite(s, actor, org.id, username=username, role=role)
    return "invited"
