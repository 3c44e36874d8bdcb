"""The report's arithmetic: bounded time series, quantiles, Jain's index, utilization."""

from __future__ import annotations

import pytest

from aicc.sim.engine import simulate
from aicc.sim.metrics import jain, quantile, summarize
from aicc.sim.series import BINS, StepSeries
from tests.sim.helpers import center, job, trace


def test_step_series_averages_are_time_weighted_and_stay_bounded() -> None:
    s = StepSeries(width=10.0)
    s.set(0, 4)
    s.set(5, 0)  # 4 for 5 s in the first 10 s bin: mean 2
    s.set(25, 1)
    width, avg = s.averages(40)
    assert width == 10.0 and avg == [2.0, 0.0, 0.5, 1.0]
    s.set(1e7, 0)  # far beyond the bins: they merge, the count stays bounded
    width, avg = s.averages()
    assert len(avg) <= BINS and width * BINS >= 1e7
    assert sum(avg) * width == pytest.approx(4 * 5 + (1e7 - 25))


def test_quantile_and_jain() -> None:
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert quantile([5.0], 0.99) == 5.0
    assert jain([1, 1, 1, 1]) == 1.0
    assert jain([1, 0, 0, 0]) == 0.25


def test_summary_of_the_hand_computed_schedule() -> None:
    # EASY on two GPUs: A 0..100 (1 GPU), B 100..150 (2 GPUs), C 10..40 (1 GPU)
    r = simulate(trace(job(0, 0, 1, gpu=100), job(1, 0, 2, gpu=50), job(2, 10, 1, gpu=30)),
                 center(("gpu", 1, 2)), "easy")
    s = summarize(r)
    assert s["makespan_s"] == 150
    assert s["wait_s"]["mean"] == pytest.approx((0 + 100 + 0) / 3)
    assert s["jct_s"]["mean"] == pytest.approx((100 + 150 + 30) / 3)
    assert s["slowdown"]["max"] == pytest.approx(150 / 50)
    # busy GPU-seconds: 100 + 100 + 30 = 230 of 2 x 150
    assert s["utilization"]["gpu"]["mean"] == pytest.approx(230 / 300)
    assert s["fairness"]["jain_share_over_entitlement"] == 1.0


def test_waits_and_jcts_by_width_and_project_show_the_longest_wait() -> None:
    # FIFO on 4 GPUs: A (1 GPU, p) 0..100, B (4 GPUs, q) waits for A: 100..150, C (2 GPUs, p) 150..160
    r = simulate(trace(job(0, 0, 1, "p", gpu=100), job(1, 0, 4, "q", gpu=50), job(2, 5, 2, "p", gpu=10)),
                 center(("gpu", 1, 4)), "fifo")
    s = summarize(r)
    assert s["by_width"]["1"] == {"jobs": 1, "wait_s": {"mean": 0, "p95": 0, "max": 0},
                                  "jct_s": {"mean": 100, "p95": 100, "max": 100}}
    assert s["by_width"]["2-4"]["jobs"] == 2 and s["by_width"]["2-4"]["wait_s"]["max"] == 145
    assert s["by_width"]["2-4"]["wait_s"]["mean"] == pytest.approx((100 + 145) / 2)
    assert s["by_width"][">8"]["jobs"] == 0
    assert s["by_project"]["p"]["wait_s"]["max"] == 145 and s["by_project"]["q"]["jct_s"]["mean"] == 150
    assert s["fairness"]["worst_project_mean_wait_s"] == 100  # q's only job waited 100 s; p's mean is 72.5
    assert s["fairness"]["jain_project_mean_wait"] == pytest.approx(jain([72.5, 100.0]))
    assert s["preemption"]["lost_unit_h"] == 0 and s["unschedulable_jobs"] == []


def test_unschedulable_jobs_are_listed_with_the_reason() -> None:
    r = simulate(trace(job(0, 0, 1, gpu=10), job(1, 3, 9, "wide", gpu=10)), center(("gpu", 2, 4)), "easy")
    s = summarize(r)
    assert s["unschedulable"] == 1
    assert s["unschedulable_jobs"] == [{"index": 1, "id": 1, "project": "wide", "submit_s": 3.0, "units": 9,
                                        "flavors": ["gpu"],
                                        "why": "needs 9 units; the largest acceptable flavor has 8"}]


def test_windowed_share_sees_a_project_starved_while_another_holds_the_center() -> None:
    # one GPU: a's long job holds it from 0 to 10,000 s while b waits from 100 s; then b runs
    r = simulate(trace(job(0, 0, 1, "a", gpu=10_000), job(1, 100, 1, "b", gpu=10_000)), center(("gpu", 1, 1)),
                 "fifo")
    w = summarize(r)["fairness"]["windows"]
    # while both want the GPU, a gets all (satisfaction 1, its due is half) and b none: Jain (1 + 0)^2 / 2 = 0.5
    assert w["worst_jain"] == pytest.approx(0.5) and w["lowest_satisfaction"] == pytest.approx(0.0)
    counted = [v for v in w["jain"] if v is not None]
    # every window inside the contention is 0.5 (the one where a hands over to b is mixed)
    assert sum(v == pytest.approx(0.5) for v in counted) >= len(counted) - 2
    assert w["jain"][-1] is None  # after a ends, b is alone: those windows do not count
