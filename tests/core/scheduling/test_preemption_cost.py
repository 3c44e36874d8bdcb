"""Cost-aware preemption: victims that lose least go first, and a preemption that destroys more work than the
waiting job gains is refused, with a reason that says so; aging takes every old job, not only projects' first."""

from __future__ import annotations

from dataclasses import replace

from aicc.core.jobs.reasons import ReasonCode
from aicc.core.scheduling import POLICIES, Placement, RunningJob, Scheduler
from tests.core.scheduling.helpers import center, job, project

AGE = POLICIES["aicc"].age_after_s


def _borrowed(s: Scheduler, jid: int, node: str, start: float, limit: float = 100_000,
              checkpoint_s: float | None = None) -> None:
    s.add_running(RunningJob(jid, 2, "h100", (Placement(node, tuple(range(8)), 1, 1000),), start, limit,
                             borrowed=True, units=8, checkpoint_s=checkpoint_s))


def _two_projects(nodes: int, policy: object = "aicc") -> Scheduler:
    s = center(h100_nodes=nodes, per_node=8, policy=policy)  # type: ignore[arg-type]
    project(s, 1, h100=8, borrow=0)
    project(s, 2, h100=0, borrow=8 * nodes)
    return s


def test_a_victim_that_just_checkpointed_is_preferred_to_one_that_would_lose_more() -> None:
    """h0's borrowed job ran 7,300 s but checkpoints hourly (100 s to lose); h1's ran 2,300 s without any. Lost
    work picks h0's, though it is the older: by run time alone h1's would be taken."""
    s = _two_projects(2)
    _borrowed(s, 100, "h0", 0.0, checkpoint_s=3600.0)
    _borrowed(s, 101, "h1", 5000.0)
    s.submit(job(1, 1, 8, t=7300.0, limit=50_000))
    r = s.cycle(7300.0)
    assert r.preemptions == [100]
    assert r.reasons[1].code is ReasonCode.PREEMPTING


def test_a_victim_that_just_started_is_preempted_rather_than_one_near_its_end() -> None:
    """h0's holder ends at 3,000, h1's started 5 s ago: at 2,900 killing h1's loses 8 x 15 accelerator-seconds
    (with the grace), less than half the 8 x 90 the job would otherwise wait for h0: h1's goes (no exemption
    here, so that a job this new may be preempted at all)."""
    s = _two_projects(2, replace(POLICIES["aicc"], preempt_after_s=0.0))
    _borrowed(s, 100, "h0", 0.0, limit=3000.0)
    _borrowed(s, 101, "h1", 2895.0)
    s.submit(job(1, 1, 8, t=2900.0, limit=50_000))
    assert s.cycle(2900.0).preemptions == [101]


def test_a_preemption_that_loses_more_than_it_gains_is_refused_and_the_job_waits_for_the_holder() -> None:
    """One 8-GPU node, its borrowed holder 2,900 s into a run that ends by 3,000: killing it would lose 8 x 2,910
    accelerator-seconds to save 8 x 90. The job within its quota waits: it holds the reservation at 3,000 and
    its reason gives the figures and that time (a time to come)."""
    s = _two_projects(1)
    _borrowed(s, 100, "h0", 0.0, limit=3000.0)
    s.submit(job(1, 1, 8, t=2900.0, limit=50_000))
    r = s.cycle(2900.0)
    assert r.preemptions == [] and r.admissions == []
    assert r.reservation is not None and (r.reservation.job_id, r.reservation.start) == (1, 3000.0)
    why = r.reasons[1]
    assert why.code is ReasonCode.PREEMPT_COSTLY
    assert why.params["at"] == 3000.0 > 2900.0 and why.params["units"] == 8
    assert why.params["lost_h"] == round(8 * 2910 / 3600, 1) and why.params["gain_h"] == round(8 * 90 / 3600, 1)
    assert "more than the" in why.text()
    s.finish(100)
    assert [a.job_id for a in s.cycle(3000.0).admissions] == [1]  # the holder ended: it starts, nothing lost


def test_the_longer_a_job_has_waited_the_more_work_its_preemption_may_cost() -> None:
    """The holder ran 900 s (8 x 910 to lose with the grace) and ends by 4,000 (8 x 1,090 to gain at 2,900).
    Worth 0.5: a job just submitted waits; one that has waited ``age_after_s`` weighs its wait twice and
    preempts."""
    fresh = _two_projects(1)
    _borrowed(fresh, 100, "h0", 2000.0, limit=2000.0)
    fresh.submit(job(1, 1, 8, t=2900.0, limit=50_000))
    assert fresh.cycle(2900.0).preemptions == []
    old = _two_projects(1)
    _borrowed(old, 100, "h0", 2000.0, limit=2000.0)
    old.submit(job(1, 1, 8, t=2900.0 - AGE, limit=50_000))
    assert old.cycle(2900.0).preemptions == [100]


def test_with_preempt_worth_zero_it_preempts_whenever_that_helps() -> None:
    s = _two_projects(1, replace(POLICIES["aicc"], preempt_worth=0.0))
    _borrowed(s, 100, "h0", 0.0, limit=3000.0)
    s.submit(job(1, 1, 8, t=2900.0, limit=50_000))
    assert s.cycle(2900.0).preemptions == [100]


def test_every_job_waiting_past_age_after_goes_before_fair_share_not_only_its_projects_first() -> None:
    """3 x 8 GPUs; project 1 already runs 8 (so fair share puts project 2 first) and has two 8-GPU jobs waiting
    since t = 0 and 1; project 2's waits since 500,000. At 600,000 both of project 1's have aged: both start, on
    the two free nodes, before project 2's younger job (aging by project heads started only the first)."""
    s = center(h100_nodes=3, per_node=8, policy="aicc")
    project(s, 1, h100=8, borrow=16)
    project(s, 2, h100=16, borrow=0)
    s.add_running(RunningJob(50, 1, "h100", (Placement("h0", tuple(range(8)), 1, 1000),), 0.0, 10**7, units=8))
    s.submit(job(1, 1, 8, t=0.0))
    s.submit(job(2, 1, 8, t=1.0))
    s.submit(job(3, 2, 8, t=500_000.0))
    r = s.cycle(600_000.0)
    assert sorted(a.job_id for a in r.admissions) == [1, 2]
    assert not any(a.borrowed for a in r.admissions)  # aged: capacity the center owes them, not preemptible
    assert r.preemptions == []
