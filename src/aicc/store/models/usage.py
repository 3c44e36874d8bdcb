"""The usage ledger: append-only rows of what ran, charged to which allocation.

A row is keyed by (job, attempt, interval): metering may write the same interval
twice after a crash and the unique key turns the second write into a no-op, so
no second is ever charged twice. ``job_id`` has no foreign key on purpose: the
ledger outlives the jobs it records.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from aicc.store.models.base import Base, UTCDateTime, utcnow


class UsageRow(Base):
    __tablename__ = "usage_ledger"
    __table_args__ = (UniqueConstraint("job_id", "attempt", "interval"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(Integer, index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    interval: Mapped[int] = mapped_column(Integer)
    """0, 1, 2…: consecutive metering intervals of one run."""
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.id"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    flavor: Mapped[str] = mapped_column(String(63))
    accelerators: Mapped[int] = mapped_column(Integer)
    cpus: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    su: Mapped[float] = mapped_column(Float)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
