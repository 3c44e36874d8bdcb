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
