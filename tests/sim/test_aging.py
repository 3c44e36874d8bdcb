"""Aging: a wide gang that fair share and guaranteed quota would pass over for ever starts within its bound."""

from __future__ import annotations

from dataclasses import replace

from aicc.core.scheduling import POLICIES
from aicc.sim.center import ProjectSpec
from aicc.sim.engine import simulate
from tests.sim.helpers import center, job, trace


def _stream() -> tuple[object, object]:
    """3 x 8 GPUs. Project b (nominal 16) always has an 8-GPU job waiting within its quota (one every 50 s, 100 s
    each, two at first): whenever nodes free, the guaranteed pass gives them to b first; project a's 16-GPU
    gang (8 within its nominal 8, 8 borrowed) needs two whole nodes and never gets them behind b's stream."""
    c = center(("gpu", 3, 8), projects={"a": ProjectSpec("a", 1.0, {"gpu": 8}, {"gpu": 16}),
                                        "b": ProjectSpec("b", 1.0, {"gpu": 16}, {"gpu": 0})})
    jobs = [job(0, 10.0, 16, "a")] + [job(k, 50.0 * max(k - 2, 0), 8, "b") for k in range(1, 102)]
    return c, trace(*jobs)


def _gang_start(r: object) -> float:
    i = next(k for k, j in enumerate(r.jobs) if j.project == "a")  # type: ignore[attr-defined]
    return float(r.start[i])  # type: ignore[attr-defined]


def test_without_aging_the_wide_gang_waits_for_the_whole_stream() -> None:
    c, t = _stream()
    r = simulate(t, c, replace(POLICIES["aicc"], age_after_s=0.0))  # type: ignore[arg-type]
    assert _gang_start(r) >= 4900.0


def test_with_aging_the_wide_gang_starts_within_age_plus_the_longest_time_limit() -> None:
    c, t = _stream()
    age, longest = 1000.0, 100.0
    r = simulate(t, c, replace(POLICIES["aicc"], age_after_s=age))  # type: ignore[arg-type]
    assert 10.0 + age <= _gang_start(r) <= 10.0 + age + longest
    assert r.preemptions == 0  # started aged, it is not borrowed capacity: b's quota does not take it back
    assert all(e == e for e in r.end)  # everything finishes
