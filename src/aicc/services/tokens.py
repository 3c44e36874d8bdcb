"""API tokens: created (shown once), listed, revoked, and checked on every request.

A token reads ``aicc_<public id>_<secret>``. The public id finds the row; only
SHA-256 of the 256-bit secret is stored and compared in constant time. Random
secrets need no slow password hash, which keeps authentication off the hot path
of job submission.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicc.core.errors import InvalidInput, NotFound
from aicc.core.tenancy import CenterRole, OrgRole
from aicc.services import audit, token_cache
from aicc.services.principal import Principal
from aicc.store.models import ApiTokenRow, MembershipRow, ProjectMemberRow, UserRow, utcnow

PREFIX = "aicc"
MAX_TTL_DAYS = 3650


class Unauthenticated(Exception):
    """No, malformed, unknown, expired or revoked token. The API answers 401 with no detail about which."""


@dataclass(frozen=True, slots=True)
class IssuedToken:
    row: ApiTokenRow
    token: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue(
    s: Session, actor: Principal, *, user_id: int | None, name: str, ttl_days: int | None, default_ttl_days: int
) -> IssuedToken:
    """A user issues tokens for themself; only a center admin may issue one for somebody else."""
    target = actor.user_id if user_id is None else user_id
    if target != actor.user_id:
        actor.require_center_admin()
    user = s.get(UserRow, target)
    if user is None:
        raise NotFound("user not found")
    if user.disabled:
        raise InvalidInput("user is disabled")
    days = default_ttl_days if ttl_days is None else ttl_days
    if not 1 <= days <= MAX_TTL_DAYS:
        raise InvalidInput(f"ttl_days must be between 1 and {MAX_TTL_DAYS}")
    public_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    row = ApiTokenRow(
        public_id=public_id,
        user_id=target,
        name=name,
        secret_hash=_hash(secret),
        expires_at=utcnow() + dt.timedelta(days=days),
    )
    s.add(row)
    s.flush()
    audit.record(s, actor, "token.issue", "token", row.id, data={"user": user.username, "name": name, "days": days})
    return IssuedToken(row, f"{PREFIX}_{public_id}_{secret}")


def list_tokens(s: Session, actor: Principal, *, user_id: int | None = None) -> list[ApiTokenRow]:
    target = actor.user_id if user_id is None else user_id
    if target != actor.user_id:
        actor.require_center_admin()
    q = select(ApiTokenRow).where(ApiTokenRow.user_id == target).order_by(ApiTokenRow.id)
    return list(s.execute(q).scalars())


def revoke(s: Session, actor: Principal, token_id: int) -> ApiTokenRow:
    row = s.get(ApiTokenRow, token_id)
    if row is None or (row.user_id != actor.user_id and not actor.is_center_admin):
        raise NotFound("token not found")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(s, actor, "token.revoke", "token", row.id)
    invalidate_cache()
    return row


def principal_for(s: Session, user: UserRow) -> Principal:
    roles = {m.organization_id: OrgRole(m.role) for m in s.execute(
        select(MembershipRow).where(MembershipRow.user_id == user.id)).scalars()}
    projects = frozenset(s.execute(
        select(ProjectMemberRow.project_id).where(ProjectMemberRow.user_id == user.id)).scalars())
    return Principal(
        user_id=user.id,
        username=user.username,
        center_role=CenterRole(user.center_role) if user.center_role else None,
        org_roles=roles,
        projects=projects,
    )


def invalidate_cache() -> None:
    """Call after anything that changes what a principal may see (memberships, roles, revocations)."""
    token_cache.cache.invalidate()


def cached(token: str) -> Principal | None:
    """The principal for a recently seen token, without touching the database."""
    return token_cache.cache.get(token)


def authenticate(s: Session, token: str) -> Principal:
    hit = token_cache.cache.get(token)
    if hit is not None:
        return hit
    epoch = token_cache.cache.epoch()  # before the reads: a change committed meanwhile makes the entry stale
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or len(parts[1]) != 12:
        raise Unauthenticated()
    row = s.execute(select(ApiTokenRow).where(ApiTokenRow.public_id == parts[1])).scalar_one_or_none()
    if row is None or not hmac.compare_digest(row.secret_hash, _hash(parts[2])):
        raise Unauthenticated()
    if row.revoked_at is not None or row.expires_at <= utcnow():
        raise Unauthenticated()
    user = s.get(UserRow, row.user_id)
    if user is None or user.disabled:
        raise Unauthenticated()
    principal = principal_for(s, user)
    token_cache.cache.put(token, epoch, principal, (row.expires_at - utcnow()).total_seconds())
    return principal
