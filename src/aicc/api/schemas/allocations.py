"""Wire models for allocations."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Self

from pydantic import Field, model_validator

from aicc.api.schemas.common import Ident, LongText, Name, Out, Patch, Strict, Timestamp, Title, Version
from aicc.core.allocations import AllocationState

Budget = Annotated[float, Field(ge=0, le=1e12, description="Service units (SU).")]
Weight = Annotated[float, Field(ge=0.01, le=1000, description="Fair-share weight (default 1).")]


class Quota(Strict):
    nominal: int = Field(ge=0, le=1_000_000, description="Accelerators (CPU cores for CPU flavors) guaranteed.")
    borrowing_limit: int = Field(0, ge=0, le=1_000_000, description="How many more it may borrow when idle.")


Quotas = Annotated[dict[Name, Quota], Field(max_length=64, description="Per flavor, e.g. {\"h100\": {...}}.")]


StorageGib = Annotated[int, Field(ge=0, le=1_000_000, description="Workspace storage granted while active, GiB.")]


class AllocationCreate(Strict):
    project_id: Ident
    name: Title
    budget_su: Budget
    starts_at: Timestamp
    ends_at: Timestamp
    quotas: Quotas = Field(default_factory=dict)
    weight: Weight = 1.0
    note: LongText = ""
    storage_gib: StorageGib = 0

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class AllocationUpdate(Patch):
    version: Version
    name: Title | None = None
    budget_su: Budget | None = None
    starts_at: Timestamp | None = None
    ends_at: Timestamp | None = None
    quotas: Quotas | None = None
    weight: Weight | None = None
    suspended: bool | None = None
    note: LongText | None = None
    storage_gib: StorageGib | None = None
    force_below_use: bool = Field(False, description="Apply a storage change (or suspension) that leaves the "
                                  "workspace over its new quota: the data stays, writes fail. Without it such a "
                                  "change is refused (409).")


class Allocation(Out):
    id: int
    project_id: int
    project: str
    name: str
    budget_su: float
    used_su: float
    remaining_su: float
    starts_at: dt.datetime
    ends_at: dt.datetime
    weight: float
    quotas: dict[str, Quota]
    state: AllocationState
    suspended: bool
    note: str
    storage_gib: int = 0
    created_at: dt.datetime
    version: int
