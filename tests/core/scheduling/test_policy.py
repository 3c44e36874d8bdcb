"""Scenario tests of the admission policy, one behaviour each."""

from __future__ import annotations

from aicc.core.scheduling import FlavorChoice, Placement, PolicyConfig, RunningJob
from tests.core.scheduling.helpers import center, job, project


def admitted(result) -> list[int]:  # type: ignore[no-untyped-def]
    return sorted(a.job_id for a in result.admissions)


def test_within_quota_jobs_start_and_the_rest_waits_for_quota() -> None:
    s = center(h100_nodes=4)
    project(s, 1, h100=4, borrow=0)
    for i in range(3):
        s.submit(job(i + 1, 1, gpus=2, t=i))
    r = s.cycle(now=100)
    assert admitted(r) == [1, 2]
    assert r.reasons[3].text() == "waiting: project quota of 4 h100 in use"


def test_borrowing_idle_capacity_up_to_the_limit_is_marked_borrowed() -> None:
    s = center(h100_nodes=4)
    project(s, 1, h100=4, borrow=4)
    for i in range(6):
        s.submit(job(i + 1, 1, gpus=2, t=i))
    r = s.cycle(now=100)
    assert admitted(r) == [1, 2, 3, 4]
    assert [a.borrowed for a in sorted(r.admissions, key=lambda a: a.job_id)] == [False, False, True, True]
    assert r.reasons[5].text() == "waiting: project quota of 4 h100 and borrowing limit of 4 in use"


def test_a_job_that_may_not_borrow_runs_only_within_nominal_quota_while_others_borrow() -> None:
    """A service's replicas hold their accelerators: borrowed capacity would be preempted, so they never borrow."""
    from dataclasses import replace
    s = center(h100_nodes=4)
    project(s, 1, h100=4, borrow=4)
    for i in range(3):
        s.submit(replace(job(i + 1, 1, gpus=2, t=i), may_borrow=False))
    s.submit(job(4, 1, gpus=2, t=3))
    r = s.cycle(now=100)
    assert admitted(r) == [1, 2, 4] and not any(a.borrowed for a in r.admissions if a.job_id < 4)
    assert [a.borrowed for a in r.admissions if a.job_id == 4] == [True]
    assert r.reasons[3].text() == "waiting: project quota of 4 h100 in use"


