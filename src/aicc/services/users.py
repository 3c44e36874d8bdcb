"""People. Center admins create accounts; everyone reads their own."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicc.core.errors import Conflict, InvalidInput, NotFound, StaleVersion
from aicc.core.names import USERNAME_RE
from aicc.core.tenancy import CenterRole
from aicc.services import audit, tokens
from aicc.services.paging import Page, page
from aicc.services.principal import Principal
from aicc.store.models import MembershipRow, UserRow


def create(
    s: Session,
    actor: Principal,
    *,
    username: str,
    display_name: str,
    email: str | None,
    center_role: CenterRole | None,
) -> UserRow:
    actor.require_center_admin()
    if not USERNAME_RE.match(username):
        raise InvalidInput("username must be 1-32 characters: lowercase letters, digits, '_', '.', '-'")
    if s.execute(select(UserRow.id).where(UserRow.username == username)).first():
        raise Conflict(f"user {username!r} already exists")
    user = UserRow(username=username, display_name=display_name, email=email,
                   center_role=center_role.value if center_role else None)
    s.add(user)
    s.flush()
    audit.record(s, actor, "user.create", "user", user.id,
                 data={"username": username, "center_role": user.center_role})
    return user


def get(s: Session, actor: Principal, user_id: int) -> UserRow:
    """Visible: yourself; to a center admin, everyone; to an org admin, members of their organizations."""
    user = s.get(UserRow, user_id)
    if user is None:
        raise NotFound("user not found")
    if user.id == actor.user_id or actor.is_center_admin:
        return user
    orgs = set(s.execute(select(MembershipRow.organization_id).where(MembershipRow.user_id == user.id)).scalars())
    if any(actor.is_org_admin(o) for o in orgs):
        return user
    raise NotFound("user not found")


def list_users(s: Session, actor: Principal, *, after: int | None, limit: int, username: str | None) -> Page[UserRow]:
    q = select(UserRow)
    if not actor.is_center_admin:
        admin_of = [o for o in actor.org_roles if actor.is_org_admin(o)]
        members = select(MembershipRow.user_id).where(MembershipRow.organization_id.in_(admin_of))
        q = q.where((UserRow.id == actor.user_id) | UserRow.id.in_(members))
    if username:
        q = q.where(UserRow.username.startswith(username, autoescape=True))
    return page(s, q, UserRow.id, after, limit)


def update(s: Session, actor: Principal, user_id: int, *, version: int, changes: dict[str, Any]) -> UserRow:
    user = get(s, actor, user_id)
    if ("center_role" in changes or "disabled" in changes) or user.id != actor.user_id:
        actor.require_center_admin()
    if user.version != version:
        raise StaleVersion(f"user changed since version {version} (now {user.version}); reload and retry")
    for key, value in changes.items():
        setattr(user, key, value.value if isinstance(value, CenterRole) else value)
    s.flush()
    tokens.invalidate_cache()
    audit.record(s, actor, "user.update", "user", user.id, data=changes)
    return user
