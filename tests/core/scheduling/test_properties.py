"""Invariants of the policy on random workloads (hypothesis)."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from aicc.core.scheduling import (
    POLICIES,
    FlavorInfo,
    NodeInfo,
    PendingJob,
    ProjectState,
    Scheduler,
)

FLAVORS = [FlavorInfo("h100", 2.0), FlavorInfo("a100", 1.0)]


@st.composite
def workloads(draw: st.DrawFn) -> tuple[list[NodeInfo], list[ProjectState], list[PendingJob], str]:
    nodes = []
    for f in ("h100", "a100"):
        for i in range(draw(st.integers(1, 3))):
            nodes.append(NodeInfo(f"{f}-{i}", f, draw(st.integers(1, 8)), 64, 512_000))
    projects = []
    for pid in range(1, draw(st.integers(1, 4)) + 1):
        projects.append(ProjectState(
            pid, weight=draw(st.sampled_from([0.5, 1.0, 2.0])),
            nominal={"h100": draw(st.integers(0, 8)), "a100": draw(st.integers(0, 8))},
            borrowing_limit={"h100": draw(st.integers(0, 8)), "a100": draw(st.integers(0, 8))},
            budget_left=draw(st.sampled_from([5.0, 50.0, 1e9])), allocation_id=pid))
    jobs = []
    for jid in range(1, draw(st.integers(1, 30)) + 1):
        jobs.append(PendingJob(
            jid, draw(st.integers(1, len(projects))),
            tuple(draw(st.lists(st.sampled_from(["h100", "a100"]), min_size=1, max_size=2, unique=True))),
            draw(st.integers(1, 12)), 1, 1000, draw(st.sampled_from([60.0, 600.0, 3600.0])),
            draw(st.integers(-2, 2)), float(jid)))
    return nodes, projects, jobs, draw(st.sampled_from(sorted(POLICIES)))


def check_capacity(s: Scheduler, nodes: list[NodeInfo]) -> None:
    held: Counter[tuple[str, int]] = Counter()
    for r in s.running.values():
        for p in r.placements:
            for d in p.devices:
                held[(p.node, d)] += 1
    assert all(v == 1 for v in held.values()), "a device is held by two jobs"
    size = {n.name: n.accelerators for n in nodes}
    for node, device in held:
        assert 0 <= device < size[node], "a device that does not exist"
    per_flavor = Counter()
    for r in s.running.values():
        per_flavor[r.flavor] += r.units
    for f, pool in s.pools.items():
        assert per_flavor[f] + pool.free == pool.total


@settings(max_examples=150, deadline=None)
@given(workloads(), st.randoms(use_true_random=False))
def test_invariants_hold_over_many_cycles(w: tuple, rnd) -> None:  # type: ignore[no-untyped-def,type-arg]
    nodes, projects, jobs, policy = w
    s = Scheduler(FLAVORS, nodes, POLICIES[policy])
    for p in projects:
        s.set_project(p)
    originals = {j.id: j for j in jobs}
    for j in jobs:
        s.submit(j)
    budgets = {p.id: p.budget_left for p in projects}
    now = 0.0
    for _ in range(6):
        before = set(s.running)
        r = s.cycle(now)
        check_capacity(s, nodes)
        spent: Counter[int] = Counter()
        for a in r.admissions:
            j = originals[a.job_id]
            assert a.flavor in j.flavors
            assert sum(len(p.devices) for p in a.placements) == j.accelerators
            spent[j.project] += j.accelerators * j.time_limit_s / 3600 * {"h100": 2.0, "a100": 1.0}[a.flavor]
            if POLICIES[policy].quotas:
                p = next(x for x in projects if x.id == j.project)
                assert s.usage[j.project][a.flavor] <= p.nominal[a.flavor] + p.borrowing_limit[a.flavor]
        for pid, cost in spent.items():
            assert cost <= budgets[pid] + 1e-9, "admitted without budget"
            budgets[pid] -= cost
            s.projects[pid].budget_left = budgets[pid]
        if POLICIES[policy].preemption:
            assert_within_nominal_not_blocked_by_borrowed(s, r, before)
        # finish or preempt some jobs, then go on
        for jid in list(s.running):
            if jid in s.preempting or rnd.random() < 0.4:
                if jid in s.preempting:
                    s.requeue(jid, originals[jid])
                else:
                    s.finish(jid)
        now += 100
    # with time, everything that can ever run has run
    for jid in list(s.running):
        s.finish(jid)


def assert_within_nominal_not_blocked_by_borrowed(s: Scheduler, r, before) -> None:  # type: ignore[no-untyped-def]
    """A job within its nominal quota never waits behind borrowed capacity that was there before the cycle."""
    for jid, why in r.reasons.items():
        reason = why.text()
        if "capacity" not in reason and "next in line" not in reason and "reservation" not in reason:
            continue
        j = s.pending[jid]
        p = s.projects[j.project]
        for f in j.flavors:
            within = s.usage.get(j.project, {}).get(f, 0) + j.accelerators <= p.nominal.get(f, 0)
            if within and s.pools[f].free < j.accelerators:
                foreign_borrowed = [x for x in s.running.values()
                                    if x.flavor == f and x.borrowed and x.project != j.project
                                    and x.id not in s.preempting and x.id in before
                                    and s._now - x.start_time >= s.config.preempt_after_s]
                could_free = s.pools[f].free + sum(x.units for x in foreign_borrowed)
                assert could_free < j.accelerators, \
                    f"job {jid} within nominal {f} waits while {foreign_borrowed} borrow enough to make room"

@settings(max_examples=60, deadline=None)
@given(workloads())
def test_everything_fits_when_the_center_is_big_enough(w: tuple) -> None:  # type: ignore[type-arg]
    _, projects, jobs, policy = w
    nodes = [NodeInfo(f"n{i}", f, 12, 64, 512_000) for f in ("h100", "a100") for i in range(40)]
    s = Scheduler(FLAVORS, nodes, POLICIES[policy])
    for p in projects:
        p.budget_left = 1e9
        p.nominal = {"h100": 1000, "a100": 1000}
        s.set_project(p)
    for j in jobs:
        s.submit(j)
    r = s.cycle(0.0)
    assert len(r.admissions) == len(jobs) and not s.pending


@settings(max_examples=150, deadline=None)
@given(workloads(), st.randoms(use_true_random=False))
def test_decisions_do_not_depend_on_explaining(w: tuple, rnd) -> None:  # type: ignore[no-untyped-def,type-arg]
    """The simulator runs without reasons (walks that pass over jobs which cannot start, projects that cannot
    admit), the controller with them: cycle by cycle, both must admit, preempt and reserve the same."""
    nodes, projects, jobs, policy = w
    twins = [Scheduler(FLAVORS, nodes, POLICIES[policy], explain=explain) for explain in (True, False)]
    for s in twins:
        for p in projects:
            s.set_project(ProjectState(p.id, p.weight, p.nominal, p.borrowing_limit, p.budget_left,
                                       allocation_id=p.id))
    originals = {j.id: j for j in jobs}
    waves = [jobs[k::3] for k in range(3)]  # arrivals between cycles, as in a live center
    now = 0.0
    for step in range(7):
        for j in waves[step] if step < len(waves) else []:
            for s in twins:
                s.submit(j)
        seen = []
        for s in twins:
            r = s.cycle(now)
            seen.append(([(a.job_id, a.flavor, a.placements, a.borrowed) for a in r.admissions],
                         sorted(r.preemptions), r.reservation))
        assert seen[0] == seen[1]
        ends = [jid for jid in sorted(twins[0].running) if jid in twins[0].preempting or rnd.random() < 0.4]
        for s in twins:
            for jid in ends:
                if jid in s.preempting:
                    s.requeue(jid, originals[jid])
                else:
                    s.finish(jid)
        now += 300
