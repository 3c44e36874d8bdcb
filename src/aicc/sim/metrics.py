"""What a replay measured: the numbers of report.json, computed from a :class:`SimResult`.

Averages hide who waits, so waits and JCTs are also broken down by job width and by project, each with its
maximum (starvation shows there). Fairness is measured on what policies change: the spread of projects'
mean waits, and each project's share within time windows (Jain's index of use over a whole trace is fixed by
the trace once every job finishes, whatever the policy).
"""

from __future__ import annotations

import math
from typing import Any

from aicc.sim.engine import SimResult
from aicc.sim.series import StepSeries


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


WIDTHS = ((1, 1, "1"), (2, 4, "2-4"), (5, 8, "5-8"), (9, 1 << 62, ">8"))
"""Job width classes: (fewest units, most units, label)."""


def width_class(units: int) -> str:
    return next(label for lo, hi, label in WIDTHS if lo <= units <= hi)


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
    groups: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
    for j, s, e in zip(r.jobs, r.start, r.end, strict=True):
        first = min(first, j.submit)
        if math.isnan(e):
            continue
        last = max(last, e)
        wait = s - j.submit
        waits.append(wait)
        jct = e - j.submit
        jcts.append(jct)
        slow.append(jct / max(min(j.durations.values()), 10.0))
        for key in (("width", width_class(j.accelerators)), ("project", j.project)):
            w, c = groups.setdefault(key, ([], []))
            w.append(wait)
            c.append(jct)
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
    by_width = {label: _group(groups.get(("width", label))) for _, _, label in WIDTHS}
    by_project = {p: _group(groups.get(("project", p))) | {"lost_unit_h": r.lost_unit_seconds.get(p, 0.0) / 3600}
                  for p in sorted(r.unit_seconds)}
    lost_h = sum(r.lost_unit_seconds.values()) / 3600
    waited = [g["wait_s"]["mean"] for g in by_project.values() if g["jobs"]]
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
        "unschedulable_jobs": [_job(r, i) for i in r.unschedulable_jobs],
        "preemptions": r.preemptions,
        "preemption": {"lost_unit_h": lost_h, "lost_fraction_of_use": lost_h * 3600 / total_use,
                       "grace_s": r.preemption.grace_s, "checkpoint_s": r.preemption.checkpoint_s,
                       "lossless": r.preemption.lossless},
        "cycles": r.cycles,
        "makespan_s": (last - first) if finished else 0.0,
        "end_s": end,
        "wait_s": _stats(waits),
        "jct_s": _stats(jcts),
        "slowdown": _stats(slow),
        "wait_cdf": _cdf(waits),
        "by_width": by_width,
        "by_project": by_project,
        "utilization": util,
        "queue": {"bin_s": qwidth, "mean_length": qavg},
        "fairness": {"jain_share_over_entitlement": jain(ratios), "projects": projects,
                     "jain_project_mean_wait": jain(waited),
                     "worst_project_mean_wait_s": max(waited, default=math.nan),
                     "windows": windowed_share(r, end)},
    }


def _group(values: tuple[list[float], list[float]] | None) -> dict[str, Any]:
    waits, jcts = values or ([], [])
    w, c = sorted(waits), sorted(jcts)
    return {"jobs": len(w),
            "wait_s": {"mean": sum(w) / len(w) if w else math.nan, "p95": quantile(w, 0.95),
                       "max": w[-1] if w else math.nan},
            "jct_s": {"mean": sum(c) / len(c) if c else math.nan, "p95": quantile(c, 0.95),
                      "max": c[-1] if c else math.nan}}


def _job(r: SimResult, i: int) -> dict[str, Any]:
    """An unschedulable job, and why: no acceptable flavor (or the project's quota there) holds its gang."""
    j = r.jobs[i]
    biggest = max((r.capacity.get(f, 0) for f in j.flavors), default=0)
    return {"index": i, "id": j.id, "project": j.project, "submit_s": j.submit, "units": j.accelerators,
            "flavors": list(j.flavors),
            "why": f"needs {j.accelerators} units; the largest acceptable flavor has {biggest}"
                   if biggest < j.accelerators else f"needs {j.accelerators} units, more than the project's "
                                                    "nominal quota plus borrowing limit on every acceptable flavor"}


def windowed_share(r: SimResult, end: float) -> dict[str, Any]:
    """How fairly each time window's capacity went to the projects that wanted it.

    Per window (the bins of the run's time series) and per project that wanted units there: its target is
    the smaller of what it wanted and its weight's share of the center among the projects that wanted
    something; its satisfaction is what it held over that target, at most 1. The window's fairness is Jain's
    index of the satisfactions (1: every project got its due, or all fell equally short); reported as the
    mean over windows where at least two projects wanted units, the worst window, and the projects' lowest
    satisfaction (starved for a window)."""
    if end <= 0 or not r.project_use:
        return {"bin_s": 0.0, "jain": [], "mean_jain": None, "worst_jain": None, "lowest_satisfaction": None}
    names = sorted(r.project_use)
    both = _aligned([r.project_use[n] for n in names] + [r.project_demand[n] for n in names], end)
    use, want = both[:len(names)], both[len(names):]
    width = use[0][0]
    cap = sum(r.capacity.values()) or 1
    per_bin: list[float | None] = []
    lowest = math.inf
    for k in range(len(use[0][1])):
        active = [(p, want[p][1][k]) for p in range(len(names)) if want[p][1][k] > 1e-9]
        if len(active) < 2:
            per_bin.append(None)
            continue
        total_w = sum(r.weights[names[p]] for p, _ in active)
        sat = [min(1.0, use[p][1][k] / min(w, cap * r.weights[names[p]] / total_w)) for p, w in active]
        lowest = min(lowest, *sat)
        per_bin.append(jain(sat))
    counted = [v for v in per_bin if v is not None]
    return {"bin_s": width, "jain": per_bin, "mean_jain": sum(counted) / len(counted) if counted else None,
            "worst_jain": min(counted, default=None), "lowest_satisfaction": None if math.isinf(lowest) else lowest}


def _aligned(series: list[StepSeries], end: float) -> list[tuple[float, list[float]]]:
    """The series' averages up to ``end`` at one common (the widest) bin width."""
    avgs = [s.averages(end) for s in series]
    width = max(w for w, _ in avgs)
    n = max(1, int(-(-end // width)))
    out = []
    for w, a in avgs:
        k = round(width / w)
        merged = [sum(a[i:i + k]) / k for i in range(0, len(a), k)]
        out.append((width, (merged + [0.0] * n)[:n]))
    return out


def _cdf(values: list[float], points: int = 100) -> list[list[float]]:
    """(wait seconds, fraction of jobs waiting at most that) at ``points`` quantiles."""
    s = sorted(values)
    if not s:
        return []
    return [[quantile(s, k / points), k / points] for k in range(points + 1)]
