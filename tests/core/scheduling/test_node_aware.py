"""Issue 24's examples as scenarios: reservations that hold node by node, gangs on whole nodes."""

from __future__ import annotations

from aicc.core.scheduling import Placement, RunningJob, Scheduler
from tests.core.scheduling.helpers import center, job, project


def _run(s: Scheduler, jid: int, node: str, gpus: int, limit: float, start: float = 0.0) -> None:
    s.add_running(RunningJob(jid, 1, "h100", (Placement(node, tuple(range(gpus)), 1, 1000),), start, limit,
                             units=gpus))


def _admitted_on(res: object, jid: int) -> list[str]:
    return [p.node for a in res.admissions if a.job_id == jid for p in a.placements]  # type: ignore[attr-defined]


def test_easy_backfill_does_not_put_a_long_job_on_the_node_the_head_is_waiting_for() -> None:
    """2 x 8 GPUs, 7 busy on each (ending at 100 and 1,000): the 8-GPU head is promised t = 100; a 1-GPU job
    with a 10,000 s limit arriving at t = 2 goes to the other node, and the head starts at 100."""
    s = center(h100_nodes=2, per_node=8, policy="easy")
    project(s, 1, h100=16, borrow=0)
    _run(s, 100, "h0", 7, 100.0)
    _run(s, 101, "h1", 7, 1000.0)
    s.submit(job(1, 1, 8, t=1.0))
    assert s.cycle(1.0).admissions == []
    s.submit(job(2, 1, 1, t=2.0, limit=10_000))
    r = s.cycle(2.0)
    assert r.reservation is not None and r.reservation.start == 100.0 and set(r.reservation.spare) == {"h0"}
    assert _admitted_on(r, 2) == ["h1"]
    s.finish(100)
    r = s.cycle(100.0)
    assert _admitted_on(r, 1) == ["h0"]


def test_a_head_needing_two_whole_nodes_is_promised_when_two_nodes_are_whole_and_keeps_it() -> None:
    """3 x 8 GPUs with 4 busy on each (ending at 100, 200 and 5,000): 16 GPUs fit by count at 100 but on two
    whole nodes only at 200. A long 4-GPU job may use the third node, never the two reserved ones."""
    s = center(h100_nodes=3, per_node=8, policy="easy")
    project(s, 1, h100=24, borrow=0)
    _run(s, 100, "h0", 4, 100.0)
    _run(s, 101, "h1", 4, 200.0)
    _run(s, 102, "h2", 4, 5000.0)
    s.submit(job(1, 1, 16, t=1.0))
    s.submit(job(2, 1, 4, t=2.0, limit=10_000))
    r = s.cycle(2.0)
    assert r.reservation is not None and r.reservation.start == 200.0
    assert set(r.reservation.spare) == {"h0", "h1"}
    assert _admitted_on(r, 2) == ["h2"]
    s.finish(100)
    assert _admitted_on(s.cycle(100.0), 1) == []
    s.finish(101)
    assert sorted(_admitted_on(s.cycle(200.0), 1)) == ["h0", "h1"]


def test_a_short_job_may_use_the_reserved_node_when_it_ends_before_the_head_starts() -> None:
    s = center(h100_nodes=2, per_node=8, policy="easy")
    project(s, 1, h100=16, borrow=0)
    _run(s, 100, "h0", 7, 100.0)
    _run(s, 101, "h1", 8, 1000.0)
    s.submit(job(1, 1, 8, t=1.0))
    s.submit(job(2, 1, 1, t=2.0, limit=50))
    r = s.cycle(2.0)
    assert _admitted_on(r, 2) == ["h0"]


