"""Allocations: the budget and concurrent quota a project may spend, which the scheduler enforces."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aicc.store.models.base import Base, UTCDateTime, utcnow


class AllocationRow(Base):
    __tablename__ = "allocations"
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    budget_su: Mapped[float] = mapped_column(Float)
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    """Fair-share weight: a project with weight 2 is entitled to twice the dominant share."""
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(Text, default="")
    storage_gib: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Workspace storage this allocation grants its project while active (GiB); a project's quota is the sum,
    never below the center's default (``aicc.core.workspaces.quota_bytes``)."""
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    quotas: Mapped[list[AllocationQuotaRow]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="AllocationQuotaRow.flavor_id"
    )
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class AllocationQuotaRow(Base):
    __tablename__ = "allocation_quotas"
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.id", ondelete="CASCADE"), primary_key=True)
    flavor_id: Mapped[int] = mapped_column(ForeignKey("flavors.id"), primary_key=True)
    nominal: Mapped[int] = mapped_column(Integer)
    """Concurrent accelerators guaranteed (CPU cores for a CPU flavor)."""
    borrowing_limit: Mapped[int] = mapped_column(Integer, default=0)
    """How many more it may take from idle capacity; borrowed capacity can be preempted."""
