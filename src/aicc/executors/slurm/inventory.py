"""The cluster's capacity as AICC admits against it, read from ``sinfo --json``.

A node counts only while Slurm would start jobs on it: DOWN, DRAIN(ED/ING),
FAIL, INVAL, NOT_RESPONDING or a future/maintenance state make it unavailable,
so the capacity AICC admits against shrinks when an operator drains a node.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aicc.executors.slurm.commands import SlurmError, run_slurm_json
from aicc.executors.slurm.config import SlurmConfig

_UNAVAILABLE_STATES = frozenset(
    ["down", "drained", "draining", "drain", "fail", "failing", "future", "unknown", "inval"]
)
_UNAVAILABLE_FLAGS = frozenset(
    [
        "DRAIN",
        "DRAINED",
        "DRAINING",
        "FAIL",
        "NOT_RESPONDING",
        "MAINTENANCE",
        "INVALID",
        "INVALID_REG",
        "REBOOT_REQUESTED",
        "REBOOT_ISSUED",
        "POWERED_DOWN",
        "POWERING_DOWN",
    ]
)
_GPU = re.compile(r"^gpu(?::([^:(]+))?(?::(\d+))?")


@dataclass(frozen=True, slots=True)
class SlurmNode:
    """One node as AICC sees it. ``flavor`` is None when no configured flavor matches."""

    name: str
    flavor: str | None
    gres_type: str | None
    accelerators: int
    cpus: int
    memory_mb: int
    state: str  # Slurm's words, lower case: "idle", "mixed", "allocated", "down+drain"
    partitions: tuple[str, ...]
    available: bool
    reason: str | None


def parse_gpu_gres(gres: str) -> tuple[str | None, int]:
    """``gpu:h100:4`` -> ("h100", 4); ``gpu:2`` -> (None, 2); "" or other GRES -> (None, 0)."""
    for part in gres.split(","):
        match = _GPU.match(part.strip())
        if match:
            kind, count = match.group(1), match.group(2)
            if count is None and kind is not None and kind.isdigit():
                return None, int(kind)
            return kind, int(count) if count else 1
    return None, 0


def node_from_sinfo(node: Mapping[str, Any], config: SlurmConfig) -> SlurmNode:
    gres_type, count = parse_gpu_gres(str(node.get("gres") or ""))
    partitions = tuple(str(p) for p in node.get("partitions") or ())
    flavor = config.flavor_for_gres(gres_type) if count else config.flavor_for_gres(None)
    if flavor is None:
        flavor = config.flavor_for_partitions(list(partitions))
    state = str(node.get("state", "unknown")).lower()
    flags = {str(f).upper() for f in node.get("state_flags") or ()}
    shown = "+".join([state, *sorted(f.lower() for f in flags)])
    available = state not in _UNAVAILABLE_STATES and not (flags & _UNAVAILABLE_FLAGS)
    reason = str(node.get("reason") or "") or None
    if not available and reason is None:
        reason = f"node is {shown}"
    return SlurmNode(
        name=str(node["name"]),
        flavor=flavor,
        gres_type=gres_type,
        accelerators=count,
        cpus=int(node.get("cpus") or 0),
        memory_mb=int(node.get("real_memory") or 0),
        state=shown,
        partitions=partitions,
        available=available,
        reason=reason if not available else None,
    )


def parse_sinfo_json(data: Mapping[str, Any], config: SlurmConfig) -> list[SlurmNode]:
    nodes = [node_from_sinfo(n, config) for n in data.get("nodes", [])]
    return sorted({n.name: n for n in nodes}.values(), key=lambda n: n.name)


def read_inventory(config: SlurmConfig) -> list[SlurmNode]:
    """Ask Slurm now. Raises ``SlurmUnavailable`` when slurmctld is unreachable."""
    data = run_slurm_json(config, ["sinfo", "--json"])
    try:
        return parse_sinfo_json(data, config)
    except (ValueError, KeyError, TypeError) as exc:
        raise SlurmError(f"sinfo --json gave an answer we cannot read: {exc}") from exc
