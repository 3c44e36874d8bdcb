"""Inventory read from the real cluster matches scripts/slurm-up's configuration."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from aicc.executors.slurm import SlurmConfig, SlurmExecutor, SlurmNode, read_inventory

pytestmark = pytest.mark.slurm


def _node_when(config: SlurmConfig, name: str, until: Callable[[SlurmNode], bool]) -> SlurmNode:
    """Poll the inventory (bounded at 30 s) until the node satisfies ``until``; return it either way."""
    deadline = time.monotonic() + 30
    node = {n.name: n for n in read_inventory(config)}[name]
    while not until(node) and time.monotonic() < deadline:
        time.sleep(0.3)
        node = {n.name: n for n in read_inventory(config)}[name]
    return node


def test_inventory_matches_the_cluster_config(slurm_executor: SlurmExecutor) -> None:
    nodes = {n.name: n for n in read_inventory(slurm_executor.config)}

    assert set(nodes) == {"node1", "node2", "node3"}
    assert (nodes["node1"].flavor, nodes["node1"].gres_type, nodes["node1"].accelerators) == (
        "h100",
        "h100",
        4,
    )
    assert (nodes["node2"].flavor, nodes["node2"].gres_type, nodes["node2"].accelerators) == (
        "a100",
        "a100",
        4,
    )
    assert (nodes["node3"].flavor, nodes["node3"].gres_type, nodes["node3"].accelerators) == ("cpu", None, 0)
    for node in nodes.values():
        assert (node.cpus, node.memory_mb) == (8, 16000)
        assert node.available, node
        assert node.reason is None
    assert nodes["node1"].partitions == ("h100", "multi")  # multi: every node, for jobs wider than one


def test_drained_node_is_unavailable_with_its_reason(exclusive_cluster) -> None:
    config = exclusive_cluster.config
    exclusive_cluster.scontrol("update", "nodename=node2", "state=drain", "reason=fan replaced")
    try:
        drained = {n.name: n for n in read_inventory(config)}["node2"]
    finally:
        exclusive_cluster.scontrol("update", "nodename=node2", "state=resume")
    # A resumed node is NOT_RESPONDING until its slurmd next answers (well under a second here).
    resumed = _node_when(config, "node2", lambda n: n.available)

    assert not drained.available
    assert drained.reason == "fan replaced"
    assert "drain" in drained.state
    assert drained.accelerators == 4  # the hardware is still there; only admission stops
    assert resumed.available
