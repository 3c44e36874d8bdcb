"""Flavor names for discovered devices, and inventory tables for a Slurm cluster's nodes.

Finding this machine's devices (NVML for NVIDIA, and the NPUs' own tools) is written once, in
:mod:`aicc.testbed.devices`, which the testbed's exporter shares; ``aicc discover`` prints its inventory.
"""

from __future__ import annotations

import re

FLAVOR_PATTERNS = [
    (r"\bH200\b", "h200"), (r"\bH100\b", "h100"), (r"\bA100\b", "a100"), (r"\bL40S\b", "l40s"), (r"\bL4\b", "l4"),
    (r"\bV100\b", "v100"), (r"\bA10\b", "a10"), (r"\bT4\b", "t4"), (r"\bB200\b", "b200"), (r"\bGH200\b", "gh200"),
]


def flavor_for(device_name: str) -> str:
    """"NVIDIA H100 80GB HBM3" -> "h100"; an unknown model becomes a slug of its name."""
    for pattern, flavor in FLAVOR_PATTERNS:
        if re.search(pattern, device_name, re.IGNORECASE):
            return flavor
    slug = re.sub(r"[^a-z0-9]+", "-", device_name.lower().replace("nvidia", "")).strip("-")
    return slug[:63] or "gpu"


def slurm_inventory_toml(nodes: list[tuple[str, str, bool, int, int, int]], site: str = "slurm") -> str:
    """Inventory for a Slurm site from ``(name, flavor, is_cpu, accelerators, cpus, memory_mb)`` per node.

    Node names stay Slurm's, which is how AICC matches a drained node to its own inventory.
    """
    flavors: dict[str, bool] = {}
    for _, flavor, cpu, *_ in nodes:
        flavors.setdefault(flavor, cpu)
    lines = ["[site]", f'name = "{site}"', 'executor = "slurm"', ""]
    for flavor, cpu in flavors.items():
        lines += ["[[flavors]]", f'name = "{flavor}"', f'vendor = "{"cpu" if cpu else "nvidia"}"',
                  f"su_rate = {0.02 if cpu else 1.0}  # set the center's rate", ""]
    for name, flavor, cpu, accelerators, cpus, memory_mb in nodes:
        lines += ["[[nodes]]", f'name = "{name}"', f'flavor = "{flavor}"',
                  f"accelerators = {0 if cpu else accelerators}", f"cpus = {cpus}",
                  f"memory_gb = {max(1, memory_mb // 1024)}", ""]
    return "\n".join(lines)
