"""The secure data zone's records: datasets, grants, held outputs and the custodian's decisions.

Files themselves stay on disk (datasets under the data root, outputs in the job's
directory); these rows record what they are (checksums), who may use them and
what was decided. Output files are never deleted before ``retain_until``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from aicc.core.datazone.states import DatasetState, GrantState, OutputState
from aicc.store.models.base import Base, UTCDateTime, utcnow


class DatasetRow(Base):
    __tablename__ = "datasets"
    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    """The custodian organization."""
    name: Mapped[str] = mapped_column(String(63), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    classification: Mapped[str] = mapped_column(String(16))
    source_path: Mapped[str] = mapped_column(Text)
    """Relative to the configured data root; never absolute, never ``..``."""
    published_path: Mapped[str | None] = mapped_column(Text)
    """What grantees see: the pseudonymised copy (relative to AICC's home), or None for the source itself."""
    columns: Mapped[list[Any]] = mapped_column(JSON, default=list)
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """{relative path: {"sha256": …, "bytes": …}} of the published files."""
    pseudonymize: Mapped[bool] = mapped_column(Boolean, default=False)
    k_required: Mapped[int] = mapped_column(Integer, default=5)
    k_report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    sdc: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """ACRO settings for this dataset's outputs (threshold, p-ratio, nk), over ACRO's defaults."""
    state: Mapped[str] = mapped_column(String(16), default=DatasetState.REGISTERED.value)
    """registered → published (grantees may use it) → withdrawn."""
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)


class GrantRow(Base):
    __tablename__ = "dataset_grants"
    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    purpose: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16), default=GrantState.REQUESTED.value)
    """requested → approved | rejected; approved → revoked."""
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    comment: Mapped[str] = mapped_column(Text, default="")


class OutputRequestRow(Base):
    __tablename__ = "output_requests"
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), unique=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    custodian_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    """Organizations whose datasets the job read: each of their custodians may decide."""
    dataset_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(16), default=OutputState.HELD.value)
    """held (files being checked) → checked (waiting for the custodian) → decided."""
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    retain_until: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class OutputFileRow(Base):
    __tablename__ = "output_files"
    __table_args__ = (UniqueConstraint("request_id", "path"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("output_requests.id"), index=True)
    path: Mapped[str] = mapped_column(String(512))
    """Relative to the job's directory: ``out/…`` for what the job wrote, ``stdout.log``/``stderr.log``."""
    kind: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    check_status: Mapped[str] = mapped_column(String(16))
    check_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    decision: Mapped[str | None] = mapped_column(String(16))
    """approved | rejected, by the custodian; None until decided."""
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    comment: Mapped[str] = mapped_column(Text, default="")
