"""Budget warnings for a service: its project is told while hours of replicas remain, then it stops.

A service burns SU every hour it lives; the project should hear of it before it stops, not after.
"""

from __future__ import annotations

import math

WARN_HOURS = (24, 4, 1)
"""Warn once as the balance falls below each of these many hours of the service's current replicas."""


def budget_step(left_su: float, su_per_hour: float, warned: int) -> tuple[str, int]:
    """("stop", 0) when the balance is spent; ("warn", h) when it has newly fallen below ``h`` hours of
    burn (``warned`` the last ``h`` warned of, 0 for none); else ("ok", warned)."""
    if left_su <= 0:
        return "stop", 0
    if su_per_hour <= 0:
        return "ok", warned
    hours = left_su / su_per_hour
    crossed = [h for h in WARN_HOURS if hours < h]
    if crossed and (warned == 0 or min(crossed) < warned):
        return "warn", min(crossed)
    return "ok", warned


def hours_text(left_su: float, su_per_hour: float) -> str:
    if su_per_hour <= 0 or math.isinf(left_su):
        return "no end in sight"
    return f"{left_su / su_per_hour:.1f} h"
