"""What an allocation is allowed to do right now.

The state a user sees is derived, not stored: a suspension is a decision
(stored), but "expired" and "exhausted" follow from the clock and the usage
ledger, and storing them would let them drift from the facts.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from aicc.core.errors import InvalidInput


class AllocationState(enum.StrEnum):
    UPCOMING = "upcoming"  # window not started yet
    ACTIVE = "active"
    EXHAUSTED = "exhausted"  # budget used up
    EXPIRED = "expired"  # window ended
    SUSPENDED = "suspended"  # an operator's decision, reversible


@dataclass(frozen=True, slots=True)
class FlavorQuota:
    """Concurrent accelerators (CPU cores for CPU flavors) a project is guaranteed, and may borrow beyond."""

    nominal: int
    borrowing_limit: int = 0


def derive_state(
    *, suspended: bool, starts_at: datetime, ends_at: datetime, budget_su: float, used_su: float, now: datetime
) -> AllocationState:
    if suspended:
        return AllocationState.SUSPENDED
    if now >= ends_at:
        return AllocationState.EXPIRED
    if used_su >= budget_su:
        return AllocationState.EXHAUSTED
    if now < starts_at:
        return AllocationState.UPCOMING
    return AllocationState.ACTIVE


def validate_terms(
    *, budget_su: float, starts_at: datetime, ends_at: datetime, quotas: Mapping[str, FlavorQuota], weight: float
) -> None:
    """Reject terms no reviewer could mean; the API's schema catches types, this catches sense."""
    if budget_su < 0:
        raise InvalidInput("budget_su must not be negative")
    if ends_at <= starts_at:
        raise InvalidInput("ends_at must be after starts_at")
    if not 0.01 <= weight <= 1000:
        raise InvalidInput("weight must be between 0.01 and 1000")
    for flavor, quota in quotas.items():
        if quota.nominal < 0 or quota.borrowing_limit < 0:
            raise InvalidInput(f"quota for {flavor}: nominal and borrowing_limit must not be negative")
