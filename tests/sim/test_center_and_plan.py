"""The center file ([[projects]] on top of the inventory) and capacity planning."""

from __future__ import annotations

import math

import pytest

from aicc.core.errors import InvalidInput
from aicc.sim.center import CenterError, PreemptionCost, gavel_center, gavel_center_from_json, parse_center
from aicc.sim.plan import parse_target, plan
from tests.sim.helpers import center, job, trace

TOML = """
[site]
name = "gwangju"

[[flavors]]
name = "h100"
vendor = "nvidia"
memory_gb = 80
su_rate = 2.0

[[flavors]]
name = "a100"
vendor = "nvidia"
memory_gb = 40
su_rate = 1.0

[[nodes]]
name = "h"
flavor = "h100"
accelerators = 8
cpus = 64
memory_gb = 1024
count = 2

[[nodes]]
name = "a"
flavor = "a100"
accelerators = 4
cpus = 32
memory_gb = 512
count = 3

[[projects]]
name = "big"
weight = 3
nominal = { h100 = 12 }
budget_su = 500.0
"""


def test_center_reads_inventory_and_projects_and_shares_the_rest_equally() -> None:
    c = parse_center(TOML, "center.toml")
    assert c.name == "gwangju" and c.capacity() == {"h100": 16, "a100": 12}
    assert {f.name: f.su_rate for f in c.flavors} == {"h100": 2.0, "a100": 1.0}
    specs = c.resolve_projects(["big", "x", "y"])
    assert specs["big"].nominal == {"h100": 12} and specs["big"].budget_su == 500.0
    # weights 3 + 1 + 1: an unlisted project's nominal is a fifth of each flavor, borrowing the whole flavor
    assert specs["x"].nominal == {"h100": 3, "a100": 2} and specs["x"].borrowing == {"h100": 16, "a100": 12}
    assert math.isinf(specs["y"].budget_su)


def test_center_refuses_unknown_project_fields_and_bad_inventory() -> None:
    with pytest.raises(CenterError, match="quota"):
        parse_center(TOML + "quota = 3\n", "c.toml")
    with pytest.raises(InvalidInput):
        parse_center(TOML.replace('flavor = "h100"', 'flavor = "nope"'), "c.toml")


def test_center_says_what_preemption_costs_and_projects_their_checkpoints() -> None:
    assert parse_center(TOML, "c.toml").preemption == PreemptionCost(10.0, None)  # AICC_PREEMPT_GRACE's default
    text = TOML + "checkpoint_s = 3600\n\n[simulation]\npreempt_grace_s = 30\ncheckpoint_s = 7200\n"
    c = parse_center(text, "c.toml")
    assert c.preemption == PreemptionCost(30.0, 7200.0) and c.projects["big"].checkpoint_s == 3600.0
    assert c.with_accelerators("h100", 32).preemption == c.preemption


@pytest.mark.parametrize(("extra", "message"), [
    ("checkpoint_s = 0\n", r"projects\[0\] \(big\): checkpoint_s: a checkpoint interval must be a positive"),
    ("checkpoint_s = -5\n", r"projects\[0\] \(big\): checkpoint_s"),
    ("\n[simulation]\ncheckpoint_s = 0\n", r"\[simulation\] checkpoint_s: a checkpoint interval"),
    ("\n[simulation]\npreempt_grace_s = -1\n", r"\[simulation\]: preempt_grace_s must be a non-negative"),
    ("\n[simulation]\ngrace = 1\n", r"\[simulation\]: unknown field\(s\) grace"),
])
def test_bad_checkpoint_or_grace_is_a_clear_error(extra: str, message: str) -> None:
    with pytest.raises(CenterError, match=message) as e:
        parse_center(TOML + extra, "c.toml")
    assert str(e.value).startswith("c.toml: ")


def test_resizing_a_flavor_keeps_its_node_shape() -> None:
    c = parse_center(TOML, "c.toml").with_accelerators("a100", 10)
    assert c.capacity() == {"h100": 16, "a100": 12}  # three 4-GPU nodes hold 10
    assert all(n.accelerators == 4 for n in c.nodes if n.flavor == "a100")


def test_gavel_cluster_spec() -> None:
    c = gavel_center_from_json('{"philly": ["300:300:300"]}')
    assert c.capacity() == {"k80": 300, "p100": 300, "v100": 300}
    assert gavel_center("8:0:4").capacity() == {"k80": 8, "p100": 0, "v100": 4}


@pytest.mark.parametrize(("text", "limit"), [("p95_wait<=2h", 7200), ("mean_jct <= 30m", 1800),
                                              ("p99_slowdown<=5", 5), ("max_wait<=10", 10)])
def test_targets_parse(text: str, limit: float) -> None:
    assert parse_target(text).limit == limit


@pytest.mark.parametrize("text", ["p95_wait<2h", "p42_wait<=1h", "mean_slowdown<=3h", "p95_wait<=2y"])
def test_bad_targets_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="bad target"):
        parse_target(text)


def test_plan_finds_the_smallest_size_meeting_the_target() -> None:
    # six 1-GPU jobs of 100 s at t=0: no job waits only with 6 GPUs; p95 wait <= 100 s needs 3
    t = trace(*(job(i, 0, 1, gpu=100) for i in range(6)))
    c = center(("gpu", 1, 1))
    assert plan(t, c, parse_target("max_wait<=0"), "gpu", 1, 64, "easy").best == 6
    res = plan(t, c, parse_target("max_wait<=100s"), "gpu", 1, 64, "easy")
    assert res.best == 3 and res.tried[2] == 200 and res.tried[3] == 100
    assert plan(t, c, parse_target("max_wait<=0"), "gpu", 1, 5, "easy").best is None


def test_the_simulator_reads_switch_labels_and_a_wide_gang_keeps_to_one_switch() -> None:
    from aicc.core.scheduling import CycleResult
    from aicc.sim.engine import simulate

    text = """
[site]
name = "racks"
[[flavors]]
name = "gpu"
vendor = "nvidia"
su_rate = 1.0
[[nodes]]
name = "a"
flavor = "gpu"
accelerators = 8
cpus = 64
memory_gb = 512
count = 2
switch = "s1"
[[nodes]]
name = "b"
flavor = "gpu"
accelerators = 8
cpus = 64
memory_gb = 512
count = 2
switch = "s2"
"""
    c = parse_center(text, "racks.toml")
    assert {n.name: n.switch for n in c.nodes} == {"a-01": "s1", "a-02": "s1", "b-01": "s2", "b-02": "s2"}
    seen: dict[int, set[str]] = {}

    def watch(t: float, res: CycleResult) -> None:
        for a in res.admissions:
            seen[a.job_id] = {p.node for p in a.placements}

    # a 4-GPU job on a-01 first: the 16-GPU gang then takes both nodes of s2, not a-02 and a b node
    simulate(trace(job(0, 0.0, 4, gpu=1000.0), job(1, 1.0, 16, gpu=100.0)), c, "easy", on_cycle=watch)
    assert seen[0] == {"a-01"} and seen[1] == {"b-01", "b-02"}
