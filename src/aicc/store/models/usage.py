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
    __table_args__ = (UniqueConstraint("kind", "project_id", "job_id", "attempt", "interval"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="run", server_default="run")
    """``run`` (a job's, session's or service replica's interval) or ``storage`` (a workspace held over an
    interval: job_id and attempt 0, interval the Unix minute it starts, flavor ``storage``, ``gib`` the size)."""
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
    gib: Mapped[float | None] = mapped_column(Float)
    """Storage rows: the workspace's size over the interval (GiB, as sampled at its end); None for runs."""
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