def test_fair_share_prefers_the_project_with_the_lower_weighted_dominant_share() -> None:
    s = center(h100_nodes=1)
    project(s, 1, h100=4, borrow=4)
    project(s, 2, h100=4, borrow=4)
    s.submit(job(1, 1, t=0))
    s.submit(job(2, 1, t=1))
    s.submit(job(3, 1, t=2))
    s.submit(job(4, 2, t=3))
    r = s.cycle(now=10)
    # project 2's only job goes second although it was submitted last
    assert [a.job_id for a in r.admissions] == [1, 4, 2, 3]
    s2 = center(h100_nodes=2)
    project(s2, 1, h100=0, borrow=8, weight=1)
    project(s2, 2, h100=0, borrow=8, weight=3)
    for i in range(8):
        s2.submit(job(10 + i, 1, t=i))
        s2.submit(job(20 + i, 2, t=i))
    r2 = s2.cycle(now=10)
    by_project = [a.job_id // 10 for a in r2.admissions]
    assert by_project.count(2) == 6 and by_project.count(1) == 2  # weight 3 gets three times the share


def test_priority_orders_jobs_inside_a_project() -> None:
    s = center(h100_nodes=1)
    project(s, 1, h100=1, borrow=0)
    s.submit(job(1, 1, t=0, prio=0))
    s.submit(job(2, 1, t=5, prio=50))
    assert admitted(s.cycle(now=10)) == [2]


def test_gang_is_admitted_whole_or_not_at_all() -> None:
    s = center(h100_nodes=2, per_node=4)
    project(s, 1, h100=8, borrow=0)
    s.submit(job(1, 1, gpus=3, t=0))
    s.submit(job(2, 1, gpus=3, t=1))
    s.submit(job(3, 1, gpus=3, t=2))
    r = s.cycle(now=10)
    assert admitted(r) == [1, 2]
    for a in r.admissions:
        assert len(a.placements) == 1 and len(a.placements[0].devices) == 3
    assert 3 not in admitted(r)


def test_a_gang_larger_than_a_node_spans_nodes_of_one_flavor() -> None:
    s = center(h100_nodes=3, per_node=4, a100_nodes=2)
    project(s, 1, h100=12, borrow=0, a100=8)
    s.submit(job(1, 1, gpus=8, flavors=("h100",)))
    r = s.cycle(now=1)
    (a,) = r.admissions
    assert sorted(len(p.devices) for p in a.placements) == [4, 4]
    assert len({p.node for p in a.placements}) == 2 and a.flavor == "h100"


def test_backfill_never_delays_the_reservation() -> None:
    s = center(h100_nodes=1, per_node=4, policy="easy")
    project(s, 1)
    s.submit(job(1, 1, gpus=2, t=0, limit=1000))
    assert admitted(s.cycle(now=0)) == [1]
    s.submit(job(2, 1, gpus=4, t=1, limit=1000))  # needs the whole node: reserved for t=1000
    s.submit(job(3, 1, gpus=2, t=2, limit=5000))  # would run past the reservation: must wait
    s.submit(job(4, 1, gpus=2, t=3, limit=500))  # ends before it: backfills
    r = s.cycle(now=10)
    assert admitted(r) == [4]
    assert r.reservation is not None and r.reservation.job_id == 2 and r.reservation.start == 1000
    assert r.reasons[3].text() == "waiting: behind reservation for job 2"


def test_fifo_without_backfill_blocks_everything_behind_the_head() -> None:
    s = center(h100_nodes=1, per_node=4, policy="fifo")
    project(s, 1)
    s.submit(job(1, 1, gpus=2, t=0))
    s.cycle(now=0)
    s.submit(job(2, 1, gpus=4, t=1))
    s.submit(job(3, 1, gpus=1, t=2, limit=10))
    r = s.cycle(now=5)
    assert admitted(r) == []
    # nothing behind the blocked head can start: the walk stops there, the rest read the cycle's idle reason
    assert r.examined == 1 and 3 not in r.reasons and r.idle_reason is not None
    assert r.idle_reason.text() == "waiting: behind job 2 (first in line)"


def test_preemption_takes_newest_borrowed_lowest_priority_first_and_only_what_is_needed() -> None:
    s = center(h100_nodes=1, per_node=4)
    project(s, 1, h100=0, borrow=4)  # a borrower
    project(s, 2, h100=2, borrow=0)  # entitled to 2
    s.submit(job(1, 1, t=0, prio=5))
    s.submit(job(2, 1, t=1, prio=0))
    s.submit(job(3, 1, t=2, prio=0))
    s.submit(job(4, 1, t=3, prio=5))
    r = s.cycle(now=0)
    assert admitted(r) == [1, 2, 3, 4] and all(a.borrowed for a in r.admissions)
    # started in order 1..4; make start times differ
    s.submit(job(10, 2, gpus=2, t=10))
    r = s.cycle(now=700)
    assert admitted(r) == []
    assert sorted(r.preemptions) == [2, 3]  # priority 0 first; both needed, nothing more
    assert r.reasons[10].text().startswith("waiting: preempting borrowed capacity")
    # next cycle: victims still exiting, no more victims are taken
    r = s.cycle(now=701)
    assert r.preemptions == [] and r.reasons[10].text() == "waiting: borrowed capacity is being returned for this job"
    # the victims exit and go back to pending with their original submit times
    for v in (2, 3):
        s.requeue(v, job(v, 1, t=v - 1))
    r = s.cycle(now=710)
    assert admitted(r) == [10]
    assert sorted(s.pending) == [2, 3] and s.pending[2].submit_time == 1  # back in line, original place


def test_young_borrowed_jobs_are_exempt_from_preemption() -> None:
    s = center(h100_nodes=1, per_node=4)
    project(s, 1, h100=0, borrow=4)
    project(s, 2, h100=4, borrow=0)
    for i in range(4):
        s.submit(job(i + 1, 1, t=i))
    s.cycle(now=0)
    s.submit(job(10, 2, gpus=4))
    assert s.cycle(now=599).preemptions == []  # ten minutes of progress first
    assert sorted(s.cycle(now=600).preemptions) == [1, 2, 3, 4]


def test_no_preemption_beyond_nominal_quota() -> None:
    s = center(h100_nodes=1, per_node=4)
    project(s, 1, h100=0, borrow=4)
    project(s, 2, h100=1, borrow=4)
    for i in range(4):
        s.submit(job(i + 1, 1, t=i))
    s.cycle(now=0)
    s.submit(job(10, 2, gpus=2))  # exceeds its nominal 1: may not preempt
    r = s.cycle(now=1000)
    assert r.preemptions == [] and admitted(r) == []


def test_budget_and_window_checks_give_readable_reasons() -> None:
    s = center()
    project(s, 1, budget=3.5)
    project(s, 2, window_start=2_000_000_000.0)
    project(s, 3, active=False)
    s.submit(job(1, 1, gpus=4, limit=7200))  # 4 x 2 h x 2.0 = 16 SU
    s.submit(job(2, 2))
    s.submit(job(3, 3))
    r = s.cycle(now=1000)
    assert admitted(r) == []
    assert r.reasons[1].text() == "waiting: allocation budget too low for 2 h time limit (needs 16.0 SU, 3.5 left)"
    assert r.reasons[2].text().startswith("waiting: allocation window starts 2033-05-18")
    assert r.reasons[3].text() == "waiting: the project's allocation is suspended"


def test_budget_is_spent_as_jobs_are_admitted_in_one_cycle() -> None:
    s = center(h100_nodes=4)
    project(s, 1, h100=16, budget=5.0)
    s.submit(job(1, 1, limit=3600))  # 2 SU each
    s.submit(job(2, 1, limit=3600))
    s.submit(job(3, 1, limit=3600))
    assert admitted(s.cycle(now=0)) == [1, 2]


def test_throughput_placement_prefers_best_samples_per_su() -> None:
    tp = {"ocr": {"h100": 3.0, "a100": 2.0}}
    s = center(h100_nodes=1, a100_nodes=1, policy="hetero", throughput=tp)
    project(s, 1, h100=4, a100=4)
    s.submit(job(1, 1, flavors=("h100", "a100"), cls="ocr"))
    (a,) = s.cycle(now=0).admissions
    assert a.flavor == "a100"  # 2.0 per SU vs 1.5 per SU on h100
    s2 = center(h100_nodes=1, a100_nodes=1, policy=PolicyConfig(placement=FlavorChoice.CHEAPEST), throughput=tp)
    project(s2, 1, h100=4, a100=4)
    s2.submit(job(1, 1, flavors=("h100", "a100"), cls="ocr"))
    assert s2.cycle(now=0).admissions[0].flavor == "a100"  # cheapest too


def test_finish_frees_devices_for_the_next_job() -> None:
    s = center(h100_nodes=1, per_node=2)
    project(s, 1, h100=2, borrow=0)
    s.submit(job(1, 1, gpus=2))
    s.submit(job(2, 1, gpus=2, t=1))
    first = s.cycle(now=0).admissions[0]
    assert s.cycle(now=1).admissions == []
    s.finish(1)
    second = s.cycle(now=2).admissions[0]
    assert second.job_id == 2 and second.placements[0].devices == first.placements[0].devices


def test_unavailable_node_is_not_used() -> None:
    s = center(h100_nodes=2, per_node=4)
    project(s, 1, h100=8)
    s.set_node_available("h0", "h100", False)
    s.submit(job(1, 1, gpus=4))
    s.submit(job(2, 1, gpus=4, t=1))
    r = s.cycle(now=0)
    assert admitted(r) == [1] and r.admissions[0].placements[0].node == "h1"


def test_a_gang_larger_than_a_node_does_not_spread_over_more_partly_used_nodes_than_it_needs() -> None:
    """8 GPUs on 4-GPU nodes take two nodes: with 3 + 3 + 2 free it waits instead of taking three (it started
    across the three fragments before gangs took the fewest nodes; see the 12-GPU case for the early stop)."""
    s = center(h100_nodes=2, per_node=4, a100_nodes=3, policy="easy")
    project(s, 1)
    s.add_running(RunningJob(1, 1, "h100", (Placement("h0", (0, 1, 2, 3), 1, 1000),), 0.0, 100.0, units=4))
    for jid, node, devices in [(2, "a0", (0,)), (3, "a1", (0,)), (4, "a2", (0, 1))]:
        s.add_running(RunningJob(jid, 1, "a100", (Placement(node, devices, 1, 1000),), 0.0, 5000.0,
                                 units=len(devices)))
    s.submit(job(10, 1, 8, t=1.0))  # the head: reserved on h100 from t=100
    s.submit(job(11, 1, 4, t=2.0, flavors=("a100",)))  # no a100 node has 4 free
    s.submit(job(12, 1, 8, t=3.0, flavors=("a100",)))  # 3 + 3 + 2 free: would need three nodes
    s.submit(job(13, 1, 4, t=4.0, limit=1000))  # would end after the reservation
    r = s.cycle(10.0)
    assert r.reservation is not None and r.reservation.job_id == 10 and r.reservation.start == 100.0
    assert admitted(r) == []


def test_a_preempting_job_keeps_the_free_units_it_needs_until_its_victims_are_gone() -> None:
    """Without the hold, a small borrower takes the free GPUs in the same cycle and is preempted in turn."""
    s = center(h100_nodes=1, per_node=4)
    project(s, 1, h100=0, borrow=4)  # borrows
    project(s, 2, h100=4, borrow=0)  # entitled to the whole node
    project(s, 3, h100=0, borrow=4)  # another borrower, waiting for free GPUs
    s.submit(job(1, 1, gpus=2, t=0))
    assert admitted(s.cycle(now=0)) == [1]  # 2 of 4 GPUs borrowed, 2 free
    s.submit(job(10, 2, gpus=4, t=10))  # within quota, needs all 4
    s.submit(job(20, 3, gpus=1, t=11))  # would fit in the 2 free GPUs
    r = s.cycle(now=700)
    assert r.preemptions == [1] and admitted(r) == []  # job 20 does not take what job 10 is waiting for
    assert admitted(s.cycle(now=701)) == []  # still held while the victim exits
    s.requeue(1, job(1, 1, gpus=2, t=0))
    r = s.cycle(now=710)
    assert admitted(r) == [10] and r.preemptions == []


def test_max_starts_caps_a_cycle_and_the_next_one_continues_in_the_same_order() -> None:
    from dataclasses import replace

    from aicc.core.scheduling import POLICIES

    capped = center(h100_nodes=2, per_node=4, policy=replace(POLICIES["aicc"], max_starts=3))
    free = center(h100_nodes=2, per_node=4)
    for s in (capped, free):
        project(s, 1, h100=8, borrow=0)
        for i in range(6):
            s.submit(job(i + 1, 1, t=i))
    r1 = capped.cycle(now=0)
    assert admitted(r1) == [1, 2, 3] and r1.capped
    r2 = capped.cycle(now=0)
    assert admitted(r2) == [4, 5, 6]
    r3 = capped.cycle(now=0)
    assert admitted(r3) == [] and not r3.capped  # nothing more: the controller goes back to waiting
    assert admitted(r1) + admitted(r2) == admitted(free.cycle(now=0))


def test_a_cycle_goes_on_while_a_gang_wider_than_a_node_fits_though_the_smallest_gang_has_no_node() -> None:
    """2 nodes x 8 with 6 free on each: a 12-GPU gang fits (6 + 6) though the 7-GPU job finds no node."""
    s = center(h100_nodes=2, per_node=8, policy="easy")
    project(s, 1, h100=16, borrow=0)
    for rid, node in ((100, "h0"), (101, "h1")):
        s.add_running(RunningJob(rid, 1, "h100", (Placement(node, (0, 1), 1, 1000),), 0.0, 3600, units=2))
    s.submit(job(1, 1, 12, t=1.0))
    s.submit(job(2, 1, 7, t=2.0))
    res = s.cycle(now=10.0)
    assert [a.job_id for a in res.admissions] == [1]
    assert sorted(p.node for p in res.admissions[0].placements) == ["h0", "h1"]


def test_a_project_with_room_only_where_its_jobs_cannot_go_is_skipped_whole_and_explained_once() -> None:
    """Its quota has room on a100 but every waiting job asks for h100: no job of it can be admitted, so a
    cycle passes it over whole (not job by job: the live controller's light cycle must not cost the length of
    another project's queue), gives its first waiting job the quota reason, and names the project blocked so
    its newly submitted jobs read the same reason."""
    s = center(h100_nodes=2, a100_nodes=1)
    project(s, 1, h100=4, borrow=0, a100=4)
    for i in range(50):
        s.submit(job(i + 1, 1, gpus=4, t=i))
    first = s.cycle(now=100)
    assert admitted(first) == [1]
    assert first.reasons[2].text() == "waiting: project quota of 4 h100 in use"
    again = s.cycle(now=101)
    assert admitted(again) == [] and again.examined <= 1  # was 49: each job visited for the same reason
    assert again.blocked_projects[1].text() == "waiting: project quota of 4 h100 in use"
