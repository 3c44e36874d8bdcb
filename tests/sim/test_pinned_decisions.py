"""Every decision on a fixed seeded workload, pinned: a speed-up of the policy must not change one.

The digests cover, per cycle, the admissions (job, flavor, borrowed), the preemptions and the reservation,
and per job its first start, end and flavor. They were recorded with the policy as it was before the
performance work; a change that means to alter decisions updates them and says why in its commit.

The policy's pins replay with lossless preemption (the simulator as it was when they were recorded), so they
pin the policy alone; ``PINNED_WITH_COST`` pins the simulator's default, where a victim keeps its units
through the grace period and loses its work since its last checkpoint. A change of policy decisions changes
both; a change of the simulator's preemption model only the latter.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import pytest

from aicc.core.scheduling import FlavorInfo, NodeInfo
from aicc.sim.center import LOSSLESS, PreemptionCost, ProjectSpec, SimCenter
from aicc.sim.engine import simulate
from aicc.sim.trace import Trace, synthetic

SPEEDS = {"h100": 2.0, "a100": 1.5, "l40s": 1.0}
RATES = {"h100": 2.0, "a100": 1.0, "l40s": 0.6}
CLASSES = {"c0": {"h100": 3.0, "a100": 1.5, "l40s": 1.0}, "c1": {"h100": 1.2, "a100": 1.1, "l40s": 1.0}}


def _center() -> SimCenter:
    """Mixed node shapes (4 and 8 per node), quotas with borrowing for some projects, a finite budget."""
    nodes = [NodeInfo(f"h100-{k}", "h100", 8, 64, 512_000) for k in range(4)]
    nodes += [NodeInfo(f"a100-{k}", "a100", 4, 32, 256_000) for k in range(6)]
    nodes += [NodeInfo(f"l40s-{k}", "l40s", 4, 32, 256_000) for k in range(4)]
    projects = {
        "p0000": ProjectSpec("p0000", 2.0, {"h100": 8, "a100": 8, "l40s": 4}, {"h100": 16, "a100": 8, "l40s": 8}),
        "p0001": ProjectSpec("p0001", 1.0, {"h100": 8, "a100": 4}, {"h100": 8, "a100": 12, "l40s": 16}),
        "p0002": ProjectSpec("p0002", 1.0, {"a100": 4, "l40s": 4}, {"h100": 8, "a100": 4, "l40s": 8},
                             budget_su=4000.0),
        "p0003": ProjectSpec("p0003", 0.5),
    }
    return SimCenter("pinned", tuple(FlavorInfo(f, r) for f, r in RATES.items()), tuple(nodes), projects)


def _trace() -> Trace:
    t = synthetic(600, projects=6, flavors=SPEEDS, mean_interarrival=90.0, median_duration=1200.0, seed=7)
    jobs = [replace(j, workload_class=f"c{j.id % 2}") if j.id % 3 else j for j in t.jobs]
    return Trace(jobs, throughput=CLASSES)


def _small_nodes() -> tuple[SimCenter, Trace]:
    """Philly's shape: 4-GPU nodes, equal rates, mostly single GPUs with gangs larger than a node, overloaded;
    the projects get the default equal shares. Fragmentation here is what tests the early stops."""
    nodes = [NodeInfo(f"{f}-{k}", f, 4, 32, 256_000) for f in ("k80", "p100", "v100") for k in range(5)]
    center = SimCenter("small-nodes", tuple(FlavorInfo(f, 1.0) for f in ("k80", "p100", "v100")), tuple(nodes))
    t = synthetic(700, projects=5, flavors={"v100": 3.0, "p100": 2.0, "k80": 1.0}, mean_interarrival=40.0,
                  median_duration=900.0, seed=11)
    jobs = [replace(j, workload_class=f"c{j.id % 2}") for j in t.jobs]
    return center, Trace(jobs, throughput={"c0": {"v100": 3.0, "p100": 2.0, "k80": 1.0},
                                           "c1": {"v100": 1.2, "p100": 1.1, "k80": 1.0}})


def _digest(policy: str, interval: float, small: bool = False, preemption: PreemptionCost = LOSSLESS) -> str:
    center, trace = _small_nodes() if small else (_center(), _trace())
    r = simulate(trace, center, policy, cycle_interval=interval, decision_log=True, preemption=preemption)
    h = hashlib.sha256()
    h.update(json.dumps([r.start, r.end, r.flavor, r.preemptions, r.unschedulable]).encode())
    h.update(json.dumps(r.decisions).encode())
    return h.hexdigest()[:16]


# Re-pinned (aicc, hetero) when a preempting job began to hold the free units it needs: an intended change.
# Re-pinned (easy; aicc, hetero and easy on small nodes) when the early stop began to look at gangs wider than
# a node: cycles the older stop ended while such a gang still fitted across partly free nodes now start it.
# Re-pinned (all) when a gang wider than a node began to take the fewest nodes, whole free nodes first, and to
# wait rather than spread over more partly used nodes (issue 24, point 3).
# Re-pinned (easy; aicc, hetero, easy on small nodes) when the reservation's node profile began to cost the
# jobs it walks rather than the nodes: among equally good nodes, ties now break by free-units bucket order.
# Re-pinned (aicc, hetero) when a job that fits on one node began to preempt for a hole of its shape, choosing
# the node where that costs least (GPU-time lost, then priority, then newest) (issue 24, point 2).
# Re-pinned (all but fifo) when reservations became node-aware: the head's reservation is the first time a
# node set of its shape is free, and a job still running then keeps off those nodes (issue 24, point 1).
# Re-pinned (aicc, 60 s cycles) when a gang wider than a node began to preempt by node shape: victims whose nodes
# give it the fewest whole nodes at the least cost, instead of the lowest priority and newest until the count
# sufficed (issue 24, point 2, for multi-node gangs). Aging (72 h by default) does not come into play here.
# Re-pinned (aicc, hetero; here and with cost) when preemption began to weigh its cost: victims by the work they
# would lose since their last checkpoint plus the grace period, and no preemption when that is more than
# preempt_worth (0.5) x (1 + wait / age_after_s) times the units x wait it saves (the job waits for the holders).
PINNED = {
    ("fifo", 0.0): "2d775097f6bf48cb",
    ("easy", 0.0): "75ac1b623a7b45c4",
    ("aicc", 0.0): "1e8ddd720db4bb8f",
    ("hetero", 0.0): "ae898502cfb84d94",
    ("aicc", 60.0): "a89b54d1b9d0c3b6",
    ("hetero", 60.0): "37e81d2408c6dc8d",
}


PINNED_SMALL_NODES = {"fifo": "4ae26aba5cb42d7f", "easy": "bee253b3b61c1531", "aicc": "bd19f3dd155d57fa",
                      "hetero": "bd19f3dd155d57fa"}


# Recorded when preemption got its cost in the simulator (grace period, work lost since the last checkpoint), and
# re-recorded when that met the node-aware policy (reservations on node-shaped capacity, shape-opening preemption,
# whole nodes first for gangs): the lossless digests above record those policy changes on their own. Re-recorded
# with them when preemption began to weigh its cost (hetero at 60 s cycles now preempts nowhere: the same digest).
PINNED_WITH_COST = {
    ("aicc", 0.0, False, PreemptionCost()): "2787325220fb9193",
    ("hetero", 60.0, False, PreemptionCost()): "37e81d2408c6dc8d",
    ("aicc", 0.0, True, PreemptionCost()): "532c519ca44fd39d",
    ("aicc", 0.0, False, PreemptionCost(30.0, 600.0)): "48ce7b4c6d0b911c",
}


@pytest.mark.parametrize(("policy", "interval"), sorted(PINNED))
def test_decisions_on_a_seeded_workload_are_unchanged(policy: str, interval: float) -> None:
    assert _digest(policy, interval) == PINNED[(policy, interval)]


@pytest.mark.parametrize("policy", sorted(PINNED_SMALL_NODES))
def test_decisions_on_fragmented_small_nodes_are_unchanged(policy: str) -> None:
    assert _digest(policy, 0.0, small=True) == PINNED_SMALL_NODES[policy]


@pytest.mark.parametrize("case", list(PINNED_WITH_COST), ids=lambda c: f"{c[0]}-{c[1]}-{'small' if c[2] else 'mixed'}-"
                         f"grace{c[3].grace_s:g}-ckpt{c[3].checkpoint_s}")
def test_decisions_with_the_cost_of_preemption_are_unchanged(case: tuple[str, float, bool, PreemptionCost]) -> None:
    policy, interval, small, cost = case
    assert _digest(policy, interval, small, cost) == PINNED_WITH_COST[case]
