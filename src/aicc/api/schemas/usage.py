"""Wire models for usage and balances."""

from __future__ import annotations

import datetime as dt

from aicc.api.schemas.common import Out


class Usage(Out):
    project: str
    project_id: int
    allocation_id: int
    allocation: str
    budget_su: float
    used_su: float
    remaining_su: float
    burn_su_per_day: float
    projected_exhaustion: dt.datetime | None
    ends_at: dt.datetime
    starts_at: dt.datetime | None = None
