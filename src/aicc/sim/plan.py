"""Capacity planning: the smallest count of one flavor for which a replay meets a target.

Binary search assumes the target metric does not get worse when the center grows (monotone). That
holds for waits under FIFO-like orders on the same trace in practice, but is not guaranteed (list
scheduling anomalies exist): every size tried is reported so a non-monotone curve shows up.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aicc.core.scheduling import PolicyConfig
from aicc.sim.center import SimCenter
from aicc.sim.engine import simulate
from aicc.sim.metrics import summarize
from aicc.sim.trace import Trace

_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_TARGET = re.compile(r"^\s*(mean|median|p95|p99|max)_(wait|jct|slowdown)\s*<=\s*([0-9.]+)\s*([a-z]*)\s*$")


@dataclass(frozen=True, slots=True)
class Target:
    stat: str
    metric: str
    limit: float

    def value(self, summary: dict[str, Any]) -> float:
        key = {"wait": "wait_s", "jct": "jct_s", "slowdown": "slowdown"}[self.metric]
        return float(summary[key][self.stat])

    def met(self, summary: dict[str, Any]) -> bool:
        return summary["unfinished"] == 0 and self.value(summary) <= self.limit


def parse_target(text: str) -> Target:
    """``"p95_wait<=2h"``: stat (mean, median, p95, p99, max) of wait, jct or slowdown; units s, m, h, d."""
    m = _TARGET.match(text)
    if not m or m.group(4) not in _UNITS or (m.group(2) == "slowdown" and m.group(4)):
        raise ValueError(f"bad target {text!r}: expected e.g. p95_wait<=2h, mean_jct<=30m, p99_slowdown<=5")
    return Target(m.group(1), m.group(2), float(m.group(3)) * _UNITS[m.group(4)])


@dataclass(slots=True)
class PlanResult:
    target: Target
    flavor: str
    best: int | None
    """Smallest count meeting the target; None if even the maximum does not."""
    tried: dict[int, float] = field(default_factory=dict)
    """Count -> target metric."""


def plan(trace: Trace, center: SimCenter, target: Target, flavor: str, low: int, high: int,
         policy: str | PolicyConfig = "aicc", *, step: int | None = None,
         progress: Callable[[int, float], None] | None = None) -> PlanResult:
    """Binary search over the accelerator count of ``flavor`` in [low, high], in steps of whole nodes."""
    shape = next((n.accelerators for n in center.nodes if n.flavor == flavor), 8)
    unit = step or max(shape, 1)
    result = PlanResult(target, flavor, None)

    def ok(count: int) -> bool:
        s = summarize(simulate(trace, center.with_accelerators(flavor, count), policy))
        result.tried[count] = target.value(s)
        if progress is not None:
            progress(count, result.tried[count])
        return target.met(s)

    lo, hi = -(-low // unit), high // unit  # in nodes
    if hi < lo or not ok(hi * unit):
        return result
    while lo < hi:
        mid = (lo + hi) // 2
        if ok(mid * unit):
            hi = mid
        else:
            lo = mid + 1
    result.best = lo * unit
    return result
