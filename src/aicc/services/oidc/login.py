"""The database side of institutional sign-in: started sign-ins (state, single use), and the user an ID
token's claims sign in as: linked by subject, else by the configured claim, else created; organization
roles from the provider's group rules, or a join request for an organization admin to decide.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from aicc.core.errors import Conflict, NotFound
from aicc.core.names import USERNAME_RE
from aicc.core.tenancy import OrgRole
from aicc.services import audit, organizations, tokens
from aicc.services.oidc.client import Refusal, SignInRefused, Started
from aicc.services.oidc.config import ProviderConfig
from aicc.services.principal import SYSTEM, Principal
from aicc.store.models import (
    IdentityRow,
    JoinRequestRow,
    MembershipRow,
    OidcLoginRow,
    OrganizationRow,
    UserRow,
    utcnow,
)

STATE_TTL = dt.timedelta(minutes=10)


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def begin(s: Session, provider: str, started: Started, next_path: str) -> None:
    s.add(OidcLoginRow(state_hash=_hash(started.state), provider=provider, nonce=started.nonce,
                       code_verifier=started.code_verifier, next=next_path))
    # old rows are of no use to anyone: keep the table small
    s.execute(delete(OidcLoginRow).where(OidcLoginRow.created_at < utcnow() - dt.timedelta(days=1)))


def consume(s: Session, provider: str, state: str) -> OidcLoginRow:
    """The started sign-in for ``state``, marked used. A second call for the same state is a replay."""
    row = s.execute(select(OidcLoginRow).where(OidcLoginRow.state_hash == _hash(state))
                    .with_for_update()).scalar_one_or_none()
    if row is None or row.provider != provider:
        raise SignInRefused(Refusal.STATE, "no sign-in was started with this state")
    if row.used_at is not None:
        raise SignInRefused(Refusal.STATE, "this sign-in's state was used already (replayed callback)")
    if row.created_at < utcnow() - STATE_TTL:
        raise SignInRefused(Refusal.STATE, "the sign-in took longer than 10 minutes")
    row.used_at = utcnow()
    return row


def _values(claims: dict[str, Any], claim: str) -> set[str]:
    value = claims.get(claim)
    if isinstance(value, str):
        return {value}
    if isinstance(value, list):
        return {str(v) for v in value}
    return set()


def mapped_roles(config: ProviderConfig, claims: dict[str, Any]) -> dict[str, OrgRole]:
    """Organization name -> role from the group rules; the first matching rule per organization wins."""
    roles: dict[str, OrgRole] = {}
    for rule in config.groups:
        if rule.value in _values(claims, rule.claim):
            roles.setdefault(rule.org, rule.role)
    return roles


def _username(s: Session, claims: dict[str, Any]) -> str:
    base = str(claims.get("preferred_username") or str(claims.get("email") or "").split("@")[0] or "user")
    base = re.sub(r"[^a-z0-9_.-]", "", base.lower())[:28] or "user"
    if not base[0].isalpha() and base[0] != "_":
        base = "u" + base[:27]
    taken = set(s.execute(select(UserRow.username).where(UserRow.username.like(base + "%"))).scalars())
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}{n}"
    assert USERNAME_RE.match(name)
    return name


def _find_user(s: Session, config: ProviderConfig, claims: dict[str, Any]) -> tuple[UserRow | None, str]:
    identity = s.execute(select(IdentityRow).where(IdentityRow.provider == config.name,
                                                   IdentityRow.subject == str(claims["sub"]))).scalar_one_or_none()
    if identity is not None:
        user = s.get(UserRow, identity.user_id)
        identity.last_sign_in_at = utcnow()
        return user, "identity"
    link = claims.get(config.link_claim)
    if config.link_claim == "email" and claims.get("email_verified") is False:
        link = None  # an unverified address links nobody: it could be anyone's
    if isinstance(link, str) and link:
        column = UserRow.email if config.link_claim == "email" else UserRow.username
        matches = list(s.execute(select(UserRow).where(func.lower(column) == link.lower())).scalars())
        if len(matches) == 1:
            return matches[0], "linked"
    return None, "new"


def sign_in(s: Session, config: ProviderConfig, claims: dict[str, Any]) -> UserRow:
    """The user these validated claims sign in as, created or linked on first sign-in, roles applied."""
    user, how = _find_user(s, config, claims)
    roles = mapped_roles(config, claims)
    orgs = {o.name: o for o in s.execute(select(OrganizationRow).where(
        OrganizationRow.name.in_([*roles, *([config.approval_org] if config.approval_org else [])]))).scalars()}
    if user is None:
        if not any(name in orgs for name in roles) and config.approval_org not in orgs:
            raise SignInRefused(Refusal.NO_ACCESS, f"no group rule of provider {config.name!r} matched and "
                                "it names no organization to ask")
        user = UserRow(username=_username(s, claims), display_name=str(claims.get("name") or "")[:200],
                       email=str(claims["email"])[:254] if claims.get("email") else None)
        s.add(user)
        s.flush()
        audit.record(s, SYSTEM, "user.create", "user", user.id,
                     data={"username": user.username, "via": f"oidc:{config.name}"})
    if user.disabled:
        raise SignInRefused(Refusal.NO_ACCESS, "the account is disabled")
    if how != "identity":
        s.add(IdentityRow(user_id=user.id, provider=config.name, subject=str(claims["sub"]), last_sign_in_at=utcnow()))
        audit.record(s, SYSTEM, "user.identity_link", "user", user.id, data={"provider": config.name, "how": how})
    for name, role in roles.items():
        org = orgs.get(name)
        if org is None:
            continue  # a rule for an organization not created yet: nothing to join
        before = s.execute(select(MembershipRow.role).where(MembershipRow.user_id == user.id,
                                                            MembershipRow.organization_id == org.id)).scalar()
        if before != role.value:
            organizations.set_membership(s, user.id, org.id, role)
            audit.record(s, SYSTEM, "org.member_set", "organization", org.id, organization_id=org.id,
                         data={"user": user.username, "role": role.value, "via": f"oidc:{config.name}"})
    approval = orgs.get(config.approval_org or "")
    if not roles and approval is not None:
        _request_to_join(s, user, approval, config.approval_role)
    return user


def _request_to_join(s: Session, user: UserRow, org: OrganizationRow, role: OrgRole) -> None:
    member = s.execute(select(MembershipRow.id).where(MembershipRow.user_id == user.id,
                                                      MembershipRow.organization_id == org.id)).first()
    asked = s.execute(select(JoinRequestRow.id).where(JoinRequestRow.user_id == user.id,
                                                      JoinRequestRow.organization_id == org.id)).first()
    if member is None and asked is None:
        req = JoinRequestRow(user_id=user.id, organization_id=org.id, role=role.value)
        s.add(req)
        s.flush()
        audit.record(s, SYSTEM, "org.join_request", "organization", org.id, organization_id=org.id,
                     data={"user": user.username, "role": role.value})


def pending_requests(s: Session, actor: Principal, org_id: int) -> list[tuple[JoinRequestRow, UserRow]]:
    actor.require_org_admin(org_id)
    q = (select(JoinRequestRow, UserRow).join(UserRow, UserRow.id == JoinRequestRow.user_id)
         .where(JoinRequestRow.organization_id == org_id, JoinRequestRow.state == "pending")
         .order_by(JoinRequestRow.id))
    return [(r, u) for r, u in s.execute(q).all()]


def my_requests(s: Session, actor: Principal) -> list[tuple[JoinRequestRow, OrganizationRow]]:
    q = (select(JoinRequestRow, OrganizationRow)
         .join(OrganizationRow, OrganizationRow.id == JoinRequestRow.organization_id)
         .where(JoinRequestRow.user_id == actor.user_id, JoinRequestRow.state == "pending"))
    return [(r, o) for r, o in s.execute(q).all()]


def decide(s: Session, actor: Principal, org_id: int, request_id: int, *, approve: bool) -> JoinRequestRow:
    actor.require_org_admin(org_id)
    req = s.get(JoinRequestRow, request_id)
    if req is None or req.organization_id != org_id:
        raise NotFound("join request not found")
    if req.state != "pending":
        raise Conflict(f"the request is {req.state} already")
    req.state, req.decided_at = ("approved" if approve else "declined"), utcnow()
    req.decided_by = actor.user_id or None  # the system principal is nobody in the users table
    if approve:
        organizations.set_membership(s, req.user_id, org_id, OrgRole(req.role))
    tokens.invalidate_cache()
    audit.record(s, actor, "org.join_" + req.state, "organization", org_id, organization_id=org_id,
                 data={"user_id": req.user_id, "role": req.role})
    return req
