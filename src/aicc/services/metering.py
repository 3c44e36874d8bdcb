"""The usage ledger's read side (balances) and write side (charging run intervals)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicc.store.models import UsageRow


def used_by_allocation(s: Session, allocation_ids: list[int]) -> dict[int, float]:
    if not allocation_ids:
        return {}
    q = (select(UsageRow.allocation_id, func.sum(UsageRow.su))
         .where(UsageRow.allocation_id.in_(allocation_ids)).group_by(UsageRow.allocation_id))
    return {a: float(total or 0.0) for a, total in s.execute(q).all()}