def test_a_job_within_quota_preempts_to_open_a_hole_of_its_shape_when_free_capacity_is_scattered() -> None:
    """2 x 8 GPUs; another project's two borrowed long jobs hold 4 on each node, 8 GPUs free in total. A
    project entitled to 8 does not wait for ever: the cheaper victim (newer: less work lost) is preempted and
    the job takes its node."""
    s = center(h100_nodes=2, per_node=8, policy="aicc")
    project(s, 1, h100=8, borrow=0)
    project(s, 2, h100=0, borrow=16)
    for jid, node, start in ((100, "h0", 0.0), (101, "h1", 500.0)):
        s.add_running(RunningJob(jid, 2, "h100", (Placement(node, tuple(range(4)), 1, 1000),), start, 100_000,
                                 borrowed=True, units=4))
    s.submit(job(1, 1, 8, t=2000.0))
    r = s.cycle(2000.0)
    assert r.preemptions == [101] and r.admissions == []
    assert s.cycle(2001.0).preemptions == []  # its victim is leaving: it waits for it, choosing no more
    s.finish(101)
    assert _admitted_on(s.cycle(2100.0), 1) == ["h1"]


def test_a_reservation_that_could_start_now_names_no_past_time() -> None:
    from aicc.core.jobs.reasons import ReasonCode
    from aicc.core.scheduling import reasons

    assert reasons.reserved("h100", 99.0, 100.0).code is ReasonCode.RESERVED_NOW
    assert reasons.reserved("h100", 101.0, 100.0).code is ReasonCode.RESERVED


def _switched(free: dict[str, tuple[str, int]]) -> Scheduler:
    from aicc.core.scheduling import POLICIES, FlavorInfo, NodeInfo

    nodes = [NodeInfo(name, "h100", 8, 64, 512_000, switch=sw) for name, (sw, _) in free.items()]
    s = Scheduler([FlavorInfo("h100", 1.0)], nodes, POLICIES["easy"])
    project(s, 1, h100=64, borrow=0)
    for k, (name, (_, n)) in enumerate(free.items()):
        if n < 8:
            _run(s, 100 + k, name, 8 - n, 10_000.0)
    return s


def test_a_multi_node_gang_prefers_nodes_under_one_switch_and_reports_when_it_could_not() -> None:
    s = _switched({"n0": ("s1", 8), "n1": ("s1", 2), "n2": ("s2", 8), "n3": ("s2", 8)})
    s.submit(job(1, 1, 16, t=1.0))
    r = s.cycle(1.0)
    assert sorted(_admitted_on(r, 1)) == ["n2", "n3"] and r.spread == []
    s = _switched({"n0": ("s1", 8), "n1": ("s1", 0), "n2": ("s2", 8), "n3": ("s2", 0)})
    s.submit(job(1, 1, 16, t=1.0))
    r = s.cycle(1.0)
    assert sorted(_admitted_on(r, 1)) == ["n0", "n2"] and r.spread == [1]


def _borrowed(s: Scheduler, jid: int, node: str, gpus: int, start: float, project: int = 2,
              first: int = 0) -> None:
    s.add_running(RunningJob(jid, project, "h100", (Placement(node, tuple(range(first, first + gpus)), 1, 1000),),
                             start, 100_000, borrowed=True, units=gpus))


def test_a_gang_wider_than_a_node_preempts_for_whole_nodes_not_for_a_count() -> None:
    """3 x 8 GPUs. h0 holds 4 borrowed and 4 of a third project within its quota (never a whole node); h1 and h2
    hold borrowed work only. A 16-GPU job within its quota takes h1 and h2 whole: the victims are theirs, not the
    cheapest by count (the new job on h0 would leave it with 4 GPUs a 16-GPU gang cannot use)."""
    s = center(h100_nodes=3, per_node=8, policy="aicc")
    project(s, 1, h100=16, borrow=0)
    project(s, 2, h100=0, borrow=24)
    project(s, 3, h100=8, borrow=0)
    s.add_running(RunningJob(50, 3, "h100", (Placement("h0", (4, 5, 6, 7), 1, 1000),), 0.0, 100_000, units=4))
    _borrowed(s, 100, "h0", 4, 1500.0)  # the newest: cheapest by lost work, but on the wrong node
    _borrowed(s, 101, "h1", 8, 0.0)
    _borrowed(s, 102, "h2", 4, 100.0)
    _borrowed(s, 103, "h2", 4, 200.0, first=4)
    s.submit(job(1, 1, 16, t=2000.0))
    r = s.cycle(2000.0)
    assert sorted(r.preemptions) == [101, 102, 103] and r.admissions == []
    assert s.cycle(2001.0).preemptions == []  # its victims are leaving: it waits, choosing no more
    for v in (101, 102, 103):
        s.finish(v)
    assert sorted(_admitted_on(s.cycle(2100.0), 1)) == ["h1", "h2"]


