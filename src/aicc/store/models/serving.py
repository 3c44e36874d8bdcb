"""Services: always-on endpoints whose replicas are runs (``jobs.kind = 'service'``) of a revision.

A service owns its revisions (what a replica runs: image, command, port, health path, resources), its
events (what happened to it, in words a user reads with ``aicc serve events``) and its API keys. It holds no
resources of its own: each replica is a row in ``jobs`` admitted by the one policy and charged like any run.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from aicc.store.models.base import Base, UTCDateTime, utcnow


class ServiceRow(Base):
    __tablename__ = "services"
    __table_args__ = (UniqueConstraint("project_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    """Who created it; replicas are submitted in their name."""
    name: Mapped[str] = mapped_column(String(63))
    """A DNS label, unique in its project: the gateway's address is ``/svc/<project>/<name>/``."""
    state: Mapped[str] = mapped_column(String(16), index=True)
    """:class:`aicc.core.serving.ServiceState`."""
    reason: Mapped[str] = mapped_column(Text, default="")
    revision: Mapped[int] = mapped_column(Integer, default=1)
    """The revision replicas should run; older ones are replaced one at a time."""
    previous_revision: Mapped[int | None] = mapped_column(Integer)
    """What ``rollback`` returns to."""
    replicas: Mapped[int] = mapped_column(Integer)
    """Replicas wanted now (the autoscaler moves it between ``min_replicas`` and ``max_replicas``)."""
    min_replicas: Mapped[int] = mapped_column(Integer)
    max_replicas: Mapped[int] = mapped_column(Integer)
    target_in_flight: Mapped[float] = mapped_column(Float, default=4.0)
    """The autoscaler's aim: requests in flight per ready replica."""
    scaled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    """Last change of ``replicas`` by the autoscaler: the cooldown counts from here."""
    failed_starts: Mapped[int] = mapped_column(Integer, default=0)
    """Replica starts in a row that never became ready; at the limit the service fails."""
    next_start_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    """No replica is started before this (restart backoff)."""
    budget_warned: Mapped[int] = mapped_column(Integer, default=0)
    """The last budget warning given (hours of replicas left: 0 none, else the threshold crossed)."""
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)


class ServiceRevisionRow(Base):
    __tablename__ = "service_revisions"
    __table_args__ = (UniqueConstraint("service_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    image_ref: Mapped[str | None] = mapped_column(String(512))
    command: Mapped[list[str]] = mapped_column(JSON)
    port: Mapped[int] = mapped_column(Integer)
    """The TCP port the server listens on inside its own network namespace (never on the host)."""
    health_path: Mapped[str] = mapped_column(String(256))
    flavors: Mapped[list[str]] = mapped_column(JSON)
    accelerators: Mapped[int] = mapped_column(Integer)
    cpus: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int] = mapped_column(Integer)
    env: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ServiceEventRow(Base):
    __tablename__ = "service_events"
    __table_args__ = (Index("ix_service_events_service_id_id", "service_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    """:class:`aicc.core.serving.EventKind`."""
    message: Mapped[str] = mapped_column(Text)
    job_id: Mapped[int | None] = mapped_column(Integer)
    """The replica concerned, if one."""


class ServiceKeyRow(Base):
    __tablename__ = "service_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    public_id: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    secret_hash: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the random secret; the key itself is shown once."""
    rate_per_s: Mapped[float] = mapped_column(Float)
    burst: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
