"""The append-only audit log, chained by keyed MACs (see aicc.core.audit for the chain)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from aicc.store.models.base import Base


class AuditEventRow(Base):
    __tablename__ = "audit_events"
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[str] = mapped_column(String(40))
    """ISO 8601 UTC text: hashed as stored, so no driver can reformat it."""
    actor: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64))
    organization_id: Mapped[int | None] = mapped_column(Integer, index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    """HMAC-SHA256 under the audit key (seq >= the head's ``keyed_from``), else the legacy SHA-256."""


class AuditHeadRow(Base):
    """One row: the last sequence number and hash. Locking it serializes appends."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    hash: Mapped[str] = mapped_column(String(64))
    keyed_from: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    """First sequence number under the keyed MAC; older events are legacy SHA-256 (None: not keyed yet)."""
    chain_id: Mapped[str | None] = mapped_column(String(32))
    """Random id of this chain: chain keys are derived from it, and anchors name it (several databases may
    share one key and one anchor file, e.g. a test center)."""
