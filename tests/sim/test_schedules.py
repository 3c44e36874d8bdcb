"""Hand-computed schedules: exact start and end times under each policy."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from aicc.core.scheduling import POLICIES
from aicc.sim.center import LOSSLESS, PreemptionCost, ProjectSpec
from aicc.sim.engine import simulate
from aicc.sim.trace import SimJob
from tests.sim.helpers import center, job, trace

# A: 1 GPU for 100 s at 0; B: 2 GPUs for 50 s at 0 (behind A); C: 1 GPU for 30 s at 10.
THREE = trace(job(0, 0, 1, gpu=100), job(1, 0, 2, gpu=50), job(2, 10, 1, gpu=30))
TWO_GPUS = center(("gpu", 1, 2))


def times(policy: str) -> list[tuple[float, float]]:
    r = simulate(THREE, TWO_GPUS, policy)
    return list(zip(r.start, r.end, strict=True))


def test_fifo_without_backfill_holds_the_small_job_behind_the_gang() -> None:
    assert times("fifo") == [(0, 100), (100, 150), (150, 180)]


@pytest.mark.parametrize("policy", ["easy", "aicc", "hetero"])
def test_easy_backfill_starts_the_small_job_in_the_hole_before_the_reservation(policy: str) -> None:
    assert times(policy) == [(0, 100), (100, 150), (10, 40)]


def test_backfill_never_delays_the_reserved_job() -> None:
    # C would run 0..200 and end after B's reserved start (100): it must wait until B is done.
    t = trace(job(0, 0, 1, gpu=100), job(1, 0, 2, gpu=50), job(2, 10, 1, gpu=200))
    r = simulate(t, TWO_GPUS, "easy")
    assert list(zip(r.start, r.end, strict=True)) == [(0, 100), (100, 150), (150, 350)]


def test_heterogeneity_aware_placement_takes_the_fast_flavor() -> None:
    c = center(("slow", 1, 1), ("fast", 1, 1))
    j = SimJob(0, "p", 0.0, 1, {"slow": 100.0, "fast": 10.0}, "cls")
    t = trace(j, throughput={"cls": {"slow": 1.0, "fast": 10.0}})
    agnostic, aware = simulate(t, c, "aicc"), simulate(t, c, "hetero")
    assert (agnostic.flavor[0], agnostic.end[0]) == ("slow", 100.0)
    assert (aware.flavor[0], aware.end[0]) == ("fast", 10.0)


QUOTAS = {p: ProjectSpec(p, nominal={"gpu": 1}, borrowing={"gpu": 1}) for p in ("a", "b")}
# a's second job borrows b's unit; b's job arrives at 10 and preempts it
PREEMPTED = trace(job(0, 0, 1, "a", gpu=100), job(1, 0, 1, "a", gpu=100), job(2, 10, 1, "b", gpu=10))
NO_EXEMPTION = replace(POLICIES["aicc"], preempt_after_s=0.0)  # to check the arithmetic of one preemption exactly


def test_a_job_within_its_quota_preempts_borrowed_capacity_and_the_victim_resumes() -> None:
    c = center(("gpu", 1, 2), projects=QUOTAS)
    r = simulate(PREEMPTED, c, NO_EXEMPTION, record_runs=True, preemption=LOSSLESS)
    assert r.preemptions == 1
    # a's second job borrowed b's unit; preempted at 10 with 90 s left, it resumes when b's job ends at 20
    assert list(zip(r.start, r.end, strict=True)) == [(0, 100), (0, 110), (10, 20)]
    assert sorted(r.runs) == [(0, "gpu", 0, 100), (1, "gpu", 0, 10), (1, "gpu", 20, 110), (2, "gpu", 10, 20)]
    assert r.lost_unit_seconds == {"a": 0.0, "b": 0.0}


def test_by_default_a_victim_holds_its_units_through_the_grace_period_and_starts_again_from_scratch() -> None:
    c = center(("gpu", 1, 2), projects=QUOTAS)
    r = simulate(PREEMPTED, c, NO_EXEMPTION, record_runs=True)
    assert r.preemption == PreemptionCost(grace_s=10.0, checkpoint_s=None)
    # preempted at 10, it stops at 20 (SIGTERM + 10 s); b's job runs 20..30; a's restarts whole at 30
    assert list(zip(r.start, r.end, strict=True)) == [(0, 100), (0, 130), (20, 30)]
    assert sorted(r.runs) == [(0, "gpu", 0, 100), (1, "gpu", 0, 20), (1, "gpu", 30, 130), (2, "gpu", 20, 30)]
    assert r.lost_unit_seconds == {"a": 20.0, "b": 0.0}  # 10 s of work and 10 s of grace


def test_a_victim_resumes_from_its_last_checkpoint() -> None:
    c = center(("gpu", 1, 2), projects=QUOTAS)
    t = trace(job(0, 0, 1, "a", gpu=100), replace(job(1, 0, 1, "a", gpu=100), checkpoint_s=4.0),
              job(2, 10, 1, "b", gpu=10))
    r = simulate(t, c, NO_EXEMPTION, record_runs=True, preemption=PreemptionCost(grace_s=5.0))
    # checkpoints at 4 and 8; preempted at 10, stopped at 15: 8 s kept, 2 + 5 lost; 92 s left from 25
    assert list(zip(r.start, r.end, strict=True)) == [(0, 100), (0, 117), (15, 25)]
    assert r.lost_unit_seconds["a"] == 7.0


def test_the_project_and_the_center_give_checkpoints_to_jobs_that_declare_none() -> None:
    projects = {"a": replace(QUOTAS["a"], checkpoint_s=5.0), "b": QUOTAS["b"]}
    c = replace(center(("gpu", 1, 2), projects=projects), preemption=PreemptionCost(0.0, checkpoint_s=3.0))
    r = simulate(PREEMPTED, c, NO_EXEMPTION)
    # the project's 5 s wins over the center's 3 s: 10 s kept at 10, nothing lost, no grace: ends at 110
    assert list(zip(r.start, r.end, strict=True)) == [(0, 100), (0, 110), (10, 20)]
    assert r.lost_unit_seconds["a"] == 0.0
    r = simulate(PREEMPTED, replace(c, projects=QUOTAS), NO_EXEMPTION)
    assert r.end[1] == 111 and r.lost_unit_seconds["a"] == 1.0  # the center's 3 s: 9 of 10 s kept


def test_a_victim_whose_work_ends_within_the_grace_period_finishes() -> None:
    c = center(("gpu", 1, 2), projects=QUOTAS)
    t = trace(job(0, 0, 1, "a", gpu=100), job(1, 0, 1, "a", gpu=15), job(2, 10, 1, "b", gpu=10))
    # a policy that preempts whenever it helps (the default would not preempt here: see the next test)
    r = simulate(t, c, replace(NO_EXEMPTION, preempt_worth=0.0))
    assert r.preemptions == 1 and r.end[1] == 15 and r.start[2] == 15
    assert r.lost_unit_seconds["a"] == 0.0


def test_by_default_a_borrowed_job_that_ends_within_the_grace_period_is_not_preempted() -> None:
    """Killing it at 10 would lose 10 s of work and 10 s of grace to save nothing (its limit ends at 15): the
    quota job waits for it, and the replay has no preemption to count."""
    c = center(("gpu", 1, 2), projects=QUOTAS)
    t = trace(job(0, 0, 1, "a", gpu=100), job(1, 0, 1, "a", gpu=15), job(2, 10, 1, "b", gpu=10))
    r = simulate(t, c, NO_EXEMPTION)
    assert r.preemptions == 0 and r.end[1] == 15 and r.start[2] == 15
    assert r.lost_unit_seconds["a"] == 0.0


def test_without_preemption_the_quota_job_waits() -> None:
    quotas = {p: ProjectSpec(p, nominal={"gpu": 1}, borrowing={"gpu": 1}) for p in ("a", "b")}
    c = center(("gpu", 1, 2), projects=quotas)
    t = trace(job(0, 0, 1, "a", gpu=100), job(1, 0, 1, "a", gpu=100), job(2, 10, 1, "b", gpu=10))
    r = simulate(t, c, "easy")
    assert r.preemptions == 0
    assert (r.start[2], r.end[2]) == (100, 110)


def test_a_gang_larger_than_the_center_is_counted_not_replayed() -> None:
    r = simulate(trace(job(0, 0, 4), job(1, 1, 1, gpu=5)), TWO_GPUS, "fifo")
    assert r.unschedulable == 1
    assert math.isnan(r.end[0]) and r.end[1] == 6


def test_budget_exhaustion_leaves_jobs_unfinished_and_burns_at_most_the_budget() -> None:
    c = center(("gpu", 1, 2), projects={"p": ProjectSpec("p", budget_su=0.05)})
    # each job costs 1 GPU x 100 s = 0.0278 SU: the first fits the budget, the second would exceed it
    r = simulate(trace(job(0, 0, 1, gpu=100), job(1, 0, 1, gpu=100)), c, "aicc")
    assert r.end[0] == 100 and math.isnan(r.end[1])
    assert r.su["p"] == pytest.approx(100 / 3600)


def test_periodic_cycles_start_jobs_at_the_next_tick() -> None:
    r = simulate(trace(job(0, 5, 1, gpu=10), job(1, 61, 1, gpu=10)), TWO_GPUS, "easy", cycle_interval=60)
    assert list(zip(r.start, r.end, strict=True)) == [(60, 70), (120, 130)]


def test_decision_log_lists_each_cycles_admissions() -> None:
    r = simulate(THREE, TWO_GPUS, "easy", decision_log=True)
    admitted = [(d["t"], [a[0] for a in d["admitted"]]) for d in r.decisions if d["admitted"]]
    assert admitted == [(0, [0]), (10, [2]), (100, [1])]
    assert r.decisions[0]["reservation"] == [1, "gpu", 100]
