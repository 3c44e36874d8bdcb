"""A service's API keys: created (shown once), listed, revoked; checked by the gateway on every request.

A key reads ``aicc_svc_<public id>_<secret>``: the public id finds the row, only SHA-256 of the 256-bit
secret is kept and compared in constant time (random secrets need no slow password hash, which keeps the
check off the request's latency). The gateway's cache of keys holds for at most ``KEY_CACHE_S``, so a revoked
key is refused within that time on every server.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicc.core.errors import InvalidInput, NotFound
from aicc.core.serving import EventKind
from aicc.services.principal import Principal
from aicc.services.serving import catalog
from aicc.store.models import ServiceKeyRow, utcnow

PREFIX = "aicc_svc_"
MAX_RATE = 100_000.0


@dataclass(frozen=True, slots=True)
class IssuedKey:
    row: ServiceKeyRow
    key: str


@dataclass(frozen=True, slots=True)
class KeyGrant:
    """What the gateway needs of a valid key."""

    key_id: int
    service_id: int
    rate_per_s: float
    burst: int


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(s: Session, actor: Principal, service_id: int, *, name: str, rate_per_s: float = 50.0,
           burst: int | None = None) -> IssuedKey:
    row = catalog.get(s, actor, service_id)
    if not 0 < rate_per_s <= MAX_RATE:
        raise InvalidInput(f"rate must be above 0 and at most {MAX_RATE:g} requests per second")
    burst = max(1, int(rate_per_s)) if burst is None else burst
    if not 1 <= burst <= 1_000_000:
        raise InvalidInput("burst must be between 1 and 1000000 requests")
    name = name.strip()
    if not 1 <= len(name) <= 128:
        raise InvalidInput("a key's name is 1-128 characters")
    public_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    key = ServiceKeyRow(service_id=row.id, public_id=public_id, name=name, secret_hash=_hash(secret),
                        rate_per_s=float(rate_per_s), burst=burst, created_at=utcnow())
    s.add(key)
    s.flush()
    catalog.event(s, row, EventKind.KEY_CREATED, f"key {key.id} ({name}) created, {rate_per_s:g} requests/s")
    return IssuedKey(key, f"{PREFIX}{public_id}_{secret}")


def list_keys(s: Session, actor: Principal, service_id: int) -> list[ServiceKeyRow]:
    catalog.get(s, actor, service_id)
    return list(s.execute(select(ServiceKeyRow).where(ServiceKeyRow.service_id == service_id)
                          .order_by(ServiceKeyRow.id)).scalars())


def revoke(s: Session, actor: Principal, service_id: int, key_id: int) -> ServiceKeyRow:
    row = catalog.get(s, actor, service_id)
    key = s.get(ServiceKeyRow, key_id)
    if key is None or key.service_id != row.id:
        raise NotFound("key not found")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        catalog.event(s, row, EventKind.KEY_REVOKED, f"key {key.id} ({key.name}) revoked")
    return key


def check(s: Session, presented: str) -> KeyGrant | None:
    """The grant of a presented key, or None for a malformed, unknown or revoked one (the caller says 401)."""
    if not presented.startswith(PREFIX):
        return None
    public_id, _, secret = presented[len(PREFIX):].partition("_")
    if not public_id or not secret or len(public_id) > 16:
        return None
    key = s.execute(select(ServiceKeyRow).where(ServiceKeyRow.public_id == public_id)).scalar_one_or_none()
    if key is None or key.revoked_at is not None or not hmac.compare_digest(key.secret_hash, _hash(secret)):
        return None
    return KeyGrant(key.id, key.service_id, key.rate_per_s, key.burst)
