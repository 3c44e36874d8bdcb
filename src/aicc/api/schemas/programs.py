"""Wire models for support programs: programs, calls, applications, reviews, agreements, reclaims, outcomes."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from aicc.api.schemas.common import LongText, Name, Out, Patch, Strict, Timestamp, Title, Username, Version
from aicc.core.programs import (
    AgreementState,
    AmendmentKind,
    ApplicationState,
    Decision,
    ReclaimState,
    ReviewState,
    Track,
    UtilizationStatus,
)
from aicc.core.tenancy import OrgKind

FlavorName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")]
SU = Annotated[float, Field(ge=0, le=1e12)]
SUMap = Annotated[dict[FlavorName, SU], Field(max_length=64, description="Service units per flavor.")]
Ratio = Annotated[float, Field(ge=0, le=1)]
Region = Annotated[str, StringConstraints(min_length=1, max_length=100)]
ShortText = Annotated[str, StringConstraints(max_length=2000, pattern=r"^[^\x00]*$")]


class ProgramCreate(Strict):
    name: Name
    title: Title
    description: LongText = ""
    budget_su: SUMap


class Program(Out):
    id: int
    name: str
    title: str
    description: str
    budget_su: dict[str, float]
    committed_su: dict[str, float] = Field(description="Held by offered and accepted agreements, after amendments.")
    remaining_su: dict[str, float]
    created_at: dt.datetime
    version: int


class ProgramBudget(Strict):
    version: Version
    budget_su: SUMap


class CriterionIn(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    weight: Annotated[float, Field(gt=0, le=1000)]
    max_score: Annotated[float, Field(gt=0, le=1000)]


class CallCreate(Strict):
    name: Name
    title: Title
    opens_at: Timestamp
    closes_at: Timestamp
    tracks: Annotated[list[Track], Field(min_length=1, max_length=4)]
    eligible_kinds: Annotated[list[OrgKind], Field(max_length=5)] = Field(default_factory=list)
    eligible_regions: Annotated[list[Region], Field(max_length=50)] = Field(default_factory=list)
    budget_su: SUMap | None = Field(None, description="What this round may award; null: the program's remainder.")
    cap_su: Annotated[float | None, Field(gt=0, le=1e12, description="Most SU one award may give.")] = None
    rubric: Annotated[list[CriterionIn], Field(min_length=1, max_length=20)]
    reviewers_per_application: Annotated[int, Field(ge=1, le=20)] = 2
    auto_award_threshold: Annotated[float | None, Field(ge=0, le=100)] = None
    regional_discount: Ratio = 0.0
    discount_regions: Annotated[list[Region], Field(max_length=50)] = Field(default_factory=list)
    youth_discount: Ratio = 0.0
    cost_share: Ratio = 0.0
    su_price_krw: Annotated[float | None, Field(ge=0, le=1e12)] = None
    borrowing_ratio: Annotated[float, Field(ge=0, le=10)] = 0.0
    underuse_threshold: Ratio = 0.5
    grace_days: Annotated[float, Field(ge=0, le=3650)] = 30.0
    check_interval_days: Annotated[float, Field(ge=0, le=3650)] = 30.0


class Call(Out):
    id: int
    program_id: int
    name: str
    title: str
    opens_at: dt.datetime
    closes_at: dt.datetime
    tracks: list[str]
    eligible_kinds: list[str]
    eligible_regions: list[str]
    budget_su: dict[str, float] | None
    cap_su: float | None
    rubric: list[dict[str, Any]]
    reviewers_per_application: int
    auto_award_threshold: float | None
    regional_discount: float
    discount_regions: list[str]
    youth_discount: float
    cost_share: float
    su_price_krw: float | None
    borrowing_ratio: float
    underuse_threshold: float
    grace_days: float
    check_interval_days: float
    version: int


StorageGib = Annotated[int, Field(ge=0, le=1_000_000, description="Workspace storage, GiB.")]


class TeamMember(Strict):
    name: Title
    role: Annotated[str, StringConstraints(max_length=100)] = ""
    affiliation: Annotated[str, StringConstraints(max_length=200)] = ""


class ApplicationCreate(Strict):
    call_id: Annotated[int, Field(ge=1, le=2_147_483_647)]
    project_id: Annotated[int, Field(ge=1, le=2_147_483_647)]
    track: Track
    title: Title
    plan: LongText = ""
    expected_outcomes: LongText = ""
    team: Annotated[list[TeamMember], Field(max_length=100)] = Field(default_factory=list)
    requested_su: SUMap
    requested_accelerators: Annotated[dict[FlavorName, Annotated[int, Field(ge=0, le=100_000)]],
                                      Field(max_length=64)] = Field(default_factory=dict)
    requested_storage_gib: StorageGib = Field(0, description="Workspace storage asked for beside the SU (GiB).")
    starts_at: Timestamp
    ends_at: Timestamp
    youth: bool = Field(False, description="A youth-led organization (청년 기업), for the youth discount.")


class ApplicationUpdate(Patch):
    version: Version
    track: Track | None = None
    title: Title | None = None
    plan: LongText | None = None
    expected_outcomes: LongText | None = None
    team: Annotated[list[TeamMember], Field(max_length=100)] | None = None
    requested_su: SUMap | None = None
    requested_accelerators: Annotated[dict[FlavorName, Annotated[int, Field(ge=0, le=100_000)]],
                                      Field(max_length=64)] | None = None
    requested_storage_gib: StorageGib | None = None
    starts_at: Timestamp | None = None
    ends_at: Timestamp | None = None
    youth: bool | None = None


class Application(Out):
    id: int
    call_id: int
    project_id: int
    organization_id: int
    track: str
    title: str
    plan: str
    expected_outcomes: str
    team: list[dict[str, Any]]
    requested_su: dict[str, float]
    requested_accelerators: dict[str, int]
    requested_storage_gib: int = 0
    starts_at: dt.datetime
    ends_at: dt.datetime
    youth: bool
    state: ApplicationState
    submitted_at: dt.datetime | None
    decision_reason: str | None = Field(description="Why it was awarded or rejected; shown to the applicant.")
    decided_at: dt.datetime | None
    created_at: dt.datetime
    version: int


class Attachment(Out):
    id: int
    application_id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: dt.datetime


class ReviewerAssign(Strict):
    username: Username


class Assignment(Out):
    id: int
    application_id: int
    state: ReviewState
    scores: dict[str, float] | None
    total: float | None
    comment: str
    conflict_reason: str | None
    assigned_at: dt.datetime
    submitted_at: dt.datetime | None


class Scores(Strict):
    scores: Annotated[dict[Annotated[str, StringConstraints(max_length=100)], float], Field(max_length=20)]
    comment: LongText = ""


class ConflictDeclare(Strict):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class Review(Out):
    id: int
    label: str
    reviewer: str | None = Field(description="Shown to center admins, and to a reviewer for their own review only.")
    state: ReviewState
    scores: dict[str, float] | None
    total: float | None
    comment: str
    conflict_reason: str | None


class RankEntry(Out):
    rank: int
    application_id: int
    organization_id: int
    title: str
    state: ApplicationState
    requested_su: dict[str, float]
    mean: float | None
    spread: float | None = Field(description="Highest minus lowest reviewer score.")
    stdev: float | None
    reviews: int
    assigned: int


class DecisionIn(Strict):
    decision: Decision
    reason: Annotated[str, StringConstraints(min_length=1, max_length=5000)]
    awarded_su: SUMap | None = Field(None, description="Only for a partial award.")
    awarded_storage_gib: StorageGib | None = Field(None, description="Only for a partial award: storage given "
                                                   "(at most what was requested; default all of it).")


class Agreement(Out):
    id: int
    application_id: int
    call_id: int
    project_id: int
    organization_id: int
    state: AgreementState
    awarded_su: dict[str, float]
    current_su: dict[str, float]
    awarded_storage_gib: int = 0
    current_storage_gib: int = 0
    accelerators: dict[str, int]
    starts_at: dt.datetime
    ends_at: dt.datetime
    cost_share_ratio: float
    terms: str
    allocation_id: int | None
    accepted_at: dt.datetime | None
    amendment_no: int
    version: int


class AmendmentIn(Strict):
    kind: AmendmentKind
    delta_su: SUMap | None = None
    delta_storage_gib: StorageGib = Field(0, description="Top-up: storage added; reduction: storage taken (GiB).")
    force_below_use: bool = Field(False, description="A storage reduction that leaves the workspace over its "
                                  "new quota is refused (409) unless this is set; the data then stays over quota.")
    ends_at: Timestamp | None = None
    reason: Annotated[str, StringConstraints(min_length=1, max_length=5000)]


class Amendment(Out):
    id: int
    agreement_id: int
    number: int
    kind: AmendmentKind
    delta_su: dict[str, float]
    delta_storage_gib: int = 0
    ends_at: dt.datetime
    reason: str
    actor: str
    created_at: dt.datetime


class UtilizationCheckIn(Strict):
    force: bool = Field(False, description="Check agreements even if checked within their call's interval.")


class UtilizationResult(Out):
    agreement_id: int
    status: UtilizationStatus
    planned_su: float
    used_su: float
    ratio: float | None
    unused_su: float
    shortfall_su: float
    reclaim_id: int | None


class Reclaim(Out):
    id: int
    agreement_id: int
    amount_su: float
    state: ReclaimState
    reason: str
    created_at: dt.datetime
    decided_at: dt.datetime | None


class ReclaimApprove(Strict):
    amount_su: Annotated[float | None, Field(gt=0, le=1e12)] = None


class OutcomeIn(Strict):
    publications: Annotated[int, Field(ge=0, le=100_000)] = 0
    products: Annotated[int, Field(ge=0, le=100_000)] = 0
    patents: Annotated[int, Field(ge=0, le=100_000)] = 0
    hires: Annotated[int, Field(ge=0, le=100_000)] = 0
    follow_on_funding_krw: Annotated[float, Field(ge=0, le=1e15)] = 0.0
    note: ShortText = ""


class Outcome(Out):
    id: int
    agreement_id: int
    publications: int
    products: int
    patents: int
    hires: int
    follow_on_funding_krw: float
    note: str
    created_at: dt.datetime


class ReportTable(Out):
    columns: list[str]
    rows: list[list[str | int | float | None]]


class Report(Out):
    program: str
    call: str | None
    sections: dict[str, ReportTable]
