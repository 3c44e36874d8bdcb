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
