"""Whatever the trace and policy: capacity is never exceeded, every job finishes, work is conserved (lossless
preemption) or lost exactly as the runs say (the default: no checkpoints, a grace period)."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from aicc.core.scheduling import POLICIES
from aicc.sim.center import LOSSLESS, PreemptionCost, ProjectSpec
from aicc.sim.engine import simulate
from aicc.sim.trace import SimJob, Trace
from tests.sim.helpers import center

jobs_st = st.lists(
    st.tuples(st.integers(0, 200), st.sampled_from(["a", "b", "c"]), st.integers(1, 4),
              st.sampled_from([("x",), ("y",), ("x", "y"), ("y", "x")]), st.integers(1, 120)),
    min_size=1, max_size=25)


@settings(max_examples=60, deadline=None)
@given(jobs=jobs_st, policy=st.sampled_from(sorted(POLICIES)), quota=st.booleans(), lossless=st.booleans())
def test_schedule_respects_capacity_and_finishes_every_job(
        jobs: list[tuple[int, str, int, tuple[str, ...], int]], policy: str, quota: bool, lossless: bool) -> None:
    projects = {p: ProjectSpec(p, nominal={"x": 1, "y": 2}, borrowing={"x": 3, "y": 2}) for p in "abc"} \
        if quota else {}
    c = center(("x", 2, 2), ("y", 1, 4), projects=projects)
    sim_jobs = [SimJob(i, p, float(t), g, {f: float(d) * (1 + k) for k, f in enumerate(fl)}, f"c{g}")
                for i, (t, p, g, fl, d) in enumerate(jobs)]
    sim_jobs.sort(key=lambda j: (j.submit, j.id))
    trace = Trace(sim_jobs, throughput={f"c{g}": {"x": 1.0, "y": 2.0} for g in range(1, 5)})
    r = simulate(trace, c, policy, record_runs=True, preemption=LOSSLESS if lossless else PreemptionCost(3.0))
    assert r.unschedulable == 0
    lost: dict[str, float] = defaultdict(float)
    for i, j in enumerate(trace.jobs):
        assert r.end[i] == r.end[i], f"job {i} never finished"
        assert j.submit <= r.start[i] <= r.end[i]
        runs = sorted((s, e, f) for k, f, s, e in r.runs if k == i)
        if lossless:  # the work done over all runs adds up to the whole job
            assert abs(sum((e - s) / j.durations[f] for s, e, f in runs) - 1.0) < 1e-9
        else:  # without checkpoints the last run does all the work; every earlier one is lost
            s, e, f = runs[-1]
            assert abs(e - s - j.durations[f]) < 1e-9
            lost[j.project] += sum(e - s for s, e, _ in runs[:-1]) * j.accelerators
    for p, v in r.lost_unit_seconds.items():
        assert abs(v - lost[p]) < 1e-6
    cap = c.capacity()
    deltas: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for i, f, s, e in r.runs:
        if e > s:  # a run preempted the instant it was admitted holds nothing
            deltas[f] += [(s, trace.jobs[i].accelerators), (e, -trace.jobs[i].accelerators)]
    for f, ds in deltas.items():
        busy = 0
        for _, d in sorted(ds, key=lambda x: (x[0], x[1])):  # ends before starts at the same instant
            busy += d
            assert 0 <= busy <= cap[f]
