"""What a replay measured: the numbers of report.json, computed from a :class:`SimResult`."""

from __future__ import annotations

import math
from typing import Any

from aicc.sim.engine import SimResult


def quantile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolated quantile of already sorted values (NaN when empty)."""
    if not sorted_values:
        return math.nan
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def jain(values: list[float]) -> float:
    """Jain's fairness index: 1 when all equal, 1/n when one takes everything."""
    if not values or not any(values):
        return 1.0
    return sum(values) ** 2 / (len(values) * sum(v * v for v in values))


def _stats(values: list[float]) -> dict[str, float]:
    s = sorted(values)
    mean = sum(s) / len(s) if s else math.nan
    return {"mean": mean, "median": quantile(s, 0.5), "p95": quantile(s, 0.95), "p99": quantile(s, 0.99),
            "max": s[-1] if s else math.nan}


def summarize(r: SimResult) -> dict[str, Any]:
    """Slowdown is JCT over the job's run time on its fastest acceptable flavor (at least 10 s)."""
    waits: list[float] = []
    jcts: list[float] = []
    slow: list[float] = []
    first, last = math.inf, -math.inf
    for j, s, e in zip(r.jobs, r.start, r.end, strict=True):
        first = min(first, j.submit)
        if math.isnan(e):
            continue
        last = max(last, e)
        waits.append(s - j.submit)
        jct = e - j.submit
        jcts.append(jct)
        slow.append(jct / max(min(j.durations.values()), 10.0))
    finished = len(jcts)
    total_use = sum(r.unit_seconds.values()) or 1.0
    total_w = sum(r.weights.values()) or 1.0
    projects: dict[str, Any] = {}
    ratios: list[float] = []
    for p in sorted(r.unit_seconds):
        share = r.unit_seconds[p] / total_use
        ent = r.weights[p] / total_w
        ratios.append(share / ent)
        budget = r.budgets[p]
        projects[p] = {"share": share, "entitlement": ent, "su": r.su[p],
                       "budget_su": None if math.isinf(budget) else budget,
                       "budget_used": None if math.isinf(budget) or budget == 0 else r.su[p] / budget}
    end = last if finished else 0.0
    util: dict[str, Any] = {}
    for f, series in r.busy.items():
        width, avg = series.averages(end)
        cap = r.capacity.get(f, 0) or 1
        util[f] = {"bin_s": width, "fraction": [v / cap for v in avg],
                   "mean": sum(avg) * width / (cap * end) if end > 0 else 0.0}
    qwidth, qavg = r.queue.averages(end)
    return {
        "policy": r.policy,
        "jobs": len(r.jobs),
        "finished": finished,
        "unfinished": len(r.jobs) - finished - r.unschedulable,
        "unschedulable": r.unschedulable,
        "preemptions": r.preemptions,
        "cycles": r.cycles,
        "makespan_s": (last - first) if finished else 0.0,
        "wait_s": _stats(waits),
        "jct_s": _stats(jcts),
        "slowdown": _stats(slow),
        "wait_cdf": _cdf(waits),
        "utilization": util,
        "queue": {"bin_s": qwidth, "mean_length": qavg},
        "fairness": {"jain_share_over_entitlement": jain(ratios), "projects": projects},
    }


def _cdf(values: list[float], points: int = 100) -> list[list[float]]:
    """(wait seconds, fraction of jobs waiting at most that) at ``points`` quantiles."""
    s = sorted(values)
    if not s:
        return []
    return [[quantile(s, k / points), k / points] for k in range(points + 1)]
