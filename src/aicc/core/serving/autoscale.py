"""Autoscaling on requests in flight per replica, between the service's min and max, with a cooldown.

Up fast, down slow: scaling up is allowed ``up_cooldown_s`` after the last change (a burst must be met), down
only ``down_cooldown_s`` after it (a lull between bursts must not tear down what the next burst needs).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Scaling:
    min_replicas: int
    max_replicas: int
    target_in_flight: float
    up_cooldown_s: float = 10.0
    down_cooldown_s: float = 60.0


def wanted_replicas(rule: Scaling, current: int, in_flight: float, scaled_at: dt.datetime | None,
                    now: dt.datetime) -> int | None:
    """The new replica count, or None to leave it. ``in_flight``: requests in flight over all replicas, averaged
    over the last sampling window."""
    if rule.min_replicas >= rule.max_replicas:
        return None
    want = math.ceil(in_flight / rule.target_in_flight - 1e-9) if rule.target_in_flight > 0 else current
    want = min(max(want, rule.min_replicas), rule.max_replicas)
    if want == current:
        return None
    since = (now - scaled_at).total_seconds() if scaled_at is not None else math.inf
    if want > current and since >= rule.up_cooldown_s:
        return want
    if want < current and since >= rule.down_cooldown_s:
        return want
    return None
