"""Measured throughput in the simulator: the testbed's matrix (``aicc bench matrix --export``) drives both
where the policy places a job and how long it then runs there.

A trace gives each job a duration; with a matrix, that duration is read as measured on the job's first
acceptable flavor that the matrix covers (its reference), and every other measured flavor's duration is
scaled by the ratio of speeds: twice the samples/s, half the time. Flavors the matrix does not cover keep
the trace's figure, so a partial matrix never invents a speed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace

from aicc.sim.trace import Trace


def load_matrix(text: str) -> dict[str, dict[str, float]]:
    """The export of ``GET /api/v1/bench/matrix`` (``{"matrix": …}``) or a bare class → flavor → speed map."""
    raw = json.loads(text)
    table = raw.get("matrix", raw) if isinstance(raw, dict) else None
    if not isinstance(table, dict):
        raise ValueError("a matrix is a JSON object: class -> flavor -> samples/s")
    out: dict[str, dict[str, float]] = {}
    for cls, row in table.items():
        if not isinstance(row, dict):
            raise ValueError(f"matrix row {cls!r} is not an object")
        speeds = {str(f): float(v) for f, v in row.items() if isinstance(v, int | float) and v > 0}
        if speeds:
            out[str(cls)] = speeds
    return out


def apply_matrix(trace: Trace, matrix: Mapping[str, Mapping[str, float]],
                 default_class: str | None = None) -> Trace:
    """A copy of the trace placed and timed by the matrix; jobs without a class get ``default_class``."""
    jobs = []
    for job in trace.jobs:
        cls = job.workload_class or default_class
        speeds = matrix.get(cls or "")
        if not speeds:
            jobs.append(job)
            continue
        ref = next((f for f in job.durations if f in speeds), None)
        if ref is None:
            jobs.append(replace(job, workload_class=cls))
            continue
        base = job.durations[ref]
        durations = {f: (base * speeds[ref] / speeds[f] if f in speeds else d) for f, d in job.durations.items()}
        jobs.append(replace(job, durations=durations, workload_class=cls))
    throughput = {**trace.throughput, **{c: dict(row) for c, row in matrix.items()}}
    return Trace(jobs, trace.skipped, throughput)
