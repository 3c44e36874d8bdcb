"""Reservations for class hours: a flavor's capacity held for a course or project over recurring windows."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from aicc.store.models.base import Base, UTCDateTime, utcnow


class ReservationRow(Base):
    """As the admin said it (:class:`aicc.core.reservations.Recurrence`); the span in UTC for queries."""

    __tablename__ = "reservations"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    flavor_id: Mapped[int] = mapped_column(ForeignKey("flavors.id"), index=True)
    units: Mapped[int] = mapped_column(Integer)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    """Its members: the project whose runs may use it (a course's project for a course)."""
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id"))
    first_local: Mapped[dt.datetime] = mapped_column(DateTime(timezone=False))
    """The first start in ``timezone``'s wall-clock time (naive)."""
    timezone: Mapped[str] = mapped_column(String(64))
    length_min: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer, default=1)
    every_days: Mapped[int] = mapped_column(Integer, default=7)
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    """The first occurrence's start (UTC)."""
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    """The last occurrence's end (UTC): the controller reads reservations not yet over."""
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
