"""Support programs: programs, calls, applications, reviews, agreements, amendments, utilization, outcomes.

SU amounts per flavor are JSON objects (``{"h100": 5000.0}``): a program funds a handful
of flavors, the set changes with the inventory, and no query filters inside them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from aicc.store.models.base import Base, UTCDateTime, utcnow


class ProgramRow(Base):
    __tablename__ = "programs"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    budget_su: Mapped[dict[str, Any]] = mapped_column(JSON)
    """Total SU per flavor the program may award over all its calls."""
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class CallRow(Base):
    __tablename__ = "program_calls"
    __table_args__ = (UniqueConstraint("program_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    name: Mapped[str] = mapped_column(String(63))
    title: Mapped[str] = mapped_column(String(200))
    opens_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    tracks: Mapped[list[Any]] = mapped_column(JSON)
    eligible_kinds: Mapped[list[Any]] = mapped_column(JSON)
    """Organization kinds that may apply; empty: any."""
    eligible_regions: Mapped[list[Any]] = mapped_column(JSON)
    """Regions that may apply; empty: any."""
    budget_su: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """SU per flavor this round may award; null: whatever the program has left."""
    cap_su: Mapped[float | None] = mapped_column(Float)
    """Most SU (all flavors together) one award may give."""
    rubric: Mapped[list[Any]] = mapped_column(JSON)
    """[{"name", "weight", "max_score"}, …]."""
    reviewers_per_application: Mapped[int] = mapped_column(Integer)
    auto_award_threshold: Mapped[float | None] = mapped_column(Float)
    """Mean score (0–100) at or above which auto-award gives the full request; null: manual only."""
    regional_discount: Mapped[float] = mapped_column(Float, default=0.0)
    discount_regions: Mapped[list[Any]] = mapped_column(JSON)
    """Regions whose organizations get ``regional_discount`` off their cost share."""
    youth_discount: Mapped[float] = mapped_column(Float, default=0.0)
    cost_share: Mapped[float] = mapped_column(Float, default=0.0)
    """Share of the nominal cost the organization pays (before discounts)."""
    su_price_krw: Mapped[float | None] = mapped_column(Float)
    """Nominal price of one SU, for the settlement export; null: settle in SU only."""
    borrowing_ratio: Mapped[float] = mapped_column(Float, default=0.0)
    """Borrowing limit of the resulting allocation as a share of its nominal quota."""
    underuse_threshold: Mapped[float] = mapped_column(Float, default=0.5)
    grace_days: Mapped[float] = mapped_column(Float, default=30.0)
    check_interval_days: Mapped[float] = mapped_column(Float, default=30.0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class ApplicationRow(Base):
    __tablename__ = "program_applications"
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("program_calls.id"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    track: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    plan: Mapped[str] = mapped_column(Text, default="")
    expected_outcomes: Mapped[str] = mapped_column(Text, default="")
    team: Mapped[list[Any]] = mapped_column(JSON)
    requested_su: Mapped[dict[str, Any]] = mapped_column(JSON)
    requested_accelerators: Mapped[dict[str, Any]] = mapped_column(JSON)
    """Concurrent accelerators per flavor: becomes the allocation's nominal quota."""
    requested_storage_gib: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Workspace storage asked for beside the SU (GiB); an award's allocation grants it while active."""
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    youth: Mapped[bool] = mapped_column(Boolean, default=False)
    """The applicant declares a youth-led organization (청년 기업), for the youth discount."""
    state: Mapped[str] = mapped_column(String(24), index=True)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    """Shown to the applicant with the decision."""
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class AttachmentRow(Base):
    __tablename__ = "program_attachments"
    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("program_applications.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    """The name the applicant gave, for display only; never used as a path."""
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReviewRow(Base):
    __tablename__ = "program_reviews"
    __table_args__ = (UniqueConstraint("application_id", "reviewer_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("program_applications.id"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    state: Mapped[str] = mapped_column(String(16))
    scores: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    total: Mapped[float | None] = mapped_column(Float)
    """Weighted score on 0–100."""
    comment: Mapped[str] = mapped_column(Text, default="")
    conflict_reason: Mapped[str | None] = mapped_column(Text)
    assigned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class AgreementRow(Base):
    __tablename__ = "program_agreements"
    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("program_applications.id"), unique=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("program_calls.id"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    state: Mapped[str] = mapped_column(String(16))
    awarded_su: Mapped[dict[str, Any]] = mapped_column(JSON)
    """What the award gave; fixed."""
    current_su: Mapped[dict[str, Any]] = mapped_column(JSON)
    """What the agreement holds now, after amendments and reclaims; counts against the program's budget."""
    awarded_storage_gib: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Workspace storage the award gave (GiB); fixed."""
    current_storage_gib: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Storage the agreement grants now (its allocation's ``storage_gib``), after amendments."""
    accelerators: Mapped[dict[str, Any]] = mapped_column(JSON)
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    cost_share_ratio: Mapped[float] = mapped_column(Float)
    terms: Mapped[str] = mapped_column(Text, default="")
    allocation_id: Mapped[int | None] = mapped_column(ForeignKey("allocations.id"))
    accepted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    amendment_no: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class AmendmentRow(Base):
    __tablename__ = "program_amendments"
    __table_args__ = (UniqueConstraint("agreement_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("program_agreements.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    """0 is the original terms; each amendment is the next number (the agreement's versions)."""
    kind: Mapped[str] = mapped_column(String(16))
    delta_su: Mapped[dict[str, Any]] = mapped_column(JSON)
    delta_storage_gib: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class UtilizationCheckRow(Base):
    __tablename__ = "program_utilization_checks"
    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("program_agreements.id"), index=True)
    checked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    planned_su: Mapped[float] = mapped_column(Float)
    used_su: Mapped[float] = mapped_column(Float)
    ratio: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(24))


class ReclaimRow(Base):
    __tablename__ = "program_reclaims"
    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("program_agreements.id"), index=True)
    amount_su: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class OutcomeRow(Base):
    __tablename__ = "program_outcomes"
    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("program_agreements.id"), index=True)
    publications: Mapped[int] = mapped_column(Integer, default=0)
    products: Mapped[int] = mapped_column(Integer, default=0)
    patents: Mapped[int] = mapped_column(Integer, default=0)
    hires: Mapped[int] = mapped_column(Integer, default=0)
    follow_on_funding_krw: Mapped[float] = mapped_column(Float, default=0.0)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