def test_a_wide_gang_whose_victims_are_exempt_is_told_when_they_may_be_preempted() -> None:
    from aicc.core.jobs.reasons import ReasonCode

    s = center(h100_nodes=2, per_node=8, policy="aicc")  # preempt_after_s = 600
    project(s, 1, h100=16, borrow=0)
    project(s, 2, h100=0, borrow=16)
    _borrowed(s, 100, "h0", 8, 1000.0)
    _borrowed(s, 101, "h1", 8, 1900.0)
    s.submit(job(1, 1, 16, t=2000.0))
    r = s.cycle(2000.0)
    assert r.preemptions == []  # job 100 alone (past its exemption) would not give it two whole nodes
    why = r.reasons[1]
    assert why.code is ReasonCode.PREEMPT_EXEMPT and why.params["at"] == 2500.0 > 2000.0


def test_a_job_within_quota_that_no_preemption_can_help_says_so_and_names_no_past_time() -> None:
    """Capacity held within quotas (project 3) on every node, one borrowed job of project 2: preempting it
    would not give the 8-GPU job a node (h0 keeps it when project 3's job there ends at 5,000). It reads why,
    with its reservation's start: h1 whole at 9,000, a time to come."""
    from aicc.core.jobs.reasons import ReasonCode

    s = center(h100_nodes=2, per_node=8, policy="aicc")
    project(s, 1, h100=8, borrow=0)
    project(s, 2, h100=0, borrow=16)
    project(s, 3, h100=8, borrow=0)
    s.add_running(RunningJob(50, 3, "h100", (Placement("h0", (0, 1, 2, 3), 1, 1000),), 0.0, 5000, units=4))
    s.add_running(RunningJob(51, 3, "h100", (Placement("h1", (0, 1, 2, 3), 1, 1000),), 0.0, 9000, units=4))
    _borrowed(s, 100, "h0", 2, 0.0, first=4)
    s.submit(job(1, 1, 8, t=2000.0))
    r = s.cycle(2000.0)
    assert r.preemptions == [] and r.admissions == []
    why = r.reasons[1]
    assert why.code is ReasonCode.PREEMPT_NO_BORROWED_RESERVED and why.params["at"] == 9000.0


def test_a_one_node_job_whose_victims_just_started_is_told_when_they_may_be_preempted() -> None:
    """The scattered-capacity example with both borrowed jobs in their first 600 s: no preemption yet, and the
    reason names when the first hole can open (the older job's exemption ends first), a time still to come."""
    from aicc.core.jobs.reasons import ReasonCode

    s = center(h100_nodes=2, per_node=8, policy="aicc")
    project(s, 1, h100=8, borrow=0)
    project(s, 2, h100=0, borrow=16)
    _borrowed(s, 100, "h0", 4, 1700.0)
    _borrowed(s, 101, "h1", 4, 1800.0)
    s.submit(job(1, 1, 8, t=2000.0))
    r = s.cycle(2000.0)
    assert r.preemptions == [] and r.admissions == []
    why = r.reasons[1]
    assert why.code is ReasonCode.PREEMPT_EXEMPT and why.params["at"] == 2300.0
    assert s.cycle(2300.0).preemptions == [100]  # then it goes (the other is exempt until 2,400)
