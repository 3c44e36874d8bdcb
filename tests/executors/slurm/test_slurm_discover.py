"""`aicc discover --slurm` turns the cluster's sinfo into an inventory AICC can load."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aicc.core.inventory import parse_inventory

pytestmark = pytest.mark.slurm


def test_inventory_from_slurm_loads_and_matches_the_cluster(shared_cluster) -> None:  # type: ignore[no-untyped-def]
    aicc = str(Path(sys.executable).with_name("aicc"))
    out = subprocess.run([aicc, "discover", "--slurm"], env=shared_cluster.env, capture_output=True, text=True,
                         check=True, timeout=60).stdout
    inv = parse_inventory(out, "from-slurm.toml")
    assert inv.site.executor == "slurm"
    assert inv.capacity() == {"h100": 4, "a100": 4, "cpu": 8}
    assert {n.name for n in inv.nodes} == {"node1", "node2", "node3"}
