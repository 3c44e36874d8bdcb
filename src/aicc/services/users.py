"""People. Center admins create accounts; everyone reads their own.

Passwords exist for the portal only (the CLI and scripts use API tokens). They are
hashed with scrypt from the standard library: memory-hard, salted, and with no
extra dependency for a center that may be air-gapped.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicc.core.errors import Conflict, InvalidInput, NotFound, StaleVersion
from aicc.core.names import USERNAME_RE
from aicc.core.tenancy import CenterRole
from aicc.services import audit, tokens
from aicc.services.paging import Page, page
from aicc.services.principal import Principal
from aicc.services.tokens import Unauthenticated
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


MIN_PASSWORD = 10
MAX_PASSWORD = 1024
MSG_LENGTH = f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters"
MSG_WEAK = "choose a password that is not your username or a common sequence"
MSG_WRONG_CURRENT = "the current password is wrong"
_N, _R, _P = 2**14, 8, 1  # about 16 MiB and 40 ms per check: slow for guessing, fine for signing in


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$salt$hash``: the parameters travel with the hash so they can be raised later."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def check_password(stored: str | None, password: str) -> bool:
    """Constant-time comparison; a missing or malformed hash never matches (but costs the same)."""
    try:
        kind, n, r, p, salt, digest = (stored or "").split("$")
        if kind != "scrypt":
            raise ValueError(kind)
        got = hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=base64.b64decode(salt),
                             n=int(n), r=int(r), p=int(p), dklen=32)
        return hmac.compare_digest(got, base64.b64decode(digest))
    except ValueError:
        hash_password(password)  # same work as a real check: no timing hint that the account has no password
        return False


def set_password(s: Session, actor: Principal, user_id: int, *, password: str, current: str | None = None) -> UserRow:
    """A center admin sets anyone's password; users change their own by giving the current one."""
    user = get(s, actor, user_id)
    if user.id != actor.user_id or current is None:
        actor.require_center_admin()
    elif user.password_hash is not None and not check_password(user.password_hash, current):
        raise InvalidInput(MSG_WRONG_CURRENT)
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(MSG_LENGTH)
    if password.strip().lower() in (user.username.lower(), "password12", "0123456789", "1234567890"):
        raise InvalidInput(MSG_WEAK)
    user.password_hash = hash_password(password)
    s.flush()
    audit.record(s, actor, "user.password", "user", user.id, data={"username": user.username})
    return user


def sign_in(s: Session, username: str, password: str) -> UserRow:
    """The enabled user with this name and password; :class:`Unauthenticated` says nothing about which was wrong."""
    user = None
    if USERNAME_RE.match(username):  # anything else cannot exist, and a NUL byte would upset PostgreSQL
        user = s.execute(select(UserRow).where(UserRow.username == username)).scalar_one_or_none()
    ok = check_password(user.password_hash if user else None, password[:MAX_PASSWORD])
    if user is None or user.disabled or not ok:
        raise Unauthenticated()
    return user
